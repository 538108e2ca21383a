//! An AVX-512 matrix-multiply kernel for the controller's shapes (inner sizes of 16 to 1,350,
//! outputs 16 to 256 wide), used instead of `matrixmultiply` where it applies.
//!
//! `matrixmultiply` packs both operands on every call; for the LSTMs' per-step products
//! (50 x 64 times 64 x 256) the packing costs as much as the arithmetic. This kernel reads the
//! operands in place: `B` must have contiguous rows and a width that is a multiple of 16; `A`
//! may have any strides (its elements are broadcast one at a time). Each block keeps up to 4 x 64
//! outputs in 16 registers.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// True when the CPU can run [`sgemm`].
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| is_x86_feature_detected!("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `C = A B + beta C` for `m x k` A (element (i, p) at `a[i * rsa + p * csa]`), `k x n` B (row
/// stride `ldb`, contiguous rows), `m x n` C (row stride `ldc`); `n % 16 == 0`.
///
/// # Safety
/// [`available`] must be true, `n % 16 == 0`, and all addressed elements must be in bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    ldb: usize,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    debug_assert!(n.is_multiple_of(16));
    // k is cut into chunks so that a 64-wide slab of B (at most KC x 64 floats, 32 KiB) stays
    // in L1 while every row block of A passes over it. When B's row stride is a multiple of 512
    // bytes its rows map onto a fraction of L1's sets and evict each other, so such a slab is
    // first copied to a contiguous buffer (once per slab, reused by every row block).
    let alias = ldb.is_multiple_of(128) && m >= 8;
    let mut pack = Pack([0.0; KC * 64]);
    // With A transposed its chunk (kc rows of A's storage) competes for L1 too: halve the chunk.
    let kc = if csa > 1 && rsa == 1 { KC / 2 } else { KC };
    let mut k0 = 0;
    while k0 < k {
        let kk = kc.min(k - k0);
        let beta = if k0 == 0 { beta } else { 1.0 };
        // SAFETY: offsets stay inside A and B for the chunk (caller's bounds contract).
        let (a, b) = unsafe { (a.add(k0 * csa), b.add(k0 * ldb)) };
        let mut j = 0;
        while j < n {
            let nb = ((n - j) / 16).min(4);
            // SAFETY: bounds are the caller's contract; blocks stay inside m x n and the
            // packed slab inside `pack`.
            unsafe {
                let (bs, ldbs, js) = if alias && kk >= 16 {
                    // Register copies: a variable-length copy would call memmove per row.
                    for p in 0..kk {
                        let src = b.add(p * ldb + j);
                        let dst = pack.0.as_mut_ptr().add(p * 64);
                        for q in 0..nb {
                            _mm512_storeu_ps(dst.add(16 * q), _mm512_loadu_ps(src.add(16 * q)));
                        }
                    }
                    (pack.0.as_ptr(), 64, 0)
                } else {
                    (b, ldb, j)
                };
                let mut i = 0;
                while i + 4 <= m {
                    match nb {
                        4 => block::<4, 4>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                        3 => block::<4, 3>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                        2 => block::<4, 2>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                        _ => block::<4, 1>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    }
                    i += 4;
                }
                // The last 1 to 3 rows in one block.
                match (m - i, nb) {
                    (0, _) => {}
                    (1, 4) => block::<1, 4>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (1, 3) => block::<1, 3>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (1, 2) => block::<1, 2>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (1, _) => block::<1, 1>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (2, 4) => block::<2, 4>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (2, 3) => block::<2, 3>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (2, 2) => block::<2, 2>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (2, _) => block::<2, 1>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (_, 4) => block::<3, 4>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (_, 3) => block::<3, 3>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (_, 2) => block::<3, 2>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                    (_, _) => block::<3, 1>(i, j, js, kk, a, rsa, csa, bs, ldbs, beta, c, ldc),
                }
            }
            j += nb * 16;
        }
        k0 += kk;
    }
}

/// Rows of k per chunk.
const KC: usize = 128;

/// A packed slab of B, aligned to cache lines.
#[repr(align(64))]
struct Pack([f32; KC * 64]);

/// Rows `i..i+R`, columns `j..j+16*NB` of C (columns `js..` of B), accumulated in registers
/// over all of k.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn block<const R: usize, const NB: usize>(
    i: usize,
    j: usize,
    js: usize,
    k: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    ldb: usize,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    // SAFETY: the caller keeps every index in bounds; avx512f is enabled by the caller.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); NB]; R];
        for p in 0..k {
            let bp = b.add(p * ldb + js);
            let mut bv = [_mm512_setzero_ps(); NB];
            for (q, v) in bv.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(bp.add(16 * q));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a.add((i + r) * rsa + p * csa));
                for (q, x) in row.iter_mut().enumerate() {
                    *x = _mm512_fmadd_ps(av, bv[q], *x);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (q, x) in row.iter().enumerate() {
                let cp = c.add((i + r) * ldc + j + 16 * q);
                let v = if beta == 0.0 {
                    *x
                } else if beta == 1.0 {
                    _mm512_add_ps(*x, _mm512_loadu_ps(cp))
                } else {
                    _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_loadu_ps(cp), *x)
                };
                _mm512_storeu_ps(cp, v);
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn kernel_matches_naive_products() {
        if !available() {
            return;
        }
        let mut seed = 1u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for &(m, k, n) in &[
            (1, 1, 16),
            (5, 3, 48),
            (9, 64, 256),
            (7, 17, 80),
            (50, 256, 64),
        ] {
            for transposed_a in [false, true] {
                for beta in [0.0f32, 1.0, 0.5] {
                    let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
                    let b: Vec<f32> = (0..k * n + 3).map(|_| next()).collect();
                    let c0: Vec<f32> = (0..m * (n + 5)).map(|_| next()).collect();
                    let (rsa, csa) = if transposed_a { (1, m) } else { (k, 1) };
                    let mut c = c0.clone();
                    // B with a row stride of n (+0) and C with a row stride of n + 5.
                    unsafe {
                        sgemm(
                            m,
                            k,
                            n,
                            a.as_ptr(),
                            rsa,
                            csa,
                            b.as_ptr(),
                            n,
                            beta,
                            c.as_mut_ptr(),
                            n + 5,
                        )
                    };
                    for i in 0..m {
                        for j in 0..n + 5 {
                            let got = c[i * (n + 5) + j];
                            if j >= n {
                                assert_eq!(got, c0[i * (n + 5) + j], "wrote outside C");
                                continue;
                            }
                            let want: f64 = (0..k)
                                .map(|p| f64::from(a[i * rsa + p * csa]) * f64::from(b[p * n + j]))
                                .sum::<f64>()
                                + f64::from(beta) * f64::from(c0[i * (n + 5) + j]);
                            assert!(
                                (f64::from(got) - want).abs() < 1e-4,
                                "{m}x{k}x{n} ({i},{j})"
                            );
                        }
                    }
                }
            }
        }
    }
}
