//! `seminas search`: one search, a human summary or JSON on stdout, logs in `--out DIR`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use seminas::benchmark::Evaluator;
use seminas::report::{HumanSummary, summarize, write_run_dir};
use seminas::search::{Algo, AlgoConfig, Budget, ReConfig, run_search};
use seminas::space::SearchSpace;

use super::spaces::{Problem, SpaceArgs};

/// Arguments of `seminas search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    space: SpaceArgs,
    /// Search algorithm: random, re [default: the best available]
    #[arg(long)]
    algo: Option<Algo>,
    /// Query budget: evaluations of distinct architectures.
    #[arg(long, default_value_t = 100)]
    queries: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Write queries.jsonl and summary.json into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    algo_args: AlgoArgs,
}

/// Settings of the search algorithms, shared by `search` and `bench`.
#[derive(Debug, Args)]
pub struct AlgoArgs {
    /// Regularized evolution: population size.
    #[arg(long, default_value_t = ReConfig::default().population)]
    population: usize,
    /// Regularized evolution: tournament size.
    #[arg(long, default_value_t = ReConfig::default().tournament)]
    tournament: usize,
}

impl AlgoArgs {
    /// The algorithm settings, checked.
    pub fn config(&self) -> anyhow::Result<AlgoConfig> {
        anyhow::ensure!(
            self.population > 0 && self.tournament > 0,
            "--population and --tournament must be at least 1"
        );
        Ok(AlgoConfig {
            re: ReConfig {
                population: self.population,
                tournament: self.tournament,
                ..ReConfig::default()
            },
        })
    }
}

/// Runs `seminas search`.
pub fn run(args: &SearchArgs) -> anyhow::Result<()> {
    match args.space.problem()? {
        Problem::Nb201(space, bench) => execute(args, &space, &bench),
        Problem::Categorical(space, bench) => execute(args, &space, &bench),
    }
}

fn execute<S: SearchSpace, E: Evaluator<S>>(
    args: &SearchArgs,
    space: &S,
    evaluator: &E,
) -> anyhow::Result<()> {
    anyhow::ensure!(args.queries > 0, "--queries must be at least 1");
    let algo = args.algo.unwrap_or_else(Algo::best_available);
    let config = args.algo_args.config()?;
    let mut searcher = algo.build::<S>(args.seed, args.queries, &config);
    let bar =
        ProgressBar::with_draw_target(Some(args.queries as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} queries {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{algo} on {}", space.name()));
    let mut best = f64::NEG_INFINITY;
    let run = run_search(
        space,
        evaluator,
        searcher.as_mut(),
        Budget::queries(args.queries),
        &mut |q| {
            if let Ok(e) = &q.result
                && e.objective > best
            {
                best = e.objective;
                bar.set_message(format!("best objective {best:.4}"));
            }
            bar.inc(1);
        },
    );
    bar.finish_and_clear();
    let (summary, ctx) = summarize(space, evaluator, algo.name(), args.seed, &run);
    if let Some(dir) = &args.out {
        write_run_dir(dir, space, &run.records, &summary)
            .with_context(|| format!("cannot write results to {}", dir.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", HumanSummary(&summary, &ctx));
        if let Some(dir) = &args.out {
            println!("results written to {}", dir.display());
        }
    }
    Ok(())
}
