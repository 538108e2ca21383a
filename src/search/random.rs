//! Random search without replacement: uniform samples, never the same canonical key twice.

use std::collections::HashSet;

use super::{Feedback, Origin, ProposalInfo, Searcher};
use crate::rng::Rng;
use crate::space::SearchSpace;

/// A canonical key's 128-bit hash: what searchers and the driver keep of keys that they only
/// need to recognise, so that memory per proposal is 16 bytes whatever the key's length (keys
/// of a 2,000-position space are kilobytes). Two keys share a hash with probability about
/// 2^-128 per pair: never, in practice. The hash lives in memory only (it is not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(u128);

impl KeyHash {
    /// The hash of `key`.
    pub fn of(key: &str) -> Self {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let half = |salt: u8| {
            let mut h = DefaultHasher::new();
            salt.hash(&mut h);
            key.hash(&mut h);
            h.finish()
        };
        Self((u128::from(half(1)) << 64) | u128::from(half(2)))
    }
}

/// Draws in a row that may give known keys before a space of unknown size counts as spent.
/// (A space of known size is spent exactly when every key is known.)
pub const MAX_KNOWN_DRAWS: usize = 1000;

/// Uniform random search without replacement.
pub struct RandomSearch {
    rng: Rng,
    proposed: HashSet<KeyHash>,
    /// Proposals of the latest ask.
    asked: usize,
}

impl RandomSearch {
    /// A random search drawing from `rng`.
    pub fn new(rng: Rng) -> Self {
        Self {
            rng,
            proposed: HashSet::new(),
            asked: 0,
        }
    }

    /// Draws an architecture whose key was never proposed, or `None` once the space is spent
    /// (for a space of unknown size: after [`MAX_KNOWN_DRAWS`] known draws in a row).
    pub fn draw<S: SearchSpace>(&mut self, space: &S) -> Option<S::Arch> {
        if let Some(n) = space.cardinality()
            && self.proposed.len() as u128 >= n
        {
            return None;
        }
        let bounded = space.cardinality().is_none();
        let mut known = 0;
        loop {
            let a = space.sample(&mut self.rng);
            if self.proposed.insert(KeyHash::of(&space.key(&a))) {
                return Some(a);
            }
            // Under a constraint (e.g. a FLOPs limit) the number of architectures is unknown:
            // a long run of known draws means the reachable space is spent.
            known += 1;
            if bounded && known >= MAX_KNOWN_DRAWS {
                return None;
            }
        }
    }
}

impl<S: SearchSpace> Searcher<S> for RandomSearch {
    fn name(&self) -> &str {
        "random"
    }

    fn ask(&mut self, space: &S, max: usize) -> Vec<S::Arch> {
        let out: Vec<S::Arch> = (0..max).map_while(|_| self.draw(space)).collect();
        self.asked = out.len();
        out
    }

    fn take_annotations(&mut self) -> Vec<ProposalInfo> {
        vec![ProposalInfo::of(Origin::Random); std::mem::take(&mut self.asked)]
    }

    fn tell(&mut self, _space: &S, _arch: &S::Arch, _feedback: Feedback) {}
}
