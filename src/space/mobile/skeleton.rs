//! The fixed frame of a mobile network ([`MobileSkeleton`]): input, stem and head widths and
//! the stages of searchable blocks, with the paper's search and training widths and the
//! limits a definition is checked against.

use serde::{Deserialize, Serialize};

use super::MobileError;

/// One stage of searchable blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// Number of searchable blocks.
    pub blocks: usize,
    /// Stride of the stage's first block.
    pub stride: usize,
    /// Output channels of every block of the stage.
    pub width: usize,
}

/// The fixed parts of the network around the searchable blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileSkeleton {
    /// Output channels of the 3x3 stride-2 stem convolution.
    pub stem_channels: usize,
    /// Output channels of the fixed first MBConv block (3x3, expansion 1, stride 1).
    pub first_block_channels: usize,
    /// The searchable stages.
    pub stages: Vec<Stage>,
    /// Output channels of the 1x1 head convolution.
    pub head_channels: usize,
    /// Input resolution (224 for ImageNet).
    pub resolution: usize,
    /// Classes of the classifier (1000 for ImageNet).
    pub num_classes: usize,
}

/// Largest input resolution of a skeleton.
pub const MAX_RESOLUTION: usize = 2048;
/// Most classes of a skeleton's classifier.
pub const MAX_CLASSES: usize = 1_000_000;
/// Most channels of any layer of a skeleton (before expansion).
pub const MAX_CHANNELS: usize = 8192;
/// Most stages, and most blocks per stage, of a skeleton.
pub const MAX_STAGE_BLOCKS: usize = 32;

const PAPER_BLOCKS: [usize; 6] = [4, 4, 4, 4, 4, 1];
const PAPER_STRIDES: [usize; 6] = [2, 2, 2, 1, 2, 1];

impl MobileSkeleton {
    fn paper_stages(widths: [usize; 6]) -> Vec<Stage> {
        (0..6)
            .map(|i| Stage {
                blocks: PAPER_BLOCKS[i],
                stride: PAPER_STRIDES[i],
                width: widths[i],
            })
            .collect()
    }

    /// The search-time widths (the supernet's, ProxylessNAS-mobile's): stem 32, first block
    /// 16, stages (24, 40, 80, 96, 192, 320), head 1280; 224 x 224 inputs, 1000 classes
    /// (`imagenet/train_search_imagenet.py` defaults).
    pub fn paper_search() -> Self {
        Self {
            stem_channels: 32,
            first_block_channels: 16,
            stages: Self::paper_stages([24, 40, 80, 96, 192, 320]),
            head_channels: 1280,
            resolution: 224,
            num_classes: 1000,
        }
    }

    /// The widths the found networks are trained at (`imagenet/train_imagenet.py` defaults
    /// and `utils.build_model_config`): stem 40, first block 24, stages (32, 56, 112, 128, 256,
    /// 432), head 1728; 224 x 224 inputs, 1000 classes. SemiNASNet has 599M FLOPs here.
    pub fn paper_train() -> Self {
        Self {
            stem_channels: 40,
            first_block_channels: 24,
            stages: Self::paper_stages([32, 56, 112, 128, 256, 432]),
            head_channels: 1728,
            resolution: 224,
            num_classes: 1000,
        }
    }

    /// Every channel count multiplied by `multiplier` and rounded to a multiple of 8 (never
    /// below 8, nor more than 10% below the exact product: MobileNetV2's `_make_divisible`).
    pub fn scaled(&self, multiplier: f64) -> Self {
        let scale = |c: usize| -> usize {
            let v = c as f64 * multiplier;
            let r = (((v + 4.0) / 8.0).floor() as usize * 8).max(8);
            if (r as f64) < 0.9 * v { r + 8 } else { r }
        };
        Self {
            stem_channels: scale(self.stem_channels),
            first_block_channels: scale(self.first_block_channels),
            stages: self
                .stages
                .iter()
                .map(|s| Stage {
                    width: scale(s.width),
                    ..*s
                })
                .collect(),
            head_channels: scale(self.head_channels),
            ..self.clone()
        }
    }

    /// Number of searchable blocks.
    pub fn num_blocks(&self) -> usize {
        self.stages.iter().map(|s| s.blocks).sum()
    }

    /// Checks that the sizes make a network.
    pub fn validate(&self) -> Result<(), MobileError> {
        let bad = |s: String| Err(MobileError::Skeleton(s));
        if self.stages.is_empty() {
            return bad("at least one stage is needed".into());
        }
        for (i, s) in self.stages.iter().enumerate() {
            if s.blocks == 0 || s.stride == 0 || s.width == 0 {
                return bad(format!(
                    "stage {} needs at least one block, a positive stride and a positive width",
                    i + 1
                ));
            }
        }
        if self.stem_channels == 0
            || self.first_block_channels == 0
            || self.head_channels == 0
            || self.resolution == 0
            || self.num_classes == 0
        {
            return bad("channels, resolution and number of classes must be positive".into());
        }
        // Bounds that keep every multiply-add count within u64 (and far above real networks).
        let widest = self.stages.iter().map(|s| s.width).max().unwrap_or(0);
        let limits = [
            ("resolution", self.resolution, MAX_RESOLUTION),
            ("number of classes", self.num_classes, MAX_CLASSES),
            (
                "channels",
                self.stem_channels
                    .max(self.first_block_channels)
                    .max(self.head_channels)
                    .max(widest),
                MAX_CHANNELS,
            ),
            (
                "blocks per stage",
                self.stages.iter().map(|s| s.blocks).max().unwrap_or(0),
                MAX_STAGE_BLOCKS,
            ),
            ("stages", self.stages.len(), MAX_STAGE_BLOCKS),
        ];
        for (what, value, max) in limits {
            if value > max {
                return bad(format!("{what} {value} is over the limit of {max}"));
            }
        }
        Ok(())
    }
}
