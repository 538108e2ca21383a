//! The SemiNAS predictor on its own: fit it on evaluated architectures (semi-supervised, as
//! SemiNAS trains its controller), predict the objective of others, and generate new
//! architectures by moving embeddings up the predictor's gradient. For users of other search
//! algorithms and of NASLib-style predictor comparisons; the Python package's
//! `seminas.Predictor` is this type.
//!
//! A fit starts from a fresh controller (initial weights drawn from the seed, so fitting the same
//! data twice gives the same predictor) and runs the two trainings of a SemiNAS round:
//! `pretrain_epochs` on the evaluated pairs, then `train_epochs` on those pairs repeated
//! `upsample` times plus `unlabelled` architectures labelled by the predictor (none: the
//! repeated pairs alone, as NAO trains). It is the step a search runs
//! ([`super::semi_supervised`]), early stopping included; the caller's interrupt check is asked
//! before every epoch (Ctrl-C from Python).
//!
//! Files are the controller's safetensors format (the one a run store keeps under the name
//! `controller`), with one more metadata entry, `predictor` (JSON: the target scale, the
//! settings, the seed and the space's name), so that predictions come back in objective units.
//! A controller without it (from a run store) predicts standardised objectives: the same
//! ranking, without the scale.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use safetensors::tensor::SafeTensors;
use serde::{Deserialize, Serialize};

use super::default_controller_hidden;
use super::semi_supervised::{self, Hooks, Trainings, step};
use super::targets::TargetScale;
use crate::controller::{Controller, ControllerConfig, ControllerError};
use crate::rng::rng_for;
use crate::space::{SearchSpace, SpaceError};
use crate::store::{RunStore, StoreError};

/// The metadata key of a predictor's own settings in its safetensors file.
const META_KEY: &str = "predictor";

/// Errors of [`Predictor`].
#[derive(Debug, thiserror::Error)]
pub enum PredictorError {
    /// The controller refused its configuration or data, or a file is not a controller.
    #[error(transparent)]
    Controller(#[from] ControllerError),
    /// An architecture is not one of the space.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// A run store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad arguments (lengths that differ, non-finite targets, bad settings).
    #[error("{0}")]
    Input(String),
    /// A file holds a predictor of another space, or malformed predictor metadata.
    #[error("{origin}: {reason}")]
    Mismatch {
        /// The file or run.
        origin: String,
        /// What does not fit.
        reason: String,
    },
    /// The caller's interrupt check asked to stop (the predictor is left unfitted).
    #[error("interrupted")]
    Interrupted,
}

/// How a predictor is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorSettings {
    /// The two trainings of a fit (flattened: a saved predictor's JSON names the fields).
    #[serde(flatten)]
    pub trainings: Trainings,
    /// Targets below this quantile are raised to it before standardisation (0 = plain
    /// standardisation, see [`super::targets::normalize_targets`]).
    pub clip_quantile: f64,
    /// The controller network (vocabulary and length are taken from the space).
    pub controller: ControllerConfig,
}

impl PredictorSettings {
    /// Defaults for `space`: the search's controller (64 wide for long encodings, 32 for
    /// short ones such as NB201's), 100 + 10 epochs, up-sampling 10, no clipping (a predictor
    /// ranks every architecture, the bad ones too, where a search only needs the good ones).
    pub fn for_space<S: SearchSpace>(space: &S) -> Self {
        let enc = space.encoding();
        Self {
            trainings: Trainings {
                pretrain_epochs: 100,
                train_epochs: 10,
                upsample: 10,
            },
            clip_quantile: 0.0,
            controller: ControllerConfig {
                hidden: default_controller_hidden(enc),
                ..ControllerConfig::for_encoding(enc)
            },
        }
    }
}

/// Changes to [`PredictorSettings::for_space`] (`None` keeps the default); what the Python
/// package's keyword arguments fill in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictorOverrides {
    /// Epochs on the evaluated pairs alone.
    pub pretrain_epochs: Option<usize>,
    /// Epochs with the pseudo-labelled architectures.
    pub train_epochs: Option<usize>,
    /// Up-sampling of the evaluated pairs.
    pub upsample: Option<usize>,
    /// Clipping quantile of the targets.
    pub clip_quantile: Option<f64>,
    /// Controller embedding / LSTM size.
    pub hidden: Option<usize>,
    /// Width of the predictor MLP's hidden layers.
    pub mlp_hidden: Option<usize>,
    /// Mini-batch size.
    pub batch_size: Option<usize>,
    /// Adam learning rate.
    pub lr: Option<f32>,
    /// Dropout probability.
    pub dropout: Option<f32>,
    /// Weight of the prediction loss against the reconstruction loss.
    pub trade_off: Option<f32>,
}

