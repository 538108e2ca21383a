//! A small ensemble of multi-layer perceptrons over one-hot token encodings: the fast
//! predictor of [`crate::search::seminas_ens`].
//!
//! Inputs are categorical: position `p` of a token sequence holds one of the tokens the space
//! allows there, so an architecture is a one-hot vector with exactly one active feature per
//! position. The first layer therefore adds `positions` rows of its weight matrix instead of
//! multiplying a dense vector, which makes scoring the whole of NAS-Bench-201 (15,625 cells)
//! cost a few milliseconds per member.
//!
//! Each member is trained full-batch with Adam on a weighted squared error; members differ by
//! their initial weights only (as in BANANAS's ensembles), so their spread measures how much
//! the data pins a prediction down.

use rand::Rng as _;

use crate::rng::Rng;
use crate::space::TokenEncoding;

/// Maps token sequences to the indices of their active one-hot features.
#[derive(Debug, Clone)]
pub struct OneHot {
    /// `offset[p]`: index of the first feature of position `p`.
    offset: Vec<usize>,
    /// `slot[p][token]`: index of `token` among the tokens allowed at `p` (`usize::MAX` if not).
    slot: Vec<Vec<usize>>,
    /// Number of features.
    dim: usize,
    /// Pairwise interaction features: for each pair of positions `(p, q)`, `p < q`, the
    /// offset of its block of `choices[p] * choices[q]` features; empty when off.
    pairs: Vec<(usize, usize, usize)>,
    /// Number of tokens allowed at each position.
    choices: Vec<usize>,
}

impl OneHot {
    /// The one-hot layout of `encoding`.
    pub fn new(encoding: &TokenEncoding) -> Self {
        let mut offset = Vec::with_capacity(encoding.len());
        let mut slot = Vec::with_capacity(encoding.len());
        let mut dim = 0;
        for allowed in &encoding.allowed {
            offset.push(dim);
            let mut s = vec![usize::MAX; encoding.vocab_size];
            for (i, &t) in allowed.iter().enumerate() {
                s[t as usize] = i;
            }
            slot.push(s);
            dim += allowed.len();
        }
        let choices = encoding.allowed.iter().map(Vec::len).collect();
        Self {
            offset,
            slot,
            dim,
            pairs: Vec::new(),
            choices,
        }
    }

    /// The one-hot layout of `encoding` plus one feature per pair of positions and pair of
    /// choices there (the pairwise interactions of a second-order model), so that a predictor
    /// sees which choices occur together without having to learn it from few samples. Each
    /// sequence then has `n + n (n - 1) / 2` active features for `n` positions.
    pub fn with_pairs(encoding: &TokenEncoding) -> Self {
        let mut s = Self::new(encoding);
        let n = s.choices.len();
        for p in 0..n {
            for q in p + 1..n {
                s.pairs.push((p, q, s.dim));
                s.dim += s.choices[p] * s.choices[q];
            }
        }
        s
    }

    /// Number of features.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of active features per sequence (the sequence length, plus its pairs of
    /// positions with [`Self::with_pairs`]).
    pub fn positions(&self) -> usize {
        self.offset.len() + self.pairs.len()
    }

    /// The active features of `tokens`, one per position (tokens not allowed at a position,
    /// which a space never produces, fall back to the position's first feature).
    pub fn features(&self, tokens: &[u32]) -> Vec<u32> {
        let slots: Vec<usize> = tokens
            .iter()
            .zip(&self.slot)
            .map(|(&t, s)| {
                let i = s.get(t as usize).copied().unwrap_or(usize::MAX);
                if i == usize::MAX { 0 } else { i }
            })
            .collect();
        let mut out: Vec<u32> = slots
            .iter()
            .zip(&self.offset)
            .map(|(&i, &o)| (o + i) as u32)
            .collect();
        for &(p, q, o) in &self.pairs {
            let (a, b) = (slots.get(p), slots.get(q));
            if let (Some(&a), Some(&b)) = (a, b) {
                out.push((o + a * self.choices[q] + b) as u32);
            }
        }
        out
    }
}

