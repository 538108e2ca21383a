//! The states a run store records, as types (the database holds their names).

use serde::Serialize;

/// Whether a stored run ended (the `status` of the run's meta table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Started and not ended: a live process works on it, or it was killed.
    Running,
    /// Its search ended normally (`seminas resume --extend` can add queries).
    Finished,
}

impl RunStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
        }
    }

    /// The status a stored name stands for (`None` for an unknown name).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "running" => Some(RunStatus::Running),
            "finished" => Some(RunStatus::Finished),
            _ => None,
        }
    }
}

/// How a stored trial's evaluation ended (its `status` in the database, `show` and the
/// dashboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// It has an objective (complete, or stopped early at a step: see `stopped_at`).
    Evaluated,
    /// The evaluator failed: the trial has a reason and no objective.
    Failed,
    /// The architecture cannot be evaluated (not in the table): no query was paid.
    NotEvaluable,
}

impl TrialStatus {
    /// The name stored in the database and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialStatus::Evaluated => "evaluated",
            TrialStatus::Failed => "failed",
            TrialStatus::NotEvaluable => "not_evaluable",
        }
    }

    /// The status a stored name stands for (`None` for an unknown name).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "evaluated" => Some(TrialStatus::Evaluated),
            "failed" => Some(TrialStatus::Failed),
            "not_evaluable" => Some(TrialStatus::NotEvaluable),
            _ => None,
        }
    }
}

impl std::fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for s in [RunStatus::Running, RunStatus::Finished] {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        for s in [
            TrialStatus::Evaluated,
            TrialStatus::Failed,
            TrialStatus::NotEvaluable,
        ] {
            assert_eq!(TrialStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(RunStatus::parse("done"), None);
        assert_eq!(TrialStatus::parse("complete"), None);
    }
}
