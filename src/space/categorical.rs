//! User-defined categorical spaces: a fixed list of positions, each taking one of its named
//! choices. NAS-Bench-201 is a categorical space too.
//!
//! A space file (TOML) looks like:
//!
//! ```toml
//! name = "my-space"          # optional, defaults to the file stem
//!
//! [[position]]
//! name = "stem"
//! choices = ["conv3x3", "conv5x5"]
//!
//! [[position]]
//! name = "block1"
//! choices = ["mbconv3", "mbconv6", "skip"]
//! ```

use std::collections::HashMap;
use std::path::Path;

use rand::Rng as _;
use serde::Deserialize;

use super::{SearchSpace, SpaceError, TokenEncoding};
use crate::rng::Rng;
use crate::settings::{listed, quoted};

/// One decision of a categorical space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Name of the decision (a column name in tables).
    pub name: String,
    /// Its named choices, in order.
    pub choices: Vec<String>,
}

/// An architecture of a categorical space: the index of the choice taken at each position.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoricalArch(pub Box<[u16]>);

impl CategoricalArch {
    /// The choice indices, one per position.
    pub fn choices(&self) -> &[u16] {
        &self.0
    }
}

/// Whether a position or choice name can be written and read back (architecture strings and
/// table cells are trimmed, and ',' and '=' separate them).
fn well_formed(name: &str) -> bool {
    !name.is_empty()
        && name.trim() == name
        && !name.contains([',', '='])
        && !name.chars().any(char::is_control)
}

