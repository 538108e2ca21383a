//! Behaviour tests of the controller: learning on NAS-Bench-201, generation, checkpoints,
//! determinism, input checks.

use rand::Rng as _;

use super::*;
use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
use crate::rng::rng_for;
use crate::space::{Nb201Space, SearchSpace};
use crate::stats::kendall_tau;

/// `n` distinct NB201 cells with their validation accuracy, drawn with `seed`.
fn nb201_sample(n: usize, seed: u64) -> (Nb201Space, Vec<Vec<u32>>, Vec<f64>) {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let mut rng = rng_for(seed, "test-nb201");
    let mut seen = std::collections::HashSet::new();
    let (mut seqs, mut accs) = (Vec::new(), Vec::new());
    while seqs.len() < n {
        let arch = space.sample(&mut rng);
        let key = space.key(&arch);
        if seen.insert(key.clone()) {
            seqs.push(space.encode(&arch));
            accs.push(bench.lookup(&key).unwrap().objective);
        }
    }
    (space, seqs, accs)
}

fn normalise(train: &[f64], all: &[f64]) -> Vec<f32> {
    let n = train.len() as f64;
    let mean = train.iter().sum::<f64>() / n;
    let std = (train.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    all.iter().map(|x| ((x - mean) / std) as f32).collect()
}

/// Trains on 300 NB201 cells and ranks 300 held-out ones; then generates from the best.
///
/// The tau floor, 0.5: chance gives 0 with a standard deviation of about 0.04 for 300 cells,
/// so 0.5 is far from luck, and it is what a useful surrogate needs (published NB201
/// predictors trained on a few hundred cells reach 0.5-0.8).
#[test]
fn learns_to_rank_nb201_and_generation_climbs() {
    let (space, seqs, accs) = nb201_sample(600, 1);
    let (train_s, test_s) = seqs.split_at(300);
    let (train_a, test_a) = accs.split_at(300);
    let y = normalise(train_a, train_a);
    let cfg = ControllerConfig::for_encoding(space.encoding());
    let mut rng = rng_for(1, "controller");
    let mut ctl = Controller::new(cfg, space.encoding(), &mut rng);
    let first = ctl.train(train_s, &y, 1, &mut rng);
    let last = ctl.train(train_s, &y, 150, &mut rng);
    println!("first epoch {first:?}\nlast epoch {last:?}");
    assert!(last.mse < first.mse && last.nll < first.nll);
    let pred: Vec<f64> = ctl.predict(test_s).iter().map(|&p| f64::from(p)).collect();
    let tau = kendall_tau(&pred, test_a);
    println!("Kendall tau on 300 held-out NB201 cells: {tau:.3}");
    assert!(tau > 0.5, "Kendall tau {tau}");

    // The autoencoder part: most training cells decode back to themselves at lambda 0.
    let same = ctl
        .generate(train_s, 0.0)
        .iter()
        .zip(train_s)
        .filter(|((g, _), s)| g == *s)
        .count();
    println!("reconstructed {same}/300 training cells");
    assert!(same > 150, "only {same} cells reconstructed");

    // Generation from the 30 best training cells: the predicted value rises with lambda > 0,
    // and the decoded cells are valid.
    let mut order: Vec<usize> = (0..train_s.len()).collect();
    order.sort_by(|&a, &b| train_a[b].total_cmp(&train_a[a]));
    let top: Vec<Vec<u32>> = order[..30].iter().map(|&i| train_s[i].clone()).collect();
    let before = ctl.predict(&top);
    let mut changed = 0;
    for lambda in [0.5f32, 1.0, 2.0] {
        let out = ctl.generate(&top, lambda);
        changed = 0;
        for (((g, p), b), s) in out.iter().zip(&before).zip(&top) {
            assert!(p > b, "lambda {lambda}: predicted {p} not above {b}");
            space.encoding().check(g).unwrap();
            space.decode(g).unwrap();
            changed += usize::from(g != s);
        }
        println!("lambda {lambda}: {changed}/30 cells changed");
    }
    assert!(changed > 0, "lambda 2 changed no cell");
    let moved = ctl.generate(&top, -2.0);
    assert!(moved.iter().zip(&before).all(|((_, p), b)| p < b));
}

fn small_setup(seed: u64) -> (Controller, Vec<Vec<u32>>, Vec<f32>, Rng) {
    let (space, seqs, accs) = nb201_sample(230, seed);
    let y = normalise(&accs, &accs);
    let cfg = ControllerConfig {
        hidden: 16,
        mlp_hidden: 8,
        batch_size: 50,
        slices: 3,
        ..ControllerConfig::for_encoding(space.encoding())
    };
    let mut rng = rng_for(seed, "controller");
    let ctl = Controller::new(cfg, space.encoding(), &mut rng);
    (ctl, seqs, y, rng)
}

#[test]
fn training_is_deterministic_whatever_the_thread_count() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let (mut ctl, seqs, y, mut rng) = small_setup(3);
            let stats = ctl.train(&seqs, &y, 3, &mut rng);
            (ctl.params.clone(), stats, ctl.generate(&seqs[..20], 1.0))
        })
    };
    let one = run(1);
    let two = run(2);
    let three = run(3);
    assert_eq!(one.0, two.0);
    assert_eq!(one.0, three.0);
    assert_eq!(one.1, two.1);
    assert_eq!(one.2, two.2);
    let (mut other, seqs, y, _) = small_setup(4);
    other.train(&seqs, &y, 1, &mut rng_for(4, "x"));
    assert_ne!(other.params, one.0);
}

