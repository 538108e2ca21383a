//! `seminas bench --clairvoyant STEP`: its settings and the table's answers it reads (see
//! [`crate::search::Clairvoyant`]).

use std::collections::HashMap;
use std::sync::Arc;

use super::{BudgetUnit, CompareConfig, CompareError};
use crate::evaluator::{Evaluator, Outcome};
use crate::settings::SettingError;
use crate::space::SearchSpace;

/// Refuses a clairvoyant where it means nothing: budgets in queries, or beside a pruner.
pub(super) fn validate(config: &CompareConfig) -> Result<(), SettingError> {
    let Some(step) = config.clairvoyant else {
        return Ok(());
    };
    let refuse = |allowed: &str| SettingError {
        setting: "clairvoyant",
        value: step.to_string(),
        allowed: allowed.to_string(),
    };
    if config.unit != BudgetUnit::Trainings {
        return Err(refuse("only with --budget-trainings (it stops trainings)"));
    }
    if config.prune.is_some() {
        return Err(refuse(
            "only with --prune auto (it takes the place of the algorithms' stop rules)",
        ));
    }
    Ok(())
}

/// A clairvoyant's step and every evaluable architecture's whole-training objective by key.
pub(super) type Clairvoyance = (u64, Arc<HashMap<String, f64>>);

/// The whole-training objective of every architecture of `pool` (a table's), by key, for
/// [`crate::search::Clairvoyant`] stopping at `step`, which must be one of the table's lower fidelities.
pub(super) fn whole_objectives<S: SearchSpace, E: Evaluator<S>>(
    space: &S,
    evaluator: &E,
    pool: Option<&[S::Arch]>,
    step: u64,
) -> Result<Arc<HashMap<String, f64>>, CompareError> {
    let fid = evaluator.fidelities();
    let lower = fid
        .as_ref()
        .is_some_and(|f| f.fixed && f.steps.contains(&step) && step < f.max_step());
    if !lower {
        let steps = fid.map_or_else(
            || "none".to_string(),
            |f| {
                f.steps
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        return Err(CompareError::NoSuchStep { step, steps });
    }
    let pool = pool.ok_or(CompareError::NotABenchmark)?;
    let mut whole = HashMap::with_capacity(pool.len());
    for a in pool {
        if let Outcome::Evaluated(e) = evaluator.evaluate(space, a)
            && e.objective.is_finite()
        {
            whole.insert(space.key(a), e.objective);
        }
    }
    Ok(Arc::new(whole))
}
