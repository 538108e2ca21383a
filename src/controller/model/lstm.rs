//! The LSTM: one cell step (vectorised in blocks of [`LANES`]), a whole direction forward over
//! the sequence, and its backward pass (see docs/controller.md, "Model").

// Index loops mirror the maths of the backward passes more readably than iterator chains.
#![allow(clippy::needless_range_loop)]

use super::super::params::LstmIdx;
use super::super::real::{Real, gemm, n, sigmoid, t, tanh};
use super::{Net, colsum_add};

/// Saved activations of one LSTM direction (time-major, `t * b` rows).
pub(crate) struct LstmBuf<F> {
    /// Activated gates i, f, g, o.
    pub(super) gates: Vec<F>,
    /// tanh of the cell state.
    pub(super) tc: Vec<F>,
    /// Cell state after each step.
    pub(super) c: Vec<F>,
    /// Hidden state entering each step.
    pub(super) hprev: Vec<F>,
    /// Cell state entering each step.
    pub(super) cprev: Vec<F>,
}

impl<F: Real> LstmBuf<F> {
    pub(super) fn new(rows: usize, h: usize) -> Self {
        Self {
            gates: vec![F::ZERO; rows * 4 * h],
            tc: vec![F::ZERO; rows * h],
            c: vec![F::ZERO; rows * h],
            hprev: vec![F::ZERO; rows * h],
            cprev: vec![F::ZERO; rows * h],
        }
    }
}

/// Vector width the elementwise blocks are written for (16 f32 = one AVX-512 register).
const LANES: usize = 16;

/// `L` elements, from `j`, of a slice as a local array: locals cannot alias, so the block
/// functions below vectorise where loops over many slices would need runtime alias checks.
#[inline(always)]
fn lanes<F: Real, const L: usize>(x: &[F], j: usize) -> [F; L] {
    let mut a = [F::ZERO; L];
    a.copy_from_slice(&x[j..j + L]);
    a
}

/// LSTM cell backward for elements `j..j + L` of one row: from the activated gates, the
/// previous cell state, tanh of the cell state and the incoming output gradient, updates the
/// running hidden/cell gradients and writes the pre-activation gate gradients.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn cell_bwd_block<F: Real, const L: usize>(
    j: usize,
    gi: &[F],
    gf: &[F],
    gg: &[F],
    go: &[F],
    cp: &[F],
    tc: &[F],
    dout: &[F],
    dh: &mut [F],
    dc: &mut [F],
    di: &mut [F],
    df: &mut [F],
    dg: &mut [F],
    dog: &mut [F],
) {
    let one = F::ONE;
    let (i, f, g, o) = (
        lanes::<F, L>(gi, j),
        lanes::<F, L>(gf, j),
        lanes::<F, L>(gg, j),
        lanes::<F, L>(go, j),
    );
    let (c0, t, d_out) = (
        lanes::<F, L>(cp, j),
        lanes::<F, L>(tc, j),
        lanes::<F, L>(dout, j),
    );
    let (dh_in, dc_in) = (lanes::<F, L>(dh, j), lanes::<F, L>(dc, j));
    let (mut r_i, mut r_f, mut r_g, mut r_o, mut r_c) = (
        [F::ZERO; L],
        [F::ZERO; L],
        [F::ZERO; L],
        [F::ZERO; L],
        [F::ZERO; L],
    );
    for l in 0..L {
        let dhj = dh_in[l] + d_out[l];
        let dcj = dc_in[l] + dhj * o[l] * (one - t[l] * t[l]);
        r_i[l] = dcj * g[l] * i[l] * (one - i[l]);
        r_f[l] = dcj * c0[l] * f[l] * (one - f[l]);
        r_g[l] = dcj * i[l] * (one - g[l] * g[l]);
        r_o[l] = dhj * t[l] * o[l] * (one - o[l]);
        r_c[l] = dcj * f[l];
    }
    di[j..j + L].copy_from_slice(&r_i);
    df[j..j + L].copy_from_slice(&r_f);
    dg[j..j + L].copy_from_slice(&r_g);
    dog[j..j + L].copy_from_slice(&r_o);
    dc[j..j + L].copy_from_slice(&r_c);
}

