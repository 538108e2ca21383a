//! Warm-start pairs read from a file (a run's `queries.jsonl`, or a CSV).

use std::path::Path;

use super::StudyError;
use crate::space::SearchSpace;

/// Reads warm-start pairs from a file: JSON lines with `arch` (the architecture's JSON
/// or its text form) and `objective`, as the `queries.jsonl` of a run directory holds (its
/// failed lines are skipped); or a CSV file with columns `arch` (text form) and `objective`.
pub fn read_pairs<S: SearchSpace>(
    space: &S,
    path: &Path,
) -> Result<Vec<(S::Arch, f64)>, StudyError> {
    let bad = |line: usize, message: String| StudyError::WarmStart {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(0, e.to_string()))?;
    let mut pairs = Vec::new();
    if path.extension().is_some_and(|e| e == "csv") {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| bad(1, format!("no column {}", crate::settings::quoted(name))))
        };
        let (a, o) = (col("arch")?, col("objective")?);
        for (i, row) in reader.records().enumerate() {
            let line = i + 2;
            let row = row.map_err(|e| bad(line, e.to_string()))?;
            let arch = space.parse(&row[a]).map_err(|e| bad(line, e.to_string()))?;
            let objective: f64 = row[o].trim().parse().map_err(|e| {
                bad(
                    line,
                    format!("objective {}: {e}", crate::settings::quoted(&row[o])),
                )
            })?;
            pairs.push((arch, objective));
        }
        return Ok(pairs);
    }
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| bad(line, e.to_string()))?;
        let Some(objective) = value.get("objective").and_then(|o| o.as_f64()) else {
            if value.get("error").is_some() {
                continue;
            }
            return Err(bad(line, "no numeric \"objective\"".into()));
        };
        let arch = match value.get("arch") {
            Some(serde_json::Value::String(text)) => space.parse(text),
            Some(json) => space.read_json(json),
            None => return Err(bad(line, "no \"arch\"".into())),
        }
        .map_err(|e| bad(line, e.to_string()))?;
        pairs.push((arch, objective));
    }
    Ok(pairs)
}
