//! Small statistics shared by the comparisons, the reports and the predictors' checks.

/// Mean and sample standard deviation (0 for fewer than two values; NaN mean for none).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Kendall's tau-b rank correlation of two equally long score lists (ties counted as in
/// scipy's `kendalltau`): how well one ranking (a predictor's, a supernet's) agrees with another.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let (mut conc, mut disc, mut ties_a, mut ties_b) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let (da, db) = (a[i] - a[j], b[i] - b[j]);
            if da == 0.0 && db == 0.0 {
                continue;
            } else if da == 0.0 {
                ties_a += 1.0;
            } else if db == 0.0 {
                ties_b += 1.0;
            } else if (da > 0.0) == (db > 0.0) {
                conc += 1.0;
            } else {
                disc += 1.0;
            }
        }
    }
    (conc - disc) / ((conc + disc + ties_a) * (conc + disc + ties_b)).sqrt()
}

/// Kendall's tau-b of paired values, `None` where it is undefined (under 2 pairs, or one side
/// constant).
pub fn kendall_tau_of_pairs(pairs: &[(f64, f64)]) -> Option<f64> {
    let (a, b): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
    let t = kendall_tau(&a, &b);
    t.is_finite().then_some(t)
}

/// Expected improvement over `best` of a normal with mean `m` and deviation `s`.
pub fn expected_improvement(m: f64, s: f64, best: f64) -> f64 {
    if s <= 1e-12 {
        return (m - best).max(0.0);
    }
    let z = (m - best) / s;
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf = 0.5 * erfc(-z / std::f64::consts::SQRT_2);
    (m - best) * cdf + s * pdf
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error
/// below 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Pearson's correlation of `a` and `b` (0 when either is constant or they are shorter
/// than 2).
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let (ma, mb) = (
        a[..n].iter().sum::<f64>() / n as f64,
        b[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (a[i] - ma, b[i] - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_known_values() {
        let (m, s) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((s - 2.138089935299395).abs() < 1e-12);
    }

    #[test]
    fn kendall_tau_matches_known_values() {
        // One swapped pair of six: (5 - 1) / 6.
        let t = kendall_tau(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]);
        assert!((t - 4.0 / 6.0).abs() < 1e-12, "{t}");
        // A tie in b: tau-b = 2 / sqrt(2 * 3) (scipy.stats.kendalltau gives 0.8164965809).
        let t = kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 1.0, 2.0]);
        assert!((t - 0.816_496_580_9).abs() < 1e-9, "{t}");
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
    }

    #[test]
    fn expected_improvement_and_correlation_match_known_values() {
        // At the best with unit spread: the standard normal density at 0.
        let ei = expected_improvement(0.0, 1.0, 0.0);
        assert!((ei - 0.398_942_280_4).abs() < 1e-7, "{ei}");
        // One spread above the best: 1 * Phi(1) + phi(1) = 0.8413447 + 0.2419707.
        let ei = expected_improvement(1.0, 1.0, 0.0);
        assert!((ei - 1.083_315_5).abs() < 1e-6, "{ei}");
        assert_eq!(expected_improvement(2.0, 0.0, 1.0), 1.0);
        assert!((erfc(0.5) - 0.479_500_122).abs() < 1e-7);
        let r = correlation(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 5.0, 9.0]);
        // numpy.corrcoef gives 0.9647638212377322.
        assert!((r - 0.964_763_821_237_732_2).abs() < 1e-12, "{r}");
        assert_eq!(correlation(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn kendall_tau_of_known_rankings() {
        assert_eq!(
            kendall_tau_of_pairs(&[(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]),
            Some(1.0)
        );
        assert_eq!(
            kendall_tau_of_pairs(&[(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]),
            Some(-1.0)
        );
        let t = kendall_tau_of_pairs(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0)]).unwrap();
        assert!((t - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(kendall_tau_of_pairs(&[(1.0, 1.0)]), None);
        assert_eq!(kendall_tau_of_pairs(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }
}
