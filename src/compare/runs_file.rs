//! `runs.csv`: one line per finished search of a comparison.
//!
//! Columns: `algo,budget,seed,queries,best_key,objective,report,regret,rank,hit,seconds,curve`.
//! `hit` is 1 when the found architecture has the table's best reported value (rank 1), else 0;
//! `seconds` the wall time of the search; `curve` the best-so-far curve (the reported value of
//! the best architecture by objective after each query) written as its change points,
//! `query:value` separated by spaces (`1:93.5 4:93.9 17:94.37`): the value holds until the next
//! point, and is NaN before the first one; the curve has `queries` values.
//!
//! `seminas bench --out DIR` appends a line per finished run, so the file is also the journal a
//! killed bench continues from; `benches/peers/optuna_bench.py` writes the same columns. Files
//! written before `hit`, `seconds` and `curve` existed are read too (hit = rank 1, seconds NaN,
//! no curve).

use super::{BudgetUnit, RunResult};
use crate::settings::quoted;

/// The header line (without the newline).
pub const HEADER: &str =
    "algo,budget,seed,queries,best_key,objective,report,regret,rank,hit,seconds,curve";

/// The header line of runs whose budgets are full trainings (see the module documentation).
pub const HEADER_TRAININGS: &str = "algo,budget,seed,queries,best_key,objective,report,regret,\
     rank,hit,seconds,curve,unit,cost,complete";

/// The header for runs of `unit`.
pub fn header(unit: BudgetUnit) -> &'static str {
    match unit {
        BudgetUnit::Queries => HEADER,
        BudgetUnit::Trainings => HEADER_TRAININGS,
    }
}

/// The CSV line of one run, newline included.
pub fn line(r: &RunResult) -> String {
    let common = format!(
        "{},{},{},{},\"{}\",{},{},{},{},{},{}",
        r.algo,
        r.budget,
        r.seed,
        r.queries,
        r.best_key.replace('"', "\"\""),
        r.objective,
        r.report,
        r.regret,
        r.rank,
        u8::from(r.hit),
        r.seconds,
    );
    match r.unit {
        BudgetUnit::Queries => format!("{common},\"{}\"\n", curve_text(&r.curve)),
        BudgetUnit::Trainings => format!(
            "{common},\"{}\",trainings,{},{}\n",
            cost_curve_text(&r.cost_curve),
            r.cost,
            r.complete
        ),
    }
}

/// A curve against training time as its change points `COST:VALUE`.
pub fn cost_curve_text(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(c, v)| format!("{c}:{v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The change points [`cost_curve_text`] wrote.
pub fn parse_cost_curve(text: &str) -> Result<Vec<(f64, f64)>, String> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for point in text.split_whitespace() {
        let (c, v) = point
            .split_once(':')
            .ok_or_else(|| format!("curve point {} is not COST:VALUE", quoted(point)))?;
        let c: f64 = c
            .parse()
            .ok()
            .filter(|c: &f64| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| format!("curve point {}: {} is not a cost", quoted(point), quoted(c)))?;
        if out.last().is_some_and(|l| c < l.0) {
            return Err(format!(
                "curve point {}: costs must not decrease",
                quoted(point)
            ));
        }
        let v: f64 = v.parse().map_err(|_| {
            format!(
                "curve point {}: {} is not a number",
                quoted(point),
                quoted(v)
            )
        })?;
        out.push((c, v));
    }
    Ok(out)
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// A best-so-far curve as its change points (see the module documentation).
pub fn curve_text(curve: &[f64]) -> String {
    let mut out = String::new();
    let mut last = f64::NAN;
    for (i, &v) in curve.iter().enumerate() {
        if !same(v, last) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("{}:{v}", i + 1));
            last = v;
        }
    }
    out
}