/// Settings of the ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    /// Members of the ensemble.
    pub members: usize,
    /// Width of each hidden layer.
    pub hidden: usize,
    /// Hidden layers (1 or 2).
    pub layers: usize,
    /// Full-batch epochs of a fit from scratch.
    pub epochs: usize,
    /// Adam's learning rate.
    pub lr: f32,
    /// L2 penalty on the weights (decoupled, as AdamW).
    pub weight_decay: f32,
    /// Fit each member on its own bootstrap resample of the samples (bagging), so that the
    /// members' spread also reflects how much each sample sways the fit, not only their
    /// initial weights.
    pub bootstrap: bool,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            members: 5,
            hidden: 64,
            layers: 1,
            epochs: 100,
            lr: 0.01,
            weight_decay: 1e-4,
            bootstrap: false,
        }
    }
}

/// Samples whose output sums [`Net::outputs`] computes side by side.
const LANES: usize = 16;
/// Hidden units summed in registers at a time (see [`Net::first_layer`]).
const CHUNK: usize = 16;

/// One network: first layer (sparse input) `dim x h`, then `layers - 1` dense `h x h`, then
/// `h x 1`. Parameters live in one vector so that Adam runs over a single slice.
#[derive(Debug, Clone)]
struct Net {
    dim: usize,
    h: usize,
    layers: usize,
    params: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    step: i32,
}

/// Offsets of each parameter block in [`Net::params`].
struct Layout {
    w1: usize,
    b1: usize,
    /// (weights, bias) of each dense hidden layer after the first.
    dense: Vec<(usize, usize)>,
    wo: usize,
    bo: usize,
    len: usize,
}

impl Net {
    fn layout(dim: usize, h: usize, layers: usize) -> Layout {
        let w1 = 0;
        let b1 = w1 + dim * h;
        let mut at = b1 + h;
        let mut dense = Vec::new();
        for _ in 1..layers {
            dense.push((at, at + h * h));
            at += h * h + h;
        }
        Layout {
            w1,
            b1,
            dense,
            wo: at,
            bo: at + h,
            len: at + h + 1,
        }
    }

    fn new(dim: usize, positions: usize, h: usize, layers: usize, rng: &mut Rng) -> Self {
        let l = Self::layout(dim, h, layers);
        let mut params = vec![0.0f32; l.len];
        // He-style uniform initialisation; the first layer's fan-in is the number of active
        // one-hot features, not the dimension.
        let init = |p: &mut [f32], fan_in: usize, rng: &mut Rng| {
            let a = (6.0 / fan_in.max(1) as f32).sqrt();
            for x in p {
                *x = rng.gen_range(-a..a);
            }
        };
        init(&mut params[l.w1..l.b1], positions, rng);
        for &(w, b) in &l.dense {
            init(&mut params[w..b], h, rng);
        }
        let a = (3.0 / h as f32).sqrt();
        for x in &mut params[l.wo..l.bo] {
            *x = rng.gen_range(-a..a);
        }
        let n = params.len();
        Self {
            dim,
            h,
            layers,
            params,
            m: vec![0.0; n],
            v: vec![0.0; n],
            step: 0,
        }
    }

    /// Forward pass for one sample; `acts` receives every layer's post-ReLU activations
    /// (`layers * h` values). Returns the output.
    fn forward(&self, l: &Layout, feats: &[u32], acts: &mut [f32]) -> f32 {
        let h = self.h;
        let p = &self.params;
        let (first, rest) = acts.split_at_mut(h);
        self.first_layer(l, feats, first);
        let mut prev: &[f32] = first;
        let mut rest = rest;
        for &(w, b) in &l.dense {
            let (cur, tail) = std::mem::take(&mut rest).split_at_mut(h);
            cur.copy_from_slice(&p[b..b + h]);
            for (k, &x) in prev.iter().enumerate() {
                if x != 0.0 {
                    let row = &p[w + k * h..w + (k + 1) * h];
                    for (c, wv) in cur.iter_mut().zip(row) {
                        *c += x * wv;
                    }
                }
            }
            for c in cur.iter_mut() {
                *c = c.max(0.0);
            }
            prev = cur;
            rest = tail;
        }
        let wo = &p[l.wo..l.wo + h];
        p[l.bo] + prev.iter().zip(wo).map(|(a, w)| a * w).sum::<f32>()
    }

    fn predict<F: AsRef<[u32]>>(&self, feats: &[F]) -> Vec<f32> {
        let l = Self::layout(self.dim, self.h, self.layers);
        if l.dense.is_empty() {
            return self.predict_shallow(&l, feats);
        }
        let mut acts = vec![0.0; self.layers * self.h];
        feats
            .iter()
            .map(|f| self.forward(&l, f.as_ref(), &mut acts))
            .collect()
    }

