use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::benchmark::TabularBenchmark;
use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
use crate::evaluator::Evaluator;
use crate::search::{Algo, AlgoConfig};
use crate::space::{CategoricalArch, Nb201Space};
use crate::study::Budget;
use crate::study::engine::{DriveError, DriveOptions, NoJournal, drive};

fn meta(seed: u64) -> RunMeta {
    RunMeta {
        args: vec!["search".into(), "--seed".into(), seed.to_string()],
        cwd: PathBuf::from("/somewhere"),
        seed,
        version: "test".into(),
        run_id: format!("run{seed}"),
    }
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seminas-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_run_is_created_once_locked_and_reopened_with_its_settings() {
    let dir = tempdir("lock");
    let store = RunStore::create(&dir, &meta(7)).unwrap();
    let err = RunStore::open(&dir).err().unwrap().to_string();
    assert!(err.contains("in use by another seminas process"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(store);
    let err = RunStore::create(&dir, &meta(7)).err().unwrap().to_string();
    assert!(err.contains("already holds a run"), "{err}");
    let (store, m) = RunStore::open(&dir).unwrap();
    assert_eq!(m, meta(7));
    assert_eq!(store.status().unwrap(), RunStatus::Running);
    let err = RunStore::open(&dir.join("nothing"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("run.sqlite is missing"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn outcomes_round_trip_and_gaps_are_reported() {
    let dir = tempdir("roundtrip");
    let store = RunStore::create(&dir, &meta(1)).unwrap();
    let mut e = Evaluation::new(91.5, Some(90.25), 12.0);
    e.metrics.insert("loss".into(), 0.125);
    store.add_proposal(0, "a", "\"a\"").unwrap();
    store.add_proposal(1, "b", "\"b\"").unwrap();
    store.add_proposal(2, "c", "\"c\"").unwrap();
    store
        .add_outcome(0, &Outcome::Evaluated(e.clone()))
        .unwrap();
    store
        .add_outcome(2, &Outcome::Failed("exit status 1".into()))
        .unwrap();
    store.add_checkpoint(3, "controller", &[1, 2, 3]).unwrap();
    store.add_checkpoint(5, "controller", &[4]).unwrap();
    let r = store.replay().unwrap();
    assert_eq!(
        r.keys,
        [Some("a".into()), Some("b".into()), Some("c".into())]
    );
    assert_eq!(r.outcomes.len(), 2);
    assert_eq!(r.outcomes[&0], Outcome::Evaluated(e));
    assert_eq!(r.outcomes[&2], Outcome::Failed("exit status 1".into()));
    assert_eq!(
        store.latest_checkpoint("controller").unwrap(),
        Some((5, vec![4]))
    );
    let n: i64 = store
        .conn
        .query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    // An evaluation recorded twice is refused (nothing is evaluated twice).
    assert!(store.add_outcome(0, &Outcome::NotEvaluable).is_err());
    store
        .conn
        .execute("DELETE FROM proposals WHERE idx = 1", [])
        .unwrap();
    let err = store.replay().err().unwrap().to_string();
    assert!(
        err.contains("run.sqlite: table proposals: index 2 where 1 was expected"),
        "{err}"
    );
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The NB201 table, answering after a short random delay so that parallel evaluations finish
/// in a different order every time.
struct Jittery(TabularBenchmark, AtomicUsize);

impl Evaluator<Nb201Space> for Jittery {
    fn objective_name(&self) -> &str {
        NB201_OBJECTIVE
    }
    fn report_name(&self) -> &str {
        NB201_REPORT
    }
    fn evaluate(&self, space: &Nb201Space, arch: &CategoricalArch) -> Outcome {
        let n = self.1.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        std::thread::sleep(Duration::from_micros(u64::from((nanos ^ n as u32) % 3000)));
        self.0.evaluate(space, arch)
    }
}

/// A journal that records into a store and "dies" after `left` finished evaluations (or, with
/// `proposals_left`, after that many new proposals).
struct Dying<'a, S> {
    inner: StoreJournal<'a, S>,
    left: usize,
    proposals_left: Option<usize>,
}

impl<'a, S: SearchSpace> Dying<'a, S> {
    fn new(inner: StoreJournal<'a, S>, left: usize) -> Self {
        Self {
            inner,
            left,
            proposals_left: None,
        }
    }
    fn die(&mut self) -> Result<(), JournalError> {
        if self.left == 0 {
            return Err("killed".into());
        }
        self.left -= 1;
        Ok(())
    }
}

impl<S: SearchSpace> Journal<S::Arch> for Dying<'_, S> {
    fn proposed(&mut self, i: usize, k: &str, a: &S::Arch) -> Result<(), JournalError> {
        if let Some(left) = &mut self.proposals_left {
            if *left == 0 {
                return Err("killed".into());
            }
            *left -= 1;
        }
        self.inner.proposed(i, k, a)
    }
    fn finished(&mut self, i: usize, k: &str, o: &Outcome) -> Result<(), JournalError> {
        self.die()?;
        self.inner.finished(i, k, o)
    }
    fn repeated(&mut self, i: usize) -> Result<(), JournalError> {
        self.inner.repeated(i)
    }
    fn finished_with_state(
        &mut self,
        i: usize,
        k: &str,
        o: &Outcome,
        state: &EvaluatorState,
    ) -> Result<(), JournalError> {
        self.die()?;
        self.inner.finished_with_state(i, k, o, state)
    }
}

fn keys_and_results(run: &crate::study::SearchRun<CategoricalArch>) -> Vec<(String, Option<f64>)> {
    run.records
        .iter()
        .map(|r| (r.key.clone(), r.result.as_ref().ok().map(|e| e.objective)))
        .collect()
}

#[test]
fn interrupted_parallel_runs_resume_to_the_uninterrupted_result() {
    let space = Nb201Space::new();
    let bench = Jittery(
        nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap(),
        AtomicUsize::new(0),
    );
    let budget = Budget {
        workers: 3,
        ..Budget::queries(60)
    };
    for algo in [Algo::Re, Algo::SemiNasRe] {
        let build = || algo.build(&space, 4, 60, &AlgoConfig::default());
        let mut s = build();
        let reference = drive(
            &space,
            &bench,
            s.as_mut(),
            budget,
            DriveOptions::default(),
            &mut NoJournal,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(reference.records.len(), 60);
        // The same run with 3 workers again: the same proposals despite the jitter.
        let mut s = build();
        let again = drive(
            &space,
            &bench,
            s.as_mut(),
            budget,
            DriveOptions::default(),
            &mut NoJournal,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(
            keys_and_results(&again),
            keys_and_results(&reference),
            "{algo}"
        );

        let dir = tempdir(&format!("resume-{algo}"));
        drop(RunStore::create(&dir, &meta(4)).unwrap());
        let mut kills = 0;
        let finished = loop {
            let (store, _) = RunStore::open(&dir).unwrap();
            let replay = store.replay().unwrap();
            let done_before = replay.outcomes.len();
            let mut journal = Dying::new(store.journal(&space), 7);
            let mut s = build();
            let options = DriveOptions {
                workdirs: None,
                replay: Some(replay),
                ..DriveOptions::default()
            };
            match drive(
                &space,
                &bench,
                s.as_mut(),
                budget,
                options,
                &mut journal,
                &mut |_| {},
            ) {
                Ok(run) => break run,
                Err(DriveError::Journal(_)) => {
                    kills += 1;
                    // Every kill keeps what finished before it.
                    let stored = store.replay().unwrap().outcomes.len();
                    assert_eq!(stored, done_before + 7);
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert!(kills >= 7, "{algo}: {kills} kills");
        assert_eq!(
            keys_and_results(&finished),
            keys_and_results(&reference),
            "{algo}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_changed_setting_is_detected_on_resume() {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let dir = tempdir("diverge");
    let store = RunStore::create(&dir, &meta(1)).unwrap();
    let mut s = Algo::Random.build(&space, 1, 20, &AlgoConfig::default());
    drive(
        &space,
        &bench,
        s.as_mut(),
        Budget::queries(20),
        DriveOptions::default(),
        &mut store.journal(&space),
        &mut |_| {},
    )
    .unwrap();
    let mut s = Algo::Random.build(&space, 2, 20, &AlgoConfig::default());
    let options = DriveOptions {
        workdirs: None,
        replay: Some(store.replay().unwrap()),
        ..DriveOptions::default()
    };
    let err = drive(
        &space,
        &bench,
        s.as_mut(),
        Budget::queries(20),
        options,
        &mut NoJournal,
        &mut |_| {},
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("cannot resume: proposal 0 is"), "{err}");
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_newest_trained_controller_is_stored_and_loads() {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let dir = tempdir("checkpoint");
    let store = RunStore::create(&dir, &meta(2)).unwrap();
    let mut s = Algo::SemiNas.build(&space, 2, 30, &AlgoConfig::default());
    let run = drive(
        &space,
        &bench,
        s.as_mut(),
        Budget::queries(30),
        DriveOptions::default(),
        &mut store.journal(&space),
        &mut |_| {},
    )
    .unwrap();
    let (told, bytes) = store.latest_checkpoint("controller").unwrap().unwrap();
    // SemiNAS trains before its last round: 10 random, then rounds of 5.
    assert_eq!(told, 25);
    let path = dir.join("controller.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let controller = crate::controller::Controller::load(&path).unwrap();
    let seqs: Vec<Vec<u32>> = run.records.iter().map(|r| space.encode(&r.arch)).collect();
    assert!(controller.predict(&seqs).iter().all(|p| p.is_finite()));
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_outcome_and_the_evaluator_state_after_it_are_written_together() {
    let dir = tempdir("state");
    let store = RunStore::create(&dir, &meta(3)).unwrap();
    for i in 0..3 {
        store.add_proposal(i, &format!("k{i}"), "\"a\"").unwrap();
    }
    let done = |o: f64| Outcome::Evaluated(Evaluation::new(o, None, 1.0));
    store
        .add_outcome_with_state(0, &done(1.0), "supernet", &[1])
        .unwrap();
    store.add_checkpoint(1, "supernet", &[9]).unwrap();
    store
        .add_outcome_with_state(1, &done(2.0), "supernet", &[2, 2])
        .unwrap();
    // The newest state replaces the older one and is apart from searcher checkpoints.
    assert_eq!(
        store.evaluator_state("supernet").unwrap(),
        Some((1, vec![2, 2]))
    );
    assert_eq!(
        store.latest_checkpoint("supernet").unwrap(),
        Some((1, vec![9]))
    );
    // A write that fails half-way (here: the state's insert) leaves neither the outcome nor
    // the state, as a kill between the two would.
    store
        .conn
        .execute_batch(
            "CREATE TRIGGER die BEFORE INSERT ON checkpoints
             BEGIN SELECT RAISE(ABORT, 'killed'); END;",
        )
        .unwrap();
    let err = store
        .add_outcome_with_state(2, &done(3.0), "supernet", &[3])
        .unwrap_err()
        .to_string();
    assert!(err.contains("killed"), "{err}");
    let replay = store.replay().unwrap();
    assert_eq!(replay.outcomes.len(), 2);
    assert!(!replay.outcomes.contains_key(&2));
    assert_eq!(
        store.evaluator_state("supernet").unwrap(),
        Some((1, vec![2, 2]))
    );
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The supernet's kill-and-resume test (it needs the built-in trainer).
#[cfg(feature = "trainer")]
mod with_trainer {
    use super::*;
    use crate::space::mobile::MobileSpace;
    use crate::study::engine::{Restored, restore_evaluator};
    use crate::trainer::Dataset;
    use crate::trainer::supernet::{STATE_NAME, SupernetConfig, SupernetEvaluator};

    /// A small supernet on the digits, one thread (results are exact for a fixed thread count).
    fn supernet() -> SupernetEvaluator {
        let config = SupernetConfig {
            steps_per_eval: 2,
            batch_size: 16,
            eval_images: 100,
            train_subset: Some(400),
            threads: 1,
            ..SupernetConfig::default()
        };
        SupernetEvaluator::new(config, Dataset::digits(), &MobileSpace::paper())
            .unwrap()
            .reseed(9)
            .unwrap()
    }

    fn bit_exact<A>(run: &crate::study::SearchRun<A>) -> Vec<(String, Option<u64>)> {
        run.records
            .iter()
            .map(|r| {
                let objective = r.result.as_ref().ok().map(|e| e.objective.to_bits());
                (r.key.clone(), objective)
            })
            .collect()
    }

    #[test]
    fn a_killed_supernet_search_resumes_to_the_uninterrupted_labels() {
        let space = MobileSpace::paper();
        let config = AlgoConfig {
            re: crate::search::ReConfig {
                population: 3,
                tournament: 2,
                ..Default::default()
            },
            ..AlgoConfig::default()
        };
        let build = || Algo::Re.build(&space, 6, 8, &config);
        let budget = Budget::queries(8);
        let mut s = build();
        let reference = drive(
            &space,
            &supernet(),
            s.as_mut(),
            budget,
            DriveOptions::default(),
            &mut NoJournal,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(reference.records.len(), 8);
        // Labels differ between architectures: the comparison below is not of constants.
        let labels: std::collections::BTreeSet<u64> =
            bit_exact(&reference).iter().filter_map(|r| r.1).collect();
        assert!(labels.len() > 2, "{labels:?}");

        // Kills after (outcomes written, new proposals written); `None`: no proposal limit. A kill
        // at an outcome write loses an evaluation the supernet has already trained for: the
        // resumed run must make it again from the stored state.
        let kills = [(2, None), (0, None), (1, Some(1)), (2, Some(0)), (1, None)];
        let dir = tempdir("supernet");
        drop(RunStore::create(&dir, &meta(6)).unwrap());
        let mut round = 0;
        let finished = loop {
            let (store, _) = RunStore::open(&dir).unwrap();
            let replay = store.replay().unwrap();
            // A new process: a new supernet, restored from the store.
            let evaluator = supernet();
            let stored = store.evaluator_state(STATE_NAME).unwrap();
            let restored =
                restore_evaluator::<MobileSpace, _>(&evaluator, &replay, stored).unwrap();
            match replay.outcomes.keys().max() {
                Some(&newest) => assert_eq!(restored, Restored::State { after: newest }),
                None => assert_eq!(restored, Restored::Nothing),
            }
            let (left, proposals_left) = kills.get(round).copied().unwrap_or((usize::MAX, None));
            let mut journal = Dying {
                inner: store.journal(&space),
                left,
                proposals_left,
            };
            let options = DriveOptions {
                workdirs: None,
                replay: Some(replay),
                ..DriveOptions::default()
            };
            let mut s = build();
            match drive(
                &space,
                &evaluator,
                s.as_mut(),
                budget,
                options,
                &mut journal,
                &mut |_| {},
            ) {
                Ok(run) => break run,
                Err(DriveError::Journal(_)) => round += 1,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(round, kills.len());
        assert_eq!(bit_exact(&finished), bit_exact(&reference));

        // Without the state after the newest outcome (a run stored before states were kept), the
        // resume says so; a stateful evaluator is refused more than one worker.
        let (store, _) = RunStore::open(&dir).unwrap();
        let replay = store.replay().unwrap();
        store
            .conn
            .execute(
                "DELETE FROM checkpoints WHERE name = 'evaluator:supernet'",
                [],
            )
            .unwrap();
        let restored = restore_evaluator::<MobileSpace, _>(
            &supernet(),
            &replay,
            store.evaluator_state(STATE_NAME).unwrap(),
        )
        .unwrap();
        assert_eq!(
            restored,
            Restored::Missing {
                outcomes: replay.outcomes.len(),
                stored_after: None
            }
        );
        let mut s = build();
        let err = drive(
            &space,
            &supernet(),
            s.as_mut(),
            Budget {
                workers: 2,
                ..budget
            },
            DriveOptions::default(),
            &mut NoJournal,
            &mut |_| {},
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("runs with one worker, not 2"), "{err}");
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The NB201 table where only about a quarter of the cells are evaluable (the others are
/// free proposals), answering after a short random delay as [`Jittery`] does.
struct Sparse(Jittery);

impl Evaluator<Nb201Space> for Sparse {
    fn objective_name(&self) -> &str {
        NB201_OBJECTIVE
    }
    fn report_name(&self) -> &str {
        NB201_REPORT
    }
    fn evaluate(&self, space: &Nb201Space, arch: &CategoricalArch) -> Outcome {
        let key = space.key(arch);
        if key
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31) ^ u32::from(b))
            % 4
            != 0
        {
            return Outcome::NotEvaluable;
        }
        self.0.evaluate(space, arch)
    }
}

fn count(store: &RunStore, sql: &str) -> i64 {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Issue 28, defect 4: free proposals (repeats, not evaluable) are kept as ranges of indices,
/// not a row each, and a run killed again and again (with parallel workers) still resumes to
/// the uninterrupted result: the same queries, repeats and not-evaluable counts.
#[test]
fn free_proposals_are_kept_as_ranges_and_killed_runs_resume_to_the_same_result() {
    let space = Nb201Space::new();
    let bench = Sparse(Jittery(
        nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap(),
        AtomicUsize::new(0),
    ));
    let budget = Budget {
        workers: 2,
        ..Budget::queries(40)
    };
    for algo in [Algo::Random, Algo::Re] {
        let build = || algo.build(&space, 3, 40, &AlgoConfig::default());
        let mut s = build();
        let reference = drive(
            &space,
            &bench,
            s.as_mut(),
            budget,
            DriveOptions::default(),
            &mut NoJournal,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(reference.records.len(), 40);
        assert!(reference.not_evaluable > 40, "{}", reference.not_evaluable);
        let dir = tempdir(&format!("free-{algo}"));
        drop(RunStore::create(&dir, &meta(3)).unwrap());
        let mut kills = 0;
        let (finished, store) = loop {
            let (store, _) = RunStore::open(&dir).unwrap();
            let replay = store.replay().unwrap();
            let mut journal = Dying::new(store.journal(&space), 23);
            let mut s = build();
            let options = DriveOptions {
                workdirs: None,
                replay: Some(replay),
                ..DriveOptions::default()
            };
            match drive(
                &space,
                &bench,
                s.as_mut(),
                budget,
                options,
                &mut journal,
                &mut |_| {},
            ) {
                Ok(run) => break (run, store),
                Err(DriveError::Journal(_)) => kills += 1,
                Err(e) => panic!("{e}"),
            }
        };
        assert!(kills >= 3, "{algo}: {kills} kills");
        assert_eq!(
            keys_and_results(&finished),
            keys_and_results(&reference),
            "{algo}"
        );
        assert_eq!(finished.not_evaluable, reference.not_evaluable, "{algo}");
        assert_eq!(finished.repeats, reference.repeats, "{algo}");
        // One row per paid query; the free ones are ranges between them.
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM proposals"),
            40,
            "{algo}"
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM evaluations"),
            40,
            "{algo}"
        );
        assert!(count(&store, "SELECT COUNT(*) FROM free") <= 41, "{algo}");
        let free = (reference.not_evaluable + reference.repeats) as i64;
        assert!(
            count(&store, "SELECT SUM(last - first + 1) FROM free") >= free,
            "{algo}"
        );
        assert_eq!(
            count(&store, "SELECT SUM(not_evaluable) FROM free") as usize,
            reference.not_evaluable,
            "{algo}"
        );
        let view = RunView::open(&dir).unwrap();
        assert_eq!(view.not_evaluable, reference.not_evaluable, "{algo}");
        assert_eq!(view.trials.len(), 40, "{algo}");
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A search that stalls on free proposals stores one range, whatever their number, and its
/// resume replays them without storing anything more.
#[test]
fn a_stalled_run_stores_one_range_and_resumes() {
    struct Nothing;
    impl Evaluator<Nb201Space> for Nothing {
        fn objective_name(&self) -> &str {
            "val"
        }
        fn report_name(&self) -> &str {
            "test"
        }
        fn evaluate(&self, _: &Nb201Space, _: &CategoricalArch) -> Outcome {
            Outcome::NotEvaluable
        }
    }
    let space = Nb201Space::new();
    let budget = Budget {
        max_free_proposals: 5000,
        ..Budget::queries(5)
    };
    let dir = tempdir("stall");
    let store = RunStore::create(&dir, &meta(1)).unwrap();
    let mut s = Algo::Random.build(&space, 1, 5, &AlgoConfig::default());
    let run = drive(
        &space,
        &Nothing,
        s.as_mut(),
        budget,
        DriveOptions::default(),
        &mut store.journal(&space),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(run.records.len(), 0);
    assert_eq!(run.not_evaluable + run.repeats, 5000);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM proposals"), 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM evaluations"), 0);
    assert_eq!(
        count(&store, "SELECT first FROM free"),
        0,
        "one range from 0"
    );
    assert_eq!(count(&store, "SELECT last FROM free"), 4999);
    let replay = store.replay().unwrap();
    assert_eq!(replay.keys.len(), 5000);
    let mut s = Algo::Random.build(&space, 1, 5, &AlgoConfig::default());
    let options = DriveOptions {
        workdirs: None,
        replay: Some(replay),
        ..DriveOptions::default()
    };
    let again = drive(
        &space,
        &Nothing,
        s.as_mut(),
        budget,
        options,
        &mut store.journal(&space),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(again.not_evaluable, run.not_evaluable);
    assert_eq!(again.repeats, run.repeats);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM free"), 1);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A run stored in format 1 (a row per free proposal) is read, resumed and upgraded.
#[test]
fn format_1_runs_are_read_and_upgraded() {
    let dir = tempdir("format1");
    let store = RunStore::create(&dir, &meta(2)).unwrap();
    store.add_proposal(0, "a", "{}").unwrap();
    store.add_proposal(1, "b", "{}").unwrap();
    store.add_outcome(1, &Outcome::NotEvaluable).unwrap();
    store
        .conn
        .execute_batch("DROP TABLE free; UPDATE meta SET value = '1' WHERE key = 'format';")
        .unwrap();
    drop(store);
    let (store, _) = RunStore::open(&dir).unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'format'"
        ),
        2
    );
    let r = store.replay().unwrap();
    assert_eq!(r.keys, [Some("a".into()), Some("b".into())]);
    assert_eq!(r.outcomes[&1], Outcome::NotEvaluable);
    store.add_free(2, true).unwrap();
    store.add_free(3, false).unwrap();
    assert!(store.add_free(3, false).is_err(), "free twice");
    assert!(store.add_free(1, true).is_err(), "free after an outcome");
    assert_eq!(store.replay().unwrap().keys.len(), 4);
    store
        .conn
        .execute("UPDATE meta SET value = '3' WHERE key = 'format'", [])
        .unwrap();
    drop(store);
    let err = RunStore::open(&dir).err().unwrap().to_string();
    assert!(err.contains("run format 3"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
