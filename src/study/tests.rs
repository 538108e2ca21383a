use super::*;
use crate::benchmark::TabularBenchmark;
use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
use crate::search::ReConfig;
use crate::search::{Algo, AlgoConfig};
use crate::space::Nb201Space;
use crate::study::engine::drive;
use crate::study::run_search;

fn bench() -> TabularBenchmark {
    nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap()
}

fn settings(algo: Algo, queries: usize, seed: u64) -> StudySettings {
    StudySettings {
        algo,
        ..StudySettings::new(queries, seed)
    }
}

fn evaluate(
    bench: &TabularBenchmark,
    space: &Nb201Space,
    arch: &<Nb201Space as SearchSpace>::Arch,
) -> Outcome {
    Evaluator::evaluate(bench, space, arch)
}

/// Tells an outcome as a user would.
fn tell(study: &mut Study<Nb201Space>, number: usize, outcome: Outcome) {
    match outcome {
        Outcome::Evaluated(e) => study.tell(number, Ok(e)).unwrap(),
        Outcome::Failed(r) => study.tell(number, Err(r)).unwrap(),
        Outcome::NotEvaluable => study.tell_not_evaluable(number).unwrap(),
    }
}

/// `n` cells drawn from `rng` with their objectives in the table (warm-start pairs).
fn sampled_pairs(
    bench: &TabularBenchmark,
    n: usize,
    rng: &mut crate::rng::Rng,
) -> Vec<(<Nb201Space as SearchSpace>::Arch, f64)> {
    let space = Nb201Space::new();
    (0..n)
        .map(|_| {
            let arch = space.sample(rng);
            let Outcome::Evaluated(e) = evaluate(bench, &space, &arch) else {
                unreachable!("the table holds every cell")
            };
            (arch, e.objective)
        })
        .collect()
}

/// Asks and tells (from the table) up to `max` trials, one at a time.
fn drain(study: &mut Study<Nb201Space>, bench: &TabularBenchmark, max: usize) {
    let space = Nb201Space::new();
    for _ in 0..max {
        let Some(trial) = study.ask().unwrap() else {
            break;
        };
        let outcome = evaluate(bench, &space, &trial.arch);
        tell(study, trial.number, outcome);
    }
}

fn keys<A>(records: &[QueryRecord<A>]) -> Vec<(String, Option<f64>)> {
    records
        .iter()
        .map(|r| (r.key.clone(), r.result.as_ref().ok().map(|e| e.objective)))
        .collect()
}

#[test]
fn an_ask_tell_loop_gives_the_queries_of_the_driver() {
    let space = Nb201Space::new();
    let bench = bench();
    for algo in Algo::ALL {
        let mut searcher = algo.build(&space, 3, 40, &AlgoConfig::default());
        let want = run_search(
            &space,
            &bench,
            searcher.as_mut(),
            Budget::queries(40),
            &mut |_| {},
        );
        let mut study = Study::new(Nb201Space::new(), settings(algo, 40, 3));
        while let Some(trial) = study.ask().unwrap() {
            assert_eq!(study.status(), StudyStatus::Waiting);
            let outcome = evaluate(&bench, &space, &trial.arch);
            tell(&mut study, trial.number, outcome);
        }
        assert_eq!(study.status(), StudyStatus::Finished(StopReason::Budget));
        assert_eq!(keys(study.trials()), keys(&want.records), "{algo}");
        assert_eq!(study.run().repeats, want.repeats, "{algo}");
        assert_eq!(study.best().unwrap().key, want.best().unwrap().key);
    }
}

#[test]
fn trials_told_out_of_order_by_three_workers_give_the_drivers_three_worker_run() {
    let space = Nb201Space::new();
    let bench = bench();
    for algo in [Algo::Re, Algo::SemiNas] {
        let mut searcher = algo.build(&space, 8, 30, &AlgoConfig::default());
        let budget = Budget {
            workers: 3,
            ..Budget::queries(30)
        };
        let want = drive(
            &space,
            &bench,
            searcher.as_mut(),
            budget,
            DriveOptions::default(),
            &mut NoJournal,
            &mut |_| {},
        )
        .unwrap();
        let mut study = Study::new(
            Nb201Space::new(),
            StudySettings {
                workers: 3,
                ..settings(algo, 30, 8)
            },
        );
        let mut rng = crate::rng::rng_for(1, "order");
        let mut out: Vec<Trial<_>> = Vec::new();
        loop {
            while let Some(trial) = study.ask().unwrap() {
                out.push(trial);
            }
            if out.is_empty() {
                break;
            }
            // Any trial may finish first.
            let pick = rand::Rng::gen_range(&mut rng, 0..out.len());
            let trial = out.swap_remove(pick);
            let outcome = evaluate(&bench, &space, &trial.arch);
            tell(&mut study, trial.number, outcome);
        }
        assert_eq!(keys(study.trials()), keys(&want.records), "{algo}");
    }
}

