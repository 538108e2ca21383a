//! Tests of the search module's shared parts: the driver's accounting, the algorithms'
//! settings and determinism.

use super::*;
use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
use crate::space::Nb201Space;
use crate::study::{Budget, StopReason, run_search};

/// Proposes a fixed list, then nothing.
struct Scripted(Vec<&'static str>, Vec<Feedback>);
impl Searcher<Nb201Space> for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn ask(&mut self, space: &Nb201Space, _max: usize) -> Vec<crate::space::CategoricalArch> {
        if self.0.is_empty() {
            return vec![];
        }
        vec![space.parse(self.0.remove(0)).unwrap()]
    }
    fn tell(&mut self, _: &Nb201Space, _: &crate::space::CategoricalArch, f: Feedback) {
        self.1.push(f);
    }
}

#[test]
fn overrides_no_algorithm_run_uses_are_named() {
    let o = AlgoOverrides {
        pseudo: Some(100),
        population: Some(30),
        ..AlgoOverrides::default()
    };
    // SemiNAS-Ens uses none of them; the first set one is named.
    let unused = o.unused_by(&[Algo::SemiNasEns]).unwrap();
    assert_eq!(unused.name, "population");
    assert_eq!(
        unused.to_string(),
        "--population is a setting of re, seminas-re; seminas-ens does not use it"
    );
    // NAO has no pseudo-labels, RE no controller: each alone leaves one unused.
    assert_eq!(o.unused_by(&[Algo::Nao]).unwrap().name, "population");
    assert_eq!(o.unused_by(&[Algo::Re]).unwrap().name, "pseudo");
    // A bench of both uses both; SemiNAS-RE alone uses both.
    assert_eq!(o.unused_by(&[Algo::Re, Algo::SemiNas]), None);
    assert_eq!(o.unused_by(&[Algo::SemiNasRe]), None);
    assert_eq!(AlgoOverrides::default().unused_by(&[Algo::Random]), None);
}

#[test]
fn the_paper_preset_stops_early_unless_told_off() {
    let cfg = |preset: Option<Preset>, es: Option<&str>| {
        AlgoOverrides {
            preset,
            early_stopping: es.map(str::to_string),
            ..AlgoOverrides::default()
        }
        .config()
        .map(|c| c.seminas_config(SemiNasConfig::for_budget(100), 32))
    };
    let paper = cfg(Some(Preset::Paper), None).unwrap();
    assert_eq!(paper.controller.early_stopping, Some(PAPER_EARLY_STOPPING));
    assert_eq!(
        (
            paper.trainings.pretrain_epochs,
            paper.trainings.train_epochs
        ),
        (1000, 500)
    );
    // `off` restores the paper's fixed schedule exactly.
    let plain = cfg(Some(Preset::Paper), Some("off")).unwrap();
    assert_eq!(plain, SemiNasConfig::paper());
    // Without a preset it is off unless asked for.
    let d = cfg(None, None).unwrap();
    assert_eq!(d.controller.early_stopping, None);
    assert_eq!(d.controller.hidden, 32);
    let on = cfg(None, Some(" 0.2/5 ")).unwrap();
    let want = EarlyStopping {
        held_out: 0.2,
        patience: 5,
        on: StopOn::Loss,
        second_only: false,
    };
    assert_eq!(on.controller.early_stopping, Some(want));
    let tau = cfg(None, Some("0.1/30/tau")).unwrap();
    let want = EarlyStopping {
        held_out: 0.1,
        patience: 30,
        on: StopOn::Tau,
        second_only: false,
    };
    assert_eq!(tau.controller.early_stopping, Some(want.clone()));
    let second = cfg(None, Some("0.1/30/tau/second")).unwrap();
    let want = EarlyStopping {
        second_only: true,
        ..want
    };
    assert_eq!(second.controller.early_stopping, Some(want));
    for bad in [
        "",
        "on",
        "0.1",
        "1.5/10",
        "0/10",
        "0.1/0",
        "0.1/x",
        "0.1/10/mse",
        "0.1/10/second/tau",
    ] {
        let e = cfg(None, Some(bad)).unwrap_err();
        assert!(e.contains("early stopping"), "{bad}: {e}");
    }
}

