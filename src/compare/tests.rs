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
        clairvoyant: None,
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
        clairvoyant: None,
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

/// `--clairvoyant`: every training that will not beat the best whole one so far stops at the
/// step, every other one is whole, so the whole trainings improve one after another.
#[test]
fn clairvoyant_stopping_stops_exactly_the_trainings_that_would_not_improve() {
    use crate::benchmark::nb101::embedded::{nb101_20k_benchmark, nb101_20k_space};
    let space = nb101_20k_space();
    let bench = nb101_20k_benchmark();
    let pool = crate::search::evaluable_pool(&space, &bench);
    let whole = whole_objectives(&space, &bench, pool.as_deref(), 12).unwrap();
    assert_eq!(whole.len(), 20_001);
    let unit = Evaluator::<crate::space::Nb101Space>::full_training_cost(&bench).unwrap();
    for algo in [Algo::Random, Algo::SemiNasEns] {
        let settings = StudySettings {
            algo,
            budget_seconds: Some(15.0 * unit),
            plan: Some(15),
            ..StudySettings::new(usize::MAX, 3)
        };
        let run = run_study(
            &space,
            &bench,
            settings,
            pool.clone(),
            Some((12, whole.clone())),
            &mut |_| {},
        )
        .unwrap();
        let (mut best, mut stopped, mut improved) = (f64::NEG_INFINITY, 0, 0);
        for q in &run.records {
            let e = q.result.as_ref().unwrap();
            let v = whole[&q.key];
            match e.stopped_at {
                Some(step) => {
                    assert_eq!(step, 12, "{algo}: query {}", q.n);
                    assert!(v <= best, "{algo}: query {} stopped but would improve", q.n);
                    stopped += 1;
                }
                None => {
                    assert_eq!(e.objective, v);
                    assert!(v > best, "{algo}: query {} whole but no better", q.n);
                    best = v;
                    improved += 1;
                }
            }
        }
        assert!(
            stopped >= 10 && improved >= 3,
            "{algo}: {stopped} stopped, {improved} whole"
        );
    }
}

#[test]
fn clairvoyant_stopping_is_refused_where_it_means_nothing() {
    use crate::benchmark::nb101::embedded::{nb101_20k_benchmark, nb101_20k_space};
    let config = CompareConfig {
        algos: vec![Algo::Random],
        budgets: vec![5],
        seeds: 1,
        first_seed: 0,
        algo_config: AlgoConfig::default(),
        unit: BudgetUnit::Trainings,
        prune: None,
        clairvoyant: Some(36),
    };
    config.validate().unwrap();
    let queries = CompareConfig {
        unit: BudgetUnit::Queries,
        ..config.clone()
    };
    assert!(
        queries
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--budget-trainings")
    );
    let pruned = CompareConfig {
        prune: Some(Pruner::Asha {
            eta: 3,
            min_step: None,
        }),
        ..config.clone()
    };
    assert!(
        pruned
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--prune auto")
    );
    let (space, bench) = (nb101_20k_space(), nb101_20k_benchmark());
    for step in [108, 20] {
        let bad = CompareConfig {
            clairvoyant: Some(step),
            ..config.clone()
        };
        let err = run_comparison(&space, &bench, &bad, &|| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("its steps: 4, 12, 36, 108"), "{err}");
    }
}