/// The curve of `len` values that [`curve_text`] wrote as `text`.
pub fn parse_curve(text: &str, len: usize) -> Result<Vec<f64>, String> {
    // `len` is read from the file: preallocate only what a real run would plausibly need.
    let mut curve = Vec::with_capacity(len.min(4096));
    let mut value = f64::NAN;
    for point in text.split_whitespace() {
        let (q, v) = point
            .split_once(':')
            .ok_or_else(|| format!("curve point {} is not QUERY:VALUE", quoted(point)))?;
        let q: usize = q.parse().map_err(|_| {
            format!(
                "curve point {}: {} is not a query number",
                quoted(point),
                quoted(q)
            )
        })?;
        if q <= curve.len() || q > len {
            return Err(format!(
                "curve point {}: queries must increase within 1..={len}",
                quoted(point)
            ));
        }
        curve.resize(q - 1, value);
        value = v.parse().map_err(|_| {
            format!(
                "curve point {}: {} is not a number",
                quoted(point),
                quoted(v)
            )
        })?;
        curve.push(value);
    }
    curve.resize(len, value);
    Ok(curve)
}

/// What [`parse`] read.
#[derive(Debug, Clone, Default)]
pub struct ParsedRuns {
    /// The runs, in file order.
    pub runs: Vec<RunResult>,
    /// True when the file ended in an unfinished line (a writer killed mid-line), which was
    /// left out.
    pub truncated: bool,
}

