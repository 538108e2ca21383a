//! Tables of measured architectures (CSV) and the tabular benchmark over them.
//!
//! A table has a header line. Some columns identify the architecture (one column holding the
//! space's textual form, or one column per position of a categorical space); every other column
//! is a metric and must hold a finite number on every row.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use crate::evaluator::{Decision, EvalContext, Fidelities, StepMonitor};
use crate::evaluator::{Evaluation, Evaluator, Outcome, Reference};
use crate::settings::{listed, quoted};
use crate::space::{CategoricalSpace, SearchSpace};

/// A malformed table, located as precisely as possible.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}{}: {message}", column.as_ref().map(|c| format!(": column {}", crate::settings::quoted(c))).unwrap_or_default())]
pub struct TableError {
    /// The table's file (or name, for embedded tables).
    pub file: String,
    /// 1-based line number (1 is the header).
    pub line: u64,
    /// The column concerned, if one is.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Memory a search takes for a table, as a multiple of the table's file size (measured on a
/// 209 MB, 5.8 M-row table: 6 times with random search, 8.5 times with SemiNAS-Ens, which
/// lists every row with its features).
pub const MEMORY_PER_TABLE_BYTE: u64 = 9;

/// Refuses a table of `file_bytes` bytes whose search would need more memory than this
/// process may have (the memory available, or `ulimit -v`): a clear message instead of the
/// process being killed halfway through reading it. `None` when it fits or the limits are
/// unknown.
pub fn too_large_for_memory(file_bytes: u64) -> Option<String> {
    let need = file_bytes.saturating_mul(MEMORY_PER_TABLE_BYTE);
    let available = memory_available()?;
    (need > available).then(|| {
        let mb = |b: u64| b / 1_000_000;
        format!(
            "a table of {} MB needs about {} MB of memory to search ({MEMORY_PER_TABLE_BYTE} \
             times its size), and this process may have {} MB (the memory available, or \
             `ulimit -v`): use a machine with more memory or a smaller table",
            mb(file_bytes),
            mb(need),
            mb(available)
        )
    })
}

/// The memory this process may still take: the smaller of the system's available memory and
/// its address-space limit. `None` where neither is known.
fn memory_available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb.saturating_mul(1024))
    });
    match (meminfo, address_space_limit()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The address-space limit (`ulimit -v`), if one is set.
#[cfg(unix)]
fn address_space_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0
        && lim.rlim_cur != libc::RLIM_INFINITY)
        .then_some(lim.rlim_cur)
}

#[cfg(not(unix))]
fn address_space_limit() -> Option<u64> {
    None
}

/// A table of architectures (by canonical key) and their metrics. Stored by column: a key
/// and a line per row, the metrics in one flat array, and an index from a 64-bit hash of the
/// key to its row (keys are held once: a 5.8 M-row table took 2.7 GB with a map of key
/// strings and a vector per row).
#[derive(Debug, Clone)]
pub struct Table {
    source: String,
    metric_names: Vec<String>,
    keys: Vec<Box<str>>,
    lines: Vec<u64>,
    /// Row `i`'s metrics are `values[i * m..(i + 1) * m]` for `m` metrics.
    values: Vec<f64>,
    index: KeyIndex,
}

/// Rows by key: a map from the key's hash to its row, and the rare keys whose hash another
/// key has already by their full text.
#[derive(Debug, Clone, Default)]
struct KeyIndex {
    by_hash: HashMap<u64, u32>,
    collided: HashMap<Box<str>, u32>,
}

