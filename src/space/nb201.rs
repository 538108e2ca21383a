//! The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020).
//!
//! A cell has 4 nodes; node `j` (1..=3) sums one operation applied to every earlier node `i`,
//! giving 6 edges, each one of 5 operations: 5^6 = 15,625 cells. The official string names the
//! edges node by node: `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
//!
//! Candidates are keyed by their cell string: the benchmark measured each of the 15,625 strings
//! separately, so two isomorphic strings are two candidates with their own results.

use super::categorical::{CategoricalArch, CategoricalSpace, Position};
use super::{SearchSpace, SpaceError, TokenEncoding};
use crate::rng::Rng;

/// The five operations, in the official order.
pub const NB201_OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];

/// The 6 edges as (to, from), in the order of the cell string.
pub const NB201_EDGES: [(usize, usize); 6] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// The NAS-Bench-201 space; architectures are [`CategoricalArch`]es over its 6 edges.
#[derive(Debug, Clone)]
pub struct Nb201Space {
    inner: CategoricalSpace,
}

impl Default for Nb201Space {
    fn default() -> Self {
        Self::new()
    }
}

impl Nb201Space {
    /// The space (token 0 is the start token, tokens 1..=5 the operations in official order).
    pub fn new() -> Self {
        let positions = NB201_EDGES
            .iter()
            .map(|(to, from)| Position {
                name: format!("edge_{from}_{to}"),
                choices: NB201_OPS.iter().map(|s| s.to_string()).collect(),
            })
            .collect();
        Self {
            inner: CategoricalSpace::new("nb201", positions).expect("static definition is valid"),
        }
    }

    /// The cell with index `i` in base-5 order of the edges (not the benchmark's index).
    pub fn nth(&self, i: usize) -> Option<CategoricalArch> {
        self.inner.nth(i as u128)
    }

    /// The operation names of a cell, in edge order.
    pub fn ops<'a>(&self, arch: &'a CategoricalArch) -> impl Iterator<Item = &'static str> + 'a {
        arch.0.iter().map(|&c| NB201_OPS[usize::from(c)])
    }
}

impl SearchSpace for Nb201Space {
    type Arch = CategoricalArch;

    fn name(&self) -> &str {
        "nb201"
    }
    fn cardinality(&self) -> Option<u128> {
        Some(15_625)
    }
    fn sample(&self, rng: &mut Rng) -> CategoricalArch {
        self.inner.sample(rng)
    }
    fn enumerate(&self, limit: usize) -> Option<Vec<CategoricalArch>> {
        self.inner.enumerate(limit)
    }
    fn validate(&self, arch: &CategoricalArch) -> Result<(), SpaceError> {
        self.inner.validate(arch)
    }
    fn key(&self, arch: &CategoricalArch) -> String {
        self.format(arch)
    }
    fn encoding(&self) -> &TokenEncoding {
        self.inner.encoding()
    }
    fn encode(&self, arch: &CategoricalArch) -> Vec<u32> {
        self.inner.encode(arch)
    }
    fn decode(&self, tokens: &[u32]) -> Result<CategoricalArch, SpaceError> {
        self.inner.decode(tokens)
    }
    fn mutate(&self, arch: &CategoricalArch, rng: &mut Rng) -> CategoricalArch {
        self.inner.mutate(arch, rng)
    }

    fn format(&self, arch: &CategoricalArch) -> String {
        let mut s = String::with_capacity(96);
        s.push('|');
        for (e, &(to, from)) in NB201_EDGES.iter().enumerate() {
            if from == 0 && to > 1 {
                s.push_str("+|");
            }
            s.push_str(NB201_OPS[usize::from(arch.0[e])]);
            s.push('~');
            s.push(char::from(b'0' + from as u8));
            s.push('|');
        }
        s
    }

    fn parse(&self, text: &str) -> Result<CategoricalArch, SpaceError> {
        let err = |reason: String| SpaceError::Parse {
            text: text.to_string(),
            reason,
        };
        let nodes: Vec<&str> = text.trim().split('+').collect();
        if nodes.len() != 3 {
            return Err(err(format!(
                "expected 3 nodes separated by '+', found {}",
                nodes.len()
            )));
        }
        let mut out = Vec::with_capacity(6);
        for (j, node) in nodes.iter().enumerate() {
            let inner = node
                .strip_prefix('|')
                .and_then(|n| n.strip_suffix('|'))
                .ok_or_else(|| err(format!("node {} must be written |..|", j + 1)))?;
            let edges: Vec<&str> = inner.split('|').collect();
            if edges.len() != j + 1 {
                return Err(err(format!(
                    "node {} must have {} inputs, found {}",
                    j + 1,
                    j + 1,
                    edges.len()
                )));
            }
            for (i, edge) in edges.iter().enumerate() {
                let (op, from) = edge.split_once('~').ok_or_else(|| {
                    err(format!(
                        "edge {} is not op~input",
                        crate::settings::quoted(edge)
                    ))
                })?;
                if from != i.to_string() {
                    return Err(err(format!(
                        "edge {} of node {} should come from node {i}",
                        crate::settings::quoted(edge),
                        j + 1
                    )));
                }
                let c = NB201_OPS.iter().position(|o| *o == op).ok_or_else(|| {
                    err(format!("unknown operation {}", crate::settings::quoted(op)))
                })?;
                out.push(c as u16);
            }
        }
        Ok(CategoricalArch(out.into_boxed_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn all_15625_strings_round_trip_and_are_distinct() {
        let s = Nb201Space::new();
        let mut seen = HashSet::new();
        for i in 0..15_625 {
            let a = s.nth(i).unwrap();
            let text = s.format(&a);
            assert_eq!(s.parse(&text).unwrap(), a, "{text}");
            assert_eq!(s.decode(&s.encode(&a)).unwrap(), a);
            assert!(seen.insert(text));
        }
        assert!(s.nth(15_625).is_none());
    }

    #[test]
    fn official_string_format() {
        let s = Nb201Space::new();
        let text = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
        let a = s.parse(text).unwrap();
        assert_eq!(a.0.as_ref(), &[3, 3, 4, 1, 3, 1]);
        assert_eq!(s.format(&a), text);
        assert_eq!(s.encode(&a), vec![4, 4, 5, 2, 4, 2]);
        assert_eq!(s.encoding().vocab_size, 6);
    }

    #[test]
    fn malformed_strings_are_rejected() {
        let s = Nb201Space::new();
        for bad in [
            "",
            "|none~0|+|none~0|none~1|",
            "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
            "|none~0|+|none~0|+|none~0|none~1|none~2|",
            "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        ] {
            assert!(s.parse(bad).is_err(), "{bad:?}");
        }
    }
}
