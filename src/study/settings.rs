//! What a study is made with: the algorithm and its settings, the budget, the direction, the
//! early stopping of trainings and the stop policy.

use crate::evaluator::{Fidelities, Pruner};
use crate::search::{Algo, AlgoConfig};
use crate::settings::{SettingError, number, training_budget};
use crate::study::engine::Pruning;

/// Whether the objective is maximised or minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Larger is better (accuracy).
    #[default]
    Maximize,
    /// Smaller is better (error, loss, latency).
    Minimize,
}

/// A budget in training time (see [`StudySettings::time_budget`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeBudget {
    /// Seconds of the evaluations' recorded costs.
    Seconds(f64),
    /// Whole trainings' worth.
    Trainings(f64),
}

/// The settings of a study.
#[derive(Debug, Clone)]
pub struct StudySettings {
    /// The search algorithm.
    pub algo: Algo,
    /// The algorithms' settings.
    pub config: AlgoConfig,
    /// Query budget: evaluations of distinct architectures.
    pub queries: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Trials evaluated at once (see the module documentation).
    pub workers: usize,
    /// Maximise or minimise the objective.
    pub direction: Direction,
    /// Training-time budget, in seconds of the evaluations' recorded costs (`None`: queries
    /// only).
    pub budget_seconds: Option<f64>,
    /// Early stopping of trainings that report steps: `None` for the automatic choice (with
    /// a training-time budget, the searcher's own rule where it has one: SemiNAS-Ens), or a
    /// pruner for every proposal ([`Pruner::None`]: never).
    pub prune: Option<Pruner>,
    /// The budget the searcher plans its rounds for when it is not `queries` (with a
    /// training-time budget: the whole trainings it holds).
    pub plan: Option<usize>,
    /// When [`super::Study::optimize`] gives up early on failing evaluations.
    pub stop: StopPolicy,
}

/// When [`super::Study::optimize`] gives up early on failing evaluations, instead of spending the
/// budget on a broken training command. Every finished evaluation stays recorded, so a
/// stored study can be resumed once the cause is fixed. An evaluation whose result lacks the
/// reported metric always stops it (no retry fixes a metric the command never writes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StopPolicy {
    /// Stop when the first N evaluations of this call all failed.
    pub max_failures: Option<usize>,
}

/// Why [`super::Study::optimize`] stopped early (see [`StopPolicy`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// Query `query`'s result lacks the reported metric: `reason` names those it has.
    MissingReport {
        /// The 1-based query.
        query: usize,
        /// The evaluator's message.
        reason: String,
    },
    /// The first `count` evaluations all failed ([`StopPolicy::max_failures`]).
    AllFailed {
        /// How many.
        count: usize,
        /// The last one's failure.
        last: String,
    },
}

impl StudySettings {
    /// The best available algorithm with its defaults, one worker, maximising.
    pub fn new(queries: usize, seed: u64) -> Self {
        Self {
            algo: Algo::best_available(),
            config: AlgoConfig::default(),
            queries,
            seed,
            workers: 1,
            direction: Direction::Maximize,
            budget_seconds: None,
            prune: None,
            plan: None,
            stop: StopPolicy::default(),
        }
    }

    /// Sets a budget in training time: `Seconds`, or `Trainings` whole trainings of
    /// `full_cost` seconds each (a table's cost column gives it). `queries`, when given, stays
    /// a limit beside it and is what the searcher plans its rounds for; otherwise there is no
    /// query limit and it plans for the whole trainings the budget holds (100 when the cost of
    /// a whole training is unknown).
    pub fn time_budget(
        &mut self,
        budget: TimeBudget,
        queries: Option<usize>,
        full_cost: Option<f64>,
    ) -> Result<(), SettingError> {
        let full_cost = full_cost.filter(|c| *c > 0.0);
        let seconds = match budget {
            TimeBudget::Seconds(s) => s,
            TimeBudget::Trainings(n) => {
                let cost = full_cost.ok_or_else(|| SettingError {
                    setting: "budget-trainings",
                    value: number(n),
                    allowed: "given with the cost of a whole training, which a table's cost \
                              column gives (--cost COL); else give seconds (--budget-seconds)"
                        .into(),
                })?;
                training_budget(n, cost)?
            }
        };
        self.budget_seconds = Some(seconds);
        self.queries = queries.unwrap_or(usize::MAX);
        self.plan = Some(match (queries, full_cost) {
            (Some(q), _) => q,
            (None, Some(c)) => ((seconds / c).round() as usize).max(1),
            (None, None) => 100,
        });
        Ok(())
    }

    /// The budget searchers plan their rounds for.
    pub fn plan_budget(&self) -> usize {
        self.plan.unwrap_or(self.queries)
    }

    /// How trainings that report `fidelities` are stopped early.
    pub fn pruning(&self, fidelities: Option<Fidelities>) -> Pruning {
        Pruning {
            fidelities,
            pruner: self.prune.clone(),
            searcher_rules: self.prune.is_none() && self.budget_seconds.is_some(),
            seed: self.seed,
        }
    }

    /// What a stored study records of its settings, to recognise them when reopened.
    pub(super) fn stored_args(&self, space: &str) -> Vec<String> {
        let mut args = vec![
            "study".to_string(),
            format!("--space={space}"),
            format!("--algo={}", self.algo),
            format!("--queries={}", self.queries),
            format!("--seed={}", self.seed),
            format!("--workers={}", self.workers.max(1)),
        ];
        if self.direction == Direction::Minimize {
            args.push("--minimize".into());
        }
        if let Some(b) = self.budget_seconds {
            args.push(format!("--budget-seconds={b}"));
        }
        if let Some(p) = &self.prune {
            args.push(format!("--prune={}", p.text()));
        }
        args
    }
}