impl PredictorOverrides {
    /// `base` with the overridden fields replaced; checks the result.
    pub fn apply(&self, mut base: PredictorSettings) -> Result<PredictorSettings, PredictorError> {
        macro_rules! set {
            ($slot:expr, $v:expr) => {
                if let Some(v) = $v {
                    $slot = v;
                }
            };
        }
        set!(base.trainings.pretrain_epochs, self.pretrain_epochs);
        set!(base.trainings.train_epochs, self.train_epochs);
        set!(base.trainings.upsample, self.upsample);
        set!(base.clip_quantile, self.clip_quantile);
        set!(base.controller.hidden, self.hidden);
        set!(base.controller.mlp_hidden, self.mlp_hidden);
        set!(base.controller.batch_size, self.batch_size);
        set!(base.controller.lr, self.lr);
        set!(base.controller.dropout, self.dropout);
        set!(base.controller.trade_off, self.trade_off);
        if !(0.0..=1.0).contains(&base.clip_quantile) {
            return Err(PredictorError::Input(format!(
                "clip_quantile must be in [0, 1], not {}",
                base.clip_quantile
            )));
        }
        base.controller.validate()?;
        Ok(base)
    }
}

/// The architectures a fit pseudo-labels.
#[derive(Debug, Clone)]
pub enum Unlabelled<A> {
    /// This many distinct architectures sampled from the space (none of the training ones).
    Sample(usize),
    /// These architectures.
    Given(Vec<A>),
}

/// What a fit did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FitStats {
    /// Evaluated pairs trained on.
    pub labelled: usize,
    /// Pseudo-labelled architectures.
    pub unlabelled: usize,
    /// Epochs run in all (both trainings).
    pub epochs: usize,
}

/// One architecture [`Predictor::generate`] made.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated<A> {
    /// The decoded architecture; `None` when the tokens are not a valid architecture of the
    /// space.
    pub arch: Option<A>,
    /// The value the predictor gives the moved embedding (not the decoded architecture's
    /// prediction: predict it again for that).
    pub predicted: f64,
}

/// What a predictor file stores beside the controller.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PredictorMeta {
    space: String,
    seed: u64,
    scale: Option<TargetScale>,
    settings: PredictorSettings,
}

/// The SemiNAS predictor of one space (see the module documentation).
pub struct Predictor<S: SearchSpace> {
    space: S,
    settings: PredictorSettings,
    seed: u64,
    controller: Option<Controller>,
    scale: Option<TargetScale>,
}

