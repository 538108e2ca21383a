//! The NAS-Bench-101 network (Ying et al., ICML 2019) for a [`Cell`], as the official
//! `nasbench` model builder defines it.
//!
//! Skeleton: a 3x3 Conv-BN-ReLU stem to `C` channels (128 as published); three stacks of
//! `cells` copies of the cell (3 as published), each stack after the first preceded by 2x2 max
//! pooling (stride 2) and doubling the channels; global average pooling; a linear classifier.
//!
//! Inside a cell (pruned first): the output's channels are split evenly among the vertices that
//! feed the output (the remainder going one by one to the first ones); every other interior vertex
//! gets the largest channel count of its successors ([`vertex_channels`]). A vertex sums its
//! inputs: other vertices' outputs truncated to its channel count, and the cell input through a
//! 1x1 Conv-BN-ReLU projection when the input feeds it. Operations: 3x3 or 1x1 Conv-BN-ReLU, or
//! 3x3 max pooling (stride 1). The output concatenates the vertices that feed it, plus a
//! projection of the input when the input feeds the output directly.
//!
//! With `C = 128` and 3 cells per stack the parameter counts equal the published NAS-Bench-101
//! ones (tests).

use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::layers::{ConvBn, global_avg_pool, linear};
use crate::rng::Rng;
use crate::space::nb101::{Cell, Op};

/// Channels of each vertex of a (pruned) cell with `n` vertices whose input has `in_channels`
/// and output `out_channels` channels, as the official `compute_vertex_channels`.
pub fn vertex_channels(cell: &Cell, in_channels: usize, out_channels: usize) -> Vec<usize> {
    let n = cell.num_vertices();
    let mut ch = vec![0usize; n];
    ch[0] = in_channels;
    ch[n - 1] = out_channels;
    if n == 2 {
        return ch;
    }
    let out = n - 1;
    let fan_in = (1..out).filter(|&v| cell.has_edge(v, out)).count().max(1);
    let interior = out_channels / fan_in;
    let mut correction = out_channels % fan_in;
    for (v, c) in ch.iter_mut().enumerate().take(out).skip(1) {
        if cell.has_edge(v, out) {
            *c = interior;
            if correction > 0 {
                *c += 1;
                correction -= 1;
            }
        }
    }
    // Other vertices: the largest channel count among their successors, from the back.
    for v in (1..n.saturating_sub(2)).rev() {
        if !cell.has_edge(v, out) {
            for dst in v + 1..out {
                if cell.has_edge(v, dst) {
                    ch[v] = ch[v].max(ch[dst]);
                }
            }
        }
    }
    ch
}

// A network holds a few dozen of these: boxing would save little, and the module derive
// handles plain variants.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
enum VertexOp {
    Conv(ConvBn),
    Pool(MaxPool2d),
}

/// The topology of a cell (no parameters).
#[derive(Debug, Clone)]
struct Plan {
    cell: Cell,
    channels: Vec<usize>,
}

#[derive(Module, Debug)]
struct Nb101Cell {
    /// The 1x1 input projection of each interior vertex the input feeds (index `t - 1`).
    projections: Vec<Option<ConvBn>>,
    ops: Vec<VertexOp>,
    out_projection: Option<ConvBn>,
    #[module(skip)]
    plan: Plan,
}

impl Nb101Cell {
    /// Channels of the cell's batch norms.
    fn bn_channels(&self) -> usize {
        let ch = &self.plan.channels;
        let mut n = 0;
        for (t, (p, op)) in self.projections.iter().zip(&self.ops).enumerate() {
            n += ch[t + 1]
                * (usize::from(p.is_some()) + usize::from(matches!(op, VertexOp::Conv(_))));
        }
        n + self.out_projection.as_ref().map_or(0, |_| ch[ch.len() - 1])
    }

