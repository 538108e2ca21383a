//! Hand-written forward and backward passes of the encoder, predictor and decoder over one
//! slice of a mini-batch, generic over the float type (f32 in use, f64 in gradient checks).
//!
//! Activations are time-major: row `t * b + i` holds token `t` of sample `i`, so each time
//! step is one contiguous block and the input projections of all steps are one large matrix
//! multiply. Every buffer lives in a [`Workspace`] allocated once per slice.

// Index loops mirror the maths of the backward passes more readably than iterator chains.
#![allow(clippy::needless_range_loop)]

use rand::RngCore;

use super::params::{Layout, LstmIdx};
use super::real::{Real, axpy, dot, gemm, n, sigmoid, t, tanh};

/// torch's `F.normalize` epsilon.
const NORM_EPS: f64 = 1e-12;

/// Sizes the passes need.
#[derive(Debug, Clone)]
pub(crate) struct Dims {
    pub v: usize,
    pub t: usize,
    pub h: usize,
    pub widths: Vec<usize>,
    pub dropout: f64,
    pub trade_off: f64,
}

impl Dims {
    /// The sizes a configuration describes.
    pub fn of(cfg: &crate::controller::config::ControllerConfig) -> Self {
        Self {
            v: cfg.vocab_size,
            t: cfg.length,
            h: cfg.hidden,
            widths: cfg.mlp_widths(),
            dropout: f64::from(cfg.dropout),
            trade_off: f64::from(cfg.trade_off),
        }
    }
}

/// Adds the gradient of embedded inputs (`g_x`, through their dropout `mask`) to the rows of
/// the embedding gradient `ge` that the tokens `toks` looked up.
fn scatter_embedding_grad<F: Real>(ge: &mut [F], toks: &[usize], g_x: &[F], mask: &[F], h: usize) {
    for (r, &tok) in toks.iter().enumerate() {
        let dst = &mut ge[tok * h..(tok + 1) * h];
        for ((d, g), m) in dst
            .iter_mut()
            .zip(&g_x[r * h..(r + 1) * h])
            .zip(&mask[r * h..(r + 1) * h])
        {
            *d += *g * *m;
        }
    }
}

/// The parameters and their layout.
#[derive(Clone, Copy)]
pub(crate) struct Net<'a, F> {
    pub p: &'a [F],
    pub lay: &'a Layout,
    pub d: &'a Dims,
}

/// Saved activations of one LSTM direction (time-major, `t * b` rows).
pub(crate) struct LstmBuf<F> {
    /// Activated gates i, f, g, o.
    gates: Vec<F>,
    /// tanh of the cell state.
    tc: Vec<F>,
    /// Cell state after each step.
    c: Vec<F>,
    /// Hidden state entering each step.
    hprev: Vec<F>,
    /// Cell state entering each step.
    cprev: Vec<F>,
}

impl<F: Real> LstmBuf<F> {
    fn new(rows: usize, h: usize) -> Self {
        Self {
            gates: vec![F::ZERO; rows * 4 * h],
            tc: vec![F::ZERO; rows * h],
            c: vec![F::ZERO; rows * h],
            hprev: vec![F::ZERO; rows * h],
            cprev: vec![F::ZERO; rows * h],
        }
    }
}

/// All activations and gradient scratch for a slice of up to `cap` samples.
pub(crate) struct Workspace<F> {
    cap: usize,
    // encoder
    enc_tok: Vec<usize>,
    emb_mask: Vec<F>,
    x0: Vec<F>,
    lf: LstmBuf<F>,
    lb: LstmBuf<F>,
    hcat: Vec<F>,
    /// Encoder outputs (normalised per token).
    pub o: Vec<F>,
    onorm: Vec<F>,
    m: Vec<F>,
    mnorm: Vec<F>,
    /// Architecture embeddings.
    pub z: Vec<F>,
    mlp_u: Vec<Vec<F>>,
    mlp_mask: Vec<Vec<F>>,
    mlp_a: Vec<Vec<F>>,
    r: Vec<F>,
    /// Predicted values.
    pub pred: Vec<F>,
    // decoder
    dec_tok: Vec<usize>,
    dmask: Vec<F>,
    dx: Vec<F>,
    ld: LstmBuf<F>,
    dh: Vec<F>,
    r1: Vec<F>,
    q: Vec<F>,
    attn: Vec<F>,
    comb: Vec<F>,
    att: Vec<F>,
    r2: Vec<F>,
    logp: Vec<F>,
    // gradients
    g_logits: Vec<F>,
    g_r2: Vec<F>,
    g_att: Vec<F>,
    g_comb: Vec<F>,
    g_r1: Vec<F>,
    g_q: Vec<F>,
    /// Gradient with respect to the encoder outputs.
    pub g_o: Vec<F>,
    g_x: Vec<F>,
    g_gates: Vec<F>,
    g_h: Vec<F>,
    g_c: Vec<F>,
    g_hcat: Vec<F>,
    g_z: Vec<F>,
    g_m: Vec<F>,
    g_a: Vec<F>,
    g_a2: Vec<F>,
    g_pred: Vec<F>,
    /// Per-sample transposed encoder outputs (`h x T` padded to 16 columns).
    ot: Vec<F>,
    /// Scores or their gradient for one sample (`T x T` padded).
    sbuf: Vec<F>,
    /// Score gradients of one sample (`T x T`).
    dscore: Vec<F>,
    bias: Vec<F>,
    /// Parameter gradient (empty when the workspace is for inference).
    pub grad: Vec<F>,
    /// Eval-mode lookup tables `embedding x W_ih + biases` (`vocab x 4h`) of the encoder's
    /// forward and backward LSTMs and of the decoder's, valid when `tables_ready`.
    tables: Vec<F>,
    tables_ready: bool,
    /// Every weight matrix transposed (same offsets as the parameters), so that products with
    /// a transposed weight read contiguous rows.
    wt: Vec<F>,
}

