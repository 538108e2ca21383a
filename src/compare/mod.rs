//! Comparisons of search algorithms on a benchmark: every algorithm x budget x seed, in
//! parallel, summarised as the paper-style table and as best-so-far curves.
//!
//! Each (algorithm, budget, seed) is its own search, since some algorithms plan their rounds
//! from the budget; a run's random choices depend only on its seed, so results do not depend on
//! how runs are spread over threads.

use rayon::prelude::*;
use serde::Serialize;

use crate::benchmark::Evaluator;
use crate::search::{Algo, AlgoConfig, Budget, run_search};
use crate::space::SearchSpace;

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
    /// After each query, the reported value of the best-by-objective architecture so far.
    #[serde(skip)]
    pub curve: Vec<f64>,
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
}

/// Mean best-so-far curve of one algorithm (at its largest budget), with a band.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// Algorithm name.
    pub algo: String,
    /// Mean over seeds after 1, 2, ... queries.
    pub mean: Vec<f64>,
    /// Standard error of that mean.
    pub stderr: Vec<f64>,
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
    S: SearchSpace,
    E: Evaluator<S>,
{
    let reference = evaluator.reference().ok_or(CompareError::NotABenchmark)?;
    let optimum = reference.optimum().ok_or(CompareError::NotABenchmark)?;
    let mut jobs = Vec::new();
    for &algo in &config.algos {
        for &budget in &config.budgets {
            for seed in config.first_seed..config.first_seed + config.seeds {
                jobs.push((algo, budget, seed));
            }
        }
    }
    let pool = crate::search::evaluable_pool(space, evaluator);
    let runs: Vec<Result<RunResult, CompareError>> = jobs
        .par_iter()
        .map(|&(algo, budget, seed)| {
            let mut searcher =
                algo.build_with_pool(space, seed, budget, &config.algo_config, pool.clone());
            let own = evaluator.reseed(seed);
            let evaluator = own.as_ref().unwrap_or(evaluator);
            let mut curve = Vec::with_capacity(budget);
            let (mut best_obj, mut best_rep) = (f64::NEG_INFINITY, f64::NAN);
            let run = run_search(
                space,
                evaluator,
                searcher.as_mut(),
                Budget::queries(budget),
                &mut |q| {
                    if let Ok(e) = &q.result
                        && e.objective > best_obj
                    {
                        best_obj = e.objective;
                        best_rep = e.report.unwrap_or(f64::NAN);
                    }
                    curve.push(best_rep);
                },
            );
            on_run_done();
            let nothing = || CompareError::NothingEvaluated {
                algo: algo.name().to_string(),
                seed,
            };
            let best = run.best().ok_or_else(nothing)?;
            let e = best.result.as_ref().expect("best succeeded");
            let report = e.report.ok_or_else(nothing)?;
            Ok(RunResult {
                algo: algo.name().to_string(),
                budget,
                seed,
                queries: run.records.len(),
                best_key: best.key.clone(),
                objective: e.objective,
                report,
                regret: optimum - report,
                rank: reference.rank(report),
                curve,
            })
        })
        .collect();
    let runs = runs.into_iter().collect::<Result<Vec<_>, _>>()?;

    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for &algo in &config.algos {
        for &budget in &config.budgets {
            let rs: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.algo == algo.name() && r.budget == budget)
                .collect();
            let reports: Vec<f64> = rs.iter().map(|r| r.report).collect();
            let (mean_report, std_report) = mean_std(&reports);
            rows.push(Row {
                algo: algo.name().to_string(),
                queries: budget,
                seeds: rs.len(),
                mean_report,
                std_report,
                mean_regret: mean_std(&rs.iter().map(|r| r.regret).collect::<Vec<_>>()).0,
                mean_rank: mean_std(&rs.iter().map(|r| r.rank as f64).collect::<Vec<_>>()).0,
            });
        }
        if let Some(&max_budget) = config.budgets.iter().max() {
            let rs: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.algo == algo.name() && r.budget == max_budget)
                .collect();
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
                algo: algo.name().to_string(),
                mean,
                stderr,
            });
        }
    }
    Ok(Comparison { rows, runs, curves })
}

