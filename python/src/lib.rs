//! `seminas._seminas`: the Rust half of the Python package. Architectures cross the boundary
//! as JSON text (the spaces' own JSON form); `seminas/__init__.py` turns them into plain Python
//! values and documents the API. The GIL is released while Rust computes.

use std::path::PathBuf;
use std::sync::Mutex;

mod predictor;
mod sampler;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use seminas::benchmark::TabularBenchmark;
use seminas::benchmark::nb201::{Nb201Dataset, nb201_dataset_benchmark};
use seminas::evaluator::Evaluation;
use seminas::evaluator::{Decision, Fidelities, Pruner};
use seminas::search::{Algo, AlgoOverrides, OverrideError};
use seminas::space::{
    AnyOf, AnySpace, CategoricalSpace, MobileSpace, Nb101Space, Nb201Space, PerSpace, SearchSpace,
    SpaceKind,
};
use seminas::study::QueryRecord;
use seminas::study::{Direction, Study, StudyError, StudySettings, StudyStatus};
use seminas::{map_space, match_space};

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn study_error(e: StudyError) -> PyErr {
    match e {
        StudyError::Store(_) | StudyError::Drive(_) | StudyError::Mismatch { .. } => {
            PyRuntimeError::new_err(e.to_string())
        }
        other => value_error(other),
    }
}

/// The settings of `algo` from the JSON of the keyword arguments; one that `algo` does not
/// use is an error.
fn algo_config(algo: Algo, settings: &str) -> PyResult<seminas::search::AlgoConfig> {
    let overrides: AlgoOverrides = serde_json::from_str(settings).map_err(value_error)?;
    overrides.config_for(&[algo]).map_err(|e| match e {
        // The keyword-argument spelling of the command line's --name.
        OverrideError::Unused(unused) => value_error(unused.to_string().replacen(
            &format!("--{}", unused.name),
            &format!("{}=", unused.name.replace('-', "_")),
            1,
        )),
        other => value_error(other),
    })
}

fn parse_json(text: &str) -> PyResult<serde_json::Value> {
    serde_json::from_str(text).map_err(value_error)
}

/// A search space (built by `seminas.NB201Space()` and the others).
#[pyclass(module = "seminas._seminas", frozen)]
struct Space {
    inner: AnySpace,
}

fn arch_of<S: SearchSpace>(space: &S, json: &str) -> PyResult<S::Arch> {
    let arch = space.read_json(&parse_json(json)?).map_err(value_error)?;
    space.validate(&arch).map_err(value_error)?;
    Ok(arch)
}

#[pymethods]
impl Space {
    /// `kind`: nb201, nb101 or categorical (`definition`: the TOML text of the space).
    #[new]
    #[pyo3(signature = (kind, definition=None, name=None))]
    fn new(kind: &str, definition: Option<&str>, name: Option<&str>) -> PyResult<Self> {
        if kind == "categorical" {
            let text = definition
                .ok_or_else(|| value_error("a categorical space needs its definition"))?;
            let space = CategoricalSpace::from_toml_str(text, name.unwrap_or("categorical"))
                .map_err(value_error)?;
            return Ok(Self {
                inner: AnyOf::Categorical(space),
            });
        }
        let inner = match (kind.parse::<SpaceKind>().ok(), definition) {
            (Some(SpaceKind::Nb201), None) => AnyOf::Nb201(Nb201Space::new()),
            (Some(SpaceKind::Nb101), None) => AnyOf::Nb101(Nb101Space::new()),
            _ => return Err(value_error(format!("unknown space {kind:?}"))),
        };
        Ok(Self { inner })
    }

    /// The MobileNet-style space of the paper's ImageNet search (widths it trains found
    /// networks at), optionally limited to `max_mflops` million multiply-adds.
    #[staticmethod]
    #[pyo3(signature = (max_mflops=None))]
    fn mobile(max_mflops: Option<f64>) -> PyResult<Self> {
        let space = MobileSpace::paper();
        let space = match max_mflops {
            Some(limit) => space.with_max_mflops(limit).map_err(value_error)?,
            None => space,
        };
        Ok(Self {
            inner: AnyOf::Mobile(space),
        })
    }

