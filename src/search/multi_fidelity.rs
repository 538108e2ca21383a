//! What a multi-fidelity search knows of its trials, and the two uses it makes of trainings
//! that were stopped early.
//!
//! **A probe, then a decision.** Every training first runs to the *probe* fidelity: the
//! largest fidelity costing at most a third of a whole training (NAS-Bench-101's 36 of 108
//! epochs; 12 of 200 for a NAS-Bench-201 table with those two; a third of `--max-step` for a
//! command). There it goes on to the whole training only if its objective is at least what
//! every one of the best whole trainings so far had at the probe ("the winners' floor"): a
//! training below all of them is unlikely to beat them. Until enough trainings are whole,
//! successive halving decides instead (the best third of the probe's objectives go on).
//! Lower fidelities are recorded but stop nothing: on NAS-Bench-101 the trainings that are
//! best after 4 or 12 epochs are not those that are best after 108 (ranking by them picks
//! worse cells than ranking by nothing but the architecture), and a rule that trusts them
//! stops the eventual winners.
//!
//! **Cheap labels.** A training stopped at the probe is a label for the predictor (SemiNAS's
//! idea, with real if cheap labels): its objective there, standardised among the probe's
//! objectives and shrunk by the correlation `rho` of the probe with whole trainings (measured
//! on the trials that have both, pulled towards a prior while they are few), weighted by
//! `rho²`. Whole trainings are standardised among themselves, so the predictor learns one
//! scale: how far above the others an architecture is.

use std::collections::HashMap;

use crate::evaluator::{Fidelities, StepResult, StopRule};
use crate::stats::correlation;

/// Settings of the multi-fidelity part of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiFidelityConfig {
    /// The probe is the largest fidelity costing at most `1 / eta` of a whole training; before
    /// `min_complete` whole trainings, the best `1 / eta` at the probe go on.
    pub eta: u32,
    /// Whole trainings needed before the winners' floor decides.
    pub min_complete: usize,
    /// The floor is the lowest probe objective among this many best whole trainings.
    pub top: usize,
    /// Prior correlation of the probe with whole trainings, and its weight in trials.
    pub prior_correlation: f64,
    /// See `prior_correlation`.
    pub prior_count: f64,
    /// Weight of a stopped training's label relative to a whole training's, before `rho²`.
    pub label_weight: f32,
    /// Values below this quantile of each fidelity are raised to it before standardising (as
    /// [`crate::predictor::targets::normalize_targets`] does).
    pub clip_quantile: f64,
}

impl Default for MultiFidelityConfig {
    /// The settings measured in docs/search.md ("Fidelities").
    fn default() -> Self {
        Self {
            eta: 3,
            min_complete: 3,
            top: 5,
            prior_correlation: 0.5,
            prior_count: 5.0,
            label_weight: 3.0,
            clip_quantile: 0.5,
        }
    }
}

/// One told trial: its objective at each fidelity (NaN where it did not get there).
#[derive(Debug, Clone)]
struct Trial {
    values: Vec<f64>,
    complete: bool,
    feats: Vec<u32>,
}

/// The trials of a multi-fidelity search, by fidelity.
#[derive(Debug, Clone)]
pub struct MultiFidelity {
    /// The fidelities, increasing; the last is a whole training.
    heads: Vec<u64>,
    /// Index into `heads` of the probe, if a fidelity is cheap enough to be one.
    probe: Option<usize>,
    config: MultiFidelityConfig,
    trials: Vec<Trial>,
    by_key: HashMap<String, usize>,
}

