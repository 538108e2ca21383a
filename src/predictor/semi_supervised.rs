//! The semi-supervised training step (Luo et al. 2020, Algorithm 1), written once for SemiNAS,
//! NAO, SemiNAS-RE, the SemiNAS predictor and the round benchmark: after the controller has been trained on the evaluated pairs, unevaluated
//! architectures are labelled by its predictor and it is trained again on the evaluated pairs
//! (repeated `upsample` times) together with the pseudo-labelled ones.

use std::collections::HashSet;

use crate::controller::{Controller, ControllerError};
use crate::rng::Rng;
use crate::space::SearchSpace;

/// The two trainings of a semi-supervised step, the settings SemiNAS, SemiNAS-RE and the
/// SemiNAS predictor share (each embeds this struct): epochs on the evaluated pairs alone,
/// then epochs on them repeated `upsample` times together with the pseudo-labelled ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trainings {
    /// Epochs on the evaluated pairs alone (the first training).
    pub pretrain_epochs: usize,
    /// Epochs on the up-sampled evaluated pairs plus the pseudo-labelled ones.
    pub train_epochs: usize,
    /// How often the evaluated pairs are repeated in the second training.
    pub upsample: usize,
}

/// Where a step's unevaluated architectures come from.
pub(crate) enum Unlabelled<'a> {
    /// Up to this many drawn from the space after the first training, keys not in `exclude`.
    Sample {
        /// How many to draw.
        count: usize,
        /// Keys never drawn (the evaluated architectures).
        exclude: &'a HashSet<String>,
    },
    /// These token sequences.
    Given(&'a [Vec<u32>]),
}

/// What a caller of [`step`] is told: asked before every epoch whether to stop
/// ([`Controller::try_train_until`]: Python's Ctrl-C), shown the controller after the first
/// training (the round benchmark measures it there). Both optional.
#[derive(Default)]
pub(crate) struct Hooks<'a> {
    /// Returns true to stop the training ([`ControllerError::Interrupted`]).
    pub interrupt: Option<&'a mut dyn FnMut() -> bool>,
    /// Called once, between the two trainings.
    pub after_first: Option<&'a mut dyn FnMut(&Controller)>,
}

/// What [`step`] labelled: the drawn unevaluated architectures (none for a given pool), the
/// token sequences labelled and their pseudo-labels (normalised units), in draw order; and the
/// epochs each training ran.
pub(crate) struct Labelled<A> {
    /// The drawn architectures.
    pub archs: Vec<A>,
    /// The token sequences that were pseudo-labelled.
    pub seqs: Vec<Vec<u32>>,
    /// Their pseudo-labels.
    pub labels: Vec<f32>,
    /// Epochs of the first and the second training (fewer than scheduled when stopped early).
    pub epochs: (usize, usize),
}

/// One semi-supervised training of `controller` (Luo et al. 2020, Algorithm 1, steps 1-2), the
/// one SemiNAS, NAO, SemiNAS-RE, the SemiNAS predictor and `bench-controller --round` run:
/// the first training on the evaluated pairs `(seqs, targets)` (kept whole when early stopping
/// is set to stop only the second, [`Controller::first_training`]); `after_first` is shown the
/// controller then; the unevaluated architectures labelled by the predictor; then (when
/// `train_epochs > 0`) the second training on the evaluated pairs repeated `upsample` times
/// plus the pseudo-labelled ones (without any: on the repeated pairs alone, as NAO trains).
/// The hooks are asked before every epoch and shown the controller after the first training.
pub(crate) fn step<S: SearchSpace>(
    controller: &mut Controller,
    space: &S,
    (seqs, targets): (&[Vec<u32>], &[f32]),
    unlabelled: Unlabelled<'_>,
    trainings: Trainings,
    rng: &mut Rng,
    hooks: Hooks<'_>,
) -> Result<Labelled<S::Arch>, ControllerError> {
    let mut never = || false;
    let interrupt: &mut dyn FnMut() -> bool = match hooks.interrupt {
        Some(f) => f,
        None => &mut never,
    };
    let first = trainings.pretrain_epochs;
    let first_epochs = controller
        .first_training(|c| c.try_train_until(seqs, targets, first, rng, &mut *interrupt))?
        .epochs;
    if let Some(f) = hooks.after_first {
        f(controller);
    }
    let (archs, pool): (Vec<S::Arch>, Vec<Vec<u32>>) = match unlabelled {
        Unlabelled::Sample { count, exclude } => sample_unlabelled(space, count, exclude, rng)
            .into_iter()
            .unzip(),
        Unlabelled::Given(given) => (Vec::new(), given.to_vec()),
    };
    let labels = if pool.is_empty() {
        Vec::new()
    } else {
        controller.predict(&pool)
    };
    let mut second_epochs = 0;
    if trainings.train_epochs > 0 {
        let (all_seqs, all_targets) =
            self_training_set((seqs, targets), (&pool, &labels), trainings.upsample);
        second_epochs = controller
            .try_train_until(
                &all_seqs,
                &all_targets,
                trainings.train_epochs,
                rng,
                interrupt,
            )?
            .epochs;
    }
    Ok(Labelled {
        archs,
        seqs: pool,
        labels,
        epochs: (first_epochs, second_epochs),
    })
}

/// Draws up to `count` distinct architectures whose keys are not in `exclude` (at most
/// `20 * count` draws, so a nearly spent space cannot stall), with their token sequences.
pub fn sample_unlabelled<S: SearchSpace>(
    space: &S,
    count: usize,
    exclude: &HashSet<String>,
    rng: &mut Rng,
) -> Vec<(S::Arch, Vec<u32>)> {
    let mut pool = Vec::with_capacity(count);
    let mut keys = HashSet::new();
    let mut tries = 0;
    while pool.len() < count && tries < count * 20 {
        tries += 1;
        let a = space.sample(rng);
        let k = space.key(&a);
        if exclude.contains(&k) || !keys.insert(k) {
            continue;
        }
        let t = space.encode(&a);
        pool.push((a, t));
    }
    pool
}

/// The second training's set: the evaluated pairs `(seqs, targets)` repeated `upsample` times
/// (at least once) followed by the pseudo-labelled sequences.
fn self_training_set(
    (seqs, targets): (&[Vec<u32>], &[f32]),
    (pool, labels): (&[Vec<u32>], &[f32]),
    upsample: usize,
) -> (Vec<Vec<u32>>, Vec<f32>) {
    let mut all_seqs = Vec::with_capacity(seqs.len() * upsample.max(1) + pool.len());
    let mut all_targets = Vec::with_capacity(all_seqs.capacity());
    for _ in 0..upsample.max(1) {
        all_seqs.extend(seqs.iter().cloned());
        all_targets.extend_from_slice(targets);
    }
    all_seqs.extend(pool.iter().cloned());
    all_targets.extend_from_slice(labels);
    (all_seqs, all_targets)
}
