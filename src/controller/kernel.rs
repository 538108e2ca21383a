//! Matrix-multiply kernels for the controller's shapes (inner sizes of 16 to 1,350, outputs 16
//! to 256 wide), used instead of `matrixmultiply` where they apply: one for AVX-512, one for
//! AVX2 with FMA.
//!
//! `matrixmultiply` packs both operands on every call; for the LSTMs' per-step products
//! (50 x 64 times 64 x 256) the packing costs as much as the arithmetic. These kernels read the
//! operands in place: `B` must have contiguous rows and a width that is a multiple of 16; `A`
//! may have any strides (its elements are broadcast one at a time). An AVX-512 block keeps up to
//! 4 x 64 outputs in 16 registers, an AVX2 block 6 x 16 outputs in 12 of its 16 registers.
//!
//! Each kernel sums every output in a fixed order (k in fixed chunks, fused multiply-adds in
//! order within a chunk), so results are deterministic for a given kernel; different kernels
//! round differently. [`set_kernel`] (or the `SEMINAS_KERNEL` environment variable) chooses
//! one, e.g. to reproduce on an AVX-512 machine the bits of an AVX2 one.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::sync::atomic::{AtomicU8, Ordering};

/// A matrix-multiply kernel of the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernel {
    /// The in-place AVX-512 kernel (x86-64 with AVX-512F).
    Avx512,
    /// The in-place AVX2 kernel (x86-64 with AVX2 and FMA).
    Avx2,
    /// The `matrixmultiply` crate (any CPU; also every product the other kernels do not take).
    Matrixmultiply,
}

impl Kernel {
    /// All kernels, fastest first.
    pub const ALL: [Kernel; 3] = [Kernel::Avx512, Kernel::Avx2, Kernel::Matrixmultiply];

    /// Lower-case name, as `SEMINAS_KERNEL` and `--kernels` take it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2 => "avx2",
            Kernel::Matrixmultiply => "matrixmultiply",
        }
    }

    /// The kernel named `s` (see [`Kernel::name`]).
    pub fn parse(s: &str) -> Option<Kernel> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// True when this CPU can run the kernel.
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::sync::OnceLock;
            static CPU: OnceLock<(bool, bool)> = OnceLock::new();
            let (avx512, avx2) = *CPU.get_or_init(|| {
                (
                    is_x86_feature_detected!("avx512f"),
                    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
                )
            });
            match self {
                Kernel::Avx512 => avx512,
                Kernel::Avx2 => avx2,
                Kernel::Matrixmultiply => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Kernel::Matrixmultiply
        }
    }

    /// The fastest kernel this CPU supports.
    pub fn best() -> Kernel {
        Self::ALL
            .into_iter()
            .find(|k| k.supported())
            .unwrap_or(Kernel::Matrixmultiply)
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The chosen kernel: 0 until first use, then 1 + its index in [`Kernel::ALL`].
static CHOSEN: AtomicU8 = AtomicU8::new(0);

/// The kernel the controller's f32 products use: the one set by [`set_kernel`], else the one
/// named by the environment variable `SEMINAS_KERNEL` (`avx512`, `avx2`, `matrixmultiply`) if
/// the CPU supports it, else [`Kernel::best`].
pub fn active_kernel() -> Kernel {
    match CHOSEN.load(Ordering::Relaxed) {
        0 => {
            let k = std::env::var("SEMINAS_KERNEL")
                .ok()
                .and_then(|v| Kernel::parse(v.trim()))
                .filter(|k| k.supported())
                .unwrap_or_else(Kernel::best);
            // Another thread may have chosen meanwhile; the first choice stands.
            let _ = CHOSEN.compare_exchange(0, index(k) + 1, Ordering::Relaxed, Ordering::Relaxed);
            Kernel::ALL[usize::from(CHOSEN.load(Ordering::Relaxed) - 1)]
        }
        i => Kernel::ALL[usize::from(i - 1)],
    }
}

fn index(k: Kernel) -> u8 {
    Kernel::ALL.iter().position(|&x| x == k).unwrap_or(2) as u8
}

/// Chooses the kernel for the whole process (benchmarks compare kernels with it). Changing it
/// while a controller is training changes that training's rounding.
///
/// # Errors
/// When the CPU does not support `k`; the choice is then unchanged.
pub fn set_kernel(k: Kernel) -> Result<(), super::ControllerError> {
    if !k.supported() {
        return Err(super::ControllerError::Config(format!(
            "this CPU cannot run the {k} matrix kernel"
        )));
    }
    CHOSEN.store(index(k) + 1, Ordering::Relaxed);
    Ok(())
}

/// Instruction set of the controller's elementwise passes (LSTM cells, softmax,
/// normalisation, dropout): each pass is compiled once per set and chosen at run time. Every
/// set computes the same bits (no fused multiply-adds, fixed reduction order), so the choice
/// changes speed only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Isa {
    /// Baseline x86-64 (SSE2), or whatever the target has elsewhere.
    Baseline,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512 (F and VL) with AVX2 and FMA.
    Avx512,
}

