//! The official NAS-Bench-101 dataset in memory and the official query semantics.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rand::Rng as _;
use rayon::prelude::*;

use super::Nb101Error;
use super::record::decode_payload;
use super::tfrecord::RecordReader;
use crate::evaluator::Reference;
use crate::evaluator::{Decision, Fidelities, StepMonitor};
use crate::evaluator::{EvalContext, Evaluation, Evaluator, Outcome};
use crate::rng::Rng;
use crate::space::nb101::{Cell, ModuleHash, Nb101Space};

/// The final evaluation of one training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// The run's epoch budget.
    pub epochs: u32,
    /// Training seconds (final evaluation).
    pub training_time: f64,
    /// Final training-set accuracy (fraction).
    pub train_accuracy: f64,
    /// Final validation accuracy (fraction).
    pub validation_accuracy: f64,
    /// Final test accuracy (fraction).
    pub test_accuracy: f64,
}

/// One unique cell of the dataset and its runs (all budgets, in file order).
#[derive(Debug, Clone)]
pub struct Nb101Model {
    /// The module hash.
    pub hash: ModuleHash,
    /// The pruned cell as the file gives it.
    pub cell: Cell,
    /// Trainable parameters.
    pub trainable_parameters: i32,
    /// The runs.
    pub runs: Vec<Run>,
}

impl Nb101Model {
    /// The runs with epoch budget `epochs`.
    pub fn runs_at(&self, epochs: u32) -> impl Iterator<Item = &Run> {
        self.runs.iter().filter(move |r| r.epochs == epochs)
    }

    /// Mean final test accuracy over the runs at `epochs` (what the paper reports).
    pub fn mean_test_accuracy(&self, epochs: u32) -> Option<f64> {
        mean(self.runs_at(epochs).map(|r| r.test_accuracy))
    }

    /// Mean final validation accuracy over the runs at `epochs`.
    pub fn mean_validation_accuracy(&self, epochs: u32) -> Option<f64> {
        mean(self.runs_at(epochs).map(|r| r.validation_accuracy))
    }
}

fn mean(it: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = it.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// How a query picks among the repeats of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryMode {
    /// One repeat at random per query (the official API).
    Sample,
    /// The mean over the repeats.
    Mean,
}

/// What a query returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryResult {
    /// The module hash of the queried cell.
    pub hash: ModuleHash,
    /// Trainable parameters.
    pub trainable_parameters: i32,
    /// Training seconds of the chosen repeat (or their mean).
    pub training_time: f64,
    /// Final training accuracy of the chosen repeat (or their mean).
    pub train_accuracy: f64,
    /// Final validation accuracy of the chosen repeat (or their mean).
    pub validation_accuracy: f64,
    /// Final test accuracy of the chosen repeat (or their mean).
    pub test_accuracy: f64,
    /// Mean final test accuracy over all repeats (the reported metric).
    pub mean_test_accuracy: f64,
}