impl MultiFidelity {
    /// The fidelities of `fid`: a table's steps, or for an evaluator that reports any step
    /// (one per epoch), the max step and its thirds, ninths and 27ths.
    pub fn new(fid: &Fidelities, config: MultiFidelityConfig) -> Self {
        let heads = if fid.fixed {
            fid.steps.clone()
        } else {
            let max = fid.max_step();
            let mut h: Vec<u64> = [27, 9, 3, 1].iter().map(|d| (max / d).max(1)).collect();
            h.dedup();
            h
        };
        let max = *heads.last().expect("a fidelity") as f64;
        let eta = f64::from(config.eta.max(2));
        let probe = (0..heads.len() - 1)
            .rev()
            .find(|&h| heads[h] as f64 <= max / eta + 1e-9);
        Self {
            heads,
            probe,
            config,
            trials: Vec::new(),
            by_key: HashMap::new(),
        }
    }

    /// The fidelity steps, increasing.
    pub fn heads(&self) -> &[u64] {
        &self.heads
    }

    /// The probe's step, if there is a probe.
    pub fn probe_step(&self) -> Option<u64> {
        self.probe.map(|p| self.heads[p])
    }

    fn trial(&mut self, key: &str, feats: &[u32]) -> &mut Trial {
        let k = self.heads.len();
        let i = *self.by_key.entry(key.to_string()).or_insert_with(|| {
            self.trials.push(Trial {
                values: vec![f64::NAN; k],
                complete: false,
                feats: feats.to_vec(),
            });
            self.trials.len() - 1
        });
        &mut self.trials[i]
    }

    /// A told trial's steps (signed objectives): each fidelity takes the first step that
    /// reaches it.
    pub fn tell_steps(&mut self, key: &str, feats: &[u32], steps: &[StepResult]) {
        let heads = self.heads.clone();
        let t = self.trial(key, feats);
        for (h, &step) in heads.iter().enumerate() {
            if let Some(s) = steps.iter().find(|s| s.step >= step) {
                t.values[h] = s.objective;
            }
        }
    }

    /// A told whole training's objective (signed).
    pub fn tell_complete(&mut self, key: &str, feats: &[u32], objective: f64) {
        let last = self.heads.len() - 1;
        let t = self.trial(key, feats);
        t.values[last] = objective;
        t.complete = true;
    }

    /// Number of whole trainings told.
    pub fn complete(&self) -> usize {
        self.trials.iter().filter(|t| t.complete).count()
    }

    /// Number of trials told (stopped or whole).
    pub fn told(&self) -> usize {
        self.trials.len()
    }

    /// The correlation of the probe's objectives with whole trainings' over the trials that
    /// have both, pulled towards the prior.
    pub fn probe_correlation(&self) -> f64 {
        let c = &self.config;
        let Some(p) = self.probe else {
            return 0.0;
        };
        let last = self.heads.len() - 1;
        let (a, b): (Vec<f64>, Vec<f64>) = self
            .trials
            .iter()
            .filter(|t| t.complete && t.values[p].is_finite())
            .map(|t| (t.values[p], t.values[last]))
            .unzip();
        let n = a.len() as f64;
        let r = correlation(&a, &b);
        ((n * r + c.prior_count * c.prior_correlation) / (n + c.prior_count)).clamp(0.0, 1.0)
    }

    /// The predictor's training set: features, target (standardised, see the module
    /// documentation) and weight, of every whole training and every training stopped at or
    /// after the probe.
    pub fn training_set(&self) -> (Vec<Vec<u32>>, Vec<f32>, Vec<f32>) {
        let last = self.heads.len() - 1;
        let (mut feats, mut targets, mut weights) = (Vec::new(), Vec::new(), Vec::new());
        let whole: Vec<&Trial> = self.trials.iter().filter(|t| t.complete).collect();
        let wv: Vec<f64> = whole.iter().map(|t| t.values[last]).collect();
        for (t, z) in whole
            .iter()
            .zip(standardise(&wv, self.config.clip_quantile))
        {
            feats.push(t.feats.clone());
            targets.push(z as f32);
            weights.push(1.0);
        }
        let Some(p) = self.probe else {
            return (feats, targets, weights);
        };
        let rho = self.probe_correlation();
        let w = self.config.label_weight * (rho * rho) as f32;
        if w <= 0.0 {
            return (feats, targets, weights);
        }
        let at_probe: Vec<&Trial> = self
            .trials
            .iter()
            .filter(|t| t.values[p].is_finite())
            .collect();
        let pv: Vec<f64> = at_probe.iter().map(|t| t.values[p]).collect();
        for (t, z) in at_probe
            .iter()
            .zip(standardise(&pv, self.config.clip_quantile))
        {
            if !t.complete {
                feats.push(t.feats.clone());
                targets.push((rho * z) as f32);
                weights.push(w);
            }
        }
        (feats, targets, weights)
    }