impl Isa {
    /// All sets, widest first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Baseline];

    /// Lower-case name, as `SEMINAS_ISA` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Baseline => "baseline",
        }
    }

    /// The set named `s` (see [`Isa::name`]).
    pub fn parse(s: &str) -> Option<Isa> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// True when this CPU can run the set.
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::sync::OnceLock;
            static CPU: OnceLock<(bool, bool)> = OnceLock::new();
            let (avx512, avx2) = *CPU.get_or_init(|| {
                let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
                let avx512 = avx2
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512vl");
                (avx512, avx2)
            });
            match self {
                Isa::Avx512 => avx512,
                Isa::Avx2 => avx2,
                Isa::Baseline => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Baseline
        }
    }

    /// The widest set this CPU supports that is not wider than `cap`.
    fn best_up_to(cap: Isa) -> Isa {
        Self::ALL
            .into_iter()
            .find(|i| *i <= cap && i.supported())
            .unwrap_or(Isa::Baseline)
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The elementwise instruction set chosen by [`set_isa`] or `SEMINAS_ISA`: 0 until first use,
/// 1 when none was chosen (the matrix kernel decides), else 2 + its index in [`Isa::ALL`].
static ISA_CAP: AtomicU8 = AtomicU8::new(0);

/// The instruction set the elementwise passes use: at most the one set by [`set_isa`], else
/// the one named by the environment variable `SEMINAS_ISA` (`avx512`, `avx2`, `baseline`),
/// else the matrix kernel's ([`active_kernel`]: `avx2` caps the passes at AVX2 too, so that
/// `SEMINAS_KERNEL=avx2` runs the whole AVX2 path, as on a CPU without AVX-512); never wider
/// than the CPU supports.
pub fn active_isa() -> Isa {
    let code = match ISA_CAP.load(Ordering::Relaxed) {
        0 => {
            let code = std::env::var("SEMINAS_ISA")
                .ok()
                .and_then(|v| Isa::parse(v.trim()))
                .map_or(1, isa_code);
            // The first choice stands, as for the kernel.
            let _ = ISA_CAP.compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed);
            ISA_CAP.load(Ordering::Relaxed)
        }
        c => c,
    };
    let chosen = (code >= 2).then(|| Isa::ALL[usize::from(code - 2)]);
    isa_for(chosen, active_kernel())
}

/// The elementwise set for an explicit choice (if any) and the matrix kernel.
fn isa_for(chosen: Option<Isa>, kernel: Kernel) -> Isa {
    let cap = chosen.unwrap_or(match kernel {
        Kernel::Avx2 => Isa::Avx2,
        Kernel::Avx512 | Kernel::Matrixmultiply => Isa::Avx512,
    });
    Isa::best_up_to(cap)
}

fn isa_code(i: Isa) -> u8 {
    Isa::ALL.iter().position(|&x| x == i).unwrap_or(2) as u8 + 2
}

