//! Saving and loading controllers as safetensors files.
//!
//! Format (safetensors: 8-byte little-endian header length, JSON header, raw data):
//! - one `F32` tensor per parameter, named as in [`super::params::Layout`] (e.g.
//!   `encoder.lstm_fwd.w_ih`), weights stored `[in, out]` (the transpose of PyTorch's layout);
//! - `adam.m` and `adam.v`: Adam's moment estimates, flat `F32 [num_params]`, in parameter order;
//! - metadata: `format` = `seminas-controller-1`, `config` (the [`ControllerConfig`] as JSON),
//!   `allowed` (tokens allowed per position, JSON), `adam_step` (decimal).
//!
//! With the optimiser state saved, training resumes exactly where it stopped.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{Controller, ControllerConfig, ControllerError};

const FORMAT: &str = "seminas-controller-1";

fn to_bytes(x: &[f32]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl Controller {
    /// Writes the controller (weights, optimiser state, configuration, allowed tokens) to
    /// `path` in the safetensors format described in this module.
    pub fn save(&self, path: &Path) -> Result<(), ControllerError> {
        let bytes = self.to_safetensors().map_err(|e| match e {
            ControllerError::Format { reason, .. } => ControllerError::Format {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })?;
        std::fs::write(path, bytes).map_err(|source| ControllerError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The controller in the safetensors format of [`Controller::save`], as bytes.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, ControllerError> {
        let fmt_err = |reason: String| ControllerError::Format {
            path: "(in memory)".to_string(),
            reason,
        };
        let mut blobs: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .layout
            .tensors
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.shape.clone(),
                    to_bytes(&self.params[t.range.clone()]),
                )
            })
            .collect();
        blobs.push((
            "adam.m".into(),
            vec![self.layout.total],
            to_bytes(&self.adam_m),
        ));
        blobs.push((
            "adam.v".into(),
            vec![self.layout.total],
            to_bytes(&self.adam_v),
        ));
        let views = blobs
            .iter()
            .map(|(name, shape, data)| {
                TensorView::new(Dtype::F32, shape.clone(), data)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| fmt_err(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert(
            "config".to_string(),
            serde_json::to_string(&self.cfg).map_err(|e| fmt_err(e.to_string()))?,
        );
        meta.insert(
            "allowed".to_string(),
            serde_json::to_string(&self.allowed).map_err(|e| fmt_err(e.to_string()))?,
        );
        meta.insert("adam_step".to_string(), self.step.to_string());
        safetensors::tensor::serialize(views, Some(meta)).map_err(|e| fmt_err(e.to_string()))
    }

    /// Reads a controller written by [`Controller::save`].
    pub fn load(path: &Path) -> Result<Self, ControllerError> {
        let bytes = std::fs::read(path).map_err(|source| ControllerError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_safetensors(&bytes, &path.display().to_string())
    }

    /// Reads a controller from the bytes of a file written by [`Controller::save`] (as the run
    /// store keeps it); `origin` names them in errors.
    pub fn from_safetensors(bytes: &[u8], origin: &str) -> Result<Self, ControllerError> {
        let fmt_err = |reason: String| ControllerError::Format {
            path: origin.to_string(),
            reason,
        };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| fmt_err(e.to_string()))?;
        let meta = header
            .metadata()
            .clone()
            .ok_or_else(|| fmt_err("no metadata".into()))?;
        let get = |k: &str| {
            meta.get(k)
                .ok_or_else(|| fmt_err(format!("metadata lacks {k:?}")))
        };
        if get("format")? != FORMAT {
            return Err(fmt_err(format!(
                "format {:?}, expected {FORMAT:?}",
                get("format")?
            )));
        }
        let cfg: ControllerConfig =
            serde_json::from_str(get("config")?).map_err(|e| fmt_err(format!("config: {e}")))?;
        cfg.validate()?;
        let allowed: Vec<Vec<u32>> =
            serde_json::from_str(get("allowed")?).map_err(|e| fmt_err(format!("allowed: {e}")))?;
        let step: u64 = get("adam_step")?
            .parse()
            .map_err(|e| fmt_err(format!("adam_step: {e}")))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| fmt_err(e.to_string()))?;
        let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>, ControllerError> {
            let t = st
                .tensor(name)
                .map_err(|e| fmt_err(format!("{name}: {e}")))?;
            if t.dtype() != Dtype::F32 || t.shape() != shape {
                return Err(fmt_err(format!(
                    "{name}: {:?} {:?}, expected F32 {:?}",
                    t.dtype(),
                    t.shape(),
                    shape
                )));
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let layout = super::params::Layout::new(&cfg);
        let mut params = vec![0.0f32; layout.total];
        for t in &layout.tensors {
            params[t.range.clone()].copy_from_slice(&read(&t.name, &t.shape)?);
        }
        let m = read("adam.m", &[layout.total])?;
        let v = read("adam.v", &[layout.total])?;
        Controller::from_parts(cfg, allowed, params, Some((m, v, step)))
    }
}
