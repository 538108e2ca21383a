//! Rows the run store writes: free proposals, steps, outcomes, checkpoints (and the tables
//! older stores lack).

use rusqlite::{Connection, OptionalExtension, params};

use crate::evaluator::{Decision, Outcome, StepResult};
use crate::time::unix_now as now;

use super::TrialStatus;

/// The `free` table (ranges of free proposals, with how many of each were not evaluable),
/// where a store lacks it.
pub(super) fn add_free_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS free (
             first INTEGER PRIMARY KEY, last INTEGER NOT NULL,
             not_evaluable INTEGER NOT NULL);
         CREATE UNIQUE INDEX IF NOT EXISTS free_last ON free (last);",
    )
}

/// Adds `index` to the free ranges, merging with the ranges that end just before it and
/// begin just after it; drops its proposal row. Run inside a transaction.
pub(super) fn insert_free(
    conn: &Connection,
    index: i64,
    not_evaluable: i64,
) -> rusqlite::Result<()> {
    let taken: bool = conn
        .prepare("SELECT 1 FROM free WHERE first <= ?1 AND last >= ?1")?
        .exists(params![index])?
        || conn
            .prepare("SELECT 1 FROM evaluations WHERE idx = ?1")?
            .exists(params![index])?;
    if taken {
        // The same refusal as a second outcome for one index.
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some(format!("proposal {index} has an outcome already")),
        ));
    }
    conn.execute("DELETE FROM proposals WHERE idx = ?1", params![index])?;
    conn.execute("DELETE FROM steps WHERE idx = ?1", params![index])?;
    let before: Option<(i64, i64)> = conn
        .query_row(
            "SELECT first, not_evaluable FROM free WHERE last = ?1",
            params![index - 1],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let after: Option<(i64, i64)> = conn
        .query_row(
            "SELECT last, not_evaluable FROM free WHERE first = ?1",
            params![index + 1],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (first, mut last, mut count) = (
        before.map_or(index, |b| b.0),
        index,
        not_evaluable + before.map_or(0, |b| b.1),
    );
    if let Some((a_last, a_count)) = after {
        conn.execute("DELETE FROM free WHERE first = ?1", params![index + 1])?;
        last = a_last;
        count += a_count;
    }
    conn.execute(
        "INSERT OR REPLACE INTO free (first, last, not_evaluable) VALUES (?1, ?2, ?3)",
        params![first, last, count],
    )?;
    Ok(())
}

/// The `steps` table and the `stopped_at` column, where a store lacks them.
pub(super) fn add_steps_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS steps (
             idx INTEGER NOT NULL, step INTEGER NOT NULL, objective REAL NOT NULL,
             cost_seconds REAL NOT NULL,
             decision TEXT NOT NULL CHECK (decision IN ('continue', 'stop')),
             reported_unix REAL NOT NULL, PRIMARY KEY (idx, step));",
    )?;
    let has_column: bool = conn
        .prepare("SELECT 1 FROM pragma_table_info('evaluations') WHERE name = 'stopped_at'")?
        .exists([])?;
    if !has_column {
        conn.execute_batch("ALTER TABLE evaluations ADD COLUMN stopped_at INTEGER;")?;
    }
    Ok(())
}

pub(super) fn insert_step(
    conn: &Connection,
    index: usize,
    step: &StepResult,
    decision: Decision,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO steps
         (idx, step, objective, cost_seconds, decision, reported_unix)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            index as i64,
            step.step as i64,
            step.objective,
            step.cost_seconds,
            decision.name(),
            now()
        ],
    )?;
    Ok(())
}

/// Inserts a finished evaluation (refused when the index has one already).
pub(super) fn insert_outcome(
    conn: &Connection,
    index: usize,
    outcome: &Outcome,
) -> rusqlite::Result<()> {
    let (status, objective, report, cost, metrics, reason) = match outcome {
        Outcome::Evaluated(e) => (
            TrialStatus::Evaluated,
            Some(e.objective),
            e.report,
            Some(e.cost_seconds),
            Some(serde_json::to_string(&e.metrics).expect("numbers serialise")),
            e.note.as_deref(),
        ),
        Outcome::Failed(r) => (
            TrialStatus::Failed,
            None,
            None,
            None,
            None,
            Some(r.as_str()),
        ),
        Outcome::NotEvaluable => (TrialStatus::NotEvaluable, None, None, None, None, None),
    };
    let stopped_at = match outcome {
        Outcome::Evaluated(e) => e.stopped_at.map(|s| s as i64),
        _ => None,
    };
    conn.execute(
        "INSERT INTO evaluations
         (idx, status, objective, report, cost_seconds, metrics, reason, finished_unix,
          stopped_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            index as i64,
            status.as_str(),
            objective,
            report,
            cost,
            metrics,
            reason,
            now(),
            stopped_at
        ],
    )?;
    if let Outcome::Evaluated(e) = outcome
        && !e.steps.is_empty()
    {
        // The final attempt's steps replace whatever an interrupted attempt recorded.
        conn.execute("DELETE FROM steps WHERE idx = ?1", params![index as i64])?;
        for s in &e.steps {
            let decision = if e.stopped_at == Some(s.step) {
                Decision::Stop
            } else {
                Decision::Continue
            };
            insert_step(conn, index, s, decision)?;
        }
    }
    Ok(())
}

/// Replaces the checkpoints named `name` by `data`.
pub(super) fn replace_checkpoint(
    conn: &Connection,
    told: usize,
    name: &str,
    data: &[u8],
) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM checkpoints WHERE name = ?1", params![name])?;
    conn.execute(
        "INSERT INTO checkpoints (told, name, data, saved_unix) VALUES (?1, ?2, ?3, ?4)",
        params![told as i64, name, data, now()],
    )?;
    Ok(())
}
