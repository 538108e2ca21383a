//! `seminas bench`: every algorithm x budget x seed on a benchmark, the paper-style table, and
//! (with `--out`) per-run CSV and best-so-far plots.
//!
//! With `--out DIR` the bench is resumable: `DIR/bench-settings.json` records what determines a
//! run's result (the seminas build, the space and table, the algorithm settings), each finished
//! run is appended to `DIR/runs.csv` at once, and a bench started again on the same directory
//! with the same settings runs only what is missing. The table, curves and plots are written
//! (atomically) when every run is done.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use seminas::compare::bench_dir::{BenchDir, BenchSettings};
use seminas::compare::output::write_comparison_dir;
use seminas::compare::{
    BenchTable, BudgetUnit, CompareConfig, RunResult, dedup, run_comparison_resuming,
};
use seminas::evaluator::Evaluator;
use seminas::search::Algo;
use seminas::space::SearchSpace;

use super::search::AlgoArgs;
use seminas::benchmark::problem::{Problem, ProblemArgs};
use seminas::match_space;

/// Arguments of `seminas bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    space: ProblemArgs,
    /// Algorithms to compare, comma-separated [default: every algorithm]. A name given twice
    /// runs once.
    #[arg(long, value_delimiter = ',')]
    algos: Vec<Algo>,
    /// Query budgets, comma-separated, each at least 1. A budget given twice runs once.
    #[arg(long, value_delimiter = ',', default_value = "50,100,150")]
    queries: Vec<usize>,
    /// Budgets in training time instead of queries: full trainings' worth (each the mean
    /// cost of a whole training in the table), comma-separated (e.g. 25,50,100). Each run
    /// starts trainings while those told cost less than its budget; its result is the best
    /// whole training among those that ended within it. Needs a table with a cost column.
    /// Each at least 1, and at most a budget of 1e14 seconds.
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    budget_trainings: Vec<usize>,
    /// Number of seeds per algorithm and budget (seeds 0..N); from 1 to 1,000,000, and at
    /// most 10,000,000 searches in all.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// Print the table as JSON: {"space","objective","report","optimum","rows":[{"algo",
    /// "queries","seeds","mean_report","std_report","mean_regret","mean_rank","hit_rate",
    /// "mean_seconds"}]}.
    #[arg(long)]
    json: bool,
    /// Write runs.csv, curves.csv, curves.svg, curves.png and table.json into this directory.
    /// A bench killed before it finished continues from the runs in DIR/runs.csv when started
    /// again with the same settings.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    algo: AlgoArgs,
    /// A bound, not a search: with --budget-trainings on a table with fidelities, stop at
    /// this step (one of the table's, below the last) exactly the trainings whose whole
    /// training will not beat the best whole training so far, read from the table, and let
    /// every other one finish. No stop rule deciding at that step can save an algorithm more
    /// (docs/search.md). Takes the place of the algorithms' own rules (--prune auto only).
    #[arg(long, value_name = "STEP")]
    clairvoyant: Option<u64>,
}

/// Runs `seminas bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match args.space.problem()? {
        Problem::Table(space, bench) => match_space!(space, space => execute(args, &space, &bench)),
        Problem::Nb101File(space, bench) => execute(args, &space, bench.as_ref()),
    }
}

