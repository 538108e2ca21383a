//! Comparisons of search algorithms on a benchmark: every algorithm x budget x seed, in
//! parallel, summarised as the paper-style table and as best-so-far curves.
//!
//! Each (algorithm, budget, seed) is its own search, since some algorithms plan their rounds
//! from the budget; a run's random choices depend only on its seed, so results do not depend on
//! how runs are spread over threads.
//!
//! [`runs_file`] reads and writes the per-run CSV (`runs.csv`), which is also the journal that
//! lets a killed `seminas bench --out DIR` continue from the runs it finished.

pub mod bench_dir;
mod clairvoyance;
pub mod combine;
pub mod output;
pub mod runs_file;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::stats::mean_std;

use crate::evaluator::{Evaluator, Pruner};
use crate::search::{Algo, AlgoConfig, Clairvoyant};
use crate::settings::{MAX_RUNS, MAX_SEEDS, SettingError, in_range};
use crate::space::SearchSpace;
use crate::study::{QueryRecord, SearchRun, Study, StudySettings};
use clairvoyance::{Clairvoyance, whole_objectives};

/// Most entries preallocated for a run's curve: budgets are users' values.
const PREALLOCATE: usize = 4096;

/// What a comparison's budgets count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BudgetUnit {
    /// Queries: evaluations of distinct architectures.
    #[default]
    Queries,
    /// Full trainings' worth of training time: a budget `B` is `B` times the mean cost of a
    /// whole training (the evaluator's [`crate::evaluator::Evaluator::full_training_cost`]).
    Trainings,
}

impl BudgetUnit {
    /// The unit's name in files and tables.
    pub fn name(self) -> &'static str {
        match self {
            BudgetUnit::Queries => "queries",
            BudgetUnit::Trainings => "trainings",
        }
    }
}

/// What to compare.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// Algorithms, in table order.
    pub algos: Vec<Algo>,
    /// Query budgets, in table order.
    pub budgets: Vec<usize>,
    /// Seeds used: `first_seed .. first_seed + seeds`.
    pub seeds: u64,
    /// The first seed.
    pub first_seed: u64,
    /// Settings of the algorithms.
    pub algo_config: AlgoConfig,
    /// What the budgets count.
    pub unit: BudgetUnit,
    /// Early stopping: `None` for the automatic choice (the searcher's own rules with budgets
    /// in trainings, none with queries), or a pruner for every algorithm.
    pub prune: Option<Pruner>,
    /// With budgets in trainings on a table with fidelities: stop at this step exactly the
    /// trainings that will not beat the best whole training so far (read from the table;
    /// [`crate::search::Clairvoyant`]), in place of the algorithms' own rules. A bound on
    /// what early stopping at that step is worth, not a search.
    pub clairvoyant: Option<u64>,
}

/// One finished search of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// Algorithm name.
    pub algo: String,
    /// The budget it had.
    pub budget: usize,
    /// Its seed.
    pub seed: u64,
    /// Queries it spent (less than the budget only if it ran out of proposals).
    pub queries: usize,
    /// Canonical key of the best architecture by objective.
    pub best_key: String,
    /// Its objective.
    pub objective: f64,
    /// Its reported value.
    pub report: f64,
    /// Table optimum minus `report`.
    pub regret: f64,
    /// Rank of `report` among all architectures (1 = best).
    pub rank: usize,
    /// True when the found architecture's reported value is the table's best (rank 1, regret 0).
    pub hit: bool,
    /// Wall time of the search in seconds (building the searcher included); NaN when unknown
    /// (runs read from a `runs.csv` written before this column existed).
    pub seconds: f64,
    /// After each query, the reported value of the best-by-objective architecture so far.
    #[serde(skip)]
    pub curve: Vec<f64>,
    /// What `budget` counts.
    pub unit: BudgetUnit,
    /// Training seconds of the queries that ended within the budget.
    pub cost: f64,
    /// Queries trained to their end (not stopped early) within the budget.
    pub complete: usize,
    /// With budgets in trainings: the best-so-far curve as change points (training time spent
    /// in full trainings, reported value of the best whole training).
    #[serde(skip)]
    pub cost_curve: Vec<(f64, f64)>,
}

