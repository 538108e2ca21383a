//! A block's operation ([`MobileOp`], in the official token order) and an architecture
//! ([`MobileArch`], one operation per searchable block).

use std::fmt;

/// One searchable block: an MBConv with a kernel size and expansion ratio, or Zero (skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MobileOp {
    /// MBConv, 3x3 depthwise, expansion 3 (token 1).
    K3E3,
    /// MBConv, 3x3 depthwise, expansion 6 (token 2).
    K3E6,
    /// MBConv, 5x5 depthwise, expansion 3 (token 3).
    K5E3,
    /// MBConv, 5x5 depthwise, expansion 6 (token 4).
    K5E6,
    /// MBConv, 7x7 depthwise, expansion 3 (token 5).
    K7E3,
    /// MBConv, 7x7 depthwise, expansion 6 (token 6).
    K7E6,
    /// No block: the input passes unchanged (token 7).
    Zero,
}

impl MobileOp {
    /// All operations, in token order.
    pub const ALL: [MobileOp; 7] = [
        MobileOp::K3E3,
        MobileOp::K3E6,
        MobileOp::K5E3,
        MobileOp::K5E6,
        MobileOp::K7E3,
        MobileOp::K7E6,
        MobileOp::Zero,
    ];

    /// The token (1..=7), equal to the official code's operation id.
    pub fn token(self) -> u32 {
        self as u32 + 1
    }

    /// The operation of a token, if it is one (1..=7).
    pub fn from_token(t: u32) -> Option<Self> {
        Self::ALL.get((t as usize).checked_sub(1)?).copied()
    }

    /// The short name used in the textual form.
    pub fn name(self) -> &'static str {
        match self {
            MobileOp::K3E3 => "k3e3",
            MobileOp::K3E6 => "k3e6",
            MobileOp::K5E3 => "k5e3",
            MobileOp::K5E6 => "k5e6",
            MobileOp::K7E3 => "k7e3",
            MobileOp::K7E6 => "k7e6",
            MobileOp::Zero => "zero",
        }
    }

    /// Reads a short name (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|o| o.name().eq_ignore_ascii_case(s.trim()))
    }

    /// `(kernel, expansion)` of an MBConv, `None` for Zero.
    pub fn mbconv(self) -> Option<(usize, usize)> {
        match self {
            MobileOp::K3E3 => Some((3, 3)),
            MobileOp::K3E6 => Some((3, 6)),
            MobileOp::K5E3 => Some((5, 3)),
            MobileOp::K5E6 => Some((5, 6)),
            MobileOp::K7E3 => Some((7, 3)),
            MobileOp::K7E6 => Some((7, 6)),
            MobileOp::Zero => None,
        }
    }
}

impl fmt::Display for MobileOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An architecture of a [`MobileSpace`](super::MobileSpace): one operation per searchable block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MobileArch(pub Box<[MobileOp]>);

impl MobileArch {
    /// The operations, one per searchable block.
    pub fn ops(&self) -> &[MobileOp] {
        &self.0
    }
}