/// Caps the elementwise instruction set for the whole process (`None`: the matrix kernel
/// decides, see [`active_isa`]). Results do not change, only speed.
///
/// # Errors
/// When the CPU does not support `isa`; the choice is then unchanged.
pub fn set_isa(isa: Option<Isa>) -> Result<(), super::ControllerError> {
    if let Some(i) = isa
        && !i.supported()
    {
        return Err(super::ControllerError::Config(format!(
            "this CPU cannot run the {i} instruction set"
        )));
    }
    ISA_CAP.store(isa.map_or(1, isa_code), Ordering::Relaxed);
    Ok(())
}

/// `C = A B + beta C` for `m x k` A (element (i, p) at `a[i * rsa + p * csa]`), `k x n` B (row
/// stride `ldb`, contiguous rows), `m x n` C (row stride `ldc`); `n % 16 == 0`.
///
/// # Safety
/// [`Kernel::Avx512`] must be supported, `n % 16 == 0`, and all addressed elements must be in bounds.
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
    // Left uninitialised: only what a slab copy wrote is read (a zeroed 32 KiB buffer cost a
    // memset per call, as much as the arithmetic of a small per-step product).
    let mut pack = std::mem::MaybeUninit::<Pack>::uninit();
    // SAFETY: a place expression only, nothing is read.
    let pack_ptr = unsafe { (&raw mut (*pack.as_mut_ptr()).0).cast::<f32>() };
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
                    match nb {
                        4 => copy_slab::<4>(b.add(j), ldb, kk, pack_ptr),
                        3 => copy_slab::<3>(b.add(j), ldb, kk, pack_ptr),
                        2 => copy_slab::<2>(b.add(j), ldb, kk, pack_ptr),
                        _ => copy_slab::<1>(b.add(j), ldb, kk, pack_ptr),
                    }
                    (pack_ptr.cast_const(), 64, 0)
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

/// Copies `kk` rows of a `16 * NB`-wide slab of B (row stride `ldb`) to `dst` (row stride
/// 64) with register moves: the width is a constant, so no row becomes a `memcpy` call (a
/// loop over a run-time width was compiled into one per row).
///
/// # Safety
/// avx512f must be supported; `src` and `dst` must address `kk` such rows.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn copy_slab<const NB: usize>(src: *const f32, ldb: usize, kk: usize, dst: *mut f32) {
    // SAFETY: the caller's contract.
    unsafe {
        for p in 0..kk {
            let (s, d) = (src.add(p * ldb), dst.add(p * 64));
            for q in 0..NB {
                _mm512_storeu_ps(d.add(16 * q), _mm512_loadu_ps(s.add(16 * q)));
            }
        }
    }
}

/// Rows of k per chunk.
#[cfg(target_arch = "x86_64")]
const KC: usize = 128;

/// A packed slab of B, aligned to cache lines.
#[cfg(target_arch = "x86_64")]
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

/// Rows of k per chunk of the AVX2 kernel: a 16-wide slab of B (16 KiB) stays in L1.
#[cfg(target_arch = "x86_64")]
const KC2: usize = 256;

/// Rows of A per panel of the AVX2 kernel: the panel's chunk (at most 60 x 256 floats) stays in
/// L2 while every 16-wide slab of B passes over it; a multiple of the block height 6.
#[cfg(target_arch = "x86_64")]
const MC2: usize = 60;

