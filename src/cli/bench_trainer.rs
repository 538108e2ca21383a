//! `seminas bench-trainer`: training throughput of a fixed NB201 network, and the ratio to
//! PyTorch on the same machine when PyTorch is installed.

use clap::Args;
#[cfg(feature = "trainer")]
use seminas::space::{Nb201Space, SearchSpace};
#[cfg(feature = "trainer")]
use seminas::trainer::TrainDevice;
#[cfg(feature = "trainer")]
use seminas::trainer::bench::{ThroughputConfig, throughput, torch_reference};

/// The best NAS-Bench-201 cell on CIFAR-10 (index 9930 of the benchmark).
const BEST_CELL: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

/// Arguments of `seminas bench-trainer`.
#[cfg_attr(not(feature = "trainer"), allow(dead_code))]
#[derive(Debug, Args)]
pub struct BenchTrainerArgs {
    /// The NB201 cell to train (official string).
    #[arg(long, default_value = BEST_CELL)]
    cell: String,
    /// Channels of the first stage (C; 16 as published), from 1 to 8,192.
    #[arg(long, default_value_t = 16)]
    channels: usize,
    /// Cells per stage (N; 5 as published), from 1 to 1,000.
    #[arg(long, default_value_t = 5)]
    cells: usize,
    /// Image side (32: CIFAR-10; 28: Fashion-MNIST), from 4 to 4,096.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Image channels (3: CIFAR-10; 1: Fashion-MNIST), from 1 to 8,192.
    #[arg(long, default_value_t = 3)]
    in_channels: usize,
    /// Images per step, from 1 to 1,000,000.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Timed steps (after 2 untimed ones), from 1 to 1e9.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Threads for both libraries, from 1 to 1,024 (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Train on CUDA GPU N, from 0 to 1,023 (needs the `cuda` build feature); PyTorch then
    /// runs on its GPU too.
    #[arg(long)]
    cuda: Option<usize>,
    /// Python interpreter for the PyTorch reference.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Skip the PyTorch reference.
    #[arg(long)]
    no_torch: bool,
    /// Print JSON: {"config","cell","seminas":{"images_per_s","seconds_per_step","params",
    /// "last_loss"},"torch":{"images_per_s","seconds_per_step","params","torch","threads"} or
    /// null,"torch_note","ratio"} (ratio: seminas images/s divided by PyTorch's).
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark and prints images/s (and the ratio to PyTorch).
#[cfg(not(feature = "trainer"))]
pub fn run(args: &BenchTrainerArgs) -> anyhow::Result<()> {
    validate(args)?;
    Err(super::evaluators::without_trainer("bench-trainer"))
}

/// Checks the numeric settings (with or without the trainer built in).
fn validate(args: &BenchTrainerArgs) -> Result<(), seminas::settings::SettingError> {
    use seminas::settings::{
        MAX_BATCH, MAX_CELLS, MAX_IMAGE_SIZE, MAX_STEPS, MAX_TRAIN_CHANNELS, MAX_WORKERS,
        MIN_IMAGE_SIZE, in_range,
    };
    in_range("channels", args.channels, 1, MAX_TRAIN_CHANNELS)?;
    in_range("cells", args.cells, 1, MAX_CELLS)?;
    in_range("size", args.size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)?;
    in_range("in-channels", args.in_channels, 1, MAX_TRAIN_CHANNELS)?;
    in_range("batch", args.batch, 1, MAX_BATCH)?;
    in_range("steps", args.steps, 1, MAX_STEPS)?;
    if let Some(t) = args.threads {
        in_range("threads", t, 1, MAX_WORKERS)?;
    }
    if let Some(c) = args.cuda {
        seminas::settings::cuda_device(c, cfg!(feature = "cuda"))?;
    }
    Ok(())
}

/// Runs `seminas bench-trainer`.
#[cfg(feature = "trainer")]
pub fn run(args: &BenchTrainerArgs) -> anyhow::Result<()> {
    validate(args)?;
    let space = Nb201Space::new();
    let arch = space.parse(&args.cell)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let cfg = ThroughputConfig {
        channels: args.channels,
        cells: args.cells,
        size: args.size,
        in_channels: args.in_channels,
        batch: args.batch,
        steps: args.steps,
        warmup: 2,
        threads,
    };
    let device = args.cuda.map_or(TrainDevice::Cpu, TrainDevice::Cuda);
    let ours = throughput(&arch, &cfg, device)?;
    let (torch, note) = if args.no_torch {
        (None, "skipped (--no-torch)".to_string())
    } else {
        torch_reference(&args.python, &args.cell, &cfg, args.cuda.is_some())
    };
    let ratio = torch
        .as_ref()
        .and_then(|t| t.get("images_per_s")?.as_f64())
        .map(|t| ours.images_per_s / t);
    if args.json {
        let out = serde_json::json!({
            "config": cfg,
            "cell": args.cell,
            "seminas": ours,
            "torch": torch,
            "torch_note": note,
            "ratio": ratio,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "NB201 cell {}\nC={} N={} input {}x{}x{} batch {} threads {}, {} timed steps ({} parameters)",
        args.cell,
        cfg.channels,
        cfg.cells,
        cfg.in_channels,
        cfg.size,
        cfg.size,
        cfg.batch,
        threads,
        cfg.steps,
        ours.params
    );
    println!(
        "seminas (burn {}): {:.1} images/s ({:.3} s/step, loss {:.3})",
        if args.cuda.is_some() {
            "cuda"
        } else {
            "flex CPU"
        },
        ours.images_per_s,
        ours.seconds_per_step,
        ours.last_loss
    );
    match (&torch, ratio) {
        (Some(t), Some(r)) => println!(
            "PyTorch {} {}: {:.1} images/s ({:.3} s/step)\nratio seminas / PyTorch: {:.3}",
            t["torch"].as_str().unwrap_or("?"),
            t["device"].as_str().unwrap_or("cpu"),
            t["images_per_s"].as_f64().unwrap_or(f64::NAN),
            t["seconds_per_step"].as_f64().unwrap_or(f64::NAN),
            r
        ),
        _ => println!("PyTorch: {note}"),
    }
    Ok(())
}