    /// [`Self::predict`] of a net without dense layers.
    fn predict_shallow<F: AsRef<[u32]>>(&self, l: &Layout, feats: &[F]) -> Vec<f32> {
        let mut out = vec![0.0; feats.len()];
        let mut acts = vec![0.0; LANES * self.h];
        let mut prefix = Prefix::default();
        for (block, out) in feats.chunks(LANES).zip(out.chunks_mut(LANES)) {
            for (f, a) in block.iter().zip(acts.chunks_mut(self.h)) {
                prefix.first_layer(self, l, f.as_ref(), a);
            }
            self.outputs(l, &acts, out);
        }
        out
    }

    /// The first layer's post-ReLU activations of one sample (`h` values).
    #[inline(always)]
    fn first_layer(&self, l: &Layout, feats: &[u32], out: &mut [f32]) {
        let h = self.h;
        let p = &self.params;
        out.copy_from_slice(&p[l.b1..l.b1 + h]);
        // In registers a chunk at a time (one pass over `out` per feature was bound by its
        // stores); each value is summed in feature order either way.
        let row = |f: &u32| {
            (
                1.0,
                &p[l.w1 + *f as usize * h..l.w1 + (*f as usize + 1) * h],
            )
        };
        sum_rows(out, feats.iter().map(row));
        for a in out.iter_mut() {
            *a = a.max(0.0);
        }
    }

    /// Outputs of a net without dense layers for up to [`LANES`] samples whose last
    /// activations are `acts` (`h` per sample). Each output is summed in the order
    /// [`Self::forward`] sums it (so the results are the same bits), but the samples' sums
    /// run side by side: one sample's sum is a chain of `h` dependent additions.
    #[inline(always)]
    fn outputs(&self, l: &Layout, acts: &[f32], out: &mut [f32]) {
        let h = self.h;
        let wo = &self.params[l.wo..l.wo + h];
        let n = out.len();
        debug_assert!(n <= LANES && acts.len() == LANES * h);
        let sums = output_sums(&acts[..LANES * h], wo);
        let bo = self.params[l.bo];
        for (o, s) in out.iter_mut().zip(sums) {
            *o = bo + s;
        }
    }

    /// `epochs` full-batch Adam steps on the weighted squared error.
    fn fit(&mut self, feats: &[Vec<u32>], targets: &[f32], weights: &[f32], cfg: &MlpConfig) {
        let l = Self::layout(self.dim, self.h, self.layers);
        if l.dense.is_empty() {
            self.fit_shallow(&l, feats, targets, weights, cfg);
        } else {
            self.fit_per_sample(&l, feats, targets, weights, cfg);
        }
    }

    /// [`Self::fit`] one sample at a time (any number of layers).
    fn fit_per_sample(
        &mut self,
        l: &Layout,
        feats: &[Vec<u32>],
        targets: &[f32],
        weights: &[f32],
        cfg: &MlpConfig,
    ) {
        let h = self.h;
        let layers = self.layers;
        let wsum: f32 = weights.iter().sum::<f32>().max(1e-12);
        let mut grad = vec![0.0f32; self.params.len()];
        let mut acts = vec![0.0f32; layers * h];
        let mut delta = vec![0.0f32; h];
        let mut delta_prev = vec![0.0f32; h];
        for _ in 0..cfg.epochs {
            grad.iter_mut().for_each(|g| *g = 0.0);
            for ((f, &t), &w) in feats.iter().zip(targets).zip(weights) {
                let y = self.forward(l, f, &mut acts);
                let dy = 2.0 * w * (y - t) / wsum;
                grad[l.bo] += dy;
                let last = &acts[(layers - 1) * h..layers * h];
                for k in 0..h {
                    grad[l.wo + k] += dy * last[k];
                    delta[k] = if last[k] > 0.0 {
                        dy * self.params[l.wo + k]
                    } else {
                        0.0
                    };
                }
                // Dense layers, last to first: `delta` is dL/dz of the layer's output.
                for (i, &(w, b)) in l.dense.iter().enumerate().rev() {
                    let input = &acts[i * h..(i + 1) * h];
                    for j in 0..h {
                        grad[b + j] += delta[j];
                    }
                    for k in 0..h {
                        let x = input[k];
                        let row = w + k * h;
                        let mut back = 0.0;
                        for j in 0..h {
                            grad[row + j] += x * delta[j];
                            back += self.params[row + j] * delta[j];
                        }
                        delta_prev[k] = if x > 0.0 { back } else { 0.0 };
                    }
                    std::mem::swap(&mut delta, &mut delta_prev);
                }
                for j in 0..h {
                    grad[l.b1 + j] += delta[j];
                }
                for &ft in f {
                    let row = l.w1 + ft as usize * h;
                    for j in 0..h {
                        grad[row + j] += delta[j];
                    }
                }
            }
            self.adam(&grad, cfg);
        }
    }

