//! A real search: random NB201 cells trained on Fashion-MNIST by the built-in trainer.
//!
//! ```sh
//! cargo run --release --example nb201_fashion_search -- [--data DIR] [--queries 10] \
//!     [--epochs 2] [--subset 3000] [--eval-subset 2000] [--channels 8] [--cells 1] [--seed 0]
//! ```
//!
//! `--data` defaults to Debian's /usr/share/datasets/fashion-mnist (package
//! `dataset-fashion-mnist`). Prints one line per candidate and the best one.

use std::path::PathBuf;
use std::time::Instant;

use seminas::search::Algo;
use seminas::space::{Nb201Space, SearchSpace};
use seminas::study::{Study, StudySettings};
use seminas::trainer::data::FASHION_MNIST_DEBIAN_DIR;
use seminas::trainer::{Dataset, TrainConfig, TrainEvaluator};

fn main() -> anyhow::Result<()> {
    let mut data = PathBuf::from(FASHION_MNIST_DEBIAN_DIR);
    let (mut queries, mut seed) = (10usize, 0u64);
    let mut cfg = TrainConfig {
        epochs: 2,
        train_subset: Some(3000),
        eval_subset: Some(2000),
        channels: Some(8),
        cells: Some(1),
        ..TrainConfig::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = PathBuf::from(value),
            "--queries" => queries = value.parse()?,
            "--epochs" => cfg.epochs = value.parse()?,
            "--subset" => cfg.train_subset = Some(value.parse()?),
            "--eval-subset" => cfg.eval_subset = Some(value.parse()?),
            "--channels" => cfg.channels = Some(value.parse()?),
            "--cells" => cfg.cells = Some(value.parse()?),
            "--seed" => seed = value.parse()?,
            _ => anyhow::bail!("unknown flag {flag}"),
        }
    }
    let start = Instant::now();
    let dataset = Dataset::fashion_mnist(&data)?;
    let evaluator = TrainEvaluator::new(cfg, dataset)?;
    let (tr, va, te) = evaluator.split_sizes();
    println!(
        "Fashion-MNIST: {tr} training, {va} validation, {te} test images; {:?}",
        evaluator.config()
    );
    let space = Nb201Space::new();
    let evaluator = seminas::evaluator::Evaluator::<Nb201Space>::reseed(&evaluator, seed)
        .expect("the trainer is reseedable");
    let settings = StudySettings {
        algo: Algo::Random,
        ..StudySettings::new(queries, seed)
    };
    let mut study = Study::new(space.clone(), settings);
    study.optimize(&evaluator, &mut |q| match &q.result {
        Ok(e) => println!(
            "{:>3} {}  valid {:.2}%  test {:.2}%  {:.1} s",
            q.n,
            q.key,
            e.objective,
            e.report.unwrap_or(f64::NAN),
            e.cost_seconds
        ),
        Err(why) => println!("{:>3} {}  failed: {why}", q.n, q.key),
    })?;
    if let Some(best) = study.best() {
        let e = best.result.as_ref().expect("best is a success");
        println!(
            "best: {}  valid {:.2}%  test {:.2}%",
            space.format(&best.arch),
            e.objective,
            e.report.unwrap_or(f64::NAN)
        );
    }
    println!(
        "{} candidates in {:.1} s",
        study.trials().len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