impl<F: Real> Workspace<F> {
    /// Buffers for slices of up to `cap` samples; `n_params > 0` adds a gradient vector.
    pub fn new(d: &Dims, cap: usize, n_params: usize) -> Self {
        let (tl, h, v) = (d.t, d.h, d.v);
        let rows = tl * cap;
        let z = |k: usize| vec![F::ZERO; k];
        let maxw = *d.widths.iter().max().unwrap_or(&h);
        Self {
            cap,
            enc_tok: vec![0; rows],
            emb_mask: z(rows * h),
            x0: z(rows * h),
            lf: LstmBuf::new(rows, h),
            lb: LstmBuf::new(rows, h),
            hcat: z(rows * 2 * h),
            o: z(rows * h),
            onorm: z(rows),
            m: z(cap * h),
            mnorm: z(cap),
            z: z(cap * h),
            mlp_u: d.widths[1..].iter().map(|&w| z(cap * w)).collect(),
            mlp_mask: d.widths[1..].iter().map(|&w| z(cap * w)).collect(),
            mlp_a: d.widths[1..].iter().map(|&w| z(cap * w)).collect(),
            r: z(cap * h),
            pred: z(cap),
            dec_tok: vec![0; rows],
            dmask: z(rows * h),
            dx: z(rows * h),
            ld: LstmBuf::new(rows, h),
            dh: z(rows * h),
            r1: z(rows * h),
            q: z(rows * h),
            attn: z(cap * tl * tl),
            comb: z(rows * 2 * h),
            att: z(rows * h),
            r2: z(rows * h),
            logp: z(rows * v),
            g_logits: z(rows * v),
            g_r2: z(rows * h),
            g_att: z(rows * h),
            g_comb: z(rows * 2 * h),
            g_r1: z(rows * h),
            g_q: z(rows * h),
            g_o: z(rows * h),
            g_x: z(rows * h),
            g_gates: z(rows * 4 * h),
            g_h: z(cap * h),
            g_c: z(cap * h),
            g_hcat: z(rows * 2 * h),
            g_z: z(cap * h),
            g_m: z(cap * h),
            g_a: z(cap * maxw),
            g_a2: z(cap * maxw),
            g_pred: z(cap),
            ot: z(cap * h * tl.next_multiple_of(16)),
            sbuf: z(tl * tl.next_multiple_of(16)),
            dscore: z(tl * tl),
            bias: z(4 * h),
            grad: z(n_params),
            wt: z(n_params),
            tables: z(3 * v * 4 * h),
            tables_ready: false,
        }
    }
}

/// Fills `mask` with inverted-dropout factors: 0 with probability `p`, else `1 / (1 - p)`.
#[inline(always)]
fn fill_mask<F: Real>(mask: &mut [F], p: f64, rng: &mut rand_chacha::ChaCha8Rng) {
    if p <= 0.0 {
        mask.fill(F::ONE);
        return;
    }
    let keep = F::from_f64(1.0 / (1.0 - p));
    // Compare a 32-bit draw with p * 2^32: one draw per element, generated in blocks.
    let thresh = (p * 4_294_967_296.0) as u64;
    let mut bytes = [0u8; 1024];
    for chunk in mask.chunks_mut(256) {
        rng.fill_bytes(&mut bytes[..4 * chunk.len()]);
        for (m, u) in chunk.iter_mut().zip(bytes.chunks_exact(4)) {
            let u = u32::from_le_bytes([u[0], u[1], u[2], u[3]]);
            *m = if u64::from(u) < thresh { F::ZERO } else { keep };
        }
    }
}

/// Adds the column sums of a `rows x cols` matrix to `out`.
#[inline(always)]
fn colsum_add<F: Real>(mat: &[F], cols: usize, out: &mut [F]) {
    for row in mat.chunks_exact(cols) {
        for (o, x) in out.iter_mut().zip(row) {
            *o += *x;
        }
    }
}