    /// [`Self::fit`] of a net without dense layers, the same sums in the same order
    /// (so the same bits), arranged for speed: an epoch's forward passes run first, batched
    /// ([`Self::outputs`]), then every gradient sum over the samples runs in registers a
    /// chunk of hidden units at a time, instead of adding each sample into memory.
    fn fit_shallow(
        &mut self,
        l: &Layout,
        feats: &[Vec<u32>],
        targets: &[f32],
        weights: &[f32],
        cfg: &MlpConfig,
    ) {
        let h = self.h;
        let n = feats.len();
        let wsum: f32 = weights.iter().sum::<f32>().max(1e-12);
        let mut grad = vec![0.0f32; self.params.len()];
        let padded = n.next_multiple_of(LANES);
        let mut acts = vec![0.0f32; padded * h];
        let mut y = vec![0.0f32; padded];
        let mut dy = vec![0.0f32; n];
        let mut delta = vec![0.0f32; n * h];
        // The samples that have each feature, in sample order (a feature's gradient row is
        // the sum of their deltas in that order).
        let mut by_feature: Vec<Vec<u32>> = vec![Vec::new(); self.dim];
        for (i, f) in feats.iter().enumerate() {
            for &ft in f {
                by_feature[ft as usize].push(i as u32);
            }
        }
        for _ in 0..cfg.epochs {
            grad.iter_mut().for_each(|g| *g = 0.0);
            for (i, f) in feats.iter().enumerate() {
                self.first_layer(l, f, &mut acts[i * h..(i + 1) * h]);
            }
            for (a, y) in acts.chunks(LANES * h).zip(y.chunks_mut(LANES)) {
                self.outputs(l, a, y);
            }
            let wo = &self.params[l.wo..l.wo + h];
            for i in 0..n {
                let d = 2.0 * weights[i] * (y[i] - targets[i]) / wsum;
                dy[i] = d;
                grad[l.bo] += d;
                let last = &acts[i * h..(i + 1) * h];
                for ((out, &a), &w) in delta[i * h..(i + 1) * h].iter_mut().zip(last).zip(wo) {
                    // A select rather than a branch, so that the loop is vectorised.
                    let m = d * w;
                    *out = if a > 0.0 { m } else { 0.0 };
                }
            }
            // Output weights: the sum over samples of dy times the activation.
            sum_rows(
                &mut grad[l.wo..l.wo + h],
                (0..n).map(|i| (dy[i], &acts[i * h..(i + 1) * h])),
            );
            // First layer: the bias sums every delta, a feature's row those of its samples.
            sum_rows(
                &mut grad[l.b1..l.b1 + h],
                (0..n).map(|i| (1.0, &delta[i * h..(i + 1) * h])),
            );
            for (f, samples) in by_feature.iter().enumerate() {
                if samples.is_empty() {
                    continue;
                }
                let row = l.w1 + f * h;
                sum_rows(
                    &mut grad[row..row + h],
                    samples
                        .iter()
                        .map(|&i| (1.0, &delta[i as usize * h..(i as usize + 1) * h])),
                );
            }
            self.adam(&grad, cfg);
        }
    }

    #[inline(always)]
    fn adam(&mut self, grad: &[f32], cfg: &MlpConfig) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.step += 1;
        let c1 = 1.0 - B1.powi(self.step);
        let c2 = 1.0 - B2.powi(self.step);
        let decay = 1.0 - cfg.lr * cfg.weight_decay;
        for (((p, &g), m), v) in self
            .params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *p = *p * decay - cfg.lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
    }
}

/// The first layer's partial sums of the previous sample, for [`Net::predict`]: a listed
/// space is scored in its listing order, where consecutive architectures mostly share all but
/// their last choices, and a shared prefix of features has the same partial sum (the sums run
/// in feature order either way), so only the rest is added.
#[derive(Default)]
struct Prefix {
    feats: Vec<u32>,
    /// `sums[p * h..]`: the bias plus the rows of the first `p` features.
    sums: Vec<f32>,
}

