//! A running command's step reports: JSON lines such as `{"step": 3, "objective": 71.2}`
//! appended to its standard output or to its progress file (`{progress}`), read as they come.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// Longest line looked at; longer ones (never step reports) are skipped without being kept.
const MAX_LINE: usize = 64 * 1024;
/// Most bytes read from one file per poll, so that a command flooding its output cannot make
/// a poll take long; the rest is read at the next poll.
const MAX_READ: usize = 4 * 1024 * 1024;

/// What a line said.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum StepLine {
    /// A step report.
    Step(u64, f64),
    /// A line that means to be a step report but is not a valid one.
    Bad(String),
}

/// Follows the files a command may write step reports to.
pub(super) struct StepReader {
    tails: Vec<Tail>,
}

struct Tail {
    path: PathBuf,
    /// Bytes consumed so far.
    offset: u64,
    /// The unfinished last line.
    partial: Vec<u8>,
    /// True while skipping the rest of an over-long line.
    skipping: bool,
}

impl StepReader {
    /// Follows `paths` (files that do not exist yet are looked for at each poll).
    pub(super) fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            tails: paths
                .into_iter()
                .map(|path| Tail {
                    path,
                    offset: 0,
                    partial: Vec::new(),
                    skipping: false,
                })
                .collect(),
        }
    }

    /// The step lines completed since the last poll, file by file.
    pub(super) fn poll(&mut self) -> Vec<StepLine> {
        let mut out = Vec::new();
        for t in &mut self.tails {
            t.poll(&mut out);
        }
        out
    }
}

impl Tail {
    fn poll(&mut self, out: &mut Vec<StepLine>) {
        let Ok(mut f) = File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        let Ok(n) = f.take(MAX_READ as u64).read_to_end(&mut buf) else {
            return;
        };
        self.offset += n as u64;
        for &b in &buf {
            if b == b'\n' {
                if !self.skipping
                    && let Some(line) = parse_step_line(&String::from_utf8_lossy(&self.partial))
                {
                    out.push(line);
                }
                self.partial.clear();
                self.skipping = false;
            } else if !self.skipping {
                if self.partial.len() >= MAX_LINE {
                    self.partial.clear();
                    self.skipping = true;
                } else {
                    self.partial.push(b);
                }
            }
        }
    }
}

/// A step report, a bad one, or `None` for a line that is not about a step.
pub(super) fn parse_step_line(line: &str) -> Option<StepLine> {
    let line = line.trim();
    if !line.starts_with('{') || !line.contains("\"step\"") {
        return None;
    }
    let short: String = line.chars().take(120).collect();
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            let why = if line.contains("NaN") || line.contains("Infinity") {
                "its objective is not a finite number".to_string()
            } else {
                format!("not JSON ({e})")
            };
            return Some(StepLine::Bad(format!("step line {short:?}: {why}")));
        }
    };
    let o = value.as_object()?;
    let step = match o.get("step") {
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(s) if s >= 1 && s <= u64::from(u32::MAX) => s,
            _ => {
                return Some(StepLine::Bad(format!(
                    "step line {short:?}: the step must be a whole number from 1 to {}",
                    u32::MAX
                )));
            }
        },
        _ => {
            return Some(StepLine::Bad(format!(
                "step line {short:?}: \"step\" is not a number"
            )));
        }
    };
    match o.get("objective").and_then(serde_json::Value::as_f64) {
        Some(v) if v.is_finite() => Some(StepLine::Step(step, v)),
        _ => Some(StepLine::Bad(format!(
            "step line {short:?}: no finite \"objective\""
        ))),
    }
}

/// The last non-empty line of the file's last `MAX_READ` bytes (a result line is short;
/// standard output may be gigabytes).
pub(super) fn last_line_of(path: &std::path::Path) -> Option<String> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(MAX_READ as u64)))
        .ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_are_recognised_and_bad_ones_described() {
        assert_eq!(
            parse_step_line(r#"{"step": 3, "objective": 71.2}"#),
            Some(StepLine::Step(3, 71.2))
        );
        assert_eq!(parse_step_line("epoch 3 loss 0.2"), None);
        assert_eq!(parse_step_line(r#"{"objective": 71.2}"#), None);
        for bad in [
            r#"{"step": 3, "objective": NaN}"#,
            r#"{"step": 0, "objective": 1}"#,
            r#"{"step": 2.5, "objective": 1}"#,
            r#"{"step": -1, "objective": 1}"#,
            r#"{"step": "3", "objective": 1}"#,
            r#"{"step": 3}"#,
            r#"{"step": 3, "objective": 1"#,
        ] {
            assert!(
                matches!(parse_step_line(bad), Some(StepLine::Bad(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn lines_are_read_as_they_are_completed_and_long_lines_skipped() {
        let dir = std::env::temp_dir().join(format!("seminas-steps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stdout.log");
        let mut reader = StepReader::new(vec![path.clone(), dir.join("absent")]);
        assert!(reader.poll().is_empty());
        std::fs::write(
            &path,
            "hello\n{\"step\": 1, \"objective\": 0.5}\n{\"step\": 2,",
        )
        .unwrap();
        assert_eq!(reader.poll(), vec![StepLine::Step(1, 0.5)]);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(" \"objective\": 0.7}\n");
        text.push_str(&"x".repeat(MAX_LINE + 10));
        text.push_str("{\"step\": 9, \"objective\": 1}\n{\"step\": 3, \"objective\": 0.8}\n");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            reader.poll(),
            vec![StepLine::Step(2, 0.7), StepLine::Step(3, 0.8)],
            "the over-long line (with a step report glued to its end) is skipped"
        );
        assert_eq!(
            last_line_of(&path).as_deref(),
            Some("{\"step\": 3, \"objective\": 0.8}")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
