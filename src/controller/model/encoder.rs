//! The encoder (embedding, bidirectional LSTM, projection with residual, per-token and mean
//! normalisation) and the predictor (MLP with residual, linear head), forward and backward
//! (see docs/controller.md, "Model").

// Index loops mirror the maths of the backward passes more readably than iterator chains.
#![allow(clippy::needless_range_loop)]

use super::super::real::{Real, axpy, dot, gemm, n, t};
use super::lstm::LstmGrad;
use super::workspace::Workspace;
use super::{
    Net, colsum_add, fill_mask, normalize_rows, normalize_rows_bwd, scatter_embedding_grad,
};

impl<F: Real> Net<'_, F> {
    /// Encoder and predictor forward for `seqs` (at most `ws.cap`); dropout masks drawn from
    /// `masks` when training. Fills `ws.enc.out`, `ws.enc.arch_emb`, `ws.pred.value`.
    #[inline(always)]
    pub fn encode_impl(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        masks: Option<&mut rand_chacha::ChaCha8Rng>,
    ) {
        let (tl, h) = (self.d.t, self.d.h);
        let b = seqs.len();
        assert!(b <= ws.cap, "slice larger than the workspace");
        let rows = tl * b;
        for (i, s) in seqs.iter().enumerate() {
            for (tt, &tok) in s.iter().enumerate() {
                ws.enc.tok[tt * b + i] = tok as usize;
            }
        }
        let emb = &self.p[self.lay.enc_emb.clone()];
        for r in 0..rows {
            let tok = ws.enc.tok[r];
            ws.enc.x[r * h..(r + 1) * h].copy_from_slice(&emb[tok * h..(tok + 1) * h]);
        }
        // Eval mode with prepared tables: input projections become lookups.
        let tsz = 4 * h * self.d.v;
        let eval_tables: Option<&[F]> = if masks.is_none() && ws.tables_ready {
            Some(&ws.tables)
        } else {
            None
        };
        let mut masks = masks;
        match masks.as_deref_mut() {
            Some(rng) => {
                fill_mask(&mut ws.enc.mask[..rows * h], self.d.dropout, rng);
                for (x, m) in ws.enc.x[..rows * h].iter_mut().zip(&ws.enc.mask) {
                    *x *= *m;
                }
            }
            None => ws.enc.mask[..rows * h].fill(F::ONE),
        }
        self.lstm_fwd(
            &self.lay.enc_fwd,
            &ws.enc.x[..rows * h],
            b,
            false,
            None,
            &mut ws.enc.fwd,
            &mut ws.scratch.bias,
            &mut ws.enc.hcat,
            2 * h,
            0,
            eval_tables.map(|t| (&t[..tsz], &ws.enc.tok[..rows])),
        );
        self.lstm_fwd(
            &self.lay.enc_bwd,
            &ws.enc.x[..rows * h],
            b,
            true,
            None,
            &mut ws.enc.bwd,
            &mut ws.scratch.bias,
            &mut ws.enc.hcat,
            2 * h,
            h,
            eval_tables.map(|t| (&t[tsz..2 * tsz], &ws.enc.tok[..rows])),
        );
        // Residual: the (dropped-out) embedding is the starting value of the projection.
        ws.enc.out[..rows * h].copy_from_slice(&ws.enc.x[..rows * h]);
        let pb = &self.p[self.lay.enc_proj_b.clone()];
        for row in ws.enc.out[..rows * h].chunks_exact_mut(h) {
            for (x, bb) in row.iter_mut().zip(pb) {
                *x += *bb;
            }
        }
        gemm(
            rows,
            2 * h,
            h,
            n(&ws.enc.hcat[..rows * 2 * h], 2 * h),
            n(&self.p[self.lay.enc_proj_w.clone()], h),
            F::ONE,
            &mut ws.enc.out,
            h,
        );
        normalize_rows(&mut ws.enc.out[..rows * h], h, &mut ws.enc.out_norm);
        self.embed_and_predict(ws, b, masks);
    }

    /// From encoder outputs `ws.enc.out` to `ws.enc.arch_emb` (mean, normalise) and `ws.pred.value`.
    #[inline(always)]
    pub fn embed_and_predict(
        &self,
        ws: &mut Workspace<F>,
        b: usize,
        mut masks: Option<&mut rand_chacha::ChaCha8Rng>,
    ) {
        let (tl, h) = (self.d.t, self.d.h);
        let inv_t = F::from_f64(1.0 / tl as f64);
        ws.enc.mean[..b * h].fill(F::ZERO);
        for tt in 0..tl {
            axpy(
                inv_t,
                &ws.enc.out[tt * b * h..(tt + 1) * b * h],
                &mut ws.enc.mean[..b * h],
            );
        }
        ws.enc.arch_emb[..b * h].copy_from_slice(&ws.enc.mean[..b * h]);
        normalize_rows(&mut ws.enc.arch_emb[..b * h], h, &mut ws.enc.mean_norm);
        // MLP with ReLU and dropout after every layer, residual scaled by sqrt(1/2).
        let widths = &self.d.widths;
        for (l, lin) in self.lay.mlp.iter().enumerate() {
            let (wi, wo) = (widths[l], widths[l + 1]);
            let input: &[F] = if l == 0 {
                &ws.enc.arch_emb[..b * wi]
            } else {
                &ws.pred.act[l - 1][..b * wi]
            };
            let u = &mut ws.pred.pre[l];
            let bias = &self.p[lin.b.clone()];
            for row in u[..b * wo].chunks_exact_mut(wo) {
                row.copy_from_slice(bias);
            }
            gemm(
                b,
                wi,
                wo,
                n(input, wi),
                n(&self.p[lin.w.clone()], wo),
                F::ONE,
                &mut u[..b * wo],
                wo,
            );
            for x in &mut u[..b * wo] {
                if *x < F::ZERO {
                    *x = F::ZERO;
                }
            }
            let mask = &mut ws.pred.mask[l][..b * wo];
            match masks.as_deref_mut() {
                Some(rng) => fill_mask(mask, self.d.dropout, rng),
                None => mask.fill(F::ONE),
            }
            let a = &mut ws.pred.act[l][..b * wo];
            for ((x, uu), mm) in a.iter_mut().zip(u.iter()).zip(mask.iter()) {
                *x = *uu * *mm;
            }
        }
        let s = F::from_f64(std::f64::consts::FRAC_1_SQRT_2);
        let last = ws.pred.act.last().expect("at least one layer");
        let reg_w = &self.p[self.lay.reg_w.clone()];
        let reg_b = self.p[self.lay.reg_b.start];
        for i in 0..b {
            let rr = &mut ws.pred.resid[i * h..(i + 1) * h];
            for j in 0..h {
                rr[j] = (ws.enc.arch_emb[i * h + j] + last[i * h + j]) * s;
            }
            ws.pred.value[i] = dot(rr, reg_w) + reg_b;
        }
    }

    /// Backward of the predictor from `ws.g.value` down to the encoder outputs: adds to `ws.g.enc_out`
    /// (through the embedding) and, when `grad` is given, to the predictor's parameter
    /// gradients. `ws.g.arch_emb` must hold any other gradient of the embedding (zero if none).
    #[inline(always)]
    pub fn predictor_bwd(&self, ws: &mut Workspace<F>, b: usize, mut grad: Option<&mut [F]>) {
        let (tl, h) = (self.d.t, self.d.h);
        let s = F::from_f64(std::f64::consts::FRAC_1_SQRT_2);
        let reg_w = &self.p[self.lay.reg_w.clone()];
        if let Some(g) = grad.as_deref_mut() {
            for i in 0..b {
                let gp = ws.g.value[i];
                axpy(
                    gp,
                    &ws.pred.resid[i * h..(i + 1) * h],
                    &mut g[self.lay.reg_w.clone()],
                );
                g[self.lay.reg_b.start] += gp;
            }
        }
        for i in 0..b {
            let gp = ws.g.value[i] * s;
            for j in 0..h {
                let v = gp * reg_w[j];
                ws.g.arch_emb[i * h + j] += v;
                ws.g.mlp[i * h + j] = v;
            }
        }
        let widths = &self.d.widths;
        for l in (0..self.lay.mlp.len()).rev() {
            let lin = &self.lay.mlp[l];
            let (wi, wo) = (widths[l], widths[l + 1]);
            // g_a (b x wo) -> pre-activation gradient in place.
            {
                let ga = &mut ws.g.mlp[..b * wo];
                let u = &ws.pred.pre[l][..b * wo];
                let mk = &ws.pred.mask[l][..b * wo];
                for ((g, uu), mm) in ga.iter_mut().zip(u).zip(mk) {
                    *g = if *uu > F::ZERO { *g * *mm } else { F::ZERO };
                }
            }
            if let Some(g) = grad.as_deref_mut() {
                let input: &[F] = if l == 0 {
                    &ws.enc.arch_emb[..b * wi]
                } else {
                    &ws.pred.act[l - 1][..b * wi]
                };
                gemm(
                    wi,
                    b,
                    wo,
                    t(input, wi),
                    n(&ws.g.mlp[..b * wo], wo),
                    F::ONE,
                    &mut g[lin.w.clone()],
                    wo,
                );
                colsum_add(&ws.g.mlp[..b * wo], wo, &mut g[lin.b.clone()]);
            }
            gemm(
                b,
                wo,
                wi,
                n(&ws.g.mlp[..b * wo], wo),
                t(&self.p[lin.w.clone()], wo),
                F::ZERO,
                &mut ws.g.mlp_next[..b * wi],
                wi,
            );
            std::mem::swap(&mut ws.g.mlp, &mut ws.g.mlp_next);
        }
        for (gz, ga) in ws.g.arch_emb[..b * h].iter_mut().zip(&ws.g.mlp[..b * h]) {
            *gz += *ga;
        }
        // Through normalise and mean: every token's output gets the same gradient / T.
        ws.g.mean[..b * h].copy_from_slice(&ws.g.arch_emb[..b * h]);
        normalize_rows_bwd(
            &ws.enc.arch_emb[..b * h],
            &ws.enc.mean_norm,
            h,
            &mut ws.g.mean[..b * h],
        );
        let inv_t = F::from_f64(1.0 / tl as f64);
        for tt in 0..tl {
            let blk = &mut ws.g.enc_out[tt * b * h..(tt + 1) * b * h];
            for (g, m) in blk.iter_mut().zip(&ws.g.mean[..b * h]) {
                *g += *m * inv_t;
            }
        }
    }

    /// Gradient of the predicted value with respect to every encoder output, for `b` encoded
    /// samples (eval mode), into `ws.g.enc_out`.
    #[inline(always)]
    pub fn pred_grad_wrt_outputs(&self, ws: &mut Workspace<F>, b: usize) {
        let rows = self.d.t * b;
        let h = self.d.h;
        ws.g.value[..b].fill(F::ONE);
        ws.g.arch_emb[..b * h].fill(F::ZERO);
        ws.g.enc_out[..rows * h].fill(F::ZERO);
        self.predictor_bwd(ws, b, None);
    }

    /// Encoder backward from `ws.g.enc_out` (the attention's and the predictor's shares) down
    /// to the encoder's embedding: adds the encoder's parameter gradients to `grad`.
    #[inline(always)]
    pub(super) fn encoder_bwd(&self, ws: &mut Workspace<F>, b: usize, grad: &mut [F]) {
        let (tl, h) = (self.d.t, self.d.h);
        let rows = tl * b;
        let lay = self.lay;

        normalize_rows_bwd(
            &ws.enc.out[..rows * h],
            &ws.enc.out_norm,
            h,
            &mut ws.g.enc_out[..rows * h],
        );
        gemm(
            2 * h,
            rows,
            h,
            t(&ws.enc.hcat[..rows * 2 * h], 2 * h),
            n(&ws.g.enc_out[..rows * h], h),
            F::ONE,
            &mut grad[lay.enc_proj_w.clone()],
            h,
        );
        colsum_add(
            &ws.g.enc_out[..rows * h],
            h,
            &mut grad[lay.enc_proj_b.clone()],
        );
        gemm(
            rows,
            h,
            2 * h,
            n(&ws.g.enc_out[..rows * h], h),
            n(&ws.wt[lay.enc_proj_w.clone()], 2 * h),
            F::ZERO,
            &mut ws.g.hcat[..rows * 2 * h],
            2 * h,
        );
        ws.g.x[..rows * h].copy_from_slice(&ws.g.enc_out[..rows * h]);
        for (idx, st, off, rev) in [
            (&lay.enc_fwd, &ws.enc.fwd, 0, false),
            (&lay.enc_bwd, &ws.enc.bwd, h, true),
        ] {
            self.lstm_bwd(
                idx,
                grad,
                &ws.wt,
                &ws.enc.x,
                b,
                rev,
                st,
                &ws.g.hcat,
                2 * h,
                off,
                &mut ws.g.x,
                LstmGrad {
                    gates: &mut ws.g.gates,
                    dh: &mut ws.g.h,
                    dc: &mut ws.g.c,
                },
                false,
            );
        }
        scatter_embedding_grad(
            &mut grad[lay.enc_emb.clone()],
            &ws.enc.tok[..rows],
            &ws.g.x,
            &ws.enc.mask,
            h,
        );
    }
}
