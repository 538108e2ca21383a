//! A Gaussian process over categorical token sequences: a predictor with calibrated
//! uncertainty from a handful of evaluated architectures.
//!
//! The kernel is the exponentiated Hamming kernel with one relevance per position (ARD):
//! `k(a, b) = s² · Π_p w_p^[a_p ≠ b_p]`, `w_p = exp(-θ_p)`, plus observation noise `σ²` on the
//! diagonal. Far from every evaluated architecture the prediction returns to the prior (mean
//! 0, spread `s`), which is what lets a search tell an unexplored basin from one it has seen:
//! an MLP ensemble extrapolates its additive trends with confidence instead. The
//! hyperparameters (`θ`, `s²`, `σ²`) maximise the log marginal likelihood (Adam on their
//! logarithms, warm-started from the previous fit, so that refitting every round is cheap).
//!
//! Arithmetic is `f64` in a fixed order, with no matrix kernel that depends on the CPU: the
//! same data give the same predictions on every machine.

/// Bounds of the logarithms of the hyperparameters (keep a fit on 10 points sane).
const LOG_THETA: (f64, f64) = (-6.9, 4.6); // 0.001 .. 100
const LOG_SIGNAL: (f64, f64) = (-4.6, 2.3); // 0.01 .. 10 (targets are standardised)
const LOG_ADDITIVE: (f64, f64) = (-9.2, 2.3); // 1e-4 .. 10
const LOG_NOISE: (f64, f64) = (-13.8, 0.0); // 1e-6 .. 1

/// Candidates predicted together (one vector register of `f64` on AVX-512).
const LANES: usize = 8;

/// A Gaussian process with the ARD exponentiated Hamming kernel; see the module docs.
#[derive(Debug, Clone)]
pub struct HammingGp {
    positions: usize,
    /// `[log θ_0 .. log θ_{P-1}, log v_0 .. log v_{P-1}, log s², log σ²]`.
    params: Vec<f64>,
    adam_m: Vec<f64>,
    adam_v: Vec<f64>,
    adam_t: i32,
    /// Adam's step size on the log hyperparameters.
    pub lr: f64,
    x: Vec<Vec<u32>>,
    /// Lower Cholesky factor of `K + σ² I`, row-major `n × n`.
    chol: Vec<f64>,
    /// `(K + σ² I)⁻¹ y`.
    alpha: Vec<f64>,
}

impl HammingGp {
    /// An unfitted process over sequences of `positions` tokens (features as
    /// [`super::mlp::OneHot::features`] gives them; only the first `positions` are used).
    pub fn new(positions: usize) -> Self {
        let p = positions.max(1);
        let mut params = vec![(3.0 / p as f64).ln(); p];
        params.extend(vec![(0.5 / p as f64).ln(); p]);
        params.push(0.5f64.ln());
        params.push(0.01f64.ln());
        let k = params.len();
        Self {
            positions: p,
            params,
            adam_m: vec![0.0; k],
            adam_v: vec![0.0; k],
            adam_t: 0,
            lr: 0.05,
            x: Vec::new(),
            chol: Vec::new(),
            alpha: Vec::new(),
        }
    }

    /// Per-position relevances `θ_p`.
    pub fn relevances(&self) -> Vec<f64> {
        self.params[..self.positions]
            .iter()
            .map(|l| l.exp())
            .collect()
    }

    /// Variance of the interaction (product) part `s²` and noise variance `σ²`.
    pub fn variances(&self) -> (f64, f64) {
        (
            self.params[2 * self.positions].exp(),
            self.params[2 * self.positions + 1].exp(),
        )
    }

    /// Per-position variances `v_p` of the additive part.
    pub fn additive(&self) -> Vec<f64> {
        self.params[self.positions..2 * self.positions]
            .iter()
            .map(|l| l.exp())
            .collect()
    }

    /// Prior variance of the latent objective at any architecture.
    fn prior_variance(&self) -> f64 {
        self.variances().0 + self.additive().iter().sum::<f64>()
    }

    fn weights(&self) -> Vec<f64> {
        self.params[..self.positions]
            .iter()
            .map(|l| (-l.exp()).exp())
            .collect()
    }

    /// `Π_p w_p^[a_p ≠ b_p]`: the kernel without its signal variance.
    #[inline]
    fn corr(w: &[f64], a: &[u32], b: &[u32]) -> f64 {
        let mut k = 1.0;
        for ((wp, x), y) in w.iter().zip(a).zip(b) {
            if x != y {
                k *= wp;
            }
        }
        k
    }

