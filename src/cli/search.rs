//! `seminas search`: one search, a human summary or JSON on stdout, logs in `--out DIR`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use seminas::evaluator::Evaluator;
use seminas::evaluator::Pruner;
use seminas::report::HumanSummary;
use seminas::search::{Algo, AlgoConfig, AlgoOverrides};
use seminas::space::SearchSpace;
use seminas::store::{RunMeta, RunStore};
use seminas::study::engine::Restored;
use seminas::study::{Direction, Halt, StopPolicy, Study, StudyError, StudySettings, TimeBudget};

use super::watch::{Mode, Reporter};
use seminas::benchmark::problem::{Problem, ProblemArgs};
use seminas::evaluator::options::{EvalArgs, EvaluatorChoice};
use seminas::match_space;
#[cfg(feature = "trainer")]
use seminas::space::AnyOf;

/// Arguments of `seminas search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    space: ProblemArgs,
    /// Search algorithm: random, re, nao, seminas, seminas-re, seminas-ens [default: the best
    /// available, seminas-ens]
    #[arg(long, help_heading = "Algorithm")]
    algo: Option<Algo>,
    /// Query budget: evaluations of distinct architectures (a training stopped early counts
    /// as one), at least 1 [default: 100; no limit with a budget in training time].
    #[arg(long, help_heading = "Algorithm")]
    queries: Option<usize>,
    /// Budget in training time: no new evaluation starts once the evaluations told so far cost
    /// this many seconds (a table's cost column, or the measured time of each command; a
    /// training stopped early costs what it ran). Trainings that report steps may then be
    /// stopped early (see --prune). Above 0 and at most 1e14.
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "Algorithm",
        conflicts_with = "budget_trainings"
    )]
    budget_seconds: Option<f64>,
    /// Budget in training time, in whole trainings' worth: N times the mean cost of a whole
    /// training in the table (tables with fidelities, whose cost column gives it); above 0,
    /// at most a budget of 1e14 seconds.
    #[arg(long, value_name = "N", help_heading = "Algorithm")]
    budget_trainings: Option<f64>,
    /// Seed of every random choice (any u64).
    #[arg(long, default_value_t = 0, help_heading = "Algorithm")]
    seed: u64,
    /// Minimise the objective (an error, a loss, a latency) instead of maximising it. The
    /// summary's best is then the smallest objective, without rank and regret (those rank
    /// the reported metric, larger first).
    #[arg(long, help_heading = "Algorithm")]
    minimize: bool,
    #[command(flatten)]
    algo_args: AlgoArgs,
    /// Stop (exit status 1) when the first N evaluations of this process all failed: a broken
    /// training command should not spend the budget. The run can be continued with `seminas
    /// resume DIR` once the command is fixed. At least 1.
    #[arg(long, value_name = "N", help_heading = "Evaluation")]
    max_failures: Option<usize>,
    #[command(flatten)]
    eval: EvalArgs,
    /// Print the summary as one JSON object instead of text.
    #[arg(long, help_heading = "Output")]
    json: bool,
    /// The run directory: the run store (run.sqlite, resumable with `seminas resume DIR`),
    /// one folder per evaluation under evals/ (evaluators that keep files), queries.jsonl
    /// (a line per query as it finishes) and summary.json at the end. With --evaluator it
    /// defaults to a new folder under seminas-runs/.
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    out: Option<PathBuf>,
    /// No progress on stderr (by default: a bar on a terminal, else a log line per query).
    #[arg(long, help_heading = "Output")]
    quiet: bool,
    /// Off a terminal: a heartbeat line after this many seconds without one (e.g. while a
    /// controller trains); from 0.1 to 1e9.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30.0,
        help_heading = "Output"
    )]
    pub(super) heartbeat: f64,
}