    /// The full JSON description of an architecture (JSON) as the space writes it (for the
    /// mobile space: FLOPs, parameters and the network).
    fn describe(&self, arch: &str) -> PyResult<String> {
        match_space!(&self.inner, s => Ok(s.to_json(&arch_of(s, arch)?).to_string()))
    }

    /// The space's short name.
    #[getter]
    fn name(&self) -> String {
        match_space!(&self.inner, s => s.name().to_string())
    }

    /// Number of distinct architectures, when known.
    #[getter]
    fn cardinality(&self) -> Option<u128> {
        match_space!(&self.inner, s => s.cardinality())
    }

    /// Checks an architecture (JSON); returns its canonical JSON form.
    fn canonical(&self, arch: &str) -> PyResult<String> {
        match_space!(&self.inner, s => Ok(s.to_json(&arch_of(s, arch)?).to_string()))
    }

    /// The canonical key of an architecture (JSON).
    fn key(&self, arch: &str) -> PyResult<String> {
        match_space!(&self.inner, s => Ok(s.key(&arch_of(s, arch)?)))
    }

    /// The textual form of an architecture (JSON).
    fn format(&self, arch: &str) -> PyResult<String> {
        match_space!(&self.inner, s => Ok(s.format(&arch_of(s, arch)?)))
    }

    /// Positions and choices of a categorical space as JSON ([{"name", "choices"}]).
    fn positions(&self) -> PyResult<String> {
        match &self.inner {
            AnyOf::Categorical(s) => Ok(serde_json::json!(
                s.positions()
                    .iter()
                    .map(|p| serde_json::json!({"name": p.name, "choices": p.choices}))
                    .collect::<Vec<_>>()
            )
            .to_string()),
            _ => Err(value_error("only a categorical space has positions")),
        }
    }
}

/// The family of studies, one per space type.
struct Studies;

impl PerSpace for Studies {
    type Of<S: SearchSpace> = Study<S>;
}

/// A study of any space.
type AnyStudy = AnyOf<Studies>;

fn record_json<S: SearchSpace>(space: &S, r: &QueryRecord<S::Arch>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "number": r.index,
        "query": r.n,
        "arch": space.to_json(&r.arch),
        "key": r.key,
        "state": r.state().as_str(),
    });
    // As queries.jsonl has them: where the proposal came from, what the predictor expected,
    // when its evaluation started and finished (Unix seconds).
    if let Some(origin) = r.info.origin {
        v["origin"] = serde_json::to_value(origin).unwrap_or_default();
    }
    if let Some(p) = r.info.predicted.filter(|p| p.is_finite()) {
        v["predicted"] = p.into();
    }
    if let Some(t) = r.started_unix {
        v["started"] = t.into();
    }
    if let Some(t) = r.finished_unix {
        v["finished"] = t.into();
    }
    match &r.result {
        Ok(e) => {
            v["objective"] = e.objective.into();
            if let Some(report) = e.report {
                v["report"] = report.into();
            }
            v["metrics"] = serde_json::json!(e.metrics);
            v["cost_seconds"] = e.cost_seconds.into();
            if let Some(step) = e.stopped_at {
                v["stopped_at"] = step.into();
            }
            if !e.steps.is_empty() {
                v["steps"] = e
                    .steps
                    .iter()
                    .map(|s| serde_json::json!([s.step, s.objective, s.cost_seconds]))
                    .collect();
            }
            if let Some(note) = &e.note {
                v["note"] = note.clone().into();
            }
        }
        Err(reason) => {
            v["reason"] = reason.clone().into();
        }
    }
    v
}

/// A trial as `RawStudy::ask` gives it: number, architecture JSON, key, workdir.
type AskedTrial = (usize, String, String, Option<PathBuf>);

/// A study in ask/tell form (see `seminas.Study`).
#[pyclass(module = "seminas._seminas", frozen)]
struct RawStudy {
    inner: Mutex<AnyStudy>,
}

impl RawStudy {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut AnyStudy) -> PyResult<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut guard = self
                .inner
                .lock()
                .map_err(|_| PyRuntimeError::new_err("the study was poisoned by a panic"))?;
            f(&mut guard)
        })
    }
}