/// A space of fixed-length categorical decisions.
#[derive(Debug, Clone)]
pub struct CategoricalSpace {
    name: String,
    positions: Vec<Position>,
    encoding: TokenEncoding,
    /// token id of choice `c` at position `p`: `tokens[p][c]`.
    tokens: Vec<Vec<u32>>,
    /// inverse of `tokens`: per position, token id -> choice index.
    token_to_choice: Vec<HashMap<u32, u16>>,
    /// per position, choice name -> index.
    by_name: Vec<HashMap<String, u16>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceFile {
    name: Option<String>,
    position: Vec<PositionFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PositionFile {
    name: String,
    choices: Vec<ChoiceFile>,
}

/// A choice in a definition file: a name, or a number (named by its decimal text, e.g. `2`,
/// `0.5`), so that `choices = [1, 2]` and `choices = ["1", "2"]` are the same position.
#[derive(Deserialize)]
#[serde(untagged)]
enum ChoiceFile {
    Text(String),
    Int(i64),
    Float(f64),
}

impl ChoiceFile {
    fn name(self) -> String {
        match self {
            ChoiceFile::Text(s) => s,
            ChoiceFile::Int(i) => i.to_string(),
            ChoiceFile::Float(f) => f.to_string(),
        }
    }
}

impl CategoricalSpace {
    /// Builds a space from its positions. Tokens are shared across positions by choice name
    /// (so "skip" is one token wherever it appears); token 0 is the start token.
    pub fn new(name: &str, positions: Vec<Position>) -> Result<Self, SpaceError> {
        let bad = |reason: String| SpaceError::Definition {
            file: name.to_string(),
            reason,
        };
        if positions.is_empty() {
            return Err(bad("a space needs at least one position".into()));
        }
        let mut seen_pos = HashMap::new();
        let mut token_names = vec!["<sos>".to_string()];
        let mut token_of: HashMap<String, u32> = HashMap::new();
        let mut tokens = Vec::new();
        let mut token_to_choice = Vec::new();
        let mut by_name = Vec::new();
        for (i, p) in positions.iter().enumerate() {
            if !well_formed(&p.name) {
                return Err(bad(format!(
                    "position {} has an empty name, one containing ',', '=' or control \
                     characters, or one with spaces around it: {}",
                    i + 1,
                    quoted(&p.name)
                )));
            }
            if seen_pos.insert(p.name.clone(), i).is_some() {
                return Err(bad(format!(
                    "position name {} appears twice",
                    quoted(&p.name)
                )));
            }
            if p.choices.is_empty() {
                return Err(bad(format!("position {} has no choices", quoted(&p.name))));
            }
            if p.choices.len() > usize::from(u16::MAX) {
                return Err(bad(format!(
                    "position {} has {} choices; at most {} are allowed",
                    quoted(&p.name),
                    p.choices.len(),
                    u16::MAX
                )));
            }
            let mut names = HashMap::new();
            let mut toks = Vec::new();
            let mut inv = HashMap::new();
            for (c, choice) in p.choices.iter().enumerate() {
                if !well_formed(choice) {
                    return Err(bad(format!(
                        "position {}: choice {} is empty, contains ',', '=' or control \
                         characters, or has spaces around it",
                        quoted(&p.name),
                        quoted(choice)
                    )));
                }
                if names.insert(choice.clone(), c as u16).is_some() {
                    return Err(bad(format!(
                        "position {}: choice {} appears twice",
                        quoted(&p.name),
                        quoted(choice)
                    )));
                }
                let t = *token_of.entry(choice.clone()).or_insert_with(|| {
                    token_names.push(choice.clone());
                    (token_names.len() - 1) as u32
                });
                toks.push(t);
                inv.insert(t, c as u16);
            }
            tokens.push(toks);
            token_to_choice.push(inv);
            by_name.push(names);
        }
        let allowed = tokens
            .iter()
            .map(|t| {
                let mut t = t.clone();
                t.sort_unstable();
                t
            })
            .collect();
        let encoding = TokenEncoding {
            vocab_size: token_names.len(),
            allowed,
            token_names,
        };
        Ok(Self {
            name: name.to_string(),
            positions,
            encoding,
            tokens,
            token_to_choice,
            by_name,
        })
    }

    /// Reads a space definition from a TOML file (format in the module documentation).
    pub fn from_toml_file(path: &Path) -> Result<Self, SpaceError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpaceError::Definition {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "categorical".into());
        Self::from_toml_str(&text, &stem).map_err(|e| match e {
            SpaceError::Definition { reason, .. } => SpaceError::Definition { file, reason },
            other => other,
        })
    }

    /// Parses a TOML space definition; `default_name` names the space if the file does not.
    pub fn from_toml_str(text: &str, default_name: &str) -> Result<Self, SpaceError> {
        let parsed: SpaceFile = toml::from_str(text).map_err(|e| SpaceError::Definition {
            file: default_name.to_string(),
            reason: e.to_string().trim_end().to_string(),
        })?;
        let name = parsed.name.unwrap_or_else(|| default_name.to_string());
        let positions = parsed
            .position
            .into_iter()
            .map(|p| Position {
                name: p.name,
                choices: p.choices.into_iter().map(ChoiceFile::name).collect(),
            })
            .collect();
        Self::new(&name, positions)
    }

    /// The positions, in order.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// Index of choice `name` at position `pos`, if it exists.
    pub fn choice_index(&self, pos: usize, name: &str) -> Option<u16> {
        self.by_name.get(pos)?.get(name).copied()
    }

    /// Builds an architecture from choice names, one per position.
    pub fn from_choice_names<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<CategoricalArch, SpaceError> {
        if names.len() != self.positions.len() {
            return Err(SpaceError::Invalid(format!(
                "expected {} choices, got {}",
                self.positions.len(),
                names.len()
            )));
        }
        let mut out = Vec::with_capacity(names.len());
        for (p, n) in names.iter().enumerate() {
            let n = n.as_ref();
            out.push(self.choice_index(p, n).ok_or_else(|| {
                SpaceError::Invalid(format!(
                    "unknown choice {} for position {} (allowed: {})",
                    quoted(n),
                    quoted(&self.positions[p].name),
                    listed(&self.positions[p].choices, 50)
                ))
            })?);
        }
        Ok(CategoricalArch(out.into_boxed_slice()))
    }

    /// Number of architectures in the space (saturating).
    pub fn size(&self) -> u128 {
        self.positions
            .iter()
            .fold(1u128, |acc, p| acc.saturating_mul(p.choices.len() as u128))
    }

    /// The architecture with mixed-radix index `i` (position 0 most significant).
    pub fn nth(&self, mut i: u128) -> Option<CategoricalArch> {
        if i >= self.size() {
            return None;
        }
        let mut out = vec![0u16; self.positions.len()];
        for (p, pos) in self.positions.iter().enumerate().rev() {
            let k = pos.choices.len() as u128;
            out[p] = (i % k) as u16;
            i /= k;
        }
        Some(CategoricalArch(out.into_boxed_slice()))
    }
}

impl SearchSpace for CategoricalSpace {
    type Arch = CategoricalArch;

    fn name(&self) -> &str {
        &self.name
    }

    fn cardinality(&self) -> Option<u128> {
        Some(self.size())
    }

    /// Every combination, the last position changing fastest.
    fn enumerate(&self, limit: usize) -> Option<Vec<CategoricalArch>> {
        if self.size() > limit as u128 {
            return None;
        }
        let radices: Vec<u16> = self
            .positions
            .iter()
            .map(|p| p.choices.len() as u16)
            .collect();
        let mut out = Vec::with_capacity(self.size() as usize);
        let mut digits = vec![0u16; radices.len()];
        loop {
            out.push(CategoricalArch(digits.clone().into()));
            let mut p = radices.len();
            loop {
                if p == 0 {
                    return Some(out);
                }
                p -= 1;
                digits[p] += 1;
                if digits[p] < radices[p] {
                    break;
                }
                digits[p] = 0;
            }
        }
    }

