//! Random search without replacement: uniform samples, never the same canonical key twice.

use std::collections::HashSet;

use super::{Feedback, Searcher};
use crate::rng::Rng;
use crate::space::SearchSpace;

/// Uniform random search without replacement.
pub struct RandomSearch {
    rng: Rng,
    proposed: HashSet<String>,
}

impl RandomSearch {
    /// A random search drawing from `rng`.
    pub fn new(rng: Rng) -> Self {
        Self {
            rng,
            proposed: HashSet::new(),
        }
    }

    /// Draws an architecture whose key was never proposed, or `None` once the space is spent.
    pub fn draw<S: SearchSpace>(&mut self, space: &S) -> Option<S::Arch> {
        if let Some(n) = space.cardinality()
            && self.proposed.len() as u128 >= n
        {
            return None;
        }
        loop {
            let a = space.sample(&mut self.rng);
            if self.proposed.insert(space.key(&a)) {
                return Some(a);
            }
        }
    }
}

impl<S: SearchSpace> Searcher<S> for RandomSearch {
    fn name(&self) -> &str {
        "random"
    }

    fn ask(&mut self, space: &S, max: usize) -> Vec<S::Arch> {
        (0..max).map_while(|_| self.draw(space)).collect()
    }

    fn tell(&mut self, _space: &S, _arch: &S::Arch, _feedback: Feedback) {}
}