#[pymethods]
impl RawStudy {
    #[new]
    #[pyo3(signature = (space, algo, budget, seed, workers, minimize, storage, settings,
        fidelities=None, max_step=None, prune=None, budget_seconds=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        space: &Space,
        algo: &str,
        budget: usize,
        seed: u64,
        workers: usize,
        minimize: bool,
        storage: Option<PathBuf>,
        settings: &str,
        fidelities: Option<Vec<u64>>,
        max_step: Option<u64>,
        prune: Option<String>,
        budget_seconds: Option<f64>,
    ) -> PyResult<Self> {
        if budget == 0 {
            return Err(value_error("budget must be at least 1"));
        }
        let fidelities = match (fidelities, max_step) {
            (Some(_), Some(_)) => {
                return Err(value_error("give fidelities or max_step, not both"));
            }
            (Some(steps), None) => {
                let ok = !steps.is_empty()
                    && steps.windows(2).all(|w| w[0] < w[1])
                    && steps[0] >= 1
                    && *steps.last().unwrap_or(&0) <= u64::from(u32::MAX);
                if !ok {
                    return Err(value_error(format!(
                        "fidelities must be increasing steps from 1 to {}, not {steps:?}",
                        u32::MAX
                    )));
                }
                Some(Fidelities { steps, fixed: true })
            }
            (None, Some(m)) => {
                if m == 0 || m > u64::from(u32::MAX) {
                    return Err(value_error(format!(
                        "max_step must be from 1 to {}, not {m}",
                        u32::MAX
                    )));
                }
                Some(Fidelities::open(m))
            }
            (None, None) => None,
        };
        let prune = match prune.as_deref().map(str::trim) {
            None | Some("auto") => None,
            Some(p) => {
                Some(Pruner::parse(p).map_err(|e| value_error(e.replace("--prune", "prune=")))?)
            }
        };
        if prune.as_ref().is_some_and(|p| *p != Pruner::None) && fidelities.is_none() {
            return Err(value_error(
                "prune= needs the steps trials report: fidelities=[...] or max_step=N",
            ));
        }
        if let Some(b) = budget_seconds
            && !(b.is_finite() && b > 0.0)
        {
            return Err(value_error(format!(
                "budget_seconds must be a positive number, not {b}"
            )));
        }
        if workers == 0 {
            return Err(value_error("workers must be at least 1"));
        }
        let algo: Algo = algo.parse().map_err(value_error)?;
        let config = algo_config(algo, settings)?;
        // As the CLI does: a budget spent entirely on the random start is random search.
        if let Some(w) = algo.small_budget_warning(budget, &config) {
            let text = w
                .trim_start_matches("warning: ")
                .replace("--population", "population=")
                .replace("--init", "init=")
                .replace("--preset", "preset=");
            let text = std::ffi::CString::new(text).map_err(value_error)?;
            let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
            PyErr::warn(py, &category, &text, 2)?;
        }
        let settings = StudySettings {
            algo,
            config,
            queries: budget,
            seed,
            workers,
            direction: if minimize {
                Direction::Minimize
            } else {
                Direction::Maximize
            },
            budget_seconds,
            prune,
            plan: None,
            stop: Default::default(),
        };
        let space = space.inner.clone();
        let inner = py.detach(move || -> Result<AnyStudy, StudyError> {
            fn make<S: SearchSpace>(
                space: S,
                settings: StudySettings,
                storage: Option<PathBuf>,
                fid: Option<Fidelities>,
            ) -> Result<Study<S>, StudyError> {
                match storage {
                    Some(dir) => Study::open_or_create(space, settings, &dir),
                    None => Ok(Study::new(space, settings)),
                }
                .map(|s| s.with_fidelities(fid))
            }
            Ok(map_space!(space, s => make(s, settings, storage, fidelities)?))
        });
        Ok(Self {
            inner: Mutex::new(inner.map_err(study_error)?),
        })
    }

    /// `(number, arch JSON, key, workdir)` of the next trial, or None.
    fn ask(&self, py: Python<'_>) -> PyResult<Option<AskedTrial>> {
        self.with(py, |study| {
            match_space!(study, s => {
                let trial = s.ask().map_err(study_error)?;
                Ok(trial.map(|t| {
                    let json = s.space().to_json(&t.arch).to_string();
                    (t.number, json, t.key, t.workdir)
                }))
            })
        })
    }

    /// Reports a trial's objective (and its report value, metrics and cost).
    #[pyo3(signature = (number, objective, report=None, metrics=None, cost_seconds=0.0))]
    fn tell(
        &self,
        py: Python<'_>,
        number: usize,
        objective: f64,
        report: Option<f64>,
        metrics: Option<std::collections::BTreeMap<String, f64>>,
        cost_seconds: f64,
    ) -> PyResult<()> {
        if !(cost_seconds.is_finite() && cost_seconds >= 0.0) {
            return Err(value_error(format!(
                "trial {number}: cost_seconds must be a non-negative number, not {cost_seconds}"
            )));
        }
        let mut e = Evaluation::new(objective, report, cost_seconds);
        e.metrics = metrics.unwrap_or_default();
        self.with(
            py,
            |study| match_space!(study, s => s.tell(number, Ok(e)).map_err(study_error)),
        )
    }

    /// Reports a running trial's objective at `step`; true when it should stop.
    fn report(
        &self,
        py: Python<'_>,
        number: usize,
        step: u64,
        objective: f64,
        cost_seconds: f64,
    ) -> PyResult<bool> {
        if step == 0 || step > u64::from(u32::MAX) {
            return Err(value_error(format!(
                "trial {number}: the step must be from 1 to {}, not {step}",
                u32::MAX
            )));
        }
        self.with(py, |study| {
            match_space!(study, s => s
                .report(number, step, objective, cost_seconds)
                .map(|d| d == Decision::Stop)
                .map_err(study_error))
        })
    }

    /// Reports that a trial's training was stopped (pruned) at its last reported step.
    #[pyo3(signature = (number, cost_seconds=None))]
    fn tell_stopped(
        &self,
        py: Python<'_>,
        number: usize,
        cost_seconds: Option<f64>,
    ) -> PyResult<()> {
        self.with(
            py,
            |study| match_space!(study, s => s.tell_stopped(number, cost_seconds).map_err(study_error)),
        )
    }

    /// Reports a failed trial (it counts as a query).
    fn tell_failed(&self, py: Python<'_>, number: usize, reason: String) -> PyResult<()> {
        self.with(
            py,
            |study| match_space!(study, s => s.tell(number, Err(reason)).map_err(study_error)),
        )
    }

    /// Reports a trial that cannot be evaluated (it costs nothing).
    fn tell_not_evaluable(&self, py: Python<'_>, number: usize) -> PyResult<()> {
        self.with(
            py,
            |study| match_space!(study, s => s.tell_not_evaluable(number).map_err(study_error)),
        )
    }

    /// Evaluates this architecture (JSON) first.
    fn enqueue(&self, py: Python<'_>, arch: String) -> PyResult<()> {
        self.with(py, |study| {
            match_space!(study, s => {
                let arch = arch_of(s.space(), &arch)?;
                s.enqueue(arch).map_err(study_error)
            })
        })
    }

    /// Known results: `[(arch JSON, objective)]`.
    fn warm_start(&self, py: Python<'_>, pairs: Vec<(String, f64)>) -> PyResult<()> {
        self.with(py, |study| {
            match_space!(study, s => {
                let pairs = pairs
                    .iter()
                    .map(|(a, o)| Ok((arch_of(s.space(), a)?, *o)))
                    .collect::<PyResult<Vec<_>>>()?;
                s.warm_start(&pairs).map_err(study_error)
            })
        })
    }

    /// Known results from a file (JSON lines or CSV with arch and objective); returns how many.
    fn warm_start_file(&self, py: Python<'_>, path: PathBuf) -> PyResult<usize> {
        self.with(py, |study| {
            match_space!(study, s => {
                let pairs = s.warm_start_pairs(&path).map_err(study_error)?;
                s.warm_start(&pairs).map_err(study_error)?;
                Ok(pairs.len())
            })
        })
    }

    /// More queries.
    fn extend(&self, py: Python<'_>, queries: usize) -> PyResult<()> {
        self.with(
            py,
            |study| match_space!(study, s => s.extend(queries).map_err(study_error)),
        )
    }

    /// The told trials as a JSON list.
    fn trials(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |study| {
            match_space!(study, s => Ok(serde_json::Value::Array(
                s.trials().iter().map(|r| record_json(s.space(), r)).collect()
            ).to_string()))
        })
    }

    /// The best trial as JSON (`null` when none).
    fn best(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |study| {
            match_space!(study, s => Ok(s
                .best()
                .map_or(serde_json::Value::Null, |r| record_json(s.space(), r))
                .to_string()))
        })
    }

    /// running, waiting, or finished:<why> (budget, exhausted, stalled).
    fn status(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |study| {
            Ok(match match_space!(study, s => s.status()) {
                StudyStatus::Running => "running".to_string(),
                StudyStatus::Waiting => "waiting".to_string(),
                StudyStatus::Finished(why) => format!(
                    "finished:{}",
                    serde_json::to_value(why)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
            })
        })
    }
}

