//! A run directory seen from outside: what `seminas show`, `seminas export` and the dashboard
//! read. The database is opened read-only and the lock is never taken, so a running search is
//! neither refused nor slowed (SQLite's write-ahead log lets readers and the writer work at
//! once).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;

use super::{DATABASE, EVALS, LOCK, RunStatus, StoreError, TrialStatus};

/// A run's state, as `show` and the dashboard present it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// A live process works on it.
    Running,
    /// It ended normally.
    Finished,
    /// It did not finish and no process works on it (killed, or stopped by an error):
    /// `seminas resume DIR` continues it.
    Stopped,
    /// No process works on it and every query so far failed (a broken evaluator: an
    /// all-failed search, `--max-failures`): fix the evaluator, then `seminas resume DIR`.
    Failed,
}

/// One query of a run (a finished evaluation that counted: evaluated or failed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialRow {
    /// 1-based query number.
    pub n: usize,
    /// 0-based proposal index (its folder under `evals/`, zero-padded to 6 digits).
    pub index: usize,
    /// The canonical key.
    pub key: String,
    /// The architecture (the space's JSON form).
    pub arch: serde_json::Value,
    /// Evaluated or failed.
    pub status: TrialStatus,
    /// The objective (evaluated only).
    pub objective: Option<f64>,
    /// The reported metric, when the evaluator gives one.
    pub report: Option<f64>,
    /// The evaluation's recorded cost in seconds.
    pub cost_seconds: Option<f64>,
    /// The evaluator's other metrics.
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Where it came from (from `queries.jsonl`, when the search recorded it).
    pub origin: Option<String>,
    /// The searcher's predicted objective (from `queries.jsonl`).
    pub predicted: Option<f64>,
    /// When it was proposed and finished (Unix seconds).
    pub proposed_unix: f64,
    /// See `proposed_unix`.
    pub finished_unix: f64,
    /// Its folder under the run directory (`evals/000012`), when it exists.
    pub evals_dir: Option<String>,
    /// The step its training was stopped at (it was pruned; `objective` is that step's).
    pub stopped_at: Option<u64>,
    /// Its learning curve: `(step, objective, cost_seconds)` per reported step.
    pub steps: Vec<(u64, f64, f64)>,
}

/// A run directory read without its lock.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// The run directory.
    pub dir: PathBuf,
    /// The arguments the run was started with.
    pub args: Vec<String>,
    /// Its seed.
    pub seed: u64,
    /// The seminas version that started it.
    pub version: String,
    /// The search space (from the arguments).
    pub space: String,
    /// The algorithm (from the arguments).
    pub algo: String,
    /// The query budget (from the arguments); `None` when queries are not limited (a budget
    /// in training time without `--queries`).
    pub budget: Option<usize>,
    /// The budget in training time, in words (`3 trainings' time`, `30000 s of training`).
    pub time_budget: Option<String>,
    /// Running, finished or stopped.
    pub state: RunState,
    /// The process working on it, when running.
    pub pid: Option<u32>,
    /// When it was created (Unix seconds).
    pub created_unix: f64,
    /// Proposals made (paid, free and running).
    pub proposals: usize,
    /// Proposals the evaluator could not evaluate (free).
    pub not_evaluable: usize,
    /// The queries, in order.
    pub trials: Vec<TrialRow>,
    /// The steps reported so far by evaluations still running (or interrupted), by proposal
    /// index: their learning curves while they train.
    pub running_steps: std::collections::BTreeMap<usize, Vec<(u64, f64, f64)>>,
}

