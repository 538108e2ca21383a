//! The NAS-Bench-201 network (Dong & Yang, ICLR 2020) for a cell of [`Nb201Space`].
//!
//! Skeleton, as published: a 3x3 convolution stem with batch norm to `C` channels; three stages
//! of `N` copies of the cell at `C`, `2C` and `4C` channels; between the stages a residual
//! reduction block (ReLU-Conv3x3(stride 2)-BN, ReLU-Conv3x3-BN, plus a shortcut of 2x2 average
//! pooling and a 1x1 convolution); then batch norm, ReLU, global average pooling and a linear
//! classifier. Cell operations: `none` (zero), `skip_connect` (identity), `nor_conv_1x1` and
//! `nor_conv_3x3` (ReLU-Conv-BN), `avg_pool_3x3` (stride 1, padding 1, padding not counted).
//! Node `j` of the cell sums its incoming edges; the cell's output is node 3.
//!
//! With `C = 16, N = 5` on CIFAR-10 the parameter counts equal the published ones (tests).

use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{BatchNorm, Identity, Linear, PaddingConfig2d};
use burn::prelude::*;

use super::layers::{ConvBn, batch_norm, conv, global_avg_pool, linear};
use crate::rng::Rng;
use crate::space::categorical::CategoricalArch;
use crate::space::nb201::NB201_EDGES;

/// One edge of a cell other than `none` (the module derive has no unit variants: `none` is an
/// absent edge).
// A network holds a few dozen of these: boxing would save little, and the module derive
// handles plain variants.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
enum Edge {
    Skip(Identity),
    Conv(ConvBn),
    Pool(AvgPool2d),
}

impl Edge {
    fn forward(&self, x: &Tensor<4>) -> Tensor<4> {
        match self {
            Edge::Skip(_) => x.clone(),
            Edge::Conv(m) => m.forward(burn::tensor::activation::relu(x.clone())),
            Edge::Pool(p) => p.forward(x.clone()),
        }
    }
}

/// A cell: one operation per edge of [`NB201_EDGES`] (`None`: the `none` operation).
#[derive(Module, Debug)]
struct Cell {
    edges: Vec<Option<Edge>>,
}

impl Cell {
    fn new(arch: &CategoricalArch, c: usize, rng: &mut Rng, device: &Device) -> Self {
        let edges = arch
            .0
            .iter()
            .map(|&op| match op {
                0 => None,
                1 => Some(Edge::Skip(Identity::new())),
                2 => Some(Edge::Conv(ConvBn::new(c, c, 1, 1, rng, device))),
                3 => Some(Edge::Conv(ConvBn::new(c, c, 3, 1, rng, device))),
                _ => Some(Edge::Pool(
                    AvgPool2dConfig::new([3, 3])
                        .with_strides([1, 1])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_count_include_pad(false)
                        .init(),
                )),
            })
            .collect();
        Self { edges }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut nodes: Vec<Tensor<4>> = Vec::with_capacity(4);
        nodes.push(x);
        for j in 1..4 {
            let mut acc: Option<Tensor<4>> = None;
            for (edge, &(to, from)) in self.edges.iter().zip(NB201_EDGES.iter()) {
                if to != j {
                    continue;
                }
                if let Some(v) = edge.as_ref().map(|e| e.forward(&nodes[from])) {
                    acc = Some(match acc {
                        None => v,
                        Some(a) => a + v,
                    });
                }
            }
            // A node whose edges are all `none` is zero (not skipped): it still has a shape.
            let node = acc.unwrap_or_else(|| nodes[0].zeros_like());
            nodes.push(node);
        }
        nodes.pop().expect("four nodes")
    }
}

/// The residual reduction block between stages: halves the resolution, doubles the channels.
#[derive(Module, Debug)]
struct Reduction {
    a: ConvBn,
    b: ConvBn,
    pool: AvgPool2d,
    shortcut: burn::nn::conv::Conv2d,
}

impl Reduction {
    fn new(cin: usize, cout: usize, rng: &mut Rng, device: &Device) -> Self {
        Self {
            a: ConvBn::new(cin, cout, 3, 2, rng, device),
            b: ConvBn::new(cout, cout, 3, 1, rng, device),
            pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            shortcut: conv(cin, cout, 1, 1, rng, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        use burn::tensor::activation::relu;
        let y = self.b.forward(relu(self.a.forward(relu(x.clone()))));
        y + self.shortcut.forward(self.pool.forward(x))
    }
}

// A network holds a few dozen of these: boxing would save little, and the module derive
// handles plain variants.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
enum Block {
    Cell(Cell),
    Reduction(Reduction),
}

/// The NB201 network for one cell.
#[derive(Module, Debug)]
pub struct Nb201Net {
    stem: burn::nn::conv::Conv2d,
    stem_bn: BatchNorm,
    blocks: Vec<Block>,
    last_bn: BatchNorm,
    classifier: Linear,
    /// Batch-norm running means and variances: counted by `num_params`, not trainable.
    #[module(skip)]
    running_stats: usize,
}

impl Nb201Net {
    /// The network for `arch` (6 operation indices in official order) on images with
    /// `in_channels` channels: `channels` (C) in the first stage, `cells` (N) per stage,
    /// `classes` outputs; weights drawn from `rng`.
    pub fn new(
        arch: &CategoricalArch,
        in_channels: usize,
        channels: usize,
        cells: usize,
        classes: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let stem = conv(in_channels, channels, 3, 1, rng, device);
        let stem_bn = batch_norm(channels, device);
        let mut blocks = Vec::with_capacity(3 * cells + 2);
        let mut c = channels;
        // Channels of all batch norms (each has a running mean and variance per channel).
        let convs_per_cell = arch.0.iter().filter(|&&op| op == 2 || op == 3).count();
        let mut bn_channels = channels;
        for stage in 0..3 {
            if stage > 0 {
                blocks.push(Block::Reduction(Reduction::new(c, 2 * c, rng, device)));
                c *= 2;
                bn_channels += 2 * c;
            }
            for _ in 0..cells {
                blocks.push(Block::Cell(Cell::new(arch, c, rng, device)));
            }
            bn_channels += cells * convs_per_cell * c;
        }
        bn_channels += c;
        Self {
            stem,
            stem_bn,
            blocks,
            last_bn: batch_norm(c, device),
            classifier: linear(c, classes, rng, device),
            running_stats: 2 * bn_channels,
        }
    }

    /// Trainable parameters (PyTorch's `sum(p.numel() for p in net.parameters())`): burn's
    /// `num_params` also counts the batch-norm running statistics.
    pub fn trainable_params(&self) -> usize {
        burn::module::Module::num_params(self) - self.running_stats
    }

    /// Logits `[B, classes]` for images `[B, in_channels, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = self.stem_bn.forward(self.stem.forward(x));
        for b in &self.blocks {
            h = match b {
                Block::Cell(c) => c.forward(h),
                Block::Reduction(r) => r.forward(h),
            };
        }
        let h = burn::tensor::activation::relu(self.last_bn.forward(h));
        self.classifier.forward(global_avg_pool(h))
    }
}
