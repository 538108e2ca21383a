//! `seminas bench`: every algorithm x budget x seed on a benchmark, the paper-style table, and
//! (with `--out`) per-run CSV and best-so-far plots.
//!
//! With `--out DIR` the bench is resumable: `DIR/bench-settings.json` records what determines a
//! run's result (the seminas build, the space and table, the algorithm settings), each finished
//! run is appended to `DIR/runs.csv` at once, and a bench started again on the same directory
//! with the same settings runs only what is missing. The table, curves and plots are written
//! (atomically) when every run is done.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use seminas::compare::output::{DERIVED_FILES, write_comparison_dir};
use seminas::compare::{
    BenchTable, BudgetUnit, CompareConfig, RunResult, dedup, run_comparison_resuming, runs_file,
};
use seminas::evaluator::Evaluator;
use seminas::report::write_atomic;
use seminas::search::Algo;
use seminas::space::SearchSpace;

use super::search::AlgoArgs;
use super::spaces::{Problem, SpaceArgs};

/// Arguments of `seminas bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    space: SpaceArgs,
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
}

/// What must be equal for runs already in an output directory to be continued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BenchSettings {
    /// The seminas version.
    seminas: String,
    /// Size and FNV-1a hash of the seminas executable: another build may search differently.
    binary: String,
    /// The space, table and columns (the command-line arguments that choose them).
    space: String,
    /// The algorithm settings.
    algorithm_settings: String,
}

impl BenchSettings {
    fn of(args: &BenchArgs) -> anyhow::Result<Self> {
        Ok(Self {
            seminas: env!("CARGO_PKG_VERSION").to_string(),
            binary: binary_fingerprint()?,
            space: format!("{:?}", args.space),
            algorithm_settings: format!("{:?}", args.algo),
        })
    }

    /// The name of the first setting that differs from `other`.
    fn first_difference(&self, other: &Self) -> Option<&'static str> {
        if self.seminas != other.seminas {
            Some("seminas version")
        } else if self.binary != other.binary {
            Some("seminas build (the executable changed)")
        } else if self.space != other.space {
            Some("space, table or columns")
        } else if self.algorithm_settings != other.algorithm_settings {
            Some("algorithm settings")
        } else {
            None
        }
    }
}

fn binary_fingerprint() -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot locate the seminas executable")?;
    let bytes = std::fs::read(&exe).with_context(|| format!("cannot read {}", exe.display()))?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Ok(format!("{} bytes, fnv1a {h:016x}", bytes.len()))
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

/// Prepares `dir` for a bench with `settings`: returns the runs it already holds (a bench
/// with the same settings was stopped or finished there), or refuses a directory holding runs
/// of other settings. Leaves `runs.csv` holding those runs (an unfinished last line dropped),
/// ready to be appended to, and removes the files derived from it, which the bench rewrites
/// when it is done.
fn prepare_out(
    dir: &Path,
    settings: &BenchSettings,
    unit: BudgetUnit,
) -> anyhow::Result<Vec<RunResult>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let settings_path = dir.join("bench-settings.json");
    let runs_path = dir.join("runs.csv");
    let mut finished = Vec::new();
    if settings_path.exists() {
        let text = std::fs::read_to_string(&settings_path)
            .with_context(|| format!("cannot read {}", settings_path.display()))?;
        let stored: BenchSettings = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a bench settings file", settings_path.display()))?;
        if let Some(what) = settings.first_difference(&stored) {
            anyhow::bail!(
                "{} holds runs of a bench with another {what} (see {}); they cannot be \
                 continued: remove the directory (or its runs.csv) to start over, or choose \
                 another --out",
                dir.display(),
                settings_path.display()
            );
        }
        if runs_path.exists() {
            let text = std::fs::read_to_string(&runs_path)
                .with_context(|| format!("cannot read {}", runs_path.display()))?;
            let parsed = runs_file::parse(&runs_path.display().to_string(), &text)
                .map_err(anyhow::Error::msg)?;
            if parsed.truncated {
                eprintln!(
                    "note: {} ended in an unfinished line (a killed bench); that run is run again",
                    runs_path.display()
                );
            }
            let mut seen = HashSet::new();
            finished = parsed
                .runs
                .into_iter()
                .filter(|r| seen.insert((r.algo.clone(), r.budget, r.seed)))
                .collect();
        }
    }
    write_atomic(
        &settings_path,
        (serde_json::to_string_pretty(settings)? + "\n").as_bytes(),
    )?;
    for name in DERIVED_FILES {
        let path = dir.join(name);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(e).with_context(|| format!("cannot remove {}", path.display()));
        }
    }
    let mut text = format!("{}\n", runs_file::header(unit));
    for r in &finished {
        text.push_str(&runs_file::line(r));
    }
    write_atomic(&runs_path, text.as_bytes())?;
    Ok(finished)
}

fn execute<S: SearchSpace + Clone, E: Evaluator<S>>(
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
    let config = CompareConfig {
        algos,
        budgets,
        seeds: args.seeds,
        first_seed: 0,
        algo_config: args.algo.config()?,
        unit,
        prune: args.algo.pruner()?,
    };
    // Before the output directory is touched: a refused setting leaves nothing behind.
    config.validate()?;
    if unit == BudgetUnit::Trainings
        && let Some(cost) = evaluator
            .fidelities()
            .and_then(|f| f.full_cost)
            .filter(|c| *c > 0.0)
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
    let mut journal = None;
    if let Some(dir) = &args.out {
        finished = prepare_out(dir, &BenchSettings::of(args)?, unit)
            .with_context(|| format!("cannot use {} for results", dir.display()))?;
        let path = dir.join("runs.csv");
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        journal = Some(Mutex::new((file, None::<std::io::Error>)));
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
        if let Some(j) = &journal {
            let mut j = j.lock().unwrap_or_else(|e| e.into_inner());
            if j.1.is_none() {
                let line = runs_file::line(r);
                if let Err(e) = j.0.write_all(line.as_bytes()).and_then(|()| j.0.flush()) {
                    j.1 = Some(e);
                }
            }
        }
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    if let Some((_, Some(e))) = journal.map(|j| j.into_inner().unwrap_or_else(|e| e.into_inner())) {
        return Err(e).context("cannot append to runs.csv");
    }
    let table = BenchTable {
        space: Some(space.name().to_string()),
        objective: Some(evaluator.objective_name().to_string()),
        report: Some(evaluator.report_name().to_string()),
        optimum: evaluator.reference().and_then(|r| r.optimum()),
        unit,
        training_seconds: (unit == BudgetUnit::Trainings)
            .then(|| evaluator.fidelities().and_then(|f| f.full_cost))
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