#[test]
fn bad_tells_are_refused() {
    let mut study = Study::new(Nb201Space::new(), settings(Algo::Random, 5, 0));
    let trial = study.ask().unwrap().unwrap();
    // One worker: the next trial waits for this one.
    assert!(study.ask().unwrap().is_none());
    assert_eq!(study.status(), StudyStatus::Waiting);
    let nan = Evaluation::new(f64::NAN, None, 0.0);
    assert!(matches!(
        study.tell(trial.number, Ok(nan)),
        Err(StudyError::NotFinite { number: 0, .. })
    ));
    assert!(matches!(
        study.tell(7, Err("x".into())),
        Err(StudyError::UnknownTrial(7))
    ));
    study
        .tell(trial.number, Ok(Evaluation::new(1.0, None, 0.0)))
        .unwrap();
    assert!(matches!(
        study.tell(trial.number, Ok(Evaluation::new(2.0, None, 0.0))),
        Err(StudyError::AlreadyTold(0))
    ));
    assert_eq!(study.trials().len(), 1);
}

#[test]
fn failures_count_and_not_evaluable_trials_cost_nothing() {
    let mut study = Study::new(Nb201Space::new(), settings(Algo::Random, 4, 0));
    let mut n = 0;
    while let Some(trial) = study.ask().unwrap() {
        n += 1;
        match n % 3 {
            0 => study.tell_not_evaluable(trial.number).unwrap(),
            1 => study.tell(trial.number, Err("crashed".into())).unwrap(),
            _ => study
                .tell(trial.number, Ok(Evaluation::new(n as f64, None, 0.0)))
                .unwrap(),
        }
    }
    // 4 paid queries (2 failed, 2 evaluated) and a free not-evaluable one.
    assert_eq!(n, 5);
    assert_eq!(study.trials().len(), 4);
    assert_eq!(study.run().not_evaluable, 1);
    assert_eq!(
        study.best().unwrap().result.as_ref().unwrap().objective,
        5.0
    );
}

#[test]
fn minimising_finds_the_smallest_and_tells_searchers_the_negation() {
    let space = Nb201Space::new();
    let bench = bench();
    let run = |direction| {
        let mut study = Study::new(
            Nb201Space::new(),
            StudySettings {
                direction,
                ..settings(Algo::Re, 60, 2)
            },
        );
        while let Some(trial) = study.ask().unwrap() {
            let Outcome::Evaluated(mut e) = evaluate(&bench, &space, &trial.arch) else {
                panic!("every NB201 cell is in the table");
            };
            if direction == Direction::Minimize {
                e.objective = 100.0 - e.objective; // the error
            }
            study.tell(trial.number, Ok(e)).unwrap();
        }
        let best = study.best().unwrap();
        (
            keys(study.trials()),
            best.key.clone(),
            best.result.clone().unwrap().objective,
        )
    };
    let (max_keys, max_best, acc) = run(Direction::Maximize);
    let (min_keys, min_best, err) = run(Direction::Minimize);
    // Evolution ranks by comparison: the error's ranking is the accuracy's reversed.
    assert_eq!(
        max_keys.iter().map(|k| &k.0).collect::<Vec<_>>(),
        min_keys.iter().map(|k| &k.0).collect::<Vec<_>>()
    );
    assert_eq!(max_best, min_best);
    assert!((100.0 - err - acc).abs() < 1e-9);
}

#[test]
fn enqueued_architectures_come_first_and_warm_starts_seed_the_searcher() {
    let space = Nb201Space::new();
    let bench = bench();
    let cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";
    let mut study = Study::new(Nb201Space::new(), settings(Algo::Re, 20, 0));
    study.enqueue(space.parse(cell).unwrap()).unwrap();
    let first = study.ask().unwrap().unwrap();
    assert_eq!(first.key, cell);

    // A full population from the warm start: evolution mutates its members (and then their
    // children) at once.
    let mut rng = crate::rng::rng_for(4, "warm");
    let pairs = sampled_pairs(&bench, ReConfig::default().population, &mut rng);
    let mut study = Study::new(Nb201Space::new(), settings(Algo::Re, 5, 0));
    study.warm_start(&pairs).unwrap();
    let mut members: Vec<_> = pairs.clone();
    while let Some(trial) = study.ask().unwrap() {
        let near = members.iter().any(|(a, _)| {
            a.0.iter()
                .zip(trial.arch.0.iter())
                .filter(|(x, y)| x != y)
                .count()
                == 1
        });
        assert!(near, "{} is not a mutant of the warm start", trial.key);
        members.push((trial.arch.clone(), 0.0));
        let outcome = evaluate(&bench, &space, &trial.arch);
        tell(&mut study, trial.number, outcome);
    }
    assert!(
        study
            .warm_start(&[(pairs[0].0.clone(), f64::INFINITY)])
            .is_err()
    );
}