/// One row of the comparison table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Algorithm name.
    pub algo: String,
    /// Query budget.
    pub queries: usize,
    /// Number of seeds.
    pub seeds: usize,
    /// Mean reported value of the found architectures.
    pub mean_report: f64,
    /// Sample standard deviation of the reported values.
    pub std_report: f64,
    /// Mean regret against the table optimum.
    pub mean_regret: f64,
    /// Mean rank of the found architectures among all.
    pub mean_rank: f64,
    /// Share of the runs whose found architecture has the table's best reported value.
    pub hit_rate: f64,
    /// Mean wall seconds of one search (JSON `null` when the runs did not record it).
    pub mean_seconds: f64,
}

/// Mean best-so-far curve of one algorithm (at its largest budget), with a band.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// Algorithm name.
    pub algo: String,
    /// Mean over seeds after 1, 2, ... queries (or at each point of `x`).
    pub mean: Vec<f64>,
    /// Standard error of that mean.
    pub stderr: Vec<f64>,
    /// For curves against training time: the training time (in full trainings) of each
    /// point; `None` for curves against queries 1, 2, ...
    pub x: Option<Vec<f64>>,
}

/// A finished comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The table rows, algorithm-major.
    pub rows: Vec<Row>,
    /// Every run.
    #[serde(skip)]
    pub runs: Vec<RunResult>,
    /// Best-so-far curves, one per algorithm.
    #[serde(skip)]
    pub curves: Vec<Curve>,
    /// What the budgets count.
    #[serde(skip)]
    pub unit: BudgetUnit,
}

/// Errors of a comparison.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Ranks and regret need a benchmark that knows every answer.
    #[error("comparisons need a tabular benchmark (ranks and regret need every answer)")]
    NotABenchmark,
    /// A run evaluated nothing.
    #[error("{algo} with seed {seed} evaluated no architecture successfully")]
    NothingEvaluated {
        /// Algorithm.
        algo: String,
        /// Seed.
        seed: u64,
    },
    /// Budgets in trainings need a table with costs and fidelities.
    #[error(
        "budgets in full trainings need a table whose cost of a training is known (a cost \
         column); this one has none"
    )]
    NoTrainingCost,
    /// `--clairvoyant STEP` names no step the table has below its last.
    #[error(
        "--clairvoyant {step}: the table has no fidelity at step {step} below its whole training \
         (its steps: {steps})"
    )]
    NoSuchStep {
        /// The step asked for.
        step: u64,
        /// The table's steps.
        steps: String,
    },
    /// A search could not run (a setting out of range).
    #[error(transparent)]
    Study(#[from] crate::study::StudyError),
    /// A setting of the comparison is out of range.
    #[error(transparent)]
    Setting(#[from] crate::settings::SettingError),
}

/// The table as `seminas bench --json` prints it and `table.json` holds it: what was compared
/// and one row per algorithm and budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchTable {
    /// Search space name (e.g. `nb201`).
    #[serde(default)]
    pub space: Option<String>,
    /// Name of the objective the searches maximised.
    #[serde(default)]
    pub objective: Option<String>,
    /// Name of the reported metric.
    #[serde(default)]
    pub report: Option<String>,
    /// The table's best reported value.
    #[serde(default)]
    pub optimum: Option<f64>,
    /// What the budgets (the rows' `queries`) count.
    #[serde(default)]
    pub unit: BudgetUnit,
    /// With budgets in trainings: the seconds of one full training (the table's mean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_seconds: Option<f64>,
    /// The rows.
    #[serde(skip_deserializing)]
    pub rows: Vec<Row>,
}

