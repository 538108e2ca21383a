//! The supernet itself: one MBConv block per operation at every searchable position; an
//! architecture is a path through it.

use super::*;

fn relu6(x: Tensor<4>) -> Tensor<4> {
    x.clamp(0.0, 6.0)
}

/// An inverted-residual block: 1x1 expansion (when the ratio is above 1), k x k depthwise
/// convolution, 1x1 linear projection; ReLU6 after the first two; identity shortcut when the
/// shapes allow.
#[derive(Module, Debug)]
pub(super) struct MbConv {
    pub(super) expand: Option<ConvBn>,
    pub(super) depthwise: ConvBn,
    pub(super) project: ConvBn,
    pub(super) residual: bool,
}

impl MbConv {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
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

    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = match &self.expand {
            Some(e) => relu6(e.forward(x.clone())),
            None => x.clone(),
        };
        let h = self.project.forward(relu6(self.depthwise.forward(h)));
        if self.residual { h + x } else { h }
    }

    pub(super) fn trainable_params(&self) -> usize {
        self.expand.as_ref().map_or(0, ConvBn::trainable_params)
            + self.depthwise.trainable_params()
            + self.project.trainable_params()
    }
}

/// The supernet: stem, fixed first block, one block per operation at every searchable
/// position, head and classifier.
#[derive(Module, Debug)]
pub struct MobileSupernet {
    pub(super) stem: ConvBn,
    pub(super) first: MbConv,
    /// `choices[position][op.token() - 1]` for the six MBConv operations.
    pub(super) choices: Vec<Vec<MbConv>>,
    pub(super) head: ConvBn,
    pub(super) classifier: Linear,
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
