//! `seminas bench-controller`: controller training speed on synthetic data.

use clap::Args;

/// Arguments of `seminas bench-controller`.
#[derive(Debug, Args)]
pub struct BenchControllerArgs {
    /// Data-set sizes to time (samples per epoch), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1100,21000")]
    sizes: Vec<usize>,
    /// Epochs timed per size (the best one is reported).
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Seed of the synthetic data and the initial weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the report as JSON: {"config","params","threads","cases":[{"samples","epochs",
    /// "best_epoch_s","mean_epoch_s","samples_per_s","flops_per_sample","gflops","cpu_epoch_s",
    /// "last_loss"}],
    /// "predict_10k_s","generate_10k_s","peak_rss_mib","peak_rss_with_inference_mib",
    /// "load_avg_1m"}.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark and prints its table (or JSON).
pub fn run(args: &BenchControllerArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.sizes.is_empty(), "--sizes needs at least one size");
    anyhow::ensure!(args.epochs > 0, "--epochs must be positive");
    let report = seminas::controller::bench::run(&args.sizes, args.epochs, args.seed);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
