//! `seminas report DIR [DIR ...]`: one comparison from several comparison directories
//! (`seminas bench --out DIR`, `benches/peers/optuna_bench.py bench --out DIR`). An algorithm
//! name found in two directories is shown as `NAME (DIR)` the second time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{BenchTable, BudgetUnit, Comparison, Curve, RunResult, runs_file, summarize};

/// Why directories cannot be combined.
#[derive(Debug, thiserror::Error)]
pub enum CombineError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is malformed, or the directories do not go together (the message says which).
    #[error("{0}")]
    Invalid(String),
    /// What was wrong in one directory.
    #[error("cannot read results from {dir}: {source}")]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: Box<CombineError>,
    },
}

fn io(path: &Path, source: std::io::Error) -> CombineError {
    CombineError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the directories (each holding `runs.csv`, and `table.json` and `curves.csv` if it
/// has them) into one comparison and its table; refuses directories of different
/// benchmarks or budget units.
pub fn combine(paths: &[PathBuf]) -> Result<(Comparison, BenchTable), CombineError> {
    let mut dirs = Vec::new();
    for d in paths {
        dirs.push(read_dir(d).map_err(|e| CombineError::Dir {
            dir: d.clone(),
            source: Box::new(e),
        })?);
    }
    let pairs = |f: &dyn Fn(&BenchTable) -> Option<String>| -> Vec<(Option<String>, &Path)> {
        dirs.iter()
            .zip(paths)
            .map(|(d, p)| (f(&d.meta), p.as_path()))
            .collect()
    };
    let space = agree("space", &pairs(&|m| m.space.clone()))?;
    let report = agree("reported metric", &pairs(&|m| m.report.clone()))?;
    let objective = agree("objective", &pairs(&|m| m.objective.clone()))?;
    let optimum = agree("optimum", &pairs(&|m| m.optimum.map(|o| o.to_string())))?;
    let unit = agree(
        "budget unit",
        &pairs(&|m| (!m.rows.is_empty() || m.space.is_some()).then(|| m.unit.name().to_string())),
    )?;
    let training_seconds = agree(
        "full training's seconds",
        &pairs(&|m| m.training_seconds.map(|t| format!("{t:.6}"))),
    )?;

    let mut names: Vec<String> = Vec::new();
    let mut budgets = BTreeSet::new();
    let mut runs = Vec::new();
    let mut file_curves: Vec<Curve> = Vec::new();
    for (dir, path) in dirs.into_iter().zip(paths) {
        let label = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let mut renamed: Vec<(String, String)> = Vec::new();
        for r in &dir.runs {
            if !renamed.iter().any(|(from, _)| *from == r.algo) {
                let name = if names.contains(&r.algo) {
                    format!("{} ({label})", r.algo)
                } else {
                    r.algo.clone()
                };
                names.push(name.clone());
                renamed.push((r.algo.clone(), name));
            }
        }
        let rename = |a: &str| {
            renamed
                .iter()
                .find(|(from, _)| from == a)
                .map_or_else(|| a.to_string(), |(_, to)| to.clone())
        };
        file_curves.extend(dir.curves.into_iter().flatten().map(|mut c| {
            c.algo = rename(&c.algo);
            c
        }));
        for mut r in dir.runs {
            r.algo = rename(&r.algo);
            budgets.insert(r.budget);
            runs.push(r);
        }
    }
    let budgets: Vec<usize> = budgets.into_iter().collect();
    if !runs.iter().all(|r| r.unit == runs[0].unit) {
        return Err(CombineError::Invalid(
            "these directories mix budgets in queries and in trainings: compare like with like"
                .into(),
        ));
    }
    let mut cmp = summarize(runs, &names, &budgets);
    // A directory's own curves.csv where it has one (older runs.csv files carry no per-run
    // curves), else the curves of its runs.
    let computed = std::mem::take(&mut cmp.curves);
    for name in &names {
        let from_file = file_curves.iter().find(|c| c.algo == *name);
        if let Some(c) = from_file.or_else(|| computed.iter().find(|c| c.algo == *name)) {
            cmp.curves.push(c.clone());
        }
    }
    let table = BenchTable {
        space,
        objective,
        report,
        optimum: optimum.and_then(|o| o.parse().ok()),
        unit: match unit.as_deref() {
            Some("trainings") => BudgetUnit::Trainings,
            _ => cmp.unit,
        },
        training_seconds: training_seconds.and_then(|t| t.parse().ok()),
        rows: cmp.rows.clone(),
    };
    Ok((cmp, table))
}

/// What one directory holds.
struct Dir {
    meta: BenchTable,
    runs: Vec<RunResult>,
    curves: Option<Vec<Curve>>,
}

fn read_dir(dir: &Path) -> Result<Dir, CombineError> {
    let table_path = dir.join("table.json");
    let meta: BenchTable = match std::fs::read_to_string(&table_path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            CombineError::Invalid(format!(
                "{} is not a bench table: {e}",
                table_path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BenchTable {
            space: None,
            objective: None,
            report: None,
            optimum: None,
            unit: Default::default(),
            training_seconds: None,
            rows: Vec::new(),
        },
        Err(e) => return Err(io(&table_path, e)),
    };
    let runs_path = dir.join("runs.csv");
    let text = std::fs::read_to_string(&runs_path).map_err(|e| io(&runs_path, e))?;
    let parsed =
        runs_file::parse(&runs_path.display().to_string(), &text).map_err(CombineError::Invalid)?;
    if parsed.truncated {
        return Err(CombineError::Invalid(format!(
            "{} ends in an unfinished line: is a bench still writing it?",
            runs_path.display()
        )));
    }
    let curves_path = dir.join("curves.csv");
    let curves = match std::fs::read_to_string(&curves_path) {
        // Curves against training time are computed again from the runs.
        Ok(text) if text.starts_with("algo,trainings,") => None,
        Ok(text) => Some(parse_curves(&curves_path, &text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&curves_path, e)),
    };
    Ok(Dir {
        meta,
        runs: parsed.runs,
        curves,
    })
}

/// Reads `curves.csv` (`algo,queries,mean_report,stderr`, queries 1, 2, ... per algorithm).
fn parse_curves(path: &Path, text: &str) -> Result<Vec<Curve>, CombineError> {
    let mut curves: Vec<Curve> = Vec::new();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for rec in reader.records() {
        let rec =
            rec.map_err(|e| CombineError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        let line = rec.position().map_or(0, |p| p.line());
        let bad = || {
            CombineError::Invalid(format!(
                "{}:{line}: expected algo,queries,mean_report,stderr",
                path.display()
            ))
        };
        let (algo, q, m, e) = (
            rec.get(0).ok_or_else(bad)?,
            rec.get(1)
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(bad)?,
            rec.get(2)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(bad)?,
            rec.get(3)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(bad)?,
        );
        if curves.last().is_none_or(|c| c.algo != algo) {
            curves.push(Curve {
                x: None,
                algo: algo.to_string(),
                mean: Vec::new(),
                stderr: Vec::new(),
            });
        }
        let c = curves.last_mut().expect("pushed above");
        if q != c.mean.len() + 1 {
            return Err(CombineError::Invalid(format!(
                "{}:{line}: queries of {algo} must count 1, 2, ...",
                path.display()
            )));
        }
        c.mean.push(m);
        c.stderr.push(e);
    }
    Ok(curves)
}

/// The value the directories agree on (those that know it), or an error naming two that
/// differ.
fn agree(what: &str, values: &[(Option<String>, &Path)]) -> Result<Option<String>, CombineError> {
    let mut known = values
        .iter()
        .filter_map(|(v, d)| v.clone().map(|v| (v, *d)));
    let Some((first, first_dir)) = known.next() else {
        return Ok(None);
    };
    for (v, d) in known {
        if v != first {
            return Err(CombineError::Invalid(format!(
                "{} and {} are results of different benchmarks ({what} {first:?} and {v:?})",
                first_dir.display(),
                d.display()
            )));
        }
    }
    Ok(Some(first))
}
