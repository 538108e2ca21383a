//! The decoder: its LSTM started at the architecture embedding, dot-product attention over the
//! encoder outputs, the output projection and log-softmax; teacher-forced forward and backward
//! for training, greedy decoding for the NAO step (see docs/controller.md, "Model").

// Index loops mirror the maths of the backward passes more readably than iterator chains.
#![allow(clippy::needless_range_loop)]

use super::super::real::{Real, axpy, dot, gemm, n, t, tanh};
use super::lstm::{LstmGrad, cell_fwd};
use super::workspace::Workspace;
use super::{Net, colsum_add, fill_mask, normalize_rows, scatter_embedding_grad};

impl<F: Real> Net<'_, F> {
    /// Dot-product attention of the queries `q` (rows `t * b + i`, `nq` steps) over the encoder
    /// outputs `o` (`self.d.t` steps): writes the weights to `attn` (`b x nq x T`) and the mixes
    /// to `comb[row * 2h ..][..h]`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn attention_fwd(
        &self,
        q: &[F],
        o: &[F],
        ot: &[F],
        b: usize,
        nq: usize,
        attn: &mut [F],
        comb: &mut [F],
        sbuf: &mut [F],
    ) {
        let (tl, h) = (self.d.t, self.d.h);
        let tp = tl.next_multiple_of(16);
        if nq == 1 {
            // One query per sample (greedy decoding): direct loops beat tiny products.
            for i in 0..b {
                let qr = &q[i * h..][..h];
                let a = &mut attn[i * tl..][..tl];
                let mut mx = F::from_f64(f64::NEG_INFINITY);
                for (ts, av) in a.iter_mut().enumerate() {
                    *av = dot(qr, &o[(ts * b + i) * h..][..h]);
                    if *av > mx {
                        mx = *av;
                    }
                }
                let mut sum = F::ZERO;
                for av in a.iter_mut() {
                    *av = (*av - mx).exp();
                    sum += *av;
                }
                let inv = F::ONE / sum;
                let mix = &mut comb[i * 2 * h..][..h];
                mix.fill(F::ZERO);
                for (ts, av) in a.iter_mut().enumerate() {
                    *av *= inv;
                    axpy(*av, &o[(ts * b + i) * h..][..h], mix);
                }
            }
            return;
        }
        for i in 0..b {
            // Scores of sample i: its queries times its transposed outputs (padded columns).
            gemm(
                nq,
                h,
                tp,
                n(&q[i * h..], b * h),
                n(&ot[i * h * tp..][..h * tp], tp),
                F::ZERO,
                &mut sbuf[..nq * tp],
                tp,
            );
            for tq in 0..nq {
                let sc = &sbuf[tq * tp..][..tl];
                let a = &mut attn[(i * nq + tq) * tl..][..tl];
                let mut mx = sc[0];
                for &v in sc {
                    if v > mx {
                        mx = v;
                    }
                }
                let mut sum = F::ZERO;
                for (av, &v) in a.iter_mut().zip(sc) {
                    *av = (v - mx).exp();
                    sum += *av;
                }
                let inv = F::ONE / sum;
                for av in a.iter_mut() {
                    *av *= inv;
                }
            }
            // Context vectors: the weights times sample i's outputs, into comb[.., ..h].
            gemm(
                nq,
                tl,
                h,
                n(&attn[i * nq * tl..][..nq * tl], tl),
                n(&o[i * h..], b * h),
                F::ZERO,
                &mut comb[i * 2 * h..],
                b * 2 * h,
            );
        }
    }

    /// Writes each sample's encoder outputs transposed, `h x T` padded to a multiple of 16
    /// columns (the padding stays zero), for the attention's score products.
    #[inline(always)]
    pub(super) fn transpose_outputs(&self, o: &[F], b: usize, ot: &mut [F]) {
        let (tl, h) = (self.d.t, self.d.h);
        let tp = tl.next_multiple_of(16);
        for i in 0..b {
            let dst = &mut ot[i * h * tp..][..h * tp];
            for ts in 0..tl {
                let src = &o[(ts * b + i) * h..][..h];
                for (j, &v) in src.iter().enumerate() {
                    dst[j * tp + ts] = v;
                }
            }
        }
    }

    /// Decoder forward from `x` (`nq` steps of `b` rows, inputs already embedded) and the
    /// decoder LSTM outputs in `dh`: residuals, attention, output projection, log-softmax into
    /// `logp`. Shared by teacher forcing (`nq = T`) and greedy decoding (`nq = 1`).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn decoder_head(
        &self,
        x: &[F],
        dh: &[F],
        o: &[F],
        ot: &[F],
        sbuf: &mut [F],
        b: usize,
        nq: usize,
        r1: &mut [F],
        q: &mut [F],
        attn: &mut [F],
        comb: &mut [F],
        att: &mut [F],
        r2: &mut [F],
        logp: &mut [F],
    ) {
        let (h, v) = (self.d.h, self.d.v);
        let rows = nq * b;
        let s = F::from_f64(std::f64::consts::FRAC_1_SQRT_2);
        for ((r, xx), hh) in r1[..rows * h].iter_mut().zip(x).zip(dh) {
            *r = (*xx + *hh) * s;
        }
        gemm(
            rows,
            h,
            h,
            n(&r1[..rows * h], h),
            n(&self.p[self.lay.att_in_w.clone()], h),
            F::ZERO,
            &mut q[..rows * h],
            h,
        );
        self.attention_fwd(q, o, ot, b, nq, attn, comb, sbuf);
        for row in 0..rows {
            comb[row * 2 * h + h..(row + 1) * 2 * h].copy_from_slice(&r1[row * h..(row + 1) * h]);
        }
        gemm(
            rows,
            2 * h,
            h,
            n(&comb[..rows * 2 * h], 2 * h),
            n(&self.p[self.lay.att_out_w.clone()], h),
            F::ZERO,
            &mut att[..rows * h],
            h,
        );
        for x in &mut att[..rows * h] {
            *x = tanh(*x);
        }
        for ((r, a), rr) in r2[..rows * h].iter_mut().zip(att.iter()).zip(r1.iter()) {
            *r = (*rr + *a) * s;
        }
        let ob = &self.p[self.lay.out_b.clone()];
        for row in logp[..rows * v].chunks_exact_mut(v) {
            row.copy_from_slice(ob);
        }
        gemm(
            rows,
            h,
            v,
            n(&r2[..rows * h], h),
            n(&self.p[self.lay.out_w.clone()], v),
            F::ONE,
            &mut logp[..rows * v],
            v,
        );
        for row in logp[..rows * v].chunks_exact_mut(v) {
            let mut mx = row[0];
            for &x in row.iter() {
                if x > mx {
                    mx = x;
                }
            }
            let mut sum = F::ZERO;
            for &x in row.iter() {
                sum += (x - mx).exp();
            }
            let lse = mx + sum.ln();
            for x in row.iter_mut() {
                *x -= lse;
            }
        }
    }

    /// The NAO step for `seqs` (eval mode): encoder outputs moved by `lambda` times the
    /// predictor's gradient and renormalised; the new embedding's prediction; then greedy
    /// decoding where position `t` may only take tokens with `allowed[t * vocab + token]`.
    /// Returns the new sequences (flattened, `b x T`) and predictions in `ws.pred.value`.
    #[inline(always)]
    pub(super) fn generate_impl(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        lambda: F,
        allowed: &[bool],
    ) -> Vec<u32> {
        self.encode_with_gradients_impl(ws, seqs);
        self.generate_moved_impl(ws, seqs.len(), lambda, allowed)
    }

    /// The part of the NAO step that does not depend on `lambda`: the encoder outputs of
    /// `seqs` (eval mode) in `ws.enc.out` and the predictor's gradient with respect to them in
    /// `ws.g.enc_out`.
    #[inline(always)]
    pub(super) fn encode_with_gradients_impl(&self, ws: &mut Workspace<F>, seqs: &[&[u32]]) {
        self.encode_impl(ws, seqs, None);
        self.pred_grad_wrt_outputs(ws, seqs.len());
    }

    /// The rest of the NAO step for `b` sequences whose encoder outputs and gradients
    /// [`Net::encode_with_gradients_impl`] left in `ws.enc.out` and `ws.g.enc_out` (or were
    /// copied back there): moves the outputs by `lambda`, predicts and decodes (see
    /// [`Net::generate_impl`]). Overwrites `ws.enc.out`.
    #[inline(always)]
    pub(super) fn generate_moved_impl(
        &self,
        ws: &mut Workspace<F>,
        b: usize,
        lambda: F,
        allowed: &[bool],
    ) -> Vec<u32> {
        let (tl, h, v) = (self.d.t, self.d.h, self.d.v);
        let rows = tl * b;
        axpy(
            lambda,
            &ws.g.enc_out[..rows * h],
            &mut ws.enc.out[..rows * h],
        );
        normalize_rows(&mut ws.enc.out[..rows * h], h, &mut ws.enc.out_norm);
        self.embed_and_predict(ws, b, None);

        let g4 = 4 * h;
        let mut hprev = ws.enc.arch_emb[..b * h].to_vec();
        let mut cprev = ws.enc.arch_emb[..b * h].to_vec();
        let mut cnext = vec![F::ZERO; b * h];
        let mut input = vec![0usize; b];
        let mut out = vec![0u32; b * tl];
        self.combined_bias(&self.lay.dec, &mut ws.scratch.bias);
        let demb = &self.p[self.lay.dec_emb.clone()];
        for tt in 0..tl {
            for (i, &tok) in input.iter().enumerate() {
                ws.dec.x[i * h..(i + 1) * h].copy_from_slice(&demb[tok * h..(tok + 1) * h]);
            }
            let gates = &mut ws.dec.lstm.gates[..b * g4];
            if ws.tables_ready {
                let tab = &ws.tables[2 * v * g4..3 * v * g4];
                for (row, &tok) in gates.chunks_exact_mut(g4).zip(&input) {
                    row.copy_from_slice(&tab[tok * g4..][..g4]);
                }
            } else {
                for row in gates.chunks_exact_mut(g4) {
                    row.copy_from_slice(&ws.scratch.bias);
                }
                gemm(
                    b,
                    h,
                    g4,
                    n(&ws.dec.x[..b * h], h),
                    n(&self.p[self.lay.dec.w_ih.clone()], g4),
                    F::ONE,
                    gates,
                    g4,
                );
            }
            gemm(
                b,
                h,
                g4,
                n(&hprev, h),
                n(&self.p[self.lay.dec.w_hh.clone()], g4),
                F::ONE,
                gates,
                g4,
            );
            cell_fwd(
                gates,
                &cprev,
                &mut cnext,
                &mut ws.dec.lstm.tc[..b * h],
                &mut ws.dec.h[..b * h],
                h,
                0,
                b,
                h,
            );
            std::mem::swap(&mut cprev, &mut cnext);
            hprev.copy_from_slice(&ws.dec.h[..b * h]);
            self.decoder_head(
                &ws.dec.x,
                &ws.dec.h,
                &ws.enc.out,
                &ws.scratch.out_t,
                &mut ws.scratch.scores,
                b,
                1,
                &mut ws.dec.in_res,
                &mut ws.dec.query,
                &mut ws.dec.weights,
                &mut ws.dec.ctx_cat,
                &mut ws.dec.att_out,
                &mut ws.dec.out_res,
                &mut ws.dec.logp,
            );
            let ok = &allowed[tt * v..(tt + 1) * v];
            for i in 0..b {
                let lp = &ws.dec.logp[i * v..(i + 1) * v];
                let mut best = None::<(usize, F)>;
                for tok in 0..v {
                    if ok[tok] && best.is_none_or(|(_, bv)| lp[tok] > bv) {
                        best = Some((tok, lp[tok]));
                    }
                }
                let tok = best.map_or(0, |(tok, _)| tok);
                out[i * tl + tt] = tok as u32;
                input[i] = tok;
            }
        }
        out
    }

    /// Decoder forward with teacher forcing (SOS, then the sequence shifted by one), started
    /// at the architecture embedding `(h0, c0) = (z, z)`: fills `ws.dec`.
    #[inline(always)]
    pub(super) fn decode_teacher_forced(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        masks: Option<&mut rand_chacha::ChaCha8Rng>,
    ) {
        let (tl, h) = (self.d.t, self.d.h);
        let b = seqs.len();
        let rows = tl * b;

        for (i, sq) in seqs.iter().enumerate() {
            ws.dec.tok[i] = 0;
            for tt in 1..tl {
                ws.dec.tok[tt * b + i] = sq[tt - 1] as usize;
            }
        }
        let demb = &self.p[self.lay.dec_emb.clone()];
        for r in 0..rows {
            let tok = ws.dec.tok[r];
            ws.dec.x[r * h..(r + 1) * h].copy_from_slice(&demb[tok * h..(tok + 1) * h]);
        }
        match masks {
            Some(rng) => {
                fill_mask(&mut ws.dec.mask[..rows * h], self.d.dropout, rng);
                for (x, m) in ws.dec.x[..rows * h].iter_mut().zip(&ws.dec.mask) {
                    *x *= *m;
                }
            }
            None => ws.dec.mask[..rows * h].fill(F::ONE),
        }
        // Initial (h, c) = (z, z).
        let z0 = ws.enc.arch_emb[..b * h].to_vec();
        self.lstm_fwd(
            &self.lay.dec,
            &ws.dec.x[..rows * h],
            b,
            false,
            Some(&z0),
            &mut ws.dec.lstm,
            &mut ws.scratch.bias,
            &mut ws.dec.h,
            h,
            0,
            None,
        );
        self.transpose_outputs(&ws.enc.out, b, &mut ws.scratch.out_t);
        self.decoder_head(
            &ws.dec.x,
            &ws.dec.h,
            &ws.enc.out,
            &ws.scratch.out_t,
            &mut ws.scratch.scores,
            b,
            tl,
            &mut ws.dec.in_res,
            &mut ws.dec.query,
            &mut ws.dec.weights,
            &mut ws.dec.ctx_cat,
            &mut ws.dec.att_out,
            &mut ws.dec.out_res,
            &mut ws.dec.logp,
        );
    }

    /// Decoder backward from the logits' gradient `ws.g.logits` down to the decoder's
    /// embedding: adds the decoder's parameter gradients to `grad`, sets the attention's share
    /// of `ws.g.enc_out` and leaves dL/dh0 and dL/dc0 (the embedding's) in `ws.g.h`, `ws.g.c`.
    #[inline(always)]
    pub(super) fn decoder_bwd(&self, ws: &mut Workspace<F>, b: usize, grad: &mut [F]) {
        let (tl, h, v) = (self.d.t, self.d.h, self.d.v);
        let rows = tl * b;
        let s = F::from_f64(std::f64::consts::FRAC_1_SQRT_2);
        let lay = self.lay;
        // Output projection and the second residual.

        gemm(
            h,
            rows,
            v,
            t(&ws.dec.out_res[..rows * h], h),
            n(&ws.g.logits[..rows * v], v),
            F::ONE,
            &mut grad[lay.out_w.clone()],
            v,
        );
        colsum_add(&ws.g.logits[..rows * v], v, &mut grad[lay.out_b.clone()]);
        gemm(
            rows,
            v,
            h,
            n(&ws.g.logits[..rows * v], v),
            n(&ws.wt[lay.out_w.clone()], h),
            F::ZERO,
            &mut ws.g.out_res[..rows * h],
            h,
        );
        for (((ga, gr1), g2), a) in ws.g.att_pre[..rows * h]
            .iter_mut()
            .zip(ws.g.in_res.iter_mut())
            .zip(&ws.g.out_res)
            .zip(&ws.dec.att_out)
        {
            let gs = *g2 * s;
            *gr1 = gs;
            *ga = gs * (F::ONE - *a * *a);
        }
        gemm(
            2 * h,
            rows,
            h,
            t(&ws.dec.ctx_cat[..rows * 2 * h], 2 * h),
            n(&ws.g.att_pre[..rows * h], h),
            F::ONE,
            &mut grad[lay.att_out_w.clone()],
            h,
        );
        gemm(
            rows,
            h,
            2 * h,
            n(&ws.g.att_pre[..rows * h], h),
            n(&ws.wt[lay.att_out_w.clone()], 2 * h),
            F::ZERO,
            &mut ws.g.ctx_cat[..rows * 2 * h],
            2 * h,
        );
        for row in 0..rows {
            let src = &ws.g.ctx_cat[row * 2 * h + h..(row + 1) * 2 * h];
            for (g, x) in ws.g.in_res[row * h..(row + 1) * h].iter_mut().zip(src) {
                *g += *x;
            }
        }
        self.attention_bwd(ws, b);
        gemm(
            h,
            rows,
            h,
            t(&ws.dec.in_res[..rows * h], h),
            n(&ws.g.query[..rows * h], h),
            F::ONE,
            &mut grad[lay.att_in_w.clone()],
            h,
        );
        gemm(
            rows,
            h,
            h,
            n(&ws.g.query[..rows * h], h),
            n(&ws.wt[lay.att_in_w.clone()], h),
            F::ONE,
            &mut ws.g.in_res[..rows * h],
            h,
        );
        // r1 = (x + h_dec) s: both get s * g_r1; g_x accumulates the LSTM's input gradient.
        for (gx, gr) in ws.g.x[..rows * h].iter_mut().zip(ws.g.in_res.iter_mut()) {
            *gr *= s;
            *gx = *gr;
        }
        self.lstm_bwd(
            &lay.dec,
            grad,
            &ws.wt,
            &ws.dec.x,
            b,
            false,
            &ws.dec.lstm,
            &ws.g.in_res,
            h,
            0,
            &mut ws.g.x,
            LstmGrad {
                gates: &mut ws.g.gates,
                dh: &mut ws.g.h,
                dc: &mut ws.g.c,
            },
            true,
        );
        scatter_embedding_grad(
            &mut grad[lay.dec_emb.clone()],
            &ws.dec.tok[..rows],
            &ws.g.x,
            &ws.dec.mask,
            h,
        );
    }

    /// Attention backward per sample, as small products: from `ws.g.ctx_cat`'s context half to
    /// the encoder outputs (into `ws.g.enc_out`, which it starts) and the queries (`ws.g.query`).
    #[inline(always)]
    pub(super) fn attention_bwd(&self, ws: &mut Workspace<F>, b: usize) {
        let (tl, h) = (self.d.t, self.d.h);
        let rows = tl * b;

        ws.g.enc_out[..rows * h].fill(F::ZERO);
        let tp = tl.next_multiple_of(16);
        for i in 0..b {
            let a = &ws.dec.weights[i * tl * tl..][..tl * tl];
            // dL/dweights = dL/dcontext times the outputs (transposed).
            gemm(
                tl,
                h,
                tp,
                n(&ws.g.ctx_cat[i * 2 * h..], b * 2 * h),
                n(&ws.scratch.out_t[i * h * tp..][..h * tp], tp),
                F::ZERO,
                &mut ws.scratch.scores[..tl * tp],
                tp,
            );
            // Softmax backward into dL/dscores.
            for tq in 0..tl {
                let ar = &a[tq * tl..][..tl];
                let da = &ws.scratch.scores[tq * tp..][..tl];
                let adot = dot(ar, da);
                let ds = &mut ws.scratch.d_scores[tq * tl..][..tl];
                for ((d, &av), &dv) in ds.iter_mut().zip(ar).zip(da) {
                    *d = av * (dv - adot);
                }
            }
            // Outputs get weights^T dL/dcontext and dscores^T queries; queries dscores outputs.
            gemm(
                tl,
                tl,
                h,
                t(a, tl),
                n(&ws.g.ctx_cat[i * 2 * h..], b * 2 * h),
                F::ONE,
                &mut ws.g.enc_out[i * h..],
                b * h,
            );
            gemm(
                tl,
                tl,
                h,
                t(&ws.scratch.d_scores[..tl * tl], tl),
                n(&ws.dec.query[i * h..], b * h),
                F::ONE,
                &mut ws.g.enc_out[i * h..],
                b * h,
            );
            gemm(
                tl,
                tl,
                h,
                n(&ws.scratch.d_scores[..tl * tl], tl),
                n(&ws.enc.out[i * h..], b * h),
                F::ZERO,
                &mut ws.g.query[i * h..],
                b * h,
            );
        }
    }
}
