//! Reports of finished searches: the summary object (human text and JSON), run logs, plots.

pub mod plot;
pub mod run;
pub mod text_plot;

use std::fmt;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::evaluator::Evaluator;
use crate::search::run::{QueryRecord, SearchRun, StopReason};
use crate::space::SearchSpace;

/// The best architecture a search found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestArch {
    /// The architecture (the space's JSON form; a cell string for NAS-Bench-201).
    pub arch: serde_json::Value,
    /// Its objective.
    pub objective: f64,
    /// Its reported metric, if the evaluator gives one.
    pub report: Option<f64>,
    /// Rank of its reported metric among all architectures the benchmark knows (1 = best).
    pub rank: Option<usize>,
}

/// The result of one search, as printed with `--json` and written to `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Search space name.
    pub space: String,
    /// Search algorithm name.
    pub algo: String,
    /// The seed.
    pub seed: u64,
    /// Queries spent.
    pub queries: usize,
    /// The best architecture by objective, if any query succeeded.
    pub best: Option<BestArch>,
    /// Benchmark optimum of the reported metric minus the found one (benchmarks only).
    pub regret: Option<f64>,
    /// Queries whose training was stopped early (absent when none was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<usize>,
    /// What a run directory's `summary.json` adds (see [`Summary::with_run`]); absent from
    /// `--json`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunFacts>,
}

/// How a stored run went: its settings, time, failures and evaluation cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunFacts {
    /// The settings: algorithm, budget, seed, workers, direction and the command's arguments.
    pub settings: serde_json::Value,
    /// Wall time of the search in this process (seconds; a resumed run counts from its
    /// resumption).
    pub wall_seconds: f64,
    /// Failed queries.
    pub failures: usize,
    /// Proposals the evaluator could not evaluate (free).
    pub not_evaluable: usize,
    /// Proposals that repeated a known architecture (free).
    pub repeats: usize,
    /// Sum of the evaluations' recorded costs (seconds of training).
    pub cost_seconds: f64,
    /// Why the search stopped.
    pub stop: StopReason,
}

impl Summary {
    /// The summary with the facts of its run, as `summary.json` holds it.
    pub fn with_run(mut self, facts: RunFacts) -> Self {
        self.run = Some(facts);
        self
    }
}

/// Context for the human-readable form of a [`Summary`].
#[derive(Debug, Clone)]
pub struct SummaryContext {
    /// Objective column name.
    pub objective_name: String,
    /// Report column name.
    pub report_name: String,
    /// How many architectures the benchmark knows, if it is a benchmark.
    pub reference_size: Option<usize>,
    /// Why the search stopped.
    pub stop: StopReason,
    /// Failed queries.
    pub failures: usize,
    /// Proposals that were not evaluable.
    pub not_evaluable: usize,
    /// Sum of evaluation costs (seconds).
    pub cost_seconds: f64,
    /// The best architecture in the space's text form.
    pub best_text: Option<String>,
}

/// Builds the summary of a finished search.
pub fn summarize<S, E>(
    space: &S,
    evaluator: &E,
    algo: &str,
    seed: u64,
    run: &SearchRun<S::Arch>,
) -> (Summary, SummaryContext)
where
    S: SearchSpace,
    E: Evaluator<S> + ?Sized,
{
    let reference = evaluator.reference();
    let best = run.best().map(|r| {
        let e = r.result.as_ref().expect("best is a success");
        BestArch {
            arch: space.to_json(&r.arch),
            objective: e.objective,
            report: e.report,
            rank: match (reference, e.report) {
                (Some(refr), Some(rep)) => Some(refr.rank(rep)),
                _ => None,
            },
        }
    });
    let regret = match (reference.and_then(|r| r.optimum()), &best) {
        (
            Some(opt),
            Some(BestArch {
                report: Some(rep), ..
            }),
        ) => Some(round9(opt - rep)),
        _ => None,
    };
    let summary = Summary {
        space: space.name().to_string(),
        algo: algo.to_string(),
        seed,
        queries: run.records.len(),
        best,
        regret,
        stopped: Some(run.stopped()).filter(|&n| n > 0),
        run: None,
    };
    let ctx = SummaryContext {
        objective_name: evaluator.objective_name().to_string(),
        report_name: evaluator.report_name().to_string(),
        reference_size: reference.map(|r| r.len()),
        stop: run.stop,
        failures: run.records.iter().filter(|r| r.result.is_err()).count(),
        not_evaluable: run.not_evaluable,
        cost_seconds: run.cost_seconds(),
        best_text: run.best().map(|r| space.format(&r.arch)),
    };
    (summary, ctx)
}

/// Rounds away float noise from differences of table values (e.g. 94.3733 - 94.3 printed as
/// 0.0733, not 0.07330000000000325).
fn round9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

/// The summary as a person reads it.
pub struct HumanSummary<'a>(pub &'a Summary, pub &'a SummaryContext);

