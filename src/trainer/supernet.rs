//! Weight-sharing evaluation for the MobileNet-style space (SemiNAS's ImageNet search).
//!
//! One supernet holds every candidate block: for each of the searchable positions, one MBConv
//! block per operation (k3e3 ... k7e6; Zero skips the position). An architecture is a path
//! through it. As in the paper, each training step trains one architecture drawn from the pool
//! of architectures the search has proposed so far, and an architecture's label is its
//! accuracy on held-out images with the shared weights. The weights live as long as the
//! evaluator, so they carry over from one SemiNAS round to the next.
//!
//! [`SupernetEvaluator::evaluate`] first trains the supernet for
//! [`SupernetConfig::steps_per_eval`] steps (architectures drawn uniformly from the pool,
//! which now includes the one being evaluated), then measures the architecture on the
//! held-out images. The evaluator is stateful: results depend on the order of evaluations, so
//! it must be driven by one worker.
//!
//! # State
//! [`Evaluator::save_state`] writes everything that changes as the supernet trains, so that a
//! resumed run continues it bit for bit: a safetensors file whose tensors are `net` (the
//! weights and batch-norm statistics, burn's burnpack module record, which keeps the parameter
//! ids the optimiser state is keyed by), `optimizer` (SGD's momentum buffers, burnpack) and
//! `order` (`U32`, the training images in their shuffled order), and whose metadata holds
//! `format` (`seminas-supernet-1`), `config` (what must match for the state to be continued:
//! dataset, width, skeleton, training settings), `rng` (ChaCha seed, stream, word position),
//! `pool` (the architectures trained so far, as tokens), `next` and `steps`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::nn::Linear;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use rand::seq::SliceRandom;
use rand::{Rng as _, SeedableRng as _};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::data::{Dataset, Normalizer};
use super::layers::{ConvBn, global_avg_pool, linear};
use super::train::{batch, flips};
use super::{TrainDevice, TrainError, device_for};
use crate::evaluator::{Evaluation, Evaluator, Outcome, StateError};
use crate::rng::{Rng, rng_for};
use crate::space::SearchSpace;
use crate::space::mobile::{MobileArch, MobileOp, MobileSkeleton, MobileSpace};

mod network;
mod state;
#[cfg(test)]
mod tests;

pub use network::MobileSupernet;
pub use state::{STATE_FORMAT, STATE_NAME, SupernetStateError};

/// Settings of the supernet and its training.
#[derive(Debug, Clone, PartialEq)]
pub struct SupernetConfig {
    /// Channel multiplier applied to the paper's search-time widths (default 0.25: a supernet
    /// small enough for a CPU; 1.0 is the paper's).
    pub width_multiplier: f64,
    /// Training steps before each evaluation (default 20).
    pub steps_per_eval: usize,
    /// Images per training step (default 64).
    pub batch_size: usize,
    /// Learning rate, constant: the supernet trains for as long as the search runs
    /// (default 0.05).
    pub learning_rate: f64,
    /// SGD momentum, Nesterov (default 0.9).
    pub momentum: f64,
    /// Weight decay (default 4e-5, as ProxylessNAS and SemiNAS's ImageNet search).
    pub weight_decay: f64,
    /// Held-out images an architecture is measured on: the first images of a fixed split of
    /// the training set, never trained on (default 500).
    pub eval_images: usize,
    /// Train on at most this many images of the rest of the training set (default: all).
    pub train_subset: Option<usize>,
    /// Threads for the tensor operations (default: all cores).
    pub threads: usize,
    /// Where to train.
    pub device: TrainDevice,
}

impl Default for SupernetConfig {
    fn default() -> Self {
        Self {
            width_multiplier: 0.25,
            steps_per_eval: 20,
            batch_size: 64,
            learning_rate: 0.05,
            momentum: 0.9,
            weight_decay: 4e-5,
            eval_images: 500,
            train_subset: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            device: TrainDevice::Cpu,
        }
    }
}

/// The supernet under training, with everything that changes as it trains.
struct State {
    net: Option<MobileSupernet>,
    opt: ModuleOptimizer,
    rng: Rng,
    /// Architectures proposed so far (the pool training steps draw from).
    pool: Vec<MobileArch>,
    /// Training images in the order they are used; refilled (shuffled) when used up.
    order: Vec<usize>,
    next: usize,
    steps: usize,
}