impl<S: SearchSpace> std::fmt::Debug for Predictor<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictor")
            .field("space", &self.space.name())
            .field("settings", &self.settings)
            .field("seed", &self.seed)
            .field("fitted", &self.controller.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: SearchSpace> Predictor<S> {
    /// An unfitted predictor of `space`; every random choice of its fits flows from `seed`.
    pub fn new(space: S, settings: PredictorSettings, seed: u64) -> Result<Self, PredictorError> {
        let mut settings = settings;
        settings.controller = settings.controller.with_encoding(space.encoding());
        settings.controller.validate()?;
        Ok(Self {
            space,
            settings,
            seed,
            controller: None,
            scale: None,
        })
    }

    /// The space.
    pub fn space(&self) -> &S {
        &self.space
    }

    /// The settings.
    pub fn settings(&self) -> &PredictorSettings {
        &self.settings
    }

    /// True once fitted (or loaded).
    pub fn is_fitted(&self) -> bool {
        self.controller.is_some()
    }

    /// True when predictions are in objective units (false for a controller loaded from a run
    /// store: standardised values).
    pub fn has_scale(&self) -> bool {
        self.scale.is_some()
    }

    fn seqs(&self, archs: &[S::Arch]) -> Result<Vec<Vec<u32>>, PredictorError> {
        archs
            .iter()
            .map(|a| {
                self.space.validate(a)?;
                Ok(self.space.encode(a))
            })
            .collect()
    }

    fn fitted(&self) -> Result<&Controller, PredictorError> {
        self.controller
            .as_ref()
            .ok_or_else(|| PredictorError::Input("the predictor is not fitted yet".into()))
    }

    /// Fits the predictor on `archs` with their `targets` (higher is better is not assumed:
    /// the predictor regresses the values as given) and pseudo-labels `unlabelled`.
    /// `interrupt` is called before every epoch; when it returns true the fit stops with
    /// [`PredictorError::Interrupted`] and the predictor keeps its previous state.
    pub fn fit(
        &mut self,
        archs: &[S::Arch],
        targets: &[f64],
        unlabelled: Unlabelled<S::Arch>,
        interrupt: &mut dyn FnMut() -> bool,
    ) -> Result<FitStats, PredictorError> {
        super::surrogate::check_pairs(archs.len(), targets)?;
        let seqs = self.seqs(archs)?;
        let scale = TargetScale::of(targets, self.settings.clip_quantile);
        if !(scale.mean.is_finite() && scale.std.is_finite()) {
            return Err(PredictorError::Input(
                "the targets are too large to standardise".into(),
            ));
        }
        let norm = super::targets::normalize_targets(targets, self.settings.clip_quantile);
        let mut rng = rng_for(self.seed, "predictor");
        let mut controller = Controller::try_new(
            self.settings.controller.clone(),
            self.space.encoding(),
            &mut rng,
        )?;
        let (exclude, given);
        let pool = match unlabelled {
            Unlabelled::Sample(count) => {
                exclude = archs
                    .iter()
                    .map(|a| self.space.key(a))
                    .collect::<HashSet<_>>();
                semi_supervised::Unlabelled::Sample {
                    count,
                    exclude: &exclude,
                }
            }
            Unlabelled::Given(archs) => {
                given = self.seqs(&archs)?;
                semi_supervised::Unlabelled::Given(&given)
            }
        };
        let hooks = Hooks {
            interrupt: Some(interrupt),
            after_first: None,
        };
        let trainings = self.settings.trainings;
        let done = step(
            &mut controller,
            &self.space,
            (&seqs, &norm),
            pool,
            trainings,
            &mut rng,
            hooks,
        )
        .map_err(|e| match e {
            ControllerError::Interrupted => PredictorError::Interrupted,
            e => e.into(),
        })?;
        self.controller = Some(controller);
        self.scale = Some(scale);
        Ok(FitStats {
            labelled: archs.len(),
            unlabelled: done.seqs.len(),
            epochs: done.epochs.0 + done.epochs.1,
        })
    }

    fn unscale(&self, z: f32) -> f64 {
        match self.scale {
            Some(s) => s.apply(z),
            None => f64::from(z),
        }
    }

    /// Predicted objectives of `archs` (standardised values for a controller loaded without
    /// its scale, see [`Predictor::has_scale`]).
    pub fn predict(&self, archs: &[S::Arch]) -> Result<Vec<f64>, PredictorError> {
        let controller = self.fitted()?;
        let seqs = self.seqs(archs)?;
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        Ok(controller
            .predict(&seqs)
            .into_iter()
            .map(|z| self.unscale(z))
            .collect())
    }

    /// SemiNAS's generation: each architecture's encoder outputs move up the predictor's
    /// gradient by `step` (down for a negative step) and are decoded greedily. Returns, per
    /// input, the decoded architecture (`None` when the tokens are not a valid architecture of
    /// the space) and the value predicted at the moved embedding.
    pub fn generate(
        &self,
        archs: &[S::Arch],
        step: f32,
    ) -> Result<Vec<Generated<S::Arch>>, PredictorError> {
        if !step.is_finite() {
            return Err(PredictorError::Input(format!(
                "the step must be finite, not {step}"
            )));
        }
        let controller = self.fitted()?;
        let seqs = self.seqs(archs)?;
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        Ok(controller
            .generate(&seqs, step)
            .into_iter()
            .map(|(tokens, z)| {
                let arch = self
                    .space
                    .decode(&tokens)
                    .ok()
                    .filter(|a| self.space.validate(a).is_ok());
                Generated {
                    arch,
                    predicted: self.unscale(z),
                }
            })
            .collect())
    }

    /// The fitted predictor as the bytes of its safetensors file.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, PredictorError> {
        let bytes = self.fitted()?.to_safetensors()?;
        let bad = |e: String| PredictorError::Mismatch {
            origin: "(in memory)".into(),
            reason: e,
        };
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        let mut meta: HashMap<String, String> = header.metadata().clone().unwrap_or_default();
        let own = PredictorMeta {
            space: self.space.name().to_string(),
            seed: self.seed,
            scale: self.scale,
            settings: self.settings.clone(),
        };
        meta.insert(
            META_KEY.into(),
            serde_json::to_string(&own).map_err(|e| bad(e.to_string()))?,
        );
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        safetensors::tensor::serialize(st.tensors(), Some(meta)).map_err(|e| bad(e.to_string()))
    }

    /// Writes the fitted predictor to `path` (see the module documentation for the format).
    pub fn save(&self, path: &Path) -> Result<(), PredictorError> {
        let bytes = self.to_safetensors()?;
        std::fs::write(path, bytes).map_err(|source| {
            PredictorError::Controller(ControllerError::Io {
                path: path.display().to_string(),
                source,
            })
        })
    }

    /// A predictor of `space` from the bytes of a predictor or controller file; `origin` names
    /// them in errors.
    pub fn from_safetensors(space: S, bytes: &[u8], origin: &str) -> Result<Self, PredictorError> {
        let controller = Controller::from_safetensors(bytes, origin)?;
        let mismatch = |reason: String| PredictorError::Mismatch {
            origin: origin.to_string(),
            reason,
        };
        let enc = space.encoding();
        let cfg = controller.config();
        if cfg.vocab_size != enc.vocab_size || cfg.length != enc.len() {
            return Err(mismatch(format!(
                "the controller reads {} tokens of a {}-token vocabulary, the space {} writes {} of {}",
                cfg.length,
                cfg.vocab_size,
                space.name(),
                enc.len(),
                enc.vocab_size
            )));
        }
        let meta = predictor_meta(bytes, origin)?;
        let (settings, seed, scale) = match meta {
            Some(m) => {
                if m.space != space.name() {
                    return Err(mismatch(format!(
                        "a predictor of space {:?}, not of {:?}",
                        m.space,
                        space.name()
                    )));
                }
                (m.settings, m.seed, m.scale)
            }
            None => (
                PredictorSettings {
                    controller: cfg.clone(),
                    ..PredictorSettings::for_space(&space)
                },
                0,
                None,
            ),
        };
        Ok(Self {
            space,
            settings,
            seed,
            controller: Some(controller),
            scale,
        })
    }

    /// Reads a predictor saved by [`Predictor::save`], or a bare controller file, or, when
    /// `path` is a run directory, the newest controller its run store keeps.
    pub fn load(space: S, path: &Path) -> Result<Self, PredictorError> {
        let origin = path.display().to_string();
        if path.is_dir() {
            let (store, _) = RunStore::open(path)?;
            let Some((_, bytes)) = store.latest_checkpoint("controller")? else {
                return Err(PredictorError::Mismatch {
                    origin,
                    reason: "the run store holds no trained controller (only SemiNAS, NAO and \
                             SemiNAS-RE runs store one, after their first round)"
                        .into(),
                });
            };
            return Self::from_safetensors(space, &bytes, &origin);
        }
        let bytes = std::fs::read(path).map_err(|source| {
            PredictorError::Controller(ControllerError::Io {
                path: origin.clone(),
                source,
            })
        })?;
        Self::from_safetensors(space, &bytes, &origin)
    }
}

fn predictor_meta(bytes: &[u8], origin: &str) -> Result<Option<PredictorMeta>, PredictorError> {
    let mismatch = |reason: String| PredictorError::Mismatch {
        origin: origin.to_string(),
        reason,
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| mismatch(e.to_string()))?;
    let Some(text) = header.metadata().as_ref().and_then(|m| m.get(META_KEY)) else {
        return Ok(None);
    };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| mismatch(format!("predictor metadata: {e}")))
}

/// The space name a predictor file was saved for (`None` for a bare controller file).
pub fn saved_space_name(path: &Path) -> Result<Option<String>, PredictorError> {
    let origin = path.display().to_string();
    if path.is_dir() {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|source| {
        PredictorError::Controller(ControllerError::Io {
            path: origin.clone(),
            source,
        })
    })?;
    Ok(predictor_meta(&bytes, &origin)?.map(|m| m.space))
}

#[cfg(test)]
mod tests;