impl KeyIndex {
    fn hash(key: &str) -> u64 {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    }
    fn get(&self, keys: &[Box<str>], key: &str) -> Option<usize> {
        match self.by_hash.get(&Self::hash(key)) {
            Some(&i) if &*keys[i as usize] == key => Some(i as usize),
            Some(_) => self.collided.get(key).map(|&i| i as usize),
            None => None,
        }
    }
    /// Adds row `row` (its key is `keys[row]`); the row of an equal key already there, if any.
    fn insert(&mut self, keys: &[Box<str>], row: usize) -> Option<usize> {
        let key = &keys[row];
        match self.by_hash.entry(Self::hash(key)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(row as u32);
                None
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let first = *o.get() as usize;
                if keys[first] == *key {
                    return Some(first);
                }
                match self.collided.entry(key.clone()) {
                    std::collections::hash_map::Entry::Occupied(c) => Some(*c.get() as usize),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(row as u32);
                        None
                    }
                }
            }
        }
    }
}

impl Table {
    /// Reads a CSV table.
    ///
    /// `arch_columns` names the columns that identify the architecture; `to_key` turns their
    /// cells into the architecture's canonical key or says which of them (by index into
    /// `arch_columns`) is wrong and why. All other columns are metrics.
    pub fn read_csv<R: Read>(
        source: &str,
        reader: R,
        arch_columns: &[String],
        mut to_key: impl FnMut(&[&str]) -> Result<String, (usize, String)>,
    ) -> Result<Self, TableError> {
        let err = |line: u64, column: Option<&str>, message: String| TableError {
            file: source.to_string(),
            line,
            column: column.map(str::to_string),
            message,
        };
        // The csv crate's line numbers are wrong for CRLF files (what Python's csv module
        // writes): lines are counted here from the newlines read instead. After a CRLF line the
        // next record's position is its line's `\n`, which therefore counts as passed.
        let newlines = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let line_at = |p: Option<&csv::Position>| {
            p.map_or(0, |p| {
                1 + newlines
                    .borrow()
                    .partition_point(|&at: &u64| at <= p.byte()) as u64
            })
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(NewlineCounter {
                inner: reader,
                read: 0,
                newlines: newlines.clone(),
            });
        let headers = rdr
            .headers()
            .map_err(|e| err(1, None, format!("cannot read the header: {e}")))?
            .clone();
        let mut col_of = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            if h.is_empty() {
                return Err(err(1, None, format!("column {} has an empty name", i + 1)));
            }
            if col_of.insert(h.to_string(), i).is_some() {
                return Err(err(1, Some(h), "column name appears twice".into()));
            }
        }
        let mut arch_idx = Vec::with_capacity(arch_columns.len());
        for c in arch_columns {
            let i = *col_of.get(c).ok_or_else(|| {
                err(
                    1,
                    Some(c),
                    format!(
                        "missing architecture column (the header has: {})",
                        listed(&headers.iter().collect::<Vec<_>>(), 50)
                    ),
                )
            })?;
            arch_idx.push(i);
        }
        let metric_idx: Vec<usize> = (0..headers.len())
            .filter(|i| !arch_idx.contains(i))
            .collect();
        let metric_names: Vec<String> =
            metric_idx.iter().map(|&i| headers[i].to_string()).collect();

        let mut keys: Vec<Box<str>> = Vec::new();
        let mut lines: Vec<u64> = Vec::new();
        let mut values: Vec<f64> = Vec::new();
        let mut index = KeyIndex::default();
        let mut record = csv::StringRecord::new();
        loop {
            let more = rdr
                .read_record(&mut record)
                .map_err(|e| err(line_at(e.position()), None, format!("malformed CSV: {e}")))?;
            if !more {
                break;
            }
            let line = line_at(record.position());
            if record.len() != headers.len() {
                return Err(err(
                    line,
                    None,
                    format!("expected {} fields, found {}", headers.len(), record.len()),
                ));
            }
            let cells: Vec<&str> = arch_idx.iter().map(|&i| &record[i]).collect();
            let key = to_key(&cells)
                .map_err(|(which, msg)| err(line, Some(&arch_columns[which]), msg))?;
            if keys.len() >= u32::MAX as usize {
                return Err(err(
                    line,
                    None,
                    format!("more than {} rows: split the table", u32::MAX),
                ));
            }
            for &i in &metric_idx {
                let cell = &record[i];
                let v: f64 = cell.parse().map_err(|_| {
                    err(
                        line,
                        Some(&headers[i]),
                        format!("{} is not a number", quoted(cell)),
                    )
                })?;
                if !v.is_finite() {
                    return Err(err(
                        line,
                        Some(&headers[i]),
                        format!("{} is not a finite number", quoted(cell)),
                    ));
                }
                // -0.0 as 0.0: the run store keeps no sign of zero, a resume must read the same.
                values.push(v + 0.0);
            }
            keys.push(key.into_boxed_str());
            lines.push(line);
            if let Some(first) = index.insert(&keys, keys.len() - 1) {
                return Err(err(
                    line,
                    None,
                    format!(
                        "duplicate architecture {} (first on line {})",
                        quoted(&keys[first]),
                        lines[first]
                    ),
                ));
            }
        }
        if keys.is_empty() {
            return Err(err(1, None, "the table has no rows".into()));
        }
        keys.shrink_to_fit();
        lines.shrink_to_fit();
        values.shrink_to_fit();
        Ok(Self {
            source: source.to_string(),
            metric_names,
            keys,
            lines,
            values,
            index,
        })
    }

