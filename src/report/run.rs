//! A stored run as a person reads it (`seminas show`) and as files other tools read
//! (`seminas export`: CSV, JSON lines).

use std::collections::BTreeSet;
use std::io::Write;

use super::text_plot::text_plot;
use crate::store::{RunState, RunView, TrialRow, TrialStatus};
use crate::time::{duration_text, unix_now, utc_text};

/// What `seminas show DIR` prints: state, settings, progress, early stopping, the best,
/// failures and the best objective by query.
pub fn run_text(run: &RunView) -> String {
    let mut s = String::new();
    let state = match run.state {
        RunState::Running => format!(
            "running (pid {})",
            run.pid.map_or_else(|| "?".into(), |p| p.to_string())
        ),
        RunState::Finished => "finished".into(),
        RunState::Stopped => format!(
            "stopped (continue it with `seminas resume {}`)",
            run.dir.display()
        ),
        RunState::Failed => format!(
            "failed: every query failed (see the failures below; fix the evaluator, then \
             `seminas resume {}`)",
            run.dir.display()
        ),
    };
    s += &format!("run {}: {state}\n", run.dir.display());
    s += &format!(
        "  {} on {}, seed {}, seminas {}\n",
        run.algo, run.space, run.seed, run.version
    );
    s += &format!("  command: seminas {}\n", run.args.join(" "));
    let end = match (run.state, run.trials.last()) {
        (RunState::Running, _) | (_, None) => unix_now(),
        (_, Some(t)) => t.finished_unix,
    };
    s += &format!(
        "  started {}, {} {}\n",
        utc_text(run.created_unix),
        duration_text(std::time::Duration::from_secs_f64(
            (end - run.created_unix).max(0.0)
        )),
        if run.state == RunState::Running {
            "so far"
        } else {
            "to its last query"
        }
    );
    let budget = match (run.budget, &run.time_budget) {
        (Some(b), Some(t)) => format!("/{b} queries (and a budget of {t})"),
        (Some(b), None) => format!("/{b} queries"),
        (None, Some(t)) => format!(" queries (budget: {t})"),
        (None, None) => "/? queries".into(),
    };
    s += &format!(
        "progress: {}{budget}, {} failed, {} not evaluable (free)\n",
        run.trials.len(),
        run.failures(),
        run.not_evaluable
    );
    let stopped = run.stopped();
    if stopped > 0 || !run.running_steps.is_empty() {
        let cost: f64 = run.trials.iter().filter_map(|t| t.cost_seconds).sum();
        let mut at: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
        for t in &run.trials {
            if let Some(step) = t.stopped_at {
                *at.entry(step).or_default() += 1;
            }
        }
        let at: Vec<String> = at.iter().map(|(s, n)| format!("{n} at step {s}")).collect();
        s += &format!(
            "early stopping: {stopped} of {} trainings stopped ({}); {} of training in all\n",
            run.trials.len(),
            if at.is_empty() {
                "none yet".into()
            } else {
                at.join(", ")
            },
            duration_text(std::time::Duration::from_secs_f64(cost.max(0.0)))
        );
        for (index, steps) in &run.running_steps {
            if let Some(last) = steps.last() {
                s += &format!(
                    "  proposal {index} is training: step {}, objective {:.4}\n",
                    last.0, last.1
                );
            }
        }
    }
    match run.best() {
        Some(b) => {
            s += &format!(
                "best so far: query {}, objective {:.4}",
                b.n,
                b.objective.unwrap_or(f64::NAN)
            );
            if let Some(r) = b.report {
                s += &format!(", report {r:.4}");
            }
            if let Some(o) = &b.origin {
                s += &format!(" ({o})");
            }
            s += &format!("\n  {}\n", arch_text(&b.arch));
        }
        None => s += "best so far: no query succeeded yet\n",
    }
    let failed: Vec<&TrialRow> = run
        .trials
        .iter()
        .filter(|t| t.status == TrialStatus::Failed)
        .collect();
    if !failed.is_empty() {
        s += &format!("failures ({}):\n", failed.len());
        for t in failed.iter().take(20) {
            let logs = t
                .evals_dir
                .as_ref()
                .map(|d| format!(" [logs: {}]", run.dir.join(d).display()))
                .unwrap_or_default();
            let reason = t.reason.as_deref().unwrap_or("").replace('\n', " ");
            s += &format!("  query {}: {}{logs}\n", t.n, shorten(&reason, 200));
        }
        if failed.len() > 20 {
            s += &format!(
                "  ... {} more (seminas export {})\n",
                failed.len() - 20,
                run.dir.display()
            );
        }
    }
    let plot = text_plot(&run.best_so_far(), 60, 10);
    if !plot.is_empty() {
        s += "best objective so far, by query:\n";
        s += &plot;
    }
    s
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}...")
}

/// An architecture as text: a JSON string as it is, anything else as compact JSON.
fn arch_text(arch: &serde_json::Value) -> String {
    match arch {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One JSON object per trial and line (`seminas export --format jsonl`).
pub fn write_jsonl(run: &RunView, out: &mut dyn Write) -> std::io::Result<()> {
    for t in &run.trials {
        serde_json::to_writer(&mut *out, t)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// One CSV row per trial, the evaluator's metrics as `metric:NAME` columns (`seminas
/// export`).
pub fn write_csv(run: &RunView, out: &mut dyn Write) -> Result<(), csv::Error> {
    let metrics: BTreeSet<&String> = run.trials.iter().flat_map(|t| t.metrics.keys()).collect();
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = [
        "n",
        "index",
        "status",
        "arch",
        "objective",
        "report",
        "cost_seconds",
        "origin",
        "predicted",
        "proposed_unix",
        "finished_unix",
        "reason",
        "evals_dir",
        "stopped_at",
        "steps",
    ]
    .map(String::from)
    .to_vec();
    header.extend(metrics.iter().map(|m| format!("metric:{m}")));
    w.write_record(&header)?;
    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for t in &run.trials {
        let mut row = vec![
            t.n.to_string(),
            t.index.to_string(),
            t.status.to_string(),
            arch_text(&t.arch),
            num(t.objective),
            num(t.report),
            num(t.cost_seconds),
            t.origin.clone().unwrap_or_default(),
            num(t.predicted),
            t.proposed_unix.to_string(),
            t.finished_unix.to_string(),
            t.reason.clone().unwrap_or_default(),
            t.evals_dir.clone().unwrap_or_default(),
            t.stopped_at.map(|s| s.to_string()).unwrap_or_default(),
            // The learning curve as `step:objective` pairs.
            t.steps
                .iter()
                .map(|(st, o, _)| format!("{st}:{o}"))
                .collect::<Vec<_>>()
                .join(" "),
        ];
        row.extend(metrics.iter().map(|m| match t.metrics.get(*m) {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(other) => other.to_string(),
            None => String::new(),
        }));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}
