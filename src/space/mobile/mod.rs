//! The MobileNetV2-style ImageNet space of SemiNAS (official code, `imagenet/`), after
//! ProxylessNAS.
//!
//! A network is a 3x3 stride-2 stem convolution, a fixed MBConv block (3x3, expansion 1), then
//! searchable blocks in stages, a 1x1 head convolution, global average pooling and a linear
//! classifier. In the paper's space there are 21 searchable blocks in stages of (4, 4, 4, 4, 4, 1)
//! blocks with strides (2, 2, 2, 1, 2, 1); the first block of a stage carries the stride and
//! changes the width, the others keep both. Each block is one of seven operations, in the
//! official token order (`imagenet/utils.py`, `OPERATIONS`): MBConv (k3,e3), (k3,e6), (k5,e3),
//! (k5,e6), (k7,e3), (k7,e6), and Zero, which skips the block (its identity shortcut stays).
//! The first block of a stage has no identity shortcut, so it cannot be Zero.
//!
//! Token `t` (1..=7) is operation `t` of that list, exactly the integers of the official
//! architecture strings (`"6 5 1 7 4 ..."`); token 0 is the controller's start token.
//!
//! The textual form names the blocks `k3e3 k3e6 k5e3 k5e6 k7e3 k7e6 zero`, blocks separated by
//! `,` and stages by `|`:
//! `k7e6,k7e3,k3e3,zero|k5e6,k3e6,k7e3,k5e3|...|k7e6`. [`SearchSpace::parse`] also reads the
//! official integer form.
//!
//! **Canonical keys.** A Zero block is an identity, and every non-first block of a stage has
//! the same input and output shape, so where the Zeros sit inside a stage does not change the
//! network: `k3e3,zero,k5e3,k7e6` and `k3e3,k5e3,k7e6,zero` are one network. The key therefore
//! moves a stage's Zeros to its end, and a search pays for the network once. The paper's code
//! compares the raw sequences instead; [`MobileSpace::positional_keys`] restores that, which
//! matters for a weight-sharing supernet, where each position has its own weights and the two
//! sequences use different ones.
//!
//! **Widths.** The official code searches with a supernet at ProxylessNAS-mobile widths
//! ([`MobileSkeleton::paper_search`]) and trains the found networks wider
//! ([`MobileSkeleton::paper_train`], `imagenet/train_imagenet.py` defaults). The paper's 600M
//! FLOPs bound and its 599M for the found SemiNASNet are at the training widths, so
//! [`MobileSpace::paper`] uses those.

mod arch;
pub mod cost;
mod error;
mod skeleton;

use rand::Rng as _;

use super::{SearchSpace, SpaceError, TokenEncoding};
use crate::rng::Rng;
pub use cost::{MbBlock, Network, NetworkCost, Stem};

/// SemiNASNet, the architecture SemiNAS found on ImageNet (23.5% top-1 error, 599M FLOPs,
/// 6.32M parameters at [`MobileSkeleton::paper_train`] widths), in the official integer form
/// (`imagenet/runs/train_seminasnet.sh`).
pub const SEMINASNET: &str = "6 5 1 7 4 2 5 3 5 2 5 3 3 5 7 3 1 6 3 3 6";

pub use arch::{MobileArch, MobileOp};
pub use error::MobileError;
pub use skeleton::{
    MAX_CHANNELS, MAX_CLASSES, MAX_RESOLUTION, MAX_STAGE_BLOCKS, MobileSkeleton, Stage,
};

/// The MobileNetV2-style space (module documentation), optionally restricted to architectures
/// within a FLOPs limit.
#[derive(Debug, Clone)]
pub struct MobileSpace {
    skeleton: MobileSkeleton,
    max_mflops: Option<f64>,
    canonical_keys: bool,
    encoding: TokenEncoding,
    /// Stage of each block.
    stage_of: Vec<usize>,
    /// True for the first block of each stage.
    first: Vec<bool>,
}