/// The table's algorithms and budgets in table order, with duplicates removed (the first
/// occurrence keeps its place): `--algos re,re` runs RE once.
pub fn dedup<T: PartialEq + Clone>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for x in items {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

/// Runs every algorithm x budget x seed of `config` (in parallel on rayon's pool) and
/// summarises them. `on_run_done` is called once per finished run, from worker threads.
pub fn run_comparison<S, E>(
    space: &S,
    evaluator: &E,
    config: &CompareConfig,
    on_run_done: &(dyn Fn() + Sync),
) -> Result<Comparison, CompareError>
where
    S: SearchSpace + Clone + 'static,
    E: Evaluator<S>,
{
    run_comparison_resuming(space, evaluator, config, Vec::new(), &|_| on_run_done())
}

/// [`run_comparison`] that starts from runs finished before (e.g. read back from the
/// `runs.csv` of a killed bench): a job whose (algorithm, budget, seed) is among `finished` is
/// not run again. `on_run_done` sees each newly finished run, from worker threads. Finished
/// runs that `config` does not ask for are left out of the result.
pub fn run_comparison_resuming<S, E>(
    space: &S,
    evaluator: &E,
    config: &CompareConfig,
    finished: Vec<RunResult>,
    on_run_done: &(dyn Fn(&RunResult) + Sync),
) -> Result<Comparison, CompareError>
where
    S: SearchSpace + Clone + 'static,
    E: Evaluator<S>,
{
    config.validate()?;
    let reference = evaluator.reference().ok_or(CompareError::NotABenchmark)?;
    let optimum = reference.optimum().ok_or(CompareError::NotABenchmark)?;
    let algos = dedup(&config.algos);
    let budgets = dedup(&config.budgets);
    let mut done: std::collections::HashMap<(String, usize, u64), RunResult> = finished
        .into_iter()
        .map(|r| ((r.algo.clone(), r.budget, r.seed), r))
        .collect();
    let mut jobs = Vec::new();
    let mut kept = Vec::new();
    for &algo in &algos {
        for &budget in &budgets {
            for seed in config.first_seed..config.first_seed + config.seeds {
                match done.remove(&(algo.name().to_string(), budget, seed)) {
                    Some(r) => kept.push(r),
                    None => jobs.push((algo, budget, seed)),
                }
            }
        }
    }
    let pool = crate::search::evaluable_pool(space, evaluator);
    let training = match config.unit {
        BudgetUnit::Queries => None,
        BudgetUnit::Trainings => Some(
            evaluator
                .full_training_cost()
                .filter(|c| *c > 0.0)
                .ok_or(CompareError::NoTrainingCost)?,
        ),
    };
    if let Some(unit) = training {
        for &b in &budgets {
            crate::settings::training_budget(b as f64, unit)?;
        }
        let clairvoyant = match config.clairvoyant {
            Some(step) => Some((
                step,
                whole_objectives(space, evaluator, pool.as_deref(), step)?,
            )),
            None => None,
        };
        let runs: Vec<Result<RunResult, CompareError>> = jobs
            .par_iter()
            .map(|&(algo, budget, seed)| {
                timed_run(
                    space,
                    evaluator,
                    config,
                    pool.clone(),
                    (algo, budget, seed),
                    unit,
                    clairvoyant.clone(),
                )
                .inspect(on_run_done)
            })
            .collect();
        let mut runs = runs.into_iter().collect::<Result<Vec<_>, _>>()?;
        runs.extend(kept);
        return Ok(sorted_summary(runs, &algos, &budgets, config.unit));
    }
    let runs: Vec<Result<RunResult, CompareError>> = jobs
        .par_iter()
        .map(|&(algo, budget, seed)| {
            let started = std::time::Instant::now();
            let own = evaluator.reseed(seed);
            let evaluator = own.as_ref().unwrap_or(evaluator);
            // The budget may be far above what the space holds (a user's value).
            let mut curve = Vec::with_capacity(budget.min(PREALLOCATE));
            let (mut best_obj, mut best_rep) = (f64::NEG_INFINITY, f64::NAN);
            let settings = StudySettings {
                algo,
                config: config.algo_config.clone(),
                ..StudySettings::new(budget, seed)
            };
            let run = run_study(space, evaluator, settings, pool.clone(), None, &mut |q| {
                if let Some(e) = q.complete()
                    && e.objective > best_obj
                {
                    best_obj = e.objective;
                    best_rep = e.report.unwrap_or(f64::NAN);
                }
                curve.push(best_rep);
            })?;
            let seconds = started.elapsed().as_secs_f64();
            let nothing = || CompareError::NothingEvaluated {
                algo: algo.name().to_string(),
                seed,
            };
            let best = run.best().ok_or_else(nothing)?;
            let e = best.result.as_ref().expect("best succeeded");
            let report = e.report.ok_or_else(nothing)?;
            let rank = reference.rank(report);
            let result = RunResult {
                algo: algo.name().to_string(),
                budget,
                seed,
                queries: run.records.len(),
                best_key: best.key.clone(),
                objective: e.objective,
                report,
                regret: optimum - report,
                rank,
                hit: rank == 1,
                seconds,
                curve,
                unit: BudgetUnit::Queries,
                cost: run.cost_seconds(),
                complete: run.records.len() - run.stopped(),
                cost_curve: Vec::new(),
            };
            on_run_done(&result);
            Ok(result)
        })
        .collect();
    let mut runs = runs.into_iter().collect::<Result<Vec<_>, _>>()?;
    runs.extend(kept);
    Ok(sorted_summary(runs, &algos, &budgets, config.unit))
}

/// One search of a comparison, run through a [`Study`] kept in memory with the evaluable
/// candidates (`pool`) and the evaluator's fidelities.
fn run_study<S: SearchSpace + Clone + 'static, E: Evaluator<S> + ?Sized>(
    space: &S,
    evaluator: &E,
    settings: StudySettings,
    pool: Option<std::sync::Arc<[S::Arch]>>,
    clairvoyant: Option<Clairvoyance>,
    on_query: &mut dyn FnMut(&QueryRecord<S::Arch>),
) -> Result<SearchRun<S::Arch>, CompareError> {
    let mut study = Study::new(space.clone(), settings)
        .with_candidates(pool)
        .with_fidelities(evaluator.fidelities());
    if let Some((step, whole)) = clairvoyant {
        study = study.wrap_searcher(|inner| Box::new(Clairvoyant::new(inner, step, whole)));
    }
    study.optimize(evaluator, on_query)?;
    Ok(study.into_run())
}

