//! The embedded NAS-Bench-201 CIFAR-10 table (all 15,625 cells; see data/NOTICE).
//!
//! Standard protocol: the search sees `cifar10_valid_valid_acc` (trained on half the training
//! set, validated on the other half); results report `cifar10_test_acc` (trained on the full
//! training set, tested on the test set). Costs are the recorded training times.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use super::{Table, TableError, TabularBenchmark};
use crate::space::Nb201Space;

/// Name of the objective column the search sees.
pub const NB201_OBJECTIVE: &str = "cifar10_valid_valid_acc";
/// Name of the reported column.
pub const NB201_REPORT: &str = "cifar10_test_acc";
/// Name of the cost column (seconds).
pub const NB201_COST: &str = "train_time_s";

static NB201_CSV_GZ: &[u8] = include_bytes!("../../data/nb201_cifar10.csv.gz");

/// The embedded table, decompressed and parsed once per process.
pub fn nb201_table() -> Arc<Table> {
    static TABLE: OnceLock<Arc<Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut text = String::new();
            flate2::read::GzDecoder::new(NB201_CSV_GZ)
                .read_to_string(&mut text)
                .expect("embedded table is valid gzip");
            let table = Table::read_with_text_column(
                "embedded nb201_cifar10.csv",
                text.as_bytes(),
                &Nb201Space::new(),
                "arch",
            )
            .expect("embedded table is valid");
            Arc::new(table)
        })
        .clone()
}

/// The NAS-Bench-201 CIFAR-10 benchmark with the given objective and report columns.
pub fn nb201_benchmark(objective: &str, report: &str) -> Result<TabularBenchmark, TableError> {
    TabularBenchmark::new(nb201_table(), objective, report, Some(NB201_COST))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::Evaluator;
    use crate::space::{Nb201Space, SearchSpace};

    #[test]
    fn embedded_table_has_every_cell_and_the_published_best() {
        let space = Nb201Space::new();
        let t = nb201_table();
        assert_eq!(t.len(), 15_625);
        for i in 0..15_625 {
            assert!(t.get(&space.format(&space.nth(i).unwrap())).is_some());
        }
        let b = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let idx = t.metric_index("index").unwrap();
        let obj = t.metric_index(NB201_OBJECTIVE).unwrap();
        let (best_key, best) = t
            .iter()
            .max_by(|a, b| a.1[obj].total_cmp(&b.1[obj]))
            .unwrap();
        assert_eq!(best[idx], 6111.0);
        assert!((best[obj] - 91.6067).abs() < 1e-9);
        let e = b.lookup(best_key).unwrap();
        assert!((e.report.unwrap() - 94.3733).abs() < 1e-9);
        let reference = Evaluator::<Nb201Space>::reference(&b).unwrap();
        assert_eq!(reference.optimum(), Some(94.3733));
        assert_eq!(reference.rank(94.3733), 1);
        assert_eq!(reference.len(), 15_625);
    }
}
