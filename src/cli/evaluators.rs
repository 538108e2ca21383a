//! The built-in trainer and supernet built from the command line's options
//! ([`seminas::evaluator::options::TrainArgs`]).

#[cfg(feature = "trainer")]
use std::path::PathBuf;

#[cfg(feature = "trainer")]
use anyhow::Context;

#[cfg(feature = "trainer")]
use seminas::evaluator::options::{DatasetName, TrainArgs};
#[cfg(feature = "trainer")]
use seminas::space::mobile::MobileSpace;
#[cfg(feature = "trainer")]
use seminas::trainer::data::{FASHION_MNIST_DEBIAN_DIR, FolderOptions};
#[cfg(feature = "trainer")]
use seminas::trainer::supernet::{SupernetConfig, SupernetEvaluator};
#[cfg(feature = "trainer")]
use seminas::trainer::{Dataset, TrainConfig, TrainDevice, TrainEvaluator};

/// The error of a command that needs the built-in trainer in a seminas built without it.
/// Built with the trainer too, so that the test command (which enables it) checks the text.
#[cfg_attr(feature = "trainer", allow(dead_code))]
pub fn without_trainer(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} needs the built-in trainer, and this seminas was built without it (cargo \
         feature `trainer`, off by default: it adds burn to the build). Build it with \
         `cargo build --release --features trainer` (or `cargo install --path . --features \
         trainer`; `cargo run --release --features trainer -- ...`)"
    )
}

/// The dataset `name` (`--dataset`; Fashion-MNIST unless given), read from its files.
#[cfg(feature = "trainer")]
pub fn dataset(args: &TrainArgs, name: Option<DatasetName>) -> anyhow::Result<Dataset> {
    let name = name.unwrap_or(DatasetName::FashionMnist);
    if name != DatasetName::Imagefolder {
        anyhow::ensure!(
            args.image_size.is_none() && args.crop_fraction.is_none(),
            "--image-size and --crop-fraction apply to --dataset imagefolder only"
        );
    }
    Ok(match name {
        DatasetName::Cifar100 | DatasetName::Imagenet16_120 => anyhow::bail!(
            "--dataset {} is a NAS-Bench-201 table (without --evaluator); the built-in trainer \
             reads fashion-mnist, cifar10, digits or imagefolder",
            name.name()
        ),
        DatasetName::Digits => Dataset::digits(),
        DatasetName::Imagefolder => {
            let Some(dir) = &args.data_dir else {
                anyhow::bail!(
                    "--dataset imagefolder needs --data-dir DIR (a folder holding train/ and \
                     val/, each with one subfolder of JPEG or PNG images per class)"
                );
            };
            let defaults = FolderOptions::default();
            let options = FolderOptions {
                image_size: args.image_size.unwrap_or(defaults.image_size),
                crop_fraction: args.crop_fraction.unwrap_or(defaults.crop_fraction),
            };
            Dataset::image_folder(dir, &options)
                .with_context(|| format!("cannot read the image folder {}", dir.display()))?
        }
        DatasetName::Cifar10 => {
            let Some(dir) = &args.data_dir else {
                anyhow::bail!(
                    "--dataset cifar10 needs --data-dir DIR (the cifar-10-batches-bin folder \
                     of the official binary archive)"
                );
            };
            Dataset::cifar10(dir)?
        }
        DatasetName::FashionMnist => {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DEBIAN_DIR));
            Dataset::fashion_mnist(&dir).with_context(|| {
                format!(
                    "cannot read Fashion-MNIST from {} (on Debian: apt-get install \
                     dataset-fashion-mnist; elsewhere: --data-dir DIR with the four IDX files)",
                    dir.display()
                )
            })?
        }
    })
}

#[cfg(feature = "trainer")]
fn device(args: &TrainArgs) -> TrainDevice {
    args.cuda.map_or(TrainDevice::Cpu, TrainDevice::Cuda)
}

/// The built-in trainer for `workers` evaluations at once (the cores are shared out).
#[cfg(feature = "trainer")]
pub fn trainer(
    args: &TrainArgs,
    dataset_name: Option<DatasetName>,
    workers: usize,
) -> anyhow::Result<TrainEvaluator> {
    anyhow::ensure!(args.train_epochs >= 1, "--train-epochs must be at least 1");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let config = TrainConfig {
        epochs: args.train_epochs,
        batch_size: args.train_batch,
        learning_rate: args.train_lr,
        train_subset: args.train_subset,
        eval_subset: args.eval_subset,
        channels: args.train_channels,
        cells: args.train_cells,
        threads: (cores / workers.max(1)).max(1),
        device: device(args),
        ..TrainConfig::default()
    };
    Ok(TrainEvaluator::new(config, dataset(args, dataset_name)?)?)
}

/// The supernet evaluator for `space`.
#[cfg(feature = "trainer")]
pub fn supernet(
    args: &TrainArgs,
    dataset_name: Option<DatasetName>,
    space: &MobileSpace,
) -> anyhow::Result<SupernetEvaluator> {
    let config = SupernetConfig {
        steps_per_eval: args.supernet_steps,
        width_multiplier: args.supernet_width,
        eval_images: args.supernet_eval_images,
        train_subset: args.train_subset,
        device: device(args),
        ..SupernetConfig::default()
    };
    Ok(SupernetEvaluator::new(
        config,
        dataset(args, dataset_name)?,
        space,
    )?)
}

#[cfg(all(test, feature = "trainer"))]
mod tests {
    use super::*;
    use seminas::evaluator::options::{
        SUPERNET_EVAL_IMAGES, SUPERNET_STEPS, SUPERNET_WIDTH, TRAIN_BATCH, TRAIN_EPOCHS, TRAIN_LR,
    };

    #[test]
    fn the_missing_trainer_error_says_how_to_build_it() {
        let err = without_trainer("--evaluator train").to_string();
        assert!(
            err.starts_with("--evaluator train needs the built-in trainer"),
            "{err}"
        );
        assert!(err.contains("built without it"), "{err}");
        assert!(
            err.contains("cargo build --release --features trainer"),
            "{err}"
        );
    }

    #[test]
    fn the_help_texts_defaults_are_the_trainers() {
        let t = TrainConfig::default();
        assert_eq!(
            (t.epochs, t.batch_size, t.learning_rate),
            (TRAIN_EPOCHS, TRAIN_BATCH, TRAIN_LR)
        );
        let s = SupernetConfig::default();
        assert_eq!(
            (s.steps_per_eval, s.width_multiplier, s.eval_images),
            (SUPERNET_STEPS, SUPERNET_WIDTH, SUPERNET_EVAL_IMAGES)
        );
    }
}