#[test]
fn repeats_cost_nothing_and_are_told_again() {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let a = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    let b = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";
    let mut s = Scripted(vec![a, a, b, a], vec![]);
    let mut seen = 0;
    let run = run_search(&space, &bench, &mut s, Budget::queries(10), &mut |_| {
        seen += 1
    });
    assert_eq!(run.records.len(), 2);
    assert_eq!(seen, 2);
    assert_eq!(run.repeats, 2);
    assert_eq!(run.stop, StopReason::Exhausted);
    assert_eq!(s.1.len(), 4);
    assert_eq!(s.1[0], s.1[1]);
    assert_eq!(s.1[0], Feedback::Objective(90.7693));
    assert_eq!(
        run.records[1].result.as_ref().unwrap().report,
        Some(85.8633)
    );
    assert_eq!(run.best().unwrap().key, a);
}

#[test]
fn budget_stops_the_search() {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let a = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    let b = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";
    let mut s = Scripted(vec![a, b], vec![]);
    let run = run_search(&space, &bench, &mut s, Budget::queries(1), &mut |_| {});
    assert_eq!(run.records.len(), 1);
    assert_eq!(run.stop, StopReason::Budget);
}

#[test]
fn random_search_with_the_whole_table_finds_the_best_cell() {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let mut s = Algo::Random.build(&space, 11, 20_000, &AlgoConfig::default());
    let run = run_search(
        &space,
        &bench,
        s.as_mut(),
        Budget::queries(20_000),
        &mut |_| {},
    );
    assert_eq!(run.records.len(), 15_625);
    assert_eq!(run.stop, StopReason::Exhausted);
    assert_eq!(run.repeats, 0);
    let best = run.best().unwrap();
    let idx = bench.table().metric_index("index").unwrap();
    assert_eq!(bench.table().get(&best.key).unwrap()[idx], 6111.0);
    assert_eq!(best.result.as_ref().unwrap().report, Some(94.3733));
}

#[test]
fn searchers_are_deterministic_per_seed() {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    // Short controller trainings: the test is of determinism, not of quality (CI time).
    let quick = AlgoOverrides {
        pretrain_epochs: Some(15),
        controller_epochs: Some(5),
        pseudo: Some(100),
        ..AlgoOverrides::default()
    }
    .config()
    .unwrap();
    for algo in Algo::ALL {
        let keys = |seed| {
            let mut s = algo.build(&space, seed, 40, &quick);
            run_search(&space, &bench, s.as_mut(), Budget::queries(40), &mut |_| {})
                .records
                .into_iter()
                .map(|r| r.key)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(5), keys(5), "{algo}");
        assert_ne!(keys(5), keys(6), "{algo}");
    }
}

#[test]
fn regularized_evolution_ages_out_and_mutates_winners() {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let cfg = ReConfig {
        population: 10,
        tournament: 3,
        max_retries: 100,
    };
    let mut re = RegularizedEvolution::new(cfg, crate::rng::rng_for(1, "t"));
    let run = run_search(&space, &bench, &mut re, Budget::queries(50), &mut |_| {});
    let pop: Vec<_> = re.population().map(|(a, _)| space.key(a)).collect();
    // The population is exactly the 10 youngest evaluated architectures.
    let last: Vec<_> = run.records[40..].iter().map(|r| r.key.clone()).collect();
    assert_eq!(pop, last);
    // Every child differs from some earlier member by exactly one edge.
    for (i, r) in run.records.iter().enumerate().skip(10) {
        let child = space.parse(&r.key).unwrap();
        let close = run.records[..i].iter().any(|p| {
            let p = space.parse(&p.key).unwrap();
            p.0.iter()
                .zip(child.0.iter())
                .filter(|(a, b)| a != b)
                .count()
                == 1
        });
        assert!(close, "query {} is not a one-step mutant", r.n);
    }
    // Evolution beats the mean of random architectures by a wide margin.
    let best = run.best().unwrap().result.as_ref().unwrap().objective;
    assert!(best > 88.0, "best {best}");
}