/// An [`Evaluator`] for [`MobileSpace`] labelling architectures with a shared supernet (see
/// the module documentation).
pub struct SupernetEvaluator {
    config: SupernetConfig,
    data: Arc<Dataset>,
    norm: Normalizer,
    train: Vec<usize>,
    held_out: Vec<usize>,
    skeleton: MobileSkeleton,
    /// The skeleton before scaling (for [`Evaluator::reseed`]).
    base: MobileSkeleton,
    state: Mutex<State>,
    objective_name: String,
    /// What a saved state must match to be continued: (setting, value), see [`STATE_FORMAT`].
    settings: Vec<(&'static str, String)>,
}

impl SupernetEvaluator {
    /// A supernet for `space`'s skeleton scaled by `config.width_multiplier`, trained on
    /// `data`, seed 0 (see [`Evaluator::reseed`]).
    pub fn new(
        config: SupernetConfig,
        data: Dataset,
        space: &MobileSpace,
    ) -> Result<Self, TrainError> {
        Self::with_seed(config, Arc::new(data), space.skeleton(), 0)
    }

    fn with_seed(
        config: SupernetConfig,
        data: Arc<Dataset>,
        skeleton: &MobileSkeleton,
        seed: u64,
    ) -> Result<Self, TrainError> {
        if config.batch_size == 0 || config.threads == 0 || config.eval_images == 0 {
            return Err(TrainError::Config(
                "batch size, held-out images and threads must be positive".into(),
            ));
        }
        if !(config.width_multiplier > 0.0 && config.width_multiplier.is_finite()) {
            return Err(TrainError::Config(
                "the width multiplier must be positive".into(),
            ));
        }
        let n = data.train.len();
        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut rng_for(0, "supernet-split"));
        if n <= config.eval_images {
            return Err(TrainError::Config(format!(
                "{} training images leave none for training after {} held out",
                n, config.eval_images
            )));
        }
        let (held_out, rest) = perm.split_at(config.eval_images);
        let mut train = rest.to_vec();
        if let Some(k) = config.train_subset {
            train.truncate(k.max(1));
        }
        let base = skeleton.clone();
        let skeleton = MobileSkeleton {
            num_classes: data.classes,
            resolution: data.height,
            ..skeleton.scaled(config.width_multiplier)
        };
        let device = device_for(config.device)?.autodiff();
        let mut rng = rng_for(seed, "supernet");
        let net = MobileSupernet::new(&skeleton, data.channels, data.classes, &mut rng, &device);
        let opt = optimizer(&config);
        let objective_name = format!("{}_supernet_acc", data.name);
        // Threads and device are left out: a state may continue elsewhere.
        let settings = vec![
            ("dataset (--dataset)", data.name.clone()),
            (
                "image shape",
                format!("{}x{}x{}", data.channels, data.height, data.width),
            ),
            ("classes", data.classes.to_string()),
            ("training images", n.to_string()),
            (
                "width multiplier (--supernet-width)",
                config.width_multiplier.to_string(),
            ),
            (
                "held-out images (--supernet-eval-images)",
                config.eval_images.to_string(),
            ),
            (
                "training subset (--train-subset)",
                format!("{:?}", config.train_subset),
            ),
            ("batch size", config.batch_size.to_string()),
            (
                "steps per evaluation (--supernet-steps)",
                config.steps_per_eval.to_string(),
            ),
            ("learning rate", config.learning_rate.to_string()),
            ("momentum", config.momentum.to_string()),
            ("weight decay", config.weight_decay.to_string()),
            (
                "skeleton",
                serde_json::to_string(&skeleton).expect("a skeleton serialises"),
            ),
        ];
        Ok(Self {
            norm: data.normalizer(),
            train,
            held_out: held_out.to_vec(),
            skeleton,
            base,
            state: Mutex::new(State {
                net: Some(net),
                opt,
                rng,
                pool: Vec::new(),
                order: Vec::new(),
                next: 0,
                steps: 0,
            }),
            objective_name,
            settings,
            config,
            data,
        })
    }

    /// The (scaled) skeleton the supernet is built from.
    pub fn skeleton(&self) -> &MobileSkeleton {
        &self.skeleton
    }

    /// Training steps taken so far.
    pub fn steps(&self) -> usize {
        self.state.lock().map(|s| s.steps).unwrap_or(0)
    }

