//! Times the controller's matrix kernels on its main product shapes (one thread, best of
//! several rounds): `cargo run --release --example kernel_shapes`.

#[cfg(target_arch = "x86_64")]
use std::time::Instant;

#[cfg(target_arch = "x86_64")]
use seminas::controller::kernel::{Kernel, sgemm, sgemm_avx2};

/// The kernels timed here are x86-64's.
#[cfg(not(target_arch = "x86_64"))]
fn main() {
    eprintln!("kernel_shapes times the x86-64 kernels; this CPU has none of them");
}

#[cfg(target_arch = "x86_64")]
fn main() {
    let shapes: &[(&str, usize, usize, usize, bool, usize)] = &[
        // name, m, k, n, A transposed, ldb
        ("input proj 1350x64x256", 1350, 64, 256, false, 256),
        ("recurrent 50x64x256", 50, 64, 256, false, 256),
        ("bwd recurrent 50x256x64", 50, 256, 64, false, 64),
        ("dW 64x1350x256 (A^T)", 64, 1350, 256, true, 256),
        ("dx 1350x256x64", 1350, 256, 64, false, 64),
        ("proj 1350x128x64", 1350, 128, 64, false, 64),
        ("dWproj 128x1350x64 (A^T)", 128, 1350, 64, true, 64),
        ("attn 27x27x64", 27, 27, 64, false, 64),
        ("attn 27x64x64", 27, 64, 64, false, 64),
    ];
    for &(name, m, k, n, tr, ldb) in shapes {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3)
            .collect();
        let b: Vec<f32> = (0..k * ldb)
            .map(|i| ((i * 104_729) % 1000) as f32 * 1e-3)
            .collect();
        let mut c = vec![0.0f32; m * n];
        let (rsa, csa) = if tr { (1, m) } else { (k, 1) };
        let flops = 2.0 * (m * k * n) as f64;
        let reps = ((3e7 / flops) as usize).max(1);
        let mut line = format!("{name:>28}");
        for kern in [Kernel::Avx512, Kernel::Avx2, Kernel::Matrixmultiply] {
            if !kern.supported() {
                continue;
            }
            let mut best = f64::INFINITY;
            for _ in 0..60 {
                let t0 = Instant::now();
                for _ in 0..reps {
                    unsafe {
                        match kern {
                            Kernel::Avx512 => sgemm(
                                m,
                                k,
                                n,
                                a.as_ptr(),
                                rsa,
                                csa,
                                b.as_ptr(),
                                ldb,
                                1.0,
                                c.as_mut_ptr(),
                                n,
                            ),
                            Kernel::Avx2 => sgemm_avx2(
                                m,
                                k,
                                n,
                                a.as_ptr(),
                                rsa,
                                csa,
                                b.as_ptr(),
                                ldb,
                                1.0,
                                c.as_mut_ptr(),
                                n,
                            ),
                            Kernel::Matrixmultiply => matrixmultiply::sgemm(
                                m,
                                k,
                                n,
                                1.0,
                                a.as_ptr(),
                                rsa as isize,
                                csa as isize,
                                b.as_ptr(),
                                ldb as isize,
                                1,
                                1.0,
                                c.as_mut_ptr(),
                                n as isize,
                                1,
                            ),
                        }
                    }
                }
                best = best.min(t0.elapsed().as_secs_f64());
            }
            line += &format!("  {kern}: {:6.1} GFLOP/s", flops * reps as f64 / best / 1e9);
        }
        println!("{line}");
    }
}
