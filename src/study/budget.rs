//! The limits a search runs under.

use crate::settings::{MAX_BUDGET_SECONDS, MAX_WORKERS, SettingError, in_range, number};

/// Limits of a search.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Number of queries (paid evaluations).
    pub queries: usize,
    /// Evaluations running at once.
    pub workers: usize,
    /// Stop after this many consecutive proposals that cost nothing.
    pub max_free_proposals: usize,
    /// Training time: no new evaluation starts once the told ones cost this many seconds
    /// (the evaluations' recorded costs; the last may end past it). `None`: no limit.
    pub seconds: Option<f64>,
}

impl Budget {
    /// A budget of `queries` queries with one worker and the default stall limit (1,000,000).
    pub fn queries(queries: usize) -> Self {
        Self {
            queries,
            workers: 1,
            max_free_proposals: 1_000_000,
            seconds: None,
        }
    }

    /// A budget of `seconds` of training (and no query limit), with one worker.
    pub fn seconds(seconds: f64) -> Self {
        Self {
            seconds: Some(seconds),
            ..Self::queries(usize::MAX)
        }
    }
}

impl Budget {
    /// Checks the number of queries, workers and the stall limit.
    pub fn validate(&self) -> Result<(), SettingError> {
        in_range("queries", self.queries, 1, usize::MAX)?;
        in_range("workers", self.workers, 1, MAX_WORKERS)?;
        in_range("max-free-proposals", self.max_free_proposals, 1, usize::MAX)?;
        if let Some(b) = self.seconds
            && !(b.is_finite() && b > 0.0 && b <= MAX_BUDGET_SECONDS)
        {
            return Err(SettingError {
                setting: "budget-seconds",
                value: number(b),
                allowed: format!("a number of seconds above 0 and at most {MAX_BUDGET_SECONDS:e}"),
            });
        }
        Ok(())
    }
}