impl Prefix {
    #[inline(always)]
    fn first_layer(&mut self, net: &Net, l: &Layout, feats: &[u32], out: &mut [f32]) {
        let h = net.h;
        let p = &net.params;
        if self.sums.len() != (feats.len() + 1) * h {
            self.sums = vec![0.0; (feats.len() + 1) * h];
            self.sums[..h].copy_from_slice(&p[l.b1..l.b1 + h]);
            self.feats.clear();
        }
        let same = self
            .feats
            .iter()
            .zip(feats)
            .take_while(|(a, b)| a == b)
            .count();
        for (i, &f) in feats.iter().enumerate().skip(same) {
            let (done, next) = self.sums.split_at_mut((i + 1) * h);
            let row = &p[l.w1 + f as usize * h..l.w1 + (f as usize + 1) * h];
            for ((n, &a), &w) in next[..h].iter_mut().zip(&done[i * h..]).zip(row) {
                *n = a + w;
            }
        }
        self.feats.clear();
        self.feats.extend_from_slice(feats);
        for (o, &a) in out.iter_mut().zip(&self.sums[feats.len() * h..]) {
            *o = a.max(0.0);
        }
    }
}

/// For each of [`LANES`] samples (rows of `acts`, `wo.len()` values each), the sum over `k`
/// of `acts[c][k] * wo[k]`, added in order of `k` as [`Net::forward`] adds it.
#[inline(always)]
fn output_sums(acts: &[f32], wo: &[f32]) -> [f32; LANES] {
    let h = wo.len();
    assert!(h > 0 && acts.len() == LANES * h);
    let mut sums = [0.0f32; LANES];
    #[cfg(target_arch = "x86_64")]
    let done = output_sums_sse2(acts, wo, &mut sums);
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for (c, s) in sums.iter_mut().enumerate() {
        let row = &acts[c * h..(c + 1) * h];
        for k in done..h {
            let p = row[k] * wo[k];
            // The first product starts the sum (`-0.0 + p == p`, as `Iterator::sum` starts).
            *s = if k == 0 { p } else { *s + p };
        }
    }
    sums
}

/// The sums of [`output_sums`] over the first `h / 4 * 4` positions, with SSE2 (every
/// x86-64 has it): four samples' sums in one vector, four vectors side by side; each 4x4
/// block of products is transposed so that a vector holds one position of four samples. The
/// same products, added in the same order, in each lane. Returns the positions summed.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn output_sums_sse2(acts: &[f32], wo: &[f32], sums: &mut [f32; LANES]) -> usize {
    use std::arch::x86_64::*;
    const GROUPS: usize = LANES / 4;
    let h = wo.len();
    let k4 = h / 4 * 4;
    assert!(acts.len() == LANES * h);
    if k4 == 0 {
        return 0;
    }
    // SAFETY: every load reads `[k0, k0 + 4)` with `k0 + 4 <= k4 <= h`, of `wo` or of row
    // `c < LANES` of `acts` (`acts.len() == LANES * h`, asserted above); the stores write
    // `sums[4 g..4 g + 4]` with `g < GROUPS`.
    unsafe {
        let mut acc = [_mm_setzero_ps(); GROUPS];
        for k0 in (0..k4).step_by(4) {
            let w = _mm_loadu_ps(wo.as_ptr().add(k0));
            for (g, acc) in acc.iter_mut().enumerate() {
                let row =
                    |c: usize| _mm_mul_ps(_mm_loadu_ps(acts.as_ptr().add((4 * g + c) * h + k0)), w);
                let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
                let (t0, t1) = (_mm_unpacklo_ps(r0, r1), _mm_unpacklo_ps(r2, r3));
                let (t2, t3) = (_mm_unpackhi_ps(r0, r1), _mm_unpackhi_ps(r2, r3));
                let c0 = _mm_movelh_ps(t0, t1);
                *acc = if k0 == 0 { c0 } else { _mm_add_ps(*acc, c0) };
                *acc = _mm_add_ps(*acc, _mm_movehl_ps(t1, t0));
                *acc = _mm_add_ps(*acc, _mm_movelh_ps(t2, t3));
                *acc = _mm_add_ps(*acc, _mm_movehl_ps(t3, t2));
            }
        }
        for (g, acc) in acc.iter().enumerate() {
            _mm_storeu_ps(sums.as_mut_ptr().add(4 * g), *acc);
        }
    }
    k4
}

