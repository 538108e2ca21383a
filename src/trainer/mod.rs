//! The built-in trainer: trains candidate networks for real and reports their accuracy.
//!
//! - [`data`]: Fashion-MNIST (IDX), CIFAR-10 (official binary batches) and the embedded 8x8
//!   digits in memory; image folders in the ImageNet layout (JPEG, PNG) read from disk;
//! - [`Nb201Net`] and [`Nb101Net`]: the published NAS-Bench-201 and NAS-Bench-101 networks for
//!   a cell of [`Nb201Space`] or [`Nb101Space`] (smaller widths and depths allowed);
//! - [`TrainEvaluator`]: an [`Evaluator`] for both spaces. The objective is the accuracy (%) on
//!   a validation split carved from the training set, the report the test-set accuracy (%), the
//!   cost the wall time.
//!
//! Tensors, automatic differentiation and the SGD optimiser come from `burn` (its pure-Rust
//! `flex` CPU backend; CUDA with the `cuda` cargo feature), chosen by measurement: see
//! docs/trainer.md.
//!
//! # Recipe ([`TrainConfig`])
//! SGD with Nesterov momentum 0.9, weight decay 5e-4 (on every parameter), learning rate 0.1
//! decayed per step by a cosine to 0, batch 64, cross-entropy, no data augmentation (image
//! folders: random horizontal flips, see [`Dataset::flip_train`]); batch norm uses batch
//! statistics in training and running statistics for validation and test. Inputs are
//! normalised per channel ([`Dataset::normalizer`]).
//!
//! # Determinism and threads
//! A candidate's weights and batch order come from [`rng_for`]`(seed, "trainer:" + key)`, so an
//! evaluation depends only on the evaluator's seed, the architecture's canonical key and the
//! configuration, not on which worker runs it or when. Each evaluation runs its tensor
//! operations in its own rayon pool of [`TrainConfig::threads`] threads; results are
//! reproducible for a fixed thread count. `evaluate` may be called from several threads at once:
//! give each of `W` workers `threads = cores / W`.

pub mod bench;
pub mod data;
mod layers;
mod nb101_net;
mod nb201_net;
pub mod supernet;
mod train;

pub use data::{DataError, Dataset};
pub use nb101_net::{Nb101Net, vertex_channels};
pub use nb201_net::Nb201Net;
pub use train::cosine_lr;

use std::sync::Arc;
use std::time::Instant;

use burn::prelude::Device;

use crate::evaluator::{Decision, Fidelities, StepMonitor};
use crate::evaluator::{EvalContext, Evaluation, Evaluator, Outcome};
use crate::rng::{Rng, rng_for};
use crate::space::nb101::{Cell, Nb101Space};
use crate::space::{CategoricalArch, Nb201Space, SearchSpace};
use train::{Network, accuracy, fit};

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrainDevice {
    /// The CPU (burn's pure-Rust `flex` backend).
    #[default]
    Cpu,
    /// CUDA GPU number `n` (needs the `cuda` cargo feature).
    Cuda(usize),
}

/// The training recipe and network size. Every field has a documented default.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training subset (default 4; NAS-Bench-201 used 200).
    pub epochs: usize,
    /// Images per SGD step (default 64).
    pub batch_size: usize,
    /// Initial learning rate (default 0.1, as NAS-Bench-201).
    pub learning_rate: f64,
    /// Final learning rate of the cosine schedule (default 0).
    pub min_learning_rate: f64,
    /// SGD momentum (default 0.9).
    pub momentum: f64,
    /// Nesterov momentum (default true).
    pub nesterov: bool,
    /// L2 weight decay added to the gradients (default 5e-4).
    pub weight_decay: f64,
    /// Fraction of the training set held out as the validation split, the search's objective
    /// (default 0.1). The split is fixed (it does not depend on the seed), so every candidate is
    /// measured on the same images.
    pub val_fraction: f64,
    /// Train on at most this many images of the rest of the training set (default: all).
    pub train_subset: Option<usize>,
    /// Validate and test on at most this many images each (default: all): the first ones of
    /// the test split, or for an image folder (its files in class order) evenly spaced ones.
    pub eval_subset: Option<usize>,
    /// Channels of the first stage; `None`: the published value (16 for NB201, 128 for NB101).
    pub channels: Option<usize>,
    /// Cells per stage; `None`: the published value (5 for NB201, 3 for NB101).
    pub cells: Option<usize>,
    /// Threads for the tensor operations of one evaluation (default: all cores).
    pub threads: usize,
    /// Images per batch when measuring accuracy (default 256).
    pub eval_batch_size: usize,
    /// Where to train (default: the CPU).
    pub device: TrainDevice,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 4,
            batch_size: 64,
            learning_rate: 0.1,
            min_learning_rate: 0.0,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            val_fraction: 0.1,
            train_subset: None,
            eval_subset: None,
            channels: None,
            cells: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            eval_batch_size: 256,
            device: TrainDevice::Cpu,
        }
    }
}

