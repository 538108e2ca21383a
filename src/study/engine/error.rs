//! Why a search could not go on.

use std::path::PathBuf;

use super::JournalError;
use crate::evaluator::StateError;

/// Why a search could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The journal could not record a step.
    #[error("cannot record the run: {0}")]
    Journal(#[source] JournalError),
    /// Replaying a stored run proposed something other than what was stored.
    #[error(
        "cannot resume: proposal {index} is {proposed} now but the run stored {stored} \
         (the run's settings, data or seminas version differ from the original run)"
    )]
    Diverged {
        /// 0-based proposal index.
        index: usize,
        /// The stored key.
        stored: String,
        /// The key proposed now.
        proposed: String,
    },
    /// A stateful evaluator was given several workers.
    #[error(
        "the {name} evaluator's results depend on the order of its evaluations: it runs with \
         one worker, not {workers}"
    )]
    StatefulParallel {
        /// The evaluator's state name.
        name: String,
        /// The workers asked for.
        workers: usize,
    },
    /// A stateful evaluator could not save its state after an evaluation (the evaluation is
    /// not recorded, so a resumed run makes it again from the stored state).
    #[error("cannot save the evaluator's state: {0}")]
    SaveState(#[source] StateError),
    /// The stored state of a stateful evaluator was refused.
    #[error("cannot resume: the stored {name} state cannot be restored: {source}")]
    RestoreState {
        /// The evaluator's state name.
        name: String,
        /// Why.
        #[source]
        source: StateError,
    },
    /// The evaluator cannot evaluate anything now (e.g. its cluster is unreachable); the
    /// evaluation that found out is not recorded.
    #[error(
        "the evaluator is unavailable: {0}; the evaluations in flight are not recorded and run \
         again when the run is resumed"
    )]
    Unavailable(String),
    /// The run's stop policy ended it (see [`crate::study::StopPolicy`]); every finished
    /// evaluation is recorded.
    #[error("{0}")]
    Halted(String),
    /// A setting of the budget is out of range.
    #[error(transparent)]
    Setting(crate::settings::SettingError),
    /// A workdir could not be created.
    #[error("cannot create {path}: {source}")]
    Workdir {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
