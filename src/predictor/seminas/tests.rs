use super::*;
use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
use crate::space::{Nb101Space, Nb201Space};

/// `n` distinct NB201 cells with their validation accuracy, drawn with `seed`.
fn cells(n: usize, seed: u64) -> (Vec<<Nb201Space as SearchSpace>::Arch>, Vec<f64>) {
    let space = Nb201Space::new();
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let mut rng = rng_for(seed, "predictor-test");
    let mut seen = HashSet::new();
    let (mut archs, mut accs) = (Vec::new(), Vec::new());
    while archs.len() < n {
        let a = space.sample(&mut rng);
        let key = space.key(&a);
        if seen.insert(key.clone()) {
            accs.push(bench.lookup(&key).unwrap().objective);
            archs.push(a);
        }
    }
    (archs, accs)
}

/// Few epochs: these tests check the plumbing, the Python tests the ranking quality.
fn quick(space: &Nb201Space) -> PredictorSettings {
    PredictorSettings {
        trainings: Trainings {
            pretrain_epochs: 20,
            train_epochs: 2,
            ..PredictorSettings::for_space(space).trainings
        },
        ..PredictorSettings::for_space(space)
    }
}

fn fitted(
    seed: u64,
) -> (
    Predictor<Nb201Space>,
    Vec<<Nb201Space as SearchSpace>::Arch>,
) {
    let space = Nb201Space::new();
    let settings = quick(&space);
    let (archs, accs) = cells(60, 1);
    let mut p = Predictor::new(space, settings, seed).unwrap();
    let stats = p
        .fit(
            &archs[..40],
            &accs[..40],
            Unlabelled::Sample(200),
            &mut || false,
        )
        .unwrap();
    assert_eq!(
        stats,
        FitStats {
            labelled: 40,
            unlabelled: 200,
            epochs: 22
        }
    );
    (p, archs[40..].to_vec())
}

#[test]
fn fits_deterministically_and_predicts_in_objective_units() {
    let (a, held) = fitted(3);
    let (b, _) = fitted(3);
    let (c, _) = fitted(4);
    let pa = a.predict(&held).unwrap();
    assert_eq!(pa, b.predict(&held).unwrap());
    assert_ne!(pa, c.predict(&held).unwrap());
    // Validation accuracies of NB201 cells lie between 10% and 92%: so do the predictions
    // once mapped back from standardised values (standardised ones would lie near 0).
    let mean = pa.iter().sum::<f64>() / pa.len() as f64;
    assert!((40.0..95.0).contains(&mean), "mean prediction {mean}");
    assert!(a.has_scale());
}

