//! Every activation and gradient buffer of one slice, grouped by the part of the network that
//! writes it. Names follow docs/controller.md, "Model"; rows are time-major (`t * b + i`), so
//! "rows" below means `T x b` and "per sample" means `b`.

use super::super::real::{Real, gemm, n};
use super::lstm::LstmBuf;
use super::{Dims, Net};

/// Encoder activations (embedding -> dropout -> BiLSTM -> projection + residual -> normalise).
pub(crate) struct EncoderBufs<F> {
    /// Input token of each row.
    pub tok: Vec<usize>,
    /// Dropout mask of the embedded inputs (rows x h).
    pub mask: Vec<F>,
    /// Embedded, dropped-out inputs `x` (rows x h); also the projection's residual.
    pub x: Vec<F>,
    /// Saved state of the forward-direction LSTM.
    pub fwd: LstmBuf<F>,
    /// Saved state of the backward-direction LSTM.
    pub bwd: LstmBuf<F>,
    /// Both directions' hidden states side by side, `[h_fwd; h_bwd]` (rows x 2h).
    pub hcat: Vec<F>,
    /// Encoder outputs: `normalise(x + W_proj [h_fwd; h_bwd] + b)` per token (rows x h).
    pub out: Vec<F>,
    /// Norm of each encoder output before normalising (rows).
    pub out_norm: Vec<F>,
    /// Mean of the encoder outputs over tokens (b x h).
    pub mean: Vec<F>,
    /// Norm of each mean before normalising (b).
    pub mean_norm: Vec<F>,
    /// Architecture embedding `z = normalise(mean)` (b x h).
    pub arch_emb: Vec<F>,
}

/// Predictor activations (MLP with ReLU and dropout, residual, linear head).
pub(crate) struct PredictorBufs<F> {
    /// Per MLP layer: `relu(W a + b)` before dropout (b x width).
    pub pre: Vec<Vec<F>>,
    /// Per MLP layer: its dropout mask (b x width).
    pub mask: Vec<Vec<F>>,
    /// Per MLP layer: its output after dropout (b x width).
    pub act: Vec<Vec<F>>,
    /// `(z + mlp(z)) sqrt(1/2)`, the linear head's input (b x h).
    pub resid: Vec<F>,
    /// Predicted values (b).
    pub value: Vec<F>,
}

/// Decoder activations (embedding -> dropout -> LSTM -> residual -> attention -> residual ->
/// linear -> log-softmax).
pub(crate) struct DecoderBufs<F> {
    /// Input token of each row (SOS, then the sequence shifted by one).
    pub tok: Vec<usize>,
    /// Dropout mask of the embedded inputs (rows x h).
    pub mask: Vec<F>,
    /// Embedded, dropped-out inputs (rows x h).
    pub x: Vec<F>,
    /// Saved state of the decoder LSTM.
    pub lstm: LstmBuf<F>,
    /// Decoder LSTM outputs (rows x h).
    pub h: Vec<F>,
    /// First residual `(x + h) sqrt(1/2)` (rows x h).
    pub in_res: Vec<F>,
    /// Attention queries `in_res W_att_in` (rows x h).
    pub query: Vec<F>,
    /// Attention weights, softmax of query . encoder output (b x T x T).
    pub weights: Vec<F>,
    /// `[context; in_res]`, the attention output projection's input (rows x 2h).
    pub ctx_cat: Vec<F>,
    /// `tanh(ctx_cat W_att_out)` (rows x h).
    pub att_out: Vec<F>,
    /// Second residual `(in_res + att_out) sqrt(1/2)` (rows x h).
    pub out_res: Vec<F>,
    /// Log-probabilities of every token (rows x vocab).
    pub logp: Vec<F>,
}

