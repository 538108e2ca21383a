use std::io::Read;

use burn::prelude::Device;

use super::*;
use crate::space::nb101::Op;

fn nb201_params(ops: [u16; 6], classes: usize) -> usize {
    let arch = CategoricalArch(ops.into());
    let mut rng = rng_for(0, "test");
    Nb201Net::new(&arch, 3, 16, 5, classes, &mut rng, &Device::flex()).trainable_params()
}

/// NAS-Bench-201 API figures (parameters in MB of the C=16, N=5 network) for the smallest and
/// largest cells: on CIFAR-10 0.073306 (every edge `none`) and 1.531546 (every edge
/// `nor_conv_3x3`); on CIFAR-100 0.079156 and 1.537396; on ImageNet16-120 0.080456 and 1.538696.
/// As listed in the `min_max_values` of EvoXBench's NAS-Bench-201 test suite (computed from the
/// official API).
#[test]
fn nb201_parameter_counts_match_the_published_ones() {
    for (classes, min, max) in [
        (10, 73_306, 1_531_546),
        (100, 79_156, 1_537_396),
        (120, 80_456, 1_538_696),
    ] {
        assert_eq!(
            nb201_params([0; 6], classes),
            min,
            "{classes} classes, all none"
        );
        assert_eq!(
            nb201_params([3; 6], classes),
            max,
            "{classes} classes, all conv3x3"
        );
    }
    // Skip, pooling and none carry no parameters; each nor_conv_1x1 edge adds C*C + 2C per
    // cell at C = 16, 32, 64 (5 cells each).
    let one_1x1 = 5 * ((16 * 16 + 32) + (32 * 32 + 64) + (64 * 64 + 128));
    assert_eq!(nb201_params([2, 1, 4, 0, 1, 4], 10), 73_306 + one_1x1);
}

/// Published NAS-Bench-101 trainable-parameter counts (C = 128, 3 cells per stack, CIFAR-10):
/// the `params` column of the embedded 20k table (data/nb101_20k.csv.gz, from nasbench-vis).
#[test]
fn nb101_parameter_counts_match_the_published_ones() {
    let mut text = String::new();
    flate2::read::GzDecoder::new(&include_bytes!("../../data/nb101_20k.csv.gz")[..])
        .read_to_string(&mut text)
        .unwrap();
    let space = Nb101Space::new();
    let mut checked = 0;
    let mut distinct = std::collections::HashSet::new();
    // Every 1,500th row: cells of all sizes, from 2 to 7 vertices.
    for line in text.lines().skip(1).step_by(1_500) {
        let cols: Vec<&str> = line.split(',').collect();
        let tokens: Vec<u32> = cols[1].bytes().map(|b| u32::from(b - b'0')).collect();
        let cell = space.decode(&tokens).unwrap();
        let published: usize = cols[7].parse().unwrap();
        let mut rng = rng_for(0, "test");
        let net = Nb101Net::new(&cell, 3, 128, 3, 10, &mut rng, &Device::flex()).unwrap();
        assert_eq!(
            net.trainable_params(),
            published,
            "cell {} ({cell:?})",
            cols[0]
        );
        distinct.insert(published);
        checked += 1;
    }
    assert_eq!(checked, 14);
    assert!(distinct.len() >= 10, "{distinct:?}");
}