    /// Trains `steps` steps on architectures drawn from the pool, then measures `arch`.
    fn train_then_measure(&self, arch: &MobileArch) -> Result<(f64, f64), TrainError> {
        let start = Instant::now();
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *guard;
        if !state.pool.contains(arch) {
            state.pool.push(arch.clone());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.threads)
            .build()
            .map_err(|e| TrainError::Config(format!("thread pool: {e}")))?;
        let autodiff = device_for(self.config.device)?.autodiff();
        let loss_fn = CrossEntropyLossConfig::new().init(&autodiff);
        let acc = pool.install(|| -> Result<f64, TrainError> {
            for _ in 0..self.config.steps_per_eval {
                let path = state.pool[state.rng.gen_range(0..state.pool.len())].clone();
                let idx = self.next_batch(state);
                let flip = flips(&self.data, idx.len(), &mut state.rng);
                let (x, y) = batch(
                    &self.data,
                    &self.data.train,
                    &idx,
                    &flip,
                    &self.norm,
                    &autodiff,
                )?;
                let y = Tensor::<1, Int>::from_data(
                    TensorData::new(y.iter().map(|&l| i64::from(l)).collect(), [y.len()]),
                    &autodiff,
                );
                let net = state.net.take().expect("the supernet is always put back");
                let loss = loss_fn.forward(net.forward(&path, x), y);
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                state.net = Some(state.opt.step(self.config.learning_rate, net, grads));
                state.steps += 1;
            }
            // Batch statistics, not running ones: the shared batch norms' running statistics
            // mix every path trained, which misjudges a path trained less often.
            let net = state.net.as_ref().expect("present");
            let mut correct = 0usize;
            for chunk in self.held_out.chunks(250) {
                let (x, y) = batch(
                    &self.data,
                    &self.data.train,
                    chunk,
                    &[],
                    &self.norm,
                    &autodiff,
                )?;
                let logits = net.forward(arch, x);
                let classes = logits.dims()[1];
                let v: Vec<f32> = logits
                    .into_data()
                    .try_to_vec_as::<f32>()
                    .map_err(|e| TrainError::Failed(format!("logits: {e:?}")))?;
                for (row, &label) in v.chunks_exact(classes).zip(&y) {
                    if row.iter().any(|v| !v.is_finite()) {
                        return Err(TrainError::Failed(
                            "the supernet diverged (NaN logits)".into(),
                        ));
                    }
                    let best = row
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .map_or(0, |(i, _)| i);
                    correct += usize::from(best == usize::from(label));
                }
            }
            Ok(100.0 * correct as f64 / self.held_out.len() as f64)
        })?;
        Ok((acc, start.elapsed().as_secs_f64()))
    }

    fn next_batch(&self, state: &mut State) -> Vec<usize> {
        let b = self.config.batch_size.min(self.train.len());
        if state.next + b > state.order.len() {
            state.order = self.train.clone();
            state.order.shuffle(&mut state.rng);
            state.next = 0;
        }
        let idx = state.order[state.next..state.next + b].to_vec();
        state.next += b;
        idx
    }
}

impl Evaluator<MobileSpace> for SupernetEvaluator {
    fn objective_name(&self) -> &str {
        &self.objective_name
    }
    fn report_name(&self) -> &str {
        "none"
    }
    fn evaluate(&self, space: &MobileSpace, arch: &MobileArch) -> Outcome {
        if let Err(e) = space.validate(arch) {
            return Outcome::Failed(e.to_string());
        }
        match self.train_then_measure(arch) {
            Ok((acc, seconds)) => Outcome::Evaluated(Evaluation::new(acc, None, seconds)),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
    fn reseed(&self, seed: u64) -> Option<Self> {
        Self::with_seed(self.config.clone(), self.data.clone(), &self.base, seed).ok()
    }
    fn state_name(&self) -> Option<&str> {
        Some(STATE_NAME)
    }
    fn save_state(&self) -> Result<Vec<u8>, StateError> {
        Ok(self.state_bytes()?)
    }
    fn load_state(&self, data: &[u8]) -> Result<(), StateError> {
        Ok(self.restore(data)?)
    }
}

/// SGD with Nesterov momentum and weight decay, as `config` sets them.
fn optimizer(config: &SupernetConfig) -> ModuleOptimizer {
    SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum: config.momentum,
            dampening: 0.0,
            nesterov: true,
        }))
        .with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay as f32)))
        .init()
}
