//! Where the run engine records a run as it goes ([`Journal`]), and what a stored run hands back
//! to be replayed ([`Replay`]).

use std::collections::HashMap;

use crate::evaluator::{Decision, StepResult};
use crate::evaluator::{EvaluatorState, Outcome};

/// An error of the journal (the run store), boxed so that the driver does not depend on it.
pub type JournalError = Box<dyn std::error::Error + Send + Sync>;

/// Where the driver records a run as it goes, so that a killed run can be resumed.
pub trait Journal<A> {
    /// A new proposal, recorded before it is evaluated.
    fn proposed(&mut self, index: usize, key: &str, arch: &A) -> Result<(), JournalError>;
    /// An evaluation finished; called as soon as it does (before the searcher is told), so
    /// that no finished evaluation is lost.
    fn finished(&mut self, index: usize, key: &str, outcome: &Outcome) -> Result<(), JournalError>;
    /// An outcome of a run with a stateful evaluator, with the evaluator's state after it. The
    /// two must be kept together or not at all (one transaction): a resumed run needs the
    /// state that follows its newest outcome, and the process may die between any two writes.
    fn finished_with_state(
        &mut self,
        index: usize,
        key: &str,
        outcome: &Outcome,
        state: &EvaluatorState,
    ) -> Result<(), JournalError>;
    /// Proposal `index` repeats a proposal made before: it costs nothing and is not
    /// evaluated. A journal keeps it compactly (a replay proposes it again), or not at all.
    fn repeated(&mut self, index: usize) -> Result<(), JournalError> {
        let _ = index;
        Ok(())
    }
    /// A step a running evaluation reported and what was decided, recorded as it comes (for
    /// evaluators whose steps come while they train: [`crate::evaluator::Evaluator::live_steps`]).
    /// Steps also reach [`Journal::finished`] within the outcome.
    fn step(
        &mut self,
        index: usize,
        step: &StepResult,
        decision: Decision,
    ) -> Result<(), JournalError> {
        let _ = (index, step, decision);
        Ok(())
    }
    /// False for a journal that keeps nothing: the driver then saves no evaluator state.
    fn keeps_states(&self) -> bool {
        true
    }
    /// A checkpoint the searcher produced (e.g. trained controller weights) after `told`
    /// proposals had been told.
    fn checkpoint(&mut self, told: usize, name: &str, data: &[u8]) -> Result<(), JournalError> {
        let _ = (told, name, data);
        Ok(())
    }
}

/// A journal that keeps nothing (searches on instant benchmarks without a run directory).
pub struct NoJournal;

impl<A> Journal<A> for NoJournal {
    fn proposed(&mut self, _: usize, _: &str, _: &A) -> Result<(), JournalError> {
        Ok(())
    }
    fn finished(&mut self, _: usize, _: &str, _: &Outcome) -> Result<(), JournalError> {
        Ok(())
    }
    fn finished_with_state(
        &mut self,
        _: usize,
        _: &str,
        _: &Outcome,
        _: &EvaluatorState,
    ) -> Result<(), JournalError> {
        Ok(())
    }
    fn keeps_states(&self) -> bool {
        false
    }
}

/// What a stored run already did: its proposals' keys in order and the evaluations that
/// finished. Replaying it re-creates the searcher's state without evaluating anything again.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Canonical keys of the stored proposals, by index; `None` for a free proposal (a
    /// repeat, or one not evaluable) the store kept only as part of a range: the replay
    /// proposes it again, and it is not evaluated again.
    pub keys: Vec<Option<String>>,
    /// Finished evaluations by proposal index.
    pub outcomes: HashMap<usize, Outcome>,
    /// When the finished evaluations were proposed and finished (Unix seconds), by index.
    pub times: HashMap<usize, (f64, f64)>,
    /// Steps that evaluations without an outcome had reported, with what was decided, by
    /// index: a resumed evaluation keeps those decisions (one stopped before the kill is not
    /// trained again).
    pub steps: HashMap<usize, Vec<(StepResult, Decision)>>,
}
