//! The dashboard's JSON answers (see `docs/dashboard.md`).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::{Value, json};

use super::{Dashboard, Kind, LOG_LIMIT, Response, folder_id};
use crate::stats::kendall_tau_of_pairs;
use crate::store::{EVALS, RunState, RunView};

/// `GET /api/runs`: every run with its state, progress and best.
pub fn runs(d: &Dashboard) -> Value {
    let mut out = Vec::new();
    for (kind, dir) in d.discover() {
        if kind != Kind::Run {
            continue;
        }
        let id = folder_id(&dir);
        match RunView::open(&dir) {
            Ok(run) => {
                let mut o = run.overview();
                let end = match (run.state, run.trials.last()) {
                    (RunState::Running, _) | (_, None) => crate::time::unix_now(),
                    (_, Some(t)) => t.finished_unix,
                };
                o["id"] = json!(id);
                o["elapsed_seconds"] = json!((end - run.created_unix).max(0.0));
                o.as_object_mut().map(|m| m.remove("args"));
                out.push(o);
            }
            Err(e) => out.push(json!({
                "id": id, "dir": dir, "state": "unreadable", "error": e.to_string(),
            })),
        }
    }
    json!({ "runs": out })
}

/// `GET /api/benches`: every `bench --out` directory.
pub fn benches(d: &Dashboard) -> Value {
    let list: Vec<Value> = d
        .discover()
        .into_iter()
        .filter(|(k, _)| *k == Kind::Bench)
        .map(|(_, dir)| json!({ "id": folder_id(&dir), "dir": dir }))
        .collect();
    json!({ "benches": list })
}

/// `GET /api/runs/ID?since=N`: the run and its queries after the `N`th (serialised straight
/// from the rows: no intermediate JSON tree of a large run).
pub fn run(run: &RunView, since: usize) -> Response {
    #[derive(serde::Serialize)]
    struct Answer<'a> {
        run: Value,
        since: usize,
        trials: &'a [crate::store::TrialRow],
        /// Learning curves of the evaluations still training.
        running_steps: &'a std::collections::BTreeMap<usize, Vec<(u64, f64, f64)>>,
    }
    Response::json(&Answer {
        run: run.overview(),
        since,
        trials: run.trials.get(since..).unwrap_or(&[]),
        running_steps: &run.running_steps,
    })
}

/// `GET /api/runs/ID/predictions`: the searcher's predicted objective against the true one,
/// per round, with Kendall's tau of each round and of all.
pub fn predictions(run: &RunView) -> Value {
    let mut rounds: BTreeMap<usize, Vec<(usize, f64, f64)>> = BTreeMap::new();
    let mut all = Vec::new();
    for t in &run.trials {
        let (Some(p), Some(o)) = (t.predicted, t.objective) else {
            continue;
        };
        let round = t
            .origin
            .as_deref()
            .and_then(|o| o.strip_prefix("round "))
            .and_then(|r| r.split(' ').next())
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        rounds.entry(round).or_default().push((t.n, p, o));
        all.push((p, o));
    }
    let list: Vec<Value> = rounds
        .into_iter()
        .map(|(round, pts)| {
            let pairs: Vec<(f64, f64)> = pts.iter().map(|&(_, p, o)| (p, o)).collect();
            json!({
                "round": round,
                "tau": kendall_tau_of_pairs(&pairs),
                "points": pts.iter().map(|&(n, p, o)| json!({"n": n, "predicted": p, "objective": o})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "count": all.len(), "tau": kendall_tau_of_pairs(&all), "rounds": list })
}

/// `GET /api/runs/ID/logs/INDEX/NAME`: the end of a file of an evaluation's folder. Only
/// `evals/<6 digits>/<name>` with a plain name ending in `.log` or `.json` is served; anything
/// else (`..`, slashes, links out of the folder) is refused.
pub fn log(dir: &Path, index: &str, name: &str) -> Response {
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    if index.len() != 6 || !index.chars().all(|c| c.is_ascii_digit()) {
        return Response::error(400, "the index is 6 digits");
    }
    if !plain(name) || !(name.ends_with(".log") || name.ends_with(".json")) {
        return Response::error(400, "only .log and .json files of an evaluation are served");
    }
    let evals = dir.join(EVALS);
    let path = evals.join(index).join(name);
    // Links could lead out of the run: the real path must stay inside the real evals/.
    let (Ok(real), Ok(root)) = (path.canonicalize(), evals.canonicalize()) else {
        return Response::error(404, "no such file");
    };
    if !real.starts_with(&root) || !real.is_file() {
        return Response::error(403, "outside the run's evaluations");
    }
    let read = || -> std::io::Result<(u64, String)> {
        let mut f = std::fs::File::open(&real)?;
        let size = f.metadata()?.len();
        f.seek(SeekFrom::Start(size.saturating_sub(LOG_LIMIT)))?;
        let mut bytes = Vec::new();
        f.take(LOG_LIMIT).read_to_end(&mut bytes)?;
        Ok((size, String::from_utf8_lossy(&bytes).into_owned()))
    };
    match read() {
        Ok((size, text)) => Response::json(&json!({
            "name": name, "size": size, "truncated": size > LOG_LIMIT, "text": text,
        })),
        Err(e) => Response::error(500, &e.to_string()),
    }
}

/// `GET /api/benches/ID`: a bench directory's table (`table.json`) and mean curves
/// (`curves.csv`: per algorithm, `[queries, mean report, standard error]`).
pub fn bench(dir: &Path) -> Result<Value, String> {
    let table: Value = match std::fs::read_to_string(dir.join("table.json")) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| format!("table.json: {e}"))?,
        Err(_) => Value::Null,
    };
    let mut curves: BTreeMap<String, Vec<[f64; 3]>> = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("curves.csv")) {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for row in reader.records().flatten() {
            let num = |i: usize| row.get(i).and_then(|v| v.parse::<f64>().ok());
            if let (Some(algo), Some(q), Some(m)) = (row.get(0), num(1), num(2)) {
                curves
                    .entry(algo.to_string())
                    .or_default()
                    .push([q, m, num(3).unwrap_or(0.0)]);
            }
        }
    }
    Ok(json!({ "id": folder_id(dir), "dir": dir, "table": table, "curves": curves }))
}
