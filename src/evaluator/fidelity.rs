//! Fidelities: a training's intermediate results (a value per step, e.g. per epoch), and the
//! rules by which a search stops a training early (pruning).
//!
//! An evaluator reports each step to a [`StepMonitor`], which answers [`Decision::Continue`]
//! or [`Decision::Stop`]; an evaluator that is told to stop ends its training (a table simply
//! answers no further step, a command is killed). What is decided is fixed when the proposal is
//! made: its [`StopRule`] holds a threshold per step, computed from the trials told before it
//! (see [`Pruner`]) or by the searcher. So a run decides the same whatever order parallel
//! evaluations finish in, and a resumed run decides as the killed one did.

use std::collections::BTreeMap;

/// One intermediate result of a training.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepResult {
    /// The step (an epoch, say), counted from 1.
    pub step: u64,
    /// The objective at that step.
    pub objective: f64,
    /// What the training had cost when it reached the step (seconds).
    pub cost_seconds: f64,
}

/// What a search answers to a reported step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go on training.
    Continue,
    /// Stop the training now (it is pruned).
    Stop,
}

impl Decision {
    /// The decision's stored name.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Continue => "continue",
            Decision::Stop => "stop",
        }
    }
}

/// Where an evaluator reports a training's steps. Called from the evaluator's thread.
pub trait StepMonitor: Send + Sync {
    /// Reports the objective at `step` and the cost so far; the answer says whether to go on.
    fn report(&self, step: u64, objective: f64, cost_seconds: f64) -> Decision;
    /// Something about the steps worth keeping with the evaluation (e.g. a malformed report).
    fn note(&self, text: &str) {
        let _ = text;
    }
    /// The training starts over (a failed attempt is retried): its steps so far are void.
    fn restart(&self) {}
}

/// A monitor that never stops anything (evaluations outside a search).
pub struct NoMonitor;

impl StepMonitor for NoMonitor {
    fn report(&self, _: u64, _: f64, _: f64) -> Decision {
        Decision::Continue
    }
}

/// The steps at which an evaluator reports, the last being a full training.
#[derive(Debug, Clone, PartialEq)]
pub struct Fidelities {
    /// Increasing steps, at least 1; the last is the full training (the objective).
    pub steps: Vec<u64>,
    /// True when every evaluation reports exactly these steps (a table); false when it may
    /// report any step up to the last (a training command, one report per epoch).
    pub fixed: bool,
}

impl Fidelities {
    /// The full training's step.
    pub fn max_step(&self) -> u64 {
        self.steps.last().copied().unwrap_or(1)
    }

    /// Steps of an evaluator that may report any step up to `max_step`.
    pub fn open(max_step: u64) -> Self {
        Self {
            steps: vec![max_step.max(1)],
            fixed: false,
        }
    }
}

/// When a proposal's training is stopped: a threshold per step, fixed when it was proposed.
/// The training stops at a checked step whose objective (signed: larger is better) is below
/// the step's threshold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StopRule {
    /// Threshold per step, on the signed objective.
    pub thresholds: BTreeMap<u64, f64>,
    /// Compare the best objective up to the step, not the step's own (Optuna's percentile
    /// pruner does); thresholds are then checked at every step that has one. Otherwise each
    /// threshold is a rung, checked once, at the first reported step that reaches it.
    pub best_so_far: bool,
    /// -1 when the objective is minimised (values are negated before comparing).
    pub sign: f64,
}

impl StopRule {
    /// A rule that stops nothing, for an objective that is maximised (`sign` 1) or
    /// minimised (-1).
    pub fn never(sign: f64) -> Self {
        Self {
            thresholds: BTreeMap::new(),
            best_so_far: false,
            sign,
        }
    }

    /// True when the rule has no threshold.
    pub fn is_empty(&self) -> bool {
        self.thresholds.is_empty()
    }