/// [`sgemm`] for AVX2 with FMA: `C = A B + beta C`, same operands and contract.
///
/// # Safety
/// [`Kernel::Avx2`] must be supported, `n % 16 == 0`, and all addressed elements must be in
/// bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_avx2(
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
    // A 16-wide slab of B is one cache line per row, and rows at any stride that is a multiple
    // of a line share few L1 sets: slabs are copied to a contiguous buffer first (once per slab
    // and panel, reused by every row block of the panel) unless they already are contiguous.
    let pack_b = ldb != 16;
    // A transposed (`rsa == 1`): its rows of storage map onto few L1 sets and a block reads
    // 6 floats of each; with many slabs of B to reuse it, such a panel is copied first, 6 rows
    // interleaved per k.
    let pack_a = rsa == 1 && csa > 1 && n >= 128;
    // Left uninitialised (zeroing them cost a 76 KiB memset per call): only what the copies
    // below wrote is read.
    let mut pb = std::mem::MaybeUninit::<Pack2>::uninit();
    let mut pa = std::mem::MaybeUninit::<PackA>::uninit();
    // SAFETY: place expressions only, nothing is read.
    let (pb_ptr, pa_ptr) = unsafe {
        (
            (&raw mut (*pb.as_mut_ptr()).0).cast::<f32>(),
            (&raw mut (*pa.as_mut_ptr()).0).cast::<f32>(),
        )
    };
    let mut k0 = 0;
    while k0 < k {
        let kk = KC2.min(k - k0);
        let beta = if k0 == 0 { beta } else { 1.0 };
        // SAFETY: offsets stay inside A and B for the chunk (caller's bounds contract).
        let (a, b) = unsafe { (a.add(k0 * csa), b.add(k0 * ldb)) };
        let mut i0 = 0;
        while i0 < m {
            let i1 = (i0 + MC2).min(m);
            if pack_a {
                for (blk, r0) in (i0..i1).step_by(6).enumerate() {
                    let rr = (i1 - r0).min(6);
                    // SAFETY: rows r0..r0+rr, columns 0..kk of A (caller's contract); the
                    // packed block lies inside `pa` (MC2 rows of at most KC2).
                    unsafe {
                        let dst = pa_ptr.add(blk * kk * 6);
                        for p in 0..kk {
                            let src = a.add(r0 + p * csa);
                            for r in 0..rr {
                                *dst.add(p * 6 + r) = *src.add(r);
                            }
                        }
                    }
                }
            }
            let mut j = 0;
            while j < n {
                // SAFETY: bounds are the caller's contract; blocks stay inside m x n and the
                // packed slabs inside `pb` and `pa`.
                unsafe {
                    let (bs, ldbs, js) = if pack_b && kk >= 32 && i1 - i0 >= 12 {
                        for p in 0..kk {
                            let src = b.add(p * ldb + j);
                            let dst = pb_ptr.add(p * 16);
                            _mm256_store_ps(dst, _mm256_loadu_ps(src));
                            _mm256_store_ps(dst.add(8), _mm256_loadu_ps(src.add(8)));
                        }
                        (pb_ptr.cast_const(), 16, 0)
                    } else {
                        (b, ldb, j)
                    };
                    let mut i = i0;
                    while i < i1 {
                        let (ap, rs, cs) = if pack_a {
                            (pa_ptr.cast_const().add((i - i0) * kk), 1, 6)
                        } else {
                            (a.add(i * rsa), rsa, csa)
                        };
                        let args = (i, j, js, kk, ap, rs, cs, bs, ldbs, beta, c, ldc);
                        match i1 - i {
                            1 => block2::<1>(args),
                            2 => block2::<2>(args),
                            3 => block2::<3>(args),
                            4 => block2::<4>(args),
                            5 => block2::<5>(args),
                            _ => block2::<6>(args),
                        }
                        i += 6;
                    }
                }
                j += 16;
            }
            i0 = i1;
        }
        k0 += kk;
    }
}

/// A packed 16-wide slab of B for the AVX2 kernel, aligned to cache lines.
#[cfg(target_arch = "x86_64")]
#[repr(align(64))]
struct Pack2([f32; KC2 * 16]);

/// A packed panel of a transposed A for the AVX2 kernel: blocks of 6 rows, k-major.
#[cfg(target_arch = "x86_64")]
#[repr(align(64))]
struct PackA([f32; MC2 * KC2]);

/// Arguments of [`block2`]: row `i` and column `j` of C, column `js` of B, `k`, A's element
/// (i, 0) with its row and column strides, B and its row stride, `beta`, C and its row stride.
#[cfg(target_arch = "x86_64")]
type Block2Args = (
    usize,
    usize,
    usize,
    usize,
    *const f32,
    usize,
    usize,
    *const f32,
    usize,
    f32,
    *mut f32,
    usize,
);