/// Settings of the search algorithms, shared by `search` and `bench`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Algorithm")]
pub struct AlgoArgs {
    #[command(flatten)]
    overrides: AlgoOverrides,
    /// Early stopping of trainings, for evaluators that report steps (a table with
    /// fidelities, a command printing {"step": N, "objective": V}): `auto` (with a budget in
    /// training time, the searcher's own rule where it has one: seminas-ens; otherwise none),
    /// `none`, `asha[:eta=3,min-step=S]` (asynchronous successive halving), `hyperband[:eta=3,
    /// min-step=S]`, `median[:startup=5,warmup=0]` or `percentile[:p=25,startup=5,warmup=0]`
    /// (stop a training below the p-th percentile of the others at the same step).
    #[arg(
        long,
        value_name = "auto|none|asha|hyperband|median|percentile",
        default_value = "auto",
        help_heading = "Early stopping"
    )]
    pub prune: String,
}

impl AlgoArgs {
    /// The pruner chosen, `None` for `auto`.
    pub fn pruner(&self) -> anyhow::Result<Option<seminas::evaluator::Pruner>> {
        if self.prune.trim() == "auto" {
            return Ok(None);
        }
        seminas::evaluator::Pruner::parse(&self.prune)
            .map(Some)
            .map_err(anyhow::Error::msg)
    }

    /// The settings of `algos`, checked: a setting none of them uses is an error.
    pub fn config(&self, algos: &[Algo]) -> anyhow::Result<AlgoConfig> {
        Ok(self.overrides.config_for(algos)?)
    }
}

/// A stored run being resumed.
pub struct Resume {
    /// The run's store, locked.
    pub store: RunStore,
    /// Queries to add to its budget (`seminas resume DIR --queries N`).
    pub extend: usize,
}

/// Runs `seminas search` (a new run, or a stored one resumed).
pub fn run(args: &SearchArgs, resume: Option<Resume>) -> anyhow::Result<()> {
    use seminas::settings::{budget, in_range};
    if let Some(q) = args.queries {
        in_range("queries", q, 1, usize::MAX)?;
    }
    if let Some(v) = args.budget_seconds {
        budget("budget-seconds", v)?;
    }
    if let Some(v) = args.budget_trainings {
        budget("budget-trainings", v)?;
    }
    if let Some(n) = args.max_failures {
        in_range("max-failures", n, 1, usize::MAX)?;
    }
    seminas::settings::heartbeat(args.heartbeat)?;
    // Before a run directory exists: a refused setting leaves nothing behind.
    args.eval.validate()?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let store = resume;
    // Known before the evaluator is built (cluster jobs are named after the run).
    let run_id = match &store {
        Some(r) => r.store.meta().run_id.clone(),
        None => RunMeta::new_run_id(&format!("{:?}", args.out)),
    };
    #[cfg(not(feature = "trainer"))]
    for (choice, name) in [
        (EvaluatorChoice::Train, "train"),
        (EvaluatorChoice::Supernet, "supernet"),
    ] {
        if args.eval.evaluator.as_ref() == Some(&choice) {
            return Err(super::evaluators::without_trainer(&format!(
                "--evaluator {name}"
            )));
        }
    }
    #[cfg(feature = "trainer")]
    match &args.eval.evaluator {
        Some(EvaluatorChoice::Train) => {
            own_report_only(args, "train")?;
            let trainer = super::evaluators::trainer(
                &args.eval.train,
                args.space.dataset,
                args.eval.workers,
            )?;
            return match args.space.space_only()? {
                AnyOf::Nb201(space) => execute(args, &space, &trainer, store, &run_id),
                AnyOf::Nb101(space) => execute(args, &space, &trainer, store, &run_id),
                _ => anyhow::bail!(
                    "the built-in trainer builds NAS-Bench-201 and NAS-Bench-101 networks \
                     (--space nb201, nb101, nb101-20k); for --space mobile use --evaluator supernet"
                ),
            };
        }
        Some(EvaluatorChoice::Supernet) => {
            let AnyOf::Mobile(space) = args.space.space_only()? else {
                anyhow::bail!(
                    "--evaluator supernet is the weight-sharing supernet of --space mobile"
                );
            };
            anyhow::ensure!(
                args.eval.workers == 1,
                "--evaluator supernet trains one shared network: use one worker (its labels \
                 depend on the order of evaluations)"
            );
            own_report_only(args, "supernet")?;
            let supernet =
                super::evaluators::supernet(&args.eval.train, args.space.dataset, &space)?;
            return execute(args, &space, &supernet, store, &run_id);
        }
        _ => {}
    }
    if let Some(EvaluatorChoice::Command(template)) = &args.eval.evaluator {
        args.space.no_dataset(
            "to NAS-Bench-201's embedded tables and the built-in trainer (a command reads its \
             own data)",
        )?;
        // A warning, not an error: braces may be the command's own (e.g. a Python f-string).
        for name in seminas::evaluator::command::unknown_placeholders(template) {
            eprintln!(
                "warning: --evaluator holds {name}, which is not a placeholder ({}): it reaches \
                 the command as is",
                seminas::evaluator::command::PLACEHOLDERS.join(", ")
            );
        }
        let evaluator =
            args.eval
                .external(template, args.space.report.as_deref(), &cwd, &run_id)?;
        return match_space!(args.space.space_only()?, space => {
            execute(args, &space, &evaluator, store, &run_id)
        });
    }
    match args.space.problem()? {
        Problem::Table(space, bench) => {
            match_space!(space, space => execute(args, &space, &bench, store, &run_id))
        }
        Problem::Nb101File(space, bench) => execute(args, &space, bench.as_ref(), store, &run_id),
    }
}

