//! The user's own training command as one evaluator, wherever it runs: here
//! ([`CommandEvaluator`]) or as Ray jobs ([`RayEvaluator`]).

use super::command::CommandEvaluator;
use super::ray_jobs::RayEvaluator;
use super::{EvalContext, Evaluator, Fidelities, Outcome, StepMonitor};
use crate::space::SearchSpace;

/// The user's command, run here or on a Ray cluster.
pub enum External {
    /// Runs here.
    Local(CommandEvaluator),
    /// Runs as Ray jobs.
    Ray(Box<RayEvaluator>),
}

impl<S: SearchSpace> Evaluator<S> for External {
    fn objective_name(&self) -> &str {
        "objective"
    }
    fn report_name(&self) -> &str {
        match self {
            External::Local(e) => Evaluator::<S>::report_name(e),
            External::Ray(e) => Evaluator::<S>::report_name(e.as_ref()),
        }
    }
    fn evaluate(&self, space: &S, arch: &S::Arch) -> Outcome {
        match self {
            External::Local(e) => e.evaluate(space, arch),
            External::Ray(e) => e.evaluate(space, arch),
        }
    }
    fn evaluate_in(&self, space: &S, arch: &S::Arch, ctx: &EvalContext) -> Outcome {
        match self {
            External::Local(e) => e.evaluate_in(space, arch, ctx),
            External::Ray(e) => e.evaluate_in(space, arch, ctx),
        }
    }
    fn unavailable(&self) -> Option<String> {
        match self {
            External::Local(e) => Evaluator::<S>::unavailable(e),
            External::Ray(e) => Evaluator::<S>::unavailable(e.as_ref()),
        }
    }
    fn evaluate_steps(
        &self,
        space: &S,
        arch: &S::Arch,
        ctx: &EvalContext,
        monitor: &dyn StepMonitor,
    ) -> Outcome {
        match self {
            External::Local(e) => e.evaluate_steps(space, arch, ctx, monitor),
            External::Ray(e) => e.evaluate_steps(space, arch, ctx, monitor),
        }
    }
    fn fidelities(&self) -> Option<Fidelities> {
        match self {
            External::Local(e) => Evaluator::<S>::fidelities(e),
            External::Ray(e) => Evaluator::<S>::fidelities(e.as_ref()),
        }
    }
    fn stop_running(&self) {
        match self {
            External::Local(e) => Evaluator::<S>::stop_running(e),
            External::Ray(e) => Evaluator::<S>::stop_running(e.as_ref()),
        }
    }
    fn live_steps(&self) -> bool {
        match self {
            External::Local(e) => Evaluator::<S>::live_steps(e),
            External::Ray(e) => Evaluator::<S>::live_steps(e.as_ref()),
        }
    }
}