    /// Mean and standard deviation of whole trainings' objectives after clipping (what the
    /// standardised targets are relative to), once there are two.
    pub fn whole_scale(&self) -> Option<(f64, f64)> {
        let last = self.heads.len() - 1;
        let v: Vec<f64> = self
            .trials
            .iter()
            .filter(|t| t.complete)
            .map(|t| t.values[last])
            .collect();
        (v.len() >= 2).then(|| clipped_mean_sd(&v, self.config.clip_quantile))
    }

    /// The stop rule of a new trial (a threshold at the probe; signed objectives, sign 1:
    /// the ledger sets the sign).
    pub fn stop_rule(&self) -> StopRule {
        let mut rule = StopRule::never(1.0);
        let Some(p) = self.probe else {
            return rule;
        };
        let last = self.heads.len() - 1;
        let mut whole: Vec<&Trial> = self.trials.iter().filter(|t| t.complete).collect();
        if whole.len() >= self.config.min_complete.max(1) {
            whole.sort_by(|a, b| b.values[last].total_cmp(&a.values[last]));
            let floor = whole[..self.config.top.clamp(1, whole.len())]
                .iter()
                .map(|t| t.values[p])
                .filter(|v| v.is_finite())
                .fold(f64::INFINITY, f64::min);
            if floor.is_finite() {
                rule.thresholds.insert(self.heads[p], floor);
            }
            return rule;
        }
        let mut v: Vec<f64> = self
            .trials
            .iter()
            .map(|t| t.values[p])
            .filter(|v| v.is_finite())
            .collect();
        let k = ((v.len() + 1) / self.config.eta.max(2) as usize).max(1);
        if v.len() >= k {
            v.sort_by(|a, b| b.total_cmp(a));
            rule.thresholds.insert(self.heads[p], v[k - 1]);
        }
        rule
    }
}

/// `values` with those below the `q` quantile raised to it, standardised.
fn standardise(values: &[f64], q: f64) -> Vec<f64> {
    let (m, s) = clipped_mean_sd(values, q);
    let floor = quantile(values, q);
    values.iter().map(|&v| (v.max(floor) - m) / s).collect()
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(((v.len().max(1) - 1) as f64 * q.clamp(0.0, 1.0)).floor() as usize)
        .copied()
        .unwrap_or(f64::NEG_INFINITY)
}