impl MobileSpace {
    /// The space over `skeleton`, without a FLOPs limit.
    pub fn new(skeleton: MobileSkeleton) -> Result<Self, MobileError> {
        skeleton.validate()?;
        let mut stage_of = Vec::new();
        let mut first = Vec::new();
        for (i, s) in skeleton.stages.iter().enumerate() {
            for b in 0..s.blocks {
                stage_of.push(i);
                first.push(b == 0);
            }
        }
        let mut token_names = vec!["<sos>".to_string()];
        token_names.extend(MobileOp::ALL.iter().map(|o| o.name().to_string()));
        let allowed = first
            .iter()
            .map(|&f| {
                MobileOp::ALL
                    .iter()
                    .filter(|o| !(f && **o == MobileOp::Zero))
                    .map(|o| o.token())
                    .collect()
            })
            .collect();
        Ok(Self {
            skeleton,
            max_mflops: None,
            canonical_keys: true,
            encoding: TokenEncoding {
                vocab_size: token_names.len(),
                allowed,
                token_names,
            },
            stage_of,
            first,
        })
    }

    /// The paper's space at the widths its networks are trained at
    /// ([`MobileSkeleton::paper_train`]), without a FLOPs limit.
    pub fn paper() -> Self {
        Self::new(MobileSkeleton::paper_train()).expect("static skeleton is valid")
    }

    /// Restricts the space to architectures of at most `limit` million multiply-adds:
    /// [`SearchSpace::validate`] rejects the others and sampling and mutation never produce
    /// them. Fails when even the cheapest architecture is over the limit.
    pub fn with_max_mflops(mut self, limit: f64) -> Result<Self, MobileError> {
        if !limit.is_finite() {
            return Err(MobileError::Skeleton(format!(
                "the FLOPs limit must be a finite number of MFLOPs, not {limit} (leave \
                 --max-mflops out for no limit)"
            )));
        }
        let cheapest = self.cost(&self.cheapest()).mflops();
        if limit < cheapest {
            return Err(MobileError::InfeasibleLimit { limit, cheapest });
        }
        self.max_mflops = Some(limit);
        Ok(self)
    }

    /// Keys are the raw block sequences, as in the paper's code, instead of canonical ones
    /// (module documentation).
    pub fn positional_keys(mut self) -> Self {
        self.canonical_keys = false;
        self
    }

    /// The FLOPs limit, if any.
    pub fn max_mflops(&self) -> Option<f64> {
        self.max_mflops
    }

    /// The fixed parts of the network.
    pub fn skeleton(&self) -> &MobileSkeleton {
        &self.skeleton
    }

    /// Number of searchable blocks.
    pub fn num_blocks(&self) -> usize {
        self.first.len()
    }

    /// The cheapest architecture: 3x3 expansion-3 first blocks, every other block Zero.
    pub fn cheapest(&self) -> MobileArch {
        MobileArch(
            self.first
                .iter()
                .map(|&f| if f { MobileOp::K3E3 } else { MobileOp::Zero })
                .collect(),
        )
    }

    /// The network an architecture describes (Zero blocks left out).
    pub fn network(&self, arch: &MobileArch) -> Network {
        let sk = &self.skeleton;
        let mut blocks = vec![MbBlock {
            in_channels: sk.stem_channels,
            out_channels: sk.first_block_channels,
            kernel: 3,
            expansion: 1,
            stride: 1,
        }];
        let mut channels = sk.first_block_channels;
        // Zipped with the positions so that a malformed (too long) architecture built by hand
        // cannot index out of bounds; `validate` reports its length.
        for ((op, &s), &first) in arch.0.iter().zip(&self.stage_of).zip(&self.first) {
            let Some((kernel, expansion)) = op.mbconv() else {
                continue;
            };
            let stage = sk.stages[s];
            blocks.push(MbBlock {
                in_channels: channels,
                out_channels: stage.width,
                kernel,
                expansion,
                stride: if first { stage.stride } else { 1 },
            });
            channels = stage.width;
        }
        Network {
            resolution: sk.resolution,
            stem: Stem {
                in_channels: 3,
                out_channels: sk.stem_channels,
                kernel: 3,
                stride: 2,
            },
            blocks,
            head_channels: sk.head_channels,
            num_classes: sk.num_classes,
        }
    }

    /// Multiply-adds and parameters of an architecture's network.
    pub fn cost(&self, arch: &MobileArch) -> NetworkCost {
        self.network(arch).cost()
    }