    /// `Σ_p v_p [a_p = b_p]`: the additive part of the kernel.
    #[inline]
    fn shared(v: &[f64], a: &[u32], b: &[u32]) -> f64 {
        let mut k = 0.0;
        for ((vp, x), y) in v.iter().zip(a).zip(b) {
            if x == y {
                k += vp;
            }
        }
        k
    }

    /// The correlation matrix of the product part of `x` (unit diagonal).
    fn corr_matrix(&self, x: &[Vec<u32>]) -> Vec<f64> {
        let n = x.len();
        let w = self.weights();
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            c[i * n + i] = 1.0;
            for j in 0..i {
                let k = Self::corr(&w, &x[i], &x[j]);
                c[i * n + j] = k;
                c[j * n + i] = k;
            }
        }
        c
    }

    /// The covariance matrix of `x` without noise, given its product-part correlations.
    fn cov_matrix(&self, x: &[Vec<u32>], corr: &[f64]) -> Vec<f64> {
        let n = x.len();
        let (s2, _) = self.variances();
        let v = self.additive();
        let mut k = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let c = s2 * corr[i * n + j] + Self::shared(&v, &x[i], &x[j]);
                k[i * n + j] = c;
                k[j * n + i] = c;
            }
        }
        k
    }

    /// Fits `steps` Adam steps of the hyperparameters on `(x, y)` (from the previous fit's),
    /// then conditions on the data. `y` should be standardised: the prior mean is 0.
    pub fn fit(&mut self, x: &[Vec<u32>], y: &[f64], steps: usize) {
        let x: Vec<Vec<u32>> = x
            .iter()
            .map(|f| f[..self.positions.min(f.len())].to_vec())
            .collect();
        for _ in 0..steps {
            if let Some((_, grad)) = self.lml_and_grad(&x, y) {
                self.adam_ascent(&grad);
            } else {
                break;
            }
        }
        self.condition(x, y);
    }

    /// Conditions on `(x, y)` with the current hyperparameters.
    fn condition(&mut self, x: Vec<Vec<u32>>, y: &[f64]) {
        let n = x.len();
        let (_, noise) = self.variances();
        let k = self.cov_matrix(&x, &self.corr_matrix(&x));
        let mut jitter = noise;
        let chol = loop {
            let mut a = k.clone();
            for i in 0..n {
                a[i * n + i] += jitter;
            }
            if cholesky(&mut a, n) {
                break a;
            }
            jitter = (jitter * 10.0).max(1e-8);
        };
        self.alpha = chol_solve(&chol, n, y);
        self.chol = chol;
        self.x = x;
    }

    /// The log marginal likelihood of `(x, y)` and its gradient with respect to the log
    /// hyperparameters; `None` when the covariance is not positive definite.
    pub fn lml_and_grad(&self, x: &[Vec<u32>], y: &[f64]) -> Option<(f64, Vec<f64>)> {
        let n = x.len();
        let p = self.positions;
        let (s2, noise) = self.variances();
        let theta = self.relevances();
        let v = self.additive();
        let c = self.corr_matrix(x);
        let mut l = self.cov_matrix(x, &c);
        for i in 0..n {
            l[i * n + i] += noise;
        }
        if !cholesky(&mut l, n) {
            return None;
        }
        let alpha = chol_solve(&l, n, y);
        let kinv = chol_inverse(&l, n);
        let mut lml = -0.5 * y.iter().zip(&alpha).map(|(a, b)| a * b).sum::<f64>();
        for i in 0..n {
            lml -= l[i * n + i].ln();
        }
        lml -= 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
        // dL/dφ = ½ tr(W ∂K/∂φ), W = ααᵀ - K⁻¹ (symmetric: off-diagonal pairs twice).
        // Layout as `params`: θ (p), v (p), s², σ².
        let mut grad = vec![0.0; 2 * p + 2];
        let mut trace_w = 0.0;
        for i in 0..n {
            let wii = alpha[i] * alpha[i] - kinv[i * n + i];
            trace_w += wii;
            grad[2 * p] += 0.5 * wii * s2;
            for q in 0..p {
                grad[p + q] += 0.5 * wii * v[q];
            }
            for j in 0..i {
                let wij = alpha[i] * alpha[j] - kinv[i * n + j];
                let kf = s2 * c[i * n + j];
                grad[2 * p] += wij * kf;
                for q in 0..p {
                    if x[i][q] != x[j][q] {
                        grad[q] -= wij * kf * theta[q];
                    } else {
                        grad[p + q] += wij * v[q];
                    }
                }
            }
        }
        grad[2 * p + 1] = 0.5 * noise * trace_w;
        Some((lml, grad))
    }

    fn adam_ascent(&mut self, grad: &[f64]) {
        const B1: f64 = 0.9;
        const B2: f64 = 0.999;
        self.adam_t += 1;
        let (c1, c2) = (1.0 - B1.powi(self.adam_t), 1.0 - B2.powi(self.adam_t));
        let p = self.positions;
        for (k, g) in grad.iter().enumerate() {
            self.adam_m[k] = B1 * self.adam_m[k] + (1.0 - B1) * g;
            self.adam_v[k] = B2 * self.adam_v[k] + (1.0 - B2) * g * g;
            let step = self.lr * (self.adam_m[k] / c1) / ((self.adam_v[k] / c2).sqrt() + 1e-8);
            let (lo, hi) = if k < p {
                LOG_THETA
            } else if k < 2 * p {
                LOG_ADDITIVE
            } else if k == 2 * p {
                LOG_SIGNAL
            } else {
                LOG_NOISE
            };
            self.params[k] = (self.params[k] + step).clamp(lo, hi);
        }
    }

    /// Posterior mean and standard deviation of the latent objective at each candidate.
    pub fn predict<F: AsRef<[u32]>>(&self, cands: &[F]) -> Vec<(f64, f64)> {
        let n = self.x.len();
        let (s2, _) = self.variances();
        let prior = self.prior_variance();
        if n == 0 {
            return vec![(0.0, prior.sqrt()); cands.len()];
        }
        let w = self.weights();
        let v_add = self.additive();
        let mut out = Vec::with_capacity(cands.len());
        // `v[i][c]`: (L⁻¹ k*)_i of candidate c of the chunk; candidates side by side so that
        // the forward substitution is the same arithmetic on every lane.
        let mut v = vec![[0.0f64; LANES]; n];
        for chunk in cands.chunks(LANES) {
            for (i, xi) in self.x.iter().enumerate() {
                for (c, cand) in chunk.iter().enumerate() {
                    let cand = cand.as_ref();
                    v[i][c] = s2 * Self::corr(&w, xi, cand) + Self::shared(&v_add, xi, cand);
                }
            }
            let mut mean = [0.0f64; LANES];
            for (a, vi) in self.alpha.iter().zip(&v) {
                for c in 0..LANES {
                    mean[c] += a * vi[c];
                }
            }
            let mut reduction = [0.0f64; LANES];
            for i in 0..n {
                let row = &self.chol[i * n..i * n + i];
                let mut acc = v[i];
                for (j, lij) in row.iter().enumerate() {
                    for c in 0..LANES {
                        acc[c] -= lij * v[j][c];
                    }
                }
                let d = self.chol[i * n + i];
                for c in 0..LANES {
                    acc[c] /= d;
                    reduction[c] += acc[c] * acc[c];
                }
                v[i] = acc;
            }
            for c in 0..chunk.len() {
                let var = (prior - reduction[c]).max(1e-12);
                out.push((mean[c], var.sqrt()));
            }
        }
        out
    }
}