/// Gradients of the loss with respect to the activations of the same names.
pub(crate) struct GradBufs<F> {
    /// Of the decoder's logits (rows x vocab).
    pub logits: Vec<F>,
    /// Of [`DecoderBufs::out_res`].
    pub out_res: Vec<F>,
    /// Of the attention output projection before tanh (rows x h).
    pub att_pre: Vec<F>,
    /// Of [`DecoderBufs::ctx_cat`].
    pub ctx_cat: Vec<F>,
    /// Of [`DecoderBufs::in_res`].
    pub in_res: Vec<F>,
    /// Of [`DecoderBufs::query`].
    pub query: Vec<F>,
    /// Of the encoder outputs [`EncoderBufs::out`] (rows x h); what the NAO step follows.
    pub enc_out: Vec<F>,
    /// Of an LSTM's embedded inputs (rows x h), reused by decoder and encoder.
    pub x: Vec<F>,
    /// Of an LSTM's pre-activation gates (rows x 4h), reused by every LSTM.
    pub gates: Vec<F>,
    /// Running gradient of an LSTM's hidden state (b x h); dL/dh0 at the end.
    pub h: Vec<F>,
    /// Running gradient of an LSTM's cell state (b x h); dL/dc0 at the end.
    pub c: Vec<F>,
    /// Of [`EncoderBufs::hcat`].
    pub hcat: Vec<F>,
    /// Of the architecture embedding z (b x h).
    pub arch_emb: Vec<F>,
    /// Of [`EncoderBufs::mean`].
    pub mean: Vec<F>,
    /// Of the current MLP layer's output (b x widest layer).
    pub mlp: Vec<F>,
    /// Of the current MLP layer's input, swapped with `mlp` after each layer.
    pub mlp_next: Vec<F>,
    /// Of the predicted values (b).
    pub value: Vec<F>,
}

/// Per-sample scratch of the attention and the LSTMs.
pub(crate) struct Scratch<F> {
    /// One sample's encoder outputs transposed (`h x T` padded to 16 columns).
    pub out_t: Vec<F>,
    /// Scores or their gradient for one sample (`T x T` padded).
    pub scores: Vec<F>,
    /// Score gradients of one sample (`T x T`).
    pub d_scores: Vec<F>,
    /// An LSTM's two biases added together (4h).
    pub bias: Vec<F>,
}

/// All activations and gradient scratch for a slice of up to `cap` samples.
pub(crate) struct Workspace<F> {
    pub cap: usize,
    /// The sizes it was made for.
    pub dims: Dims,
    /// Encoder activations.
    pub enc: EncoderBufs<F>,
    /// Predictor activations.
    pub pred: PredictorBufs<F>,
    /// Decoder activations.
    pub dec: DecoderBufs<F>,
    /// Activation gradients.
    pub g: GradBufs<F>,
    /// Attention and LSTM scratch.
    pub scratch: Scratch<F>,
    /// Parameter gradient (empty when the workspace is for inference).
    pub grad: Vec<F>,
    /// Eval-mode lookup tables `embedding x W_ih + biases` (`vocab x 4h`) of the encoder's
    /// forward and backward LSTMs and of the decoder's, valid when `tables_ready`.
    pub tables: Vec<F>,
    pub tables_ready: bool,
    /// Every weight matrix transposed (same offsets as the parameters), so that products with
    /// a transposed weight read contiguous rows.
    pub wt: Vec<F>,
}