/// The runs in table order (algorithm, budget, seed), summarised.
fn sorted_summary(
    mut runs: Vec<RunResult>,
    algos: &[Algo],
    budgets: &[usize],
    unit: BudgetUnit,
) -> Comparison {
    let names: Vec<String> = algos.iter().map(|a| a.name().to_string()).collect();
    runs.sort_by_key(|r| {
        (
            names.iter().position(|n| *n == r.algo),
            budgets.iter().position(|&b| b == r.budget),
            r.seed,
        )
    });
    let mut cmp = summarize(runs, &names, budgets);
    cmp.unit = unit;
    cmp
}

/// One search with a budget of `budget` full trainings' worth of training time (`unit`
/// seconds each): it starts evaluations while the told ones cost less than the budget, and
/// its result is the best whole training among those that ended within it.
fn timed_run<S: SearchSpace + Clone + 'static, E: Evaluator<S>>(
    space: &S,
    evaluator: &E,
    config: &CompareConfig,
    pool: Option<std::sync::Arc<[S::Arch]>>,
    (algo, budget, seed): (Algo, usize, u64),
    unit: f64,
    clairvoyant: Option<Clairvoyance>,
) -> Result<RunResult, CompareError> {
    let reference = evaluator.reference().ok_or(CompareError::NotABenchmark)?;
    let optimum = reference.optimum().ok_or(CompareError::NotABenchmark)?;
    let started = std::time::Instant::now();
    let own = evaluator.reseed(seed);
    let evaluator = own.as_ref().unwrap_or(evaluator);
    let limit = budget as f64 * unit;
    let settings = StudySettings {
        algo,
        config: config.algo_config.clone(),
        budget_seconds: Some(limit),
        prune: config.prune.clone(),
        // Searchers that plan from their budget plan for `budget` whole trainings.
        plan: Some(budget),
        ..StudySettings::new(usize::MAX, seed)
    };
    let (mut spent, mut cost, mut queries, mut complete) = (0.0f64, 0.0f64, 0usize, 0usize);
    let mut best: Option<(f64, f64, String)> = None;
    let mut cost_curve = Vec::new();
    run_study(space, evaluator, settings, pool, clairvoyant, &mut |q| {
        let Ok(e) = &q.result else { return };
        spent += e.cost_seconds;
        if spent > limit * (1.0 + 1e-12) {
            return;
        }
        cost = spent;
        queries += 1;
        if e.is_complete() {
            complete += 1;
            if best.as_ref().is_none_or(|b| e.objective > b.0) {
                let report = e.report.unwrap_or(f64::NAN);
                best = Some((e.objective, report, q.key.clone()));
                cost_curve.push((round4(spent / unit), report));
            }
        }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let (objective, report, best_key) = best.unwrap_or((f64::NAN, f64::NAN, String::new()));
    let rank = if report.is_finite() {
        reference.rank(report)
    } else {
        reference.len() + 1
    };
    Ok(RunResult {
        algo: algo.name().to_string(),
        budget,
        seed,
        queries,
        best_key,
        objective,
        report,
        regret: optimum - report,
        rank,
        hit: rank == 1,
        seconds,
        curve: Vec::new(),
        unit: BudgetUnit::Trainings,
        cost,
        complete,
        cost_curve,
    })
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Points of the cost curves: every half training up to 100, then every 1% of the largest
/// budget.
fn cost_grid(max_budget: usize) -> Vec<f64> {
    let step = if max_budget <= 100 {
        0.5
    } else {
        max_budget as f64 / 200.0
    };
    let n = (max_budget as f64 / step).round() as usize;
    (1..=n).map(|i| i as f64 * step).collect()
}

/// The value at `x` of a curve given by its change points (NaN before the first).
pub fn curve_at(points: &[(f64, f64)], x: f64) -> f64 {
    let i = points.partition_point(|p| p.0 <= x + 1e-9);
    if i == 0 { f64::NAN } else { points[i - 1].1 }
}

/// Mean best-so-far curves against training time, one per algorithm from its runs at its
/// largest budget, on `cost_grid` (a seed without a whole training yet is left out of a
/// point's mean).
pub fn cost_curves(runs: &[RunResult], algos: &[String], budgets: &[usize]) -> Vec<Curve> {
    let mut curves = Vec::new();
    for algo in algos {
        let Some(&max) = budgets
            .iter()
            .filter(|&&b| runs.iter().any(|r| r.algo == *algo && r.budget == b))
            .max()
        else {
            continue;
        };
        let rs: Vec<&RunResult> = runs
            .iter()
            .filter(|r| r.algo == *algo && r.budget == max)
            .collect();
        let grid = cost_grid(max);
        let (mut mean, mut stderr) = (Vec::new(), Vec::new());
        for &x in &grid {
            let v: Vec<f64> = rs
                .iter()
                .map(|r| curve_at(&r.cost_curve, x))
                .filter(|v| v.is_finite())
                .collect();
            let (m, s) = mean_std(&v);
            mean.push(m);
            stderr.push(if v.len() > 1 {
                s / (v.len() as f64).sqrt()
            } else {
                0.0
            });
        }
        curves.push(Curve {
            algo: algo.clone(),
            mean,
            stderr,
            x: Some(grid),
        });
    }
    curves
}

/// The table and curves of finished runs: one row per algorithm (in `algos` order) and budget
/// (in `budgets` order) that has runs, one curve per algorithm from its runs at its largest
/// budget (runs without a curve are left out of it).
pub fn summarize(runs: Vec<RunResult>, algos: &[String], budgets: &[usize]) -> Comparison {
    let trainings = runs.iter().any(|r| r.unit == BudgetUnit::Trainings);
    let mut cmp = summarize_queries(runs, algos, budgets);
    if trainings {
        cmp.curves = cost_curves(&cmp.runs, algos, budgets);
        cmp.unit = BudgetUnit::Trainings;
    }
    cmp
}

fn summarize_queries(runs: Vec<RunResult>, algos: &[String], budgets: &[usize]) -> Comparison {
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for algo in algos {
        let mut largest = None;
        for &budget in budgets {
            let rs: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.algo == *algo && r.budget == budget)
                .collect();
            if rs.is_empty() {
                continue;
            }
            largest = largest.max(Some(budget));
            let col =
                |f: &dyn Fn(&RunResult) -> f64| -> Vec<f64> { rs.iter().map(|r| f(r)).collect() };
            let (mean_report, std_report) = mean_std(&col(&|r| r.report));
            rows.push(Row {
                algo: algo.clone(),
                queries: budget,
                seeds: rs.len(),
                mean_report,
                std_report,
                mean_regret: mean_std(&col(&|r| r.regret)).0,
                mean_rank: mean_std(&col(&|r| r.rank as f64)).0,
                hit_rate: mean_std(&col(&|r| f64::from(u8::from(r.hit)))).0,
                mean_seconds: mean_std(&col(&|r| r.seconds)).0,
            });
        }
        if let Some(max_budget) = largest {
            let rs: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.algo == *algo && r.budget == max_budget && !r.curve.is_empty())
                .collect();
            if rs.is_empty() {
                continue;
            }
            let len = rs.iter().map(|r| r.curve.len()).min().unwrap_or(0);
            let (mut mean, mut stderr) = (Vec::with_capacity(len), Vec::with_capacity(len));
            for i in 0..len {
                let v: Vec<f64> = rs
                    .iter()
                    .map(|r| r.curve[i])
                    .filter(|x| x.is_finite())
                    .collect();
                let (m, s) = mean_std(&v);
                mean.push(m);
                stderr.push(if v.len() > 1 {
                    s / (v.len() as f64).sqrt()
                } else {
                    0.0
                });
            }
            curves.push(Curve {
                algo: algo.clone(),
                mean,
                stderr,
                x: None,
            });
        }
    }
    Comparison {
        rows,
        runs,
        curves,
        unit: BudgetUnit::Queries,
    }
}

impl Comparison {
    /// The table as text, one row per algorithm and budget.
    pub fn table(&self, report_name: &str) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let w = self
            .rows
            .iter()
            .map(|r| r.algo.len())
            .max()
            .unwrap_or(0)
            .max(12);
        let _ = writeln!(
            s,
            "{:<w$} {:>9} {:>6} {:>12} {:>8} {:>12} {:>10} {:>8} {:>8}",
            "method",
            self.unit.name(),
            "seeds",
            "mean report",
            "std",
            "mean regret",
            "mean rank",
            "hit rate",
            "s/run"
        );
        for r in &self.rows {
            let seconds = if r.mean_seconds.is_finite() {
                format!("{:.3}", r.mean_seconds)
            } else {
                "-".into()
            };
            let _ = writeln!(
                s,
                "{:<w$} {:>9} {:>6} {:>12.4} {:>8.4} {:>12.4} {:>10.1} {:>8.2} {:>8}",
                r.algo,
                r.queries,
                r.seeds,
                r.mean_report,
                r.std_report,
                r.mean_regret,
                r.mean_rank,
                r.hit_rate,
                seconds
            );
        }
        let _ = writeln!(
            s,
            "(report: {report_name}; rank 1 = best of all architectures; hit rate: share of runs \
             that found an architecture with the table's best {report_name}; s/run: mean wall \
             seconds of one search)"
        );
        s
    }

    /// Per-run results as CSV (see [`runs_file`]).
    pub fn runs_csv(&self) -> String {
        let mut s = String::from(runs_file::header(self.unit));
        s.push('\n');
        for r in &self.runs {
            s.push_str(&runs_file::line(r));
        }
        s
    }

    /// Best-so-far curves as CSV: one row per algorithm and query count (or training time,
    /// in full trainings, for budgets in trainings).
    pub fn curves_csv(&self) -> String {
        let mut s = format!("algo,{},mean_report,stderr\n", self.unit.name());
        for c in &self.curves {
            for (i, (m, e)) in c.mean.iter().zip(&c.stderr).enumerate() {
                match &c.x {
                    Some(x) => s.push_str(&format!("{},{},{m},{e}\n", c.algo, x[i])),
                    None => s.push_str(&format!("{},{},{m},{e}\n", c.algo, i + 1)),
                }
            }
        }
        s
    }
}

impl CompareConfig {
    /// Checks the algorithm settings, the budgets (at least 1), the seeds and the number of
    /// searches.
    pub fn validate(&self) -> Result<(), SettingError> {
        self.algo_config.validate()?;
        let setting = match self.unit {
            BudgetUnit::Queries => "queries",
            BudgetUnit::Trainings => "budget-trainings",
        };
        for &b in &self.budgets {
            in_range(setting, b, 1, usize::MAX)?;
        }
        in_range("seeds", self.seeds, 1, MAX_SEEDS)?;
        let runs = (self.algos.len() as u64)
            .saturating_mul(self.budgets.len() as u64)
            .saturating_mul(self.seeds);
        if runs > MAX_RUNS {
            return Err(SettingError {
                setting: "seeds",
                value: self.seeds.to_string(),
                allowed: format!(
                    "at most {} with {} algorithm(s) and {} budget(s) (at most {MAX_RUNS} \
                     searches in all)",
                    MAX_RUNS / (self.algos.len() * self.budgets.len()).max(1) as u64,
                    self.algos.len(),
                    self.budgets.len()
                ),
            });
        }
        in_range("first-seed", self.first_seed, 0, u64::MAX - self.seeds)?;
        clairvoyance::validate(self)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
