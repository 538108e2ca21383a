use std::collections::HashSet;

use super::*;
use crate::predictor::Trainings;
use crate::rng::rng_for;

#[test]
fn mobilenet_v2_matches_torchvision_and_the_paper() {
    // torchvision `mobilenet_v2` (MobileNet_V2_Weights.IMAGENET1K_V1 docs): num_params
    // 3,504,872, "GFLOPS 0.30"; Sandler et al. 2018, Table 4: 300M MAdds, 3.4M parameters.
    // Parameters are exact (conv weights + BN scale/shift + classifier weights and bias); the
    // multiply-adds are conv and linear only, which gives the published 300M.
    let cost = Network::mobilenet_v2(224, 1000).cost();
    assert_eq!(cost.params, 3_504_872);
    assert_eq!(cost.madds, 300_774_272);
    assert_eq!(cost.mflops().round(), 301.0);
    // The TF-slim MobileNetV2 table (MACs in millions at 1.0 width, by resolution): 221 at 192,
    // 154 at 160, 99 at 128, 56 at 96; parameters do not depend on the resolution.
    for (res, published) in [(192, 221.0), (160, 154.0), (128, 99.0), (96, 56.0)] {
        let c = Network::mobilenet_v2(res, 1000).cost();
        assert!(
            (c.mflops() - published).abs() < 1.0,
            "{res}: {} vs {published}",
            c.mflops()
        );
        assert_eq!(c.params, 3_504_872);
    }
}

#[test]
fn seminasnet_matches_the_paper() {
    // Luo et al., NeurIPS 2020, ImageNet table: SemiNAS, 6.32M parameters, 599M FLOPS
    // (multiply-adds, as `imagenet/train_imagenet.py` logs them: "multi adds = ...M"), at the
    // widths `train_imagenet.py` trains it with.
    let space = MobileSpace::paper();
    let arch = space.parse(SEMINASNET).unwrap();
    let cost = space.cost(&arch);
    assert_eq!(cost.madds, 598_952_544);
    assert_eq!(cost.params, 6_319_360);
    assert_eq!(cost.mflops().round(), 599.0);
    assert_eq!((cost.mparams() * 100.0).round(), 632.0);
    assert_eq!(
        space.format(&arch),
        "k7e6,k7e3,k3e3,zero|k5e6,k3e6,k7e3,k5e3|k7e3,k3e6,k7e3,k5e3|k5e3,k7e3,zero,k5e3|\
         k3e3,k7e6,k5e3,k5e3|k7e6"
    );
    assert_eq!(space.official_string(&arch), SEMINASNET);
    // Under the paper's 600M bound, as it must be.
    let limited = MobileSpace::paper().with_max_mflops(600.0).unwrap();
    assert!(limited.validate(&arch).is_ok());
    assert!(
        MobileSpace::paper()
            .with_max_mflops(598.0)
            .unwrap()
            .validate(&arch)
            .is_err()
    );
}

#[test]
fn zero_blocks_cost_nothing_and_first_blocks_change_shape() {
    let space = MobileSpace::paper();
    let arch = space.cheapest();
    let net = space.network(&arch);
    // The fixed first block plus one block per stage.
    assert_eq!(net.blocks.len(), 7);
    assert_eq!(
        net.blocks.iter().map(|b| b.stride).collect::<Vec<_>>(),
        vec![1, 2, 2, 2, 1, 2, 1]
    );
    assert_eq!(
        net.blocks
            .iter()
            .map(|b| b.out_channels)
            .collect::<Vec<_>>(),
        vec![24, 32, 56, 112, 128, 256, 432]
    );
    assert!(net.blocks.iter().all(|b| !b.residual()));
    assert!(net.check_chain().is_ok());
}