    fn new(cell: &Cell, cin: usize, cout: usize, rng: &mut Rng, device: &Device) -> Self {
        let n = cell.num_vertices();
        let channels = vertex_channels(cell, cin, cout);
        let mut projections = Vec::new();
        let mut ops = Vec::new();
        for (t, &c) in channels.iter().enumerate().take(n - 1).skip(1) {
            projections.push(
                cell.has_edge(0, t)
                    .then(|| ConvBn::new(cin, c, 1, 1, rng, device)),
            );
            ops.push(match cell.ops()[t] {
                Op::Conv3x3 => VertexOp::Conv(ConvBn::new(c, c, 3, 1, rng, device)),
                Op::Conv1x1 => VertexOp::Conv(ConvBn::new(c, c, 1, 1, rng, device)),
                _ => VertexOp::Pool(
                    MaxPool2dConfig::new([3, 3])
                        .with_strides([1, 1])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(),
                ),
            });
        }
        let out_projection = cell
            .has_edge(0, n - 1)
            .then(|| ConvBn::new(cin, cout, 1, 1, rng, device));
        Self {
            projections,
            ops,
            out_projection,
            plan: Plan {
                cell: *cell,
                channels,
            },
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let cell = &self.plan.cell;
        let n = cell.num_vertices();
        let out = n - 1;
        let mut vertices: Vec<Tensor<4>> = Vec::with_capacity(n);
        vertices.push(x.clone());
        let mut concat = Vec::new();
        for t in 1..out {
            let c = self.plan.channels[t];
            let mut sum: Option<Tensor<4>> = None;
            let mut add = |v: Tensor<4>| {
                sum = Some(match sum.take() {
                    None => v,
                    Some(s) => s + v,
                })
            };
            for (src, v) in vertices.iter().enumerate().skip(1) {
                if cell.has_edge(src, t) {
                    // Truncation: a vertex may feed one with fewer channels (by at most one).
                    add(v.clone().narrow(1, 0, c));
                }
            }
            if let Some(p) = &self.projections[t - 1] {
                add(relu(p.forward(x.clone())));
            }
            let input = sum.expect("a pruned cell's vertices all have inputs");
            let value = match &self.ops[t - 1] {
                VertexOp::Conv(m) => relu(m.forward(input)),
                VertexOp::Pool(p) => p.forward(input),
            };
            if cell.has_edge(t, out) {
                concat.push(value.clone());
            }
            vertices.push(value);
        }
        let projected = self.out_projection.as_ref().map(|p| relu(p.forward(x)));
        match (concat.is_empty(), projected) {
            (true, Some(p)) => p,
            (false, None) => Tensor::cat(concat, 1),
            (false, Some(p)) => Tensor::cat(concat, 1) + p,
            (true, None) => unreachable!("a valid cell connects input to output"),
        }
    }
}

// A network holds a few dozen of these: boxing would save little, and the module derive
// handles plain variants.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
enum Block {
    Cell(Nb101Cell),
    Downsample(MaxPool2d),
}

/// The NB101 network for one cell.
#[derive(Module, Debug)]
pub struct Nb101Net {
    stem: ConvBn,
    blocks: Vec<Block>,
    classifier: Linear,
    /// Batch-norm running means and variances: counted by `num_params`, not trainable.
    #[module(skip)]
    running_stats: usize,
}

impl Nb101Net {
    /// The network for `cell` (pruned here; `None` if the cell is not valid) on images with
    /// `in_channels` channels: `channels` (C, 128 as published) in the first stack,
    /// `cells_per_stack` cells per stack (3 as published), `classes` outputs.
    pub fn new(
        cell: &Cell,
        in_channels: usize,
        channels: usize,
        cells_per_stack: usize,
        classes: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Option<Self> {
        let cell = cell.prune()?;
        let stem = ConvBn::new(in_channels, channels, 3, 1, rng, device);
        let mut blocks = Vec::new();
        let mut c = channels;
        for stack in 0..3 {
            if stack > 0 {
                // TensorFlow's 'same' padding for 2x2/2 pooling: ceil mode on odd sizes.
                blocks.push(Block::Downsample(
                    MaxPool2dConfig::new([2, 2])
                        .with_strides([2, 2])
                        .with_ceil_mode(true)
                        .init(),
                ));
            }
            for m in 0..cells_per_stack {
                let cin = c;
                let cout = if stack > 0 && m == 0 { 2 * c } else { c };
                blocks.push(Block::Cell(Nb101Cell::new(&cell, cin, cout, rng, device)));
                c = cout;
            }
        }
        let bn_channels = channels
            + blocks
                .iter()
                .map(|b| match b {
                    Block::Cell(cell) => cell.bn_channels(),
                    Block::Downsample(_) => 0,
                })
                .sum::<usize>();
        Some(Self {
            stem,
            blocks,
            classifier: linear(c, classes, rng, device),
            running_stats: 2 * bn_channels,
        })
    }

    /// Trainable parameters (the published NAS-Bench-101 `trainable_parameters`): burn's
    /// `num_params` also counts the batch-norm running statistics.
    pub fn trainable_params(&self) -> usize {
        burn::module::Module::num_params(self) - self.running_stats
    }

    /// Logits `[B, classes]` for images `[B, in_channels, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = relu(self.stem.forward(x));
        for b in &self.blocks {
            h = match b {
                Block::Cell(c) => c.forward(h),
                Block::Downsample(p) => p.forward(h),
            };
        }
        self.classifier.forward(global_avg_pool(h))
    }
}
