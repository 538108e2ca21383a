//! The predictor a search holds and refits every round, over one-hot features: the MLP
//! ensemble with its semi-supervised step, or the Gaussian process. [`crate::search::SemiNasEns`]
//! holds one; the architecture-level [`super::Surrogate`]s wrap the same models.
//!
//! A round model takes the search's random stream rather than keeping its own, so that a
//! search's choices flow from its one seed (and a model drawn from the stream draws the same
//! numbers in the same order as before it was a component: the committed runs are unchanged).

use rand::seq::SliceRandom;

use super::gp::HammingGp;
use super::mlp::{MlpConfig, MlpEnsemble, OneHot, mean_std};
use crate::rng::Rng;

/// A model of standardised objectives over one-hot features, refitted every round.
pub trait RoundModel: Send {
    /// Fits on `feats` with their standardised `targets` and per-sample `weights`. A
    /// semi-supervised model also learns from `unlabelled` (the candidates it will be asked
    /// about); every random choice is drawn from `rng`.
    fn fit(
        &mut self,
        feats: &[Vec<u32>],
        targets: &[f32],
        weights: &[f32],
        unlabelled: &[&[u32]],
        rng: &mut Rng,
    );

    /// Mean and spread (standardised units) of each of `feats`, from the latest fit (`f64`:
    /// the GP computes in it; the ensemble's `f32` convert exactly).
    fn predict(&self, feats: &[&[u32]]) -> Vec<(f64, f64)>;
}

/// The MLP ensemble ([`super::mlp`]), fitted from scratch every round: its members' mean and
/// spread. With `pseudo > 0`, the semi-supervised step: after the fit on the evaluated pairs,
/// `pseudo` of the unlabelled candidates are labelled with the ensemble's mean and a fresh
/// ensemble is fitted on both, each pseudo-label weighted by `pseudo_weight` and down by the
/// ensemble's disagreement on it.
pub struct EnsembleModel {
    onehot: OneHot,
    config: MlpConfig,
    pseudo: usize,
    pseudo_weight: f32,
    fitted: Option<MlpEnsemble>,
}

impl EnsembleModel {
    /// An unfitted ensemble for inputs laid out by `onehot`.
    pub fn new(onehot: OneHot, config: MlpConfig, pseudo: usize, pseudo_weight: f32) -> Self {
        Self {
            onehot,
            config,
            pseudo,
            pseudo_weight,
            fitted: None,
        }
    }
}

impl RoundModel for EnsembleModel {
    fn fit(
        &mut self,
        feats: &[Vec<u32>],
        targets: &[f32],
        weights: &[f32],
        unlabelled: &[&[u32]],
        rng: &mut Rng,
    ) {
        let mut ensemble = MlpEnsemble::new(&self.onehot, self.config.clone(), rng);
        ensemble.fit(feats, targets, weights);
        if self.pseudo > 0 {
            let mut idx: Vec<usize> = (0..unlabelled.len()).collect();
            let (chosen, _) = idx.partial_shuffle(rng, self.pseudo);
            let pf: Vec<Vec<u32>> = chosen.iter().map(|&i| unlabelled[i].to_vec()).collect();
            let ms = mean_std(&ensemble.predict_members(&pf));
            let mut all_feats = feats.to_vec();
            let mut all_targets = targets.to_vec();
            // The evaluated pairs count fully here, whatever their weights in the first fit.
            let mut all_weights = vec![1.0f32; feats.len()];
            for (f, (m, s)) in pf.into_iter().zip(ms) {
                all_feats.push(f);
                all_targets.push(m);
                // Targets are standardised: a spread of 1 is one standard deviation.
                all_weights.push(self.pseudo_weight / (1.0 + 4.0 * s * s));
            }
            ensemble = MlpEnsemble::new(&self.onehot, self.config.clone(), rng);
            ensemble.fit(&all_feats, &all_targets, &all_weights);
        }
        self.fitted = Some(ensemble);
    }

    fn predict(&self, feats: &[&[u32]]) -> Vec<(f64, f64)> {
        match &self.fitted {
            Some(ensemble) => mean_std(&ensemble.predict_members(feats))
                .into_iter()
                .map(|(m, s)| (f64::from(m), f64::from(s)))
                .collect(),
            None => vec![(0.0, 1.0); feats.len()],
        }
    }
}

/// The Gaussian process ([`super::gp`]), kept between rounds so that each fit warm-starts its
/// hyperparameters: `first_steps` Adam steps on them at the first fit, `steps` after.
/// Deterministic: it draws nothing.
pub struct GpModel {
    gp: HammingGp,
    fits: usize,
    first_steps: usize,
    steps: usize,
}

impl GpModel {
    /// An unfitted GP over `positions` token positions.
    pub fn new(positions: usize, first_steps: usize, steps: usize) -> Self {
        Self {
            gp: HammingGp::new(positions),
            fits: 0,
            first_steps,
            steps,
        }
    }
}

impl RoundModel for GpModel {
    fn fit(
        &mut self,
        feats: &[Vec<u32>],
        targets: &[f32],
        _weights: &[f32],
        _unlabelled: &[&[u32]],
        _rng: &mut Rng,
    ) {
        let y: Vec<f64> = targets.iter().map(|&t| f64::from(t)).collect();
        let steps = if self.fits == 0 {
            self.first_steps
        } else {
            self.steps
        };
        self.gp.fit(feats, &y, steps);
        self.fits += 1;
    }

    fn predict(&self, feats: &[&[u32]]) -> Vec<(f64, f64)> {
        self.gp.predict(feats)
    }
}