    /// Reads a table for a categorical space: one column per position, holding choice names.
    pub fn read_categorical<R: Read>(
        source: &str,
        reader: R,
        space: &CategoricalSpace,
    ) -> Result<Self, TableError> {
        let cols: Vec<String> = space.positions().iter().map(|p| p.name.clone()).collect();
        Self::read_csv(source, reader, &cols, |cells| {
            let mut choices = Vec::with_capacity(cells.len());
            for (p, cell) in cells.iter().enumerate() {
                let c = space.choice_index(p, cell).ok_or_else(|| {
                    (
                        p,
                        format!(
                            "unknown choice {} (allowed: {})",
                            quoted(cell),
                            listed(&space.positions()[p].choices, 50)
                        ),
                    )
                })?;
                choices.push(c);
            }
            Ok(space.key(&crate::space::CategoricalArch(choices.into_boxed_slice())))
        })
    }

    /// Reads a table whose column `column` holds each architecture in the space's text form.
    pub fn read_with_text_column<R: Read, S: SearchSpace>(
        source: &str,
        reader: R,
        space: &S,
        column: &str,
    ) -> Result<Self, TableError> {
        Self::read_csv(source, reader, &[column.to_string()], |cells| {
            let arch = space.parse(cells[0]).map_err(|e| (0, e.to_string()))?;
            space.validate(&arch).map_err(|e| (0, e.to_string()))?;
            Ok(space.key(&arch))
        })
    }

    /// Where the table came from.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Names of the metric columns.
    pub fn metric_names(&self) -> &[String] {
        &self.metric_names
    }
    /// Number of architectures.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    /// True for a table without rows (never returned by the readers).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    /// Row `i`'s metric values.
    fn row(&self, i: usize) -> &[f64] {
        let m = self.metric_names.len();
        &self.values[i * m..(i + 1) * m]
    }
    /// The first row (file order) whose metric `c` is negative, with its line and value.
    fn first_negative(&self, c: usize) -> Option<(u64, f64)> {
        (0..self.len())
            .map(|i| (self.lines[i], self.row(i)[c]))
            .find(|(_, v)| *v < 0.0)
    }
    /// Index of metric column `name`, or an error listing the available ones.
    pub fn metric_index(&self, name: &str) -> Result<usize, TableError> {
        self.metric_names
            .iter()
            .position(|m| m == name)
            .ok_or_else(|| TableError {
                file: self.source.clone(),
                line: 1,
                column: Some(name.to_string()),
                message: format!(
                    "no such metric column (metrics: {})",
                    listed(&self.metric_names, 50)
                ),
            })
    }
    /// The metric values of the architecture with canonical key `key`.
    pub fn get(&self, key: &str) -> Option<&[f64]> {
        self.index.get(&self.keys, key).map(|i| self.row(i))
    }
    /// All (key, metric values) rows in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[f64])> {
        (0..self.len()).map(|i| (&*self.keys[i], self.row(i)))
    }
}

