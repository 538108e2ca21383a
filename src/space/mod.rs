//! Search spaces: what an architecture is, how to sample, check, mutate and encode one.
//!
//! A [`SearchSpace`] gives every search algorithm the same handful of operations, and gives the
//! SemiNAS controller a [`TokenEncoding`]: each architecture is a fixed-length sequence of
//! tokens, with the set of tokens allowed at each position (the decoder may only choose among
//! those).

pub mod any;
pub mod categorical;
pub mod mobile;
pub mod nb101;
pub mod nb201;

use std::fmt::Debug;
use std::hash::Hash;

use crate::rng::Rng;

pub use any::{AnyOf, AnySpace, PerSpace, SpaceKind, Spaces, UnknownSpace};
pub use categorical::{CategoricalArch, CategoricalSpace, Position};
pub use mobile::{MobileArch, MobileError, MobileOp, MobileSkeleton, MobileSpace};
pub use nb101::Nb101Space;
pub use nb201::Nb201Space;

/// Token 0 of every vocabulary is reserved: the decoder's start-of-sequence input.
pub const SOS_TOKEN: u32 = 0;

/// Errors about architectures and space definitions.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    /// A textual architecture could not be parsed.
    #[error(
        "cannot parse architecture {}: {reason}",
        crate::settings::quoted(text)
    )]
    Parse {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An architecture breaks a rule of the space.
    #[error("invalid architecture: {0}")]
    Invalid(String),
    /// A token sequence does not decode to an architecture of the space.
    #[error("cannot decode tokens: {0}")]
    Decode(String),
    /// A rule of the MobileNet-style space is broken (unknown operation, wrong length, Zero
    /// first in a stage, over the FLOPs limit, ...).
    #[error(transparent)]
    Mobile(#[from] MobileError),
    /// A space definition file is malformed.
    #[error("{file}: {reason}")]
    Definition {
        /// The definition file.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// How a space's architectures are written as token sequences for the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEncoding {
    /// Number of distinct tokens, including the reserved [`SOS_TOKEN`] (token 0).
    pub vocab_size: usize,
    /// For each position of the sequence, the tokens allowed there (sorted, never containing 0).
    pub allowed: Vec<Vec<u32>>,
    /// A readable name per token (index = token id).
    pub token_names: Vec<String>,
}

impl TokenEncoding {
    /// Length of every token sequence of the space.
    pub fn len(&self) -> usize {
        self.allowed.len()
    }

    /// True when sequences are empty (a degenerate space).
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// A `len x vocab_size` mask, row-major: `true` where a token is allowed at a position.
    pub fn mask(&self) -> Vec<bool> {
        let mut m = vec![false; self.len() * self.vocab_size];
        for (p, toks) in self.allowed.iter().enumerate() {
            for &t in toks {
                m[p * self.vocab_size + t as usize] = true;
            }
        }
        m
    }

    /// Checks that `tokens` has the right length and only allowed tokens.
    pub fn check(&self, tokens: &[u32]) -> Result<(), SpaceError> {
        if tokens.len() != self.len() {
            return Err(SpaceError::Decode(format!(
                "expected {} tokens, got {}",
                self.len(),
                tokens.len()
            )));
        }
        for (p, (&t, ok)) in tokens.iter().zip(&self.allowed).enumerate() {
            if !ok.contains(&t) {
                return Err(SpaceError::Decode(format!(
                    "token {t} is not allowed at position {p}"
                )));
            }
        }
        Ok(())
    }
}

/// A search space: the set of architectures a search may propose.
pub trait SearchSpace: Send + Sync {
    /// One architecture of the space.
    type Arch: Clone + Eq + Hash + Debug + Send + Sync + 'static;

    /// Short name of the space, e.g. `nb201`.
    fn name(&self) -> &str;

    /// Draws an architecture uniformly at random (uniform over canonical keys where the space
    /// says so in its documentation).
    fn sample(&self, rng: &mut Rng) -> Self::Arch;

    /// Number of distinct canonical keys, when known (lets searchers notice exhaustion).
    fn cardinality(&self) -> Option<u128> {
        None
    }

    /// Every architecture of the space, one per canonical key, when there are at most `limit`
    /// of them and the space can list them (NAS-Bench-201's 15,625 cells, a small categorical
    /// space, a sampling pool). `None` otherwise.
    fn enumerate(&self, limit: usize) -> Option<Vec<Self::Arch>> {
        let _ = limit;
        None
    }

    /// Checks every rule of the space.
    fn validate(&self, arch: &Self::Arch) -> Result<(), SpaceError>;

    /// Canonical key: two architectures with the same key are the same candidate, and a search
    /// pays for only the first of them.
    fn key(&self, arch: &Self::Arch) -> String;

    /// The token encoding used by the controller.
    fn encoding(&self) -> &TokenEncoding;

    /// Writes an architecture as tokens (`encoding().len()` of them).
    fn encode(&self, arch: &Self::Arch) -> Vec<u32>;

    /// Reads tokens back into an architecture; fails on disallowed tokens or invalid results.
    fn decode(&self, tokens: &[u32]) -> Result<Self::Arch, SpaceError>;

    /// One mutation step: a random neighbour differing in one decision (never `arch` itself).
    fn mutate(&self, arch: &Self::Arch, rng: &mut Rng) -> Self::Arch;

    /// The space's textual form of an architecture (e.g. the official NAS-Bench-201 cell string).
    fn format(&self, arch: &Self::Arch) -> String;

    /// Parses the textual form written by [`SearchSpace::format`].
    fn parse(&self, text: &str) -> Result<Self::Arch, SpaceError>;

    /// The architecture as JSON, as written to run logs and given to user evaluators.
    fn to_json(&self, arch: &Self::Arch) -> serde_json::Value {
        serde_json::Value::String(self.format(arch))
    }

    /// Reads the JSON form written by [`SearchSpace::to_json`] (a JSON string is read as the
    /// textual form by every space).
    fn read_json(&self, value: &serde_json::Value) -> Result<Self::Arch, SpaceError> {
        match value {
            serde_json::Value::String(text) => self.parse(text),
            other => Err(SpaceError::Parse {
                text: other.to_string(),
                reason: "expected the architecture's textual form (a string)".into(),
            }),
        }
    }
}
