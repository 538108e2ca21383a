//! `seminas nb101 ...`: NAS-Bench-101 utilities (enumeration, dataset info, synthetic files).
//! All real work is in `seminas::space::nb101` and `seminas::benchmark::nb101`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use seminas::benchmark::nb101::dataset::{Nb101Dataset, peak_rss_bytes};
use seminas::benchmark::nb101::synth::{SynthOptions, write_synthetic};
use seminas::space::SearchSpace;
use seminas::space::nb101::{Nb101Space, enumerate};

/// NAS-Bench-101 subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Nb101Command {
    /// Writes every unique cell (423,624) as JSON lines {"hash","matrix","ops"}.
    Enumerate {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Loads an official-format file and prints record count, unique cells and load time.
    Info {
        /// The .tfrecord file (e.g. nasbench_only108.tfrecord).
        #[arg(long)]
        file: PathBuf,
    },
    /// Writes a synthetic file in the official format (random metrics), by default the size of
    /// nasbench_only108.tfrecord: every unique cell, 3 repeats, 108 epochs.
    Synth {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Epoch budgets, comma-separated, each from 1 to 4294967295.
        #[arg(long, value_delimiter = ',', default_value = "108")]
        epochs: Vec<u32>,
        /// Runs per cell and budget, from 1 to 1,000.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Only the first N cells (any number; at most the 423,624 cells are written).
        #[arg(long)]
        limit: Option<usize>,
        /// Seed of the random metrics (any u64).
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Prints the official module hash of a cell (ADJACENCY:OPS or {"matrix":..,"ops":..}).
    Hash {
        /// The cell.
        cell: String,
    },
}

/// Runs a NAS-Bench-101 subcommand.
pub fn run(cmd: &Nb101Command) -> anyhow::Result<()> {
    match cmd {
        Nb101Command::Enumerate { out } => {
            let t = Instant::now();
            let cells = enumerate::enumerate_with_hashes();
            let enumerated = t.elapsed();
            let mut w = BufWriter::new(
                File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
            );
            let space = Nb101Space::new();
            for (h, c) in &cells {
                let mut line = space.to_json(c);
                line["hash"] = serde_json::Value::String(h.to_string());
                serde_json::to_writer(&mut w, &line)?;
                w.write_all(b"\n")?;
            }
            w.flush()
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "{} unique cells, enumerated and hashed in {:.2} s, written to {} in {:.2} s total",
                cells.len(),
                enumerated.as_secs_f64(),
                out.display(),
                t.elapsed().as_secs_f64()
            );
        }
        Nb101Command::Info { file } => {
            let t = Instant::now();
            let d = Nb101Dataset::load(file)?;
            let secs = t.elapsed().as_secs_f64();
            println!("file: {}", file.display());
            println!("records: {}", d.num_records());
            println!("unique cells: {}", d.num_models());
            println!("epoch budgets: {:?}", d.epochs());
            println!("load time: {secs:.2} s");
            if let Some(rss) = peak_rss_bytes() {
                println!("peak RSS: {:.0} MiB", rss as f64 / (1024.0 * 1024.0));
            }
            if let Some(&e) = d.epochs().last() {
                let best = |f: &dyn Fn(&seminas::benchmark::nb101::Nb101Model) -> Option<f64>| {
                    d.models()
                        .iter()
                        .filter_map(|m| f(m).map(|v| (v, m.hash)))
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                };
                if let Some((v, h)) = best(&|m| m.mean_validation_accuracy(e)) {
                    println!("best mean validation accuracy at {e} epochs: {v:.6} ({h})");
                }
                if let Some((v, h)) = best(&|m| m.mean_test_accuracy(e)) {
                    println!("best mean test accuracy at {e} epochs: {v:.6} ({h})");
                }
            }
        }
        Nb101Command::Synth {
            out,
            epochs,
            repeats,
            limit,
            seed,
        } => {
            use seminas::settings::{MAX_REPEATS, in_range};
            // Before the file exists: a refused setting leaves nothing behind.
            for &e in epochs {
                in_range("epochs", e, 1, u32::MAX)?;
            }
            in_range("repeats", *repeats, 1, MAX_REPEATS)?;
            let t = Instant::now();
            let mut w = BufWriter::with_capacity(
                1 << 20,
                File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
            );
            let n = write_synthetic(
                &mut w,
                &SynthOptions {
                    epochs: epochs.clone(),
                    repeats: *repeats,
                    seed: *seed,
                    limit: *limit,
                },
            )
            .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "{n} records written to {} in {:.2} s",
                out.display(),
                t.elapsed().as_secs_f64()
            );
        }
        Nb101Command::Hash { cell } => {
            let space = Nb101Space::new();
            let c = space.parse(cell)?;
            println!("{}", c.module_hash()?);
        }
    }
    Ok(())
}