    /// The decision after `steps` (the training's reports so far, the newest last).
    pub fn decide(&self, steps: &[StepResult]) -> Decision {
        let Some(last) = steps.last() else {
            return Decision::Continue;
        };
        let signed = |v: f64| v * self.sign;
        if self.best_so_far {
            let Some(&t) = self.thresholds.get(&last.step) else {
                return Decision::Continue;
            };
            let best = steps
                .iter()
                .map(|s| signed(s.objective))
                .fold(f64::NEG_INFINITY, f64::max);
            return if best < t {
                Decision::Stop
            } else {
                Decision::Continue
            };
        }
        // The rungs passed by this report and not by the previous one; each is checked once.
        let before = steps.len().checked_sub(2).map_or(0, |i| steps[i].step);
        let value = signed(last.objective);
        for (_, &t) in self.thresholds.range(before + 1..=last.step) {
            if value < t {
                return Decision::Stop;
            }
        }
        Decision::Continue
    }
}

/// A rule for stopping trainings early, applied to every searcher's proposals.
#[derive(Debug, Clone, PartialEq)]
pub enum Pruner {
    /// Every training runs to its end.
    None,
    /// Asynchronous successive halving (Li et al. 2020; Optuna's `SuccessiveHalvingPruner`):
    /// at each rung a training goes on when its objective is among the best `1/eta` of the
    /// objectives that the trials told so far had at that rung (its own included).
    Asha {
        /// Reduction factor.
        eta: u32,
        /// The first rung; the table's first step, or `max/eta^3` for open steps, by default.
        min_step: Option<u64>,
    },
    /// Hyperband over asynchronous successive halving (Optuna's `HyperbandPruner`): each
    /// trial is put in one of several brackets (each an ASHA with another first rung, the
    /// trials spread over them as Hyperband spreads its budget) and competes within it.
    Hyperband {
        /// Reduction factor.
        eta: u32,
        /// The first rung of the most aggressive bracket (as for [`Pruner::Asha`]).
        min_step: Option<u64>,
    },
    /// Stop a training whose best objective up to a step is below this percentile of the
    /// best objectives that the trials told so far had at that step (Optuna's
    /// `PercentilePruner`; 50 is its `MedianPruner`).
    Percentile {
        /// Percentile, 0 to 100 (25: stop the bottom quarter).
        percentile: f64,
        /// No stopping at a step before this many told trials have reached it.
        startup: usize,
        /// No stopping before this step.
        warmup: u64,
    },
}