/// LSTM cell forward for elements `j..j + L` of one row: activates the gates in place and
/// writes the cell state, its tanh and the hidden state.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn cell_fwd_block<F: Real, const L: usize>(
    j: usize,
    gi: &mut [F],
    gf: &mut [F],
    gg: &mut [F],
    go: &mut [F],
    cp: &[F],
    c: &mut [F],
    tc: &mut [F],
    h: &mut [F],
) {
    let (mut i, mut f, mut g, mut o) = (
        lanes::<F, L>(gi, j),
        lanes::<F, L>(gf, j),
        lanes::<F, L>(gg, j),
        lanes::<F, L>(go, j),
    );
    let c0 = lanes::<F, L>(cp, j);
    let (mut rc, mut rt, mut rh) = ([F::ZERO; L], [F::ZERO; L], [F::ZERO; L]);
    for l in 0..L {
        i[l] = sigmoid(i[l]);
        f[l] = sigmoid(f[l]);
        g[l] = tanh(g[l]);
        o[l] = sigmoid(o[l]);
        rc[l] = f[l] * c0[l] + i[l] * g[l];
        rt[l] = tanh(rc[l]);
        rh[l] = o[l] * rt[l];
    }
    gi[j..j + L].copy_from_slice(&i);
    gf[j..j + L].copy_from_slice(&f);
    gg[j..j + L].copy_from_slice(&g);
    go[j..j + L].copy_from_slice(&o);
    c[j..j + L].copy_from_slice(&rc);
    tc[j..j + L].copy_from_slice(&rt);
    h[j..j + L].copy_from_slice(&rh);
}

/// One LSTM cell step for `b` rows: `gates` holds pre-activations and receives activations.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn cell_fwd<F: Real>(
    gates: &mut [F],
    cprev: &[F],
    c: &mut [F],
    tc: &mut [F],
    hout: &mut [F],
    ld_out: usize,
    off_out: usize,
    b: usize,
    h: usize,
) {
    for i in 0..b {
        let g = &mut gates[i * 4 * h..][..4 * h];
        let (gi, rest) = g.split_at_mut(h);
        let (gf, rest) = rest.split_at_mut(h);
        let (gg, go) = rest.split_at_mut(h);
        let cp = &cprev[i * h..][..h];
        let cr = &mut c[i * h..][..h];
        let tr = &mut tc[i * h..][..h];
        let ho = &mut hout[i * ld_out + off_out..][..h];
        let full = h - h % LANES;
        let mut j = 0;
        while j < full {
            cell_fwd_block::<F, LANES>(j, gi, gf, gg, go, cp, cr, tr, ho);
            j += LANES;
        }
        while j < h {
            cell_fwd_block::<F, 1>(j, gi, gf, gg, go, cp, cr, tr, ho);
            j += 1;
        }
    }
}

impl<F: Real> Net<'_, F> {
    #[inline(always)]
    pub(super) fn combined_bias(&self, idx: &LstmIdx, out: &mut [F]) {
        for ((o, a), b) in out
            .iter_mut()
            .zip(&self.p[idx.b_ih.clone()])
            .zip(&self.p[idx.b_hh.clone()])
        {
            *o = *a + *b;
        }
    }

    /// Runs one LSTM direction over `tl` steps of `b` rows; hidden states go to
    /// `out[row * ld_out + off_out ..]`. `h0`/`c0` default to zero.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn lstm_fwd(
        &self,
        idx: &LstmIdx,
        x: &[F],
        b: usize,
        reverse: bool,
        h0c0: Option<&[F]>,
        st: &mut LstmBuf<F>,
        bias: &mut [F],
        out: &mut [F],
        ld_out: usize,
        off_out: usize,
        table: Option<(&[F], &[usize])>,
    ) {
        let (tl, h) = (self.d.t, self.d.h);
        let (g4, rows) = (4 * h, tl * b);
        let in_dim = h;
        if let Some((tab, toks)) = table {
            self.lstm_fwd_eval(idx, b, reverse, h0c0, st, out, ld_out, off_out, tab, toks);
            return;
        }
        gemm(
            rows,
            in_dim,
            g4,
            n(x, in_dim),
            n(&self.p[idx.w_ih.clone()], g4),
            F::ZERO,
            &mut st.gates[..rows * g4],
            g4,
        );
        self.combined_bias(idx, bias);
        for row in st.gates[..rows * g4].chunks_exact_mut(g4) {
            for (g, bb) in row.iter_mut().zip(bias.iter()) {
                *g += *bb;
            }
        }
        let w_hh = &self.p[idx.w_hh.clone()];
        for step in 0..tl {
            let tt = if reverse { tl - 1 - step } else { step };
            let blk = tt * b * h..(tt + 1) * b * h;
            let have_prev = if step == 0 {
                match h0c0 {
                    Some(s) => {
                        st.hprev[blk.clone()].copy_from_slice(&s[..b * h]);
                        st.cprev[blk.clone()].copy_from_slice(&s[..b * h]);
                        true
                    }
                    None => {
                        st.hprev[blk.clone()].fill(F::ZERO);
                        st.cprev[blk.clone()].fill(F::ZERO);
                        false
                    }
                }
            } else {
                let pt = if reverse { tt + 1 } else { tt - 1 };
                for i in 0..b {
                    let src = (pt * b + i) * ld_out + off_out;
                    st.hprev[(tt * b + i) * h..(tt * b + i + 1) * h]
                        .copy_from_slice(&out[src..src + h]);
                }
                st.cprev[blk.clone()].copy_from_slice(&st.c[pt * b * h..(pt + 1) * b * h]);
                true
            };
            let gblk = tt * b * g4..(tt + 1) * b * g4;
            if have_prev {
                gemm(
                    b,
                    h,
                    g4,
                    n(&st.hprev[blk.clone()], h),
                    n(w_hh, g4),
                    F::ONE,
                    &mut st.gates[gblk.clone()],
                    g4,
                );
            }
            let out_rows = &mut out[tt * b * ld_out..];
            cell_fwd(
                &mut st.gates[gblk],
                &st.cprev[blk.clone()],
                &mut st.c[blk.clone()],
                &mut st.tc[blk],
                out_rows,
                ld_out,
                off_out,
                b,
                h,
            );
        }
    }
}

