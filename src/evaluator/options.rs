//! How architectures are evaluated, as options (`seminas search` flattens [`EvalArgs`] into
//! its command line): the user's command here or on a Ray cluster, how many at once, time
//! limits, retries and steps; the built-in trainer's settings ([`TrainArgs`], used where
//! seminas is built with the `trainer` feature).

use std::path::{Path, PathBuf};

use clap::Args;

use super::External;
use super::command::{CommandConfig, CommandError, CommandEvaluator, StepSettings};
use super::ray::{RayClient, RayError};
use super::ray_jobs::RayEvaluator;
use crate::settings::SettingError;

/// Why the evaluation options make no evaluator.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// A setting out of its range.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The command cannot be run as configured.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The Ray address is not one.
    #[error(transparent)]
    Ray(#[from] RayError),
}

// The trainer's defaults, for the help text (the trainer itself may not be built; a test
// checks that they are its defaults).
/// Built-in trainer: epochs per candidate.
pub const TRAIN_EPOCHS: usize = 4;
/// Built-in trainer: images per step.
pub const TRAIN_BATCH: usize = 64;
/// Built-in trainer: initial learning rate.
pub const TRAIN_LR: f64 = 0.1;
/// Supernet: training steps before each evaluation.
pub const SUPERNET_STEPS: usize = 20;
/// Supernet: channel multiplier of the search-time widths.
pub const SUPERNET_WIDTH: f64 = 0.25;
/// Supernet: held-out images an architecture is measured on.
pub const SUPERNET_EVAL_IMAGES: usize = 500;

/// The data sets `--dataset` names: those of the built-in trainer and those of NAS-Bench-201's
/// embedded tables (CIFAR-10 is both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetName {
    /// Fashion-MNIST's IDX files (trainer).
    FashionMnist,
    /// CIFAR-10: the official binary batches (trainer) or NAS-Bench-201's table.
    Cifar10,
    /// The embedded, tiny digits set (trainer).
    Digits,
    /// An ImageNet-style folder of JPEG/PNG images (trainer).
    Imagefolder,
    /// NAS-Bench-201's CIFAR-100 table.
    Cifar100,
    /// NAS-Bench-201's ImageNet16-120 table.
    #[value(name = "imagenet16-120")]
    Imagenet16_120,
}

impl DatasetName {
    /// The name as `--dataset` takes it.
    pub fn name(self) -> &'static str {
        match self {
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Digits => "digits",
            DatasetName::Imagefolder => "imagefolder",
            DatasetName::Cifar100 => "cifar100",
            DatasetName::Imagenet16_120 => "imagenet16-120",
        }
    }
}

/// The built-in trainer's settings (`--evaluator train` and `--evaluator supernet`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Built-in trainer (--evaluator train or supernet)")]
pub struct TrainArgs {
    /// Folder of the dataset's files [fashion-mnist: /usr/share/datasets/fashion-mnist, as
    /// Debian's dataset-fashion-mnist installs it; cifar10, imagefolder: required].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Image folder: side R of the network's square input; images are resized so that their
    /// shorter side is round(R / --crop-fraction), then center-cropped to R x R [default: 32;
    /// ImageNet searches use 224]. From 4 to 4,096.
    #[arg(long, value_name = "R")]
    pub image_size: Option<usize>,
    /// Image folder: the center crop's share of the resized shorter side, above 0 and at most
    /// 1 [default: 0.875].
    #[arg(long, value_name = "F")]
    pub crop_fraction: Option<f64>,
    /// Built-in trainer: epochs per candidate, from 1 to 1,000,000.
    #[arg(long, default_value_t = TRAIN_EPOCHS)]
    pub train_epochs: usize,
    /// Built-in trainer and supernet: train on at most this many training images (at least
    /// 1).
    #[arg(long, value_name = "K")]
    pub train_subset: Option<usize>,
    /// Built-in trainer: validate and test on at most this many images each (at least 1)
    /// [default: all].
    #[arg(long, value_name = "K")]
    pub eval_subset: Option<usize>,
    /// Built-in trainer: channels of the first stage, from 1 to 8,192 [NB201: 16, NB101: 128].
    #[arg(long)]
    pub train_channels: Option<usize>,
    /// Built-in trainer: cells per stage, from 1 to 1,000 [NB201: 5, NB101: 3].
    #[arg(long)]
    pub train_cells: Option<usize>,
    /// Built-in trainer: images per step, from 1 to 1,000,000.
    #[arg(long, default_value_t = TRAIN_BATCH)]
    pub train_batch: usize,
    /// Built-in trainer: initial learning rate (cosine to 0), above 0 and at most 1e6.
    #[arg(long, default_value_t = TRAIN_LR)]
    pub train_lr: f64,
    /// Supernet: training steps before each evaluation, from 0 to 1e9.
    #[arg(long, default_value_t = SUPERNET_STEPS)]
    pub supernet_steps: usize,
    /// Supernet: channel multiplier of the paper's search-time widths, above 0 and at most 1e6.
    #[arg(long, default_value_t = SUPERNET_WIDTH)]
    pub supernet_width: f64,
    /// Supernet: held-out training images an architecture is measured on (at least 1).
    #[arg(long, default_value_t = SUPERNET_EVAL_IMAGES)]
    pub supernet_eval_images: usize,
    /// Train on CUDA GPU N, from 0 to 1,023 (needs seminas built with `--features cuda`).
    #[arg(long, value_name = "N")]
    pub cuda: Option<usize>,
}