/// In-place lower Cholesky factor of the row-major `n × n` matrix `a` (the upper triangle is
/// zeroed); false if `a` is not positive definite.
fn cholesky(a: &mut [f64], n: usize) -> bool {
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return false;
                }
                a[i * n + i] = s.sqrt();
            } else {
                a[i * n + j] = s / a[j * n + j];
            }
        }
        for j in i + 1..n {
            a[i * n + j] = 0.0;
        }
    }
    true
}

/// Solves `L Lᵀ x = b`.
fn chol_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            z[i] -= l[i * n + k] * z[k];
        }
        z[i] /= l[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            z[i] -= l[k * n + i] * z[k];
        }
        z[i] /= l[i * n + i];
    }
    z
}

/// `(L Lᵀ)⁻¹`, row-major.
fn chol_inverse(l: &[f64], n: usize) -> Vec<f64> {
    // M = L⁻¹ (lower triangular), then (L Lᵀ)⁻¹ = Mᵀ M.
    let mut m = vec![0.0; n * n];
    for j in 0..n {
        m[j * n + j] = 1.0 / l[j * n + j];
        for i in j + 1..n {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i * n + k] * m[k * n + j];
            }
            m[i * n + j] = s / l[i * n + i];
        }
    }
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = 0.0;
            for k in i..n {
                s += m[k * n + i] * m[k * n + j];
            }
            out[i * n + j] = s;
            out[j * n + i] = s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of the pairs of tokens at positions 0 and 1 (an interaction, not a sum).
    const TABLE: [[f64; 3]; 3] = [[0.3, -1.2, 0.8], [1.5, -0.4, -0.9], [-1.1, 0.6, 0.2]];

    /// 3 positions of 3 choices; the objective depends on positions 0 and 1 only. The
    /// combinations with `a + b + c` divisible by 3 are left out (9 of 27).
    fn data() -> (Vec<Vec<u32>>, Vec<f64>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for a in 0..3u32 {
            for b in 0..3u32 {
                for c in 0..3u32 {
                    if (a + b + c) % 3 != 0 {
                        x.push(vec![a, 3 + b, 6 + c]);
                        y.push(TABLE[a as usize][b as usize]);
                    }
                }
            }
        }
        (x, y)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (x, y) = data();
        let mut gp = HammingGp::new(3);
        gp.params = vec![-0.3, 0.4, -1.2, -1.0, -2.0, -0.5, 0.2, (0.05f64).ln()];
        let (_, grad) = gp.lml_and_grad(&x, &y).unwrap();
        for (k, g) in grad.iter().enumerate() {
            let h = 1e-5;
            let mut up = gp.clone();
            up.params[k] += h;
            let mut down = gp.clone();
            down.params[k] -= h;
            let fd = (up.lml_and_grad(&x, &y).unwrap().0 - down.lml_and_grad(&x, &y).unwrap().0)
                / (2.0 * h);
            assert!(
                (fd - g).abs() < 1e-5 * (1.0 + fd.abs()),
                "param {k}: finite difference {fd}, gradient {g}"
            );
        }
    }

    #[test]
    fn fitting_raises_the_likelihood_and_finds_the_irrelevant_position() {
        let (x, y) = data();
        let mut gp = HammingGp::new(3);
        let before = gp.lml_and_grad(&x, &y).unwrap().0;
        gp.fit(&x, &y, 300);
        let after = gp.lml_and_grad(&gp.x.clone(), &y).unwrap().0;
        assert!(
            after > before + 1.0,
            "log marginal likelihood {before} -> {after}"
        );
        let theta = gp.relevances();
        assert!(
            theta[2] < 0.1 * theta[0].min(theta[1]),
            "relevances {theta:?}"
        );
    }

    #[test]
    fn predictions_interpolate_the_data_and_return_to_the_prior_far_away() {
        let (x, y) = data();
        let mut gp = HammingGp::new(3);
        gp.fit(&x, &y, 300);
        let (s2, noise) = gp.variances();
        for ((m, s), t) in gp.predict(&x).into_iter().zip(&y) {
            assert!(
                (m - t).abs() < 0.05,
                "mean {m} at a data point of value {t}"
            );
            assert!(s < 3.0 * noise.sqrt() + 1e-3, "std {s} at a data point");
        }
        // A left-out combination is predicted from the ones that differ only in the
        // irrelevant position.
        let held_out = gp.predict(&[vec![0u32, 3, 6], vec![1, 4, 7], vec![2, 4, 6]]);
        for (p, t) in held_out.iter().zip([TABLE[0][0], TABLE[1][1], TABLE[2][1]]) {
            assert!((p.0 - t).abs() < 0.1, "{p:?} against {t}");
        }
        // A token no data point has, at a relevant position, pulls towards the prior.
        let mut fresh = HammingGp::new(2);
        fresh.params = vec![2.0f64.ln(), 2.0f64.ln(), -9.2, -9.2, 0.0, (1e-4f64).ln()];
        fresh.fit(&[vec![0, 3], vec![1, 4]], &[1.0, -1.0], 0);
        let far = fresh.predict(&[vec![2u32, 5]])[0];
        assert!(far.0.abs() < 0.05 && (far.1 - 1.0).abs() < 0.05, "{far:?}");
        assert!(s2 > 0.0);
    }

    #[test]
    fn cholesky_inverse_and_solve_agree() {
        let n = 4;
        let a: Vec<f64> = vec![
            4.0, 1.0, 0.5, 0.2, 1.0, 3.0, 0.3, 0.1, 0.5, 0.3, 2.0, 0.4, 0.2, 0.1, 0.4, 1.5,
        ];
        let mut l = a.clone();
        assert!(cholesky(&mut l, n));
        let inv = chol_inverse(&l, n);
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..n).map(|k| a[i * n + k] * inv[k * n + j]).sum();
                assert!((s - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        let b = [1.0, -2.0, 0.5, 3.0];
        let x = chol_solve(&l, n, &b);
        for i in 0..n {
            let s: f64 = (0..n).map(|k| a[i * n + k] * x[k]).sum();
            assert!((s - b[i]).abs() < 1e-12);
        }
        let mut not_pd = vec![1.0, 2.0, 2.0, 1.0];
        assert!(!cholesky(&mut not_pd, 2));
    }
}
