//! The result a command writes (`{result}`, or its last line): one small JSON object with
//! the objective and its metrics.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::out_of_resources;

/// File name of the result inside an evaluation's folder.
pub const RESULT_FILE: &str = "result.json";

/// Largest result file read (`{result}`): a result is one small JSON object, and a larger
/// file is refused (a failed attempt) rather than read into memory.
pub const MAX_RESULT_BYTES: u64 = 16 * 1024 * 1024;

/// The text of the result file at `path`: `Ok(None)` when it is missing or blank, an error
/// when it is larger than [`MAX_RESULT_BYTES`] (at most that much is ever read).
/// A file that cannot be opened for want of resources is an error too (with the cause), not a
/// missing result.
pub(super) fn read_result(path: &Path) -> Result<Option<String>, (Option<std::io::Error>, String)> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if out_of_resources(&e) => {
            let why = format!("cannot open {}: {e}", path.display());
            return Err((Some(e), why));
        }
        Err(_) => return Ok(None),
    };
    let mut bytes = Vec::new();
    // One byte more than allowed tells a file over the limit, whatever it grows to meanwhile.
    if f.take(MAX_RESULT_BYTES + 1)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return Ok(None);
    }
    if bytes.len() as u64 > MAX_RESULT_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err((
            None,
            format!(
                "the result file {} holds {size} bytes; a result is one JSON object of at most \
             {MAX_RESULT_BYTES} bytes (16 MiB)",
                path.display()
            ),
        ));
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok((!text.trim().is_empty()).then_some(text))
}

/// Parses `{"objective": x, "metrics": {...}}`: the objective must be a finite number; metrics
/// that are not numbers are left out.
pub fn parse_result(text: &str) -> Result<(f64, BTreeMap<String, f64>), String> {
    let short = |t: &str| {
        let t = t.trim();
        if t.chars().count() > 120 {
            format!("{}...", t.chars().take(120).collect::<String>())
        } else {
            t.to_string()
        }
    };
    let value: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
        if objective_is_not_finite(text) {
            format!("the objective is not a finite number: {}", short(text))
        } else if text.contains("NaN") || text.contains("Infinity") {
            format!(
                "the result holds NaN or Infinity, which JSON does not allow (leave out a \
                 metric that is not a finite number): {}",
                short(text)
            )
        } else {
            format!("the result is not JSON ({e}): {}", short(text))
        }
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| format!("the result is not a JSON object: {}", short(text)))?;
    let objective = match object.get("objective") {
        Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(other) => return Err(format!("\"objective\" is not a number: {other}")),
        None => return Err(format!("the result has no \"objective\": {}", short(text))),
    };
    if !objective.is_finite() {
        return Err(format!("the objective is not a finite number: {objective}"));
    }
    // -0.0 is 0.0 (the run store keeps no sign of zero: a resumed run must read the same).
    let objective = objective + 0.0;
    let mut metrics = BTreeMap::new();
    if let Some(serde_json::Value::Object(m)) = object.get("metrics") {
        for (k, v) in m {
            if let Some(x) = v.as_f64().filter(|x| x.is_finite()) {
                metrics.insert(k.clone(), x + 0.0);
            }
        }
    }
    Ok((objective, metrics))
}

/// Whether `text` gives `"objective"` the value NaN or (-)Infinity (not JSON, so the parser
/// only says where it stopped).
fn objective_is_not_finite(text: &str) -> bool {
    text.match_indices("\"objective\"").any(|(at, name)| {
        let rest = text[at + name.len()..].trim_start();
        rest.strip_prefix(':').is_some_and(|v| {
            let v = v.trim_start();
            ["NaN", "Infinity", "-Infinity"]
                .iter()
                .any(|bad| v.starts_with(bad))
        })
    })
}
