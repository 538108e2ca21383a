//! Where each parameter tensor lives in the controller's single flat parameter vector, and the
//! initialisation (PyTorch's defaults, so training starts from the same distributions).
//!
//! All weights are stored `[in, out]` row-major (inputs multiply from the left: `y = x W + b`),
//! the transpose of PyTorch's `[out, in]`. LSTM gates are ordered i, f, g, o as in PyTorch, and
//! each LSTM keeps PyTorch's two bias vectors (`b_ih`, `b_hh`): they receive the same gradient,
//! so keeping both reproduces torch's Adam dynamics exactly.

use std::ops::Range;

use rand::Rng as _;

use super::config::ControllerConfig;
use crate::rng::Rng;

/// The four tensors of one LSTM direction.
#[derive(Debug, Clone)]
pub(crate) struct LstmIdx {
    /// Input weights `[in, 4H]`.
    pub w_ih: Range<usize>,
    /// Recurrent weights `[H, 4H]`.
    pub w_hh: Range<usize>,
    /// Input bias `[4H]`.
    pub b_ih: Range<usize>,
    /// Recurrent bias `[4H]`.
    pub b_hh: Range<usize>,
}

/// One linear layer of the predictor MLP.
#[derive(Debug, Clone)]
pub(crate) struct LinearIdx {
    pub w: Range<usize>,
    pub b: Range<usize>,
}

/// How a parameter tensor is initialised.
#[derive(Debug, Clone, Copy)]
enum Init {
    /// Standard normal (torch `nn.Embedding`).
    Normal,
    /// Uniform in `[-bound, bound]` (torch LSTM: 1/sqrt(H); torch Linear: 1/sqrt(fan_in)).
    Uniform(f64),
}

/// A named tensor of the flat vector.
#[derive(Debug, Clone)]
pub(crate) struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub range: Range<usize>,
    init: Init,
}

/// The parameter layout of a controller configuration.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub enc_emb: Range<usize>,
    pub enc_fwd: LstmIdx,
    pub enc_bwd: LstmIdx,
    pub enc_proj_w: Range<usize>,
    pub enc_proj_b: Range<usize>,
    pub mlp: Vec<LinearIdx>,
    pub reg_w: Range<usize>,
    pub reg_b: Range<usize>,
    pub dec_emb: Range<usize>,
    pub dec: LstmIdx,
    pub att_in_w: Range<usize>,
    pub att_out_w: Range<usize>,
    pub out_w: Range<usize>,
    pub out_b: Range<usize>,
    pub tensors: Vec<TensorInfo>,
    pub total: usize,
}

struct Builder {
    tensors: Vec<TensorInfo>,
    next: usize,
}

impl Builder {
    fn take(&mut self, name: &str, shape: &[usize], init: Init) -> Range<usize> {
        let len: usize = shape.iter().product();
        let range = self.next..self.next + len;
        self.next += len;
        self.tensors.push(TensorInfo {
            name: name.to_string(),
            shape: shape.to_vec(),
            range: range.clone(),
            init,
        });
        range
    }

    fn lstm(&mut self, prefix: &str, input: usize, h: usize) -> LstmIdx {
        let u = Init::Uniform(1.0 / (h as f64).sqrt());
        LstmIdx {
            w_ih: self.take(&format!("{prefix}.w_ih"), &[input, 4 * h], u),
            w_hh: self.take(&format!("{prefix}.w_hh"), &[h, 4 * h], u),
            b_ih: self.take(&format!("{prefix}.b_ih"), &[4 * h], u),
            b_hh: self.take(&format!("{prefix}.b_hh"), &[4 * h], u),
        }
    }

    fn linear(&mut self, prefix: &str, fan_in: usize, fan_out: usize, bias: bool) -> LinearIdx {
        let u = Init::Uniform(1.0 / (fan_in as f64).sqrt());
        let w = self.take(&format!("{prefix}.w"), &[fan_in, fan_out], u);
        let b = if bias {
            self.take(&format!("{prefix}.b"), &[fan_out], u)
        } else {
            w.end..w.end
        };
        LinearIdx { w, b }
    }
}

impl Layout {
    /// The layout for `cfg` (assumed valid).
    pub fn new(cfg: &ControllerConfig) -> Self {
        let (v, h) = (cfg.vocab_size, cfg.hidden);
        let mut b = Builder {
            tensors: Vec::new(),
            next: 0,
        };
        let enc_emb = b.take("encoder.embedding", &[v, h], Init::Normal);
        let enc_fwd = b.lstm("encoder.lstm_fwd", h, h);
        let enc_bwd = b.lstm("encoder.lstm_bwd", h, h);
        let proj = b.linear("encoder.out_proj", 2 * h, h, true);
        let widths = cfg.mlp_widths();
        let mlp = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| b.linear(&format!("predictor.mlp{i}"), w[0], w[1], true))
            .collect();
        let reg = b.linear("predictor.regressor", h, 1, true);
        let dec_emb = b.take("decoder.embedding", &[v, h], Init::Normal);
        let dec = b.lstm("decoder.lstm", h, h);
        let att_in = b.linear("decoder.attention.input_proj", h, h, false);
        let att_out = b.linear("decoder.attention.output_proj", 2 * h, h, false);
        let out = b.linear("decoder.out", h, v, true);
        Self {
            enc_emb,
            enc_fwd,
            enc_bwd,
            enc_proj_w: proj.w,
            enc_proj_b: proj.b,
            mlp,
            reg_w: reg.w,
            reg_b: reg.b,
            dec_emb,
            dec,
            att_in_w: att_in.w,
            att_out_w: att_out.w,
            out_w: out.w,
            out_b: out.b,
            total: b.next,
            tensors: b.tensors,
        }
    }

    /// Fresh parameters drawn from `rng`, tensor by tensor in layout order.
    pub fn init(&self, rng: &mut Rng) -> Vec<f32> {
        let mut p = vec![0.0f32; self.total];
        for t in &self.tensors {
            for x in &mut p[t.range.clone()] {
                *x = match t.init {
                    Init::Normal => normal(rng) as f32,
                    Init::Uniform(bound) => rng.gen_range(-bound..bound) as f32,
                };
            }
        }
        p
    }
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>(); // in (0, 1]
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
