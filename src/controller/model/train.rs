//! One training step on a slice: encoder and decoder forward, the two losses, then the
//! backward pass part by part (decoder, predictor, encoder).

// Index loops mirror the maths of the backward passes more readably than iterator chains.
#![allow(clippy::needless_range_loop)]

use super::super::real::Real;
use super::Net;
use super::workspace::Workspace;

impl<F: Real> Net<'_, F> {
    /// Full training forward and backward on one slice. `targets` are the normalised values;
    /// the losses are means over `total_b` samples (the whole mini-batch), so slice gradients
    /// add up to the batch gradient. Adds the gradient to `ws.grad` and returns the slice's
    /// (sum of squared errors, sum of token NLLs).
    #[inline(always)]
    pub(super) fn loss_and_grad_impl(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        targets: &[F],
        total_b: usize,
        masks: Option<&mut rand_chacha::ChaCha8Rng>,
        backward: bool,
    ) -> (f64, f64) {
        use crate::controller::profile::{Phase, start, stop};
        let b = seqs.len();
        let mut masks = masks;
        if backward {
            let t = start(Phase::Transpose);
            self.transpose_weights(&mut ws.wt);
            stop(t);
        }
        let t = start(Phase::EncoderForward);
        self.encode_impl(ws, seqs, masks.as_deref_mut());
        stop(t);
        let t = start(Phase::DecoderForward);
        self.decode_teacher_forced(ws, seqs, masks);
        stop(t);
        let t = start(Phase::Loss);
        let (sse, nll) = self.losses(ws, seqs, targets, total_b, backward);
        stop(t);
        if !backward {
            return (sse, nll);
        }
        let mut grad = std::mem::take(&mut ws.grad);
        let t = start(Phase::DecoderBackward);
        self.decoder_bwd(ws, b, &mut grad);
        // The decoder's initial state (z, z) gave dL/dh0 + dL/dc0 to the embedding.
        let h = self.d.h;
        for ((gz, gh), gc) in ws.g.arch_emb[..b * h].iter_mut().zip(&ws.g.h).zip(&ws.g.c) {
            *gz = *gh + *gc;
        }
        stop(t);
        let t = start(Phase::PredictorBackward);
        self.predictor_bwd(ws, b, Some(&mut grad));
        stop(t);
        let t = start(Phase::EncoderBackward);
        self.encoder_bwd(ws, b, &mut grad);
        stop(t);
        ws.grad = grad;
        (sse, nll)
    }

    /// The two losses of the slice: the sum of squared prediction errors and the sum of token
    /// NLLs. Sets `ws.g.value` and, when `backward`, `ws.g.logits` (each loss's mean over the
    /// whole mini-batch of `total_b` samples, weighted by the trade-off).
    #[inline(always)]
    pub(super) fn losses(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        targets: &[F],
        total_b: usize,
        backward: bool,
    ) -> (f64, f64) {
        let (tl, v) = (self.d.t, self.d.v);
        let b = seqs.len();

        let c_mse = F::from_f64(self.d.trade_off / total_b as f64);
        let c_nll = F::from_f64((1.0 - self.d.trade_off) / (total_b * tl) as f64);
        let mut sse = 0.0;
        for i in 0..b {
            let e = ws.pred.value[i] - targets[i];
            sse += e.to_f64() * e.to_f64();
            ws.g.value[i] = c_mse * (e + e);
        }
        let mut nll = 0.0;
        if !backward {
            for (i, sq) in seqs.iter().enumerate() {
                for (tt, &tok) in sq.iter().enumerate() {
                    nll -= ws.dec.logp[(tt * b + i) * v + tok as usize].to_f64();
                }
            }
            return (sse, nll);
        }
        for (i, sq) in seqs.iter().enumerate() {
            for (tt, &tok) in sq.iter().enumerate() {
                let row = tt * b + i;
                let lp = &ws.dec.logp[row * v..(row + 1) * v];
                nll -= lp[tok as usize].to_f64();
                let g = &mut ws.g.logits[row * v..(row + 1) * v];
                for (gv, &l) in g.iter_mut().zip(lp) {
                    *gv = c_nll * l.exp();
                }
                g[tok as usize] -= c_nll;
            }
        }
        (sse, nll)
    }
}