/// Hashes module hashes (already uniform MD5 bytes) by folding their bytes: far cheaper than
/// SipHash for the 423,624-entry index.
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.0 = (self.0.rotate_left(29) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The dataset: every cell in the file with its runs.
#[derive(Debug)]
pub struct Nb101Dataset {
    source: String,
    records: u64,
    models: Vec<Nb101Model>,
    index: HashMap<ModuleHash, u32, BuildHasherDefault<PrefixHasher>>,
    epochs: Vec<u32>,
}

impl Nb101Dataset {
    /// Loads an official-format file (e.g. `nasbench_only108.tfrecord` or `nasbench_full.tfrecord`).
    pub fn load(path: &Path) -> Result<Self, Nb101Error> {
        let file = File::open(path).map_err(|source| Nb101Error::Io {
            file: path.display().to_string(),
            source,
        })?;
        Self::from_reader(
            &path.display().to_string(),
            BufReader::with_capacity(1 << 20, file),
        )
    }

    /// Reads an official-format stream; `source` names it in errors.
    ///
    /// Records are framed (and CRC-checked) in order and decoded in parallel batches; the first
    /// error in file order is reported.
    pub fn from_reader<R: Read>(source: &str, reader: R) -> Result<Self, Nb101Error> {
        const BATCH: usize = 8192;
        let mut rd = RecordReader::new(reader);
        let mut models: Vec<Nb101Model> = Vec::new();
        let mut index: HashMap<ModuleHash, u32, BuildHasherDefault<PrefixHasher>> =
            HashMap::default();
        let mut epochs: Vec<u32> = Vec::new();
        let mut records = 0u64;
        let fail = |offset: u64, record: u64, message: String| Nb101Error::Format {
            file: source.to_string(),
            offset,
            record,
            message,
        };
        // One batch: record data back to back in `arena`, with (start offset, range) per record.
        let mut arena: Vec<u8> = Vec::new();
        let mut spans: Vec<(u64, std::ops::Range<usize>)> = Vec::with_capacity(BATCH);
        loop {
            arena.clear();
            spans.clear();
            let mut framing = None;
            let mut done = false;
            while spans.len() < BATCH {
                match rd.next_record() {
                    Ok(Some((start, data))) => {
                        let from = arena.len();
                        arena.extend_from_slice(data);
                        spans.push((start, from..arena.len()));
                    }
                    Ok(None) => {
                        done = true;
                        break;
                    }
                    Err(e) => {
                        framing = Some(e);
                        break;
                    }
                }
            }
            let decoded: Vec<_> = spans
                .par_iter()
                .with_min_len(256)
                .map_init(Vec::new, |scratch, (_, r)| {
                    decode_payload(&arena[r.clone()], scratch)
                })
                .collect();
            for ((start, _), rec) in spans.iter().zip(decoded) {
                records += 1;
                let data_at = start + 12;
                let rec = rec.map_err(|e| fail(data_at + e.at, records, e.message))?;
                let last = rec.metrics.evaluation_data.last().ok_or_else(|| {
                    fail(data_at, records, "the metrics hold no evaluation".into())
                })?;
                let get = |v: Option<f64>, name: &str| {
                    v.ok_or_else(|| {
                        fail(
                            data_at,
                            records,
                            format!("the final evaluation has no {name}"),
                        )
                    })
                };
                let run = Run {
                    epochs: rec.epochs,
                    training_time: get(last.training_time, "training_time")?,
                    train_accuracy: get(last.train_accuracy, "train_accuracy")?,
                    validation_accuracy: get(last.validation_accuracy, "validation_accuracy")?,
                    test_accuracy: get(last.test_accuracy, "test_accuracy")?,
                };
                if !epochs.contains(&rec.epochs) {
                    epochs.push(rec.epochs);
                }
                match index.get(&rec.hash) {
                    Some(&i) => {
                        let m = &mut models[i as usize];
                        if m.cell != rec.cell {
                            return Err(fail(
                                data_at,
                                records,
                                format!("cell of {} differs from its earlier records", rec.hash),
                            ));
                        }
                        m.runs.push(run);
                    }
                    None => {
                        index.insert(rec.hash, models.len() as u32);
                        models.push(Nb101Model {
                            hash: rec.hash,
                            cell: rec.cell,
                            trainable_parameters: rec.metrics.trainable_parameters.unwrap_or(0),
                            runs: vec![run],
                        });
                    }
                }
            }
            if let Some((offset, e)) = framing {
                return Err(fail(offset, records + 1, e.to_string()));
            }
            if done {
                break;
            }
        }
        if records == 0 {
            return Err(fail(0, 1, "the file holds no record (empty)".into()));
        }
        epochs.sort_unstable();
        Ok(Self {
            source: source.to_string(),
            records,
            models,
            index,
            epochs,
        })
    }

    /// Where the data came from.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Number of records read.
    pub fn num_records(&self) -> u64 {
        self.records
    }
    /// Number of unique cells.
    pub fn num_models(&self) -> usize {
        self.models.len()
    }
    /// The epoch budgets present, ascending.
    pub fn epochs(&self) -> &[u32] {
        &self.epochs
    }
    /// All cells, in order of first appearance.
    pub fn models(&self) -> &[Nb101Model] {
        &self.models
    }
    /// The cell with module hash `hash`.
    pub fn get(&self, hash: &ModuleHash) -> Option<&Nb101Model> {
        self.index.get(hash).map(|&i| &self.models[i as usize])
    }

    /// The official query: checks the cell, finds it by module hash and returns one of its
    /// repeats at budget `epochs` drawn with `rng` (or the mean over repeats). `Ok(None)`
    /// when the cell is valid but not in the file.
    pub fn query(
        &self,
        cell: &Cell,
        epochs: u32,
        mode: QueryMode,
        rng: &mut Rng,
    ) -> Result<Option<QueryResult>, Nb101Error> {
        if !self.epochs.contains(&epochs) {
            return Err(Nb101Error::OutOfDomain(format!(
                "invalid number of epochs {epochs}, must be one of {:?}",
                self.epochs
            )));
        }
        let hash = cell
            .module_hash()
            .map_err(|e| Nb101Error::OutOfDomain(e.to_string()))?;
        let Some(m) = self.get(&hash) else {
            return Ok(None);
        };
        let runs: Vec<&Run> = m.runs_at(epochs).collect();
        if runs.is_empty() {
            return Ok(None);
        }
        let mean_test = mean(runs.iter().map(|r| r.test_accuracy)).expect("not empty");
        let pick = |f: fn(&Run) -> f64, chosen: Option<&Run>| match chosen {
            Some(r) => f(r),
            None => mean(runs.iter().map(|r| f(r))).expect("not empty"),
        };
        let chosen = match mode {
            QueryMode::Sample => Some(runs[rng.gen_range(0..runs.len())]),
            QueryMode::Mean => None,
        };
        Ok(Some(QueryResult {
            hash,
            trainable_parameters: m.trainable_parameters,
            training_time: pick(|r| r.training_time, chosen),
            train_accuracy: pick(|r| r.train_accuracy, chosen),
            validation_accuracy: pick(|r| r.validation_accuracy, chosen),
            test_accuracy: pick(|r| r.test_accuracy, chosen),
            mean_test_accuracy: mean_test,
        }))
    }
}

/// Record count, unique cells, epoch budgets, load seconds and peak resident memory (bytes,
/// from `VmHWM` of /proc/self/status where available) of loading `path`.
pub fn load_stats(path: &Path) -> Result<(Nb101Dataset, f64, Option<u64>), Nb101Error> {
    let t = std::time::Instant::now();
    let d = Nb101Dataset::load(path)?;
    let secs = t.elapsed().as_secs_f64();
    Ok((d, secs, peak_rss_bytes()))
}

/// Peak resident set size of this process (`VmHWM`), on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The benchmark over an official file: the search sees the validation accuracy of one
/// repeat drawn per query (or the mean, in [`QueryMode::Mean`]); results report the mean test
/// accuracy of the repeats, as the SemiNAS paper does; the cost is the training time.
pub struct Nb101Benchmark {
    data: Arc<Nb101Dataset>,
    epochs: u32,
    mode: QueryMode,
    rng: Mutex<Rng>,
    /// The generator as seeded: [`Evaluator::evaluate_in`] derives one stream per proposal
    /// from it, so parallel workers draw the same repeats whatever order they finish in.
    base: Rng,
    reference: Reference,
    /// Mean training time of a cell at `epochs` (each cell's mean over its repeats): a whole
    /// training's cost, the unit of budgets in trainings.
    full_cost: Option<f64>,
}

impl Nb101Benchmark {
    /// Queries at budget `epochs` (108 in the paper), drawing repeats from `rng` (seed it with
    /// [`crate::rng::rng_for`]; draws follow the order of the queries, as in the official API).
    pub fn new(
        data: Arc<Nb101Dataset>,
        epochs: u32,
        mode: QueryMode,
        rng: Rng,
    ) -> Result<Self, Nb101Error> {
        if !data.epochs().contains(&epochs) {
            return Err(Nb101Error::OutOfDomain(format!(
                "{}: no runs of {epochs} epochs (the file has {:?})",
                data.source(),
                data.epochs()
            )));
        }
        let reference = Reference::new(
            data.models()
                .iter()
                .filter_map(|m| m.mean_test_accuracy(epochs))
                .collect(),
        );
        let full_cost = mean(
            data.models()
                .iter()
                .filter_map(|m| mean(m.runs_at(epochs).map(|r| r.training_time))),
        );
        Ok(Self {
            data,
            epochs,
            mode,
            base: rng.clone(),
            rng: Mutex::new(rng),
            reference,
            full_cost,
        })
    }

    /// The same benchmark (dataset shared, reference copied) drawing repeats from `rng`: one
    /// per search when many run in parallel.
    pub fn reseeded(&self, rng: Rng) -> Self {
        Self {
            data: self.data.clone(),
            epochs: self.epochs,
            mode: self.mode,
            base: rng.clone(),
            rng: Mutex::new(rng),
            reference: self.reference.clone(),
            full_cost: self.full_cost,
        }
    }

    /// The dataset.
    pub fn dataset(&self) -> &Nb101Dataset {
        &self.data
    }

    /// The epoch budget queried.
    pub fn epochs(&self) -> u32 {
        self.epochs
    }
}

impl Evaluator<Nb101Space> for Nb101Benchmark {
    fn objective_name(&self) -> &str {
        match self.mode {
            QueryMode::Sample => "validation_accuracy",
            QueryMode::Mean => "mean_validation_accuracy",
        }
    }
    fn report_name(&self) -> &str {
        "mean_test_accuracy"
    }
    fn evaluate(&self, _space: &Nb101Space, arch: &Cell) -> Outcome {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        self.answer(arch, &mut rng)
    }
    fn evaluate_in(&self, _space: &Nb101Space, arch: &Cell, ctx: &EvalContext) -> Outcome {
        let mut rng = self.base.clone();
        rng.set_stream(
            rng.get_stream() ^ (ctx.index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        self.answer(arch, &mut rng)
    }
    fn reference(&self) -> Option<&Reference> {
        Some(&self.reference)
    }
    fn reseed(&self, seed: u64) -> Option<Self> {
        Some(self.reseeded(crate::rng::rng_for(seed, "evaluator")))
    }
    fn full_training_cost(&self) -> Option<f64> {
        self.full_cost
    }
    /// The file's epoch budgets up to the one queried: each is its own training in
    /// NAS-Bench-101, costing its own training time.
    fn fidelities(&self) -> Option<Fidelities> {
        let steps: Vec<u64> = self
            .data
            .epochs()
            .iter()
            .filter(|&&e| e <= self.epochs)
            .map(|&e| u64::from(e))
            .collect();
        (steps.len() > 1).then_some(Fidelities { steps, fixed: true })
    }
    /// Reports the lower budgets first: the same repeat (by its position among the cell's
    /// runs at each budget) as the one drawn for the budget queried, or the mean over the
    /// repeats; a stop answers with that budget's validation accuracy and training time.
    fn evaluate_steps(
        &self,
        space: &Nb101Space,
        arch: &Cell,
        ctx: &EvalContext,
        monitor: &dyn StepMonitor,
    ) -> Outcome {
        let mut rng = self.base.clone();
        rng.set_stream(
            rng.get_stream() ^ (ctx.index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let Some(m) = arch.module_hash().ok().and_then(|h| self.data.get(&h)) else {
            return self.evaluate_in(space, arch, ctx);
        };
        // The repeat the query below draws (the same draw, from a copy of the generator).
        let repeats = m.runs_at(self.epochs).count();
        let pick = match self.mode {
            QueryMode::Sample if repeats > 0 => Some(rng.clone().gen_range(0..repeats)),
            _ => None,
        };
        for &e in self.data.epochs().iter().filter(|&&e| e < self.epochs) {
            let runs: Vec<&Run> = m.runs_at(e).collect();
            if runs.is_empty() {
                continue;
            }
            let (val, time) = match pick {
                Some(k) => {
                    let r = runs[k.min(runs.len() - 1)];
                    (r.validation_accuracy, r.training_time)
                }
                None => (
                    mean(runs.iter().map(|r| r.validation_accuracy)).expect("not empty"),
                    mean(runs.iter().map(|r| r.training_time)).expect("not empty"),
                ),
            };
            if monitor.report(u64::from(e), val, time) == Decision::Stop {
                return Outcome::Evaluated(Evaluation::new(val, None, time));
            }
        }
        let out = self.answer(arch, &mut rng);
        if let Outcome::Evaluated(e) = &out {
            monitor.report(u64::from(self.epochs), e.objective, e.cost_seconds);
        }
        out
    }
}

impl Nb101Benchmark {
    fn answer(&self, arch: &Cell, rng: &mut Rng) -> Outcome {
        match self.data.query(arch, self.epochs, self.mode, rng) {
            Ok(Some(q)) => Outcome::Evaluated(Evaluation::new(
                q.validation_accuracy,
                Some(q.mean_test_accuracy),
                q.training_time,
            )),
            Ok(None) => Outcome::NotEvaluable,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}