/// A benchmark table (one of the embedded NAS-Bench-201 ones).
#[pyclass(module = "seminas._seminas", frozen)]
struct Table {
    bench: TabularBenchmark,
    space: Nb201Space,
}

#[pymethods]
impl Table {
    /// The embedded NAS-Bench-201 table of `dataset` (cifar10, cifar100 or imagenet16-120):
    /// validation accuracy as the objective, test accuracy as the report.
    #[staticmethod]
    #[pyo3(signature = (dataset = "cifar10"))]
    fn nb201(py: Python<'_>, dataset: &str) -> PyResult<Self> {
        let dataset: Nb201Dataset = dataset.parse().map_err(value_error)?;
        let bench = py
            .detach(|| nb201_dataset_benchmark(dataset, dataset.objective(), dataset.report()))
            .map_err(value_error)?;
        Ok(Self {
            bench,
            space: Nb201Space::new(),
        })
    }

    /// Every metric of an architecture (JSON) as a JSON object, with `objective` and `report`.
    fn query(&self, arch: &str) -> PyResult<String> {
        let arch = arch_of(&self.space, arch)?;
        let key = self.space.key(&arch);
        let table = self.bench.table();
        let Some(row) = table.get(&key) else {
            return Err(value_error(format!("{key} is not in the table")));
        };
        let mut out = serde_json::Map::new();
        for (name, v) in table.metric_names().iter().zip(row) {
            out.insert(name.clone(), (*v).into());
        }
        if let Some(e) = self.bench.lookup(&key) {
            out.insert("objective".into(), e.objective.into());
            if let Some(r) = e.report {
                out.insert("report".into(), r.into());
            }
        }
        Ok(serde_json::Value::Object(out).to_string())
    }

