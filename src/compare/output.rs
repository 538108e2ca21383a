//! The files of a comparison directory, as `seminas bench --out DIR` and `seminas report
//! --out DIR` write them: `runs.csv` (one line per search, see
//! [`crate::compare::runs_file`]), `curves.csv` (mean best-so-far curve per algorithm),
//! `table.json` (the [`BenchTable`]) and the plot of the curves (`curves.svg`, and `curves.png`
//! with the `plot` feature). Every file is written to a temporary file in the same directory
//! and renamed into place, so a reader (or a killed writer) never sees a half-written file.

use std::path::Path;

use super::{BenchTable, Comparison};
use crate::report::plot::{LinePlot, Series};
use crate::report::write_atomic;

/// The files derived from `runs.csv` (rewritten whenever the runs change).
pub const DERIVED_FILES: [&str; 4] = ["curves.csv", "table.json", "curves.svg", "curves.png"];

/// Writes the comparison's files into `dir` (created if needed), each atomically. `extra_runs`
/// are runs the directory holds beyond the comparison's (kept in `runs.csv` only).
pub fn write_comparison_dir(
    dir: &Path,
    cmp: &Comparison,
    table: &BenchTable,
    extra_runs: &[super::RunResult],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut runs = cmp.runs_csv();
    for r in extra_runs {
        runs.push_str(&crate::compare::runs_file::line(r));
    }
    write_atomic(&dir.join("runs.csv"), runs.as_bytes())?;
    write_atomic(&dir.join("curves.csv"), cmp.curves_csv().as_bytes())?;
    write_atomic(
        &dir.join("table.json"),
        (serde_json::to_string_pretty(table)? + "\n").as_bytes(),
    )?;
    let seeds: Vec<usize> = cmp.rows.iter().map(|r| r.seeds).collect();
    let seeds = match (seeds.iter().min(), seeds.iter().max()) {
        (Some(a), Some(b)) if a == b => format!("{a} seeds"),
        (Some(a), Some(b)) => format!("{a}-{b} seeds"),
        _ => "the seeds".into(),
    };
    let x_step = cmp
        .curves
        .iter()
        .find_map(|c| c.x.as_ref().and_then(|x| x.first().copied()))
        .unwrap_or(1.0);
    let plot = LinePlot {
        title: format!(
            "Best so far on {} (mean of {seeds}, band = ±1 s.e.)",
            table.space.as_deref().unwrap_or("the benchmark")
        ),
        x_label: match cmp.unit {
            crate::compare::BudgetUnit::Queries => "queries".into(),
            crate::compare::BudgetUnit::Trainings => {
                "training time spent, in full trainings".into()
            }
        },
        x_step,
        y_label: format!(
            "{} of the best architecture by objective",
            table.report.as_deref().unwrap_or("reported value")
        ),
        series: cmp
            .curves
            .iter()
            .map(|c| Series {
                name: c.algo.clone(),
                y: c.mean.clone(),
                band: Some(c.stderr.clone()),
            })
            .collect(),
    };
    let svg = plot.to_svg();
    write_atomic(&dir.join("curves.svg"), svg.as_bytes())?;
    #[cfg(feature = "plot")]
    write_atomic(
        &dir.join("curves.png"),
        &crate::report::plot::svg_to_png(&svg).map_err(std::io::Error::other)?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_the_file_and_leave_no_temporary() {
        let dir = std::env::temp_dir().join(format!("seminas-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("table.json");
        std::fs::write(&path, "old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("table.json")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
