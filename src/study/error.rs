//! Why a study refused a call.

use std::path::PathBuf;

use super::Halt;
use crate::space::SpaceError;
use crate::store::StoreError;
use crate::study::engine::{DriveError, TellError};

/// Why a study refused a call.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The run store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The search could not go on (journal, replay, workdir).
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// No trial has this number.
    #[error("there is no trial {0}")]
    UnknownTrial(usize),
    /// The trial was not handed out by [`super::Study::ask`].
    #[error("trial {0} was not asked for")]
    NotAsked(usize),
    /// The trial was told already.
    #[error("trial {0} was told already")]
    AlreadyTold(usize),
    /// An objective that is not a finite number.
    #[error("trial {number}: the objective must be a finite number, not {value}")]
    NotFinite {
        /// The trial.
        number: usize,
        /// The value.
        value: f64,
    },
    /// A trial told stopped that reported no step.
    #[error("trial {0} reported no step, so it cannot be told stopped (tell its result)")]
    NoStep(usize),
    /// A bad architecture (enqueued or warm-started).
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// A stored study reopened with other settings.
    #[error(
        "{dir}: the stored study was made with {stored:?}, not {now:?} (open it with the \
         same space and settings, or use another folder)"
    )]
    Mismatch {
        /// The study's folder.
        dir: PathBuf,
        /// The stored settings.
        stored: Vec<String>,
        /// The settings given now.
        now: Vec<String>,
    },
    /// A stored study's record of its enqueued architectures and warm-start pairs cannot be
    /// read (the message names the folder).
    #[error("{0}")]
    StoredInputs(String),
    /// A warm-start file that cannot be read.
    #[error("{path}:{line}: {message}")]
    WarmStart {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// [`super::Study::optimize`] stopped early on its [`super::StopPolicy`].
    #[error("{}", match .0 {
        Halt::MissingReport { query, reason } => format!("query {query}: {reason}"),
        Halt::AllFailed { count, last } =>
            format!("the first {count} evaluations all failed; the last: {last}"),
    })]
    Halted(Halt),
    /// Every evaluation of a finished study failed.
    #[error(
        "no architecture was evaluated successfully: all {count} evaluations failed (the first: {first})"
    )]
    AllFailed {
        /// How many.
        count: usize,
        /// The first one's failure.
        first: String,
    },
    /// The results of a stored study (`queries.jsonl`, `summary.json`) could not be written.
    #[error("cannot write results to {dir}: {source}")]
    Results {
        /// The study's folder.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `queries.jsonl` could not be written as the study went (every result is in the run
    /// store all the same).
    #[error("{path}: cannot write the query log: {source}")]
    Log {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

pub(super) fn tell_error(number: usize, e: TellError) -> StudyError {
    match e {
        TellError::Unknown => StudyError::UnknownTrial(number),
        TellError::NotAsked => StudyError::NotAsked(number),
        TellError::AlreadyTold => StudyError::AlreadyTold(number),
    }
}
