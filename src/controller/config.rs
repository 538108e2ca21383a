//! Sizes and hyper-parameters of the controller, and its error type.

use serde::{Deserialize, Serialize};

use crate::space::TokenEncoding;

/// Largest `hidden` and `mlp_hidden` a controller accepts.
pub const MAX_WIDTH: usize = 1024;

/// All sizes and hyper-parameters of a controller. [`Default`] gives the paper's values
/// (official `nasbench/train_seminas.py`) for the NAS-Bench-101 encoding (vocabulary 7, length 27);
/// [`ControllerConfig::for_encoding`] takes vocabulary and length from a space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControllerConfig {
    /// Number of tokens, including the reserved start token 0.
    pub vocab_size: usize,
    /// Length of every token sequence.
    pub length: usize,
    /// Embedding size, LSTM size per direction, attention size (paper: 64).
    pub hidden: usize,
    /// Width of the predictor's hidden MLP layers (paper: 16).
    pub mlp_hidden: usize,
    /// Number of linear layers of the predictor MLP (>= 1) (paper: 2: 64->16->64).
    pub mlp_layers: usize,
    /// Dropout probability on both embeddings and after each MLP layer (paper: 0.1).
    pub dropout: f32,
    /// Weight of the MSE loss; the NLL loss gets `1 - trade_off` (paper: 0.8).
    pub trade_off: f32,
    /// Adam learning rate (paper: 1e-3).
    pub lr: f32,
    /// Adam first-moment decay (paper: 0.9).
    pub beta1: f32,
    /// Adam second-moment decay (paper: 0.999).
    pub beta2: f32,
    /// Adam epsilon (paper: 1e-8).
    pub eps: f32,
    /// L2 weight decay added to the gradient, as torch's Adam does (paper: 1e-4).
    pub weight_decay: f32,
    /// Global gradient-norm clipping bound (paper: 5).
    pub grad_clip: f32,
    /// Mini-batch size (paper: 100).
    pub batch_size: usize,
    /// Each mini-batch is split into this many fixed slices, computed in parallel and whose
    /// gradients are summed in slice order: results depend on this number, never on the number
    /// of threads (default 2).
    pub slices: usize,
    /// Early stopping on a held-out split of the training pairs (off by default, as in the
    /// paper; see [`EarlyStopping`]).
    #[serde(default)]
    pub early_stopping: Option<EarlyStopping>,
}

/// Early stopping of [`Controller::train`](super::Controller::train): a deterministic part of
/// the pairs (chosen by a hash of the token sequence, the same in every call) is held out of
/// training; after each epoch the held-out loss (and, with [`StopOn::Tau`], the ranking) is
/// computed in eval mode, training stops when the watched value has not improved for
/// `patience` epochs, and the weights (and optimiser state) of the best epoch are kept. With
/// too few pairs to hold any out, training runs as without it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Share of the distinct sequences held out, in (0, 1).
    pub held_out: f32,
    /// Epochs without a new best held-out value before training stops (>= 1).
    pub patience: usize,
    /// What is watched (default: the loss).
    #[serde(default)]
    pub on: StopOn,
    /// Stop only the second training of a SemiNAS round or SemiNAS-RE retraining (on the
    /// evaluated pairs repeated plus the pseudo-labelled ones) early; the first, on the
    /// evaluated pairs alone, keeps all its epochs (the one whose early stop cost ranking
    /// quality: docs/controller.md). Other trainings are stopped as usual.
    #[serde(default)]
    pub second_only: bool,
}

/// The held-out value early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopOn {
    /// The training objective (lower is better).
    #[default]
    Loss,
    /// Kendall tau between the predictions and the targets of the distinct held-out sequences
    /// (higher is better): the ranking a search uses, which keeps improving after the loss
    /// has turned (measured in `docs/controller.md`). When some sequences occur more than once
    /// (the up-sampled evaluated pairs of SemiNAS's second training) only those are ranked,
    /// not the single pseudo-labelled ones, whose targets are the predictor's own outputs.
    Tau,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self {
            held_out: 0.1,
            patience: 10,
            on: StopOn::Loss,
            second_only: false,
        }
    }
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            vocab_size: 7,
            length: 27,
            hidden: 64,
            mlp_hidden: 16,
            mlp_layers: 2,
            dropout: 0.1,
            trade_off: 0.8,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
            grad_clip: 5.0,
            batch_size: 100,
            slices: 2,
            early_stopping: None,
        }
    }
}

impl ControllerConfig {
    /// Paper defaults with the vocabulary and sequence length of `enc`.
    pub fn for_encoding(enc: &TokenEncoding) -> Self {
        Self::default().with_encoding(enc)
    }

    /// These settings with the vocabulary size and sequence length of `enc`.
    pub fn with_encoding(self, enc: &TokenEncoding) -> Self {
        Self {
            vocab_size: enc.vocab_size,
            length: enc.len(),
            ..self
        }
    }

    /// Checks that the sizes make a network.
    pub fn validate(&self) -> Result<(), ControllerError> {
        let bad = |s: &str| Err(ControllerError::Config(s.to_string()));
        if self.vocab_size < 2 {
            return bad("vocab_size must be at least 2 (start token and one more)");
        }
        if self.length == 0 || self.hidden == 0 || self.mlp_hidden == 0 {
            return bad("length, hidden and mlp_hidden must be positive");
        }
        // Far above any useful controller; beyond, the parameters alone need gigabytes.
        if self.hidden > MAX_WIDTH || self.mlp_hidden > MAX_WIDTH {
            return Err(ControllerError::Config(format!(
                "hidden {} and mlp_hidden {} must be at most {MAX_WIDTH}",
                self.hidden, self.mlp_hidden
            )));
        }
        if self.mlp_layers == 0 {
            return bad("mlp_layers must be at least 1");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout must be in [0, 1)");
        }
        if !(0.0..=1.0).contains(&self.trade_off) {
            return bad("trade_off must be in [0, 1]");
        }
        if self.batch_size == 0 || self.slices == 0 {
            return bad("batch_size and slices must be positive");
        }
        if !(self.lr > 0.0 && self.grad_clip > 0.0 && self.eps > 0.0) {
            return bad("lr, grad_clip and eps must be positive");
        }
        if let Some(es) = &self.early_stopping {
            if !(es.held_out > 0.0 && es.held_out < 1.0) {
                return bad("early_stopping.held_out must be in (0, 1)");
            }
            if es.patience == 0 {
                return bad("early_stopping.patience must be at least 1");
            }
        }
        Ok(())
    }

    /// Widths of the predictor MLP: `hidden`, then `mlp_layers - 1` times `mlp_hidden`, then
    /// `hidden`.
    pub fn mlp_widths(&self) -> Vec<usize> {
        let mut w = vec![self.hidden];
        w.extend(std::iter::repeat_n(self.mlp_hidden, self.mlp_layers - 1));
        w.push(self.hidden);
        w
    }
}

/// What can go wrong with a controller.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The configuration does not describe a network.
    #[error("invalid controller configuration: {0}")]
    Config(String),
    /// Training or prediction data do not fit the controller.
    #[error("invalid controller input: {0}")]
    Input(String),
    /// Reading or writing a checkpoint failed.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The checkpoint file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A checkpoint file is not a controller checkpoint of this format.
    #[error("checkpoint {path}: {reason}")]
    Format {
        /// The checkpoint file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The caller's interrupt check stopped a training ([`super::Controller::try_train_until`]).
    #[error("interrupted")]
    Interrupted,
}
