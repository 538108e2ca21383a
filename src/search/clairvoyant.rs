//! Clairvoyant early stopping, for benchmarks: how much could any stop rule save a searcher?
//!
//! [`Clairvoyant`] wraps a searcher and replaces its stop rules (or adds some where it has
//! none) by a rule that knows every training's end: a proposal whose whole training will not
//! beat the best whole training told so far is stopped at one fixed step; every other one
//! runs to its end. No rule that decides at that step can do better for the same searcher,
//! so a bench with it (`seminas bench --clairvoyant STEP`) bounds what early stopping at that
//! step is worth: if even this misses a goal, no pruner at that step will meet it. It reads
//! the table's answers, so it is never a search of its own.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Feedback, Phase, ProposalInfo, Searcher};
use crate::evaluator::{Fidelities, StepResult, StopRule};
use crate::space::SearchSpace;

/// A searcher whose trainings are stopped by clairvoyance (see the module documentation).
pub struct Clairvoyant<S: SearchSpace> {
    inner: Box<dyn Searcher<S>>,
    step: u64,
    /// Whole-training objective (larger is better) by canonical key.
    whole: Arc<HashMap<String, f64>>,
    /// Best whole-training objective told so far.
    best: f64,
    rules: Vec<Option<StopRule>>,
}

impl<S: SearchSpace> Clairvoyant<S> {
    /// `inner` with its trainings stopped at `step` when `whole` (the objective of every
    /// evaluable architecture's whole training, by key, larger is better) says they will not
    /// improve on the best whole training told so far. An architecture missing from `whole`
    /// is never stopped.
    pub fn new(inner: Box<dyn Searcher<S>>, step: u64, whole: Arc<HashMap<String, f64>>) -> Self {
        Self {
            inner,
            step,
            whole,
            best: f64::NEG_INFINITY,
            rules: Vec::new(),
        }
    }
}

impl<S: SearchSpace> Searcher<S> for Clairvoyant<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn ask(&mut self, space: &S, max: usize) -> Vec<S::Arch> {
        let out = self.inner.ask(space, max);
        // The searcher's own rules are replaced, not combined.
        self.inner.take_stop_rules();
        self.rules = out
            .iter()
            .map(|a| {
                let mut rule = StopRule::never(1.0);
                // The first whole training always runs: there is nothing to beat yet.
                if let Some(&v) = self.whole.get(&space.key(a))
                    && self.best.is_finite()
                    && v <= self.best
                {
                    rule.thresholds.insert(self.step, f64::INFINITY);
                }
                Some(rule)
            })
            .collect();
        out
    }

    fn tell(&mut self, space: &S, arch: &S::Arch, feedback: Feedback) {
        if let Feedback::Objective(v) = feedback {
            self.best = self.best.max(v);
        }
        self.inner.tell(space, arch, feedback);
    }

    fn tell_steps(&mut self, space: &S, arch: &S::Arch, steps: &[StepResult]) {
        self.inner.tell_steps(space, arch, steps);
    }

    fn take_stop_rules(&mut self) -> Vec<Option<StopRule>> {
        std::mem::take(&mut self.rules)
    }

    fn set_fidelities(&mut self, fidelities: &Fidelities) {
        self.inner.set_fidelities(fidelities);
    }

    fn take_checkpoints(&mut self) -> Vec<(String, Vec<u8>)> {
        self.inner.take_checkpoints()
    }

    fn take_annotations(&mut self) -> Vec<ProposalInfo> {
        self.inner.take_annotations()
    }

    fn watch(&mut self, phase: Phase) {
        self.inner.watch(phase);
    }
}
