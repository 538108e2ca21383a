//! What a search run produces and the limits it runs under: the paid queries
//! ([`QueryRecord`]), the run ([`SearchRun`]), why it stopped ([`StopReason`]) and its
//! [`Budget`].

use crate::evaluator::Evaluation;
use crate::search::ProposalInfo;
use crate::settings::{MAX_BUDGET_SECONDS, MAX_WORKERS, SettingError, in_range, number};

/// One paid query.
#[derive(Debug, Clone)]
pub struct QueryRecord<A> {
    /// 1-based query number.
    pub n: usize,
    /// 0-based index of the proposal that made the query (its workdir's name in a run).
    pub index: usize,
    /// The architecture.
    pub arch: A,
    /// Its canonical key.
    pub key: String,
    /// The evaluation, or why it failed.
    pub result: Result<Evaluation, String>,
    /// What the searcher said of the proposal (origin, predicted objective).
    pub info: ProposalInfo,
    /// When its evaluation started and finished (Unix seconds), when known.
    pub started_unix: Option<f64>,
    /// See `started_unix`.
    pub finished_unix: Option<f64>,
}

/// Why a search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The query budget (or the training-time budget) was spent.
    Budget,
    /// The searcher had nothing more to propose.
    Exhausted,
    /// Too many proposals in a row cost nothing (all known or not evaluable).
    Stalled,
}

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

/// Everything a finished search produced.
#[derive(Debug, Clone)]
pub struct SearchRun<A> {
    /// Paid queries in order.
    pub records: Vec<QueryRecord<A>>,
    /// Proposals that cost nothing because they were known already.
    pub repeats: usize,
    /// Proposals that were not evaluable.
    pub not_evaluable: usize,
    /// Why the search stopped.
    pub stop: StopReason,
}

impl<A> SearchRun<A> {
    /// The best successful query by objective (the earliest among equals), among whole
    /// trainings (a training stopped early is never the best).
    pub fn best(&self) -> Option<&QueryRecord<A>> {
        let mut best: Option<&QueryRecord<A>> = None;
        for r in &self.records {
            if let Some(e) = r.complete()
                && best.is_none_or(|b| e.objective > b.result.as_ref().unwrap().objective)
            {
                best = Some(r);
            }
        }
        best
    }

    /// Training seconds of the queries so far (their recorded costs).
    pub fn cost_seconds(&self) -> f64 {
        self.records
            .iter()
            .filter_map(|r| r.result.as_ref().ok())
            .map(|e| e.cost_seconds)
            .sum()
    }

    /// Queries whose training was stopped early.
    pub fn stopped(&self) -> usize {
        self.records
            .iter()
            .filter(|r| r.result.as_ref().is_ok_and(|e| !e.is_complete()))
            .count()
    }
}

impl<A> QueryRecord<A> {
    /// The evaluation, when the query trained to its end (not failed, not stopped early).
    pub fn complete(&self) -> Option<&Evaluation> {
        self.result.as_ref().ok().filter(|e| e.is_complete())
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
