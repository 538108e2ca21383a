//! How well do the supernet's labels rank architectures? Labels N architectures of the mobile
//! space with one shared supernet (as `--evaluator supernet` does) and trains each of them
//! alone (`--alone-steps` steps), then prints both accuracies and Kendall's tau between them.
//!
//! ```sh
//! cargo run --release --example supernet_ranking -- [--data DIR] [--archs 8] \
//!     [--rounds 4] [--steps 20] [--alone-steps 300] [--subset 10000] [--eval-images 500] \
//!     [--width 0.25] [--jobs 1] [--seed 0]
//! ```
//!
//! `--data` is a Fashion-MNIST folder (default: Debian's /usr/share/datasets/fashion-mnist);
//! `--data digits` uses the embedded 8x8 digits. The supernet evaluates the N architectures
//! `--rounds` times in turn, `--steps` training steps before each evaluation; its labels are
//! the last round's. A stand-alone network is a supernet whose pool holds one architecture;
//! `--jobs J` trains J of them at once.

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

use seminas::evaluator::{Evaluator, Outcome};
use seminas::rng::rng_for;
use seminas::space::SearchSpace;
use seminas::space::mobile::{MobileArch, MobileSpace};
use seminas::stats::kendall_tau;
use seminas::trainer::Dataset;
use seminas::trainer::data::FASHION_MNIST_DEBIAN_DIR;
use seminas::trainer::supernet::{SupernetConfig, SupernetEvaluator};

fn label(e: &SupernetEvaluator, space: &MobileSpace, arch: &MobileArch) -> anyhow::Result<f64> {
    match e.evaluate(space, arch) {
        Outcome::Evaluated(ev) => Ok(ev.objective),
        other => anyhow::bail!("{}: {other:?}", space.format(arch)),
    }
}

fn main() -> anyhow::Result<()> {
    let mut data = FASHION_MNIST_DEBIAN_DIR.to_string();
    let (mut archs, mut rounds, mut alone_steps, mut seed) = (8usize, 4usize, 300usize, 0u64);
    let mut jobs = 1usize;
    let mut cfg = SupernetConfig {
        train_subset: Some(10_000),
        ..SupernetConfig::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = value,
            "--archs" => archs = value.parse()?,
            "--rounds" => rounds = value.parse()?,
            "--steps" => cfg.steps_per_eval = value.parse()?,
            "--alone-steps" => alone_steps = value.parse()?,
            "--jobs" => jobs = value.parse::<usize>()?.max(1),
            "--subset" => cfg.train_subset = Some(value.parse()?),
            "--eval-images" => cfg.eval_images = value.parse()?,
            "--width" => cfg.width_multiplier = value.parse()?,
            "--seed" => seed = value.parse()?,
            _ => anyhow::bail!("unknown flag {flag}"),
        }
    }
    let dataset = if data == "digits" {
        Dataset::digits()
    } else {
        Dataset::fashion_mnist(&PathBuf::from(&data))?
    };
    let space = MobileSpace::paper().with_max_mflops(600.0)?;
    let mut rng = rng_for(seed, "supernet-ranking");
    let pool: Vec<MobileArch> = (0..archs).map(|_| space.sample(&mut rng)).collect();

    let start = Instant::now();
    let shared = SupernetEvaluator::new(cfg.clone(), dataset.clone(), &space)?
        .reseed(seed)
        .expect("the configuration was accepted");
    let mut labels = vec![0.0; archs];
    for _ in 0..rounds {
        for (arch, l) in pool.iter().zip(&mut labels) {
            *l = label(&shared, &space, arch)?;
        }
    }
    let total_steps = shared.steps();
    println!(
        "supernet: {archs} architectures, {total_steps} shared steps, {:.0} s",
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let alone_cfg = SupernetConfig {
        steps_per_eval: alone_steps,
        ..cfg
    };
    // `--jobs` stand-alone trainings at once, the cores shared out (results do not depend on
    // it: each network is trained by its own seeded evaluator).
    let alone_cfg = SupernetConfig {
        threads: (alone_cfg.threads / jobs).max(1),
        ..alone_cfg
    };
    let alone: Vec<f64> = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()?
        .install(|| {
            pool.par_iter()
                .map(|arch| {
                    let e = SupernetEvaluator::new(alone_cfg.clone(), dataset.clone(), &space)?
                        .reseed(seed)
                        .expect("the configuration was accepted");
                    label(&e, &space, arch)
                })
                .collect::<anyhow::Result<_>>()
        })?;
    println!(
        "stand-alone: {alone_steps} steps each, {:.0} s",
        start.elapsed().as_secs_f64()
    );
    println!("{:>9} {:>11}  architecture", "supernet", "stand-alone");
    for ((arch, s), a) in pool.iter().zip(&labels).zip(&alone) {
        println!("{s:>8.1}% {a:>10.1}%  {}", space.format(arch));
    }
    println!("kendall_tau {:.3}", kendall_tau(&labels, &alone));
    Ok(())
}