/// Mean and sample standard deviation (0 for fewer than two values; NaN mean for none).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Kendall's tau-b rank correlation of two equally long score lists (ties counted as in
/// scipy's `kendalltau`): how well one ranking (a predictor's, a supernet's) agrees with another.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let (mut conc, mut disc, mut ties_a, mut ties_b) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let (da, db) = (a[i] - a[j], b[i] - b[j]);
            if da == 0.0 && db == 0.0 {
                continue;
            } else if da == 0.0 {
                ties_a += 1.0;
            } else if db == 0.0 {
                ties_b += 1.0;
            } else if (da > 0.0) == (db > 0.0) {
                conc += 1.0;
            } else {
                disc += 1.0;
            }
        }
    }
    (conc - disc) / ((conc + disc + ties_a) * (conc + disc + ties_b)).sqrt()
}

impl Comparison {
    /// The table as text, one row per algorithm and budget.
    pub fn table(&self, report_name: &str) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<12} {:>7} {:>6} {:>12} {:>8} {:>12} {:>10}",
            "method", "queries", "seeds", "mean report", "std", "mean regret", "mean rank"
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "{:<12} {:>7} {:>6} {:>12.4} {:>8.4} {:>12.4} {:>10.1}",
                r.algo, r.queries, r.seeds, r.mean_report, r.std_report, r.mean_regret, r.mean_rank
            );
        }
        let _ = writeln!(
            s,
            "(report: {report_name}; rank 1 = best of all architectures)"
        );
        s
    }

    /// Per-run results as CSV.
    pub fn runs_csv(&self) -> String {
        let mut s =
            String::from("algo,budget,seed,queries,best_key,objective,report,regret,rank\n");
        for r in &self.runs {
            s.push_str(&format!(
                "{},{},{},{},\"{}\",{},{},{},{}\n",
                r.algo,
                r.budget,
                r.seed,
                r.queries,
                r.best_key.replace('"', "\"\""),
                r.objective,
                r.report,
                r.regret,
                r.rank
            ));
        }
        s
    }

    /// Best-so-far curves as CSV: one row per algorithm and query count.
    pub fn curves_csv(&self) -> String {
        let mut s = String::from("algo,queries,mean_report,stderr\n");
        for c in &self.curves {
            for (i, (m, e)) in c.mean.iter().zip(&c.stderr).enumerate() {
                s.push_str(&format!("{},{},{m},{e}\n", c.algo, i + 1));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn kendall_tau_matches_known_values() {
        // One swapped pair of six: (5 - 1) / 6.
        let t = kendall_tau(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]);
        assert!((t - 4.0 / 6.0).abs() < 1e-12, "{t}");
        // A tie in b: tau-b = 2 / sqrt(2 * 3) (scipy.stats.kendalltau gives 0.8164965809).
        let t = kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 1.0, 2.0]);
        assert!((t - 0.816_496_580_9).abs() < 1e-9, "{t}");
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
    }
    use super::*;
    use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
    use crate::space::Nb201Space;

    #[test]
    fn mean_std_known_values() {
        let (m, s) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((s - 2.138089935299395).abs() < 1e-12);
    }

    #[test]
    fn comparison_rows_match_the_runs_and_are_deterministic() {
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let config = CompareConfig {
            algos: vec![Algo::Random, Algo::Re],
            budgets: vec![20, 40],
            seeds: 6,
            first_seed: 0,
            algo_config: AlgoConfig::default(),
        };
        let a = run_comparison(&space, &bench, &config, &|| {}).unwrap();
        let b = run_comparison(&space, &bench, &config, &|| {}).unwrap();
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.rows.len(), 4);
        assert_eq!(a.runs.len(), 24);
        for row in &a.rows {
            let runs: Vec<_> = a
                .runs
                .iter()
                .filter(|r| r.algo == row.algo && r.budget == row.queries)
                .collect();
            assert_eq!(runs.len(), 6);
            let mean = runs.iter().map(|r| r.report).sum::<f64>() / 6.0;
            assert!((mean - row.mean_report).abs() < 1e-9);
            assert!((row.mean_regret - (94.3733 - mean)).abs() < 1e-9);
        }
        // A prefix-consistent searcher's 20-query run is the start of its 40-query run, and the
        // curve at 20 equals the 20-query result.
        for r20 in a.runs.iter().filter(|r| r.budget == 20) {
            let r40 = a
                .runs
                .iter()
                .find(|r| r.budget == 40 && r.algo == r20.algo && r.seed == r20.seed)
                .unwrap();
            assert_eq!(r40.curve[19], r20.report);
            assert!(r40.report >= r20.report || r40.objective > r20.objective);
        }
        assert_eq!(a.curves.len(), 2);
        assert_eq!(a.curves[0].mean.len(), 40);
    }
}
