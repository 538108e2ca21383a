//! `seminas bench-controller`: training speed of the controller on synthetic data.
//!
//! Synthetic data: uniformly random sequences over tokens `1..vocab` and standard-normal-like
//! targets, with the paper's network (`ControllerConfig::default()`: vocabulary 7, 27 tokens,
//! batch 100). Each size is trained for a few epochs on one controller; the best epoch time is
//! reported (the first epoch pays for page faults and thread start-up).

use std::fmt;
use std::time::Instant;

use rand::Rng as _;
use serde::Serialize;

use super::{Controller, ControllerConfig};
use crate::rng::rng_for;
use crate::space::TokenEncoding;

/// Timing of one data-set size.
#[derive(Debug, Clone, Serialize)]
pub struct BenchCase {
    /// Number of training samples (one epoch = this many samples).
    pub samples: usize,
    /// Epochs timed.
    pub epochs: usize,
    /// Fastest epoch, seconds.
    pub best_epoch_s: f64,
    /// Mean epoch, seconds.
    pub mean_epoch_s: f64,
    /// Samples per second in the fastest epoch.
    pub samples_per_s: f64,
    /// Matrix-multiply FLOPs per sample (forward + backward), see [`flops_per_sample`].
    pub flops_per_sample: f64,
    /// FLOP/s reached in the fastest epoch, in GFLOP/s.
    pub gflops: f64,
    /// CPU seconds (all threads) of the fastest epoch: robust to other load on the machine,
    /// `cpu_epoch_s / threads` is the wall time on otherwise idle cores.
    pub cpu_epoch_s: Option<f64>,
    /// Mean loss of the last epoch (a sanity check that training ran).
    pub last_loss: f64,
}

/// The whole benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Configuration benchmarked.
    pub config: ControllerConfig,
    /// Number of trainable parameters.
    pub params: usize,
    /// Threads in rayon's pool.
    pub threads: usize,
    /// The matrix kernel that ran (see [`super::active_kernel`]).
    pub kernel: super::Kernel,
    /// The instruction set of the elementwise passes (see [`super::active_isa`]).
    pub isa: super::Isa,
    /// One entry per size.
    pub cases: Vec<BenchCase>,
    /// Seconds to predict 10,000 sequences (eval mode, all threads); `None` when skipped.
    pub predict_10k_s: Option<f64>,
    /// Seconds for one NAO generation step (`lambda = 1`) from 10,000 sequences.
    pub generate_10k_s: Option<f64>,
    /// Peak resident set size (VmHWM) after the training cases, MiB, when known.
    pub peak_rss_mib: Option<f64>,
    /// Peak resident set size after the inference timings too, MiB, when known.
    pub peak_rss_with_inference_mib: Option<f64>,
    /// The machine's 1-minute load average when the benchmark ended (other work slows
    /// wall-clock times; CPU seconds are less affected), when known.
    pub load_avg_1m: Option<f64>,
}