    /// Number of architectures in the table.
    fn __len__(&self) -> usize {
        self.bench.table().len()
    }
}

/// Kendall's tau-b of two equally long score lists (ties as scipy counts them): how well a
/// predictor's ranking agrees with the true one.
#[pyfunction]
fn kendall_tau(a: Vec<f64>, b: Vec<f64>) -> PyResult<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return Err(PyValueError::new_err(format!(
            "kendall_tau needs two lists of one length (at least 2), got {} and {}",
            a.len(),
            b.len()
        )));
    }
    Ok(seminas::stats::kendall_tau(&a, &b))
}

/// Parses a categorical space's TOML into JSON, keeping numeric choices as numbers.
#[pyfunction]
fn toml_to_json(text: &str) -> PyResult<String> {
    let value: serde_json::Value = toml::from_str(text).map_err(value_error)?;
    Ok(value.to_string())
}

/// The Rust half of the seminas package.
#[pymodule]
fn _seminas(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Space>()?;
    m.add_class::<RawStudy>()?;
    m.add_class::<Table>()?;
    m.add_class::<predictor::RawPredictor>()?;
    m.add_function(wrap_pyfunction!(predictor::predictor_space, m)?)?;
    m.add_class::<sampler::Proposer>()?;
    m.add_function(wrap_pyfunction!(toml_to_json, m)?)?;
    m.add_function(wrap_pyfunction!(kendall_tau, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