impl RunView {
    /// Reads the run in `dir` (read-only; works while a search writes it).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        // A run being created (its tables and settings are written one after the other) or
        // closing (its log being removed) can be caught between two steps: read again.
        let mut tries = 0;
        loop {
            match Self::open_once(dir) {
                Err(StoreError::Sql { .. } | StoreError::Corrupt { .. }) if tries < 10 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    fn open_once(dir: &Path) -> Result<Self, StoreError> {
        let db_path = dir.join(DATABASE);
        if !db_path.is_file() {
            return Err(StoreError::Missing {
                path: dir.to_path_buf(),
            });
        }
        let sql = |source| StoreError::Sql {
            path: db_path.clone(),
            source,
        };
        let corrupt = |message: String| StoreError::Corrupt {
            path: db_path.clone(),
            message,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // A database without a write-ahead log has no writer (a writer in WAL mode keeps the
        // log while it is connected): read it as immutable, which leaves no -wal and -shm
        // files behind in a finished run's folder (which may be read-only, e.g. results/).
        let wal = db_path.with_file_name(format!("{DATABASE}-wal"));
        let conn = if wal.exists() {
            Connection::open_with_flags(&db_path, flags)
        } else {
            let path = db_path.to_string_lossy();
            let uri = format!(
                "file:{}?immutable=1",
                path.replace('%', "%25")
                    .replace('?', "%3f")
                    .replace('#', "%23")
            );
            Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
        }
        .map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        // One read transaction: a consistent snapshot while the search goes on writing.
        conn.execute_batch("BEGIN").map_err(sql)?;
        let meta = |key: &str| -> Result<Option<String>, StoreError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)
        };
        let args: Vec<String> = match meta("args")? {
            Some(a) => {
                serde_json::from_str(&a).map_err(|e| corrupt(format!("meta \"args\": {e}")))?
            }
            None => return Err(corrupt("table meta has no \"args\"".into())),
        };
        let seed = meta("seed")?.and_then(|s| s.parse().ok()).unwrap_or(0);
        let version = meta("version")?.unwrap_or_default();
        let created_unix = meta("created_unix")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0);
        let finished =
            meta("status")?.as_deref().and_then(RunStatus::parse) == Some(RunStatus::Finished);
        let mut proposals: i64 = conn
            .query_row("SELECT COUNT(*) FROM proposals", [], |r| r.get(0))
            .map_err(sql)?;
        let mut not_evaluable: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM evaluations WHERE status = 'not_evaluable'",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        // Free proposals kept as ranges (format 2); format 1 runs have no such table.
        if has_table(&conn, "free").map_err(sql)? {
            let (n, ne): (i64, i64) = conn
                .query_row(
                    "SELECT COALESCE(SUM(last - first + 1), 0), COALESCE(SUM(not_evaluable), 0)
                     FROM free",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(sql)?;
            proposals = proposals.saturating_add(n);
            not_evaluable = not_evaluable.saturating_add(ne);
        }
        // Runs stored before steps were recorded have neither the table nor the column.
        let has_steps = has_table(&conn, "steps").map_err(sql)?;
        let mut steps: HashMap<usize, Vec<(u64, f64, f64)>> = HashMap::new();
        if has_steps {
            let mut stmt = conn
                .prepare("SELECT idx, step, objective, cost_seconds FROM steps ORDER BY idx, step")
                .map_err(sql)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, f64>(2)?,
                        r.get::<_, f64>(3)?,
                    ))
                })
                .map_err(sql)?;
            for row in rows {
                let (idx, step, o, c) = row.map_err(sql)?;
                steps
                    .entry(idx.max(0) as usize)
                    .or_default()
                    .push((step.max(0) as u64, o, c));
            }
        }
        let stopped_col = if has_steps { "e.stopped_at" } else { "NULL" };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT e.idx, p.key, p.arch, e.status, e.objective, e.report, e.cost_seconds,
                        e.metrics, e.reason, p.proposed_unix, e.finished_unix, {stopped_col}
                 FROM evaluations e JOIN proposals p ON p.idx = e.idx
                 WHERE e.status IN ('evaluated', 'failed') ORDER BY e.idx"
            ))
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<f64>>(4)?,
                    r.get::<_, Option<f64>>(5)?,
                    r.get::<_, Option<f64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, f64>(9)?,
                    r.get::<_, f64>(10)?,
                    r.get::<_, Option<i64>>(11)?,
                ))
            })
            .map_err(sql)?;
        let annotations = read_annotations(&dir.join("queries.jsonl"));
        let mut trials = Vec::new();
        for row in rows {
            let (idx, key, arch, status, objective, report, cost, metrics, reason, prop, fin, at) =
                row.map_err(sql)?;
            let index = idx as usize;
            let arch = serde_json::from_str(&arch)
                .map_err(|e| corrupt(format!("table proposals, index {idx}: column arch: {e}")))?;
            let metrics = match metrics {
                Some(m) => serde_json::from_str(&m).map_err(|e| {
                    corrupt(format!(
                        "table evaluations, index {idx}: column metrics: {e}"
                    ))
                })?,
                None => serde_json::Map::new(),
            };
            let (origin, predicted) = annotations.get(&index).cloned().unwrap_or_default();
            let status = match TrialStatus::parse(&status) {
                Some(s @ (TrialStatus::Evaluated | TrialStatus::Failed)) => s,
                _ => {
                    return Err(corrupt(format!(
                        "table evaluations, index {idx}: unknown status {}",
                        crate::settings::quoted(&status)
                    )));
                }
            };
            let evals = format!("{EVALS}/{index:06}");
            trials.push(TrialRow {
                n: trials.len() + 1,
                index,
                key,
                arch,
                status,
                objective,
                report,
                cost_seconds: cost,
                metrics,
                reason,
                origin,
                predicted,
                proposed_unix: prop,
                finished_unix: fin,
                evals_dir: dir.join(&evals).is_dir().then_some(evals),
                stopped_at: at.filter(|&s| s > 0).map(|s| s as u64),
                steps: steps.remove(&index).unwrap_or_default(),
            });
        }
        drop(stmt);
        // What is left are the steps of evaluations without a (counted) outcome.
        let done: std::collections::HashSet<i64> = conn
            .prepare("SELECT idx FROM evaluations")
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, i64>(0))?
                    .collect::<Result<_, _>>()
            })
            .map_err(sql)?;
        let running_steps = steps
            .into_iter()
            .filter(|(i, _)| !done.contains(&(*i as i64)))
            .collect();
        let _ = conn.execute_batch("COMMIT");
        let pid = live_holder(dir);
        let all_failed =
            !trials.is_empty() && trials.iter().all(|t| t.status == TrialStatus::Failed);
        let state = if pid.is_some() && !finished {
            RunState::Running
        } else if all_failed {
            RunState::Failed
        } else if finished {
            RunState::Finished
        } else {
            RunState::Stopped
        };
        let time_budget = arg_value(&args, "--budget-trainings")
            .map(|n| format!("{n} trainings' time"))
            .or_else(|| arg_value(&args, "--budget-seconds").map(|s| format!("{s} s of training")));
        Ok(Self {
            dir: dir.to_path_buf(),
            space: arg_value(&args, "--space").unwrap_or_else(|| "nb201".into()),
            algo: arg_value(&args, "--algo").unwrap_or_else(|| "seminas-ens".into()),
            budget: match arg_value(&args, "--queries") {
                Some(q) => q.parse().ok(),
                None if time_budget.is_some() => None,
                None => Some(100),
            },
            time_budget,
            args,
            seed,
            version,
            state,
            pid: if state == RunState::Running {
                pid
            } else {
                None
            },
            created_unix,
            proposals: proposals as usize,
            not_evaluable: not_evaluable as usize,
            trials,
            running_steps,
        })
    }

    /// Queries whose training was stopped early.
    pub fn stopped(&self) -> usize {
        self.trials
            .iter()
            .filter(|t| t.stopped_at.is_some())
            .count()
    }

    /// The best evaluated query (largest objective, or smallest for a minimising study; the
    /// earliest among equals).
    pub fn best(&self) -> Option<&TrialRow> {
        let sign = if self.minimize() { -1.0 } else { 1.0 };
        let mut best: Option<(&TrialRow, f64)> = None;
        for t in &self.trials {
            if let Some(o) = t.objective
                && t.stopped_at.is_none()
                && best.is_none_or(|(_, b)| sign * o > b)
            {
                best = Some((t, sign * o));
            }
        }
        best.map(|(t, _)| t)
    }

    /// The run without its trials: directory, state, settings, counts, best, times (what
    /// `seminas show --json` prints and the dashboard lists).
    pub fn overview(&self) -> serde_json::Value {
        let best = self.best().map(|b| {
            serde_json::json!({
                "n": b.n, "arch": b.arch, "objective": b.objective, "report": b.report,
            })
        });
        let last = self.trials.last().map(|t| t.finished_unix);
        serde_json::json!({
            "dir": self.dir,
            "state": self.state,
            "pid": self.pid,
            "space": self.space,
            "algo": self.algo,
            "seed": self.seed,
            "args": self.args,
            "version": self.version,
            "budget": self.budget,
            "time_budget": self.time_budget,
            "queries": self.trials.len(),
            "failures": self.failures(),
            "stopped": self.stopped(),
            "not_evaluable": self.not_evaluable,
            "proposals": self.proposals,
            "minimize": self.minimize(),
            "created_unix": self.created_unix,
            "last_query_unix": last,
            "best": best,
        })
    }

    /// True for a study that minimises its objective.
    pub fn minimize(&self) -> bool {
        self.args.iter().any(|a| a == "--minimize")
    }

    /// Failed queries.
    pub fn failures(&self) -> usize {
        self.trials
            .iter()
            .filter(|t| t.status == TrialStatus::Failed)
            .count()
    }

    /// The best objective after each query (`None` until one succeeded; trainings stopped
    /// early are not candidates).
    pub fn best_so_far(&self) -> Vec<Option<f64>> {
        let sign = if self.minimize() { -1.0 } else { 1.0 };
        let mut best: Option<f64> = None;
        self.trials
            .iter()
            .map(|t| {
                if let Some(o) = t.objective
                    && t.stopped_at.is_none()
                    && best.is_none_or(|b| sign * o > sign * b)
                {
                    best = Some(o);
                }
                best
            })
            .collect()
    }
}