/// Normalises each `h`-row of `x` in place (torch `F.normalize`), storing the norms.
#[inline(always)]
fn normalize_rows<F: Real>(x: &mut [F], h: usize, norms: &mut [F]) {
    let eps = F::from_f64(NORM_EPS);
    for (row, nr) in x.chunks_exact_mut(h).zip(norms.iter_mut()) {
        let mut s = dot(row, row).sqrt();
        if s < eps {
            s = eps;
        }
        *nr = s;
        let inv = F::ONE / s;
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

/// Backward of [`normalize_rows`]: `g <- (g - y (y . g)) / norm` for outputs `y`.
#[inline(always)]
fn normalize_rows_bwd<F: Real>(y: &[F], norms: &[F], h: usize, g: &mut [F]) {
    let eps = F::from_f64(NORM_EPS);
    for ((yr, gr), &nr) in y.chunks_exact(h).zip(g.chunks_exact_mut(h)).zip(norms) {
        let inv = F::ONE / nr;
        if nr > eps {
            let yg = dot(yr, gr);
            for (gv, &yv) in gr.iter_mut().zip(yr) {
                *gv = (*gv - yv * yg) * inv;
            }
        } else {
            for gv in gr.iter_mut() {
                *gv *= inv;
            }
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
fn cell_fwd<F: Real>(
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
            self.combined_bias(idx, &mut ws.bias);
            for row in tab.chunks_exact_mut(g4) {
                row.copy_from_slice(&ws.bias);
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
    fn transpose_weights(&self, wt: &mut [F]) {
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

    #[inline(always)]
    fn combined_bias(&self, idx: &LstmIdx, out: &mut [F]) {
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
    fn lstm_fwd(
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
            // Eval mode: the input is a plain embedding row, so its projection is a lookup.
            for (row, &tok) in st.gates[..rows * g4].chunks_exact_mut(g4).zip(toks) {
                row.copy_from_slice(&tab[tok * g4..][..g4]);
            }
        } else {
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

/// Gradient scratch of one LSTM backward pass.
struct LstmGrad<'a, F> {
    /// Gradient per step of the pre-activation gates (`t * b` rows of `4h`).
    gates: &'a mut [F],
    /// Running gradient of the hidden state (`b x h`); holds dL/dh0 at the end.
    dh: &'a mut [F],
    /// Running gradient of the cell state (`b x h`); holds dL/dc0 at the end.
    dc: &'a mut [F],
}

impl<F: Real> Net<'_, F> {
    /// Backward of [`Net::lstm_fwd`]: `dout` is the gradient of the hidden outputs (same strides
    /// as the forward's `out`); adds input gradients to `dx` (`t * b` rows of `h`) and parameter
    /// gradients to `grad`. `need_h0` asks for dL/dh0 (otherwise the first step's recurrent
    /// product is skipped).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn lstm_bwd(
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

    /// Encoder and predictor forward for `seqs` (at most `ws.cap`); dropout masks drawn from
    /// `masks` when training. Fills `ws.o`, `ws.z`, `ws.pred`.
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
                ws.enc_tok[tt * b + i] = tok as usize;
            }
        }
        let emb = &self.p[self.lay.enc_emb.clone()];
        for r in 0..rows {
            let tok = ws.enc_tok[r];
            ws.x0[r * h..(r + 1) * h].copy_from_slice(&emb[tok * h..(tok + 1) * h]);
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
                fill_mask(&mut ws.emb_mask[..rows * h], self.d.dropout, rng);
                for (x, m) in ws.x0[..rows * h].iter_mut().zip(&ws.emb_mask) {
                    *x *= *m;
                }
            }
            None => ws.emb_mask[..rows * h].fill(F::ONE),
        }
        self.lstm_fwd(
            &self.lay.enc_fwd,
            &ws.x0[..rows * h],
            b,
            false,
            None,
            &mut ws.lf,
            &mut ws.bias,
            &mut ws.hcat,
            2 * h,
            0,
            eval_tables.map(|t| (&t[..tsz], &ws.enc_tok[..rows])),
        );
        self.lstm_fwd(
            &self.lay.enc_bwd,
            &ws.x0[..rows * h],
            b,
            true,
            None,
            &mut ws.lb,
            &mut ws.bias,
            &mut ws.hcat,
            2 * h,
            h,
            eval_tables.map(|t| (&t[tsz..2 * tsz], &ws.enc_tok[..rows])),
        );
        // Residual: the (dropped-out) embedding is the starting value of the projection.
        ws.o[..rows * h].copy_from_slice(&ws.x0[..rows * h]);
        let pb = &self.p[self.lay.enc_proj_b.clone()];
        for row in ws.o[..rows * h].chunks_exact_mut(h) {
            for (x, bb) in row.iter_mut().zip(pb) {
                *x += *bb;
            }
        }
        gemm(
            rows,
            2 * h,
            h,
            n(&ws.hcat[..rows * 2 * h], 2 * h),
            n(&self.p[self.lay.enc_proj_w.clone()], h),
            F::ONE,
            &mut ws.o,
            h,
        );
        normalize_rows(&mut ws.o[..rows * h], h, &mut ws.onorm);
        self.embed_and_predict(ws, b, masks);
    }

    /// From encoder outputs `ws.o` to `ws.z` (mean, normalise) and `ws.pred`.
    #[inline(always)]
    pub fn embed_and_predict(
        &self,
        ws: &mut Workspace<F>,
        b: usize,
        mut masks: Option<&mut rand_chacha::ChaCha8Rng>,
    ) {
        let (tl, h) = (self.d.t, self.d.h);
        let inv_t = F::from_f64(1.0 / tl as f64);
        ws.m[..b * h].fill(F::ZERO);
        for tt in 0..tl {
            axpy(
                inv_t,
                &ws.o[tt * b * h..(tt + 1) * b * h],
                &mut ws.m[..b * h],
            );
        }
        ws.z[..b * h].copy_from_slice(&ws.m[..b * h]);
        normalize_rows(&mut ws.z[..b * h], h, &mut ws.mnorm);
        // MLP with ReLU and dropout after every layer, residual scaled by sqrt(1/2).
        let widths = &self.d.widths;
        for (l, lin) in self.lay.mlp.iter().enumerate() {
            let (wi, wo) = (widths[l], widths[l + 1]);
            let input: &[F] = if l == 0 {
                &ws.z[..b * wi]
            } else {
                &ws.mlp_a[l - 1][..b * wi]
            };
            let u = &mut ws.mlp_u[l];
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
            let mask = &mut ws.mlp_mask[l][..b * wo];
            match masks.as_deref_mut() {
                Some(rng) => fill_mask(mask, self.d.dropout, rng),
                None => mask.fill(F::ONE),
            }
            let a = &mut ws.mlp_a[l][..b * wo];
            for ((x, uu), mm) in a.iter_mut().zip(u.iter()).zip(mask.iter()) {
                *x = *uu * *mm;
            }
        }
        let s = F::from_f64(std::f64::consts::FRAC_1_SQRT_2);
        let last = ws.mlp_a.last().expect("at least one layer");
        let reg_w = &self.p[self.lay.reg_w.clone()];
        let reg_b = self.p[self.lay.reg_b.start];
        for i in 0..b {
            let rr = &mut ws.r[i * h..(i + 1) * h];
            for j in 0..h {
                rr[j] = (ws.z[i * h + j] + last[i * h + j]) * s;
            }
            ws.pred[i] = dot(rr, reg_w) + reg_b;
        }
    }

    /// Backward of the predictor from `ws.g_pred` down to the encoder outputs: adds to `ws.g_o`
    /// (through the embedding) and, when `grad` is given, to the predictor's parameter
    /// gradients. `ws.g_z` must hold any other gradient of the embedding (zero if none).
    #[inline(always)]
    pub fn predictor_bwd(&self, ws: &mut Workspace<F>, b: usize, mut grad: Option<&mut [F]>) {
        let (tl, h) = (self.d.t, self.d.h);
        let s = F::from_f64(std::f64::consts::FRAC_1_SQRT_2);
        let reg_w = &self.p[self.lay.reg_w.clone()];
        if let Some(g) = grad.as_deref_mut() {
            for i in 0..b {
                let gp = ws.g_pred[i];
                axpy(
                    gp,
                    &ws.r[i * h..(i + 1) * h],
                    &mut g[self.lay.reg_w.clone()],
                );
                g[self.lay.reg_b.start] += gp;
            }
        }
        for i in 0..b {
            let gp = ws.g_pred[i] * s;
            for j in 0..h {
                let v = gp * reg_w[j];
                ws.g_z[i * h + j] += v;
                ws.g_a[i * h + j] = v;
            }
        }
        let widths = &self.d.widths;
        for l in (0..self.lay.mlp.len()).rev() {
            let lin = &self.lay.mlp[l];
            let (wi, wo) = (widths[l], widths[l + 1]);
            // g_a (b x wo) -> pre-activation gradient in place.
            {
                let ga = &mut ws.g_a[..b * wo];
                let u = &ws.mlp_u[l][..b * wo];
                let mk = &ws.mlp_mask[l][..b * wo];
                for ((g, uu), mm) in ga.iter_mut().zip(u).zip(mk) {
                    *g = if *uu > F::ZERO { *g * *mm } else { F::ZERO };
                }
            }
            if let Some(g) = grad.as_deref_mut() {
                let input: &[F] = if l == 0 {
                    &ws.z[..b * wi]
                } else {
                    &ws.mlp_a[l - 1][..b * wi]
                };
                gemm(
                    wi,
                    b,
                    wo,
                    t(input, wi),
                    n(&ws.g_a[..b * wo], wo),
                    F::ONE,
                    &mut g[lin.w.clone()],
                    wo,
                );
                colsum_add(&ws.g_a[..b * wo], wo, &mut g[lin.b.clone()]);
            }
            gemm(
                b,
                wo,
                wi,
                n(&ws.g_a[..b * wo], wo),
                t(&self.p[lin.w.clone()], wo),
                F::ZERO,
                &mut ws.g_a2[..b * wi],
                wi,
            );
            std::mem::swap(&mut ws.g_a, &mut ws.g_a2);
        }
        for (gz, ga) in ws.g_z[..b * h].iter_mut().zip(&ws.g_a[..b * h]) {
            *gz += *ga;
        }
        // Through normalise and mean: every token's output gets the same gradient / T.
        ws.g_m[..b * h].copy_from_slice(&ws.g_z[..b * h]);
        normalize_rows_bwd(&ws.z[..b * h], &ws.mnorm, h, &mut ws.g_m[..b * h]);
        let inv_t = F::from_f64(1.0 / tl as f64);
        for tt in 0..tl {
            let blk = &mut ws.g_o[tt * b * h..(tt + 1) * b * h];
            for (g, m) in blk.iter_mut().zip(&ws.g_m[..b * h]) {
                *g += *m * inv_t;
            }
        }
    }

    /// Dot-product attention of the queries `q` (rows `t * b + i`, `nq` steps) over the encoder
    /// outputs `o` (`self.d.t` steps): writes the weights to `attn` (`b x nq x T`) and the mixes
    /// to `comb[row * 2h ..][..h]`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn attention_fwd(
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
    fn transpose_outputs(&self, o: &[F], b: usize, ot: &mut [F]) {
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
    fn decoder_head(
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

    /// Full training forward and backward on one slice. `targets` are the normalised values;
    /// the losses are means over `total_b` samples (the whole mini-batch), so slice gradients
    /// add up to the batch gradient. Adds the gradient to `ws.grad` and returns the slice's
    /// (sum of squared errors, sum of token NLLs).
    #[inline(always)]
    fn loss_and_grad_impl(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        targets: &[F],
        total_b: usize,
        masks: Option<&mut rand_chacha::ChaCha8Rng>,
        backward: bool,
    ) -> (f64, f64) {
        let (tl, h, v) = (self.d.t, self.d.h, self.d.v);
        let b = seqs.len();
        let rows = tl * b;
        let s = F::from_f64(std::f64::consts::FRAC_1_SQRT_2);
        let mut masks = masks;
        if backward {
            self.transpose_weights(&mut ws.wt);
        }
        self.encode_impl(ws, seqs, masks.as_deref_mut());

        // ---- decoder forward (teacher forcing: SOS, then the sequence shifted by one)
        for (i, sq) in seqs.iter().enumerate() {
            ws.dec_tok[i] = 0;
            for tt in 1..tl {
                ws.dec_tok[tt * b + i] = sq[tt - 1] as usize;
            }
        }
        let demb = &self.p[self.lay.dec_emb.clone()];
        for r in 0..rows {
            let tok = ws.dec_tok[r];
            ws.dx[r * h..(r + 1) * h].copy_from_slice(&demb[tok * h..(tok + 1) * h]);
        }
        match masks {
            Some(rng) => {
                fill_mask(&mut ws.dmask[..rows * h], self.d.dropout, rng);
                for (x, m) in ws.dx[..rows * h].iter_mut().zip(&ws.dmask) {
                    *x *= *m;
                }
            }
            None => ws.dmask[..rows * h].fill(F::ONE),
        }
        // Initial (h, c) = (z, z).
        let z0 = ws.z[..b * h].to_vec();
        self.lstm_fwd(
            &self.lay.dec,
            &ws.dx[..rows * h],
            b,
            false,
            Some(&z0),
            &mut ws.ld,
            &mut ws.bias,
            &mut ws.dh,
            h,
            0,
            None,
        );
        self.transpose_outputs(&ws.o, b, &mut ws.ot);
        self.decoder_head(
            &ws.dx,
            &ws.dh,
            &ws.o,
            &ws.ot,
            &mut ws.sbuf,
            b,
            tl,
            &mut ws.r1,
            &mut ws.q,
            &mut ws.attn,
            &mut ws.comb,
            &mut ws.att,
            &mut ws.r2,
            &mut ws.logp,
        );

        // ---- losses
        let c_mse = F::from_f64(self.d.trade_off / total_b as f64);
        let c_nll = F::from_f64((1.0 - self.d.trade_off) / (total_b * tl) as f64);
        let mut sse = 0.0;
        for i in 0..b {
            let e = ws.pred[i] - targets[i];
            sse += e.to_f64() * e.to_f64();
            ws.g_pred[i] = c_mse * (e + e);
        }
        let mut nll = 0.0;
        if !backward {
            for (i, sq) in seqs.iter().enumerate() {
                for (tt, &tok) in sq.iter().enumerate() {
                    nll -= ws.logp[(tt * b + i) * v + tok as usize].to_f64();
                }
            }
            return (sse, nll);
        }
        for (i, sq) in seqs.iter().enumerate() {
            for (tt, &tok) in sq.iter().enumerate() {
                let row = tt * b + i;
                let lp = &ws.logp[row * v..(row + 1) * v];
                nll -= lp[tok as usize].to_f64();
                let g = &mut ws.g_logits[row * v..(row + 1) * v];
                for (gv, &l) in g.iter_mut().zip(lp) {
                    *gv = c_nll * l.exp();
                }
                g[tok as usize] -= c_nll;
            }
        }

        let mut gradv = std::mem::take(&mut ws.grad);
        let grad = &mut gradv[..];
        let lay = self.lay;
        // ---- decoder backward
        gemm(
            h,
            rows,
            v,
            t(&ws.r2[..rows * h], h),
            n(&ws.g_logits[..rows * v], v),
            F::ONE,
            &mut grad[lay.out_w.clone()],
            v,
        );
        colsum_add(&ws.g_logits[..rows * v], v, &mut grad[lay.out_b.clone()]);
        gemm(
            rows,
            v,
            h,
            n(&ws.g_logits[..rows * v], v),
            n(&ws.wt[lay.out_w.clone()], h),
            F::ZERO,
            &mut ws.g_r2[..rows * h],
            h,
        );
        for (((ga, gr1), g2), a) in ws.g_att[..rows * h]
            .iter_mut()
            .zip(ws.g_r1.iter_mut())
            .zip(&ws.g_r2)
            .zip(&ws.att)
        {
            let gs = *g2 * s;
            *gr1 = gs;
            *ga = gs * (F::ONE - *a * *a);
        }
        gemm(
            2 * h,
            rows,
            h,
            t(&ws.comb[..rows * 2 * h], 2 * h),
            n(&ws.g_att[..rows * h], h),
            F::ONE,
            &mut grad[lay.att_out_w.clone()],
            h,
        );
        gemm(
            rows,
            h,
            2 * h,
            n(&ws.g_att[..rows * h], h),
            n(&ws.wt[lay.att_out_w.clone()], 2 * h),
            F::ZERO,
            &mut ws.g_comb[..rows * 2 * h],
            2 * h,
        );
        for row in 0..rows {
            let src = &ws.g_comb[row * 2 * h + h..(row + 1) * 2 * h];
            for (g, x) in ws.g_r1[row * h..(row + 1) * h].iter_mut().zip(src) {
                *g += *x;
            }
        }
        // attention backward per sample, as small products; g_o starts with this share.
        ws.g_o[..rows * h].fill(F::ZERO);
        let tp = tl.next_multiple_of(16);
        for i in 0..b {
            let a = &ws.attn[i * tl * tl..][..tl * tl];
            // dL/dweights = dL/dcontext times the outputs (transposed).
            gemm(
                tl,
                h,
                tp,
                n(&ws.g_comb[i * 2 * h..], b * 2 * h),
                n(&ws.ot[i * h * tp..][..h * tp], tp),
                F::ZERO,
                &mut ws.sbuf[..tl * tp],
                tp,
            );
            // Softmax backward into dL/dscores.
            for tq in 0..tl {
                let ar = &a[tq * tl..][..tl];
                let da = &ws.sbuf[tq * tp..][..tl];
                let adot = dot(ar, da);
                let ds = &mut ws.dscore[tq * tl..][..tl];
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
                n(&ws.g_comb[i * 2 * h..], b * 2 * h),
                F::ONE,
                &mut ws.g_o[i * h..],
                b * h,
            );
            gemm(
                tl,
                tl,
                h,
                t(&ws.dscore[..tl * tl], tl),
                n(&ws.q[i * h..], b * h),
                F::ONE,
                &mut ws.g_o[i * h..],
                b * h,
            );
            gemm(
                tl,
                tl,
                h,
                n(&ws.dscore[..tl * tl], tl),
                n(&ws.o[i * h..], b * h),
                F::ZERO,
                &mut ws.g_q[i * h..],
                b * h,
            );
        }
        gemm(
            h,
            rows,
            h,
            t(&ws.r1[..rows * h], h),
            n(&ws.g_q[..rows * h], h),
            F::ONE,
            &mut grad[lay.att_in_w.clone()],
            h,
        );
        gemm(
            rows,
            h,
            h,
            n(&ws.g_q[..rows * h], h),
            n(&ws.wt[lay.att_in_w.clone()], h),
            F::ONE,
            &mut ws.g_r1[..rows * h],
            h,
        );
        // r1 = (x + h_dec) s: both get s * g_r1; g_x accumulates the LSTM's input gradient.
        for (gx, gr) in ws.g_x[..rows * h].iter_mut().zip(ws.g_r1.iter_mut()) {
            *gr *= s;
            *gx = *gr;
        }
        self.lstm_bwd(
            &lay.dec,
            grad,
            &ws.wt,
            &ws.dx,
            b,
            false,
            &ws.ld,
            &ws.g_r1,
            h,
            0,
            &mut ws.g_x,
            LstmGrad {
                gates: &mut ws.g_gates,
                dh: &mut ws.g_h,
                dc: &mut ws.g_c,
            },
            true,
        );
        scatter_embedding_grad(
            &mut grad[lay.dec_emb.clone()],
            &ws.dec_tok[..rows],
            &ws.g_x,
            &ws.dmask,
            h,
        );
        // ---- predictor backward: the decoder's initial state gave dL/dh0 + dL/dc0 to z
        for ((gz, gh), gc) in ws.g_z[..b * h].iter_mut().zip(&ws.g_h).zip(&ws.g_c) {
            *gz = *gh + *gc;
        }
        self.predictor_bwd(ws, b, Some(grad));
        // ---- encoder backward
        normalize_rows_bwd(&ws.o[..rows * h], &ws.onorm, h, &mut ws.g_o[..rows * h]);
        gemm(
            2 * h,
            rows,
            h,
            t(&ws.hcat[..rows * 2 * h], 2 * h),
            n(&ws.g_o[..rows * h], h),
            F::ONE,
            &mut grad[lay.enc_proj_w.clone()],
            h,
        );
        colsum_add(&ws.g_o[..rows * h], h, &mut grad[lay.enc_proj_b.clone()]);
        gemm(
            rows,
            h,
            2 * h,
            n(&ws.g_o[..rows * h], h),
            n(&ws.wt[lay.enc_proj_w.clone()], 2 * h),
            F::ZERO,
            &mut ws.g_hcat[..rows * 2 * h],
            2 * h,
        );
        ws.g_x[..rows * h].copy_from_slice(&ws.g_o[..rows * h]);
        for (idx, st, off, rev) in [
            (&lay.enc_fwd, &ws.lf, 0, false),
            (&lay.enc_bwd, &ws.lb, h, true),
        ] {
            self.lstm_bwd(
                idx,
                grad,
                &ws.wt,
                &ws.x0,
                b,
                rev,
                st,
                &ws.g_hcat,
                2 * h,
                off,
                &mut ws.g_x,
                LstmGrad {
                    gates: &mut ws.g_gates,
                    dh: &mut ws.g_h,
                    dc: &mut ws.g_c,
                },
                false,
            );
        }
        scatter_embedding_grad(
            &mut grad[lay.enc_emb.clone()],
            &ws.enc_tok[..rows],
            &ws.g_x,
            &ws.emb_mask,
            h,
        );
        ws.grad = gradv;
        (sse, nll)
    }
}

impl<F: Real> Net<'_, F> {
    /// Gradient of the predicted value with respect to every encoder output, for `b` encoded
    /// samples (eval mode), into `ws.g_o`.
    #[inline(always)]
    pub fn pred_grad_wrt_outputs(&self, ws: &mut Workspace<F>, b: usize) {
        let rows = self.d.t * b;
        let h = self.d.h;
        ws.g_pred[..b].fill(F::ONE);
        ws.g_z[..b * h].fill(F::ZERO);
        ws.g_o[..rows * h].fill(F::ZERO);
        self.predictor_bwd(ws, b, None);
    }

    /// The NAO step for `seqs` (eval mode): encoder outputs moved by `lambda` times the
    /// predictor's gradient and renormalised; the new embedding's prediction; then greedy
    /// decoding where position `t` may only take tokens with `allowed[t * vocab + token]`.
    /// Returns the new sequences (flattened, `b x T`) and predictions in `ws.pred`.
    #[inline(always)]
    fn generate_impl(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        lambda: F,
        allowed: &[bool],
    ) -> Vec<u32> {
        let (tl, h, v) = (self.d.t, self.d.h, self.d.v);
        let b = seqs.len();
        let rows = tl * b;
        self.encode_impl(ws, seqs, None);
        self.pred_grad_wrt_outputs(ws, b);
        axpy(lambda, &ws.g_o[..rows * h], &mut ws.o[..rows * h]);
        normalize_rows(&mut ws.o[..rows * h], h, &mut ws.onorm);
        self.embed_and_predict(ws, b, None);

        let g4 = 4 * h;
        let mut hprev = ws.z[..b * h].to_vec();
        let mut cprev = ws.z[..b * h].to_vec();
        let mut cnext = vec![F::ZERO; b * h];
        let mut input = vec![0usize; b];
        let mut out = vec![0u32; b * tl];
        self.combined_bias(&self.lay.dec, &mut ws.bias);
        let demb = &self.p[self.lay.dec_emb.clone()];
        for tt in 0..tl {
            for (i, &tok) in input.iter().enumerate() {
                ws.dx[i * h..(i + 1) * h].copy_from_slice(&demb[tok * h..(tok + 1) * h]);
            }
            let gates = &mut ws.ld.gates[..b * g4];
            if ws.tables_ready {
                let tab = &ws.tables[2 * v * g4..3 * v * g4];
                for (row, &tok) in gates.chunks_exact_mut(g4).zip(&input) {
                    row.copy_from_slice(&tab[tok * g4..][..g4]);
                }
            } else {
                for row in gates.chunks_exact_mut(g4) {
                    row.copy_from_slice(&ws.bias);
                }
                gemm(
                    b,
                    h,
                    g4,
                    n(&ws.dx[..b * h], h),
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
                &mut ws.ld.tc[..b * h],
                &mut ws.dh[..b * h],
                h,
                0,
                b,
                h,
            );
            std::mem::swap(&mut cprev, &mut cnext);
            hprev.copy_from_slice(&ws.dh[..b * h]);
            self.decoder_head(
                &ws.dx,
                &ws.dh,
                &ws.o,
                &ws.ot,
                &mut ws.sbuf,
                b,
                1,
                &mut ws.r1,
                &mut ws.q,
                &mut ws.attn,
                &mut ws.comb,
                &mut ws.att,
                &mut ws.r2,
                &mut ws.logp,
            );
            let ok = &allowed[tt * v..(tt + 1) * v];
            for i in 0..b {
                let lp = &ws.logp[i * v..(i + 1) * v];
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::config::ControllerConfig;
    use crate::rng::rng_for;
    use rand::Rng as _;
    use rand::SeedableRng;

    fn small() -> (ControllerConfig, Layout, Dims) {
        let cfg = ControllerConfig {
            vocab_size: 5,
            length: 4,
            hidden: 18, // one full 16-lane block and a remainder in every dot product
            mlp_hidden: 5,
            mlp_layers: 3,
            dropout: 0.3,
            ..ControllerConfig::default()
        };
        let lay = Layout::new(&cfg);
        let d = dims_of(&cfg);
        (cfg, lay, d)
    }

    pub(crate) fn dims_of(cfg: &ControllerConfig) -> Dims {
        Dims::of(cfg)
    }

    fn data(rng: &mut crate::rng::Rng, b: usize, t: usize, v: usize) -> (Vec<Vec<u32>>, Vec<f64>) {
        let seqs = (0..b)
            .map(|_| (0..t).map(|_| rng.gen_range(1..v as u32)).collect())
            .collect();
        let targets = (0..b).map(|_| rng.gen_range(-1.5..1.5)).collect();
        (seqs, targets)
    }

    /// Loss in f64 with dropout masks from a fixed seed, so every evaluation sees the same masks.
    fn loss(
        p: &[f64],
        lay: &Layout,
        d: &Dims,
        ws: &mut Workspace<f64>,
        seqs: &[&[u32]],
        y: &[f64],
        grad: bool,
    ) -> f64 {
        let net = Net { p, lay, d };
        ws.grad.fill(0.0);
        let mut masks = rand_chacha::ChaCha8Rng::seed_from_u64(99);
        let b = seqs.len();
        let total_b = b + 2; // slices are scaled by the whole batch size
        let (sse, nll) = net.loss_and_grad(ws, seqs, y, total_b, Some(&mut masks));
        let _ = grad;
        d.trade_off * sse / total_b as f64 + (1.0 - d.trade_off) * nll / (total_b * d.t) as f64
    }

    #[test]
    fn every_parameter_gradient_matches_finite_differences() {
        let (cfg, lay, d) = small();
        let mut rng = rng_for(5, "gradcheck");
        let p: Vec<f64> = lay.init(&mut rng).iter().map(|&x| f64::from(x)).collect();
        let (seqs, y) = data(&mut rng, 3, cfg.length, cfg.vocab_size);
        let seqs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
        let mut ws = Workspace::<f64>::new(&d, 3, lay.total);
        loss(&p, &lay, &d, &mut ws, &seqs, &y, true);
        let analytic = ws.grad.clone();
        let mut checked = 0;
        for tensor in &lay.tensors {
            let len = tensor.range.len();
            // Every element of small tensors, 40 random elements of large ones.
            let picks: Vec<usize> = if len <= 120 {
                tensor.range.clone().collect()
            } else {
                (0..40)
                    .map(|_| tensor.range.start + rng.gen_range(0..len))
                    .collect()
            };
            let mut worst = 0.0f64;
            let mut nonzero = false;
            for k in picks {
                let eps = 1e-6;
                let mut pp = p.clone();
                pp[k] = p[k] + eps;
                let lp = loss(&pp, &lay, &d, &mut ws, &seqs, &y, false);
                pp[k] = p[k] - eps;
                let lm = loss(&pp, &lay, &d, &mut ws, &seqs, &y, false);
                let numeric = (lp - lm) / (2.0 * eps);
                let a = analytic[k];
                nonzero |= a.abs() > 1e-9;
                let err = (a - numeric).abs() / (1e-7 + a.abs().max(numeric.abs()));
                worst = worst.max(if (a - numeric).abs() < 1e-9 { 0.0 } else { err });
                checked += 1;
            }
            assert!(
                worst < 1e-4,
                "{}: worst relative error {worst:e}",
                tensor.name
            );
            assert!(nonzero, "{}: gradient is identically zero", tensor.name);
        }
        assert!(checked > 500);
    }

    #[test]
    fn f32_path_matches_f64_path() {
        // The f32 passes (AVX-512 kernel, fast exp, vectorised variants) against the f64 ones,
        // at the paper's sizes.
        let cfg = ControllerConfig::default();
        let lay = Layout::new(&cfg);
        let d = dims_of(&cfg);
        let mut rng = rng_for(8, "f32check");
        let p32 = lay.init(&mut rng);
        let p64: Vec<f64> = p32.iter().map(|&x| f64::from(x)).collect();
        let (seqs, y) = data(&mut rng, 37, cfg.length, cfg.vocab_size);
        let seqs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
        let y32: Vec<f32> = y.iter().map(|&v| v as f32).collect();
        let mut ws32 = Workspace::<f32>::new(&d, 37, lay.total);
        let mut ws64 = Workspace::<f64>::new(&d, 37, lay.total);
        let mut m1 = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut m2 = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let l32 = Net {
            p: &p32,
            lay: &lay,
            d: &d,
        }
        .loss_and_grad(&mut ws32, &seqs, &y32, 37, Some(&mut m1));
        let l64 = Net {
            p: &p64,
            lay: &lay,
            d: &d,
        }
        .loss_and_grad(&mut ws64, &seqs, &y, 37, Some(&mut m2));
        assert!(
            (l32.0 - l64.0).abs() < 1e-4 * l64.0.abs().max(1.0),
            "{l32:?} {l64:?}"
        );
        assert!(
            (l32.1 - l64.1).abs() < 1e-4 * l64.1.abs().max(1.0),
            "{l32:?} {l64:?}"
        );
        for ten in &lay.tensors {
            let r = ten.range.clone();
            let norm = ws64.grad[r.clone()]
                .iter()
                .map(|g| g * g)
                .sum::<f64>()
                .sqrt();
            let diff = ws32.grad[r.clone()]
                .iter()
                .zip(&ws64.grad[r])
                .map(|(a, b)| (f64::from(*a) - b).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                diff <= 1e-3 * norm + 1e-7,
                "{}: |diff| {diff:e}, |grad| {norm:e}",
                ten.name
            );
        }
        let allowed = vec![true; cfg.length * cfg.vocab_size];
        let g32 = Net {
            p: &p32,
            lay: &lay,
            d: &d,
        }
        .generate(&mut ws32, &seqs, 1.0, &allowed);
        let pr32 = ws32.pred[..37].to_vec();
        let g64 = Net {
            p: &p64,
            lay: &lay,
            d: &d,
        }
        .generate(&mut ws64, &seqs, 1.0, &allowed);
        for (a, b) in pr32.iter().zip(&ws64.pred[..37]) {
            assert!((f64::from(*a) - b).abs() < 1e-4, "{a} vs {b}");
        }
        let same = g32.iter().zip(&g64).filter(|(a, b)| a == b).count();
        assert!(
            same * 100 >= 99 * g32.len(),
            "decoded tokens differ: {same}/{}",
            g32.len()
        );
    }

    #[test]
    fn eval_tables_change_nothing_but_rounding() {
        let (cfg, lay, d) = small();
        let mut rng = rng_for(9, "tables");
        let p: Vec<f64> = lay.init(&mut rng).iter().map(|&x| f64::from(x)).collect();
        let (seqs, _) = data(&mut rng, 5, cfg.length, cfg.vocab_size);
        let seqs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
        let net = Net {
            p: &p,
            lay: &lay,
            d: &d,
        };
        let allowed = vec![true; cfg.length * cfg.vocab_size];
        let mut plain = Workspace::<f64>::new(&d, 5, 0);
        let mut tabled = Workspace::<f64>::new(&d, 5, 0);
        net.prepare_eval(&mut tabled);
        net.encode(&mut plain, &seqs, None);
        net.encode(&mut tabled, &seqs, None);
        for (a, b) in plain.pred[..5].iter().zip(&tabled.pred[..5]) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        let g1 = net.generate(&mut plain, &seqs, 0.7, &allowed);
        let g2 = net.generate(&mut tabled, &seqs, 0.7, &allowed);
        assert_eq!(g1, g2);
        for (a, b) in plain.pred[..5].iter().zip(&tabled.pred[..5]) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn gradient_wrt_encoder_outputs_matches_finite_differences() {
        let (cfg, lay, d) = small();
        let mut rng = rng_for(6, "gradcheck");
        let p: Vec<f64> = lay.init(&mut rng).iter().map(|&x| f64::from(x)).collect();
        let (seqs, _) = data(&mut rng, 3, cfg.length, cfg.vocab_size);
        let seqs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
        let net = Net {
            p: &p,
            lay: &lay,
            d: &d,
        };
        let mut ws = Workspace::<f64>::new(&d, 3, 0);
        let b = seqs.len();
        net.encode(&mut ws, &seqs, None);
        net.pred_grad_wrt_outputs(&mut ws, b);
        let analytic = ws.g_o[..d.t * b * d.h].to_vec();
        let o0 = ws.o[..d.t * b * d.h].to_vec();
        let total = |ws: &mut Workspace<f64>| -> f64 {
            net.embed_and_predict(ws, b, None);
            ws.pred[..b].iter().sum()
        };
        for k in 0..o0.len() {
            let eps = 1e-6;
            ws.o[..o0.len()].copy_from_slice(&o0);
            ws.o[k] += eps;
            let lp = total(&mut ws);
            ws.o[k] -= 2.0 * eps;
            let lm = total(&mut ws);
            let numeric = (lp - lm) / (2.0 * eps);
            let a = analytic[k];
            assert!(
                (a - numeric).abs() <= 1e-7 + 1e-5 * a.abs().max(numeric.abs()),
                "output {k}: analytic {a} numeric {numeric}"
            );
        }
        assert!(analytic.iter().any(|g| g.abs() > 1e-6));
    }
}

/// Instruction sets the hot passes are compiled for, chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Base,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

fn isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        if avx2 && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") {
            return Isa::Avx512;
        }
        if avx2 {
            return Isa::Avx2;
        }
    }
    Isa::Base
}

/// Runs `$body` (an expression over the pass's arguments) compiled for the best instruction
/// set the CPU has: the whole pass is inlined into a function with the target features, so
/// its elementwise loops use wide vectors. Rust never contracts `a * b + c` into FMA and the
/// reductions have a fixed order, so every variant computes bit-identical results.
macro_rules! dispatch {
    ($net:ident, ($($arg:ident : $ty:ty),*) -> $ret:ty, $body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
        unsafe fn avx512<F: Real>($net: &Net<'_, F>, $($arg: $ty),*) -> $ret {
            $body
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<F: Real>($net: &Net<'_, F>, $($arg: $ty),*) -> $ret {
            $body
        }
        match isa() {
            // SAFETY: the CPU has the features (checked by `isa`).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512($net, $($arg),*) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2($net, $($arg),*) },
            Isa::Base => $body,
        }
    }};
}

impl<F: Real> Net<'_, F> {
    /// Full training forward and backward on one slice. `targets` are the normalised values;
    /// the losses are means over `total_b` samples (the whole mini-batch), so slice gradients
    /// add up to the batch gradient. Adds the gradient to `ws.grad` and returns the slice's
    /// (sum of squared errors, sum of token NLLs).
    pub fn loss_and_grad(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        targets: &[F],
        total_b: usize,
        masks: Option<&mut rand_chacha::ChaCha8Rng>,
    ) -> (f64, f64) {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, seqs: &[&[u32]], targets: &[F], total_b: usize,
            masks: Option<&mut rand_chacha::ChaCha8Rng>) -> (f64, f64),
            net.loss_and_grad_impl(ws, seqs, targets, total_b, masks, true))
    }

    /// Eval-mode (no dropout) forward of the training loss on one slice, without gradients:
    /// the slice's (sum of squared errors, sum of token NLLs).
    pub fn eval_loss(&self, ws: &mut Workspace<F>, seqs: &[&[u32]], targets: &[F]) -> (f64, f64) {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, seqs: &[&[u32]], targets: &[F]) -> (f64, f64),
            net.loss_and_grad_impl(ws, seqs, targets, seqs.len().max(1), None, false))
    }

    /// Encoder and predictor forward (see [`Net::encode_impl`]), vectorised for the CPU.
    pub fn encode(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        masks: Option<&mut rand_chacha::ChaCha8Rng>,
    ) {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, seqs: &[&[u32]],
            masks: Option<&mut rand_chacha::ChaCha8Rng>) -> (),
            net.encode_impl(ws, seqs, masks))
    }

    /// The NAO step (see [`Net::generate_impl`]), vectorised for the CPU.
    pub fn generate(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        lambda: F,
        allowed: &[bool],
    ) -> Vec<u32> {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, seqs: &[&[u32]], lambda: F, allowed: &[bool])
            -> Vec<u32>, net.generate_impl(ws, seqs, lambda, allowed))
    }
}
