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
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q = clip_quantile.clamp(0.0, 1.0);
    let floor = sorted[((sorted.len() - 1) as f64 * q).floor() as usize];
    let clipped: Vec<f64> = values.iter().map(|&v| v.max(floor)).collect();
    let n = clipped.len() as f64;
    let mean = clipped.iter().sum::<f64>() / n;
    let std = (clipped.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    let std = if std > 1e-12 { std } else { 1.0 };
    clipped.iter().map(|v| ((v - mean) / std) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