#[test]
fn vertex_channels_split_the_output_like_the_official_builder() {
    // input -> 1 -> 2 -> output, input -> 3 -> output, 1 -> 3 -> output, 2 -> output.
    let m = [
        [0, 1, 0, 1, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ];
    let ops = [
        Op::Input,
        Op::Conv3x3,
        Op::Conv1x1,
        Op::MaxPool3x3,
        Op::Output,
    ];
    let cell = Cell::new(&m, &ops).unwrap();
    // Two vertices feed the output: 128 / 2 each; vertex 1 takes the most of its successors.
    assert_eq!(vertex_channels(&cell, 64, 128), vec![64, 64, 64, 64, 128]);
    // 129 = 65 + 64: the remainder goes to the first.
    assert_eq!(vertex_channels(&cell, 64, 129), vec![64, 65, 65, 64, 129]);
}

#[test]
fn cosine_schedule_endpoints() {
    assert_eq!(cosine_lr(0.1, 0.0, 0, 100), 0.1);
    assert!((cosine_lr(0.1, 0.0, 50, 100) - 0.05).abs() < 1e-12);
    assert!(cosine_lr(0.1, 0.0, 100, 100).abs() < 1e-12);
}

fn small_digits_config() -> TrainConfig {
    TrainConfig {
        epochs: 8,
        batch_size: 32,
        learning_rate: 0.05,
        channels: Some(8),
        cells: Some(1),
        ..TrainConfig::default()
    }
}

/// A short training on the 8x8 digits reaches an accuracy far above chance (10%).
#[test]
fn digits_training_is_well_above_chance() {
    let eval = TrainEvaluator::new(small_digits_config(), Dataset::digits()).unwrap();
    let space = Nb201Space::new();
    let arch = space
        .parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        .unwrap();
    let r = eval.train_nb201(&arch).unwrap();
    eprintln!("digits: {r:?}");
    assert!(r.test_acc > 80.0, "{r:?}");
    assert!(r.val_acc > 80.0, "{r:?}");
}

/// The same seed and architecture give the same result, whether evaluated alone or on two
/// threads at once; another seed gives another result.
#[test]
fn training_is_deterministic_and_thread_safe() {
    let cfg = TrainConfig {
        epochs: 1,
        train_subset: Some(256),
        threads: 1,
        ..small_digits_config()
    };
    let eval = TrainEvaluator::new(cfg, Dataset::digits()).unwrap();
    let space = Nb201Space::new();
    let a = space.nth(1234).unwrap();
    let b = space.nth(777).unwrap();
    let alone = eval.train_nb201(&a).unwrap();
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| eval.train_nb201(&a).unwrap());
        let tb = s.spawn(|| eval.train_nb201(&b).unwrap());
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert_eq!((alone.val_acc, alone.test_acc), (ra.val_acc, ra.test_acc));
    assert_ne!((ra.val_acc, ra.test_acc), (rb.val_acc, rb.test_acc));
    let other = Evaluator::<Nb201Space>::reseed(&eval, 5).unwrap();
    match other.evaluate(&space, &a) {
        Outcome::Evaluated(e) => {
            assert_ne!((e.objective, e.report), (ra.val_acc, Some(ra.test_acc)))
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn nb101_cells_train_and_bad_configs_are_rejected() {
    let cfg = TrainConfig {
        epochs: 1,
        train_subset: Some(128),
        eval_subset: Some(64),
        channels: Some(8),
        cells: Some(1),
        ..TrainConfig::default()
    };
    let eval = TrainEvaluator::new(cfg.clone(), Dataset::digits()).unwrap();
    let space = Nb101Space::new();
    let cell = space.sample(&mut rng_for(3, "test"));
    match eval.evaluate(&space, &cell) {
        Outcome::Evaluated(e) => {
            assert!((0.0..=100.0).contains(&e.objective));
            assert!(e.cost_seconds > 0.0);
        }
        o => panic!("{o:?}"),
    }
    let bad = TrainConfig {
        val_fraction: 1.0,
        ..cfg
    };
    assert!(matches!(
        TrainEvaluator::new(bad, Dataset::digits()),
        Err(TrainError::Config(_))
    ));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_clear_failure() {
    let cfg = TrainConfig {
        device: TrainDevice::Cuda(0),
        ..small_digits_config()
    };
    let eval = TrainEvaluator::new(cfg, Dataset::digits()).unwrap();
    let space = Nb201Space::new();
    match eval.evaluate(&space, &space.nth(0).unwrap()) {
        Outcome::Failed(why) => assert!(why.contains("`cuda` feature"), "{why}"),
        o => panic!("{o:?}"),
    }
}

/// With steps wanted, each epoch's validation accuracy goes to the monitor, and a stop ends
/// the training there; without, nothing is measured per epoch and the result is unchanged.
#[test]
fn epochs_are_reported_and_a_stop_ends_the_training() {
    use crate::evaluator::{Decision, StepMonitor};
    struct Stop(Option<u64>, std::sync::Mutex<Vec<(u64, f64)>>);
    impl StepMonitor for Stop {
        fn report(&self, step: u64, objective: f64, _: f64) -> Decision {
            self.1.lock().unwrap().push((step, objective));
            if Some(step) == self.0 {
                Decision::Stop
            } else {
                Decision::Continue
            }
        }
    }
    let cfg = TrainConfig {
        epochs: 3,
        train_subset: Some(256),
        threads: 1,
        ..small_digits_config()
    };
    let eval = TrainEvaluator::new(cfg, Dataset::digits()).unwrap();
    let space = Nb201Space::new();
    let arch = space.nth(4321).unwrap();
    let plain = eval.train_nb201(&arch).unwrap();
    let ctx = EvalContext {
        steps_wanted: true,
        ..EvalContext::default()
    };
    // Every epoch reported, the last being the result itself.
    let all = Stop(None, Default::default());
    let out = eval.evaluate_steps(&space, &arch, &ctx, &all);
    let seen = all.1.into_inner().unwrap();
    assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(seen[2].1, plain.val_acc);
    assert_eq!(
        out,
        Outcome::Evaluated(Evaluation::new(
            plain.val_acc,
            Some(plain.test_acc),
            match &out {
                Outcome::Evaluated(e) => e.cost_seconds,
                _ => 0.0,
            }
        ))
    );
    // Stopped after the first epoch: that epoch's accuracy, no test accuracy.
    let first = Stop(Some(1), Default::default());
    let r = eval.train_nb201_steps(&arch, Some(&first)).unwrap();
    assert_eq!(r.stopped_at, Some(1));
    assert_eq!(r.val_acc, first.1.into_inner().unwrap()[0].1);
    assert!(r.test_acc.is_nan());
    // Steps not wanted: nothing reported.
    let none = Stop(None, Default::default());
    eval.evaluate_steps(&space, &arch, &EvalContext::default(), &none);
    assert!(none.1.into_inner().unwrap().is_empty());
}
