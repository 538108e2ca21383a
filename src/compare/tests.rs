use super::*;
use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
use crate::space::Nb201Space;

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
        unit: BudgetUnit::Queries,
        prune: None,
    };
    let a = run_comparison(&space, &bench, &config, &|| {}).unwrap();
    let b = run_comparison(&space, &bench, &config, &|| {}).unwrap();
    let timeless = |c: &Comparison| -> Vec<Row> {
        c.rows
            .iter()
            .map(|r| {
                assert!(r.mean_seconds > 0.0 && r.mean_seconds.is_finite());
                Row {
                    mean_seconds: 0.0,
                    ..r.clone()
                }
            })
            .collect()
    };
    assert_eq!(timeless(&a), timeless(&b));
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
        let hits = runs.iter().filter(|r| r.rank == 1).count();
        assert!(runs.iter().all(|r| r.hit == (r.regret == 0.0)));
        assert_eq!(row.hit_rate, hits as f64 / 6.0);
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

#[test]
fn finished_runs_are_not_run_again_and_duplicates_run_once() {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let config = CompareConfig {
        algos: vec![Algo::Random, Algo::Re, Algo::Random],
        budgets: vec![15, 15, 30],
        seeds: 4,
        first_seed: 0,
        algo_config: AlgoConfig::default(),
        unit: BudgetUnit::Queries,
        prune: None,
    };
    let whole = run_comparison(&space, &bench, &config, &|| {}).unwrap();
    assert_eq!(whole.rows.len(), 4);
    assert_eq!(whole.runs.len(), 16);
    // Keep every other run as "finished before", with a marker in its seconds.
    let finished: Vec<RunResult> = whole
        .runs
        .iter()
        .step_by(2)
        .map(|r| RunResult {
            seconds: -1.0,
            ..r.clone()
        })
        .collect();
    let ran = std::sync::atomic::AtomicUsize::new(0);
    let resumed = run_comparison_resuming(&space, &bench, &config, finished, &|_| {
        ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(ran.into_inner(), 8);
    assert_eq!(resumed.runs.len(), 16);
    for (a, b) in whole.runs.iter().zip(&resumed.runs) {
        assert_eq!(
            (&a.algo, a.budget, a.seed, &a.best_key, &a.curve),
            (&b.algo, b.budget, b.seed, &b.best_key, &b.curve)
        );
    }
    assert_eq!(resumed.runs.iter().filter(|r| r.seconds == -1.0).count(), 8);
}