/// The built-in evaluators report their own test accuracy: a `--report` there is a mistake.
#[cfg(feature = "trainer")]
fn own_report_only(args: &SearchArgs, evaluator: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.space.report.is_none(),
        "--report names a metric of an --evaluator COMMAND's result; --evaluator {evaluator} \
         reports its own test accuracy"
    );
    Ok(())
}

/// The run directory of a new run: `--out`, or for real evaluations (which must never be
/// lost) a fresh folder under `seminas-runs/`.
fn new_run_dir(args: &SearchArgs, real: bool) -> Option<PathBuf> {
    if let Some(dir) = &args.out {
        // Absolute, so that stored and exported paths (SEMINAS_WORKDIR) do not depend on
        // where a resume starts from.
        return Some(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()));
    }
    real.then(|| {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let space = Path::new(&args.space.space.to_string())
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "space".into());
        let algo = args.algo.unwrap_or_else(Algo::best_available);
        let dir =
            PathBuf::from("seminas-runs").join(format!("{space}-{algo}-seed{}-{unix}", args.seed));
        std::path::absolute(&dir).unwrap_or(dir)
    })
}

fn execute<S: SearchSpace + Clone, E: Evaluator<S>>(
    args: &SearchArgs,
    space: &S,
    evaluator: &E,
    resume: Option<Resume>,
    run_id: &str,
) -> anyhow::Result<()> {
    let settings = study_settings(args, evaluator)?;
    let algo = settings.algo;
    if let Some(w) = algo.small_budget_warning(settings.plan_budget(), &settings.config) {
        eprintln!("{w}");
    }
    let own = evaluator.reseed(args.seed);
    let evaluator = own.as_ref().unwrap_or(evaluator);
    let mut study = open_study(args, space, evaluator, settings, resume, run_id)?;
    let reporter = Reporter::start(
        Mode::detect(args.quiet),
        &format!("{algo} on {}", space.name()),
        // A resumed run's budget includes its extensions.
        study.budget(),
        args.minimize,
        study.phase(),
        seminas::settings::heartbeat(args.heartbeat)?,
    );
    let result = study.optimize(evaluator, &mut |q| reporter.query(q));
    reporter.finish();
    let dir = study.store().map(|s| s.dir().display().to_string());
    result.map_err(|e| match (&e, &dir) {
        (StudyError::Halted(_), Some(d)) => anyhow::anyhow!(
            "{}; every finished evaluation is kept: continue with `seminas resume {d}`",
            halted_text(&e, args.max_failures)
        ),
        (StudyError::Halted(_), None) => anyhow::anyhow!("{}", halted_text(&e, args.max_failures)),
        (_, Some(d)) => anyhow::Error::new(e).context(format!(
            "the search stopped; every finished evaluation is kept in {d}: continue with \
             `seminas resume {d}`"
        )),
        (_, None) => e.into(),
    })?;
    let (summary, ctx) = study.finish(evaluator)?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", HumanSummary(&summary, &ctx));
        if let Some(dir) = dir {
            println!("results written to {dir}");
        }
    }
    Ok(())
}