/// A benchmark that answers from a [`Table`]: objective and report are two of its columns.
#[derive(Debug, Clone)]
pub struct TabularBenchmark {
    table: Arc<Table>,
    objective: usize,
    report: usize,
    cost: Option<usize>,
    objective_name: String,
    report_name: String,
    reference: Reference,
    /// Lower fidelities, when the table has them.
    fidelity: Option<TableFidelity>,
    /// The cost column's mean (a whole training's mean cost), if there is a cost column.
    full_cost: Option<f64>,
}

/// A table's fidelities: per step, the column of its objective and of its cost.
#[derive(Debug, Clone)]
struct TableFidelity {
    /// `(step, objective column, own cost column)`, increasing; the last is the objective.
    steps: Vec<(u64, usize, Option<usize>)>,
}

/// One fidelity of a table, as `--fidelity STEP=COL[,COST_COL]` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct FidelityColumn {
    /// The step (e.g. epochs).
    pub step: u64,
    /// The column of the objective at that step.
    pub column: String,
    /// The column of the training's cost at that step (seconds); without it the step costs
    /// `step / max step` of the full training's cost.
    pub cost_column: Option<String>,
}

impl std::str::FromStr for FidelityColumn {
    type Err = String;
    /// Parses `STEP=COLUMN` or `STEP=COLUMN,COST_COLUMN`.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "--fidelity {}: expected STEP=COLUMN[,COST_COLUMN] (e.g. 12=val_acc_12ep)",
                quoted(text)
            )
        };
        let (step, cols) = text.split_once('=').ok_or_else(bad)?;
        let step: u64 = step.trim().parse().map_err(|_| bad())?;
        if step == 0 || step > u64::from(u32::MAX) {
            return Err(format!(
                "--fidelity {}: the step must be from 1 to {}",
                quoted(text),
                u32::MAX
            ));
        }
        let (column, cost) = match cols.split_once(',') {
            Some((c, k)) => (c.trim(), Some(k.trim())),
            None => (cols.trim(), None),
        };
        if column.is_empty() || cost.is_some_and(str::is_empty) {
            return Err(bad());
        }
        Ok(Self {
            step,
            column: column.to_string(),
            cost_column: cost.map(str::to_string),
        })
    }
}

impl TabularBenchmark {
    /// Uses column `objective` as the objective, `report` as the reported metric, and `cost`
    /// (if given and present) as the cost of an evaluation in seconds.
    pub fn new(
        table: Arc<Table>,
        objective: &str,
        report: &str,
        cost: Option<&str>,
    ) -> Result<Self, TableError> {
        let o = table.metric_index(objective)?;
        let r = table.metric_index(report)?;
        let c = match cost {
            Some(c) => Some(table.metric_index(c)?),
            None => None,
        };
        // A cost is a duration: a negative one is a broken table, not a free evaluation.
        if let Some(c) = c
            && let Some((line, v)) = table.first_negative(c)
        {
            return Err(TableError {
                file: table.source.clone(),
                line,
                column: cost.map(str::to_string),
                message: format!("the cost {v} is negative (a cost is a number of seconds)"),
            });
        }
        let reference = Reference::new(table.iter().map(|(_, v)| v[r]).collect());
        let n = table.len();
        let full_cost = c
            .filter(|_| n > 0)
            .map(|c| (0..n).map(|i| table.row(i)[c]).sum::<f64>() / n as f64);
        Ok(Self {
            table,
            objective: o,
            report: r,
            cost: c,
            objective_name: objective.to_string(),
            report_name: report.to_string(),
            reference,
            fidelity: None,
            full_cost,
        })
    }

