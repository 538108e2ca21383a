//! Hand-written forward and backward passes of the encoder, predictor and decoder over one
//! slice of a mini-batch, generic over the float type (f32 in use, f64 in gradient checks).
//!
//! Activations are time-major: row `t * b + i` holds token `t` of sample `i`, so each time
//! step is one contiguous block and the input projections of all steps are one large matrix
//! multiply. Every buffer lives in a [`Workspace`] allocated once per slice.
//!
//! One file per part of the network: [`lstm`] (cell, forward, backward), [`encoder`] (encoder
//! and predictor), [`decoder`] (decoder and attention), [`train`] (one training step: the
//! losses and the order of the backward passes), [`workspace`] (the buffers, grouped by part)
//! and [`isa`] (the public entry points, compiled per instruction set).

use rand::RngCore;

use super::params::Layout;
use super::real::{Real, dot};

mod decoder;
mod encoder;
mod isa;
mod lstm;
#[cfg(test)]
mod tests;
mod train;
mod workspace;

pub(crate) use workspace::Workspace;

/// torch's `F.normalize` epsilon.
const NORM_EPS: f64 = 1e-12;

/// Sizes the passes need.
#[derive(Debug, Clone, PartialEq)]
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
