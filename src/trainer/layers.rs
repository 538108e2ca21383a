//! Building blocks shared by the NB201 and NB101 networks, with seeded initialisation.
//!
//! Weights are drawn from the trainer's own ChaCha generator (not the tensor library's global
//! one), so that networks trained at the same time on several threads stay reproducible. Like
//! PyTorch's default, convolution and linear weights are uniform in `±1/sqrt(fan_in)`; batch-norm
//! scales start at 1 and shifts at 0.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use rand::Rng as _;

use crate::rng::Rng;

/// Batch-norm epsilon (PyTorch's and TensorFlow's default of 1e-5 and 1e-3 differ; NB201 uses
/// PyTorch's).
pub const BN_EPS: f64 = 1e-5;

fn uniform(rng: &mut Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-bound..bound)).collect()
}

/// A bias-free `k x k` convolution with `k/2` zero padding, weights drawn from `rng`.
pub fn conv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    rng: &mut Rng,
    device: &Device,
) -> Conv2d {
    conv_grouped(cin, cout, k, stride, 1, rng, device)
}

/// A bias-free `k x k` convolution in `groups` groups (`groups = cin = cout`: depthwise), with
/// `k/2` zero padding, weights drawn from `rng`.
pub fn conv_grouped(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
    rng: &mut Rng,
    device: &Device,
) -> Conv2d {
    let p = k / 2;
    let mut c = Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_groups(groups)
        .with_bias(false)
        .init(device);
    let per_group = cin / groups;
    let bound = 1.0 / ((per_group * k * k) as f32).sqrt();
    let w = uniform(rng, cout * per_group * k * k, bound);
    c.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(w, [cout, per_group, k, k]),
        device,
    ));
    c
}

/// A linear layer with bias, weights drawn from `rng`.
pub fn linear(cin: usize, cout: usize, rng: &mut Rng, device: &Device) -> Linear {
    let mut l = LinearConfig::new(cin, cout).init(device);
    let bound = 1.0 / (cin as f32).sqrt();
    // burn stores the weight as [in, out].
    let w = uniform(rng, cin * cout, bound);
    l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [cin, cout]), device));
    let b = uniform(rng, cout, bound);
    l.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(b, [cout]),
        device,
    )));
    l
}

/// Batch normalisation over `c` channels (scale and shift learnt; batch statistics in training,
/// running statistics with momentum 0.1 at evaluation).
pub fn batch_norm(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c).with_epsilon(BN_EPS).init(device)
}

/// Convolution followed by batch normalisation (the caller places the ReLU: before for NB201's
/// ReLU-Conv-BN, after for NB101's Conv-BN-ReLU).
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    /// `k x k` convolution from `cin` to `cout` channels with the given stride, then batch norm.
    pub fn new(
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        Self::grouped(cin, cout, k, stride, 1, rng, device)
    }

    /// The same with the convolution in `groups` groups (depthwise when `groups = cin = cout`).
    #[allow(clippy::too_many_arguments)]
    pub fn grouped(
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        groups: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        Self {
            conv: conv_grouped(cin, cout, k, stride, groups, rng, device),
            bn: batch_norm(cout, device),
        }
    }

    /// Convolution, then batch norm.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.conv.forward(x))
    }

    /// Trainable parameters: the convolution's weights and batch norm's scale and shift (its
    /// running statistics are not trained).
    pub fn trainable_params(&self) -> usize {
        burn::module::Module::num_params(&self.conv) + 2 * self.bn.gamma.val().dims()[0]
    }
}

/// Global average pooling: `[B, C, H, W]` to `[B, C]`.
pub fn global_avg_pool(x: Tensor<4>) -> Tensor<2> {
    let [b, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([b, c])
}
