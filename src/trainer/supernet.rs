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
use crate::benchmark::{Evaluation, Evaluator, Outcome, StateError};
use crate::rng::{Rng, rng_for};
use crate::space::SearchSpace;
use crate::space::mobile::{MobileArch, MobileOp, MobileSkeleton, MobileSpace};

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

fn relu6(x: Tensor<4>) -> Tensor<4> {
    x.clamp(0.0, 6.0)
}

/// An inverted-residual block: 1x1 expansion (when the ratio is above 1), k x k depthwise
/// convolution, 1x1 linear projection; ReLU6 after the first two; identity shortcut when the
/// shapes allow.
#[derive(Module, Debug)]
struct MbConv {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    residual: bool,
}

impl MbConv {
    #[allow(clippy::too_many_arguments)]
    fn new(
        cin: usize,
        cout: usize,
        k: usize,
        e: usize,
        stride: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let hidden = cin * e;
        Self {
            expand: (e > 1).then(|| ConvBn::grouped(cin, hidden, 1, 1, 1, rng, device)),
            depthwise: ConvBn::grouped(hidden, hidden, k, stride, hidden, rng, device),
            project: ConvBn::grouped(hidden, cout, 1, 1, 1, rng, device),
            residual: stride == 1 && cin == cout,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = match &self.expand {
            Some(e) => relu6(e.forward(x.clone())),
            None => x.clone(),
        };
        let h = self.project.forward(relu6(self.depthwise.forward(h)));
        if self.residual { h + x } else { h }
    }

    fn trainable_params(&self) -> usize {
        self.expand.as_ref().map_or(0, ConvBn::trainable_params)
            + self.depthwise.trainable_params()
            + self.project.trainable_params()
    }
}

/// The supernet: stem, fixed first block, one block per operation at every searchable
/// position, head and classifier.
#[derive(Module, Debug)]
pub struct MobileSupernet {
    stem: ConvBn,
    first: MbConv,
    /// `choices[position][op.token() - 1]` for the six MBConv operations.
    choices: Vec<Vec<MbConv>>,
    head: ConvBn,
    classifier: Linear,
}

impl MobileSupernet {
    /// The supernet of `skeleton` for images of `in_channels` channels and `classes` classes.
    pub fn new(
        skeleton: &MobileSkeleton,
        in_channels: usize,
        classes: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let sk = skeleton;
        let stem = ConvBn::grouped(in_channels, sk.stem_channels, 3, 2, 1, rng, device);
        let first = MbConv::new(
            sk.stem_channels,
            sk.first_block_channels,
            3,
            1,
            1,
            rng,
            device,
        );
        let mut choices = Vec::new();
        let mut channels = sk.first_block_channels;
        for stage in &sk.stages {
            for b in 0..stage.blocks {
                let stride = if b == 0 { stage.stride } else { 1 };
                let ops = MobileOp::ALL
                    .iter()
                    .filter_map(|op| op.mbconv())
                    .map(|(k, e)| MbConv::new(channels, stage.width, k, e, stride, rng, device))
                    .collect();
                choices.push(ops);
                channels = stage.width;
            }
        }
        let head = ConvBn::grouped(channels, sk.head_channels, 1, 1, 1, rng, device);
        let classifier = linear(sk.head_channels, classes, rng, device);
        Self {
            stem,
            first,
            choices,
            head,
            classifier,
        }
    }

    /// Trainable parameters of the network that the path `arch` is (the blocks it uses).
    pub fn path_params(&self, arch: &MobileArch) -> usize {
        let blocks: usize = arch
            .ops()
            .iter()
            .zip(&self.choices)
            .filter(|(op, _)| **op != MobileOp::Zero)
            .map(|(op, b)| b[op.token() as usize - 1].trainable_params())
            .sum();
        self.stem.trainable_params()
            + self.first.trainable_params()
            + blocks
            + self.head.trainable_params()
            + burn::module::Module::num_params(&self.classifier)
    }

