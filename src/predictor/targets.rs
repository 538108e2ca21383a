//! Targets for the controller's predictor.

/// Normalises objectives for training: values below the `clip_quantile` quantile are raised to
/// it, then the clipped values are standardised by their mean and (population) standard
/// deviation.
///
/// Why clip: a few broken architectures (NAS-Bench-201 has cells at 10% accuracy) would
/// otherwise dominate the standard deviation and the squared loss, squeezing the good
/// architectures, which the search must tell apart, into a tiny range of targets.
pub fn normalize_targets(values: &[f64], clip_quantile: f64) -> Vec<f32> {
    if values.is_empty() {
        return Vec::new();
    }
    // A non-finite objective never reaches a searcher from seminas's evaluators; should one
    // come, it ranks as the worst (NaN) or the best (+inf) finite value, never poisons the rest.
    let values: Vec<f64> = values
        .iter()
        .map(|&v| {
            if v.is_nan() {
                f64::MIN
            } else {
                v.clamp(f64::MIN, f64::MAX)
            }
        })
        .collect();
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let q = clip_quantile.clamp(0.0, 1.0);
    let floor = sorted[((sorted.len() - 1) as f64 * q).floor() as usize];
    let clipped: Vec<f64> = values.iter().map(|&v| v.max(floor)).collect();
    match standardize(&clipped, 1.0) {
        Some(t) => t,
        // Sums of large finite values (5e307, 1e308) overflow: standardise the values divided
        // by the largest magnitude instead (the same z-scores). Ordinary objectives never take
        // this path, so their targets stay bit-identical to the plain formula.
        None => {
            let scale = clipped.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            standardize(&clipped, scale).expect("values scaled into [-1, 1] standardise")
        }
    }
}

/// Mean and (population) standard deviation of the targets as [`normalize_targets`] uses
/// them (after clipping below the quantile; non-finite values left out): the affine map that
/// takes a predicted target back to the objective's units. Stored as decimal strings (in
/// saved predictors): Rust writes and reads those exactly (JSON numbers may come back one bit
/// off), so a loaded predictor predicts exactly what the saved one did.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "[String; 2]", try_from = "[String; 2]")]
pub struct TargetScale {
    /// Mean of the clipped values.
    pub mean: f64,
    /// Their standard deviation (1 for a constant).
    pub std: f64,
}

impl TargetScale {
    /// The scale of `values` clipped below `clip_quantile`.
    pub fn of(values: &[f64], clip_quantile: f64) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.is_empty() {
            return Self {
                mean: 0.0,
                std: 1.0,
            };
        }
        let mut sorted = finite.clone();
        sorted.sort_by(f64::total_cmp);
        let q = clip_quantile.clamp(0.0, 1.0);
        let floor = sorted[((sorted.len() - 1) as f64 * q).floor() as usize];
        let clipped: Vec<f64> = finite.iter().map(|&v| v.max(floor)).collect();
        let n = clipped.len() as f64;
        let mean = clipped.iter().sum::<f64>() / n;
        let var = clipped.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let std = var.sqrt();
        Self {
            mean,
            std: if std > 1e-12 { std } else { 1.0 },
        }
    }

    /// A predicted target in the objective's units: `mean + target * std`.
    pub fn apply(self, target: f32) -> f64 {
        self.mean + f64::from(target) * self.std
    }
}

impl From<TargetScale> for [String; 2] {
    fn from(s: TargetScale) -> Self {
        [s.mean.to_string(), s.std.to_string()]
    }
}

impl TryFrom<[String; 2]> for TargetScale {
    type Error = std::num::ParseFloatError;
    fn try_from([mean, std]: [String; 2]) -> Result<Self, Self::Error> {
        Ok(Self {
            mean: mean.parse()?,
            std: std.parse()?,
        })
    }
}

/// The inverse of [`normalize_targets`] for values in its ordinary range ([`TargetScale`]),
/// so that a predictor's value can be shown beside the objective it predicts.
pub fn target_scale(values: &[f64], clip_quantile: f64) -> impl Fn(f32) -> f64 + use<> {
    let scale = TargetScale::of(values, clip_quantile);
    move |t: f32| scale.apply(t)
}

