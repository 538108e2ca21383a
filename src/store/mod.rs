//! The run store: one directory per run, holding an embedded SQLite database (`run.sqlite`)
//! with the run's settings and seed, every proposed candidate, every finished evaluation and
//! the searcher's checkpoints, plus one folder per evaluation under `evals/`.
//!
//! A run is resumed by replaying it: the searcher is rebuilt from the stored settings and seed
//! and told the stored results in their stored order, which re-creates its state (random
//! generator included) exactly; evaluations that had not finished are started again. Every
//! step is written before the driver goes on (SQLite's write-ahead log survives SIGKILL), and
//! a lock file keeps a second process off the same run.
//!
//! A stateful evaluator's state (the supernet's weights) is kept in the `checkpoints` table as
//! `evaluator:<name>`, with `told` holding the index of the proposal whose outcome it follows:
//! it is written in one transaction with that outcome, replacing the previous state, so that a
//! kill at any moment leaves the newest outcome with the state after it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::evaluator::{Decision, StepResult};
use crate::evaluator::{Evaluation, EvaluatorState, Outcome};
use crate::space::SearchSpace;
use crate::time::unix_now as now;
use journal::{Journal, JournalError, Replay};
use lock::lock;
use rows::{
    add_free_schema, add_steps_schema, insert_free, insert_outcome, insert_step, replace_checkpoint,
};

/// File name of the database inside a run directory.
pub const DATABASE: &str = "run.sqlite";
/// Folder of the per-evaluation work directories inside a run directory.
pub const EVALS: &str = "evals";
const LOCK: &str = "lock";

pub mod journal;
mod lock;
mod rows;
pub mod status;
pub mod view;
pub use status::{RunStatus, TrialStatus};
pub use view::{RunState, RunView, TrialRow};
/// Prefix of evaluator states in the `checkpoints` table (searcher checkpoints have none).
const EVALUATOR_STATE: &str = "evaluator:";
/// Version of the database layout. Format 2 keeps free proposals (repeats, not evaluable) as
/// ranges of indices (`free`) instead of a row each; format 1 runs are read and upgraded.
const FORMAT: i64 = 2;

/// Errors of the run store; each names the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another process holds the run.
    #[error(
        "{path} is in use by another seminas process{holder}; \
         only one process may work on a run at a time"
    )]
    Locked {
        /// The run directory.
        path: PathBuf,
        /// " (pid N)" when known.
        holder: String,
    },
    /// `create` found a run already there.
    #[error(
        "{path} already holds a run; continue it with `seminas resume {path}` \
         or choose another directory"
    )]
    Exists {
        /// The run directory.
        path: PathBuf,
    },
    /// `open` found no run.
    #[error("{path}: no run here ({DATABASE} is missing)")]
    Missing {
        /// The run directory.
        path: PathBuf,
    },
    /// SQLite failed.
    #[error("{path}: database error: {source}")]
    Sql {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The database holds something it should not.
    #[error("{path}: {message}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong, naming the table, row and column.
        message: String,
    },
}

/// What a run was started with.
#[derive(Debug, Clone, PartialEq)]
pub struct RunMeta {
    /// The command-line arguments of the search (without the program name).
    pub args: Vec<String>,
    /// The working directory the search was started in (relative paths in `args` are
    /// relative to it).
    pub cwd: PathBuf,
    /// The seed.
    pub seed: u64,
    /// The seminas version that started the run.
    pub version: String,
    /// A name unique to this run (e.g. in the names of its cluster jobs, so that a resumed run
    /// finds the jobs it submitted before it was stopped).
    pub run_id: String,
}

impl RunMeta {
    /// A fresh run id: 12 hex digits from the time, the process and `salt`.
    pub fn new_run_id(salt: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let text = format!("{nanos}-{}-{salt}", std::process::id());
        format!("{:012x}", crate::rng::fnv1a(text.as_bytes()) >> 16)
    }
}

/// A run directory, locked by this process while the value lives.
pub struct RunStore {
    dir: PathBuf,
    meta: RunMeta,
    db_path: PathBuf,
    conn: Connection,
    _lock: File,
}

