//! Reports of finished searches: the summary object (human text and JSON), run logs, plots.

pub mod bench;
pub mod plot;

use std::fmt;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::benchmark::Evaluator;
use crate::search::{QueryRecord, SearchRun, StopReason};
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
    };
    let ctx = SummaryContext {
        objective_name: evaluator.objective_name().to_string(),
        report_name: evaluator.report_name().to_string(),
        reference_size: reference.map(|r| r.len()),
        stop: run.stop,
        failures: run.records.iter().filter(|r| r.result.is_err()).count(),
        not_evaluable: run.not_evaluable,
        cost_seconds: run
            .records
            .iter()
            .filter_map(|r| r.result.as_ref().ok())
            .map(|e| e.cost_seconds)
            .sum(),
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
}

/// Writes `queries.jsonl` (one line per query: n, arch, objective, report, seconds and the
/// evaluator's other metrics if any; or n, arch, error for a failed one) and `summary.json` into `dir`, creating it if needed.
pub fn write_run_dir<S: SearchSpace>(
    dir: &Path,
    space: &S,
    records: &[QueryRecord<S::Arch>],
    summary: &Summary,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("queries.jsonl"))?);
    for r in records {
        let line = match &r.result {
            Ok(e) => QueryLine {
                n: r.n,
                arch: space.to_json(&r.arch),
                objective: Some(e.objective),
                report: e.report,
                seconds: Some(e.cost_seconds),
                error: None,
                metrics: Some(&e.metrics).filter(|m| !m.is_empty()),
            },
            Err(reason) => QueryLine {
                n: r.n,
                arch: space.to_json(&r.arch),
                objective: None,
                report: None,
                seconds: None,
                error: Some(reason),
                metrics: None,
            },
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    let mut s = serde_json::to_string_pretty(summary)?;
    s.push('\n');
    std::fs::write(dir.join("summary.json"), s)
}
