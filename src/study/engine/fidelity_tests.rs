//! Tests of early stopping in the driver: pruners on a table with fidelities, costs, budgets
//! in training time, determinism with workers, and SemiNAS-Ens's own rule.

use super::driver::{DriveOptions, NoJournal, Pruning, drive};
use super::*;
use crate::benchmark::TabularBenchmark;
use crate::benchmark::nb101::embedded::{NB101_20K_EPOCHS, nb101_20k_benchmark, nb101_20k_space};
use crate::evaluator::Pruner;
use crate::rng::rng_for;
use crate::space::nb101::Nb101Space;

fn run_with(
    searcher: &mut dyn Searcher<Nb101Space>,
    bench: &TabularBenchmark,
    budget: Budget,
    pruner: Option<Pruner>,
) -> SearchRun<crate::space::nb101::Cell> {
    let space = nb101_20k_space();
    let options = DriveOptions {
        pruning: Pruning {
            fidelities: Evaluator::<Nb101Space>::fidelities(bench),
            searcher_rules: pruner.is_none(),
            pruner,
            seed: 3,
        },
        ..DriveOptions::default()
    };
    drive(
        &space,
        bench,
        searcher,
        budget,
        options,
        &mut NoJournal,
        &mut |_| {},
    )
    .unwrap()
}

/// The table's value and cost of `key` at `step`.
fn at(bench: &TabularBenchmark, key: &str, step: u64) -> (f64, f64) {
    let t = bench.table();
    let row = t.get(key).unwrap();
    let col = t.metric_index(&format!("val_acc_{step}ep")).unwrap();
    let cost = t.metric_index("train_time_108ep_s").unwrap();
    (row[col], row[cost] * step as f64 / 108.0)
}

#[test]
fn asha_stops_table_trainings_at_their_rungs_and_counts_what_they_ran() {
    let bench = nb101_20k_benchmark();
    let fid = Evaluator::<Nb101Space>::fidelities(&bench).unwrap();
    assert_eq!(fid.steps, NB101_20K_EPOCHS.to_vec());
    // The mean of the 20,001 training times (data/NOTICE).
    let unit = Evaluator::<Nb101Space>::full_training_cost(&bench).unwrap();
    assert!((unit - 1924.4174066).abs() < 1e-6);
    let mut s = RandomSearch::new(rng_for(1, "t"));
    let pruner = Pruner::Asha {
        eta: 3,
        min_step: None,
    };
    let run = run_with(&mut s, &bench, Budget::queries(60), Some(pruner));
    assert_eq!(run.records.len(), 60);
    let mut stopped = 0;
    for r in &run.records {
        let e = r.result.as_ref().unwrap();
        let last = e.steps.last().unwrap().step;
        match e.stopped_at {
            Some(step) => {
                stopped += 1;
                assert!([4, 12, 36].contains(&step), "{step}");
                assert_eq!(last, step);
                let (v, c) = at(&bench, &r.key, step);
                assert_eq!((e.objective, e.cost_seconds, e.report), (v, c, None));
            }
            None => {
                assert_eq!(last, 108);
                let (v, c) = at(&bench, &r.key, 108);
                assert_eq!((e.objective, e.cost_seconds), (v, c));
                assert_eq!(e.report, Some(v));
            }
        }
        // Every step a training reached is its table value.
        for st in &e.steps {
            assert_eq!(st.objective, at(&bench, &r.key, st.step).0);
        }
    }
    // Halving by 3 at three rungs: most stop, the first trial never.
    assert!(stopped > 30 && stopped < 60, "{stopped} stopped");
    assert!(run.records[0].complete().is_some());
    assert_eq!(run.stopped(), stopped);
    // The best is a whole training, even where a stopped one had a larger objective.
    let best = run.best().unwrap();
    assert!(best.complete().is_some());
}

#[test]
fn a_training_time_budget_stops_starting_trainings_once_spent() {
    let bench = nb101_20k_benchmark();
    let unit = Evaluator::<Nb101Space>::full_training_cost(&bench).unwrap();
    let mut s = RandomSearch::new(rng_for(2, "t"));
    let limit = 6.0 * unit;
    let run = run_with(&mut s, &bench, Budget::seconds(limit), Some(Pruner::None));
    let costs: Vec<f64> = run
        .records
        .iter()
        .map(|r| r.result.as_ref().unwrap().cost_seconds)
        .collect();
    let total: f64 = costs.iter().sum();
    assert!(total >= limit, "spent {total} of {limit}");
    assert!(
        total - costs[costs.len() - 1] < limit,
        "one training too many"
    );
    assert_eq!(run.stop, StopReason::Budget);
    assert_eq!(run.stopped(), 0, "Pruner::None stops nothing");
}

#[test]
fn stop_decisions_do_not_depend_on_which_parallel_evaluation_finishes_first() {
    let bench = nb101_20k_benchmark();
    let space = nb101_20k_space();
    let run = |workers| {
        let mut s = RegularizedEvolution::new(ReConfig::default(), rng_for(4, "t"));
        let options = DriveOptions {
            pruning: Pruning {
                fidelities: Evaluator::<Nb101Space>::fidelities(&bench),
                pruner: Some(Pruner::Hyperband {
                    eta: 3,
                    min_step: None,
                }),
                searcher_rules: false,
                seed: 9,
            },
            ..DriveOptions::default()
        };
        let budget = Budget {
            workers,
            ..Budget::queries(40)
        };
        let r = drive(
            &space,
            &bench,
            &mut s,
            budget,
            options,
            &mut NoJournal,
            &mut |_| {},
        )
        .unwrap();
        r.records
            .iter()
            .map(|q| (q.key.clone(), q.result.as_ref().unwrap().stopped_at))
            .collect::<Vec<_>>()
    };
    let three = run(3);
    for _ in 0..3 {
        assert_eq!(run(3), three);
    }
    assert!(three.iter().any(|(_, s)| s.is_some()));
    // One worker sees every earlier result before deciding: another run.
    assert_ne!(run(1), three);
}

#[test]
fn seminas_ens_stops_at_its_probe_only_and_learns_from_what_it_stopped() {
    let bench = nb101_20k_benchmark();
    let space = nb101_20k_space();
    let pool = evaluable_pool(&space, &bench);
    let unit = Evaluator::<Nb101Space>::full_training_cost(&bench).unwrap();
    let run = |seed| {
        let mut s = SemiNasEns::new(
            SemiNasEnsConfig::for_budget(15),
            rng_for(seed, "t"),
            pool.clone(),
        );
        let r = run_with(&mut s, &bench, Budget::seconds(15.0 * unit), None);
        (r, s.rounds)
    };
    let (r, rounds) = run(5);
    assert!(rounds > 0);
    let stopped: Vec<u64> = r
        .records
        .iter()
        .filter_map(|q| q.result.as_ref().unwrap().stopped_at)
        .collect();
    assert!(!stopped.is_empty(), "some trainings are stopped");
    assert!(
        stopped.iter().all(|&s| s == 36),
        "only at the probe: {stopped:?}"
    );
    // More trainings than whole trainings fit in the budget.
    assert!(r.records.len() > 15, "{} trainings", r.records.len());
    let keys = |r: &SearchRun<_>| r.records.iter().map(|q| q.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&run(5).0), keys(&r), "deterministic per seed");
}