    /// The benchmark with lower fidelities: each step's objective (and optionally cost)
    /// column. The largest step must be the objective's column (it may be left out: it is
    /// then added at the step given by `max_step`, or refused when that is unknown). A step
    /// without a cost column costs `step / max step` of the cost column's value.
    pub fn with_fidelities(mut self, columns: &[FidelityColumn]) -> Result<Self, TableError> {
        let err = |column: Option<&str>, message: String| TableError {
            file: self.table.source.clone(),
            line: 1,
            column: column.map(str::to_string),
            message,
        };
        let mut cols = columns.to_vec();
        cols.sort_by_key(|c| c.step);
        if let Some(w) = cols.windows(2).find(|w| w[0].step == w[1].step) {
            return Err(err(
                None,
                format!("--fidelity: step {} is given twice", w[0].step),
            ));
        }
        let Some(last) = cols.last() else {
            return Ok(self);
        };
        if last.column != self.objective_name {
            return Err(err(
                Some(&last.column),
                format!(
                    "the largest step's column must be the objective ({}): the full training                      is what the search maximises",
                    quoted(&self.objective_name)
                ),
            ));
        }
        let mut steps = Vec::with_capacity(cols.len());
        for c in &cols {
            let col = self.table.metric_index(&c.column)?;
            let cost = match &c.cost_column {
                Some(k) => {
                    let i = self.table.metric_index(k)?;
                    if let Some((line, v)) = self.table.first_negative(i) {
                        return Err(TableError {
                            file: self.table.source.clone(),
                            line,
                            column: Some(k.clone()),
                            message: format!("the cost {v} is negative"),
                        });
                    }
                    Some(i)
                }
                None => None,
            };
            steps.push((c.step, col, cost));
        }
        self.fidelity = Some(TableFidelity { steps });
        Ok(self)
    }

    /// What training `row` to `step` (the `i`-th fidelity) cost.
    fn step_cost(&self, f: &TableFidelity, i: usize, row: &[f64]) -> f64 {
        let (step, _, own) = f.steps[i];
        if let Some(c) = own {
            return row[c];
        }
        let max = f.steps.last().map_or(1, |s| s.0) as f64;
        self.cost.map_or(0.0, |c| row[c] * step as f64 / max)
    }

    /// The underlying table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The evaluation stored for a canonical key, if any.
    pub fn lookup(&self, key: &str) -> Option<Evaluation> {
        self.table.get(key).map(|v| {
            Evaluation::new(
                v[self.objective],
                Some(v[self.report]),
                self.cost.map(|c| v[c]).unwrap_or(0.0),
            )
        })
    }
}

impl<S: SearchSpace> Evaluator<S> for TabularBenchmark {
    fn objective_name(&self) -> &str {
        &self.objective_name
    }
    fn report_name(&self) -> &str {
        &self.report_name
    }
    fn evaluate(&self, space: &S, arch: &S::Arch) -> Outcome {
        match self.lookup(&space.key(arch)) {
            Some(e) => Outcome::Evaluated(e),
            None => Outcome::NotEvaluable,
        }
    }
    fn reference(&self) -> Option<&Reference> {
        Some(&self.reference)
    }
    fn known_keys(&self) -> Option<Box<dyn Iterator<Item = &str> + '_>> {
        Some(Box::new(self.table.iter().map(|(k, _)| k)))
    }
    fn full_training_cost(&self) -> Option<f64> {
        self.full_cost
    }
    fn fidelities(&self) -> Option<Fidelities> {
        let f = self.fidelity.as_ref()?;
        Some(Fidelities {
            steps: f.steps.iter().map(|s| s.0).collect(),
            fixed: true,
        })
    }
    fn evaluate_steps(
        &self,
        space: &S,
        arch: &S::Arch,
        _ctx: &EvalContext,
        monitor: &dyn StepMonitor,
    ) -> Outcome {
        let key = space.key(arch);
        let (Some(f), Some(row)) = (&self.fidelity, self.table.get(&key)) else {
            return Evaluator::<S>::evaluate(self, space, arch);
        };
        for (i, &(step, col, _)) in f.steps.iter().enumerate() {
            let cost = self.step_cost(f, i, row);
            if monitor.report(step, row[col], cost) == Decision::Stop {
                return Outcome::Evaluated(Evaluation::new(row[col], None, cost));
            }
        }
        let mut e = self.lookup(&key).expect("the row exists");
        e.cost_seconds = self.step_cost(f, f.steps.len() - 1, row);
        Outcome::Evaluated(e)
    }
}

