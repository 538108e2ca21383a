//! Evaluators: architecture in, objective (what the search maximises) and reported metric
//! (what the results show, never seen by the search) out.
//!
//! The [`Evaluator`] trait is here; benchmark tables ([`crate::benchmark::TabularBenchmark`])
//! answer from published measurements, the evaluators below train architectures for real: the
//! user's own command, run here ([`command`]) or as jobs on a Ray cluster ([`ray`],
//! [`ray_jobs`]), and the built-in trainer (`crate::trainer`, cargo feature `trainer`).
//! Searchers never call an evaluator themselves: the driver in [`crate::search`] does, so that
//! query accounting lives in one place.

pub mod command;
pub mod external;
pub mod fidelity;
pub mod options;
pub mod ray;
pub mod ray_jobs;
mod reference;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::space::SearchSpace;
pub use external::External;
pub use reference::Reference;

pub use fidelity::{
    Decision, Fidelities, NoMonitor, Pruner, PrunerState, StepMonitor, StepResult, StopRule,
};

/// A finished evaluation of one architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The value the search maximises (e.g. validation accuracy).
    pub objective: f64,
    /// The value reported in results (e.g. test accuracy); hidden from searchers.
    pub report: Option<f64>,
    /// What the evaluation cost, in seconds (for a table: the recorded training time).
    pub cost_seconds: f64,
    /// Every other metric the evaluator measured (e.g. a training script's `metrics` object).
    pub metrics: BTreeMap<String, f64>,
    /// The training's intermediate results in step order (empty when it reported none).
    pub steps: Vec<StepResult>,
    /// The step at which the search stopped the training (it was pruned): `objective` is then
    /// the objective at that step, `report` is `None`, and the evaluation is not a candidate
    /// for the best architecture. `None` for a training that ran to its end.
    pub stopped_at: Option<u64>,
    /// What went wrong on the way without failing the evaluation (e.g. bad step reports that
    /// were ignored), for the record.
    pub note: Option<String>,
}

impl Evaluation {
    /// An evaluation without extra metrics or steps.
    pub fn new(objective: f64, report: Option<f64>, cost_seconds: f64) -> Self {
        Self {
            objective,
            report,
            cost_seconds,
            metrics: BTreeMap::new(),
            steps: Vec::new(),
            stopped_at: None,
            note: None,
        }
    }

    /// True when the training ran to its end (it was not stopped early).
    pub fn is_complete(&self) -> bool {
        self.stopped_at.is_none()
    }
}

/// Where and as what an evaluation runs, for evaluators that run programs.
#[derive(Debug, Clone, Default)]
pub struct EvalContext {
    /// 0-based index of the proposal in its search (unique within a run).
    pub index: usize,
    /// A folder that belongs to this evaluation alone (logs, result file), if the run has one.
    pub workdir: Option<PathBuf>,
    /// True when a killed run is resumed and this evaluation may have run before: an evaluator
    /// may take a complete result left in `workdir` instead of running again.
    pub resumed: bool,
    /// True when the search may stop the training early, so that steps are worth reporting
    /// even where measuring them costs time (the built-in trainer validates after each epoch
    /// only then).
    pub steps_wanted: bool,
}

/// What evaluating an architecture gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The architecture was evaluated.
    Evaluated(Evaluation),
    /// The evaluator cannot evaluate this architecture (e.g. it is absent from a table). It costs
    /// no query; the searcher is told and moves on.
    NotEvaluable,
    /// The evaluation was attempted and failed; the reason is kept.
    Failed(String),
}

/// Why an evaluator's state could not be saved or restored.
pub type StateError = Box<dyn std::error::Error + Send + Sync>;

/// A stateful evaluator's state after an evaluation, as the run store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluatorState {
    /// What the state is of ([`Evaluator::state_name`]).
    pub name: String,
    /// The state, as [`Evaluator::save_state`] wrote it.
    pub data: Vec<u8>,
}

