//! A controller that cannot be built or trained must not stop a search: the searchers call
//! these helpers, which log the error and let that round fall back to random sampling or
//! plain mutation.

use crate::controller::{Controller, ControllerConfig, ControllerError};
use crate::rng::Rng;
use crate::space::TokenEncoding;

/// The searcher's controller, built on first use from `config` with the space's vocabulary and
/// length; `None` (logged, counted in `failures`) when the configuration is refused.
pub(super) fn controller<'a>(
    slot: &'a mut Option<Controller>,
    config: &ControllerConfig,
    encoding: &TokenEncoding,
    rng: &mut Rng,
    failures: &mut usize,
) -> Option<&'a mut Controller> {
    if slot.is_none() {
        let mut c = config.clone();
        c.vocab_size = encoding.vocab_size;
        c.length = encoding.len();
        match Controller::try_new(c, encoding, rng) {
            Ok(controller) => *slot = Some(controller),
            Err(e) => {
                warn(&e, failures);
                return None;
            }
        }
    }
    slot.as_mut()
}

/// Trains `controller` on `(sequences, targets, epochs)` and returns the epochs it ran (fewer
/// when early stopping ended it); `None` (logged, counted in `failures`) when the controller
/// refuses the data.
pub(super) fn train(
    controller: &mut Controller,
    (seqs, targets, epochs): (&[Vec<u32>], &[f32], usize),
    rng: &mut Rng,
    failures: &mut usize,
) -> Option<usize> {
    match controller.try_train(seqs, targets, epochs, rng) {
        Ok(stats) => Some(stats.epochs),
        Err(e) => {
            warn(&e, failures);
            None
        }
    }
}

fn warn(e: &ControllerError, failures: &mut usize) {
    *failures += 1;
    eprintln!("warning: {e}; this round falls back to random sampling / plain mutation");
}

#[cfg(test)]
mod tests {
    use crate::benchmark::TabularBenchmark;
    use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
    use crate::controller::ControllerConfig;
    use crate::evaluator::{Evaluator, Outcome};
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
                pretrain_epochs: 5,
                train_epochs: 2,
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
        assert!(s.controller_failures >= 1);
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
        assert!(s.controller_failures >= 1);
    }
}