fn execute<S: SearchSpace + Clone + 'static, E: Evaluator<S>>(
    args: &BenchArgs,
    space: &S,
    evaluator: &E,
) -> anyhow::Result<()> {
    let algos = if args.algos.is_empty() {
        Algo::ALL.to_vec()
    } else {
        dedup(&args.algos)
    };
    let (unit, given) = if args.budget_trainings.is_empty() {
        (BudgetUnit::Queries, &args.queries)
    } else {
        (BudgetUnit::Trainings, &args.budget_trainings)
    };
    let budgets = dedup(given);
    if algos.len() < args.algos.len() || budgets.len() < given.len() {
        eprintln!("note: an algorithm or budget named twice runs once");
    }
    anyhow::ensure!(
        !budgets.is_empty(),
        "--queries and --budget-trainings must list budgets of at least 1"
    );
    let algo_config = args.algo.config(&algos)?;
    let config = CompareConfig {
        algos,
        budgets,
        seeds: args.seeds,
        first_seed: 0,
        algo_config,
        unit,
        prune: args.algo.pruner()?,
        clairvoyant: args.clairvoyant,
    };
    // Before the output directory is touched: a refused setting leaves nothing behind.
    config.validate()?;
    if unit == BudgetUnit::Trainings
        && let Some(cost) = evaluator.full_training_cost().filter(|c| *c > 0.0)
    {
        for &b in &config.budgets {
            seminas::settings::training_budget(b as f64, cost)?;
        }
    }
    for algo in &config.algos {
        for &b in &config.budgets {
            if let Some(w) = algo.small_budget_warning(b, &config.algo_config) {
                eprintln!("{w}");
            }
        }
    }
    let mut finished = Vec::new();
    let mut bench_dir = None;
    if let Some(dir) = &args.out {
        let settings =
            BenchSettings::of_this_build(format!("{:?}", args.space), algo_settings(args))
                .context("cannot read the seminas executable")?;
        let (opened, held) = BenchDir::prepare(dir, &settings, unit)
            .with_context(|| format!("cannot use {} for results", dir.display()))?;
        if held.truncated {
            eprintln!(
                "note: {} ended in an unfinished line (a killed bench); that run is run again",
                dir.join("runs.csv").display()
            );
        }
        (finished, bench_dir) = (held.runs, Some(opened));
    }
    let wanted: HashSet<(String, usize, u64)> = config
        .algos
        .iter()
        .flat_map(|a| {
            config.budgets.iter().flat_map(move |&b| {
                (config.first_seed..config.first_seed + config.seeds)
                    .map(move |s| (a.name().to_string(), b, s))
            })
        })
        .collect();
    let (resumed, extra): (Vec<RunResult>, Vec<RunResult>) = finished
        .into_iter()
        .partition(|r| wanted.contains(&(r.algo.clone(), r.budget, r.seed)));
    if !resumed.is_empty() {
        eprintln!(
            "resuming: {} of {} runs were finished before",
            resumed.len(),
            wanted.len()
        );
    }
    let bar =
        ProgressBar::with_draw_target(Some(wanted.len() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "bench [{bar:30}] {pos}/{len} searches, {elapsed} elapsed, eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_position(resumed.len() as u64);
    bar.reset_eta();
    let started = std::time::Instant::now();
    let new_runs = wanted.len() - resumed.len();
    let cmp = run_comparison_resuming(space, evaluator, &config, resumed, &|r| {
        if let Some(d) = &bench_dir {
            d.append(r);
        }
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    if let Some(d) = bench_dir {
        d.close().context("cannot append to runs.csv")?;
    }
    let table = BenchTable {
        space: Some(space.name().to_string()),
        objective: Some(evaluator.objective_name().to_string()),
        report: Some(evaluator.report_name().to_string()),
        optimum: evaluator.reference().and_then(|r| r.optimum()),
        unit,
        training_seconds: (unit == BudgetUnit::Trainings)
            .then(|| evaluator.full_training_cost())
            .flatten(),
        rows: cmp.rows.clone(),
    };
    if let Some(dir) = &args.out {
        write_comparison_dir(dir, &cmp, &table, &extra)
            .with_context(|| format!("cannot write results to {}", dir.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&table)?);
    } else {
        println!(
            "bench on {}: {} searches ({new_runs} run now) in {seconds:.1} s ({} threads)",
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

/// The algorithm settings a bench directory records: what makes a run's result, so that a
/// directory is resumed only with the same (the clairvoyant's step only when given, so that
/// directories written before it existed stay resumable).
fn algo_settings(args: &BenchArgs) -> String {
    match args.clairvoyant {
        Some(step) => format!("{:?} clairvoyant at step {step}", args.algo),
        None => format!("{:?}", args.algo),
    }
}