#[test]
fn a_finished_study_is_extended_by_more_queries() {
    let space = Nb201Space::new();
    let bench = bench();
    let mut study = Study::new(Nb201Space::new(), settings(Algo::Re, 10, 1));
    let step = |study: &mut Study<Nb201Space>| {
        while let Some(trial) = study.ask().unwrap() {
            let outcome = evaluate(&bench, &space, &trial.arch);
            tell(study, trial.number, outcome);
        }
    };
    step(&mut study);
    assert_eq!(study.trials().len(), 10);
    assert_eq!(study.status(), StudyStatus::Finished(StopReason::Budget));
    study.extend(5).unwrap();
    step(&mut study);
    assert_eq!(study.trials().len(), 15);
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seminas-study-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_stored_study_dropped_at_any_point_reopens_without_losing_or_repeating_trials() {
    let space = Nb201Space::new();
    let bench = bench();
    let s = || StudySettings {
        workers: 2,
        ..settings(Algo::SemiNas, 24, 5)
    };
    let mut reference = Study::new(Nb201Space::new(), s());
    reference.optimize(&bench, &mut |_| {}).unwrap();
    let dir = tempdir("reopen");
    let mut evaluated = Vec::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let mut study = Study::open_or_create(Nb201Space::new(), s(), &dir).unwrap();
        // Stop (drop the study, as a killed process would) after a few tells.
        let mut tells = 0;
        let mut out = Vec::new();
        let mut stopped = false;
        loop {
            while let Some(trial) = study.ask().unwrap() {
                out.push(trial);
            }
            let Some(trial) = out.pop() else { break };
            if tells == 5 {
                stopped = true;
                break;
            }
            evaluated.push(trial.key.clone());
            let outcome = evaluate(&bench, &space, &trial.arch);
            tell(&mut study, trial.number, outcome);
            tells += 1;
        }
        if !stopped {
            assert_eq!(keys(study.trials()), keys(reference.trials()));
            assert_eq!(
                study.store().unwrap().status().unwrap(),
                crate::store::RunStatus::Finished
            );
            break;
        }
        assert!(rounds < 20);
    }
    // Every evaluation was made once: none lost, none repeated.
    let mut unique = evaluated.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), evaluated.len());
    assert_eq!(evaluated.len(), 24);
    // Other settings are refused.
    let other = Study::open_or_create(Nb201Space::new(), settings(Algo::Re, 24, 5), &dir);
    assert!(matches!(other, Err(StudyError::Mismatch { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stored_study_keeps_its_extension_when_reopened() {
    let bench = bench();
    let dir = tempdir("extend");
    let s = || settings(Algo::Re, 6, 2);
    let drain = |study: &mut Study<Nb201Space>, max: usize| drain(study, &bench, max);
    let uninterrupted = {
        let mut study = Study::new(Nb201Space::new(), s());
        drain(&mut study, 100);
        study.extend(4).unwrap();
        drain(&mut study, 100);
        study
            .trials()
            .iter()
            .map(|r| r.key.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(uninterrupted.len(), 10);
    {
        let mut study = Study::open_or_create(Nb201Space::new(), s(), &dir).unwrap();
        drain(&mut study, 100);
        assert_eq!(study.status(), StudyStatus::Finished(StopReason::Budget));
        study.extend(4).unwrap();
        drain(&mut study, 1);
        assert_eq!(study.trials().len(), 7);
    }
    let mut study = Study::open_or_create(Nb201Space::new(), s(), &dir).unwrap();
    drain(&mut study, 100);
    let keys: Vec<String> = study.trials().iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys, uninterrupted);
    drop(study);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Enqueued architectures and warm-start pairs are stored with the study: reopening it needs
/// no repeat, a repeat in the same order is not applied twice, and a corrupt record is a
/// clear error.
#[test]
fn a_stored_study_keeps_its_enqueued_and_warm_start_inputs() {
    let space = Nb201Space::new();
    let bench = bench();
    let s = || settings(Algo::Re, 14, 3);
    let mut rng = crate::rng::rng_for(9, "inputs");
    let pairs = sampled_pairs(&bench, 4, &mut rng);
    let (first, second) = (space.sample(&mut rng), space.sample(&mut rng));
    let feed = |study: &mut Study<Nb201Space>| {
        study.enqueue(first.clone()).unwrap();
        study.warm_start(&pairs).unwrap();
        study.enqueue(second.clone()).unwrap();
    };
    let drain = |study: &mut Study<Nb201Space>, max: usize| drain(study, &bench, max);
    let mut reference = Study::new(Nb201Space::new(), s());
    feed(&mut reference);
    drain(&mut reference, 100);
    let want = keys(reference.trials());
    assert_eq!(want[0].0, space.key(&first));
    assert_eq!(want[1].0, space.key(&second));
    for repeat in [false, true] {
        let dir = tempdir(&format!("inputs-{repeat}"));
        {
            let mut study = Study::open_or_create(Nb201Space::new(), s(), &dir).unwrap();
            feed(&mut study);
            drain(&mut study, 1);
        }
        {
            // Reopened between the two enqueued trials.
            let mut study = Study::open_or_create(Nb201Space::new(), s(), &dir).unwrap();
            if repeat {
                feed(&mut study);
            }
            drain(&mut study, 5);
        }
        let mut study = Study::open_or_create(Nb201Space::new(), s(), &dir).unwrap();
        drain(&mut study, 100);
        assert_eq!(keys(study.trials()), want, "repeat: {repeat}");
        drop(study);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    // A record that cannot be read says so, naming the folder.
    let dir = tempdir("inputs-corrupt");
    {
        let mut study = Study::open_or_create(Nb201Space::new(), s(), &dir).unwrap();
        feed(&mut study);
        study
            .store()
            .unwrap()
            .add_checkpoint(0, "study.input.0", b"{not json")
            .unwrap();
    }
    let err = Study::open_or_create(Nb201Space::new(), s(), &dir)
        .err()
        .expect("a corrupt record is refused")
        .to_string();
    assert!(
        err.contains("warm-start pairs") && err.contains("inputs-corrupt"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Fails every evaluation after the first `ok` ones.
struct FailingAfter {
    bench: TabularBenchmark,
    ok: usize,
    calls: std::sync::atomic::AtomicUsize,
}

impl Evaluator<Nb201Space> for FailingAfter {
    fn objective_name(&self) -> &str {
        "valid"
    }
    fn report_name(&self) -> &str {
        "test"
    }
    fn evaluate(&self, space: &Nb201Space, arch: &<Nb201Space as SearchSpace>::Arch) -> Outcome {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n < self.ok {
            evaluate(&self.bench, space, arch)
        } else {
            Outcome::Failed(format!("broken at call {n}"))
        }
    }
}

#[test]
fn the_stop_policy_halts_on_failures_and_finish_reports_all_failed() {
    let space = Nb201Space::new();
    let failing = |ok| FailingAfter {
        bench: bench(),
        ok,
        calls: Default::default(),
    };
    // The first 3 all failed: halted after exactly 3 queries, each recorded.
    let mut s = settings(Algo::Re, 20, 0);
    s.stop.max_failures = Some(3);
    let mut study = Study::new(space.clone(), s.clone());
    let err = study.optimize(&failing(0), &mut |_| {}).unwrap_err();
    assert!(
        matches!(&err, StudyError::Halted(Halt::AllFailed { count: 3, last }) if last == "broken at call 2"),
        "{err}"
    );
    assert_eq!(study.run().records.len(), 3);
    // A success among the first 3: no halt, the budget is spent; finish summarises it.
    let mut study = Study::new(space.clone(), s);
    study.optimize(&failing(1), &mut |_| {}).unwrap();
    assert_eq!(study.run().records.len(), 20);
    let (summary, _) = study.finish(&bench()).unwrap();
    assert_eq!(summary.queries, 20);
    assert!(summary.best.is_some());
    // Without a policy every evaluation fails, and finish says so.
    let mut study = Study::new(space, settings(Algo::Re, 5, 0));
    study.optimize(&failing(0), &mut |_| {}).unwrap();
    let err = study.finish(&bench()).unwrap_err();
    assert!(
        matches!(err, StudyError::AllFailed { count: 5, .. }),
        "{err}"
    );
}

#[test]
fn a_time_budget_plans_for_the_whole_trainings_it_holds() {
    let mut s = StudySettings::new(100, 0);
    s.time_budget(TimeBudget::Trainings(25.0), None, Some(4.0))
        .unwrap();
    assert_eq!(
        (s.budget_seconds, s.queries, s.plan),
        (Some(100.0), usize::MAX, Some(25))
    );
    s.time_budget(TimeBudget::Seconds(10.0), Some(7), Some(4.0))
        .unwrap();
    assert_eq!(
        (s.budget_seconds, s.queries, s.plan),
        (Some(10.0), 7, Some(7))
    );
    s.time_budget(TimeBudget::Seconds(10.0), None, None)
        .unwrap();
    assert_eq!((s.queries, s.plan), (usize::MAX, Some(100)));
    let e = s
        .time_budget(TimeBudget::Trainings(3.0), None, None)
        .unwrap_err();
    assert!(e.to_string().contains("budget-trainings = 3"), "{e}");
    assert!(
        s.time_budget(TimeBudget::Trainings(1e300), None, Some(4.0))
            .is_err()
    );
}
