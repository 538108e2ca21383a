//! The reported values of every architecture an evaluator knows (a benchmark table), for
//! the rank and regret of a search's best.

/// The reported values of every architecture a benchmark knows, for rank and regret.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Reported values, sorted from best (largest) to worst.
    sorted_desc: Vec<f64>,
}

impl Reference {
    /// Builds the reference from all reported values (NaNs are not allowed by table loaders).
    pub fn new(mut values: Vec<f64>) -> Self {
        values.sort_by(|a, b| b.total_cmp(a));
        Self {
            sorted_desc: values,
        }
    }
    /// Number of architectures.
    pub fn len(&self) -> usize {
        self.sorted_desc.len()
    }
    /// True when the benchmark knows no architecture.
    pub fn is_empty(&self) -> bool {
        self.sorted_desc.is_empty()
    }
    /// The best reported value.
    pub fn optimum(&self) -> Option<f64> {
        self.sorted_desc.first().copied()
    }
    /// Rank of a reported value among all (1 = best; ties share the better rank).
    pub fn rank(&self, report: f64) -> usize {
        1 + self.sorted_desc.partition_point(|&v| v > report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_counts_strictly_better_values() {
        let r = Reference::new(vec![1.0, 3.0, 2.0, 3.0]);
        assert_eq!(r.optimum(), Some(3.0));
        assert_eq!(r.rank(3.0), 1);
        assert_eq!(r.rank(2.0), 3);
        assert_eq!(r.rank(1.0), 4);
        assert_eq!(r.rank(0.5), 5);
    }
}