/// What `--evaluator` names: the built-in trainer, the mobile space's supernet, or the
/// user's shell command (any other text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvaluatorChoice {
    /// `train`: the built-in trainer (NB201 and NB101 networks on --dataset).
    Train,
    /// `supernet`: the weight-sharing supernet of --space mobile.
    Supernet,
    /// A shell command run once per architecture.
    Command(String),
}

impl std::str::FromStr for EvaluatorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim() {
            "" => return Err("an empty command: name `train`, `supernet` or a command".into()),
            "train" => EvaluatorChoice::Train,
            "supernet" => EvaluatorChoice::Supernet,
            _ => EvaluatorChoice::Command(s.to_string()),
        })
    }
}

impl TrainArgs {
    /// Checks every numeric setting, used or not, before a run directory exists.
    pub fn validate(&self) -> Result<(), SettingError> {
        use crate::settings::{
            MAX_BATCH, MAX_CELLS, MAX_EPOCHS, MAX_FACTOR, MAX_IMAGE_SIZE, MAX_STEPS,
            MAX_TRAIN_CHANNELS, MIN_IMAGE_SIZE, in_range, positive,
        };
        let optional = |setting, v: Option<usize>, min, max| {
            v.map_or(Ok(0), |v| in_range(setting, v, min, max))
        };
        optional(
            "image-size",
            self.image_size,
            MIN_IMAGE_SIZE,
            MAX_IMAGE_SIZE,
        )?;
        if let Some(f) = self.crop_fraction {
            positive("crop-fraction", f, 1.0)?;
        }
        in_range("train-epochs", self.train_epochs, 1, MAX_EPOCHS)?;
        optional("train-subset", self.train_subset, 1, usize::MAX)?;
        optional("eval-subset", self.eval_subset, 1, usize::MAX)?;
        optional("train-channels", self.train_channels, 1, MAX_TRAIN_CHANNELS)?;
        optional("train-cells", self.train_cells, 1, MAX_CELLS)?;
        in_range("train-batch", self.train_batch, 1, MAX_BATCH)?;
        positive("train-lr", self.train_lr, MAX_FACTOR)?;
        in_range("supernet-steps", self.supernet_steps, 0, MAX_STEPS)?;
        positive("supernet-width", self.supernet_width, MAX_FACTOR)?;
        in_range(
            "supernet-eval-images",
            self.supernet_eval_images,
            1,
            usize::MAX,
        )?;
        if let Some(c) = self.cuda {
            crate::settings::cuda_device(c, cfg!(feature = "cuda"))?;
        }
        Ok(())
    }
}