impl Pruner {
    /// The pruner's name as `--prune` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Pruner::None => "none",
            Pruner::Asha { .. } => "asha",
            Pruner::Hyperband { .. } => "hyperband",
            Pruner::Percentile { .. } => "percentile",
        }
    }

    /// The pruner's settings as `--prune` text (parsed back by [`Pruner::parse`]).
    pub fn text(&self) -> String {
        let min = |m: &Option<u64>| m.map(|m| format!(",min-step={m}")).unwrap_or_default();
        match self {
            Pruner::None => "none".into(),
            Pruner::Asha { eta, min_step } => format!("asha:eta={eta}{}", min(min_step)),
            Pruner::Hyperband { eta, min_step } => {
                format!("hyperband:eta={eta}{}", min(min_step))
            }
            Pruner::Percentile {
                percentile,
                startup,
                warmup,
            } => format!("percentile:p={percentile},startup={startup},warmup={warmup}"),
        }
    }

    /// Parses `none`, `asha[:eta=3,min-step=S]`, `hyperband[:eta=3,min-step=S]`,
    /// `median[:startup=5,warmup=0]` or `percentile[:p=25,startup=5,warmup=0]`.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(text: &str) -> Result<Pruner, String> {
        let text = text.trim();
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        let mut opts = BTreeMap::new();
        for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                format!("--prune {text:?}: {part:?} is not KEY=VALUE (e.g. eta=3)")
            })?;
            opts.insert(k.trim().to_string(), v.trim().to_string());
        }
        let mut take = |key: &str| opts.remove(key);
        let int = |key: &str, v: Option<String>, lo: u64, hi: u64| -> Result<Option<u64>, String> {
            v.map(|v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| {
                        format!("--prune {text:?}: {key} must be a whole number in {lo}..={hi}, not {v:?}")
                    })
            })
            .transpose()
        };
        let pruner = match kind {
            "none" => Pruner::None,
            "asha" | "hyperband" => {
                let eta = int("eta", take("eta"), 2, 100)?.unwrap_or(3) as u32;
                let min_step = int("min-step", take("min-step"), 1, u32::MAX as u64)?;
                if kind == "asha" {
                    Pruner::Asha { eta, min_step }
                } else {
                    Pruner::Hyperband { eta, min_step }
                }
            }
            "median" | "percentile" => {
                let percentile = match if kind == "median" { None } else { take("p") } {
                    None if kind == "median" => 50.0,
                    Some(v) => v
                        .parse::<f64>()
                        .ok()
                        .filter(|p| (0.0..=100.0).contains(p))
                        .ok_or_else(|| {
                            format!(
                                "--prune {text:?}: p must be a percentile in 0..=100, not {v:?}"
                            )
                        })?,
                    None => 25.0,
                };
                Pruner::Percentile {
                    percentile,
                    startup: int("startup", take("startup"), 0, 1_000_000)?.unwrap_or(5) as usize,
                    warmup: int("warmup", take("warmup"), 0, u32::MAX as u64)?.unwrap_or(0),
                }
            }
            other => {
                return Err(format!(
                    "--prune {other:?}: unknown pruner (known: none, asha, hyperband, median, \
                     percentile, auto)"
                ));
            }
        };
        if let Some(k) = opts.keys().next() {
            return Err(format!(
                "--prune {text:?}: {k:?} is not a setting of {kind}"
            ));
        }
        Ok(pruner)
    }

    /// The rungs of an ASHA whose first rung is `min_step` (or the default) for `fid`.
    fn rungs(fid: &Fidelities, eta: u32, min_step: Option<u64>) -> Vec<u64> {
        let max = fid.max_step();
        if fid.fixed {
            let min = min_step.unwrap_or(0);
            return fid
                .steps
                .iter()
                .copied()
                .filter(|&s| s >= min && s < max)
                .collect();
        }
        let eta = u64::from(eta.max(2));
        let min = min_step.unwrap_or_else(|| (max / eta.pow(3)).max(1));
        let mut rungs = Vec::new();
        let mut r = min.max(1);
        while r < max {
            rungs.push(r);
            r = r.saturating_mul(eta);
        }
        rungs
    }
}

/// A [`Pruner`] at work in a run: the objectives that the told trials had at each step (per
/// bracket), from which each new proposal's [`StopRule`] is made.
#[derive(Debug, Clone)]
pub struct PrunerState {
    pruner: Pruner,
    fidelities: Fidelities,
    sign: f64,
    seed: u64,
    /// Per bracket: the rungs, and per step the signed objectives of told trials.
    brackets: Vec<Bracket>,
    /// Hyperband: how many trials each bracket should get, relative.
    weights: Vec<f64>,
}

#[derive(Debug, Clone, Default)]
struct Bracket {
    rungs: Vec<u64>,
    /// Signed objective (best so far, for the percentile rule) per step, told trials only.
    values: BTreeMap<u64, Vec<f64>>,
}

