//! Training throughput of a fixed NB201 network on synthetic images (`seminas bench-trainer`).

use std::process::Command;
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

/// The PyTorch reference of [`torch_reference`]: the same network, batch, optimiser and
/// thread count.
const TORCH_SCRIPT: &str = include_str!("../../examples/torch_nb201_bench.py");

/// The PyTorch reference's measurement of `cell` with `cfg` (run by `python`, on CUDA or the
/// CPU): its JSON line, or `(None, why)` when PyTorch is not available or fails.
pub fn torch_reference(
    python: &str,
    cell: &str,
    cfg: &ThroughputConfig,
    cuda: bool,
) -> (Option<serde_json::Value>, String) {
    let has_torch = Command::new(python)
        .args(["-c", "import torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_torch {
        return (
            None,
            format!(
                "not measured: `{} -c 'import torch'` failed (install PyTorch, e.g. `pip install torch`)",
                python
            ),
        );
    }
    let path = std::env::temp_dir().join(format!("seminas-torch-bench-{}.py", std::process::id()));
    if let Err(e) = std::fs::write(&path, TORCH_SCRIPT) {
        return (
            None,
            format!("not measured: writing {}: {e}", path.display()),
        );
    }
    let out = Command::new(python)
        .arg(&path)
        .args(["--cell", cell])
        .args(["--channels", &cfg.channels.to_string()])
        .args(["--cells", &cfg.cells.to_string()])
        .args(["--size", &cfg.size.to_string()])
        .args(["--in-channels", &cfg.in_channels.to_string()])
        .args(["--batch", &cfg.batch.to_string()])
        .args(["--steps", &cfg.steps.to_string()])
        .args(["--warmup", &cfg.warmup.to_string()])
        .args(["--threads", &cfg.threads.to_string()])
        .args(["--device", if cuda { "cuda" } else { "cpu" }])
        .output();
    let _ = std::fs::remove_file(&path);
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            match text
                .lines()
                .rev()
                .find_map(|l| serde_json::from_str(l).ok())
            {
                Some(v) => (Some(v), "measured".into()),
                None => (None, format!("not measured: unexpected output {text:?}")),
            }
        }
        Ok(o) => (
            None,
            format!(
                "not measured: the PyTorch script failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        ),
        Err(e) => (None, format!("not measured: {e}")),
    }
}