impl RunStore {
    /// Creates a new run in `dir` (created if needed; it must not hold a run already).
    pub fn create(dir: &Path, meta: &RunMeta) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = lock(dir)?;
        let db_path = dir.join(DATABASE);
        if db_path.exists() {
            return Err(StoreError::Exists {
                path: dir.to_path_buf(),
            });
        }
        let conn = connect(&db_path)?;
        let sql = |source| StoreError::Sql {
            path: db_path.clone(),
            source,
        };
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE proposals (
                 idx INTEGER PRIMARY KEY, key TEXT NOT NULL, arch TEXT NOT NULL,
                 proposed_unix REAL NOT NULL);
             CREATE TABLE evaluations (
                 idx INTEGER PRIMARY KEY REFERENCES proposals(idx),
                 status TEXT NOT NULL CHECK (status IN ('evaluated', 'failed', 'not_evaluable')),
                 objective REAL, report REAL, cost_seconds REAL, metrics TEXT, reason TEXT,
                 finished_unix REAL NOT NULL);
             CREATE TABLE checkpoints (
                 id INTEGER PRIMARY KEY AUTOINCREMENT, told INTEGER NOT NULL,
                 name TEXT NOT NULL, data BLOB NOT NULL, saved_unix REAL NOT NULL);
             COMMIT;",
        )
        .map_err(sql)?;
        add_steps_schema(&conn).map_err(sql)?;
        add_free_schema(&conn).map_err(sql)?;
        let args = serde_json::to_string(&meta.args).expect("strings serialise");
        let entries = [
            ("format", FORMAT.to_string()),
            ("args", args),
            ("cwd", meta.cwd.to_string_lossy().into_owned()),
            ("seed", meta.seed.to_string()),
            ("version", meta.version.clone()),
            ("run_id", meta.run_id.clone()),
            ("created_unix", now().to_string()),
            ("status", RunStatus::Running.as_str().into()),
        ];
        for (k, v) in entries {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .map_err(sql)?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            meta: meta.clone(),
            db_path,
            conn,
            _lock: lock,
        })
    }

    /// What the run was started with.
    pub fn meta(&self) -> &RunMeta {
        &self.meta
    }

    /// Opens the run in `dir` to resume it.
    pub fn open(dir: &Path) -> Result<(Self, RunMeta), StoreError> {
        let db_path = dir.join(DATABASE);
        if !db_path.is_file() {
            return Err(StoreError::Missing {
                path: dir.to_path_buf(),
            });
        }
        let lock = lock(dir)?;
        let conn = connect(&db_path)?;
        let mut store = Self {
            dir: dir.to_path_buf(),
            meta: RunMeta {
                args: Vec::new(),
                cwd: PathBuf::new(),
                seed: 0,
                version: String::new(),
                run_id: String::new(),
            },
            db_path,
            conn,
            _lock: lock,
        };
        let format: i64 = store.meta_parse("format")?;
        if !(1..=FORMAT).contains(&format) {
            return Err(store.corrupt(format!(
                "run format {format}; this seminas reads formats 1 to {FORMAT}"
            )));
        }
        // Older runs get what they lack: the steps table and column, the free ranges. The
        // format is raised, so that an older seminas refuses the run by name instead of
        // misreading a range of free proposals as missing ones.
        let upgrade = |conn: &Connection| -> rusqlite::Result<()> {
            add_steps_schema(conn)?;
            add_free_schema(conn)?;
            if format < FORMAT {
                conn.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'format'",
                    params![FORMAT.to_string()],
                )?;
            }
            Ok(())
        };
        upgrade(&store.conn).map_err(|e| store.sql(e))?;
        let args: Vec<String> = serde_json::from_str(&store.meta_text("args")?)
            .map_err(|e| store.corrupt(format!("meta \"args\": {e}")))?;
        let meta = RunMeta {
            args,
            cwd: PathBuf::from(store.meta_text("cwd")?),
            seed: store.meta_parse("seed")?,
            version: store.meta_text("version")?,
            run_id: store.meta_text("run_id")?,
        };
        store.meta = meta.clone();
        Ok((store, meta))
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder holding one work directory per evaluation.
    pub fn evals_dir(&self) -> PathBuf {
        self.dir.join(EVALS)
    }

    /// Everything the run did so far, for [`crate::study::engine::drive`] to replay.
    pub fn replay(&self) -> Result<Replay, StoreError> {
        let keys = self.stored_keys()?;
        let mut steps = self.stored_steps()?;
        let mut outcomes = HashMap::new();
        let mut times = HashMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e.idx, e.status, e.objective, e.report, e.cost_seconds, e.metrics,
                        e.reason, p.proposed_unix, e.finished_unix, e.stopped_at
                 FROM evaluations e LEFT JOIN proposals p ON p.idx = e.idx ORDER BY e.idx",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                    r.get::<_, Option<f64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<f64>>(7)?,
                    r.get::<_, Option<f64>>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (
                idx,
                status,
                objective,
                report,
                cost,
                metrics,
                reason,
                proposed,
                finished,
                stopped_at,
            ) = row.map_err(|e| self.sql(e))?;
            let outcome = match TrialStatus::parse(&status) {
                Some(TrialStatus::Evaluated) => {
                    let objective = objective.filter(|v| v.is_finite()).ok_or_else(|| {
                        self.corrupt(format!(
                            "table evaluations, index {idx}: column objective is missing"
                        ))
                    })?;
                    let metrics: BTreeMap<String, f64> = match metrics {
                        Some(m) => serde_json::from_str(&m).map_err(|e| {
                            self.corrupt(format!(
                                "table evaluations, index {idx}: column metrics: {e}"
                            ))
                        })?,
                        None => BTreeMap::new(),
                    };
                    let stopped_at = match stopped_at {
                        Some(s) if s > 0 => Some(s as u64),
                        Some(s) => {
                            return Err(self.corrupt(format!(
                                "table evaluations, index {idx}: column stopped_at is {s}"
                            )));
                        }
                        None => None,
                    };
                    let steps = steps
                        .remove(&(idx as usize))
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(s, _)| s)
                        .collect();
                    Outcome::Evaluated(Evaluation {
                        objective,
                        report,
                        cost_seconds: cost.unwrap_or(0.0),
                        metrics,
                        steps,
                        stopped_at,
                        note: reason,
                    })
                }
                Some(TrialStatus::Failed) => Outcome::Failed(reason.unwrap_or_default()),
                Some(TrialStatus::NotEvaluable) => Outcome::NotEvaluable,
                None => {
                    return Err(self.corrupt(format!(
                        "table evaluations, index {idx}: unknown status {}",
                        crate::settings::quoted(&status)
                    )));
                }
            };
            if idx < 0 || idx as usize >= keys.len() {
                return Err(self.corrupt(format!("table evaluations: index {idx} has no proposal")));
            }
            outcomes.insert(idx as usize, outcome);
            if let (Some(p), Some(f)) = (proposed, finished) {
                times.insert(idx as usize, (p, f));
            }
        }
        steps.retain(|&idx, _| idx < keys.len());
        Ok(Replay {
            keys,
            outcomes,
            times,
            steps,
        })
    }

    /// Every recorded step, by proposal, in step order.
    fn stored_steps(&self) -> Result<HashMap<usize, Vec<(StepResult, Decision)>>, StoreError> {
        let mut out: HashMap<usize, Vec<(StepResult, Decision)>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT idx, step, objective, cost_seconds, decision FROM steps
                 ORDER BY idx, step",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (idx, step, objective, cost, decision) = row.map_err(|e| self.sql(e))?;
            let decision = match decision.as_str() {
                "continue" => Decision::Continue,
                "stop" => Decision::Stop,
                other => {
                    return Err(self.corrupt(format!(
                        "table steps, index {idx}, step {step}: unknown decision {}",
                        crate::settings::quoted(other)
                    )));
                }
            };
            if idx < 0 || step < 1 || !objective.is_finite() {
                return Err(self.corrupt(format!(
                    "table steps: index {idx}, step {step}, objective {objective} out of range"
                )));
            }
            out.entry(idx as usize).or_default().push((
                StepResult {
                    step: step as u64,
                    objective,
                    cost_seconds: cost,
                },
                decision,
            ));
        }
        Ok(out)
    }

    /// Records a step of a running evaluation and its decision (replacing what an earlier
    /// attempt of the evaluation recorded for that step).
    pub fn add_step(
        &self,
        index: usize,
        step: &StepResult,
        decision: Decision,
    ) -> Result<(), StoreError> {
        insert_step(&self.conn, index, step, decision).map_err(|e| self.sql(e))
    }

    /// The number of paid queries recorded (evaluated or failed evaluations).
    pub fn paid_queries(&self) -> Result<usize, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM evaluations WHERE status IN ('evaluated', 'failed')",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(|e| self.sql(e))
    }

    /// Records a proposal.
    pub fn add_proposal(&self, index: usize, key: &str, arch: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO proposals (idx, key, arch, proposed_unix) VALUES (?1, ?2, ?3, ?4)",
                params![index as i64, key, arch, now()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Marks proposal `index` free (a repeat, or `not_evaluable`): it joins the range of free
    /// indices it borders, and its proposal row, if any, goes. A run's store grows with its
    /// paid queries, not with its free proposals (issue 28: a million not-evaluable
    /// proposals used to take 2.5 GB). Refused for an index already free or with an outcome.
    pub fn add_free(&self, index: usize, not_evaluable: bool) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql(e))?;
        insert_free(&tx, index as i64, i64::from(not_evaluable)).map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))
    }

    /// The stored proposals' keys by index; `None` for a free proposal kept only as part of a
    /// range. A missing index is a corrupt store.
    fn stored_keys(&self) -> Result<Vec<Option<String>>, StoreError> {
        let (proposals, free): (i64, i64) = self
            .conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM proposals),
                        (SELECT COALESCE(SUM(last - first + 1), 0) FROM free)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.sql(e))?;
        // Sized by what is stored, never by an index read from the file.
        let total = usize::try_from(proposals.saturating_add(free))
            .map_err(|_| self.corrupt(format!("table free: {free} free proposals")))?;
        let mut keys: Vec<Option<String>> = vec![None; total];
        let mut stmt = self
            .conn
            .prepare("SELECT idx, key FROM proposals ORDER BY idx")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (idx, key) = row.map_err(|e| self.sql(e))?;
            match usize::try_from(idx).ok().and_then(|i| keys.get_mut(i)) {
                Some(slot) => *slot = Some(key),
                None => return Err(self.missing(&keys, Some(idx))),
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT first, last FROM free ORDER BY first")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (first, last) = row.map_err(|e| self.sql(e))?;
            let range = usize::try_from(first)
                .ok()
                .zip(usize::try_from(last).ok())
                .filter(|(f, l)| f <= l && *l < total);
            // A free index holds no proposal: with the counts above, every index is then
            // either a proposal or free, once.
            if range.is_none_or(|(f, l)| keys[f..=l].iter().any(Option::is_some)) {
                return Err(self.corrupt(format!(
                    "table free: range {first}..={last} overlaps a proposal or lies past the \
                     {total} proposals stored"
                )));
            }
        }
        Ok(keys)
    }

    /// The error of a store whose proposal indices have a gap (`beyond`: an index past them).
    fn missing(&self, keys: &[Option<String>], beyond: Option<i64>) -> StoreError {
        let first_gap = keys.iter().position(Option::is_none).unwrap_or(keys.len());
        let at = beyond.map_or(String::new(), |b| format!("index {b} where "));
        self.corrupt(format!(
            "table proposals: {at}{first_gap} was expected (a proposal is missing)"
        ))
    }

    /// Records a finished evaluation (with its steps, in one transaction).
    pub fn add_outcome(&self, index: usize, outcome: &Outcome) -> Result<(), StoreError> {
        if matches!(outcome, Outcome::Evaluated(e) if !e.steps.is_empty()) {
            let tx = self.conn.unchecked_transaction().map_err(|e| self.sql(e))?;
            insert_outcome(&tx, index, outcome).map_err(|e| self.sql(e))?;
            return tx.commit().map_err(|e| self.sql(e));
        }
        insert_outcome(&self.conn, index, outcome).map_err(|e| self.sql(e))
    }

    /// Records a finished evaluation and the evaluator's state after it in one transaction
    /// (a kill leaves both or neither), replacing the previous state of that name.
    pub fn add_outcome_with_state(
        &self,
        index: usize,
        outcome: &Outcome,
        name: &str,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql(e))?;
        insert_outcome(&tx, index, outcome).map_err(|e| self.sql(e))?;
        replace_checkpoint(&tx, index, &format!("{EVALUATOR_STATE}{name}"), data)
            .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))
    }

    /// The stored state of the evaluator whose state is named `name`, with the index of the
    /// proposal whose outcome it follows.
    pub fn evaluator_state(&self, name: &str) -> Result<Option<(usize, Vec<u8>)>, StoreError> {
        self.latest_checkpoint(&format!("{EVALUATOR_STATE}{name}"))
    }

    /// Stores a searcher checkpoint, replacing older ones of the same name (a run keeps the
    /// newest controller, not one per round).
    pub fn add_checkpoint(&self, told: usize, name: &str, data: &[u8]) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql(e))?;
        replace_checkpoint(&tx, told, name, data).map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))
    }

    /// The newest checkpoint named `name` and the number of proposals told before it.
    pub fn latest_checkpoint(&self, name: &str) -> Result<Option<(usize, Vec<u8>)>, StoreError> {
        self.conn
            .query_row(
                "SELECT told, data FROM checkpoints WHERE name = ?1 ORDER BY id DESC LIMIT 1",
                params![name],
                |r| Ok((r.get::<_, i64>(0)? as usize, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Marks the run `running` or `finished`.
    pub fn set_status(&self, status: RunStatus) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'status'",
                params![status.as_str()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The run's status: running (also when it was killed) or finished.
    pub fn status(&self) -> Result<RunStatus, StoreError> {
        let name = self.meta_text("status")?;
        RunStatus::parse(&name).ok_or_else(|| {
            self.corrupt(format!(
                "table meta, key status: unknown status {}",
                crate::settings::quoted(&name)
            ))
        })
    }

    /// A journal writing into this store, with architectures in `space`'s JSON form.
    pub fn journal<'a, S: SearchSpace>(&'a self, space: &'a S) -> StoreJournal<'a, S> {
        StoreJournal { store: self, space }
    }

    fn meta_text(&self, key: &str) -> Result<String, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| self.corrupt(format!("table meta has no {key:?}")))
    }

    fn meta_parse<T: std::str::FromStr>(&self, key: &str) -> Result<T, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.meta_text(key)?;
        text.parse().map_err(|e| {
            self.corrupt(format!(
                "meta {key:?} = {}: {e}",
                crate::settings::quoted(&text)
            ))
        })
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.db_path.clone(),
            source,
        }
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt {
            path: self.db_path.clone(),
            message,
        }
    }
}