/// Rows `i..i+R`, columns `j..j+16` of C (columns `js..` of B), accumulated in 2R registers
/// over all of k.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn block2<const R: usize>(args: Block2Args) {
    let (i, j, js, k, a, rsa, csa, b, ldb, beta, c, ldc) = args;
    // SAFETY: the caller keeps every index in bounds; avx2 and fma are enabled by the caller.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        let mut ap = a;
        let mut bp = b.add(js);
        for _ in 0..k {
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            for (r, row) in acc.iter_mut().enumerate() {
                let av = _mm256_broadcast_ss(&*ap.add(r * rsa));
                row[0] = _mm256_fmadd_ps(av, b0, row[0]);
                row[1] = _mm256_fmadd_ps(av, b1, row[1]);
            }
            ap = ap.add(csa);
            bp = bp.add(ldb);
        }
        for (r, row) in acc.iter().enumerate() {
            for (q, x) in row.iter().enumerate() {
                let cp = c.add((i + r) * ldc + j + 8 * q);
                let v = if beta == 0.0 {
                    *x
                } else if beta == 1.0 {
                    _mm256_add_ps(*x, _mm256_loadu_ps(cp))
                } else {
                    _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(cp), *x)
                };
                _mm256_storeu_ps(cp, v);
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_naive_products() {
        for kernel in [Kernel::Avx512, Kernel::Avx2] {
            if !kernel.supported() {
                continue;
            }
            let mut seed = 1u32;
            let mut next = || {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            };
            // Odd row counts (tails of every height), several k chunks and row panels, and
            // n = 128 / 256 (B row strides that take the packed-slab path).
            for &(m, k, n) in &[
                (1, 1, 16),
                (5, 3, 48),
                (9, 64, 256),
                (7, 17, 80),
                (50, 256, 64),
                (131, 300, 128),
                (64, 600, 256),
            ] {
                for transposed_a in [false, true] {
                    for beta in [0.0f32, 1.0, 0.5] {
                        let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
                        let b: Vec<f32> = (0..k * n + 3).map(|_| next()).collect();
                        let c0: Vec<f32> = (0..m * (n + 5)).map(|_| next()).collect();
                        let (rsa, csa) = if transposed_a { (1, m) } else { (k, 1) };
                        let mut c = c0.clone();
                        let f = match kernel {
                            Kernel::Avx512 => sgemm,
                            _ => sgemm_avx2,
                        };
                        // B with a row stride of n (+0) and C with a row stride of n + 5.
                        unsafe {
                            f(
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
                                    .map(|p| {
                                        f64::from(a[i * rsa + p * csa]) * f64::from(b[p * n + j])
                                    })
                                    .sum::<f64>()
                                    + f64::from(beta) * f64::from(c0[i * (n + 5) + j]);
                                assert!(
                                    (f64::from(got) - want).abs() < 1e-4,
                                    "{kernel} {m}x{k}x{n} ({i},{j})"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn kernel_names_round_trip() {
        for k in Kernel::ALL {
            assert_eq!(Kernel::parse(k.name()), Some(k));
        }
        assert_eq!(Kernel::parse("sse"), None);
        assert!(Kernel::Matrixmultiply.supported());
        assert!(Kernel::best().supported());
        for i in Isa::ALL {
            assert_eq!(Isa::parse(i.name()), Some(i));
        }
        assert_eq!(Isa::parse("sse"), None);
        assert!(Isa::Baseline.supported());
    }

    #[test]
    fn the_avx2_kernel_caps_the_elementwise_passes() {
        let widest = Isa::best_up_to(Isa::Avx512);
        assert!(widest.supported());
        assert_eq!(isa_for(None, Kernel::Avx512), widest);
        assert_eq!(isa_for(None, Kernel::Matrixmultiply), widest);
        let avx2 = isa_for(None, Kernel::Avx2);
        assert!(avx2 <= Isa::Avx2 && avx2.supported());
        assert_eq!(avx2 == Isa::Avx2, Isa::Avx2.supported());
        // An explicit choice wins over the kernel's, but never exceeds the CPU.
        assert_eq!(isa_for(Some(Isa::Baseline), Kernel::Avx512), Isa::Baseline);
        assert_eq!(isa_for(Some(Isa::Avx512), Kernel::Avx2), widest);
    }
}
