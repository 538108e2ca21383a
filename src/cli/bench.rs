//! `seminas bench`: every algorithm x budget x seed on a benchmark, the paper-style table, and
//! (with `--out`) per-run CSV and best-so-far plots.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use seminas::benchmark::Evaluator;
use seminas::compare::{CompareConfig, Comparison, Row, run_comparison};
use seminas::report::plot::{LinePlot, Series};
use seminas::search::Algo;
use seminas::space::SearchSpace;

use super::search::AlgoArgs;
use super::spaces::{Problem, SpaceArgs};

/// Arguments of `seminas bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    space: SpaceArgs,
    /// Algorithms to compare, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "random,re")]
    algos: Vec<Algo>,
    /// Query budgets, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "50,100,150")]
    queries: Vec<usize>,
    /// Number of seeds per algorithm and budget (seeds 0..N).
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// Print the table as JSON: {"rows":[{"algo","queries","seeds","mean_report","std_report","mean_regret","mean_rank"}]}.
    #[arg(long)]
    json: bool,
    /// Write runs.csv, curves.csv, curves.svg, curves.png and table.json into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    algo: AlgoArgs,
}

#[derive(Serialize)]
struct JsonTable<'a> {
    rows: &'a [Row],
}

/// Runs `seminas bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match args.space.problem()? {
        Problem::Nb201(space, bench) => execute(args, &space, &bench),
        Problem::Categorical(space, bench) => execute(args, &space, &bench),
        Problem::Nb101Table(space, bench) => execute(args, &space, &bench),
        Problem::Nb101File(space, bench) => execute(args, &space, bench.as_ref()),
    }
}

fn execute<S: SearchSpace, E: Evaluator<S>>(
    args: &BenchArgs,
    space: &S,
    evaluator: &E,
) -> anyhow::Result<()> {
    anyhow::ensure!(!args.algos.is_empty(), "--algos names no algorithm");
    anyhow::ensure!(
        !args.queries.is_empty() && args.queries.iter().all(|&q| q > 0),
        "--queries must list budgets of at least 1"
    );
    anyhow::ensure!(args.seeds > 0, "--seeds must be at least 1");
    let config = CompareConfig {
        algos: args.algos.clone(),
        budgets: args.queries.clone(),
        seeds: args.seeds,
        first_seed: 0,
        algo_config: args.algo.config()?,
    };
    let total = (config.algos.len() * config.budgets.len()) as u64 * config.seeds;
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "bench [{bar:30}] {pos}/{len} searches, {elapsed} elapsed, eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let cmp = run_comparison(space, evaluator, &config, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    if let Some(dir) = &args.out {
        write_out(dir, &cmp, space.name(), evaluator.report_name())
            .with_context(|| format!("cannot write results to {}", dir.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&JsonTable { rows: &cmp.rows })?);
    } else {
        println!(
            "bench on {}: {} searches in {seconds:.1} s ({} threads)",
            space.name(),
            cmp.runs.len(),
            rayon::current_num_threads()
        );
        print!("{}", cmp.table(evaluator.report_name()));
        if let Some(dir) = &args.out {
            println!("results written to {}", dir.display());
        }
    }
    Ok(())
}

fn write_out(
    dir: &std::path::Path,
    cmp: &Comparison,
    space: &str,
    report_name: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("runs.csv"), cmp.runs_csv())?;
    std::fs::write(dir.join("curves.csv"), cmp.curves_csv())?;
    std::fs::write(
        dir.join("table.json"),
        serde_json::to_string_pretty(&JsonTable { rows: &cmp.rows })? + "\n",
    )?;
    let seeds = cmp.rows.first().map(|r| r.seeds).unwrap_or(0);
    let plot = LinePlot {
        title: format!("Best so far on {space} (mean of {seeds} seeds, band = ±1 s.e.)"),
        x_label: "queries".into(),
        y_label: format!("{report_name} of the best architecture by objective"),
        series: cmp
            .curves
            .iter()
            .map(|c| Series {
                name: c.algo.clone(),
                y: c.mean.clone(),
                band: Some(c.stderr.clone()),
            })
            .collect(),
    };
    let svg = plot.to_svg();
    std::fs::write(dir.join("curves.svg"), &svg)?;
    #[cfg(feature = "plot")]
    std::fs::write(
        dir.join("curves.png"),
        seminas::report::plot::svg_to_png(&svg)?,
    )?;
    Ok(())
}