/// Reads a `runs.csv` (`source` names it in errors). An unfinished last line (no newline) is
/// left out and reported in [`ParsedRuns::truncated`]; any other bad line is an error
/// `SOURCE:LINE: reason`.
pub fn parse(source: &str, text: &str) -> Result<ParsedRuns, String> {
    let (text, truncated) = match text.rfind('\n') {
        Some(i) if i + 1 < text.len() => (&text[..=i], true),
        None if !text.is_empty() => ("", true),
        _ => (text, false),
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("{source}: {e}"))?
        .clone();
    if header.is_empty() {
        return Ok(ParsedRuns {
            runs: Vec::new(),
            truncated,
        });
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let required = [
        "algo",
        "budget",
        "seed",
        "queries",
        "best_key",
        "objective",
        "report",
        "regret",
        "rank",
    ];
    let mut idx = [0usize; 9];
    for (i, name) in required.iter().enumerate() {
        idx[i] = col(name).ok_or_else(|| format!("{source}:1: no column {name:?}"))?;
    }
    let (hit, seconds, curve) = (col("hit"), col("seconds"), col("curve"));
    let (unit_col, cost_col, complete_col) = (col("unit"), col("cost"), col("complete"));
    let mut runs = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| format!("{source}: {e}"))?;
        let line = rec.position().map_or(0, |p| p.line());
        let bad = |what: &str, e: String| format!("{source}:{line}: column {what:?}: {e}");
        let get = |i: usize| rec.get(i).unwrap_or("");
        let num = |k: usize| -> Result<f64, String> {
            get(idx[k])
                .parse::<f64>()
                .map_err(|e| bad(required[k], e.to_string()))
        };
        let int = |k: usize| -> Result<u64, String> {
            get(idx[k])
                .parse::<u64>()
                .map_err(|e| bad(required[k], e.to_string()))
        };
        let queries = int(3)? as usize;
        let unit = match unit_col.map(get) {
            None | Some("" | "queries") => BudgetUnit::Queries,
            Some("trainings") => BudgetUnit::Trainings,
            Some(other) => {
                return Err(bad(
                    "unit",
                    format!("{} is not queries or trainings", quoted(other)),
                ));
            }
        };
        let rank = int(8)? as usize;
        let hit = match hit.map(get) {
            None => rank == 1,
            Some("1" | "true") => true,
            Some("0" | "false") => false,
            Some(other) => return Err(bad("hit", format!("{} is not 0 or 1", quoted(other)))),
        };
        let seconds = match seconds.map(get) {
            None => f64::NAN,
            Some(s) => s.parse().map_err(|_| bad("seconds", quoted(s)))?,
        };
        let (curve, cost_curve) = match (curve.map(get), unit) {
            (None, _) => (Vec::new(), Vec::new()),
            (Some(c), BudgetUnit::Queries) => (
                parse_curve(c, queries).map_err(|e| bad("curve", e))?,
                Vec::new(),
            ),
            (Some(c), BudgetUnit::Trainings) => (
                Vec::new(),
                parse_cost_curve(c).map_err(|e| bad("curve", e))?,
            ),
        };
        let opt_num = |c: Option<usize>, name: &str| -> Result<f64, String> {
            match c.map(get) {
                None | Some("") => Ok(f64::NAN),
                Some(v) => v
                    .parse()
                    .map_err(|_| bad(name, format!("{} is not a number", quoted(v)))),
            }
        };
        let cost = opt_num(cost_col, "cost")?;
        let complete = match complete_col.map(get) {
            None | Some("") => queries,
            Some(v) => v
                .parse()
                .map_err(|_| bad("complete", format!("{} is not a count", quoted(v))))?,
        };
        runs.push(RunResult {
            algo: get(idx[0]).to_string(),
            budget: int(1)? as usize,
            seed: int(2)?,
            queries,
            best_key: get(idx[4]).to_string(),
            objective: num(5)?,
            report: num(6)?,
            regret: num(7)?,
            rank,
            hit,
            seconds,
            curve,
            unit,
            cost,
            complete,
            cost_curve,
        });
    }
    Ok(ParsedRuns { runs, truncated })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(curve: Vec<f64>) -> RunResult {
        RunResult {
            algo: "re".into(),
            budget: 5,
            seed: 3,
            queries: curve.len(),
            best_key: "a=\"x\",b=y".into(),
            objective: 91.5,
            report: 94.3733,
            regret: 0.0,
            rank: 1,
            hit: true,
            seconds: 0.125,
            curve,
            unit: BudgetUnit::Queries,
            cost: 0.0,
            complete: 5,
            cost_curve: Vec::new(),
        }
    }

    #[test]
    fn curves_are_written_as_change_points_and_read_back() {
        let c = vec![f64::NAN, 93.5, 93.5, 94.0, 94.0];
        assert_eq!(curve_text(&c), "2:93.5 4:94");
        let back = parse_curve("2:93.5 4:94", 5).unwrap();
        assert!(back[0].is_nan());
        assert_eq!(&back[1..], &c[1..]);
        assert_eq!(parse_curve("", 2).unwrap().len(), 2);
        assert!(parse_curve("3:1 2:1", 5).is_err());
        assert!(parse_curve("6:1", 5).is_err());
    }

    #[test]
    fn lines_round_trip_and_a_truncated_last_line_is_left_out() {
        let r = run(vec![93.0, 94.3733, 94.3733, 94.3733, 94.3733]);
        let text = format!("{HEADER}\n{}", line(&r));
        let p = parse("runs.csv", &text).unwrap();
        assert!(!p.truncated);
        let back = &p.runs[0];
        assert_eq!(
            (
                &back.best_key,
                back.rank,
                back.hit,
                back.seconds,
                &back.curve
            ),
            (&r.best_key, 1, true, 0.125, &r.curve)
        );
        let cut = format!("{text}{}", &line(&r)[..20]);
        let p = parse("runs.csv", &cut).unwrap();
        assert!(p.truncated);
        assert_eq!(p.runs.len(), 1);
        let err = parse("runs.csv", &format!("{text}re,x,0,1,k,1,1,0,1,1,1,\"\"\n")).unwrap_err();
        assert!(err.starts_with("runs.csv:3: column \"budget\""), "{err}");
    }

    #[test]
    fn files_without_the_new_columns_are_read() {
        let text = "algo,budget,seed,queries,best_key,objective,report,regret,rank\n\
                    random,50,0,50,\"|a~0|\",91.4,93.795,0.578,141\n\
                    random,50,1,50,\"|b~0|\",91.6,94.3733,0,1\n";
        let p = parse("old.csv", text).unwrap();
        assert_eq!(p.runs.len(), 2);
        assert!(!p.runs[0].hit && p.runs[1].hit);
        assert!(p.runs[0].seconds.is_nan() && p.runs[0].curve.is_empty());
    }
}
