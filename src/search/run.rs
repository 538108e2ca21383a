//! What a search produced: its paid queries ([`QueryRecord`]), the run ([`SearchRun`]) and
//! why it stopped ([`StopReason`]).

use super::ProposalInfo;
use crate::evaluator::Evaluation;

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

/// How a told trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    /// Its training ran to the end.
    Complete,
    /// Its training was stopped early; its objective is that of the step it reached.
    Pruned,
    /// The evaluation failed.
    Failed,
}

impl TrialState {
    /// The state's name (as Python's `Study` gives it).
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Complete => "complete",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
        }
    }
}

impl<A> QueryRecord<A> {
    /// How the trial ended.
    pub fn state(&self) -> TrialState {
        match &self.result {
            Ok(e) if e.is_complete() => TrialState::Complete,
            Ok(_) => TrialState::Pruned,
            Err(_) => TrialState::Failed,
        }
    }
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
