//! `seminas report DIR [DIR ...]`: one table and one plot from several comparison directories
//! (`seminas bench --out DIR`, `benches/peers/optuna_bench.py bench --out DIR`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use seminas::compare::combine::combine;
use seminas::compare::output::write_comparison_dir;

/// Arguments of `seminas report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Directories written by `seminas bench --out` (or by benches/peers/optuna_bench.py), each
    /// holding runs.csv, and table.json and curves.csv if it has them. An algorithm name found
    /// in two directories is shown as `NAME (DIR)` the second time.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Write the combined runs.csv, curves.csv, table.json and plot (curves.svg, curves.png)
    /// into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the table as JSON (the form of `seminas bench --json`).
    #[arg(long)]
    json: bool,
}

/// Runs `seminas report`.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let (cmp, table) = combine(&args.dirs)?;
    if let Some(out) = &args.out {
        write_comparison_dir(out, &cmp, &table, &[])
            .with_context(|| format!("cannot write results to {}", out.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&table)?);
    } else {
        println!(
            "report of {} on {}: {} searches",
            args.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            table.space.as_deref().unwrap_or("an unnamed benchmark"),
            cmp.runs.len()
        );
        print!(
            "{}",
            cmp.table(table.report.as_deref().unwrap_or("reported value"))
        );
        if let Some(out) = &args.out {
            println!("results written to {}", out.display());
        }
    }
    Ok(())
}