/// [`Journal`] over a [`RunStore`].
pub struct StoreJournal<'a, S> {
    store: &'a RunStore,
    space: &'a S,
}

impl<S: SearchSpace> Journal<S::Arch> for StoreJournal<'_, S> {
    fn proposed(&mut self, index: usize, key: &str, arch: &S::Arch) -> Result<(), JournalError> {
        let json = self.space.to_json(arch).to_string();
        Ok(self.store.add_proposal(index, key, &json)?)
    }
    fn finished(
        &mut self,
        index: usize,
        _key: &str,
        outcome: &Outcome,
    ) -> Result<(), JournalError> {
        match outcome {
            Outcome::NotEvaluable => Ok(self.store.add_free(index, true)?),
            _ => Ok(self.store.add_outcome(index, outcome)?),
        }
    }
    fn repeated(&mut self, index: usize) -> Result<(), JournalError> {
        Ok(self.store.add_free(index, false)?)
    }
    fn finished_with_state(
        &mut self,
        index: usize,
        _key: &str,
        outcome: &Outcome,
        state: &EvaluatorState,
    ) -> Result<(), JournalError> {
        Ok(self
            .store
            .add_outcome_with_state(index, outcome, &state.name, &state.data)?)
    }
    fn checkpoint(&mut self, told: usize, name: &str, data: &[u8]) -> Result<(), JournalError> {
        Ok(self.store.add_checkpoint(told, name, data)?)
    }
    fn step(
        &mut self,
        index: usize,
        step: &StepResult,
        decision: Decision,
    ) -> Result<(), JournalError> {
        Ok(self.store.add_step(index, step, decision)?)
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let sql = |source| StoreError::Sql {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(sql)?;
    // WAL: a committed write survives the process being killed at any moment; NORMAL
    // synchronisation is durable against process death (not power loss) and much faster.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sql)?;
    Ok(conn)
}

impl Drop for RunStore {
    /// The lock file goes when the run ends (removed while still locked: a process that opened
    /// it meanwhile finds it unlinked after locking it and takes a fresh one, see `lock`).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join(LOCK));
    }
}

#[cfg(test)]
mod tests;