/// The tensor library's device for `d`.
pub(crate) fn device_for(d: TrainDevice) -> Result<Device, TrainError> {
    match d {
        TrainDevice::Cpu => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        TrainDevice::Cuda(i) => Ok(Device::cuda(i)),
        #[cfg(not(feature = "cuda"))]
        TrainDevice::Cuda(_) => Err(TrainError::Config(
            "CUDA needs seminas built with the `cuda` feature".into(),
        )),
    }
}

/// What went wrong setting up or running a training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The dataset could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The configuration cannot work (e.g. no training image left).
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// Training failed (e.g. the loss became NaN).
    #[error("training failed: {0}")]
    Failed(String),
    /// The architecture cannot be built (e.g. an NB101 cell whose input does not reach the
    /// output).
    #[error("architecture cannot be built: {0}")]
    Arch(String),
}

/// The result of training one network.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Accuracy (%) on the validation split.
    pub val_acc: f64,
    /// Accuracy (%) on the test split.
    pub test_acc: f64,
    /// Wall time of building, training and measuring, in seconds.
    pub seconds: f64,
    /// Trainable parameters of the network.
    pub params: usize,
    /// The epoch the search stopped the training at (`val_acc` is then that epoch's and
    /// `test_acc` is not measured: NaN).
    pub stopped_at: Option<usize>,
}

/// Fixed index sets of the dataset.
#[derive(Debug)]
struct Splits {
    train: Vec<usize>,
    val: Vec<usize>,
    test: Vec<usize>,
}

/// An [`Evaluator`] that trains each candidate on a dataset.
#[derive(Debug, Clone)]
pub struct TrainEvaluator {
    config: TrainConfig,
    data: Arc<Dataset>,
    norm: Arc<data::Normalizer>,
    splits: Arc<Splits>,
    seed: u64,
    objective_name: String,
    report_name: String,
}