    fn sample(&self, rng: &mut Rng) -> CategoricalArch {
        CategoricalArch(
            self.positions
                .iter()
                .map(|p| rng.gen_range(0..p.choices.len()) as u16)
                .collect(),
        )
    }

    fn validate(&self, arch: &CategoricalArch) -> Result<(), SpaceError> {
        if arch.0.len() != self.positions.len() {
            return Err(SpaceError::Invalid(format!(
                "expected {} positions, got {}",
                self.positions.len(),
                arch.0.len()
            )));
        }
        for (p, (&c, pos)) in arch.0.iter().zip(&self.positions).enumerate() {
            if usize::from(c) >= pos.choices.len() {
                return Err(SpaceError::Invalid(format!(
                    "position {p} ({}) has choice index {c}, but only {} choices",
                    pos.name,
                    pos.choices.len()
                )));
            }
        }
        Ok(())
    }

    fn key(&self, arch: &CategoricalArch) -> String {
        self.format(arch)
    }

    fn encoding(&self) -> &TokenEncoding {
        &self.encoding
    }

    fn encode(&self, arch: &CategoricalArch) -> Vec<u32> {
        arch.0
            .iter()
            .enumerate()
            .map(|(p, &c)| self.tokens[p][usize::from(c)])
            .collect()
    }

    fn decode(&self, tokens: &[u32]) -> Result<CategoricalArch, SpaceError> {
        self.encoding.check(tokens)?;
        Ok(CategoricalArch(
            tokens
                .iter()
                .enumerate()
                .map(|(p, t)| self.token_to_choice[p][t])
                .collect(),
        ))
    }

    fn mutate(&self, arch: &CategoricalArch, rng: &mut Rng) -> CategoricalArch {
        let free: Vec<usize> = (0..self.positions.len())
            .filter(|&p| self.positions[p].choices.len() > 1)
            .collect();
        let mut out = arch.clone();
        if free.is_empty() {
            return out; // a one-architecture space has no neighbours
        }
        let p = free[rng.gen_range(0..free.len())];
        let k = self.positions[p].choices.len() as u16;
        // Uniform over the other k-1 choices.
        let shift = rng.gen_range(1..k);
        out.0[p] = (arch.0[p] + shift) % k;
        out
    }

    fn format(&self, arch: &CategoricalArch) -> String {
        let mut s = String::new();
        for (p, &c) in arch.0.iter().enumerate() {
            if p > 0 {
                s.push(',');
            }
            s.push_str(&self.positions[p].name);
            s.push('=');
            s.push_str(&self.positions[p].choices[usize::from(c)]);
        }
        s
    }

    fn parse(&self, text: &str) -> Result<CategoricalArch, SpaceError> {
        let err = |reason: String| SpaceError::Parse {
            text: text.to_string(),
            reason,
        };
        let parts: Vec<&str> = text.trim().split(',').collect();
        if parts.len() != self.positions.len() {
            return Err(err(format!(
                "expected {} comma-separated name=choice pairs, got {}",
                self.positions.len(),
                parts.len()
            )));
        }
        let mut out = Vec::with_capacity(parts.len());
        for (p, part) in parts.iter().enumerate() {
            let (name, choice) = part
                .split_once('=')
                .ok_or_else(|| err(format!("{} is not name=choice", quoted(part))))?;
            if name.trim() != self.positions[p].name {
                return Err(err(format!(
                    "position {} should be {}, found {}",
                    p + 1,
                    quoted(&self.positions[p].name),
                    quoted(name)
                )));
            }
            out.push(self.choice_index(p, choice.trim()).ok_or_else(|| {
                err(format!(
                    "unknown choice {} for position {}",
                    quoted(choice),
                    quoted(name)
                ))
            })?);
        }
        Ok(CategoricalArch(out.into_boxed_slice()))
    }

