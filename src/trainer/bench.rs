//! Training throughput of a fixed NB201 network on synthetic images (`seminas bench-trainer`).

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use rand::Rng as _;

use super::{Nb201Net, TrainDevice};
use crate::rng::rng_for;
use crate::space::CategoricalArch;

/// What to time.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ThroughputConfig {
    /// Channels of the first stage (C).
    pub channels: usize,
    /// Cells per stage (N).
    pub cells: usize,
    /// Image side (square images).
    pub size: usize,
    /// Image channels.
    pub in_channels: usize,
    /// Images per step.
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// Untimed steps before (allocation, caches).
    pub warmup: usize,
    /// Threads of the tensor operations.
    pub threads: usize,
}

/// Measured training speed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Throughput {
    /// Images per second over the timed steps (forward, backward, SGD step).
    pub images_per_s: f64,
    /// Seconds per step.
    pub seconds_per_step: f64,
    /// Trainable parameters of the network.
    pub params: usize,
    /// Loss after the last step (to show training happened).
    pub last_loss: f32,
}

/// Trains the NB201 network of `arch` on one fixed batch of random images for
/// `warmup + steps` SGD steps (Nesterov momentum 0.9, weight decay 5e-4, learning rate 0.05, as
/// the PyTorch reference script) and times the last `steps`.
pub fn throughput(
    arch: &CategoricalArch,
    cfg: &ThroughputConfig,
    device: TrainDevice,
) -> Result<Throughput, super::TrainError> {
    let plain = super::device_for(device)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads.max(1))
        .build()
        .map_err(|e| super::TrainError::Config(format!("thread pool: {e}")))?;
    pool.install(|| {
        let device = plain.autodiff();
        let mut rng = rng_for(0, "bench-trainer");
        let mut net = Nb201Net::new(
            arch,
            cfg.in_channels,
            cfg.channels,
            cfg.cells,
            10,
            &mut rng,
            &device,
        );
        let params = net.trainable_params();
        let n = cfg.batch * cfg.in_channels * cfg.size * cfg.size;
        let x: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let x = Tensor::<4>::from_data(
            TensorData::new(x, [cfg.batch, cfg.in_channels, cfg.size, cfg.size]),
            &device,
        );
        let y: Vec<i64> = (0..cfg.batch as i64).map(|i| i % 10).collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(y, [cfg.batch]), &device);
        let mut opt = SgdConfig::new()
            .with_momentum(Some(MomentumConfig {
                momentum: 0.9,
                dampening: 0.0,
                nesterov: true,
            }))
            .with_weight_decay(Some(WeightDecayConfig::new(5e-4)))
            .init();
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let mut start = Instant::now();
        let mut last_loss = f32::NAN;
        for step in 0..cfg.warmup + cfg.steps {
            if step == cfg.warmup {
                start = Instant::now();
            }
            let loss = loss_fn.forward(net.forward(x.clone()), y.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = opt.step(0.05, net, grads);
            // Reading the loss waits for the step to finish (GPU backends are asynchronous).
            last_loss = loss.into_scalar();
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok(Throughput {
            images_per_s: (cfg.steps * cfg.batch) as f64 / seconds,
            seconds_per_step: seconds / cfg.steps.max(1) as f64,
            params,
            last_loss,
        })
    })
}
