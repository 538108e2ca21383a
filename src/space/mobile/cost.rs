//! Multiply-adds and parameters of MobileNetV2-style networks.
//!
//! A [`Network`] is a stem convolution, a chain of inverted-residual (MBConv) blocks, a 1x1
//! head convolution, global average pooling and a linear classifier: MobileNetV2, ProxylessNAS
//! and every architecture of the [`MobileSpace`](super::MobileSpace) are such networks.
//!
//! Counting conventions (those of the SemiNAS and ProxylessNAS code, `count_conv_flop`, and of
//! the MobileNetV2 paper's "MAdds"):
//! - **multiply-adds** of convolutions, `in/groups x out x k x k x out_h x out_w`, and of the
//!   classifier, `in x classes`; batch normalisation, activations, residual additions,
//!   pooling and the classifier's bias are not counted;
//! - **parameters**: convolution weights (no convolution has a bias), two per channel for every
//!   batch normalisation (scale and shift; running statistics are buffers, not parameters),
//!   and the classifier's weights and bias: what PyTorch's `sum(p.numel() for p in
//!   model.parameters())` gives;
//! - spatial sizes follow PyTorch's convolution with "same" padding `k / 2`:
//!   `out = (in + 2 (k / 2) - k) / stride + 1` (integer division).

use serde::{Deserialize, Serialize};

/// The first convolution (3x3 on the RGB input in every network here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stem {
    /// Input channels (3 for RGB images).
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
}

/// One inverted-residual block: 1x1 expansion to `in x expansion` channels (absent when the
/// expansion is 1), k x k depthwise convolution with the block's stride, 1x1 linear projection;
/// each convolution is followed by batch normalisation. The input is added to the output when
/// the stride is 1 and the channel counts agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MbBlock {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Depthwise kernel size.
    pub kernel: usize,
    /// Expansion ratio of the hidden channels.
    pub expansion: usize,
    /// Stride of the depthwise convolution.
    pub stride: usize,
}

impl MbBlock {
    /// True when the block has an identity shortcut.
    pub fn residual(&self) -> bool {
        self.stride == 1 && self.in_channels == self.out_channels
    }

    /// Channels of the depthwise convolution.
    pub fn hidden_channels(&self) -> usize {
        self.in_channels * self.expansion
    }
}

/// A MobileNetV2-style network at a given input resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Height and width of the (square) input image.
    pub resolution: usize,
    /// The first convolution.
    pub stem: Stem,
    /// The inverted-residual blocks, in order.
    pub blocks: Vec<MbBlock>,
    /// Output channels of the 1x1 head convolution before pooling.
    pub head_channels: usize,
    /// Classes of the linear classifier.
    pub num_classes: usize,
}

/// What a network costs: multiply-adds of one forward pass of one image, and parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkCost {
    /// Multiply-adds (conventions in the module documentation).
    pub madds: u64,
    /// Trainable parameters.
    pub params: u64,
}

impl NetworkCost {
    /// Multiply-adds in millions: the "FLOPs" / "MFLOPs" of NAS papers (SemiNAS, ProxylessNAS,
    /// MnasNet all count multiply-adds under that name).
    pub fn mflops(&self) -> f64 {
        self.madds as f64 / 1e6
    }

    /// Parameters in millions.
    pub fn mparams(&self) -> f64 {
        self.params as f64 / 1e6
    }
}

impl std::ops::AddAssign for NetworkCost {
    fn add_assign(&mut self, o: Self) {
        self.madds += o.madds;
        self.params += o.params;
    }
}

/// Spatial size after a convolution with "same" padding `k / 2`.
pub fn conv_output_size(input: usize, kernel: usize, stride: usize) -> usize {
    (input + 2 * (kernel / 2) - kernel) / stride.max(1) + 1
}

/// A convolution without bias followed by batch normalisation, on a `size x size` input;
/// returns its cost and output size.
fn conv_bn(
    size: usize,
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
) -> (NetworkCost, usize) {
    let out = conv_output_size(size, kernel, stride);
    let weights = (in_channels / groups * out_channels * kernel * kernel) as u64;
    let cost = NetworkCost {
        madds: weights * (out * out) as u64,
        params: weights + 2 * out_channels as u64,
    };
    (cost, out)
}

impl MbBlock {
    /// The block's cost on a `size x size` input, and its output size.
    pub fn cost(&self, size: usize) -> (NetworkCost, usize) {
        let hidden = self.hidden_channels();
        let mut total = NetworkCost::default();
        let mut size = size;
        if self.expansion != 1 {
            let (c, s) = conv_bn(size, self.in_channels, hidden, 1, 1, 1);
            total += c;
            size = s;
        }
        let (c, s) = conv_bn(size, hidden, hidden, self.kernel, self.stride, hidden);
        total += c;
        size = s;
        let (c, s) = conv_bn(size, hidden, self.out_channels, 1, 1, 1);
        total += c;
        (total, s)
    }
}

impl Network {
    /// Multiply-adds and parameters of the whole network (conventions in the module
    /// documentation).
    pub fn cost(&self) -> NetworkCost {
        let st = &self.stem;
        let (mut total, mut size) = conv_bn(
            self.resolution,
            st.in_channels,
            st.out_channels,
            st.kernel,
            st.stride,
            1,
        );
        let mut channels = st.out_channels;
        for b in &self.blocks {
            let (c, s) = b.cost(size);
            total += c;
            size = s;
            channels = b.out_channels;
        }
        let (c, _) = conv_bn(size, channels, self.head_channels, 1, 1, 1);
        total += c;
        // Global average pooling is free; the classifier has a bias.
        let fc = (self.head_channels * self.num_classes) as u64;
        total += NetworkCost {
            madds: fc,
            params: fc + self.num_classes as u64,
        };
        total
    }

    /// Checks that the blocks chain (each block's input channels are the previous output's).
    pub fn check_chain(&self) -> Result<(), String> {
        let mut channels = self.stem.out_channels;
        for (i, b) in self.blocks.iter().enumerate() {
            if b.in_channels != channels {
                return Err(format!(
                    "block {i} takes {} channels but receives {channels}",
                    b.in_channels
                ));
            }
            if b.kernel % 2 == 0 || b.kernel == 0 || b.stride == 0 || b.expansion == 0 {
                return Err(format!(
                    "block {i}: kernel must be odd and stride and expansion positive"
                ));
            }
            channels = b.out_channels;
        }
        Ok(())
    }

    /// MobileNetV2 1.0 (Sandler et al., CVPR 2018, Table 2), as in torchvision's
    /// `mobilenet_v2`: stem 3x3/2 to 32 channels; blocks (expansion, channels, repeats, stride)
    /// (1,16,1,1), (6,24,2,2), (6,32,3,2), (6,64,4,2), (6,96,3,1), (6,160,3,2), (6,320,1,1), all
    /// 3x3; head 1x1 to 1280.
    pub fn mobilenet_v2(resolution: usize, num_classes: usize) -> Self {
        const SETTINGS: [(usize, usize, usize, usize); 7] = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ];
        let mut blocks = Vec::new();
        let mut channels = 32;
        for (t, c, n, s) in SETTINGS {
            for i in 0..n {
                blocks.push(MbBlock {
                    in_channels: channels,
                    out_channels: c,
                    kernel: 3,
                    expansion: t,
                    stride: if i == 0 { s } else { 1 },
                });
                channels = c;
            }
        }
        Self {
            resolution,
            stem: Stem {
                in_channels: 3,
                out_channels: 32,
                kernel: 3,
                stride: 2,
            },
            blocks,
            head_channels: 1280,
            num_classes,
        }
    }
}
