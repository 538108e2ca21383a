//! `seminas.Predictor`: the SemiNAS predictor on its own, for any space.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use seminas::predictor::{
    Predictor, PredictorError, PredictorOverrides, PredictorSettings, Unlabelled,
};
use seminas::space::{AnyOf, PerSpace, SearchSpace};
use seminas::{map_space, match_space};

use super::{Space, arch_of, value_error};

/// The family of predictors, one per space type.
struct Predictors;

impl PerSpace for Predictors {
    type Of<S: SearchSpace> = Predictor<S>;
}

/// A predictor of any space.
type AnyPredictor = AnyOf<Predictors>;

fn predictor_error(e: PredictorError) -> PyErr {
    match e {
        PredictorError::Store(_)
        | PredictorError::Controller(seminas::controller::ControllerError::Io { .. }) => {
            PyRuntimeError::new_err(e.to_string())
        }
        other => value_error(other),
    }
}

fn archs_of<S: SearchSpace>(space: &S, archs: &[String]) -> PyResult<Vec<S::Arch>> {
    archs
        .iter()
        .enumerate()
        .map(|(i, a)| arch_of(space, a).map_err(|e| value_error(format!("architecture {i}: {e}"))))
        .collect()
}

/// The SemiNAS predictor (see `seminas.Predictor`).
#[pyclass(module = "seminas._seminas", frozen)]
pub(crate) struct RawPredictor {
    inner: Mutex<AnyPredictor>,
}

impl RawPredictor {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut AnyPredictor) -> PyResult<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut guard = self
                .inner
                .lock()
                .map_err(|_| PyRuntimeError::new_err("the predictor was poisoned by a panic"))?;
            f(&mut guard)
        })
    }
}

#[pymethods]
impl RawPredictor {
    /// `settings`: JSON of the overrides (pretrain_epochs, train_epochs, upsample,
    /// clip_quantile, hidden, mlp_hidden, batch_size, lr, dropout, trade_off).
    #[new]
    fn new(space: &Space, seed: u64, settings: &str) -> PyResult<Self> {
        let overrides: PredictorOverrides = serde_json::from_str(settings).map_err(value_error)?;
        fn make<S: SearchSpace>(
            space: S,
            seed: u64,
            o: &PredictorOverrides,
        ) -> Result<Predictor<S>, PredictorError> {
            let settings = o.apply(PredictorSettings::for_space(&space))?;
            Predictor::new(space, settings, seed)
        }
        let inner: AnyPredictor = map_space!(space.inner.clone(), s => {
            make(s, seed, &overrides).map_err(predictor_error)?
        });
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    /// Fits on `archs` (JSON) and `targets`; pseudo-labels `sample` sampled architectures or
    /// the `given` ones (JSON). Returns (labelled, unlabelled, epochs). Ctrl-C stops it
    /// (KeyboardInterrupt) between epochs.
    #[pyo3(signature = (archs, targets, sample=None, given=None))]
    fn fit(
        &self,
        py: Python<'_>,
        archs: Vec<String>,
        targets: Vec<f64>,
        sample: Option<usize>,
        given: Option<Vec<String>>,
    ) -> PyResult<(usize, usize, usize)> {
        let mut signal: Option<PyErr> = None;
        let out = self.with(py, |p| {
            // Checked before every epoch: Ctrl-C raises KeyboardInterrupt within one epoch.
            let mut interrupt = || {
                let err = Python::attach(|py| py.check_signals().err());
                let stop = err.is_some();
                if stop {
                    signal = err;
                }
                stop
            };
            match_space!(p, s => {
                let a = archs_of(s.space(), &archs)?;
                let unlabelled = match &given {
                    Some(g) => Unlabelled::Given(archs_of(s.space(), g)?),
                    None => Unlabelled::Sample(sample.unwrap_or(0)),
                };
                match s.fit(&a, &targets, unlabelled, &mut interrupt) {
                    Ok(st) => Ok(Some((st.labelled, st.unlabelled, st.epochs))),
                    Err(PredictorError::Interrupted) => Ok(None),
                    Err(e) => Err(predictor_error(e)),
                }
            })
        })?;
        match (out, signal) {
            (Some(stats), _) => Ok(stats),
            (None, Some(err)) => Err(err),
            (None, None) => Err(PyRuntimeError::new_err("the fit was interrupted")),
        }
    }

    /// Predicted objectives of `archs` (JSON).
    fn predict(&self, py: Python<'_>, archs: Vec<String>) -> PyResult<Vec<f64>> {
        self.with(py, |p| {
            match_space!(p, s => {
                let a = archs_of(s.space(), &archs)?;
                s.predict(&a).map_err(predictor_error)
            })
        })
    }

    /// Generation from `archs` (JSON) with `step`: (new architecture JSON or None, value
    /// predicted at the moved embedding) per input.
    fn generate(
        &self,
        py: Python<'_>,
        archs: Vec<String>,
        step: f32,
    ) -> PyResult<Vec<(Option<String>, f64)>> {
        self.with(py, |p| {
            match_space!(p, s => {
                let a = archs_of(s.space(), &archs)?;
                let out = s.generate(&a, step).map_err(predictor_error)?;
                Ok(out
                    .into_iter()
                    .map(|g| {
                        let arch = g.arch.map(|a| s.space().to_json(&a).to_string());
                        (arch, g.predicted)
                    })
                    .collect())
            })
        })
    }

    /// Writes the fitted predictor (safetensors).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        self.with(
            py,
            |p| match_space!(p, s => s.save(&path).map_err(predictor_error)),
        )
    }

    /// A predictor of `space` from a file written by `save`, a controller file, or a run
    /// directory's stored controller.
    #[staticmethod]
    fn load(py: Python<'_>, space: &Space, path: PathBuf) -> PyResult<Self> {
        let space = space.inner.clone();
        let inner = py
            .detach(move || -> Result<AnyPredictor, PredictorError> {
                Ok(map_space!(space, s => Predictor::load(s, &path)?))
            })
            .map_err(predictor_error)?;
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    /// True once fitted or loaded.
    #[getter]
    fn fitted(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |p| Ok(match_space!(p, s => s.is_fitted())))
    }

    /// True when predictions are in objective units (false: standardised values, for a
    /// controller loaded from a run).
    #[getter]
    fn has_scale(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |p| Ok(match_space!(p, s => s.has_scale())))
    }
}

/// The name of the space a predictor file was saved for (None for a bare controller or a run
/// directory).
#[pyfunction]
pub(crate) fn predictor_space(path: PathBuf) -> PyResult<Option<String>> {
    seminas::predictor::saved_space_name(&path).map_err(predictor_error)
}