/// z-scores of `values / scale` (population standard deviation; a constant gives zeros), or
/// `None` if an intermediate overflowed.
fn standardize(values: &[f64], scale: f64) -> Option<Vec<f32>> {
    let n = values.len() as f64;
    let scaled = |v: f64| if scale == 1.0 { v } else { v / scale };
    let mean = values.iter().map(|&v| scaled(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (scaled(v) - mean) * (scaled(v) - mean))
        .sum::<f64>()
        / n;
    let std = var.sqrt();
    if !(mean.is_finite() && std.is_finite()) {
        return None;
    }
    let std = if std > 1e-12 { std } else { 1.0 };
    let t: Vec<f32> = values
        .iter()
        .map(|&v| ((scaled(v) - mean) / std) as f32)
        .collect();
    t.iter().all(|x| x.is_finite()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_scale_inverts_the_normalisation() {
        let v = [10.0, 90.0, 91.0, 92.0, 93.0];
        let t = normalize_targets(&v, 0.25);
        let back = target_scale(&v, 0.25);
        // The clipped values come back: 10 was raised to the quantile, 90.
        for (x, want) in t.iter().zip([90.0, 90.0, 91.0, 92.0, 93.0]) {
            assert!((back(*x) - want).abs() < 1e-4, "{} vs {want}", back(*x));
        }
    }

    #[test]
    fn standardises_and_clips_the_low_tail() {
        let t = normalize_targets(&[1.0, 2.0, 3.0], 0.0);
        let s = 1.5f64.sqrt() / 1.5f64.sqrt() * (2.0f64 / 3.0).sqrt();
        assert!((t[0] as f64 + 1.0 / s).abs() < 1e-6);
        assert!(t[1].abs() < 1e-6);
        // With the low tail clipped, an outlier no longer sets the scale.
        let v = [10.0, 90.0, 91.0, 92.0, 93.0];
        let t = normalize_targets(&v, 0.25);
        assert_eq!(t[0], t[1]);
        assert!(t[4] - t[3] > 0.5, "{t:?}");
        let t0 = normalize_targets(&v, 0.0);
        assert!(t0[4] - t0[3] < 0.05, "{t0:?}");
        assert_eq!(normalize_targets(&[5.0, 5.0], 0.1), vec![0.0, 0.0]);
    }

    /// The plain formula, as it was before overflow was handled: ordinary objectives must give
    /// exactly its targets (committed benchmark results depend on them).
    fn plain(values: &[f64], q: f64) -> Vec<f32> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let floor = sorted[((sorted.len() - 1) as f64 * q).floor() as usize];
        let c: Vec<f64> = values.iter().map(|&v| v.max(floor)).collect();
        let n = c.len() as f64;
        let mean = c.iter().sum::<f64>() / n;
        let std = (c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let std = if std > 1e-12 { std } else { 1.0 };
        c.iter().map(|v| ((v - mean) / std) as f32).collect()
    }

    #[test]
    fn huge_finite_objectives_give_finite_targets_in_the_same_order() {
        let v = [5e307, 1e308, 1.0, -1e308, 3e307];
        for q in [0.0, 0.5] {
            let t = normalize_targets(&v, q);
            assert!(t.iter().all(|x| x.is_finite()), "{t:?}");
            // Same z-scores as the values scaled down by 1e308 (exactly representable order).
            let small: Vec<f64> = v.iter().map(|x| x / 1e308).collect();
            let ts = plain(&small, q);
            for (a, b) in t.iter().zip(&ts) {
                assert!((a - b).abs() < 1e-5, "{t:?} vs {ts:?}");
            }
        }
        let t = normalize_targets(&[f64::NAN, f64::INFINITY, 2.0, f64::NEG_INFINITY], 0.0);
        assert!(t.iter().all(|x| x.is_finite()), "{t:?}");
        assert!(t[1] > t[2] && t[2] > t[0], "{t:?}");
    }

    #[test]
    fn ordinary_objectives_give_the_plain_formulas_targets_bit_for_bit() {
        let mut rng = crate::rng::rng_for(1, "targets");
        use rand::Rng as _;
        for n in [1, 2, 7, 100, 1000] {
            let v: Vec<f64> = (0..n).map(|_| rng.gen_range(5.0..95.0)).collect();
            for q in [0.0, 0.5] {
                let (a, b) = (normalize_targets(&v, q), plain(&v, q));
                let bits = |t: &[f32]| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b));
            }
        }
    }
}
