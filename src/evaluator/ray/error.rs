//! What can go wrong talking to a Ray head.

use std::io;
use std::time::Duration;

use super::JobStatus;

/// Everything that can go wrong talking to a Ray head. Every message names the head's address
/// and the submission id concerned (`-` for requests about no particular job).
#[derive(Debug, thiserror::Error)]
pub enum RayError {
    /// The address is not `http://HOST:PORT`.
    #[error(
        "invalid Ray address {address:?}: {reason} (expected http://HOST:PORT, \
         e.g. http://127.0.0.1:8265, the head's dashboard)"
    )]
    BadAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The submission id cannot be used (it goes into URL paths unescaped).
    #[error(
        "invalid Ray submission id {submission_id:?} for {address}: use 1 to 128 ASCII letters, \
         digits, '-', '_' or '.'"
    )]
    BadSubmissionId {
        /// The head's address.
        address: String,
        /// The id as given.
        submission_id: String,
    },
    /// No connection could be made (or it broke) after every retry.
    #[error(
        "Ray head {address} unreachable (job {submission_id}) after {attempts} attempts: {source}"
    )]
    Unreachable {
        /// The head's address.
        address: String,
        /// The job concerned.
        submission_id: String,
        /// How many times the request was tried.
        attempts: u32,
        /// The last connection error.
        #[source]
        source: io::Error,
    },
    /// A job with this submission id already exists on the head (usually: submitted before a
    /// resume); follow it instead of submitting again.
    #[error("job {submission_id} already exists on Ray head {address}")]
    AlreadyExists {
        /// The head's address.
        address: String,
        /// The job concerned.
        submission_id: String,
    },
    /// The head does not know this job.
    #[error("job {submission_id} not found on Ray head {address}")]
    NotFound {
        /// The head's address.
        address: String,
        /// The job concerned.
        submission_id: String,
    },
    /// The job existed and then disappeared (deleted, or the head restarted) before it finished.
    #[error(
        "job {submission_id} vanished from Ray head {address} (last seen {last_status}) \
         before it finished"
    )]
    Vanished {
        /// The head's address.
        address: String,
        /// The job concerned.
        submission_id: String,
        /// The last state seen before it disappeared.
        last_status: JobStatus,
    },
    /// The job did not finish in time; a stop was requested.
    #[error(
        "job {submission_id} on Ray head {address} timed out after {:.1} s{}",
        .timeout.as_secs_f64(), stop_note(.stop_error)
    )]
    Timeout {
        /// The head's address.
        address: String,
        /// The job concerned.
        submission_id: String,
        /// The time limit that passed.
        timeout: Duration,
        /// Why the stop request failed, if it did.
        stop_error: Option<String>,
    },
    /// The head answered with an HTTP status this operation does not expect.
    #[error(
        "Ray head {address} answered {operation} of job {submission_id} with HTTP {status}: {body}"
    )]
    Http {
        /// The head's address.
        address: String,
        /// The job concerned.
        submission_id: String,
        /// What was asked (`submit`, `status`, ...).
        operation: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The start and end of the answer's body.
        body: String,
    },
    /// The answer could not be understood (not HTTP, truncated, malformed JSON, missing field).
    #[error(
        "Ray head {address} sent a malformed answer to {operation} of job {submission_id}: {detail}"
    )]
    BadResponse {
        /// The head's address.
        address: String,
        /// The job concerned.
        submission_id: String,
        /// What was asked (`submit`, `status`, ...).
        operation: &'static str,
        /// What was wrong with it.
        detail: String,
    },
}

fn stop_note(stop_error: &Option<String>) -> String {
    match stop_error {
        None => " (stop requested)".to_string(),
        Some(e) => format!(" (and could not be stopped: {e})"),
    }
}