impl<F: Real> Net<'_, F> {
    /// [`Net::lstm_fwd`] in eval mode, whose input projections are lookups in `tab` (rows of
    /// `embedding x W_ih + biases` per token, `toks` the rows' tokens): the same arithmetic
    /// in the same order (same bits), but nothing is kept for a backward pass, so each step
    /// works in `b`-row buffers that stay in cache: the step's gates (the first `b` rows of
    /// `st.gates`), the previous hidden state read in place from `out`, the cell state
    /// alternating between the first `b` rows of `st.c` and of `st.hprev` (`st.cprev`: the
    /// initial one). The rest of `st` is left as it was.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn lstm_fwd_eval(
        &self,
        idx: &LstmIdx,
        b: usize,
        reverse: bool,
        h0c0: Option<&[F]>,
        st: &mut LstmBuf<F>,
        out: &mut [F],
        ld_out: usize,
        off_out: usize,
        tab: &[F],
        toks: &[usize],
    ) {
        let (tl, h) = (self.d.t, self.d.h);
        let g4 = 4 * h;
        let w_hh = &self.p[idx.w_hh.clone()];
        let gates = &mut st.gates[..b * g4];
        let (c_even, c_odd) = (&mut st.c[..b * h], &mut st.hprev[..b * h]);
        let c0 = &mut st.cprev[..b * h];
        match h0c0 {
            Some(s) => c0.copy_from_slice(&s[..b * h]),
            None => c0.fill(F::ZERO),
        }
        for step in 0..tl {
            let tt = if reverse { tl - 1 - step } else { step };
            for (row, &tok) in gates.chunks_exact_mut(g4).zip(&toks[tt * b..(tt + 1) * b]) {
                row.copy_from_slice(&tab[tok * g4..][..g4]);
            }
            if step == 0 {
                if let Some(s) = h0c0 {
                    gemm(b, h, g4, n(&s[..b * h], h), n(w_hh, g4), F::ONE, gates, g4);
                }
            } else {
                let pt = if reverse { tt + 1 } else { tt - 1 };
                let prev = &out[pt * b * ld_out + off_out..];
                gemm(b, h, g4, n(prev, ld_out), n(w_hh, g4), F::ONE, gates, g4);
            }
            let (cprev, c): (&[F], &mut [F]) = match step {
                0 => (&*c0, &mut *c_even),
                _ if step % 2 == 1 => (&*c_even, &mut *c_odd),
                _ => (&*c_odd, &mut *c_even),
            };
            cell_fwd(
                gates,
                cprev,
                c,
                &mut st.tc[..b * h],
                &mut out[tt * b * ld_out..],
                ld_out,
                off_out,
                b,
                h,
            );
        }
    }
}