impl PrunerState {
    /// A pruner for evaluations reporting `fidelities`; `sign` -1 for a minimised objective;
    /// `seed` spreads Hyperband's trials over its brackets.
    ///
    /// # Errors
    /// A pruner that needs steps the evaluator does not give.
    pub fn new(pruner: Pruner, fidelities: Fidelities, sign: f64, seed: u64) -> Self {
        let brackets_of = |rungs: Vec<u64>| Bracket {
            rungs,
            values: BTreeMap::new(),
        };
        let (brackets, weights) = match &pruner {
            Pruner::None | Pruner::Percentile { .. } => (vec![Bracket::default()], vec![1.0]),
            Pruner::Asha { eta, min_step } => (
                vec![brackets_of(Pruner::rungs(&fidelities, *eta, *min_step))],
                vec![1.0],
            ),
            Pruner::Hyperband { eta, min_step } => {
                // Bracket b skips the first b rungs of the most aggressive one; its weight is
                // the number of trials Hyperband starts in it (Li et al. 2018).
                let all = Pruner::rungs(&fidelities, *eta, *min_step);
                let n = all.len() + 1;
                let eta = f64::from((*eta).max(2));
                let brackets: Vec<Bracket> =
                    (0..n).map(|b| brackets_of(all[b..].to_vec())).collect();
                let weights = (0..n)
                    .map(|b| {
                        let s = (n - 1 - b) as i32;
                        (n as f64 / (s + 1) as f64 * eta.powi(s)).ceil()
                    })
                    .collect();
                (brackets, weights)
            }
        };
        Self {
            pruner,
            fidelities,
            sign,
            seed,
            brackets,
            weights,
        }
    }

    /// The pruner.
    pub fn pruner(&self) -> &Pruner {
        &self.pruner
    }

    /// The bracket of proposal `index` (always 0 but for Hyperband).
    pub fn bracket(&self, index: usize) -> usize {
        if self.weights.len() <= 1 {
            return 0;
        }
        let total: f64 = self.weights.iter().sum();
        // SplitMix64 of the seed and index: uniform bits for any pair.
        let mut z = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index as u64)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let mut u = (z >> 11) as f64 / (1u64 << 53) as f64 * total;
        for (b, w) in self.weights.iter().enumerate() {
            if u < *w {
                return b;
            }
            u -= w;
        }
        self.weights.len() - 1
    }

    /// The rule of proposal `index`, from the trials told so far.
    pub fn rule(&self, index: usize) -> StopRule {
        let mut rule = StopRule::never(self.sign);
        let bracket = &self.brackets[self.bracket(index)];
        match &self.pruner {
            Pruner::None => {}
            Pruner::Asha { eta, .. } | Pruner::Hyperband { eta, .. } => {
                for &r in &bracket.rungs {
                    let mut others = bracket.values.get(&r).cloned().unwrap_or_default();
                    // Promoted when among the best max(1, n / eta) of the n objectives at the
                    // rung, its own included: at least the k-th best of the others.
                    let k = ((others.len() + 1) / *eta as usize).max(1);
                    if others.len() >= k {
                        others.sort_by(|a, b| b.total_cmp(a));
                        rule.thresholds.insert(r, others[k - 1]);
                    }
                }
            }
            Pruner::Percentile {
                percentile,
                startup,
                warmup,
            } => {
                rule.best_so_far = true;
                for (&step, values) in &bracket.values {
                    if step < *warmup || values.len() < (*startup).max(1) {
                        continue;
                    }
                    rule.thresholds
                        .insert(step, percentile_of(values, *percentile));
                }
            }
        }
        rule
    }

    /// Learns what a told trial reported (its steps, in order).
    pub fn tell(&mut self, index: usize, steps: &[StepResult]) {
        let b = self.bracket(index);
        let best_so_far = matches!(self.pruner, Pruner::Percentile { .. });
        let mut best = f64::NEG_INFINITY;
        let bracket = &mut self.brackets[b];
        for s in steps {
            let v = s.objective * self.sign;
            best = best.max(v);
            let keep = if best_so_far {
                true
            } else {
                bracket.rungs.contains(&s.step)
            };
            if keep {
                bracket
                    .values
                    .entry(s.step)
                    .or_default()
                    .push(if best_so_far { best } else { v });
            }
        }
        // Rungs a report skipped (an open evaluator reporting every other epoch): the first
        // report at or after the rung stands for it, as the rule checks it.
        if !best_so_far && !self.fidelities.fixed {
            let rungs = bracket.rungs.clone();
            for r in rungs {
                if steps.iter().any(|s| s.step == r) {
                    continue;
                }
                if let Some(s) = steps.iter().find(|s| s.step > r) {
                    bracket
                        .values
                        .entry(r)
                        .or_default()
                        .push(s.objective * self.sign);
                }
            }
        }
    }
}