/// Floating-point operations of the matrix products (2 per multiply-add) of one training
/// sample: forward plus backward. Elementwise work (activations, softmax, normalisation,
/// dropout, Adam) is not counted; it is a few percent of this.
pub fn flops_per_sample(cfg: &ControllerConfig) -> f64 {
    let (t, h, v) = (cfg.length as f64, cfg.hidden as f64, cfg.vocab_size as f64);
    let g4 = 4.0 * h;
    let mm = |m: f64, k: f64, n: f64| 2.0 * m * k * n;
    // Encoder: two directions; the first step's recurrent product is skipped (h0 = 0).
    let enc_lstm_f = 2.0 * (mm(t, h, g4) + mm(t - 1.0, h, g4));
    // backward: recurrent dh (T-1 steps), dW_ih, dW_hh, dx.
    let enc_lstm_b = 2.0 * (mm(t - 1.0, g4, h) + 3.0 * mm(t, h, g4));
    let proj_f = mm(t, 2.0 * h, h);
    let widths = cfg.mlp_widths();
    let mlp_f: f64 = widths
        .windows(2)
        .map(|w| mm(1.0, w[0] as f64, w[1] as f64))
        .sum::<f64>()
        + mm(1.0, h, 1.0);
    let dec_lstm_f = mm(t, h, g4) + mm(t, h, g4);
    let dec_lstm_b = 4.0 * mm(t, h, g4);
    let att_f = mm(t, h, h) + 2.0 * mm(t, t, h) + mm(t, 2.0 * h, h);
    let att_b = 2.0 * mm(t, h, h) + 4.0 * mm(t, t, h) + 2.0 * mm(t, 2.0 * h, h);
    let out_f = mm(t, h, v);
    enc_lstm_f
        + enc_lstm_b
        + 3.0 * proj_f
        + 3.0 * mlp_f
        + dec_lstm_f
        + dec_lstm_b
        + att_f
        + att_b
        + 3.0 * out_f
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`), if readable.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time of this process so far (all threads, Linux `schedstat`, nanosecond resolution).
pub fn process_cpu_seconds() -> Option<f64> {
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let path = entry.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total as f64 / 1e9)
}

/// Trains a default controller on `samples` synthetic samples for each entry of `sizes`,
/// timing `epochs` epochs each, then times inference.
pub fn run(sizes: &[usize], epochs: usize, seed: u64) -> BenchReport {
    run_with(sizes, epochs, seed, true)
}

/// [`run`], timing inference only when `inference` is true (without it, a run is short enough
/// to count instructions under `valgrind --tool=callgrind`).
pub fn run_with(sizes: &[usize], epochs: usize, seed: u64, inference: bool) -> BenchReport {
    let cfg = ControllerConfig::default();
    let enc = TokenEncoding {
        vocab_size: cfg.vocab_size,
        allowed: vec![(1..cfg.vocab_size as u32).collect(); cfg.length],
        token_names: (0..cfg.vocab_size).map(|i| format!("t{i}")).collect(),
    };
    let fps = flops_per_sample(&cfg);
    let mut params = 0;
    let cases = sizes
        .iter()
        .map(|&samples| {
            let mut rng = rng_for(seed, "bench-controller");
            let seqs: Vec<Vec<u32>> = (0..samples)
                .map(|_| {
                    (0..cfg.length)
                        .map(|_| rng.gen_range(1..cfg.vocab_size as u32))
                        .collect()
                })
                .collect();
            let targets: Vec<f32> = (0..samples)
                .map(|_| rng.gen_range(-1.0f32..1.0) + rng.gen_range(-1.0f32..1.0))
                .collect();
            let mut ctl = Controller::new(cfg.clone(), &enc, &mut rng);
            params = ctl.num_params();
            let mut times = Vec::with_capacity(epochs);
            let mut cpu = Vec::with_capacity(epochs);
            let mut last_loss = f64::NAN;
            for _ in 0..epochs.max(1) {
                let c0 = process_cpu_seconds();
                let t0 = Instant::now();
                last_loss = ctl.train(&seqs, &targets, 1, &mut rng).loss;
                times.push(t0.elapsed().as_secs_f64());
                cpu.push(c0.zip(process_cpu_seconds()).map(|(a, b)| b - a));
            }
            let (best_i, best) =
                times
                    .iter()
                    .copied()
                    .enumerate()
                    .fold(
                        (0, f64::INFINITY),
                        |a, (i, t)| if t < a.1 { (i, t) } else { a },
                    );
            let mean = times.iter().sum::<f64>() / times.len() as f64;
            BenchCase {
                samples,
                epochs: times.len(),
                best_epoch_s: best,
                mean_epoch_s: mean,
                samples_per_s: samples as f64 / best,
                flops_per_sample: fps,
                gflops: fps * samples as f64 / best / 1e9,
                cpu_epoch_s: cpu[best_i],
                last_loss,
            }
        })
        .collect();
    let peak_rss_train = peak_rss_mib();
    let (predict_10k_s, generate_10k_s) = if inference {
        let mut rng = rng_for(seed, "bench-controller-infer");
        let seqs: Vec<Vec<u32>> = (0..10_000)
            .map(|_| {
                (0..cfg.length)
                    .map(|_| rng.gen_range(1..cfg.vocab_size as u32))
                    .collect()
            })
            .collect();
        let ctl = Controller::new(cfg.clone(), &enc, &mut rng);
        let t0 = Instant::now();
        let p = ctl.predict(&seqs);
        let predict_10k_s = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let g = ctl.generate(&seqs, 1.0);
        let generate_10k_s = t0.elapsed().as_secs_f64();
        assert_eq!((p.len(), g.len()), (seqs.len(), seqs.len()));
        (Some(predict_10k_s), Some(generate_10k_s))
    } else {
        (None, None)
    };
    BenchReport {
        config: cfg,
        params,
        threads: rayon::current_num_threads(),
        kernel: super::active_kernel(),
        isa: super::active_isa(),
        cases,
        predict_10k_s,
        generate_10k_s,
        peak_rss_mib: peak_rss_train,
        peak_rss_with_inference_mib: peak_rss_mib(),
        load_avg_1m: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok()),
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "controller: vocab {}, length {}, hidden {}, batch {}, {} parameters, {} threads, \
             {} matrix kernel, {} elementwise passes",
            c.vocab_size,
            c.length,
            c.hidden,
            c.batch_size,
            self.params,
            self.threads,
            self.kernel,
            self.isa
        )?;
        writeln!(
            f,
            "{:>8} {:>7} {:>10} {:>10} {:>10} {:>12} {:>8} {:>9}",
            "samples",
            "epochs",
            "best s/ep",
            "mean s/ep",
            "samples/s",
            "MFLOP/sample",
            "GFLOP/s",
            "CPU s/ep"
        )?;
        for r in &self.cases {
            writeln!(
                f,
                "{:>8} {:>7} {:>10.3} {:>10.3} {:>10.0} {:>12.2} {:>8.1} {:>9}",
                r.samples,
                r.epochs,
                r.best_epoch_s,
                r.mean_epoch_s,
                r.samples_per_s,
                r.flops_per_sample / 1e6,
                r.gflops,
                r.cpu_epoch_s.map_or("-".to_string(), |c| format!("{c:.3}"))
            )?;
        }
        if let (Some(p), Some(g)) = (self.predict_10k_s, self.generate_10k_s) {
            writeln!(
                f,
                "inference on 10000 sequences: predict {p:.3} s, generate (lambda 1) {g:.3} s"
            )?;
        }
        let mib = |m: Option<f64>| m.map_or("unknown".to_string(), |m| format!("{m:.1} MiB"));
        writeln!(
            f,
            "peak RSS: {} training, {} with inference",
            mib(self.peak_rss_mib),
            mib(self.peak_rss_with_inference_mib)
        )?;
        match self.load_avg_1m {
            Some(l) => write!(f, "load average (1 min) at the end: {l:.2}"),
            None => write!(f, "load average: unknown"),
        }
    }
}