/// A reader that notes the byte offset of every newline it passes on.
struct NewlineCounter<R> {
    inner: R,
    read: u64,
    newlines: std::rc::Rc<std::cell::RefCell<Vec<u64>>>,
}

impl<R: Read> Read for NewlineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut newlines = self.newlines.borrow_mut();
        for (i, _) in buf[..n].iter().enumerate().filter(|&(_, &b)| b == b'\n') {
            newlines.push(self.read + i as u64);
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> CategoricalSpace {
        CategoricalSpace::from_toml_str(
            "[[position]]\nname='a'\nchoices=['x','y']\n[[position]]\nname='b'\nchoices=['u','v']\n",
            "s",
        )
        .unwrap()
    }

    fn read(text: &str) -> Result<Table, TableError> {
        Table::read_categorical("t.csv", text.as_bytes(), &space())
    }

    #[test]
    fn negative_zero_is_zero_and_negative_costs_are_refused() {
        let t = read("a,b,acc,cost\nx,u,-0.0,2\ny,v,3,-1\n").unwrap();
        let (_, first) = t.iter().next().unwrap();
        assert_eq!(first[0].to_bits(), 0.0f64.to_bits());
        let e = TabularBenchmark::new(Arc::new(t), "acc", "acc", Some("cost")).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (3, Some("cost")));
        assert!(e.to_string().contains("negative"), "{e}");
    }

    #[test]
    fn reads_a_good_table() {
        let t = read("a,b,acc,test\nx,u,1.5,2\ny,v,3,4\n").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.metric_names(), &["acc".to_string(), "test".to_string()]);
        assert_eq!(t.get("a=y,b=v").unwrap(), &[3.0, 4.0]);
        let b = TabularBenchmark::new(Arc::new(t), "acc", "test", None).unwrap();
        assert_eq!(b.reference.optimum(), Some(4.0));
        assert!(b.lookup("a=x,b=v").is_none());
    }

    #[test]
    fn crlf_files_give_the_right_line_numbers() {
        // What Python's csv module writes; the csv crate's own numbers said 2, then 4 and 1.
        let e = read("a,b,acc\r\nx,u,1\r\nx,w,2\r\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = read("a,b,acc\r\nx,u,1\r\ny,u,2\r\ny,v,3\r\nx,u,4\r\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("(first on line 2)"), "{e}");
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = read("a,b,acc\nx,u,1\nx,w,2\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.column.as_deref(), Some("b"));
        assert!(
            e.to_string()
                .starts_with("t.csv:3: column \"b\": unknown choice \"w\""),
            "{e}"
        );

        let e = read("a,acc\nx,1\n").unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (1, Some("b")));
        assert!(e.message.contains("missing architecture column"));

        let e = read("a,b,acc\nx,u,1\ny,u,2\nx,u,3\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("duplicate architecture") && e.message.contains("line 2"));

        let e = read("a,b,acc\nx,u,1\ny,u,abc\n").unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (3, Some("acc")));
        assert!(e.message.contains("\"abc\" is not a number"));

        let e = read("a,b,acc\nx,u,NaN\n").unwrap_err();
        assert!(e.message.contains("not a finite number"));

        let e = read("a,b,acc\nx,u\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("expected 3 fields"));

        let t = Arc::new(read("a,b,acc\nx,u,1\n").unwrap());
        let e = TabularBenchmark::new(t, "acc", "nope", None).unwrap_err();
        assert!(
            e.to_string()
                .contains("\"nope\": no such metric column (metrics: acc)")
        );
    }
}