fn clipped_mean_sd(values: &[f64], q: f64) -> (f64, f64) {
    let floor = quantile(values, q);
    let v: Vec<f64> = values.iter().map(|&x| x.max(floor)).collect();
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    let s = var.sqrt();
    (m, if s > 1e-12 { s } else { 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(v: &[(u64, f64)]) -> Vec<StepResult> {
        v.iter()
            .map(|&(step, objective)| StepResult {
                step,
                objective,
                cost_seconds: 0.0,
            })
            .collect()
    }

    fn config() -> MultiFidelityConfig {
        MultiFidelityConfig {
            eta: 3,
            min_complete: 3,
            top: 5,
            prior_correlation: 0.5,
            prior_count: 5.0,
            label_weight: 1.0,
            clip_quantile: 0.0,
        }
    }

    fn nb101() -> Fidelities {
        Fidelities {
            steps: vec![4, 12, 36, 108],
            fixed: true,
        }
    }

    #[test]
    fn the_probe_is_the_largest_fidelity_within_a_third_of_the_cost() {
        assert_eq!(
            MultiFidelity::new(&nb101(), config()).probe_step(),
            Some(36)
        );
        let nb201 = Fidelities {
            steps: vec![12, 200],
            fixed: true,
        };
        assert_eq!(MultiFidelity::new(&nb201, config()).probe_step(), Some(12));
        let m = MultiFidelity::new(&Fidelities::open(200), config());
        assert_eq!(m.heads(), &[7, 22, 66, 200]);
        assert_eq!(m.probe_step(), Some(66));
        let late = Fidelities {
            steps: vec![150, 200],
            fixed: true,
        };
        let m = MultiFidelity::new(&late, config());
        assert_eq!(m.probe_step(), None);
        assert!(m.stop_rule().is_empty(), "no probe, nothing stopped");
    }

    #[test]
    fn halving_at_the_probe_first_then_the_winners_floor() {
        let mut m = MultiFidelity::new(&nb101(), config());
        assert!(m.stop_rule().is_empty(), "the first trial goes on");
        m.tell_steps(
            "a",
            &[0],
            &steps(&[(4, 0.1), (12, 0.2), (36, 0.80), (108, 0.90)]),
        );
        m.tell_complete("a", &[0], 0.90);
        m.tell_steps("b", &[1], &steps(&[(4, 0.9), (12, 0.9), (36, 0.70)]));
        m.tell_steps("c", &[2], &steps(&[(4, 0.5), (12, 0.5), (36, 0.85)]));
        // One whole training: the best third of 4 (3 told + this one): k = 1, the best.
        let r = m.stop_rule();
        assert_eq!(r.thresholds.len(), 1, "only the probe decides");
        assert_eq!(r.thresholds.get(&36), Some(&0.85));
        m.tell_steps(
            "c",
            &[2],
            &steps(&[(4, 0.5), (12, 0.5), (36, 0.85), (108, 0.95)]),
        );
        m.tell_complete("c", &[2], 0.95);
        m.tell_steps("d", &[3], &steps(&[(36, 0.78), (108, 0.80)]));
        m.tell_complete("d", &[3], 0.80);
        // Three whole: the lowest probe objective among them.
        assert_eq!(m.stop_rule().thresholds.get(&36), Some(&0.78));
        assert_eq!(m.complete(), 3);
        assert_eq!(m.told(), 4);
    }

    #[test]
    fn stopped_trainings_are_labels_shrunk_by_the_probes_correlation() {
        let mut m = MultiFidelity::new(&nb101(), config());
        for i in 0..10 {
            let y = i as f64;
            let key = format!("w{i}");
            m.tell_steps(&key, &[i], &steps(&[(36, y), (108, y)]));
            m.tell_complete(&key, &[i], y);
        }
        m.tell_steps("s", &[99], &steps(&[(36, 20.0)]));
        // r = 1 over 10 trials, prior 0.5 over 5: rho = 12.5 / 15.
        let rho = m.probe_correlation();
        assert!((rho - 12.5 / 15.0).abs() < 1e-12, "{rho}");
        let (f, t, w) = m.training_set();
        assert_eq!(f.len(), 11);
        assert_eq!(f[10], vec![99]);
        assert!((w[10] - (rho * rho) as f32).abs() < 1e-6);
        // The stopped one's probe value stands out among the probe's: shrunk by rho.
        let z_at_probe = {
            let v: Vec<f64> = (0..10).map(f64::from).chain([20.0]).collect();
            standardise(&v, 0.0)[10]
        };
        assert!((f64::from(t[10]) - rho * z_at_probe).abs() < 1e-5);
        let whole_mean: f32 = t[..10].iter().sum();
        assert!(
            whole_mean.abs() < 1e-5,
            "whole trainings standardised among themselves"
        );
    }
}