impl<F: Real> Workspace<F> {
    /// Buffers for slices of up to `cap` samples; `n_params > 0` adds a gradient vector.
    pub fn new(d: &Dims, cap: usize, n_params: usize) -> Self {
        let (tl, h, v) = (d.t, d.h, d.v);
        let rows = tl * cap;
        let z = |k: usize| vec![F::ZERO; k];
        let maxw = *d.widths.iter().max().unwrap_or(&h);
        let per_layer = || d.widths[1..].iter().map(|&w| z(cap * w)).collect();
        Self {
            cap,
            dims: d.clone(),
            enc: EncoderBufs {
                tok: vec![0; rows],
                mask: z(rows * h),
                x: z(rows * h),
                fwd: LstmBuf::new(rows, h),
                bwd: LstmBuf::new(rows, h),
                hcat: z(rows * 2 * h),
                out: z(rows * h),
                out_norm: z(rows),
                mean: z(cap * h),
                mean_norm: z(cap),
                arch_emb: z(cap * h),
            },
            pred: PredictorBufs {
                pre: per_layer(),
                mask: per_layer(),
                act: per_layer(),
                resid: z(cap * h),
                value: z(cap),
            },
            dec: DecoderBufs {
                tok: vec![0; rows],
                mask: z(rows * h),
                x: z(rows * h),
                lstm: LstmBuf::new(rows, h),
                h: z(rows * h),
                in_res: z(rows * h),
                query: z(rows * h),
                weights: z(cap * tl * tl),
                ctx_cat: z(rows * 2 * h),
                att_out: z(rows * h),
                out_res: z(rows * h),
                logp: z(rows * v),
            },
            g: GradBufs {
                logits: z(rows * v),
                out_res: z(rows * h),
                att_pre: z(rows * h),
                ctx_cat: z(rows * 2 * h),
                in_res: z(rows * h),
                query: z(rows * h),
                enc_out: z(rows * h),
                x: z(rows * h),
                gates: z(rows * 4 * h),
                h: z(cap * h),
                c: z(cap * h),
                hcat: z(rows * 2 * h),
                arch_emb: z(cap * h),
                mean: z(cap * h),
                mlp: z(cap * maxw),
                mlp_next: z(cap * maxw),
                value: z(cap),
            },
            scratch: Scratch {
                out_t: z(cap * h * tl.next_multiple_of(16)),
                scores: z(tl * tl.next_multiple_of(16)),
                d_scores: z(tl * tl),
                bias: z(4 * h),
            },
            grad: z(n_params),
            wt: z(n_params),
            tables: z(3 * v * 4 * h),
            tables_ready: false,
        }
    }
}

impl<F: Real> Net<'_, F> {
    /// Fills the eval-mode lookup tables of `ws` for these parameters; [`Net::encode`] (without
    /// dropout) and [`Net::generate`] then look input projections up instead of multiplying.
    /// The tables must be prepared again whenever the parameters change.
    pub fn prepare_eval(&self, ws: &mut Workspace<F>) {
        let (v, h) = (self.d.v, self.d.h);
        let g4 = 4 * h;
        let lay = self.lay;
        for (k, (idx, emb)) in [
            (&lay.enc_fwd, &lay.enc_emb),
            (&lay.enc_bwd, &lay.enc_emb),
            (&lay.dec, &lay.dec_emb),
        ]
        .into_iter()
        .enumerate()
        {
            let tab = &mut ws.tables[k * v * g4..(k + 1) * v * g4];
            self.combined_bias(idx, &mut ws.scratch.bias);
            for row in tab.chunks_exact_mut(g4) {
                row.copy_from_slice(&ws.scratch.bias);
            }
            gemm(
                v,
                h,
                g4,
                n(&self.p[emb.clone()], h),
                n(&self.p[idx.w_ih.clone()], g4),
                F::ONE,
                tab,
                g4,
            );
        }
        ws.tables_ready = true;
    }

    /// Writes every 2-D weight `[r, c]` transposed (`[c, r]`) into `wt` at its own offsets.
    #[inline(always)]
    pub(super) fn transpose_weights(&self, wt: &mut [F]) {
        for ten in &self.lay.tensors {
            if let [r, c] = ten.shape[..] {
                let src = &self.p[ten.range.clone()];
                let dst = &mut wt[ten.range.clone()];
                for i in 0..r {
                    for j in 0..c {
                        dst[j * r + i] = src[i * c + j];
                    }
                }
            }
        }
    }
}