#[test]
fn encoding_follows_the_official_ids_and_forbids_zero_first() {
    let space = MobileSpace::paper();
    let enc = space.encoding();
    assert_eq!(enc.vocab_size, 8);
    assert_eq!(enc.len(), 21);
    assert_eq!(enc.token_names[1], "k3e3");
    assert_eq!(enc.token_names[7], "zero");
    for p in 0..21 {
        let expected: Vec<u32> = if [0, 4, 8, 12, 16, 20].contains(&p) {
            (1..=6).collect()
        } else {
            (1..=7).collect()
        };
        assert_eq!(enc.allowed[p], expected, "position {p}");
    }
    let arch = space.parse(SEMINASNET).unwrap();
    assert_eq!(
        space.encode(&arch),
        SEMINASNET
            .split(' ')
            .map(|s| s.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    );
    let mut tokens = space.encode(&arch);
    tokens[4] = 7;
    assert!(space.decode(&tokens).is_err());
    tokens[4] = 0;
    assert!(space.decode(&tokens).is_err());
    assert!(space.decode(&tokens[..20]).is_err());
}

#[test]
fn bad_input_gets_typed_errors() {
    let space = MobileSpace::paper();
    let err = |t: &str| space.parse_arch(t).unwrap_err();
    let good = space.format(&space.parse(SEMINASNET).unwrap());
    assert_eq!(
        err(&good.replacen("k5e6", "zero", 1)),
        MobileError::ZeroFirst {
            stage: 2,
            position: 4
        }
    );
    assert_eq!(
        err(&good.replacen("k7e3", "k9e3", 1)),
        MobileError::UnknownOp {
            op: "k9e3".into(),
            position: 1
        }
    );
    assert!(matches!(
        err("1 2 3"),
        MobileError::WrongLength {
            expected: 21,
            found: 3,
            ..
        }
    ));
    assert!(matches!(
        err("8 5 1 7 4 2 5 3 5 2 5 3 3 5 7 3 1 6 3 3 6"),
        MobileError::UnknownOp { position: 0, .. }
    ));
    assert!(matches!(
        err("k3e3|k3e3"),
        MobileError::WrongLength { expected: 21, .. }
    ));
    assert_eq!(
        err(&good.replacen(",k7e3", "", 1)),
        MobileError::WrongStage {
            stage: 1,
            expected: 4,
            found: 3
        }
    );
    let msg = SpaceError::from(err("7 5 1 7 4 2 5 3 5 2 5 3 3 5 7 3 1 6 3 3 6")).to_string();
    assert!(msg.contains("cannot be zero"), "{msg}");
    // Flat lists of names are read too.
    let flat = good.replace('|', ",");
    assert_eq!(
        space.parse_arch(&flat).unwrap(),
        space.parse_arch(&good).unwrap()
    );
}

#[test]
fn zero_position_inside_a_stage_does_not_change_the_key() {
    let space = MobileSpace::paper();
    let tail =
        "|k5e6,k3e6,k7e3,k5e3|k7e3,k3e6,k7e3,k5e3|k5e3,k7e3,zero,k5e3|k3e3,k7e6,k5e3,k5e3|k7e6";
    let a = space.parse(&format!("k3e3,zero,k5e3,k7e6{tail}")).unwrap();
    let b = space.parse(&format!("k3e3,k5e3,k7e6,zero{tail}")).unwrap();
    let c = space.parse(&format!("k3e3,k7e6,k5e3,zero{tail}")).unwrap();
    assert_eq!(space.key(&a), space.key(&b));
    assert_ne!(space.key(&a), space.key(&c), "block order still matters");
    assert_eq!(space.cost(&a), space.cost(&b));
    assert_eq!(space.network(&a), space.network(&b));
    let positional = MobileSpace::paper().positional_keys();
    assert_ne!(positional.key(&a), positional.key(&b));
    // Per stage of 4: 6 first blocks x (1 + 6 + 36 + 216) tails; the last stage has 6.
    assert_eq!(space.cardinality(), Some(1554u128.pow(5) * 6));
    assert_eq!(positional.cardinality(), Some((6u128 * 343).pow(5) * 6));
    assert_eq!(
        MobileSpace::paper()
            .with_max_mflops(600.0)
            .unwrap()
            .cardinality(),
        None
    );
}

#[test]
fn round_trips_through_tokens_text_and_json() {
    let space = MobileSpace::paper();
    let mut rng = rng_for(1, "mobile");
    let mut keys = HashSet::new();
    for _ in 0..300 {
        let a = space.sample(&mut rng);
        assert!(space.validate(&a).is_ok());
        assert_eq!(space.decode(&space.encode(&a)).unwrap(), a);
        assert_eq!(space.parse(&space.format(&a)).unwrap(), a);
        assert_eq!(space.parse(&space.official_string(&a)).unwrap(), a);
        let json = space.to_json(&a);
        assert_eq!(space.arch_from_json(&json).unwrap(), a);
        assert_eq!(space.arch_from_json(&space.export_json(&a)).unwrap(), a);
        let text = serde_json::to_string(&json).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        let net: Network = serde_json::from_value(back["network"].clone()).unwrap();
        assert_eq!(net, space.network(&a));
        assert_eq!(back["params"].as_u64().unwrap(), space.cost(&a).params);
        keys.insert(space.key(&a));
        let canon = space.canonical(&a);
        assert_eq!(space.canonical(&canon), canon);
        assert_eq!(space.network(&canon), space.network(&a));
    }
    assert!(keys.len() > 290);
}

#[test]
fn json_from_another_skeleton_is_rejected() {
    let train = MobileSpace::paper();
    let search = MobileSpace::new(MobileSkeleton::paper_search()).unwrap();
    let a = train.parse(SEMINASNET).unwrap();
    let json = train.to_json(&a);
    assert!(matches!(
        search.arch_from_json(&json),
        Err(MobileError::Json(_))
    ));
    assert_eq!(search.arch_from_json(&json["arch"]).unwrap(), a);
    assert!(train.arch_from_json(&serde_json::json!(3)).is_err());
}

#[test]
fn flops_limit_holds_for_sampling_mutation_and_validation() {
    let space = MobileSpace::paper().with_max_mflops(600.0).unwrap();
    let mut rng = rng_for(2, "mobile");
    let biggest = MobileArch(vec![MobileOp::K7E6; 21].into_boxed_slice());
    assert!(matches!(
        space.check(&biggest),
        Err(MobileError::OverLimit { limit: 600.0, .. })
    ));
    assert!(space.decode(&space.encode(&biggest)).is_err());
    // Malformed architectures built by hand are reported, not panicked on.
    let long = MobileArch(vec![MobileOp::K3E3; 25].into_boxed_slice());
    assert!(matches!(
        space.check(&long),
        Err(MobileError::WrongLength { found: 25, .. })
    ));
    let _ = space.to_json(&long);
    let mut a = space.sample(&mut rng);
    for _ in 0..300 {
        let s = space.sample(&mut rng);
        assert!(space.cost(&s).mflops() <= 600.0);
        let m = space.mutate(&a, &mut rng);
        assert!(space.cost(&m).mflops() <= 600.0);
        let changed = a.0.iter().zip(m.0.iter()).filter(|(x, y)| x != y).count();
        assert_eq!(changed, 1);
        assert!(space.validate(&m).is_ok());
        a = m;
    }
    // The same seed gives the same draws.
    let draw = |seed| space.sample(&mut rng_for(seed, "mobile"));
    assert_eq!(draw(5), draw(5));
}

#[test]
fn tight_limits_repair_and_impossible_limits_fail() {
    let cheapest = MobileSpace::paper().cost(&MobileSpace::paper().cheapest());
    assert_eq!(cheapest.mflops().round(), 182.0);
    assert!(matches!(
        MobileSpace::paper().with_max_mflops(150.0),
        Err(MobileError::InfeasibleLimit { .. })
    ));
    assert!(MobileSpace::paper().with_max_mflops(f64::NAN).is_err());
    // Barely above the cheapest network: rejection almost never succeeds, repair does.
    let space = MobileSpace::paper().with_max_mflops(200.0).unwrap();
    let mut rng = rng_for(3, "mobile");
    for _ in 0..20 {
        let a = space.sample(&mut rng);
        assert!(space.validate(&a).is_ok());
        let m = space.mutate(&a, &mut rng);
        assert!(space.validate(&m).is_ok());
        assert_ne!(m, a);
    }
}

#[test]
fn skeletons_and_width_multiplier() {
    let search = MobileSkeleton::paper_search();
    assert_eq!(search.num_blocks(), 21);
    // A multiplier of 1 changes nothing; 1.4 on the search widths rounds to multiples of 8.
    assert_eq!(search.scaled(1.0), search);
    let wide = search.scaled(1.4);
    assert_eq!(wide.stem_channels, 48);
    assert_eq!(
        wide.stages.iter().map(|s| s.width).collect::<Vec<_>>(),
        vec![32, 56, 112, 136, 272, 448]
    );
    assert!(
        MobileSpace::new(MobileSkeleton {
            stages: vec![],
            ..search.clone()
        })
        .is_err()
    );
    // Resolution and classes enter the cost.
    let a = MobileSpace::paper().parse(SEMINASNET).unwrap();
    let small = MobileSpace::new(MobileSkeleton {
        resolution: 192,
        num_classes: 10,
        ..MobileSkeleton::paper_train()
    })
    .unwrap();
    let (big, little) = (MobileSpace::paper().cost(&a), small.cost(&a));
    assert!(little.madds < big.madds);
    assert_eq!(big.params - little.params, 1728 * 990 + 990);
}

#[test]
fn seminas_under_a_flops_limit_never_evaluates_an_architecture_over_it() {
    use crate::evaluator::{Evaluation, Evaluator, Outcome};
    use crate::search::{SemiNas, SemiNasConfig};
    use crate::study::{Budget, run_search};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Rewards networks close to the limit with many 7x7 kernels; counts calls over the limit.
    struct Synthetic {
        over: AtomicUsize,
    }
    impl Evaluator<MobileSpace> for Synthetic {
        fn objective_name(&self) -> &str {
            "synthetic"
        }
        fn report_name(&self) -> &str {
            "synthetic"
        }
        fn evaluate(&self, space: &MobileSpace, arch: &MobileArch) -> Outcome {
            let mflops = space.cost(arch).mflops();
            if mflops > 450.0 {
                self.over.fetch_add(1, Ordering::Relaxed);
            }
            let k7 = arch.0.iter().filter(|o| o.mbconv().map(|m| m.0) == Some(7));
            let v = mflops / 450.0 + 0.01 * k7.count() as f64;
            Outcome::Evaluated(Evaluation::new(v, Some(v), 0.0))
        }
    }

    let space = MobileSpace::paper().with_max_mflops(450.0).unwrap();
    let evaluator = Synthetic {
        over: AtomicUsize::new(0),
    };
    let mut config = SemiNasConfig {
        init: 20,
        pseudo: 200,
        per_round: 10,
        trainings: Trainings {
            pretrain_epochs: 20,
            train_epochs: 5,
            ..SemiNasConfig::for_budget(50).trainings
        },
        ..SemiNasConfig::for_budget(50)
    };
    config.controller.hidden = 16;
    let mut searcher = SemiNas::new(config, rng_for(0, "searcher"));
    let run = run_search(
        &space,
        &evaluator,
        &mut searcher,
        Budget::queries(50),
        &mut |_| {},
    );
    assert_eq!(run.records.len(), 50);
    assert_eq!(evaluator.over.load(Ordering::Relaxed), 0);
    // No proposal was rejected by validation either (it would be a failed query).
    assert!(run.records.iter().all(|r| r.result.is_ok()));
    assert!(searcher.rounds >= 2);
    assert!(
        searcher.generated > 0,
        "the controller generated candidates"
    );
    let best = run.best().unwrap().result.as_ref().unwrap().objective;
    let init_best = run.records[..20]
        .iter()
        .map(|r| r.result.as_ref().unwrap().objective)
        .fold(f64::MIN, f64::max);
    assert!(best >= init_best);
}
