//! The float type the network runs in (f32 for speed, f64 for gradient checks), the matrix
//! multiply (the in-place kernels of `kernel.rs`, else `matrixmultiply`), and the elementwise
//! kernels.

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A float the controller's forward and backward passes are written over.
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + Debug
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Conversion from f64 (rounding for f32).
    fn from_f64(x: f64) -> Self;
    /// Conversion to f64.
    fn to_f64(self) -> f64;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Exponential (a fast approximation for f32, exact to about 2 ulp).
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `C = alpha * A * B + beta * C` with arbitrary strides (row stride, column stride).
    ///
    /// # Safety
    /// Every element addressed through the strides must lie inside the given allocations; when
    /// `beta` is zero `C` is not read.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        fast_exp(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        f32::ln(self)
    }
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if csb == 1 && csc == 1 && n.is_multiple_of(16) && rsa >= 0 && csa >= 0 {
            use super::kernel::{Kernel, active_kernel, sgemm, sgemm_avx2};
            let f = match active_kernel() {
                Kernel::Avx512 => Some(sgemm as unsafe fn(_, _, _, _, _, _, _, _, _, _, _)),
                Kernel::Avx2 => Some(sgemm_avx2 as unsafe fn(_, _, _, _, _, _, _, _, _, _, _)),
                Kernel::Matrixmultiply => None,
            };
            if let Some(f) = f {
                // SAFETY: forwarded contract; the kernel's layout conditions were just checked
                // and `active_kernel()` only returns kernels the CPU supports.
                unsafe {
                    f(
                        m,
                        k,
                        n,
                        a,
                        rsa as usize,
                        csa as usize,
                        b,
                        rsb as usize,
                        beta,
                        c,
                        rsc as usize,
                    )
                };
                return;
            }
        }
        // SAFETY: forwarded contract.
        unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        f64::ln(self)
    }
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded contract.
        unsafe { matrixmultiply::dgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}

/// `e^x` for f32 without a libm call, so that loops over it vectorise: range reduction to
/// `x = k ln2 + r`, `|r| <= ln2/2`, a degree-6 polynomial for `e^r`, and `2^k` built from bits.
/// Relative error below 3e-7 on the clamped range [-87, 88].
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without a libm call.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    // `kf`'s low mantissa bits hold k as an integer; integer ops on its bits vectorise, where a
    // saturating `as i32` cast would not.
    let kf = x * LOG2E + MAGIC;
    let k = kf - MAGIC;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let bits = kf.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127) << 23;
    p * f32::from_bits(bits)
}

/// Logistic sigmoid.
#[inline(always)]
pub fn sigmoid<F: Real>(x: F) -> F {
    F::ONE / (F::ONE + (-x).exp())
}

/// Hyperbolic tangent as `2 sigmoid(2x) - 1` (absolute error ~1e-7 in f32, exact in f64 up to
/// rounding), vectorisable through [`Real::exp`].
#[inline(always)]
pub fn tanh<F: Real>(x: F) -> F {
    let two = F::ONE + F::ONE;
    two * sigmoid(two * x) - F::ONE
}

/// A matrix operand: its storage, leading dimension and whether it is used transposed.
///
/// Untransposed, element (i, p) is at `i * ld + p`; transposed, the stored matrix is the
/// transpose, so element (i, p) of the operand is at `p * ld + i`.
#[derive(Clone, Copy)]
pub struct Mat<'a, F> {
    /// Storage, starting at the operand's first element.
    pub data: &'a [F],
    /// Leading dimension (row stride of the stored matrix).
    pub ld: usize,
    /// Use the transpose of the stored matrix.
    pub t: bool,
}

/// An untransposed operand.
pub fn n<F>(data: &[F], ld: usize) -> Mat<'_, F> {
    Mat { data, ld, t: false }
}

/// A transposed operand.
pub fn t<F>(data: &[F], ld: usize) -> Mat<'_, F> {
    Mat { data, ld, t: true }
}

fn strides<F>(x: &Mat<'_, F>) -> (isize, isize) {
    if x.t {
        (1, x.ld as isize)
    } else {
        (x.ld as isize, 1)
    }
}

fn check<F>(x: &Mat<'_, F>, rows: usize, cols: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    let (r, c) = strides(x);
    let last = (rows - 1) * r as usize + (cols - 1) * c as usize;
    assert!(last < x.data.len(), "matrix operand out of bounds");
}

/// `C (m x n, row stride ldc) = op(A) (m x k) * op(B) (k x n) + beta * C`, bounds-checked.
#[allow(clippy::too_many_arguments)]
pub fn gemm<F: Real>(
    m: usize,
    k: usize,
    nn: usize,
    a: Mat<'_, F>,
    b: Mat<'_, F>,
    beta: F,
    c: &mut [F],
    ldc: usize,
) {
    if m == 0 || nn == 0 {
        return;
    }
    check(&a, m, k);
    check(&b, k, nn);
    assert!((m - 1) * ldc + nn <= c.len(), "output out of bounds");
    let (rsa, csa) = strides(&a);
    let (rsb, csb) = strides(&b);
    let timed = super::profile::gemm_start();
    // SAFETY: all three operands were bounds-checked above for the strides used.
    unsafe {
        F::gemm_raw(
            m,
            k,
            nn,
            a.data.as_ptr(),
            rsa,
            csa,
            b.data.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        )
    }
    super::profile::gemm_stop(timed);
}

/// Dot product with independent partial sums, so that the f32 version vectorises.
#[inline(always)]
pub fn dot<F: Real>(a: &[F], b: &[F]) -> F {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [F::ZERO; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = F::ZERO;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += *x * *y;
    }
    for v in acc {
        s += v;
    }
    s
}

/// `y += alpha * x`.
#[inline(always)]
pub fn axpy<F: Real>(alpha: F, x: &[F], y: &mut [F]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * *xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = -80.0f32;
        while x < 80.0 {
            let want = f64::from(x).exp();
            let got = f64::from(fast_exp(x));
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert!((tanh(0.5f32) - 0.5f32.tanh()).abs() < 1e-6);
        assert!((sigmoid(-3.0f32) - 1.0 / (1.0 + 3.0f32.exp())).abs() < 1e-7);
    }

    #[test]
    fn gemm_transposes_match_naive() {
        let a: Vec<f64> = (0..6).map(|i| i as f64 + 1.0).collect(); // 2x3
        let b: Vec<f64> = (0..12).map(|i| (i as f64) * 0.5 - 2.0).collect(); // 3x4
        let mut c = vec![0.0; 8];
        gemm(2, 3, 4, n(&a, 3), n(&b, 4), 0.0, &mut c, 4);
        for i in 0..2 {
            for j in 0..4 {
                let want: f64 = (0..3).map(|p| a[i * 3 + p] * b[p * 4 + j]).sum();
                assert_eq!(c[i * 4 + j], want);
            }
        }
        // (A^T)^T B with A^T stored 3x2.
        let at: Vec<f64> = (0..6).map(|q| a[(q % 2) * 3 + q / 2]).collect();
        let mut c2 = vec![1.0; 8];
        gemm(2, 3, 4, t(&at, 2), n(&b, 4), 1.0, &mut c2, 4);
        for (x, y) in c2.iter().zip(&c) {
            assert_eq!(*x, y + 1.0);
        }
    }
}