/// Turns architectures of space `S` into [`Outcome`]s.
///
/// Most evaluators are stateless: an outcome depends on the architecture alone. A stateful one
/// (the weight-sharing supernet) gives outcomes that depend on the evaluations before; it names
/// its state with [`Self::state_name`], the driver stores [`Self::save_state`] with each of its
/// outcomes, and a resumed run puts the state back with [`Self::load_state`] (see
/// [`crate::study::engine::restore_evaluator`]).
pub trait Evaluator<S: SearchSpace>: Send + Sync {
    /// Name of the objective, e.g. `cifar10_valid_valid_acc`.
    fn objective_name(&self) -> &str;
    /// Name of the reported metric, e.g. `cifar10_test_acc`.
    fn report_name(&self) -> &str;
    /// Evaluates one architecture.
    fn evaluate(&self, space: &S, arch: &S::Arch) -> Outcome;
    /// Evaluates one architecture as part of a run: `ctx` gives a folder of its own. The driver
    /// calls this, possibly from several threads at once. By default it is [`Self::evaluate`].
    fn evaluate_in(&self, space: &S, arch: &S::Arch, ctx: &EvalContext) -> Outcome {
        let _ = ctx;
        self.evaluate(space, arch)
    }
    /// The steps this evaluator reports (see [`fidelity`]), or `None` when it reports only a
    /// training's end (the default).
    fn fidelities(&self) -> Option<Fidelities> {
        None
    }
    /// The mean cost of a whole training in seconds, when it is known before searching (a
    /// table's cost column, with or without fidelities; the official NAS-Bench-101 file): the
    /// unit of budgets in full trainings.
    fn full_training_cost(&self) -> Option<f64> {
        None
    }
    /// True when steps are reported while a training runs for minutes or hours (a command,
    /// a cluster job), so that the driver records each as it comes; false for evaluators
    /// whose steps come at once (a table).
    fn live_steps(&self) -> bool {
        false
    }
    /// As [`Self::evaluate_in`], reporting each step to `monitor` and ending the training when
    /// it answers [`Decision::Stop`]. By default the evaluation reports no step.
    fn evaluate_steps(
        &self,
        space: &S,
        arch: &S::Arch,
        ctx: &EvalContext,
        monitor: &dyn StepMonitor,
    ) -> Outcome {
        let _ = monitor;
        self.evaluate_in(space, arch, ctx)
    }
    /// For benchmarks that know every answer: how the reported values of all evaluable
    /// architectures are distributed, for ranks and regret. `None` for real evaluators.
    fn reference(&self) -> Option<&Reference> {
        None
    }
    /// For benchmarks that can evaluate only a known set of architectures (a table): the
    /// canonical keys of that set. Searchers may then rank the set with a predictor instead of
    /// generating candidates blind. `None` (the default) for evaluators that can evaluate
    /// anything.
    fn known_keys(&self) -> Option<Box<dyn Iterator<Item = &str> + '_>> {
        None
    }
    /// A copy whose own random draws (e.g. which repeat of a measured run a query returns)
    /// come from `seed`, so that searches running in parallel stay reproducible. `None` for
    /// evaluators without randomness.
    fn reseed(&self, _seed: u64) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
    /// Why the evaluator cannot evaluate anything now (e.g. its cluster cannot be reached), or
    /// `None`. The driver asks after each finished evaluation: an unavailable evaluator stops
    /// the run with [`crate::study::engine::DriveError::Unavailable`] before that outcome is recorded,
    /// so a resumed run evaluates it again instead of counting it as a failed architecture.
    fn unavailable(&self) -> Option<String> {
        None
    }
    /// Stops the evaluations still running, for a run that ends early on a stop policy (e.g.
    /// a broken training command): their results would not be recorded anyway. Nothing by
    /// default (table lookups end at once).
    fn stop_running(&self) {}
    /// For stateful evaluators: the name their state is stored under (e.g. `supernet`).
    /// `None`, the default, for evaluators whose outcomes depend on the architecture alone.
    /// A stateful evaluator is driven by one worker.
    fn state_name(&self) -> Option<&str> {
        None
    }
    /// The state after the evaluations so far, as bytes that [`Self::load_state`] reads.
    fn save_state(&self) -> Result<Vec<u8>, StateError> {
        Err("this evaluator keeps no state".into())
    }
    /// Replaces the state by one [`Self::save_state`] wrote. A state this evaluator cannot
    /// continue exactly (another format, configuration or dataset) is refused with the reason.
    fn load_state(&self, data: &[u8]) -> Result<(), StateError> {
        let _ = data;
        Err("this evaluator keeps no state".into())
    }
}