impl TrainEvaluator {
    /// An evaluator training with `config` on `data`, seed 0 (see [`Evaluator::reseed`]).
    pub fn new(config: TrainConfig, data: Dataset) -> Result<Self, TrainError> {
        if !(0.0..1.0).contains(&config.val_fraction) {
            return Err(TrainError::Config(format!(
                "val_fraction {} is not in [0, 1)",
                config.val_fraction
            )));
        }
        if config.batch_size == 0 || config.threads == 0 || config.eval_batch_size == 0 {
            return Err(TrainError::Config(
                "batch sizes and threads must be positive".into(),
            ));
        }
        let n = data.train.len();
        // The split depends on the dataset only: a fixed permutation.
        let mut perm: Vec<usize> = (0..n).collect();
        rand::seq::SliceRandom::shuffle(perm.as_mut_slice(), &mut rng_for(0, "trainer-split"));
        let n_val = ((n as f64) * config.val_fraction).round() as usize;
        let (val, rest) = perm.split_at(n_val);
        let mut train = rest.to_vec();
        if let Some(k) = config.train_subset {
            train.truncate(k);
        }
        if train.is_empty() {
            return Err(TrainError::Config(format!(
                "no training image left ({n} images, validation fraction {})",
                config.val_fraction
            )));
        }
        let cap = config.eval_subset.unwrap_or(usize::MAX);
        let val: Vec<usize> = val.iter().copied().take(cap).collect();
        let n_test = data.test.len();
        let test: Vec<usize> = if data.test.on_disk() && cap < n_test {
            // An image folder's files are in class order: spread the subset over all classes.
            (0..cap).map(|k| k * n_test / cap).collect()
        } else {
            (0..n_test.min(cap)).collect()
        };
        let norm = data.normalizer();
        let objective_name = format!("{}_valid_acc", data.name);
        let report_name = format!("{}_test_acc", data.name);
        Ok(Self {
            config,
            data: Arc::new(data),
            norm: Arc::new(norm),
            splits: Arc::new(Splits { train, val, test }),
            seed: 0,
            objective_name,
            report_name,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// Sizes of the (training, validation, test) index sets in use.
    pub fn split_sizes(&self) -> (usize, usize, usize) {
        (
            self.splits.train.len(),
            self.splits.val.len(),
            self.splits.test.len(),
        )
    }

    fn device(&self) -> Result<Device, TrainError> {
        device_for(self.config.device)
    }

    fn rng(&self, key: &str) -> Rng {
        rng_for(self.seed, &format!("trainer:{key}"))
    }

    /// Runs `f` in a rayon pool of the configured size (the tensor library's parallel loops
    /// use the pool they are called from).
    fn in_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, TrainError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.threads)
            .build()
            .map_err(|e| TrainError::Config(format!("thread pool: {e}")))?;
        Ok(pool.install(f))
    }

    fn run<N: Network + Send>(
        &self,
        build: impl FnOnce(&mut Rng, &Device) -> Result<N, TrainError> + Send,
        key: &str,
        monitor: Option<&dyn StepMonitor>,
    ) -> Result<TrainReport, TrainError> {
        let start = Instant::now();
        let plain = self.device()?;
        let device = plain.clone().autodiff();
        self.in_pool(|| {
            let mut rng = self.rng(key);
            let net = build(&mut rng, &device)?;
            let params = net.trainable_params();
            let s = &self.splits;
            let b = self.config.eval_batch_size;
            // With a monitor, the validation accuracy after each epoch is a step; a stop ends
            // the training there (its accuracy is the result).
            let mut stopped_val = None;
            let mut after_epoch = |epoch: usize, net: &N| -> Result<bool, TrainError> {
                let Some(m) = monitor else {
                    return Ok(false);
                };
                if epoch == self.config.epochs {
                    return Ok(false);
                }
                let val = accuracy(
                    &net.clone().valid(),
                    &self.data,
                    &self.data.train,
                    &s.val,
                    &self.norm,
                    b,
                    &plain,
                )?;
                let stop =
                    m.report(epoch as u64, val, start.elapsed().as_secs_f64()) == Decision::Stop;
                if stop {
                    stopped_val = Some(val);
                }
                Ok(stop)
            };
            let (net, stopped_at) = fit(
                net,
                &self.data,
                &s.train,
                &self.norm,
                &self.config,
                &mut rng,
                &device,
                &mut after_epoch,
            )?;
            if let (Some(epoch), Some(val_acc)) = (stopped_at, stopped_val) {
                return Ok(TrainReport {
                    val_acc,
                    test_acc: f64::NAN,
                    seconds: start.elapsed().as_secs_f64(),
                    params,
                    stopped_at: Some(epoch),
                });
            }
            let net = net.valid();
            let val_acc = accuracy(
                &net,
                &self.data,
                &self.data.train,
                &s.val,
                &self.norm,
                b,
                &plain,
            )?;
            let test_acc = accuracy(
                &net,
                &self.data,
                &self.data.test,
                &s.test,
                &self.norm,
                b,
                &plain,
            )?;
            if let Some(m) = monitor {
                m.report(
                    self.config.epochs as u64,
                    val_acc,
                    start.elapsed().as_secs_f64(),
                );
            }
            Ok(TrainReport {
                val_acc,
                test_acc,
                seconds: start.elapsed().as_secs_f64(),
                params,
                stopped_at: None,
            })
        })?
    }

    /// Trains the NB201 network of `arch` and measures it.
    pub fn train_nb201(&self, arch: &CategoricalArch) -> Result<TrainReport, TrainError> {
        self.train_nb201_steps(arch, None)
    }

    /// As [`Self::train_nb201`], reporting the validation accuracy after each epoch to
    /// `monitor` (which may stop the training).
    pub fn train_nb201_steps(
        &self,
        arch: &CategoricalArch,
        monitor: Option<&dyn StepMonitor>,
    ) -> Result<TrainReport, TrainError> {
        if arch.0.len() != 6 || arch.0.iter().any(|&c| c > 4) {
            return Err(TrainError::Arch(format!("not an NB201 cell: {arch:?}")));
        }
        let key = Nb201Space::new().key(arch);
        let (d, c) = (&self.data, &self.config);
        self.run(
            |rng, dev| {
                Ok(Nb201Net::new(
                    arch,
                    d.channels,
                    c.channels.unwrap_or(16),
                    c.cells.unwrap_or(5),
                    d.classes,
                    rng,
                    dev,
                ))
            },
            &key,
            monitor,
        )
    }

    /// Trains the NB101 network of `cell` and measures it.
    pub fn train_nb101(&self, cell: &Cell) -> Result<TrainReport, TrainError> {
        self.train_nb101_steps(cell, None)
    }

    /// As [`Self::train_nb101`], reporting each epoch to `monitor`.
    pub fn train_nb101_steps(
        &self,
        cell: &Cell,
        monitor: Option<&dyn StepMonitor>,
    ) -> Result<TrainReport, TrainError> {
        let key = cell
            .module_hash()
            .map_err(|e| TrainError::Arch(e.to_string()))?
            .to_string();
        let (d, c) = (&self.data, &self.config);
        self.run(
            |rng, dev| {
                Nb101Net::new(
                    cell,
                    d.channels,
                    c.channels.unwrap_or(128),
                    c.cells.unwrap_or(3),
                    d.classes,
                    rng,
                    dev,
                )
                .ok_or_else(|| TrainError::Arch(format!("{cell:?} has no input-output path")))
            },
            &key,
            monitor,
        )
    }

    /// The epochs a training reports (each, up to the whole training's).
    fn epoch_fidelities(&self) -> Fidelities {
        Fidelities {
            steps: (1..=self.config.epochs.max(1) as u64).collect(),
            fixed: true,
        }
    }
}

fn outcome(r: Result<TrainReport, TrainError>) -> Outcome {
    match r {
        // Stopped: its validation accuracy then (the driver marks it stopped).
        Ok(r) if r.stopped_at.is_some() => {
            Outcome::Evaluated(Evaluation::new(r.val_acc, None, r.seconds))
        }
        Ok(r) => Outcome::Evaluated(Evaluation::new(r.val_acc, Some(r.test_acc), r.seconds)),
        Err(TrainError::Arch(_)) => Outcome::NotEvaluable,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

impl Evaluator<Nb201Space> for TrainEvaluator {
    fn objective_name(&self) -> &str {
        &self.objective_name
    }
    fn report_name(&self) -> &str {
        &self.report_name
    }
    fn evaluate(&self, _space: &Nb201Space, arch: &CategoricalArch) -> Outcome {
        outcome(self.train_nb201(arch))
    }
    fn evaluate_steps(
        &self,
        _space: &Nb201Space,
        arch: &CategoricalArch,
        ctx: &EvalContext,
        monitor: &dyn StepMonitor,
    ) -> Outcome {
        outcome(self.train_nb201_steps(arch, ctx.steps_wanted.then_some(monitor)))
    }
    fn fidelities(&self) -> Option<Fidelities> {
        Some(self.epoch_fidelities())
    }
    fn live_steps(&self) -> bool {
        true
    }
    fn reseed(&self, seed: u64) -> Option<Self> {
        Some(Self {
            seed,
            ..self.clone()
        })
    }
}

impl Evaluator<Nb101Space> for TrainEvaluator {
    fn objective_name(&self) -> &str {
        &self.objective_name
    }
    fn report_name(&self) -> &str {
        &self.report_name
    }
    fn evaluate(&self, _space: &Nb101Space, cell: &Cell) -> Outcome {
        outcome(self.train_nb101(cell))
    }
    fn evaluate_steps(
        &self,
        _space: &Nb101Space,
        cell: &Cell,
        ctx: &EvalContext,
        monitor: &dyn StepMonitor,
    ) -> Outcome {
        outcome(self.train_nb101_steps(cell, ctx.steps_wanted.then_some(monitor)))
    }
    fn fidelities(&self) -> Option<Fidelities> {
        Some(self.epoch_fidelities())
    }
    fn live_steps(&self) -> bool {
        true
    }
    fn reseed(&self, seed: u64) -> Option<Self> {
        Some(Self {
            seed,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests;