#[test]
fn save_and_load_give_identical_predictions() {
    let (p, held) = fitted(0);
    let dir = std::env::temp_dir().join(format!("seminas-predictor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.safetensors");
    p.save(&path).unwrap();
    let q = Predictor::load(Nb201Space::new(), &path).unwrap();
    assert_eq!(p.predict(&held).unwrap(), q.predict(&held).unwrap());
    assert_eq!(q.settings(), p.settings());
    assert_eq!(saved_space_name(&path).unwrap().as_deref(), Some("nb201"));
    // The file is a controller file: the controller loads it as it is.
    let c = Controller::load(&path).unwrap();
    let seqs: Vec<Vec<u32>> = held.iter().map(|a| p.space().encode(a)).collect();
    let z = c.predict(&seqs);
    let back = p.predict(&held).unwrap();
    let s = p.scale.unwrap();
    assert!((s.mean + s.std * f64::from(z[0]) - back[0]).abs() < 1e-9);
    // Another space's predictor is refused with the reason.
    let e = Predictor::load(Nb101Space::new(), &path).unwrap_err();
    assert!(e.to_string().contains("the space nb101"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generation_moves_up_the_predictor() {
    let (p, held) = fitted(0);
    let up = p.generate(&held[..10], 3.0).unwrap();
    let down = p.generate(&held[..10], -3.0).unwrap();
    let base = p.predict(&held[..10]).unwrap();
    for ((u, d), b) in up.iter().zip(&down).zip(&base) {
        assert!(
            u.predicted > *b && d.predicted < *b,
            "up {} base {b} down {}",
            u.predicted,
            d.predicted
        );
        // Every NB201 token sequence is a cell.
        assert!(u.arch.is_some());
    }
}

#[test]
fn bad_input_is_an_error_and_an_interrupt_keeps_the_old_state() {
    let space = Nb201Space::new();
    let (archs, accs) = cells(10, 2);
    let mut p = Predictor::new(space.clone(), quick(&space), 0).unwrap();
    assert!(
        p.predict(&archs)
            .unwrap_err()
            .to_string()
            .contains("not fitted")
    );
    let e = p.fit(&archs, &accs[..9], Unlabelled::Sample(0), &mut || false);
    assert!(
        e.unwrap_err()
            .to_string()
            .contains("10 architectures but 9 targets")
    );
    let mut nan = accs.clone();
    nan[3] = f64::NAN;
    let e = p.fit(&archs, &nan, Unlabelled::Sample(0), &mut || false);
    assert!(e.unwrap_err().to_string().contains("target 3 is NaN"));
    // Nothing to pseudo-label: the second training runs on the repeated pairs (as NAO's).
    let stats = p.fit(&archs, &accs, Unlabelled::Sample(0), &mut || false);
    assert_eq!(stats.unwrap().epochs, 22);
    // The interrupt check is asked before every epoch of both trainings.
    let mut calls = 0;
    p.fit(&archs, &accs, Unlabelled::Given(archs.clone()), &mut || {
        calls += 1;
        false
    })
    .unwrap();
    assert_eq!(calls, 22);
    let before = p.predict(&archs).unwrap();
    let mut calls = 0;
    let e = p.fit(&archs, &accs, Unlabelled::Sample(10), &mut || {
        calls += 1;
        calls > 5
    });
    assert!(matches!(e, Err(PredictorError::Interrupted)));
    assert_eq!(calls, 6);
    assert_eq!(
        p.predict(&archs).unwrap(),
        before,
        "the previous fit is kept"
    );
    let bad = PredictorOverrides {
        clip_quantile: Some(1.5),
        ..Default::default()
    };
    assert!(bad.apply(PredictorSettings::for_space(&space)).is_err());
    let bad = PredictorOverrides {
        hidden: Some(0),
        ..Default::default()
    };
    assert!(bad.apply(PredictorSettings::for_space(&space)).is_err());
}

/// Measures the ranking of 1,000 held-out NB201 cells after fits on 100 and 300 cells with the
/// default settings (what `python/benches/overhead.py` prints from Python):
/// `cargo test --release --lib predictor_tau -- --ignored --nocapture`.
#[test]
#[ignore]
fn predictor_tau() {
    let space = Nb201Space::new();
    // SEMINAS_PREDICTOR='{"pretrain_epochs": 200}' tries other settings.
    let settings = match std::env::var("SEMINAS_PREDICTOR") {
        Ok(json) => serde_json::from_str::<PredictorOverrides>(&json)
            .unwrap()
            .apply(PredictorSettings::for_space(&space))
            .unwrap(),
        Err(_) => PredictorSettings::for_space(&space),
    };
    let (archs, accs) = cells(1300, 7);
    for n in [100, 300] {
        let mut p = Predictor::new(space.clone(), settings.clone(), 0).unwrap();
        let t = std::time::Instant::now();
        p.fit(
            &archs[..n],
            &accs[..n],
            Unlabelled::Sample(10_000),
            &mut || false,
        )
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let pred = p.predict(&archs[300..]).unwrap();
        let tau = crate::stats::kendall_tau(&pred, &accs[300..]);
        println!("{n} cells: fit {secs:.1} s, Kendall tau {tau:.3} on 1,000 held-out cells");
    }
}
