//! Regularized evolution (Real et al., AAAI 2019, "aging evolution").
//!
//! Fill a population with random architectures; then repeatedly sample a tournament from the
//! population (uniformly, with replacement, as in the paper's Algorithm 1), mutate the best of
//! it one step, evaluate the child, add it as the youngest member and remove the oldest.
//!
//! One practical refinement: a child whose key this searcher has already proposed is mutated
//! again (up to [`ReConfig::max_retries`] times), since re-proposing it would only repeat a known
//! result.

use std::collections::{HashSet, VecDeque};

use rand::Rng as _;

use super::random::KeyHash;
use super::{Feedback, Origin, ProposalInfo, RandomSearch, Searcher};
use crate::rng::Rng;
use crate::settings::{MAX_COUNT, SettingError, in_range};
use crate::space::SearchSpace;

/// Settings of regularized evolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReConfig {
    /// Population size P.
    pub population: usize,
    /// Tournament size S.
    pub tournament: usize,
    /// How often a duplicate child is re-mutated before it is proposed anyway.
    pub max_retries: usize,
}

impl Default for ReConfig {
    /// P = 10, S = 3: the settings NAS-Bench-201 used for its REA baseline.
    fn default() -> Self {
        Self {
            population: 10,
            tournament: 3,
            max_retries: 100,
        }
    }
}

/// Regularized (aging) evolution.
pub struct RegularizedEvolution<A> {
    config: ReConfig,
    init: RandomSearch,
    rng: Rng,
    /// Oldest first.
    population: VecDeque<(A, f64)>,
    proposed: HashSet<KeyHash>,
    /// Asks in a row whose every mutation gave a known child.
    stuck: usize,
    /// Random sampling found nothing new (see [`RandomSearch::draw`]).
    init_spent: bool,
    /// Where the proposals of the latest ask came from.
    annotations: Vec<ProposalInfo>,
    /// The latest child was a random draw (see [`STUCK_ASKS`]).
    drew: bool,
}

/// Asks in a row with only known children before evolution draws a random new architecture
/// instead (so a nearly spent space is finished, not stalled on).
pub const STUCK_ASKS: usize = 100;

impl<A: Clone> RegularizedEvolution<A> {
    /// A new search with its own random stream.
    pub fn new(config: ReConfig, rng: Rng) -> Self {
        let mut init_rng = rng.clone();
        init_rng.set_stream(init_rng.get_stream() ^ 0x5eed);
        Self {
            config,
            init: RandomSearch::new(init_rng),
            rng,
            population: VecDeque::new(),
            proposed: HashSet::new(),
            stuck: 0,
            init_spent: false,
            annotations: Vec::new(),
            drew: false,
        }
    }

    /// The current population, oldest first.
    pub fn population(&self) -> impl Iterator<Item = &(A, f64)> {
        self.population.iter()
    }

    /// A mutated child, or a fresh random architecture once mutation has found only known
    /// children for [`STUCK_ASKS`] asks in a row; `None` when neither finds anything new
    /// (the space, as far as this search can reach it, is spent).
    fn next_child<S: SearchSpace<Arch = A>>(&mut self, space: &S) -> Option<A> {
        self.drew = false;
        let child = self.child(space);
        if self.proposed.contains(&KeyHash::of(&space.key(&child))) {
            self.stuck += 1;
        } else {
            self.stuck = 0;
            return Some(child);
        }
        if self.init_spent {
            return None;
        }
        if self.stuck < STUCK_ASKS {
            return Some(child); // as in the paper: a known child costs nothing
        }
        while let Some(a) = self.init.draw(space) {
            if !self.proposed.contains(&KeyHash::of(&space.key(&a))) {
                self.stuck = 0;
                self.drew = true;
                return Some(a);
            }
        }
        self.init_spent = true;
        None
    }

    fn child<S: SearchSpace<Arch = A>>(&mut self, space: &S) -> A {
        let mut child = None;
        for _ in 0..=self.config.max_retries {
            let mut winner: Option<&(A, f64)> = None;
            for _ in 0..self.config.tournament.max(1) {
                let c = &self.population[self.rng.gen_range(0..self.population.len())];
                if winner.is_none_or(|w| c.1 > w.1) {
                    winner = Some(c);
                }
            }
            let c = space.mutate(&winner.expect("population is not empty").0, &mut self.rng);
            let fresh = !self.proposed.contains(&KeyHash::of(&space.key(&c)));
            child = Some(c);
            if fresh {
                break;
            }
        }
        child.expect("at least one try")
    }
}

impl<S: SearchSpace> Searcher<S> for RegularizedEvolution<S::Arch> {
    fn name(&self) -> &str {
        "re"
    }

    fn ask(&mut self, space: &S, max: usize) -> Vec<S::Arch> {
        let mut out = Vec::with_capacity(max);
        self.annotations.clear();
        // Proposals are sequential: each child depends on the population after its parent.
        if self.population.len() < self.config.population.max(1) {
            if let Some(a) = self.init.draw(space) {
                out.push(a);
                self.annotations.push(ProposalInfo::of(Origin::Initial));
            } else {
                self.init_spent = true;
                if self.population.is_empty() {
                    return out; // the space is spent and nothing was evaluable
                }
            }
        }
        if out.is_empty() {
            match self.next_child(space) {
                Some(a) => {
                    out.push(a);
                    let origin = if self.drew {
                        Origin::Random
                    } else {
                        Origin::Mutated
                    };
                    self.annotations.push(ProposalInfo::of(origin));
                }
                None => return out,
            }
        }
        for a in &out {
            self.proposed.insert(KeyHash::of(&space.key(a)));
        }
        out
    }

    fn tell(&mut self, _space: &S, arch: &S::Arch, feedback: Feedback) {
        if let Feedback::Objective(v) = feedback {
            self.population.push_back((arch.clone(), v));
            if self.population.len() > self.config.population.max(1) {
                self.population.pop_front();
            }
        }
    }

    fn take_annotations(&mut self) -> Vec<ProposalInfo> {
        std::mem::take(&mut self.annotations)
    }
}

impl ReConfig {
    /// Checks population, tournament and retries.
    pub fn validate(&self) -> Result<(), SettingError> {
        in_range("population", self.population, 1, MAX_COUNT)?;
        in_range("tournament", self.tournament, 1, MAX_COUNT)?;
        in_range("max-retries", self.max_retries, 0, MAX_COUNT)?;
        Ok(())
    }
}