    /// An object with one entry per position, position name to choice name (a number is
    /// read as its decimal text).
    fn read_json(&self, value: &serde_json::Value) -> Result<CategoricalArch, SpaceError> {
        let bad = |reason: String| SpaceError::Parse {
            text: value.to_string(),
            reason,
        };
        let map = match value {
            serde_json::Value::String(text) => return self.parse(text),
            serde_json::Value::Object(map) => map,
            _ => return Err(bad("expected an object of position: choice".into())),
        };
        for name in map.keys() {
            if !self.positions.iter().any(|p| &p.name == name) {
                return Err(bad(format!("unknown position {}", quoted(name))));
            }
        }
        let mut choices = Vec::with_capacity(self.positions.len());
        for (p, position) in self.positions.iter().enumerate() {
            let Some(v) = map.get(&position.name) else {
                return Err(bad(format!(
                    "no choice for position {}",
                    quoted(&position.name)
                )));
            };
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(bad(format!(
                        "{}: bad choice {}",
                        quoted(&position.name),
                        quoted(&other.to_string())
                    )));
                }
            };
            let Some(&c) = self.by_name[p].get(&text) else {
                return Err(bad(format!(
                    "{}: unknown choice {} (choices: {})",
                    quoted(&position.name),
                    quoted(&text),
                    listed(&position.choices, 50)
                )));
            };
            choices.push(c);
        }
        Ok(CategoricalArch(choices.into()))
    }

    fn to_json(&self, arch: &CategoricalArch) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (p, &c) in arch.0.iter().enumerate() {
            m.insert(
                self.positions[p].name.clone(),
                serde_json::Value::String(self.positions[p].choices[usize::from(c)].clone()),
            );
        }
        serde_json::Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::rng_for;

    #[test]
    fn numeric_choices_are_named_by_their_decimal_text() {
        let space = CategoricalSpace::from_toml_str(
            "[[position]]\nname = 'depth'\nchoices = [2, 3]\n[[position]]\nname = 'lr'\nchoices = [0.5, 'x']\n",
            "n",
        )
        .unwrap();
        assert_eq!(space.positions()[0].choices, ["2", "3"]);
        assert_eq!(space.positions()[1].choices, ["0.5", "x"]);
        let arch = space
            .read_json(&serde_json::json!({"depth": 3, "lr": 0.5}))
            .unwrap();
        assert_eq!(space.format(&arch), "depth=3,lr=0.5");
        let bad = space.read_json(&serde_json::json!({"depth": 4, "lr": "x"}));
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("unknown choice \"4\"")
        );
        let bad = space.read_json(&serde_json::json!({"depth": 2}));
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("no choice for position \"lr\"")
        );
    }

    const TOY: &str = r#"
        name = "toy"
        [[position]]
        name = "a"
        choices = ["x", "y", "z"]
        [[position]]
        name = "b"
        choices = ["y", "w"]
        [[position]]
        name = "c"
        choices = ["only"]
    "#;

    #[test]
    fn parses_toml_and_shares_tokens() {
        let s = CategoricalSpace::from_toml_str(TOY, "t").unwrap();
        assert_eq!(s.name(), "toy");
        assert_eq!(s.size(), 6);
        let e = s.encoding();
        // <sos>, x, y, z, w, only
        assert_eq!(e.vocab_size, 6);
        assert_eq!(e.allowed, vec![vec![1, 2, 3], vec![2, 4], vec![5]]);
    }

    #[test]
    fn every_arch_round_trips() {
        let s = CategoricalSpace::from_toml_str(TOY, "t").unwrap();
        for i in 0..s.size() {
            let a = s.nth(i).unwrap();
            s.validate(&a).unwrap();
            assert_eq!(s.decode(&s.encode(&a)).unwrap(), a);
            assert_eq!(s.parse(&s.format(&a)).unwrap(), a);
        }
        assert!(s.nth(6).is_none());
        assert_eq!(s.format(&s.nth(5).unwrap()), "a=z,b=w,c=only");
    }

    #[test]
    fn mutation_changes_exactly_one_position() {
        let s = CategoricalSpace::from_toml_str(TOY, "t").unwrap();
        let mut rng = rng_for(1, "t");
        for _ in 0..200 {
            let a = s.sample(&mut rng);
            let b = s.mutate(&a, &mut rng);
            let diff = a.0.iter().zip(b.0.iter()).filter(|(x, y)| x != y).count();
            assert_eq!(diff, 1);
            assert_eq!(b.0[2], 0);
        }
    }

    #[test]
    fn rejects_bad_definitions_and_tokens() {
        let dup = "[[position]]\nname='a'\nchoices=['x','x']\n";
        let e = CategoricalSpace::from_toml_str(dup, "f").unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        let empty = "[[position]]\nname='a'\nchoices=[]\n";
        assert!(CategoricalSpace::from_toml_str(empty, "f").is_err());
        let s = CategoricalSpace::from_toml_str(TOY, "t").unwrap();
        assert!(s.decode(&[1, 1, 5]).is_err()); // x not allowed at b
        assert!(s.decode(&[1, 2]).is_err());
        assert!(s.parse("a=q,b=y,c=only").is_err());
    }
}