impl fmt::Display for HumanSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, c) = (self.0, self.1);
        writeln!(f, "search: {} on {}, seed {}", s.algo, s.space, s.seed)?;
        let stop = match c.stop {
            StopReason::Budget => "budget spent",
            StopReason::Exhausted => "searcher exhausted the space",
            StopReason::Stalled => {
                "stalled: too many proposals in a row were known or not evaluable"
            }
        };
        write!(f, "queries: {} ({stop}", s.queries)?;
        if c.failures > 0 {
            write!(f, "; {} failed", c.failures)?;
        }
        if let Some(n) = s.stopped {
            write!(f, "; {n} trainings stopped early")?;
        }
        if c.not_evaluable > 0 {
            write!(
                f,
                "; {} proposals not evaluable, not counted",
                c.not_evaluable
            )?;
        }
        writeln!(f, ")")?;
        if c.cost_seconds > 0.0 {
            let t = c.cost_seconds;
            let cost = if t >= 3600.0 {
                format!("{:.1} h", t / 3600.0)
            } else if t >= 60.0 {
                format!("{:.1} min", t / 60.0)
            } else {
                format!("{t:.1} s")
            };
            writeln!(f, "evaluation cost: {cost} of training")?;
        }
        let Some(b) = &s.best else {
            return writeln!(f, "no architecture was evaluated successfully");
        };
        let arch = match (&c.best_text, &b.arch) {
            (Some(text), _) => text.clone(),
            (None, serde_json::Value::String(s)) => s.clone(),
            (None, other) => other.to_string(),
        };
        writeln!(f, "best architecture by {}:", c.objective_name)?;
        writeln!(f, "  {arch}")?;
        let w = c.objective_name.len().max(c.report_name.len());
        writeln!(
            f,
            "  {:<w$}  {:.4}   (objective)",
            c.objective_name, b.objective
        )?;
        if let Some(r) = b.report {
            write!(f, "  {:<w$}  {r:.4}   (reported)", c.report_name)?;
            if let (Some(rank), Some(n)) = (b.rank, c.reference_size) {
                write!(f, ", rank {rank} of {n}")?;
            }
            writeln!(f)?;
        }
        if let Some(r) = s.regret {
            writeln!(f, "regret ({}): {r:.4}", c.report_name)?;
        }
        Ok(())
    }
}

/// One line of `queries.jsonl`.
#[derive(Serialize)]
struct QueryLine<'a> {
    n: usize,
    arch: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    objective: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<&'a std::collections::BTreeMap<String, f64>>,
    /// The step its training was stopped at (it was pruned).
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_at: Option<u64>,
    /// Its learning curve: `[step, objective, cost_seconds]` per reported step.
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<Vec<(u64, f64, f64)>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    /// 0-based proposal index: the evaluation's folder `evals/<index>` (6 digits).
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<crate::search::Origin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    predicted: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished: Option<f64>,
}

/// One query as a line of `queries.jsonl` (without the newline): `n`, `arch`, then
/// `objective`, `report`, `seconds` (the evaluation's recorded cost) and `metrics` (if the
/// evaluator gave more), `stopped_at` (the step a training stopped early was stopped at; its
/// objective is that step's), `steps` (`[step, objective, cost]` per reported step) and `note`
/// (bad step reports that were ignored), or `error` for a failed query; then `index` (the proposal's number,
/// its folder under `evals/`), `origin` and `predicted` (when the searcher said), `started`
/// and `finished` (Unix seconds, when known).
pub fn query_line<S: SearchSpace>(space: &S, r: &QueryRecord<S::Arch>) -> String {
    let (objective, report, seconds, error, metrics) = match &r.result {
        Ok(e) => (
            Some(e.objective),
            e.report,
            Some(e.cost_seconds),
            None,
            Some(&e.metrics).filter(|m| !m.is_empty()),
        ),
        Err(reason) => (None, None, None, Some(reason.as_str()), None),
    };
    let ok = r.result.as_ref().ok();
    let steps = ok.filter(|e| !e.steps.is_empty()).map(|e| {
        e.steps
            .iter()
            .map(|s| (s.step, s.objective, s.cost_seconds))
            .collect()
    });
    let line = QueryLine {
        n: r.n,
        arch: space.to_json(&r.arch),
        objective,
        report,
        seconds,
        error,
        metrics,
        stopped_at: ok.and_then(|e| e.stopped_at),
        steps,
        note: ok.and_then(|e| e.note.as_deref()),
        index: r.index,
        origin: r.info.origin,
        predicted: r.info.predicted.filter(|p| p.is_finite()),
        started: r.started_unix,
        finished: r.finished_unix,
    };
    serde_json::to_string(&line).expect("a query line serialises")
}

/// `queries.jsonl` of a run directory as the search goes: one line appended and flushed per
/// query as it is told, so that it can be read (and followed) while the search runs.
pub struct QueryLog {
    file: std::fs::File,
}

impl QueryLog {
    /// Starts `dir/queries.jsonl` afresh (a resumed run writes its replayed queries again).
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let file = std::fs::File::create(dir.join("queries.jsonl"))?;
        Ok(Self { file })
    }

    /// Appends one query (one write of one whole line).
    pub fn append<S: SearchSpace>(
        &mut self,
        space: &S,
        r: &QueryRecord<S::Arch>,
    ) -> std::io::Result<()> {
        let mut line = query_line(space, r);
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }
}

/// Writes `queries.jsonl` (one line per query, see [`query_line`]) and `summary.json` into
/// `dir`, creating it if needed; both are written to a temporary file and renamed into place.
pub fn write_run_dir<S: SearchSpace>(
    dir: &Path,
    space: &S,
    records: &[QueryRecord<S::Arch>],
    summary: &Summary,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut text = String::new();
    for r in records {
        text.push_str(&query_line(space, r));
        text.push('\n');
    }
    write_atomic(&dir.join("queries.jsonl"), text.as_bytes())?;
    let mut s = serde_json::to_string_pretty(summary)?;
    s.push('\n');
    write_atomic(&dir.join("summary.json"), s.as_bytes())
}

/// Writes `data` to `path` atomically: to `.NAME.tmp` beside it, synced, then renamed over
/// `path`.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} is not a file path", path.display())))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}