/// The elementwise passes compute the same bits with every instruction set (so capping them,
/// e.g. with `SEMINAS_ISA` or `SEMINAS_KERNEL=avx2`, changes speed only).
#[test]
fn elementwise_instruction_sets_give_the_same_bits() {
    let run = || {
        let (mut ctl, seqs, y, mut rng) = small_setup(5);
        let stats = ctl.train(&seqs, &y, 2, &mut rng);
        (ctl.params.clone(), stats, ctl.generate(&seqs[..20], 1.0))
    };
    set_isa(Some(Isa::Baseline)).unwrap();
    let base = run();
    let mut compared = 0;
    for isa in [Isa::Avx2, Isa::Avx512] {
        if !isa.supported() {
            continue;
        }
        set_isa(Some(isa)).unwrap();
        assert_eq!(active_isa(), isa);
        let other = run();
        assert_eq!(other.0, base.0, "{isa} parameters");
        assert_eq!(other.1, base.1, "{isa} losses");
        assert_eq!(other.2, base.2, "{isa} generation");
        compared += 1;
    }
    set_isa(None).unwrap();
    // Only the baseline on a CPU without AVX2 (then there is nothing to compare).
    assert_eq!(compared > 0, Isa::Avx2.supported());
}

#[test]
fn checkpoint_round_trip_resumes_exactly() {
    let dir = std::env::temp_dir().join(format!("seminas-ctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("controller.safetensors");
    let (mut ctl, seqs, y, mut rng) = small_setup(5);
    ctl.train(&seqs, &y, 2, &mut rng);
    ctl.save(&path).unwrap();
    let mut loaded = Controller::load(&path).unwrap();
    assert_eq!(loaded.params, ctl.params);
    assert_eq!(loaded.config(), ctl.config());
    assert_eq!(loaded.steps(), ctl.steps());
    assert_eq!(loaded.predict(&seqs), ctl.predict(&seqs));
    // Training on from the checkpoint equals training on without stopping.
    let mut r1 = rng.clone();
    let mut r2 = rng.clone();
    ctl.train(&seqs, &y, 1, &mut r1);
    loaded.train(&seqs, &y, 1, &mut r2);
    assert_eq!(loaded.params, ctl.params);
    // Damaged files are reported, not loaded.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        Controller::load(&path),
        Err(ControllerError::Format { .. })
    ));
    assert!(matches!(
        Controller::load(&dir.join("missing")),
        Err(ControllerError::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_and_config_are_errors() {
    let (mut ctl, seqs, y, mut rng) = small_setup(6);
    let short = vec![vec![1u32; 3]];
    assert!(ctl.try_train(&short, &[0.0], 1, &mut rng).is_err());
    let big = vec![vec![99u32; 6]];
    assert!(ctl.try_train(&big, &[0.0], 1, &mut rng).is_err());
    assert!(ctl.try_train(&seqs, &y[1..], 1, &mut rng).is_err());
    let mut nan = y.clone();
    nan[3] = f32::NAN;
    assert!(ctl.try_train(&seqs, &nan, 1, &mut rng).is_err());
    assert!(ctl.predict(&[]).is_empty());
    let enc = Nb201Space::new().encoding().clone();
    let bad = ControllerConfig {
        dropout: 1.5,
        ..ControllerConfig::for_encoding(&enc)
    };
    assert!(Controller::try_new(bad, &enc, &mut rng).is_err());
    let wrong_len = ControllerConfig {
        length: 7,
        ..ControllerConfig::for_encoding(&enc)
    };
    assert!(Controller::try_new(wrong_len, &enc, &mut rng).is_err());
}

#[test]
fn predict_matches_between_chunkings() {
    // Chunked, parallel inference gives each sequence exactly the value it gets alone: every
    // pass is row-independent.
    let (ctl, seqs, _, mut rng) = small_setup(7);
    let many: Vec<Vec<u32>> = (0..300)
        .map(|_| seqs[rng.gen_range(0..seqs.len())].clone())
        .collect();
    let all = ctl.predict(&many);
    for (i, s) in many.iter().enumerate().step_by(37) {
        let alone = ctl.predict(std::slice::from_ref(s))[0];
        assert_eq!(alone, all[i]);
    }
}

#[test]
fn held_out_split_is_by_sequence_and_about_the_asked_share() {
    let (_, seqs, _) = nb201_sample(1000, 8);
    let (train, held) = split_held_out(&seqs, 0.1);
    assert_eq!(train.len() + held.len(), 1000);
    assert!((70..=130).contains(&held.len()), "{} held out", held.len());
    // Copies of a sequence (up-sampling) land on the same side, in any call.
    let doubled: Vec<Vec<u32>> = seqs.iter().chain(&seqs).cloned().collect();
    let (_, held2) = split_held_out(&doubled, 0.1);
    let mut want: Vec<usize> = held
        .iter()
        .copied()
        .chain(held.iter().map(|i| i + 1000))
        .collect();
    want.sort_unstable();
    assert_eq!(held2, want);
    // Nothing to hold out from a single sequence repeated: train on all of it.
    let same = vec![seqs[held[0]].clone(); 5];
    assert_eq!(split_held_out(&same, 0.1), ((0..5).collect(), Vec::new()));
}

/// `small_setup(9)`'s controller with early stopping on the loss (20% held out, patience 3;
/// `second_only` as given), its sequences with pure-noise targets (the held-out loss stops
/// improving soon) and the random stream after drawing them.
fn noise_setup(second_only: bool) -> (Controller, Vec<Vec<u32>>, Vec<f32>, Rng) {
    let (_, seqs, _, mut rng) = small_setup(9);
    let noise: Vec<f32> = (0..seqs.len())
        .map(|_| rng.gen_range(-1.0f32..1.0))
        .collect();
    let (mut ctl, ..) = small_setup(9);
    ctl.cfg.early_stopping = Some(EarlyStopping {
        held_out: 0.2,
        patience: 3,
        on: StopOn::Loss,
        second_only,
    });
    (ctl, seqs, noise, rng)
}

#[test]
fn early_stopping_stops_and_keeps_the_best_weights() {
    let (mut ctl, seqs, noise, mut rng) = noise_setup(false);
    let stats = ctl.train(&seqs, &noise, 400, &mut rng);
    assert!(stats.epochs < 400, "ran all {} epochs", stats.epochs);
    let best = stats.held_out_loss.expect("held-out loss");
    // The kept weights are the best epoch's: their held-out loss is the reported one, and the
    // optimiser state came with them (steps of the best epoch, not of the last).
    let (_, held) = split_held_out(&seqs, 0.2);
    let cap = ctl.cfg.batch_size.div_ceil(ctl.cfg.slices);
    let mut ws: Vec<Workspace<f32>> = (0..ctl.cfg.slices)
        .map(|_| Workspace::new(&ctl.dims, cap, ctl.layout.total))
        .collect();
    assert_eq!(ctl.held_out_loss(&held, &seqs, &noise, &mut ws), best);
    let batches = (seqs.len() - held.len()).div_ceil(ctl.cfg.batch_size) as u64;
    assert_eq!(ctl.steps(), batches * (stats.epochs - 3) as u64);
    // Off (the default), the same call runs every epoch.
    let (mut plain, ..) = small_setup(9);
    assert_eq!(plain.train(&seqs, &noise, 5, &mut rng).epochs, 5);
    assert_eq!(plain.train(&seqs, &noise, 5, &mut rng).held_out_loss, None);
}

#[test]
fn second_only_early_stopping_leaves_the_first_training_whole() {
    let (mut ctl, seqs, noise, mut rng) = noise_setup(true);
    let es = ctl.config().early_stopping.clone();
    let first = ctl.first_training(|c| c.train(&seqs, &noise, 40, &mut rng));
    assert_eq!((first.epochs, first.held_out_loss), (40, None));
    // Restored afterwards: the next training (the second) stops early.
    assert_eq!(ctl.config().early_stopping, es);
    let second = ctl.train(&seqs, &noise, 400, &mut rng);
    assert!(second.epochs < 400, "ran all {} epochs", second.epochs);
}

#[test]
fn early_stopping_on_tau_keeps_the_best_ranking() {
    let (mut ctl, seqs, y, mut rng) = small_setup(10);
    let mut cfg = ctl.config().clone();
    cfg.early_stopping = Some(EarlyStopping {
        held_out: 0.3,
        patience: 4,
        on: StopOn::Tau,
        second_only: false,
    });
    ctl.cfg = cfg;
    let stats = ctl.train(&seqs, &y, 300, &mut rng);
    assert!(stats.epochs < 300, "ran all {} epochs", stats.epochs);
    let best = stats.held_out_tau.expect("held-out tau");
    // The kept weights rank the distinct held-out cells (NB201 accuracies) with the reported
    // tau, well above chance.
    let (_, held) = split_held_out(&seqs, 0.3);
    let mut seen = std::collections::HashSet::new();
    let (hs, ht): (Vec<Vec<u32>>, Vec<f64>) = held
        .iter()
        .filter(|&&i| seen.insert(seqs[i].clone()))
        .map(|&i| (seqs[i].clone(), f64::from(y[i])))
        .unzip();
    let p: Vec<f64> = ctl.predict(&hs).into_iter().map(f64::from).collect();
    assert_eq!(crate::stats::kendall_tau(&p, &ht), best);
    assert!(best > 0.3, "held-out tau {best}");
    assert!(stats.held_out_loss.is_some());
}

#[test]
fn bad_early_stopping_settings_are_errors() {
    let enc = Nb201Space::new().encoding().clone();
    let mut rng = rng_for(1, "x");
    for (held_out, patience) in [(0.0, 5), (1.0, 5), (0.1, 0)] {
        let cfg = ControllerConfig {
            early_stopping: Some(EarlyStopping {
                held_out,
                patience,
                on: StopOn::Loss,
                second_only: false,
            }),
            ..ControllerConfig::for_encoding(&enc)
        };
        assert!(Controller::try_new(cfg, &enc, &mut rng).is_err());
    }
}

/// A generator gives exactly `generate`'s bits for every step, over several inference chunks
/// and after other inference calls have reused the thread's workspace (other sizes included).
#[test]
fn generator_steps_equal_generate() {
    let (mut ctl, seqs, y, mut rng) = small_setup(5);
    ctl.train(&seqs, &y, 3, &mut rng);
    let from = &seqs[..150];
    let generator = ctl.generator(from);
    for lambda in [0.0f32, 1.0, 2.5, -1.0] {
        let want = ctl.generate(from, lambda);
        let got = generator.generate(lambda);
        let bits = |v: &[(Vec<u32>, f32)]| -> Vec<(Vec<u32>, u32)> {
            v.iter().map(|(t, p)| (t.clone(), p.to_bits())).collect()
        };
        assert_eq!(bits(&got), bits(&want), "lambda {lambda}");
        // Another controller's sizes in between: the thread's workspace is remade.
        let wide = ControllerConfig {
            hidden: 32,
            ..ctl.config().clone()
        };
        Controller::new(wide, Nb201Space::new().encoding(), &mut rng).predict(&seqs[..10]);
    }
}