/// The `p`-th percentile (0 to 100) of `values`, linearly interpolated (NumPy's default).
pub fn percentile_of(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NEG_INFINITY;
    }
    let pos = (p / 100.0).clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(v: &[(u64, f64)]) -> Vec<StepResult> {
        v.iter()
            .map(|&(step, objective)| StepResult {
                step,
                objective,
                cost_seconds: step as f64,
            })
            .collect()
    }

    fn nb101() -> Fidelities {
        Fidelities {
            steps: vec![4, 12, 36, 108],
            fixed: true,
        }
    }

    #[test]
    fn parses_every_pruner_and_refuses_bad_settings() {
        assert_eq!(Pruner::parse("none").unwrap(), Pruner::None);
        assert_eq!(
            Pruner::parse("asha").unwrap(),
            Pruner::Asha {
                eta: 3,
                min_step: None
            }
        );
        assert_eq!(
            Pruner::parse("hyperband:eta=4,min-step=2").unwrap(),
            Pruner::Hyperband {
                eta: 4,
                min_step: Some(2)
            }
        );
        assert_eq!(
            Pruner::parse("median").unwrap(),
            Pruner::Percentile {
                percentile: 50.0,
                startup: 5,
                warmup: 0
            }
        );
        let p = Pruner::parse("percentile:p=75,startup=3,warmup=2").unwrap();
        assert_eq!(Pruner::parse(&p.text()).unwrap(), p);
        for bad in [
            "asha:eta=1",
            "asha:eta=x",
            "asha:speed=2",
            "percentile:p=101",
            "percentile:p=nan",
            "bohb",
            "asha:eta",
        ] {
            assert!(Pruner::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn asha_promotes_the_best_third_of_each_rung() {
        let mut p = PrunerState::new(
            Pruner::Asha {
                eta: 3,
                min_step: None,
            },
            nb101(),
            1.0,
            0,
        );
        // The first trial has no competitor: it goes on.
        assert!(p.rule(0).is_empty());
        p.tell(0, &steps(&[(4, 0.5), (12, 0.6), (36, 0.8), (108, 0.9)]));
        // n = 2 at rung 4: k = max(1, 2 / 3) = 1, the best of both: at least 0.5.
        let r = p.rule(1);
        assert_eq!(r.thresholds.get(&4), Some(&0.5));
        assert_eq!(r.decide(&steps(&[(4, 0.4)])), Decision::Stop);
        assert_eq!(r.decide(&steps(&[(4, 0.5)])), Decision::Continue);
        p.tell(1, &steps(&[(4, 0.4)]));
        for (i, v) in [0.3, 0.7, 0.2, 0.1].into_iter().enumerate() {
            p.tell(2 + i, &steps(&[(4, v)]));
        }
        // Six at rung 4 (0.7 0.5 0.4 0.3 0.2 0.1): with a seventh, k = 7 / 3 = 2, the 2nd best.
        let r = p.rule(6);
        assert_eq!(r.thresholds.get(&4), Some(&0.5));
        // Rung 12 holds one value (0.6): k = 1.
        assert_eq!(r.thresholds.get(&12), Some(&0.6));
        assert!(
            !r.thresholds.contains_key(&108),
            "the last step is not a rung"
        );
        assert_eq!(
            r.decide(&steps(&[(4, 0.55), (12, 0.59)])),
            Decision::Stop,
            "checked at each rung"
        );
        // A minimised objective: signs flip.
        let mut m = PrunerState::new(
            Pruner::Asha {
                eta: 2,
                min_step: None,
            },
            nb101(),
            -1.0,
            0,
        );
        m.tell(0, &steps(&[(4, 2.0)]));
        let r = m.rule(1);
        assert_eq!(r.decide(&steps(&[(4, 2.5)])), Decision::Stop);
        assert_eq!(r.decide(&steps(&[(4, 1.5)])), Decision::Continue);
    }

    #[test]
    fn open_steps_have_geometric_rungs_checked_at_the_first_report_past_them() {
        let fid = Fidelities::open(100);
        assert_eq!(Pruner::rungs(&fid, 3, None), vec![3, 9, 27, 81]);
        assert_eq!(Pruner::rungs(&fid, 3, Some(10)), vec![10, 30, 90]);
        let mut p = PrunerState::new(
            Pruner::Asha {
                eta: 3,
                min_step: Some(10),
            },
            fid,
            1.0,
            0,
        );
        // Reports every 4th step: rung 10 is read at step 12.
        p.tell(0, &steps(&[(4, 0.1), (8, 0.2), (12, 0.3), (32, 0.9)]));
        let r = p.rule(1);
        assert_eq!(r.thresholds.get(&10), Some(&0.3));
        assert_eq!(r.thresholds.get(&30), Some(&0.9));
        let mut s = steps(&[(4, 0.1), (8, 0.25)]);
        assert_eq!(r.decide(&s), Decision::Continue, "no rung passed yet");
        s.push(StepResult {
            step: 12,
            objective: 0.29,
            cost_seconds: 0.0,
        });
        assert_eq!(r.decide(&s), Decision::Stop);
    }

    #[test]
    fn hyperband_spreads_trials_over_brackets_as_hyperband_budgets() {
        let p = PrunerState::new(
            Pruner::Hyperband {
                eta: 3,
                min_step: None,
            },
            nb101(),
            1.0,
            7,
        );
        // Rungs 4, 12, 36: brackets with first rung 4, 12, 36 and none; Hyperband starts
        // 27, 12, 6 and 4 trials in them (ceil(4 / (s + 1) * 3^s)).
        assert_eq!(p.weights, vec![27.0, 12.0, 6.0, 4.0]);
        assert_eq!(p.brackets[1].rungs, vec![12, 36]);
        assert!(p.brackets[3].rungs.is_empty());
        let mut count = [0usize; 4];
        for i in 0..4900 {
            count[p.bracket(i)] += 1;
        }
        // 4900 * 27 / 49 = 2700 expected in the first.
        assert!((2550..2850).contains(&count[0]), "{count:?}");
        assert!((300..500).contains(&count[3]), "{count:?}");
        assert_eq!(p.bracket(17), p.bracket(17));
    }

    #[test]
    fn percentile_compares_best_so_far_after_startup_and_warmup() {
        let mut p = PrunerState::new(
            Pruner::Percentile {
                percentile: 50.0,
                startup: 3,
                warmup: 2,
            },
            Fidelities::open(10),
            1.0,
            0,
        );
        p.tell(0, &steps(&[(1, 0.9), (2, 0.1), (3, 0.5)]));
        p.tell(1, &steps(&[(1, 0.2), (2, 0.4), (3, 0.6)]));
        assert!(p.rule(2).is_empty(), "startup: only two trials told");
        p.tell(2, &steps(&[(1, 0.3), (2, 0.3)]));
        let r = p.rule(3);
        // Best so far at step 2: 0.9, 0.4, 0.3 -> median 0.4; step 1 is in the warm-up.
        assert_eq!(r.thresholds.get(&2), Some(&0.4));
        assert!(!r.thresholds.contains_key(&1));
        assert!(!r.thresholds.contains_key(&3), "two trials reached step 3");
        assert_eq!(r.decide(&steps(&[(1, 0.1), (2, 0.35)])), Decision::Stop);
        assert_eq!(
            r.decide(&steps(&[(1, 0.45), (2, 0.35)])),
            Decision::Continue
        );
        assert_eq!(percentile_of(&[1.0, 2.0, 3.0, 4.0], 25.0), 1.75);
    }
}
