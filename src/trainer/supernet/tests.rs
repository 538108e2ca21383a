//! The supernet's checks: paths against the cost counter, determinism, learning, state.

use super::*;
use crate::space::mobile::SEMINASNET;

#[test]
fn every_path_is_the_network_the_cost_counter_counts() {
    // The supernet at the paper's search widths on 3-channel, 1000-class inputs: each
    // path's parameters must equal the counter's (itself checked against MobileNetV2's
    // published 3,504,872 parameters in src/space/mobile/tests.rs).
    let space = MobileSpace::new(MobileSkeleton::paper_search()).unwrap();
    let sk = space.skeleton().clone();
    let device = device_for(TrainDevice::Cpu).unwrap();
    let net = MobileSupernet::new(&sk, 3, 1000, &mut rng_for(0, "t"), &device);
    let mut rng = rng_for(1, "t");
    let mut archs = vec![space.parse(SEMINASNET).unwrap()];
    archs.extend((0..5).map(|_| space.sample(&mut rng)));
    for arch in &archs {
        assert_eq!(
            net.path_params(arch) as u64,
            space.cost(arch).params,
            "{}",
            space.format(arch)
        );
    }
}

fn evaluator(steps: usize) -> SupernetEvaluator {
    let config = SupernetConfig {
        steps_per_eval: steps,
        eval_images: 300,
        threads: 1,
        ..SupernetConfig::default()
    };
    SupernetEvaluator::new(config, Dataset::digits(), &MobileSpace::paper()).unwrap()
}

#[test]
fn results_follow_the_seed() {
    let space = MobileSpace::paper();
    let mut rng = rng_for(3, "t");
    let archs: Vec<MobileArch> = (0..3).map(|_| space.sample(&mut rng)).collect();
    let run = |seed: u64| {
        let e = evaluator(4).reseed(seed).unwrap();
        let accs: Vec<f64> = archs
            .iter()
            .map(|a| match e.evaluate(&space, a) {
                Outcome::Evaluated(ev) => ev.objective,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(e.steps(), 12);
        accs
    };
    let a = run(5);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));
}

#[test]
fn the_shared_weights_learn() {
    // Two paths share the supernet for 150 steps; each then classifies the held-out
    // digits far above chance (10%). Measured: 60-80%.
    let space = MobileSpace::paper();
    let mut rng = rng_for(4, "t");
    let (a, b) = (space.sample(&mut rng), space.sample(&mut rng));
    let e = evaluator(75);
    let acc = |arch: &MobileArch| match e.evaluate(&space, arch) {
        Outcome::Evaluated(ev) => ev.objective,
        other => panic!("{other:?}"),
    };
    let first = acc(&a);
    let (a_acc, b_acc) = (acc(&b), acc(&a));
    assert_eq!(e.steps(), 225);
    assert!(a_acc > 35.0 && b_acc > 35.0, "{first} {a_acc} {b_acc}");
}

/// Logits of `arch` on the first 50 held-out images, with the evaluator's weights now.
fn logits(e: &SupernetEvaluator, arch: &MobileArch) -> Vec<u32> {
    let device = device_for(TrainDevice::Cpu).unwrap().autodiff();
    let (x, _) = batch(
        &e.data,
        &e.data.train,
        &e.held_out[..50],
        &[],
        &e.norm,
        &device,
    )
    .unwrap();
    let state = e.state.lock().unwrap();
    let out = state.net.as_ref().unwrap().forward(arch, x);
    let v: Vec<f32> = out.into_data().try_to_vec_as::<f32>().unwrap();
    v.iter().map(|f| f.to_bits()).collect()
}

fn objective(o: Outcome) -> u64 {
    match o {
        Outcome::Evaluated(e) => e.objective.to_bits(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_restored_supernet_continues_bit_for_bit() {
    let space = MobileSpace::paper();
    let mut rng = rng_for(5, "t");
    let archs: Vec<MobileArch> = (0..3).map(|_| space.sample(&mut rng)).collect();
    let a = evaluator(3);
    for arch in &archs[..2] {
        objective(a.evaluate(&space, arch));
    }
    let bytes = a.save_state().unwrap();
    // Another seed: other weights, generator and order, all replaced by the state.
    let b = evaluator(3).reseed(1).unwrap();
    assert_ne!(logits(&a, &archs[0]), logits(&b, &archs[0]));
    b.load_state(&bytes).unwrap();
    assert_eq!(b.steps(), 6);
    assert_eq!(logits(&a, &archs[0]), logits(&b, &archs[0]));
    // The next training steps (paths, batches, momentum) are the same.
    assert_eq!(
        objective(a.evaluate(&space, &archs[2])),
        objective(b.evaluate(&space, &archs[2]))
    );
    for arch in &archs {
        assert_eq!(logits(&a, arch), logits(&b, arch));
    }
}

/// `bytes` with its metadata `key` set to `value`.
fn with_meta(bytes: &[u8], key: &str, value: &str) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    meta.insert(key.into(), value.into());
    let views: Vec<(String, TensorView)> = st.tensors();
    safetensors::tensor::serialize(views, Some(meta)).unwrap()
}

#[test]
fn a_state_of_another_supernet_is_refused_with_the_reason() {
    let space = MobileSpace::paper();
    let arch = space.sample(&mut rng_for(6, "t"));
    let a = evaluator(1);
    objective(a.evaluate(&space, &arch));
    let bytes = a.save_state().unwrap();
    let err = |e: &SupernetEvaluator, bytes: &[u8]| e.load_state(bytes).unwrap_err().to_string();

    let wide = SupernetEvaluator::new(
        SupernetConfig {
            width_multiplier: 0.5,
            ..a.config.clone()
        },
        Dataset::digits(),
        &space,
    )
    .unwrap();
    let e = err(&wide, &bytes);
    assert_eq!(
        e,
        "the state is of another supernet: its width multiplier (--supernet-width) is 0.25, \
         this supernet's is 0.5"
    );
    let mut data = Dataset::digits();
    data.name = "other".into();
    let other = SupernetEvaluator::new(a.config.clone(), data, &space).unwrap();
    assert!(
        err(&other, &bytes).contains("its dataset (--dataset) is digits, this supernet's is other")
    );

    let b = evaluator(1);
    let e = err(&b, &with_meta(&bytes, "format", "seminas-supernet-0"));
    assert_eq!(
        e,
        "the state is in format \"seminas-supernet-0\"; this seminas reads \
         \"seminas-supernet-1\""
    );
    assert!(err(&b, b"garbage").starts_with("not a readable supernet state"));
    let e = err(&b, &with_meta(&bytes, "pool", "[[9, 9]]"));
    assert!(e.contains("pool: [9, 9] is not an architecture"), "{e}");
    // A refused state changes nothing; the right one is taken.
    assert_eq!(b.steps(), 0);
    b.load_state(&bytes).unwrap();
    assert_eq!(b.steps(), 1);
    assert_eq!(logits(&a, &arch), logits(&b, &arch));
}