    /// Logits of the path `arch` for a batch of images.
    pub fn forward(&self, arch: &MobileArch, x: Tensor<4>) -> Tensor<2> {
        let mut x = self.first.forward(relu6(self.stem.forward(x)));
        for (op, blocks) in arch.ops().iter().zip(&self.choices) {
            if *op != MobileOp::Zero {
                x = blocks[op.token() as usize - 1].forward(x);
            }
        }
        let x = relu6(self.head.forward(x));
        self.classifier.forward(global_avg_pool(x))
    }
}

/// Name of the supernet's state in a run store.
pub const STATE_NAME: &str = "supernet";
/// Format of [`Evaluator::save_state`]'s bytes (see the module documentation).
pub const STATE_FORMAT: &str = "seminas-supernet-1";

/// Why a supernet state could not be saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum SupernetStateError {
    /// The bytes are not a readable supernet state.
    #[error("not a readable supernet state: {0}")]
    Damaged(String),
    /// Another format version.
    #[error("the state is in format {found:?}; this seminas reads {STATE_FORMAT:?}")]
    Format {
        /// The state's format.
        found: String,
    },
    /// A state of a supernet with other settings.
    #[error(
        "the state is of another supernet: its {what} is {stored}, this supernet's is {current}"
    )]
    Mismatch {
        /// The setting.
        what: String,
        /// Its value in the state.
        stored: String,
        /// Its value here.
        current: String,
    },
    /// An earlier evaluation panicked while the supernet trained, leaving no network.
    #[error("the supernet was lost when an evaluation panicked while training it")]
    Lost,
    /// Serialisation failed.
    #[error("cannot serialise the supernet: {0}")]
    Save(String),
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

    /// The state as bytes (see the module documentation).
    fn state_bytes(&self) -> Result<Vec<u8>, SupernetStateError> {
        let save = |e: String| SupernetStateError::Save(e);
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let net = state.net.as_ref().ok_or(SupernetStateError::Lost)?;
        let weights = net
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| save(e.to_string()))?;
        let optim = state.opt.into_bytes().map_err(|e| save(e.to_string()))?;
        let order: Vec<u8> = state
            .order
            .iter()
            .flat_map(|&i| (i as u32).to_le_bytes())
            .collect();
        let views = [
            ("net", Dtype::U8, vec![weights.len()], &weights[..]),
            ("optimizer", Dtype::U8, vec![optim.len()], &optim[..]),
            ("order", Dtype::U32, vec![state.order.len()], &order[..]),
        ]
        .into_iter()
        .map(|(name, dtype, shape, data)| {
            TensorView::new(dtype, shape, data)
                .map(|v| (name.to_string(), v))
                .map_err(|e| save(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
        let settings: serde_json::Map<String, serde_json::Value> = self
            .settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone().into()))
            .collect();
        let pool: Vec<Vec<u32>> = state
            .pool
            .iter()
            .map(|a| a.ops().iter().map(|o| o.token()).collect())
            .collect();
        let rng = serde_json::json!({
            "seed": state.rng.get_seed().iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "stream": state.rng.get_stream().to_string(),
            "word_pos": state.rng.get_word_pos().to_string(),
        });
        let meta = std::collections::HashMap::from([
            ("format".to_string(), STATE_FORMAT.to_string()),
            (
                "config".to_string(),
                serde_json::Value::Object(settings).to_string(),
            ),
            ("rng".to_string(), rng.to_string()),
            (
                "pool".to_string(),
                serde_json::to_string(&pool).expect("tokens serialise"),
            ),
            ("next".to_string(), state.next.to_string()),
            ("steps".to_string(), state.steps.to_string()),
        ]);
        safetensors::tensor::serialize(views, Some(meta)).map_err(|e| save(e.to_string()))
    }

    /// Replaces the state by one [`Self::state_bytes`] wrote; checks everything before
    /// changing anything.
    fn restore(&self, bytes: &[u8]) -> Result<(), SupernetStateError> {
        let damaged = |e: String| SupernetStateError::Damaged(e);
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| damaged(e.to_string()))?;
        let meta = header
            .metadata()
            .clone()
            .ok_or_else(|| damaged("no metadata".into()))?;
        let get = |k: &str| {
            meta.get(k)
                .ok_or_else(|| damaged(format!("the metadata lacks {k:?}")))
        };
        let format = get("format")?;
        if format != STATE_FORMAT {
            return Err(SupernetStateError::Format {
                found: format.clone(),
            });
        }
        let settings: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(get("config")?).map_err(|e| damaged(format!("config: {e}")))?;
        for (what, current) in &self.settings {
            let stored = settings.get(*what).and_then(|v| v.as_str());
            if stored != Some(current.as_str()) {
                return Err(SupernetStateError::Mismatch {
                    what: what.to_string(),
                    stored: stored.unwrap_or("absent").to_string(),
                    current: current.clone(),
                });
            }
        }
        let rng: serde_json::Value =
            serde_json::from_str(get("rng")?).map_err(|e| damaged(format!("rng: {e}")))?;
        let field = |k: &str| {
            rng[k]
                .as_str()
                .ok_or_else(|| damaged(format!("rng lacks {k}")))
        };
        let hex = field("seed")?;
        let mut seed = [0u8; 32];
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(damaged("rng seed: not 64 hex digits".into()));
        }
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|e| damaged(format!("rng seed: {e}")))?;
        }
        let stream: u64 = field("stream")?
            .parse()
            .map_err(|e| damaged(format!("rng stream: {e}")))?;
        let word_pos: u128 = field("word_pos")?
            .parse()
            .map_err(|e| damaged(format!("rng word_pos: {e}")))?;
        let blocks = self.skeleton.num_blocks();
        let tokens: Vec<Vec<u32>> =
            serde_json::from_str(get("pool")?).map_err(|e| damaged(format!("pool: {e}")))?;
        let pool = tokens
            .iter()
            .map(|t| {
                let ops: Option<Box<[MobileOp]>> =
                    t.iter().map(|&t| MobileOp::from_token(t)).collect();
                ops.filter(|ops| ops.len() == blocks)
                    .map(MobileArch)
                    .ok_or_else(|| damaged(format!("pool: {t:?} is not an architecture")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let number = |k: &str| -> Result<usize, SupernetStateError> {
            get(k)?.parse().map_err(|e| damaged(format!("{k}: {e}")))
        };
        let (next, steps) = (number("next")?, number("steps")?);
        let st = SafeTensors::deserialize(bytes).map_err(|e| damaged(e.to_string()))?;
        let tensor = |name: &str, dtype: Dtype| {
            let t = st
                .tensor(name)
                .map_err(|e| damaged(format!("{name}: {e}")))?;
            if t.dtype() != dtype {
                return Err(damaged(format!(
                    "{name}: {:?}, expected {dtype:?}",
                    t.dtype()
                )));
            }
            Ok(t.data())
        };
        let order: Vec<usize> = tensor("order", Dtype::U32)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect();
        let images = self.data.train.len();
        if !(order.is_empty() || order.len() == self.train.len())
            || order.iter().any(|&i| i >= images)
            || next > order.len()
        {
            return Err(damaged("the image order does not fit the dataset".into()));
        }
        let weights = Bytes::from_bytes_vec(tensor("net", Dtype::U8)?.to_vec());
        let optim = Bytes::from_bytes_vec(tensor("optimizer", Dtype::U8)?.to_vec());
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *guard;
        let net = match &state.net {
            Some(net) => net.clone(),
            None => return Err(SupernetStateError::Lost),
        };
        // burn may panic on records it cannot read; a damaged state must not end the run.
        let config = &self.config;
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let record = ModuleRecord::from_bytes(weights).map_err(|e| e.to_string())?;
            let net = net.try_load_record(record).map_err(|e| e.to_string())?;
            let opt = optimizer(config)
                .from_bytes(optim)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((net, opt))
        }))
        .map_err(|_| damaged("burn could not read the weights".into()))?;
        let (net, opt) = loaded.map_err(damaged)?;
        let mut rng = Rng::from_seed(seed);
        rng.set_stream(stream);
        rng.set_word_pos(word_pos);
        *state = State {
            net: Some(net),
            opt,
            rng,
            pool,
            order,
            next,
            steps,
        };
        Ok(())
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

#[cfg(test)]
mod tests {
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
        let err =
            |e: &SupernetEvaluator, bytes: &[u8]| e.load_state(bytes).unwrap_err().to_string();

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
            err(&other, &bytes)
                .contains("its dataset (--dataset) is digits, this supernet's is other")
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
}
