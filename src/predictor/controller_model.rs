//! The controller as the predictor a SemiNAS, NAO or SemiNAS-RE search holds: built on first
//! use from the search's settings and the space's encoding, retrained by the semi-supervised
//! step each round and kept warm between rounds; it predicts (normalised objectives) and its
//! decoder generates. A controller that cannot be built or trained must not stop a search: the
//! error is logged and counted, and that round falls back to random sampling or plain mutation.

use std::collections::HashSet;

use super::semi_supervised::{Hooks, Labelled, Trainings, Unlabelled, step};
use crate::controller::{Controller, ControllerConfig, ControllerError};
use crate::rng::Rng;
use crate::space::SearchSpace;

/// A search's controller predictor (see the module documentation).
pub(crate) struct ControllerModel {
    config: ControllerConfig,
    controller: Option<Controller>,
    /// The weights after the latest training, until the run store takes them.
    checkpoint: Option<Vec<u8>>,
    /// Rounds whose controller could not be built or trained.
    failures: usize,
}

impl ControllerModel {
    /// A model built at its first training from `config` (vocabulary and length are the
    /// space's).
    pub(crate) fn new(config: ControllerConfig) -> Self {
        Self {
            config,
            controller: None,
            checkpoint: None,
            failures: 0,
        }
    }

    /// One semi-supervised training on the evaluated pairs `data` (normalised targets) with
    /// `pseudo` unevaluated architectures drawn from `space` (keys not in `exclude`). `None`
    /// when the controller could not be built or refused the data (logged, counted).
    pub(crate) fn train<S: SearchSpace>(
        &mut self,
        space: &S,
        data: (&[Vec<u32>], &[f32]),
        (exclude, pseudo): (&HashSet<String>, usize),
        trainings: Trainings,
        rng: &mut Rng,
    ) -> Option<Labelled<S::Arch>> {
        if self.controller.is_none() {
            let encoding = space.encoding();
            let c = self.config.clone().with_encoding(encoding);
            match Controller::try_new(c, encoding, rng) {
                Ok(controller) => self.controller = Some(controller),
                Err(e) => return self.failed(&e),
            }
        }
        let controller = self.controller.as_mut().expect("built above");
        let unlabelled = Unlabelled::Sample {
            count: pseudo,
            exclude,
        };
        match step(
            controller,
            space,
            data,
            unlabelled,
            trainings,
            rng,
            Hooks::default(),
        ) {
            Ok(labelled) => {
                // The run store keeps the newest trained controller (never read back).
                self.checkpoint = controller.to_safetensors().ok();
                Some(labelled)
            }
            Err(e) => self.failed(&e),
        }
    }

    fn failed<T>(&mut self, e: &ControllerError) -> Option<T> {
        self.failures += 1;
        eprintln!("warning: {e}; this round falls back to random sampling / plain mutation");
        None
    }

    /// The controller once built (trained unless its latest training failed).
    pub(crate) fn controller(&self) -> Option<&Controller> {
        self.controller.as_ref()
    }

    /// Trainings whose controller could not be built or trained.
    pub(crate) fn failures(&self) -> usize {
        self.failures
    }

    /// The newest trained weights as a searcher's `take_checkpoints` returns
    /// them (named `controller`), once.
    pub(crate) fn take_checkpoint(&mut self) -> Vec<(String, Vec<u8>)> {
        self.checkpoint
            .take()
            .map(|c| ("controller".to_string(), c))
            .into_iter()
            .collect()
    }
}