/// A halt of the stop policy as the command line tells it, naming the flag to change.
fn halted_text(e: &StudyError, max_failures: Option<usize>) -> String {
    match e {
        StudyError::Halted(Halt::MissingReport { query, reason }) => {
            format!("query {query}: {reason}: name one of them with --report")
        }
        StudyError::Halted(Halt::AllFailed { count, last }) => format!(
            "the first {count} evaluations all failed (--max-failures {}); the last: {last}",
            max_failures.unwrap_or(*count)
        ),
        other => other.to_string(),
    }
}

/// The study's settings from the arguments: budgets in queries or training time (which needs
/// the cost of a whole training), the pruner (which needs steps), the stop policy.
fn study_settings<S: SearchSpace, E: Evaluator<S>>(
    args: &SearchArgs,
    evaluator: &E,
) -> anyhow::Result<StudySettings> {
    let fidelities = evaluator.fidelities();
    let prune = args.algo_args.pruner()?;
    if prune.as_ref().is_some_and(|p| *p != Pruner::None) && fidelities.is_none() {
        anyhow::bail!(
            "--prune {} needs trainings that report steps: a table with --fidelity columns, \
             or --evaluator COMMAND with --max-step (the command printing {{\"step\": N, \
             \"objective\": V}} lines)",
            args.algo_args.prune
        );
    }
    let algo = args.algo.unwrap_or_else(Algo::best_available);
    let mut settings = StudySettings {
        algo,
        config: args.algo_args.config(&[algo])?,
        workers: args.eval.workers.max(1),
        direction: if args.minimize {
            Direction::Minimize
        } else {
            Direction::Maximize
        },
        prune,
        stop: StopPolicy {
            max_failures: args.max_failures,
        },
        ..StudySettings::new(args.queries.unwrap_or(100), args.seed)
    };
    let time = match (args.budget_seconds, args.budget_trainings) {
        (Some(s), _) => Some(TimeBudget::Seconds(s)),
        (None, n) => n.map(TimeBudget::Trainings),
    };
    if let Some(t) = time {
        settings.time_budget(t, args.queries, evaluator.full_training_cost())?;
    }
    Ok(settings)
}

/// The study of a new run (stored in its run directory, if it has one) or of a resumed one,
/// with the evaluator's candidates and fidelities, and a stateful evaluator's stored state
/// put back.
fn open_study<S: SearchSpace + Clone, E: Evaluator<S>>(
    args: &SearchArgs,
    space: &S,
    evaluator: &E,
    settings: StudySettings,
    resume: Option<Resume>,
    run_id: &str,
) -> anyhow::Result<Study<S>> {
    let (store, extend) = match resume {
        Some(r) => (Some(r.store), r.extend),
        None => (None, 0),
    };
    let real = args.eval.evaluator.is_some();
    // A new run's store is made only now, once its arguments have proved valid.
    let mut study = match (store, new_run_dir(args, real)) {
        (Some(store), _) => Study::with_store(space.clone(), settings, store)?,
        (None, Some(dir)) => Study::create(
            space.clone(),
            settings,
            &dir,
            std::env::args().skip(1).collect(),
            run_id.to_string(),
        )?,
        (None, None) => Study::new(space.clone(), settings),
    }
    .with_candidates(seminas::search::evaluable_pool(space, evaluator))
    .with_fidelities(evaluator.fidelities());
    if extend > 0 {
        study.extend(extend)?;
    }
    if let (Some(store), Some(name)) = (study.store(), evaluator.state_name()) {
        match study.restore_evaluator(evaluator)? {
            Restored::Nothing => {}
            Restored::State { after } => eprintln!(
                "the {name} continues from its state after proposal {after} (the newest \
                 finished evaluation)"
            ),
            Restored::Missing { outcomes, .. } => eprintln!(
                "warning: {} holds {outcomes} finished evaluation(s) but not the {name}'s state \
                 after them (a run stored by an older seminas): the {name} restarts untrained, \
                 so the evaluations still to come differ from those of an uninterrupted run",
                store.dir().display()
            ),
        }
    }
    if let Some(store) = study.store()
        && real
    {
        eprintln!(
            "run directory: {} (if interrupted, continue with `seminas resume {}`)",
            store.dir().display(),
            store.dir().display()
        );
    }
    Ok(study)
}
