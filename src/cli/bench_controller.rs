//! `seminas bench-controller`: controller training speed on synthetic data.

use anyhow::Context;
use clap::Args;
use seminas::controller::{EarlyStopping, Kernel};
use seminas::predictor::timed_round::RoundSettings;

/// Arguments of `seminas bench-controller`.
#[derive(Debug, Args)]
pub struct BenchControllerArgs {
    /// Data-set sizes to time (samples per epoch), comma-separated, each from 1 to
    /// 10,000,000.
    #[arg(long, value_delimiter = ',', default_value = "1100,21000")]
    sizes: Vec<usize>,
    /// Epochs timed per size (the best one is reported), from 1 to 1,000,000.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Seed of the synthetic data and the initial weights (any u64).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Matrix kernels to time, comma-separated, each on the same data (`avx512`, `avx2`,
    /// `matrixmultiply`); the first is the one compared against the others. Default: the one
    /// this CPU uses (see `SEMINAS_KERNEL`). The elementwise passes follow the kernel (`avx2`:
    /// AVX2 passes too, as on a CPU without AVX-512) unless `SEMINAS_ISA` names a set.
    #[arg(long, value_delimiter = ',')]
    kernels: Vec<String>,
    /// Skip the inference timings (e.g. to count instructions under callgrind).
    #[arg(long)]
    no_inference: bool,
    /// Instead of epoch times: the controller training of one SemiNAS round at the paper's
    /// NAS-Bench-101 settings on the embedded nb101-20k table (1,100 evaluated cells, 1,000
    /// epochs, 10,000 pseudo-labelled, 500 epochs on up-sampled + pseudo-labelled pairs), once
    /// per --early-stopping variant: seconds and epochs per phase and the predictor's Kendall
    /// tau on 1,000 held-out cells.
    #[arg(long)]
    round: bool,
    /// With --round: early-stopping variants, comma-separated: `off` or
    /// `HELD_OUT/PATIENCE[/tau][/second]` (e.g. `0.1/10`; `/tau`: watch the held-out Kendall
    /// tau instead of the loss; `/second`: the first training runs all its epochs).
    #[arg(long, value_delimiter = ',', default_value = "off,0.1/10")]
    early_stopping: Vec<String>,
    /// With --round: epochs of the first training (on the evaluated pairs), from 1 to
    /// 1,000,000.
    #[arg(long, default_value_t = 1000)]
    pretrain_epochs: usize,
    /// With --round: epochs of the second training (up-sampled + pseudo-labelled pairs), from
    /// 1 to 1,000,000.
    #[arg(long, default_value_t = 500)]
    train_epochs: usize,
    /// Instead of the comparison: where an epoch's time goes, per size (one kernel): the CPU
    /// seconds of each phase of a training step summed over the threads (encoder, decoder and
    /// predictor, forward and backward; the losses; transposes), of which in matrix products,
    /// the main thread's gradient sum and Adam update, and the time left to waiting, with the
    /// CPU, the kernel, the instruction set and the cache sizes detected.
    #[arg(long)]
    profile: bool,
    /// Print the report as JSON (a list of reports when several kernels are timed):
    /// {"config","params","threads","kernel","isa","cases":[{"samples","epochs",
    /// "best_epoch_s","mean_epoch_s","samples_per_s","flops_per_sample","gflops","cpu_epoch_s",
    /// "last_loss"}],
    /// "predict_10k_s","generate_10k_s","peak_rss_mib","peak_rss_with_inference_mib",
    /// "load_avg_1m"}.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark and prints its table (or JSON).
pub fn run(args: &BenchControllerArgs) -> anyhow::Result<()> {
    use seminas::settings::{MAX_EPOCHS, MAX_SAMPLES, in_range};
    anyhow::ensure!(!args.sizes.is_empty(), "--sizes needs at least one size");
    for &s in &args.sizes {
        in_range("sizes", s, 1, MAX_SAMPLES)?;
    }
    in_range("epochs", args.epochs, 1, MAX_EPOCHS)?;
    in_range("pretrain-epochs", args.pretrain_epochs, 1, MAX_EPOCHS)?;
    in_range("train-epochs", args.train_epochs, 1, MAX_EPOCHS)?;
    let mut kernels = Vec::new();
    for name in &args.kernels {
        let k = Kernel::parse(name.trim()).with_context(|| {
            format!("--kernels: unknown kernel {name:?} (avx512, avx2 or matrixmultiply)")
        })?;
        anyhow::ensure!(
            k.supported(),
            "--kernels: this CPU cannot run the {k} kernel"
        );
        kernels.push(k);
    }
    if kernels.is_empty() {
        kernels.push(seminas::controller::active_kernel());
    }
    if args.round {
        anyhow::ensure!(
            kernels.len() == 1,
            "--round times one kernel; give at most one in --kernels"
        );
        seminas::controller::set_kernel(kernels[0])?;
        let variants = args
            .early_stopping
            .iter()
            .map(|v| parse_early_stopping(v.trim()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let settings = RoundSettings {
            pretrain_epochs: args.pretrain_epochs,
            train_epochs: args.train_epochs,
            ..RoundSettings::default()
        };
        let report = seminas::predictor::timed_round::run(&settings, &variants, args.seed);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{report}");
        }
        return Ok(());
    }
    if args.profile {
        anyhow::ensure!(
            kernels.len() == 1,
            "--profile times one kernel; give at most one in --kernels"
        );
        seminas::controller::set_kernel(kernels[0])?;
        let reports: Vec<_> = args
            .sizes
            .iter()
            .map(|&n| {
                seminas::controller::profile::ProfileReport::measure(n, args.epochs, args.seed)
            })
            .collect();
        if args.json {
            println!("{}", serde_json::to_string_pretty(&reports)?);
        } else {
            for r in &reports {
                println!("{r}");
            }
        }
        return Ok(());
    }
    let mut reports = Vec::new();
    for &k in &kernels {
        seminas::controller::set_kernel(k)?;
        let report = seminas::controller::bench::run_with(
            &args.sizes,
            args.epochs,
            args.seed,
            !args.no_inference,
        );
        if !args.json {
            println!("{report}");
        }
        reports.push(report);
    }
    if args.json {
        if reports.len() == 1 {
            println!("{}", serde_json::to_string_pretty(&reports[0])?);
        } else {
            println!("{}", serde_json::to_string_pretty(&reports)?);
        }
        return Ok(());
    }
    // Ratios against the first kernel, measured in this run (the machine's load changes
    // between runs).
    let first = &reports[0];
    for other in &reports[1..] {
        for (a, b) in first.cases.iter().zip(&other.cases) {
            let cpu = match (a.cpu_epoch_s, b.cpu_epoch_s) {
                (Some(x), Some(y)) => format!("{:.3}", x / y),
                _ => "-".to_string(),
            };
            println!(
                "{} vs {}, {} samples: best epoch time ratio {:.3}, CPU time ratio {cpu}",
                first.kernel,
                other.kernel,
                a.samples,
                a.best_epoch_s / b.best_epoch_s
            );
        }
    }
    Ok(())
}

/// `off`, or `HELD_OUT/PATIENCE[/tau]` such as `0.1/10`.
fn parse_early_stopping(v: &str) -> anyhow::Result<Option<EarlyStopping>> {
    seminas::search::parse_early_stopping(v).map_err(|e| anyhow::anyhow!("--early-stopping: {e}"))
}
