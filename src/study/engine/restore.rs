//! Putting a stateful evaluator's state back before a stored run is resumed.

use super::{DriveError, Replay};
use crate::evaluator::Evaluator;
use crate::space::SearchSpace;

/// What [`restore_evaluator`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// Nothing to restore: the evaluator keeps no state, or the run has no outcome yet.
    Nothing,
    /// The evaluator continues from its state after the outcome of proposal `after`, the
    /// run's newest.
    State {
        /// 0-based index of the proposal whose outcome the state follows.
        after: usize,
    },
    /// The run holds outcomes but no state that follows the newest (a run stored by a seminas
    /// that did not save evaluator states): the evaluator starts afresh, so the outcomes still
    /// to come differ from those of an uninterrupted run.
    Missing {
        /// The stored outcomes.
        outcomes: usize,
        /// The proposal the newest stored state follows, if there is one.
        stored_after: Option<usize>,
    },
}

/// Before resuming `replay`: puts back the state a stateful `evaluator` had after the run's
/// newest outcome. `stored` is the newest stored state of [`Evaluator::state_name`] with the
/// index of the proposal whose outcome it was written with (the run store's
/// `evaluator_state`). The driver writes each outcome with the state after it in one step, so
/// the newest state follows the newest outcome unless the run stored none (see
/// [`Restored::Missing`]). A state the evaluator refuses is an error.
pub fn restore_evaluator<S, E>(
    evaluator: &E,
    replay: &Replay,
    stored: Option<(usize, Vec<u8>)>,
) -> Result<Restored, DriveError>
where
    S: SearchSpace,
    E: Evaluator<S> + ?Sized,
{
    let Some(name) = evaluator.state_name() else {
        return Ok(Restored::Nothing);
    };
    let Some(&newest) = replay.outcomes.keys().max() else {
        return Ok(Restored::Nothing);
    };
    match stored {
        Some((after, data)) if after == newest => {
            evaluator
                .load_state(&data)
                .map_err(|source| DriveError::RestoreState {
                    name: name.to_string(),
                    source,
                })?;
            Ok(Restored::State { after })
        }
        other => Ok(Restored::Missing {
            outcomes: replay.outcomes.len(),
            stored_after: other.map(|(after, _)| after),
        }),
    }
}
