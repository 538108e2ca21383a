//! The semi-supervised training step that SemiNAS and SemiNAS-RE share (Luo et al. 2020,
//! Algorithm 1): after the controller has been trained on the evaluated pairs, unevaluated
//! architectures are labelled by its predictor and it is trained again on the evaluated pairs
//! (repeated `upsample` times) together with the pseudo-labelled ones.

use std::collections::HashSet;

use crate::controller::Controller;
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

/// The epochs and sizes of one semi-supervised training (SemiNAS's round, SemiNAS-RE's
/// retraining).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// The two trainings.
    pub trainings: Trainings,
    /// Unevaluated architectures drawn and pseudo-labelled.
    pub pseudo: usize,
}

/// What [`train_round`] labelled: the drawn unevaluated architectures, their token sequences
/// and pseudo-labels (normalised units), in draw order; and the epochs each training ran.
pub(crate) struct Labelled<A> {
    /// The drawn architectures.
    pub archs: Vec<A>,
    /// Their token sequences.
    pub seqs: Vec<Vec<u32>>,
    /// Their pseudo-labels.
    pub labels: Vec<f32>,
    /// Epochs of the first and the second training (fewer than scheduled when stopped early).
    pub epochs: (usize, usize),
}

/// One semi-supervised training of `controller` (Luo et al. 2020, Algorithm 1, steps 1-2):
/// the first training on the evaluated pairs `(seqs, targets)` (kept whole when early stopping
/// is set to stop only the second, [`Controller::first_training`]), then `pseudo` unevaluated
/// architectures (keys not in `exclude`) drawn and labelled by the predictor, then the second
/// training on the up-sampled evaluated pairs plus those. `None` when the controller refused
/// the data (logged, counted in `failures`): the caller's round falls back.
pub(crate) fn train_round<S: SearchSpace>(
    controller: &mut Controller,
    space: &S,
    (seqs, targets): (&[Vec<u32>], &[f32]),
    exclude: &HashSet<String>,
    schedule: Schedule,
    rng: &mut Rng,
    failures: &mut usize,
) -> Option<Labelled<S::Arch>> {
    let first = (seqs, targets, schedule.trainings.pretrain_epochs);
    let first_epochs =
        controller.first_training(|c| super::recover::train(c, first, rng, failures))?;
    let (archs, pool_seqs): (Vec<S::Arch>, Vec<Vec<u32>>) =
        sample_unlabelled(space, schedule.pseudo, exclude, rng)
            .into_iter()
            .unzip();
    let (labels, second_epochs) = self_train(
        controller,
        (seqs, targets),
        &pool_seqs,
        schedule.trainings.upsample,
        schedule.trainings.train_epochs,
        rng,
        failures,
    )?;
    Some(Labelled {
        archs,
        seqs: pool_seqs,
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

/// Labels `unlabelled` with the controller's predictor and builds the self-training set: the
/// evaluated pairs `(seqs, targets)` repeated `upsample` times (at least once) followed by the
/// pseudo-labelled sequences. Returns `(pseudo-labels, sequences, targets)`.
pub(crate) fn pseudo_labelled_set(
    controller: &Controller,
    (seqs, targets): (&[Vec<u32>], &[f32]),
    unlabelled: &[Vec<u32>],
    upsample: usize,
) -> (Vec<f32>, Vec<Vec<u32>>, Vec<f32>) {
    let labels = if unlabelled.is_empty() {
        Vec::new()
    } else {
        controller.predict(unlabelled)
    };
    let mut all_seqs = Vec::with_capacity(seqs.len() * upsample.max(1) + unlabelled.len());
    let mut all_targets = Vec::with_capacity(all_seqs.capacity());
    for _ in 0..upsample.max(1) {
        all_seqs.extend(seqs.iter().cloned());
        all_targets.extend_from_slice(targets);
    }
    all_seqs.extend(unlabelled.iter().cloned());
    all_targets.extend_from_slice(&labels);
    (labels, all_seqs, all_targets)
}

/// Labels `unlabelled` with the controller's predictor, then (when `epochs > 0`) trains the
/// controller for `epochs` on the evaluated pairs `(seqs, targets)` repeated `upsample` times
/// plus the pseudo-labelled sequences. Returns the pseudo-labels and the epochs run, or `None`
/// when the controller refused the data (logged and counted in `failures`: the round falls
/// back).
fn self_train(
    controller: &mut Controller,
    (seqs, targets): (&[Vec<u32>], &[f32]),
    unlabelled: &[Vec<u32>],
    upsample: usize,
    epochs: usize,
    rng: &mut Rng,
    failures: &mut usize,
) -> Option<(Vec<f32>, usize)> {
    if epochs == 0 {
        let labels = if unlabelled.is_empty() {
            Vec::new()
        } else {
            controller.predict(unlabelled)
        };
        return Some((labels, 0));
    }
    let (labels, all_seqs, all_targets) =
        pseudo_labelled_set(controller, (seqs, targets), unlabelled, upsample);
    let ran = super::recover::train(controller, (&all_seqs, &all_targets, epochs), rng, failures)?;
    Some((labels, ran))
}