/// `out[j] += scale * row[j]` for each `(scale, row)` in order, a chunk of `out` at a time
/// held in registers; a scale of 1 adds the row itself (`x * 1.0 == x`, the same bits).
#[inline(always)]
fn sum_rows<'a>(out: &mut [f32], rows: impl Iterator<Item = (f32, &'a [f32])> + Clone) {
    let h = out.len();
    let mut j0 = 0;
    while j0 + CHUNK <= h {
        let mut acc: [f32; CHUNK] = out[j0..j0 + CHUNK].try_into().expect("chunk");
        for (s, row) in rows.clone() {
            let row: &[f32; CHUNK] = row[j0..j0 + CHUNK].try_into().expect("chunk");
            for (a, &r) in acc.iter_mut().zip(row) {
                *a += s * r;
            }
        }
        out[j0..j0 + CHUNK].copy_from_slice(&acc);
        j0 += CHUNK;
    }
    for (s, row) in rows {
        for (o, &r) in out[j0..].iter_mut().zip(&row[j0..]) {
            *o += s * r;
        }
    }
}

/// An ensemble of independently initialised MLPs.
#[derive(Debug, Clone)]
pub struct MlpEnsemble {
    config: MlpConfig,
    nets: Vec<Net>,
    /// Draws the bootstrap resamples (only with [`MlpConfig::bootstrap`]).
    resample: Option<Rng>,
}

impl MlpEnsemble {
    /// A fresh ensemble for inputs laid out by `onehot`, initialised from `rng`.
    pub fn new(onehot: &OneHot, config: MlpConfig, rng: &mut Rng) -> Self {
        let nets = (0..config.members.max(1))
            .map(|_| {
                Net::new(
                    onehot.dim(),
                    onehot.positions(),
                    config.hidden.max(1),
                    config.layers.clamp(1, 2),
                    rng,
                )
            })
            .collect();
        // Drawn only when used, so that the default's random stream is unchanged.
        let resample = config
            .bootstrap
            .then(|| <Rng as rand::SeedableRng>::seed_from_u64(rng.r#gen()));
        Self {
            config,
            nets,
            resample,
        }
    }

    /// Number of members.
    pub fn members(&self) -> usize {
        self.nets.len()
    }

    /// Trains every member for the configured epochs on `(feats, targets)` with per-sample
    /// `weights`, continuing from the current weights.
    pub fn fit(&mut self, feats: &[Vec<u32>], targets: &[f32], weights: &[f32]) {
        self.fit_epochs(feats, targets, weights, self.config.epochs);
    }

    /// As [`Self::fit`] for `epochs` epochs.
    pub fn fit_epochs(
        &mut self,
        feats: &[Vec<u32>],
        targets: &[f32],
        weights: &[f32],
        epochs: usize,
    ) {
        let cfg = MlpConfig {
            epochs,
            ..self.config.clone()
        };
        let n = feats.len();
        for net in &mut self.nets {
            match &mut self.resample {
                Some(rng) if n > 0 => {
                    let mut count = vec![0.0f32; n];
                    for _ in 0..n {
                        count[rng.gen_range(0..n)] += 1.0;
                    }
                    let w: Vec<f32> = weights.iter().zip(&count).map(|(w, c)| w * c).collect();
                    net.fit(feats, targets, &w, &cfg);
                }
                _ => net.fit(feats, targets, weights, &cfg),
            }
        }
    }

    /// Every member's prediction: `out[m][i]` for member `m` and sample `i`.
    pub fn predict_members<F: AsRef<[u32]>>(&self, feats: &[F]) -> Vec<Vec<f32>> {
        self.nets.iter().map(|n| n.predict(feats)).collect()
    }
}

/// Mean and (population) standard deviation over members, per sample.
pub fn mean_std(per_member: &[Vec<f32>]) -> Vec<(f32, f32)> {
    let n = per_member.first().map_or(0, Vec::len);
    let k = per_member.len().max(1) as f32;
    (0..n)
        .map(|i| {
            let mean = per_member.iter().map(|m| m[i]).sum::<f32>() / k;
            let var = per_member
                .iter()
                .map(|m| (m[i] - mean) * (m[i] - mean))
                .sum::<f32>()
                / k;
            (mean, var.sqrt())
        })
        .collect()
}

#[cfg(test)]
mod tests;