/// How architectures are evaluated and how many at once.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Evaluation")]
pub struct EvalArgs {
    /// Evaluate by running this shell command once per architecture instead of looking it up
    /// in a benchmark table; or `train` (the built-in trainer: NB201 and NB101 networks on
    /// --dataset), or `supernet` (weight sharing, for --space mobile). Placeholders (replaced by shell-quoted values): {arch} (the
    /// architecture as JSON), {result} (the file to write {"objective": X, "metrics": {...}}
    /// to; or print it as the last line), {workdir}, {key}, {index}. See docs/training.md.
    #[arg(long, value_name = "COMMAND")]
    pub evaluator: Option<EvaluatorChoice>,
    /// Time limit of one evaluation attempt, in seconds: above 0 and at most 1e9 (default:
    /// none).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Attempts after a failed one (a crash, a timeout, garbage output), from 0 to 1,000.
    #[arg(long, default_value_t = 1)]
    pub retries: usize,
    /// Evaluations running at once. Results are used in proposal order, so the same seed and
    /// the same number of workers give the same run whatever the timing; another number of
    /// workers gives another run (proposals are made before earlier results are in). From 1
    /// to 1,024.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Run each evaluation as a job on this Ray cluster (the head's dashboard address,
    /// http://HOST:8265) instead of here. See docs/ray.md.
    #[arg(long, value_name = "URL", requires = "evaluator")]
    pub ray: Option<String>,
    /// Ray: CPUs each job reserves (Ray runs jobs that reserve nothing on the head node), from
    /// 0 to 1e6.
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    pub ray_cpus: f64,
    /// Ray: GPUs each job reserves, above 0 and at most 1e6.
    #[arg(long, value_name = "N")]
    pub ray_gpus: Option<f64>,
    /// The step (epoch) a whole training of --evaluator COMMAND ends at. The command reports
    /// steps as lines {"step": N, "objective": V} on standard output (or in {progress}); with
    /// this, the search may stop trainings early (--prune, or a budget in training time).
    /// From 1 to 4294967295.
    #[arg(long, value_name = "N", help_heading = "Early stopping")]
    pub max_step: Option<u64>,
    /// Seconds a command told to stop (SIGTERM to its process group) has before it is killed:
    /// above 0 and at most 1e9.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10.0,
        help_heading = "Early stopping"
    )]
    pub stop_grace: f64,
    /// The built-in trainer's settings.
    #[command(flatten)]
    pub train: TrainArgs,
}

impl EvalArgs {
    /// The evaluator for `template`: local, or Ray jobs named after `run_id`.
    pub fn external(
        &self,
        template: &str,
        report: Option<&str>,
        cwd: &Path,
        run_id: &str,
    ) -> Result<External, OptionsError> {
        let command = self.command(template, report, cwd)?;
        let Some(address) = &self.ray else {
            return Ok(External::Local(command));
        };
        let mut client = RayClient::new(address)?;
        if let Some(gpus) = self.ray_gpus {
            client = client.with_entrypoint_num_gpus(gpus);
        }
        let cpus = (self.ray_cpus > 0.0).then_some(self.ray_cpus);
        Ok(External::Ray(Box::new(RayEvaluator::new(
            client, command, run_id, cpus,
        ))))
    }

    /// Checks the settings that size a run (workers, retries, time limit).
    pub fn validate(&self) -> Result<(), SettingError> {
        use crate::settings::{MAX_RETRIES, MAX_WORKERS, in_range, seconds};
        in_range("workers", self.workers, 1, MAX_WORKERS)?;
        in_range("retries", self.retries, 0, MAX_RETRIES)?;
        if let Some(t) = self.timeout {
            seconds("timeout", t)?;
        }
        seconds("stop-grace", self.stop_grace)?;
        if let Some(m) = self.max_step {
            crate::settings::in_range("max-step", m, 1, u64::from(u32::MAX))?;
        }
        use crate::settings::{MAX_RAY_RESOURCES, between, positive};
        between("ray-cpus", self.ray_cpus, 0.0, MAX_RAY_RESOURCES)?;
        if let Some(g) = self.ray_gpus {
            positive("ray-gpus", g, MAX_RAY_RESOURCES)?;
        }
        self.train.validate()?;
        Ok(())
    }

    /// The command evaluator the arguments describe, running commands in `cwd`.
    /// `report` names the metric of the result shown as the reported value.
    pub fn command(
        &self,
        template: &str,
        report: Option<&str>,
        cwd: &Path,
    ) -> Result<CommandEvaluator, OptionsError> {
        self.validate()?;
        let timeout = self
            .timeout
            .map(|t| crate::settings::seconds("timeout", t))
            .transpose()?;
        Ok(CommandEvaluator::new(CommandConfig {
            template: template.to_string(),
            timeout,
            retries: self.retries,
            report_metric: report.map(str::to_string),
            cwd: Some(cwd.to_path_buf()),
            steps: StepSettings {
                max_step: self.max_step,
                grace: crate::settings::seconds("stop-grace", self.stop_grace)?,
            },
        })?)
    }
}
