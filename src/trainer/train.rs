//! The training loop: SGD with Nesterov momentum and weight decay, a cosine learning rate per
//! step, cross-entropy loss; then accuracy on the validation and test images.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use rand::Rng as _;
use rand::seq::SliceRandom;

use super::data::{DataError, Dataset, Images, Normalizer};
use super::{TrainConfig, TrainError};
use crate::rng::Rng;

/// A network the loop can train: logits from a batch of images.
pub(crate) trait Network: Module + Sized {
    fn logits(&self, x: Tensor<4>) -> Tensor<2>;
    fn trainable_params(&self) -> usize;
}

impl Network for super::Nb201Net {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward(x)
    }
    fn trainable_params(&self) -> usize {
        super::Nb201Net::trainable_params(self)
    }
}

impl Network for super::Nb101Net {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward(x)
    }
    fn trainable_params(&self) -> usize {
        super::Nb101Net::trainable_params(self)
    }
}

/// Which images of a training batch of `n` to mirror: none unless the dataset asks for it (so
/// that `rng` is not advanced for the in-memory sets), else each with probability 1/2.
pub(crate) fn flips(data: &Dataset, n: usize, rng: &mut Rng) -> Vec<bool> {
    if data.flip_train {
        (0..n).map(|_| rng.r#gen::<bool>()).collect()
    } else {
        Vec::new()
    }
}

/// Images selected by index (mirrored where `flip` says, see [`Dataset::read`]), normalised,
/// as one `[B, C, H, W]` tensor and their labels.
pub(crate) fn batch(
    data: &Dataset,
    images: &Images,
    idx: &[usize],
    flip: &[bool],
    norm: &Normalizer,
    device: &Device,
) -> Result<(Tensor<4>, Vec<u16>), DataError> {
    let pixels = data.read(images, idx, flip)?;
    let plane = data.height * data.width;
    let mut x = Vec::with_capacity(pixels.len());
    for img in pixels.chunks_exact(data.image_len()) {
        for (c, ch) in img.chunks_exact(plane).enumerate() {
            x.extend(
                ch.iter()
                    .map(|&p| f32::from(p) * norm.scale[c] + norm.shift[c]),
            );
        }
    }
    let y = idx.iter().map(|&i| images.labels[i]).collect();
    let shape = [idx.len(), data.channels, data.height, data.width];
    Ok((Tensor::from_data(TensorData::new(x, shape), device), y))
}

/// The learning rate at `step` of `total`: cosine from `lr` down to `lr_min`.
pub fn cosine_lr(lr: f64, lr_min: f64, step: usize, total: usize) -> f64 {
    let t = step as f64 / total.max(1) as f64;
    lr_min + 0.5 * (lr - lr_min) * (1.0 + (std::f64::consts::PI * t).cos())
}

/// Trains `net` on the images `train_idx` of `data.train`; returns the trained network, or an
/// error when the loss stops being finite or an image cannot be read. After each epoch
/// (counted from one) `after_epoch` sees the network; when it answers true, training stops
/// there and the epoch is returned with the network.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit<N: Network>(
    mut net: N,
    data: &Dataset,
    train_idx: &[usize],
    norm: &Normalizer,
    cfg: &TrainConfig,
    rng: &mut Rng,
    device: &Device,
    after_epoch: &mut dyn FnMut(usize, &N) -> Result<bool, TrainError>,
) -> Result<(N, Option<usize>), TrainError> {
    let mut opt = SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum: cfg.momentum,
            dampening: 0.0,
            nesterov: cfg.nesterov,
        }))
        .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let batch_size = cfg.batch_size.max(1);
    let per_epoch = train_idx.len().div_ceil(batch_size);
    let total = per_epoch * cfg.epochs;
    let mut order = train_idx.to_vec();
    let mut step = 0;
    for epoch in 1..=cfg.epochs {
        order.shuffle(rng);
        for chunk in order.chunks(batch_size) {
            let flip = flips(data, chunk.len(), rng);
            let (x, y) = batch(data, &data.train, chunk, &flip, norm, device)?;
            let y = Tensor::<1, Int>::from_data(
                TensorData::new(y.iter().map(|&l| i64::from(l)).collect(), [y.len()]),
                device,
            );
            let loss = loss_fn.forward(net.logits(x), y);
            // Reading the loss synchronises; every 25 steps is enough to catch divergence.
            if step % 25 == 0 || step + 1 == total {
                let v: f32 = loss.clone().into_scalar();
                if !v.is_finite() {
                    return Err(TrainError::Failed(format!(
                        "training diverged: loss {v} at step {step}"
                    )));
                }
            }
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            let lr = cosine_lr(cfg.learning_rate, cfg.min_learning_rate, step, total);
            net = opt.step(lr, net, grads);
            step += 1;
        }
        if after_epoch(epoch, &net)? {
            return Ok((net, Some(epoch)));
        }
    }
    Ok((net, None))
}

/// Accuracy in percent of `net` (in evaluation mode) on the images `idx` of `images` (never
/// mirrored).
pub(crate) fn accuracy<N: Network>(
    net: &N,
    data: &Dataset,
    images: &Images,
    idx: &[usize],
    norm: &Normalizer,
    batch_size: usize,
    device: &Device,
) -> Result<f64, DataError> {
    if idx.is_empty() {
        return Ok(0.0);
    }
    let mut correct = 0usize;
    for chunk in idx.chunks(batch_size.max(1)) {
        let (x, y) = batch(data, images, chunk, &[], norm, device)?;
        let logits = net.logits(x);
        let classes = logits.dims()[1];
        let v: Vec<f32> = logits
            .into_data()
            .try_to_vec_as::<f32>()
            .expect("float logits convert to f32");
        for (row, &label) in v.chunks_exact(classes).zip(&y) {
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap_or(0);
            correct += usize::from(best == usize::from(label));
        }
    }
    Ok(100.0 * correct as f64 / idx.len() as f64)
}