/// The value of `--name V` or `--name=V` in `args`.
fn arg_value(args: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == name {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(&prefix).map(str::to_string)
        }
    })
}

/// Origin and predicted value by proposal index, from the run's `queries.jsonl` (lines
/// without an index, from older runs, and unreadable lines are skipped).
fn read_annotations(path: &Path) -> HashMap<usize, (Option<String>, Option<f64>)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let index = v.get("index")?.as_u64()? as usize;
            let origin = v.get("origin").and_then(|o| o.as_str()).map(str::to_string);
            let predicted = v.get("predicted").and_then(|p| p.as_f64());
            Some((index, (origin, predicted)))
        })
        .collect()
}

/// The process holding the run's lock, if it is alive: read from the lock file (the holder
/// writes its pid there), never by taking the lock.
fn live_holder(dir: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(dir.join(LOCK))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    alive(pid).then_some(pid)
}

#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 checks that the process exists; nothing is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn alive(_: u32) -> bool {
    true
}

/// Whether the store has table `name` (older formats lack some).
fn has_table(conn: &rusqlite::Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
        .exists([name])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_read_in_both_forms() {
        let args: Vec<String> = ["search", "--space", "nb101-20k", "--queries=30", "--algo"]
            .map(String::from)
            .to_vec();
        assert_eq!(arg_value(&args, "--space").as_deref(), Some("nb101-20k"));
        assert_eq!(arg_value(&args, "--queries").as_deref(), Some("30"));
        assert_eq!(arg_value(&args, "--algo"), None);
        assert_eq!(arg_value(&args, "--seed"), None);
    }
}