    /// The same network with each stage's Zero blocks moved to the stage's end.
    pub fn canonical(&self, arch: &MobileArch) -> MobileArch {
        let mut out = Vec::with_capacity(arch.0.len());
        let mut start = 0;
        for s in &self.skeleton.stages {
            let end = (start + s.blocks).min(arch.0.len());
            let stage = &arch.0[start..end];
            out.extend(stage.iter().copied().filter(|o| *o != MobileOp::Zero));
            out.extend(stage.iter().copied().filter(|o| *o == MobileOp::Zero));
            start = end;
        }
        MobileArch(out.into_boxed_slice())
    }

    /// Checks length and the Zero-first rule, not the FLOPs limit.
    fn check_structure(&self, ops: &[MobileOp]) -> Result<(), MobileError> {
        if ops.len() != self.num_blocks() {
            return Err(self.wrong_length(ops.len()));
        }
        for (p, op) in ops.iter().enumerate() {
            if self.first[p] && *op == MobileOp::Zero {
                return Err(MobileError::ZeroFirst {
                    stage: self.stage_of[p] + 1,
                    position: p,
                });
            }
        }
        Ok(())
    }

    fn wrong_length(&self, found: usize) -> MobileError {
        MobileError::WrongLength {
            expected: self.num_blocks(),
            found,
            stages: self
                .skeleton
                .stages
                .iter()
                .map(|s| s.blocks.to_string())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    fn within_limit(&self, arch: &MobileArch) -> Result<(), MobileError> {
        if let Some(limit) = self.max_mflops {
            let mflops = self.cost(arch).mflops();
            if mflops > limit {
                return Err(MobileError::OverLimit { mflops, limit });
            }
        }
        Ok(())
    }

    fn fits(&self, arch: &MobileArch) -> bool {
        self.within_limit(arch).is_ok()
    }

    /// Checks every rule: length, Zero-first, FLOPs limit.
    pub fn check(&self, arch: &MobileArch) -> Result<(), MobileError> {
        self.check_structure(&arch.0)?;
        self.within_limit(arch)
    }

    /// Parses the textual form (or the official integers), checking length and the Zero-first
    /// rule but not the FLOPs limit (so over-limit architectures can still be costed).
    pub fn parse_arch(&self, text: &str) -> Result<MobileArch, MobileError> {
        let t = text.trim();
        let official = !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_digit() || c.is_whitespace() || c == ',');
        let ops: Vec<MobileOp> = if official {
            t.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .enumerate()
                .map(|(p, s)| {
                    s.parse::<u32>()
                        .ok()
                        .and_then(MobileOp::from_token)
                        .ok_or_else(|| MobileError::UnknownOp {
                            op: s.to_string(),
                            position: p,
                        })
                })
                .collect::<Result<_, _>>()?
        } else if t.contains('|') {
            let parts: Vec<&str> = t.split('|').collect();
            if parts.len() != self.skeleton.stages.len() {
                let found = parts.iter().map(|p| p.split(',').count()).sum();
                return Err(self.wrong_length(found));
            }
            let mut ops = Vec::with_capacity(self.num_blocks());
            for (i, (part, stage)) in parts.iter().zip(&self.skeleton.stages).enumerate() {
                let names: Vec<&str> = part.split(',').collect();
                if names.len() != stage.blocks {
                    return Err(MobileError::WrongStage {
                        stage: i + 1,
                        expected: stage.blocks,
                        found: names.len(),
                    });
                }
                for n in names {
                    let position = ops.len();
                    ops.push(
                        MobileOp::from_name(n).ok_or_else(|| MobileError::UnknownOp {
                            op: n.trim().to_string(),
                            position,
                        })?,
                    );
                }
            }
            ops
        } else {
            t.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .enumerate()
                .map(|(p, s)| {
                    MobileOp::from_name(s).ok_or_else(|| MobileError::UnknownOp {
                        op: s.to_string(),
                        position: p,
                    })
                })
                .collect::<Result<_, _>>()?
        };
        self.check_structure(&ops)?;
        Ok(MobileArch(ops.into_boxed_slice()))
    }

    /// The official integer form, e.g. `6 5 1 7 ...` (`--arch` of `imagenet/train_imagenet.py`).
    pub fn official_string(&self, arch: &MobileArch) -> String {
        arch.0
            .iter()
            .map(|o| o.token().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads an architecture back from [`SearchSpace::to_json`]'s object (or from a JSON string
    /// holding the textual form). When the object holds a `network`, it must be the network this
    /// space builds for the architecture (same widths, resolution and classes). The FLOPs limit
    /// is not checked.
    pub fn arch_from_json(&self, value: &serde_json::Value) -> Result<MobileArch, MobileError> {
        let text = match value {
            serde_json::Value::String(s) => s.as_str(),
            serde_json::Value::Object(o) => o
                .get("arch")
                .and_then(|a| a.as_str())
                .ok_or_else(|| MobileError::Json("no \"arch\" string".into()))?,
            _ => {
                return Err(MobileError::Json(
                    "expected an object or a string".to_string(),
                ));
            }
        };
        let arch = self.parse_arch(text)?;
        if let Some(net) = value.get("network") {
            let given: Network = serde_json::from_value(net.clone())
                .map_err(|e| MobileError::Json(format!("\"network\": {e}")))?;
            if given != self.network(&arch) {
                return Err(MobileError::Json(
                    "\"network\" is not the network of \"arch\" in this space (other widths, \
                     resolution or classes?)"
                        .into(),
                ));
            }
        }
        Ok(arch)
    }

    fn sample_unconstrained(&self, rng: &mut Rng) -> MobileArch {
        MobileArch(
            self.first
                .iter()
                .map(|&f| {
                    let n = if f { 6 } else { 7 };
                    MobileOp::ALL[rng.gen_range(0..n)]
                })
                .collect(),
        )
    }

    /// Makes an over-limit architecture fit by repeatedly giving the block whose cheapest
    /// replacement saves the most that replacement (deterministic; terminates because the
    /// cheapest architecture fits).
    fn repair(&self, mut arch: MobileArch) -> MobileArch {
        while !self.fits(&arch) {
            let base = self.cost(&arch).madds;
            let mut best: Option<(u64, usize, MobileOp)> = None;
            for p in 0..arch.0.len() {
                let cheap = if self.first[p] {
                    MobileOp::K3E3
                } else {
                    MobileOp::Zero
                };
                if arch.0[p] == cheap {
                    continue;
                }
                let mut c = arch.clone();
                c.0[p] = cheap;
                let saved = base.saturating_sub(self.cost(&c).madds);
                if best.is_none_or(|b| saved > b.0) {
                    best = Some((saved, p, cheap));
                }
            }
            let Some((_, p, op)) = best else {
                return arch;
            };
            arch.0[p] = op;
        }
        arch
    }
}

/// Rejected draws before sampling falls back to repairing a draw.
const MAX_REJECTIONS: usize = 1000;

/// Draws a mutation without a fitting neighbour makes before it gives up on a new architecture.
const MUTATION_DRAWS: usize = 10;

impl SearchSpace for MobileSpace {
    type Arch = MobileArch;

    fn name(&self) -> &str {
        "mobile"
    }

    /// Uniform over block sequences, as the official `generate_arch` draws (first block of a
    /// stage among the six MBConvs, the others among all seven operations); under a FLOPs
    /// limit, draws over it are rejected (after 1,000 rejections in a row the draw is made to
    /// fit by replacing its most expensive blocks by the cheapest choice).
    fn sample(&self, rng: &mut Rng) -> MobileArch {
        let mut arch = self.sample_unconstrained(rng);
        for _ in 0..MAX_REJECTIONS {
            if self.fits(&arch) {
                return arch;
            }
            arch = self.sample_unconstrained(rng);
        }
        self.repair(arch)
    }

    /// Distinct canonical networks (or sequences with [`MobileSpace::positional_keys`]);
    /// unknown under a FLOPs limit.
    fn cardinality(&self) -> Option<u128> {
        if self.max_mflops.is_some() {
            return None;
        }
        let mut n: u128 = 1;
        for s in &self.skeleton.stages {
            let rest = s.blocks as u32 - 1;
            let per_stage = if self.canonical_keys {
                // A first block, then 0..=rest non-Zero blocks.
                6 * (0..=rest).map(|j| 6u128.pow(j)).sum::<u128>()
            } else {
                6 * 7u128.pow(rest)
            };
            n = n.saturating_mul(per_stage);
        }
        Some(n)
    }

    fn validate(&self, arch: &MobileArch) -> Result<(), SpaceError> {
        Ok(self.check(arch)?)
    }

    fn key(&self, arch: &MobileArch) -> String {
        if self.canonical_keys {
            self.format(&self.canonical(arch))
        } else {
            self.format(arch)
        }
    }

    fn encoding(&self) -> &TokenEncoding {
        &self.encoding
    }

    fn encode(&self, arch: &MobileArch) -> Vec<u32> {
        arch.0.iter().map(|o| o.token()).collect()
    }

    /// Fails on disallowed tokens and on architectures over the FLOPs limit.
    fn decode(&self, tokens: &[u32]) -> Result<MobileArch, SpaceError> {
        self.encoding.check(tokens)?;
        let arch = MobileArch(
            tokens
                .iter()
                .map(|&t| MobileOp::from_token(t).expect("checked by the encoding"))
                .collect(),
        );
        self.validate(&arch)?;
        Ok(arch)
    }

    /// A uniformly chosen neighbour that changes one block and fits the FLOPs limit. If no
    /// neighbour fits, a fresh sample (different from `arch` unless 10 draws found nothing
    /// else: the space may hold only `arch`).
    fn mutate(&self, arch: &MobileArch, rng: &mut Rng) -> MobileArch {
        let mut neighbours = Vec::new();
        for p in 0..arch.0.len() {
            for &op in &MobileOp::ALL {
                if op == arch.0[p] || (self.first[p] && op == MobileOp::Zero) {
                    continue;
                }
                let mut c = arch.clone();
                c.0[p] = op;
                if self.fits(&c) {
                    neighbours.push(c);
                }
            }
        }
        if !neighbours.is_empty() {
            let i = rng.gen_range(0..neighbours.len());
            return neighbours.swap_remove(i);
        }
        // No neighbour fits: under a tight limit there may be no other architecture at all,
        // so a few draws only (each may take MAX_REJECTIONS rejections itself).
        let key = self.key(arch);
        let mut s = self.sample(rng);
        for _ in 0..MUTATION_DRAWS {
            if self.key(&s) != key {
                break;
            }
            s = self.sample(rng);
        }
        s
    }

    fn format(&self, arch: &MobileArch) -> String {
        let mut s = String::with_capacity(arch.0.len() * 5);
        for (p, op) in arch.0.iter().enumerate() {
            if p > 0 {
                s.push(if self.first.get(p) == Some(&true) {
                    '|'
                } else {
                    ','
                });
            }
            s.push_str(op.name());
        }
        s
    }

    fn parse(&self, text: &str) -> Result<MobileArch, SpaceError> {
        Ok(self.parse_arch(text)?)
    }

    /// The full network description a user can train: `arch` (textual form), `official`
    /// (the official integer form), `mflops`, `params`, and `network` (stem, MBConv blocks with
    /// channels, kernel, expansion and stride, Zero blocks left out, head channels, classes,
    /// resolution). [`MobileSpace::export_json`] adds the layer conventions.
    fn to_json(&self, arch: &MobileArch) -> serde_json::Value {
        let network = self.network(arch);
        let cost = network.cost();
        serde_json::json!({
            "space": "mobile",
            "arch": self.format(arch),
            "official": self.official_string(arch),
            "mflops": (cost.mflops() * 1e4).round() / 1e4,
            "params": cost.params,
            "network": network,
        })
    }
}

impl MobileSpace {
    /// [`SearchSpace::to_json`] plus the layer conventions of the official code a training
    /// script needs (activations, batch normalisation, padding, shortcuts, pooling,
    /// classifier): what `seminas mobile export` prints.
    pub fn export_json(&self, arch: &MobileArch) -> serde_json::Value {
        let mut v = self.to_json(arch);
        v["conventions"] = serde_json::json!({
            "activation": "relu6 after the stem, head, expansion and depthwise convolutions; none after the projection",
            "batch_norm": "after every convolution (official: momentum 0.1, eps 0.001)",
            "convolution_bias": false,
            "padding": "kernel / 2",
            "shortcut": "identity when stride is 1 and in_channels == out_channels",
            "pooling": "global average before the classifier",
            "classifier": "linear with bias (official training: dropout 0.3 before it)",
        });
        v
    }
}

#[cfg(test)]
mod tests;