#[test]
fn settings_out_of_range_name_the_setting() {
    let over = SemiNasOverrides {
        pseudo: Some(usize::MAX),
        ..SemiNasOverrides::default()
    };
    assert_eq!(over.validate().unwrap_err().setting, "pseudo");
    let re = SemiNasReConfig {
        children: usize::MAX,
        ..SemiNasReConfig::default()
    };
    assert_eq!(re.validate().unwrap_err().setting, "children");
    assert!(AlgoConfig::default().validate().is_ok());
    let b = Budget {
        workers: 0,
        ..Budget::queries(3)
    };
    assert_eq!(b.validate().unwrap_err().setting, "workers");
}

/// Searches whose controller meets objectives too large to standardise (the recovery of
/// `predictor::recover`).
mod recovery {
    use crate::benchmark::TabularBenchmark;
    use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
    use crate::controller::ControllerConfig;
    use crate::evaluator::{Evaluator, Outcome};
    use crate::predictor::Trainings;
    use crate::rng::rng_for;
    use crate::search::{
        Algo, AlgoConfig, SemiNas, SemiNasConfig, SemiNasOverrides, SemiNasRe, SemiNasReConfig,
    };
    use crate::space::{CategoricalArch, Nb201Space};
    use crate::study::{Budget, StopReason, run_search};

    /// NAS-Bench-201 with every objective multiplied by 1e306 (about 9e307: two of them
    /// already overflow a sum).
    struct Huge(TabularBenchmark);
    impl Evaluator<Nb201Space> for Huge {
        fn objective_name(&self) -> &str {
            "huge"
        }
        fn report_name(&self) -> &str {
            "huge"
        }
        fn evaluate(&self, space: &Nb201Space, arch: &CategoricalArch) -> Outcome {
            match self.0.evaluate(space, arch) {
                Outcome::Evaluated(mut e) => {
                    e.objective *= 1e306;
                    Outcome::Evaluated(e)
                }
                other => other,
            }
        }
    }

    #[test]
    fn huge_finite_objectives_do_not_stop_predictor_searches() {
        let space = Nb201Space::new();
        let bench = Huge(nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap());
        let config = AlgoConfig {
            seminas: SemiNasOverrides {
                pseudo: Some(50),
                pretrain_epochs: Some(5),
                train_epochs: Some(2),
                ..SemiNasOverrides::default()
            },
            seminas_re: SemiNasReConfig {
                population: 5,
                pseudo: 50,
                trainings: Trainings {
                    pretrain_epochs: 5,
                    train_epochs: 2,
                    ..SemiNasReConfig::default().trainings
                },
                ..SemiNasReConfig::default()
            },
            ..AlgoConfig::default()
        };
        for algo in [Algo::Nao, Algo::SemiNas, Algo::SemiNasRe] {
            let mut s = algo.build(&space, 1, 24, &config);
            let run = run_search(&space, &bench, s.as_mut(), Budget::queries(24), &mut |_| {});
            assert_eq!(run.records.len(), 24, "{algo}");
            assert_eq!(run.stop, StopReason::Budget, "{algo}");
        }
    }

    #[test]
    fn a_controller_that_cannot_be_built_falls_back_and_the_budget_is_spent() {
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let broken = ControllerConfig {
            hidden: 0,
            ..ControllerConfig::default()
        };
        let mut s = SemiNas::new(
            SemiNasConfig {
                controller: broken.clone(),
                ..SemiNasConfig::for_budget(30)
            },
            rng_for(2, "t"),
        );
        let run = run_search(&space, &bench, &mut s, Budget::queries(30), &mut |_| {});
        assert_eq!((run.records.len(), run.repeats), (30, 0));
        assert!(s.controller_failures() >= 1);
        assert_eq!(s.generated, 0);
        let mut s = SemiNasRe::new(
            SemiNasReConfig {
                controller: broken,
                ..SemiNasReConfig::default()
            },
            rng_for(2, "t"),
        );
        let run = run_search(&space, &bench, &mut s, Budget::queries(30), &mut |_| {});
        assert_eq!((run.records.len(), run.repeats), (30, 0));
        assert!(s.controller_failures() >= 1);
    }
}