/// Gradient scratch of one LSTM backward pass.
pub(super) struct LstmGrad<'a, F> {
    /// Gradient per step of the pre-activation gates (`t * b` rows of `4h`).
    pub(super) gates: &'a mut [F],
    /// Running gradient of the hidden state (`b x h`); holds dL/dh0 at the end.
    pub(super) dh: &'a mut [F],
    /// Running gradient of the cell state (`b x h`); holds dL/dc0 at the end.
    pub(super) dc: &'a mut [F],
}

impl<F: Real> Net<'_, F> {
    /// Backward of [`Net::lstm_fwd`]: `dout` is the gradient of the hidden outputs (same strides
    /// as the forward's `out`); adds input gradients to `dx` (`t * b` rows of `h`) and parameter
    /// gradients to `grad`. `need_h0` asks for dL/dh0 (otherwise the first step's recurrent
    /// product is skipped).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn lstm_bwd(
        &self,
        idx: &LstmIdx,
        grad: &mut [F],
        wt: &[F],
        x: &[F],
        b: usize,
        reverse: bool,
        st: &LstmBuf<F>,
        dout: &[F],
        ld_out: usize,
        off_out: usize,
        dx: &mut [F],
        sc: LstmGrad<'_, F>,
        need_h0: bool,
    ) {
        let (tl, h) = (self.d.t, self.d.h);
        let (g4, rows) = (4 * h, tl * b);
        sc.dh[..b * h].fill(F::ZERO);
        sc.dc[..b * h].fill(F::ZERO);
        for step in (0..tl).rev() {
            let tt = if reverse { tl - 1 - step } else { step };
            for i in 0..b {
                let row = tt * b + i;
                let ga = &st.gates[row * g4..][..g4];
                let (gi, gf, gg, go) = (
                    &ga[..h],
                    &ga[h..2 * h],
                    &ga[2 * h..3 * h],
                    &ga[3 * h..4 * h],
                );
                let cp = &st.cprev[row * h..][..h];
                let tc = &st.tc[row * h..][..h];
                let dorow = &dout[row * ld_out + off_out..][..h];
                let dhr = &mut sc.dh[i * h..][..h];
                let dcr = &mut sc.dc[i * h..][..h];
                let gr = &mut sc.gates[row * g4..][..g4];
                let (di, rest) = gr.split_at_mut(h);
                let (df, rest) = rest.split_at_mut(h);
                let (dg, dog) = rest.split_at_mut(h);
                let full = h - h % LANES;
                let mut j = 0;
                while j < full {
                    cell_bwd_block::<F, LANES>(
                        j, gi, gf, gg, go, cp, tc, dorow, dhr, dcr, di, df, dg, dog,
                    );
                    j += LANES;
                }
                while j < h {
                    cell_bwd_block::<F, 1>(
                        j, gi, gf, gg, go, cp, tc, dorow, dhr, dcr, di, df, dg, dog,
                    );
                    j += 1;
                }
            }
            if step > 0 || need_h0 {
                gemm(
                    b,
                    g4,
                    h,
                    n(&sc.gates[tt * b * g4..(tt + 1) * b * g4], g4),
                    n(&wt[idx.w_hh.clone()], h),
                    F::ZERO,
                    &mut sc.dh[..b * h],
                    h,
                );
            }
        }
        let gates = &sc.gates[..rows * g4];
        gemm(
            h,
            rows,
            g4,
            t(&x[..rows * h], h),
            n(gates, g4),
            F::ONE,
            &mut grad[idx.w_ih.clone()],
            g4,
        );
        gemm(
            h,
            rows,
            g4,
            t(&st.hprev[..rows * h], h),
            n(gates, g4),
            F::ONE,
            &mut grad[idx.w_hh.clone()],
            g4,
        );
        // Both biases get the same gradient: one pass over the gates, added twice.
        let mut colsum = vec![F::ZERO; g4];
        colsum_add(gates, g4, &mut colsum);
        for r in [idx.b_ih.clone(), idx.b_hh.clone()] {
            for (g, c) in grad[r].iter_mut().zip(&colsum) {
                *g += *c;
            }
        }
        gemm(
            rows,
            g4,
            h,
            n(gates, g4),
            n(&wt[idx.w_ih.clone()], h),
            F::ONE,
            &mut dx[..rows * h],
            h,
        );
    }
}
