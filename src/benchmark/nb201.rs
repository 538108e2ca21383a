//! The embedded NAS-Bench-201 tables (all 15,625 cells on each of its three data sets; see
//! data/NOTICE).
//!
//! Standard protocol: CIFAR-10's search sees `cifar10_valid_valid_acc` (trained on half the
//! training set, validated on the other half) and results report `cifar10_test_acc` (trained on
//! the full training set, tested on the test set); its costs are the recorded training times.
//! CIFAR-100 and ImageNet16-120 are trained on their full training sets: the search sees the
//! "x-valid" half of the evaluation set and results report the "x-test" half. Those two tables
//! hold no training times.

use std::io::Read;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use super::{Table, TableError, TabularBenchmark};
use crate::space::Nb201Space;

/// Name of the CIFAR-10 objective column the search sees.
pub const NB201_OBJECTIVE: &str = "cifar10_valid_valid_acc";
/// Name of the CIFAR-10 reported column.
pub const NB201_REPORT: &str = "cifar10_test_acc";
/// Name of the cost column (seconds; CIFAR-10 only).
pub const NB201_COST: &str = "train_time_s";

/// One of NAS-Bench-201's three data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Nb201Dataset {
    /// CIFAR-10 (the default).
    #[default]
    Cifar10,
    /// CIFAR-100.
    Cifar100,
    /// ImageNet16-120 (ImageNet down-sampled to 16x16, 120 classes).
    ImageNet16_120,
}

impl Nb201Dataset {
    /// Every data set, in the order of the benchmark's paper.
    pub const ALL: [Nb201Dataset; 3] = [
        Nb201Dataset::Cifar10,
        Nb201Dataset::Cifar100,
        Nb201Dataset::ImageNet16_120,
    ];

    /// The name users give (`cifar10`, `cifar100`, `imagenet16-120`).
    pub fn name(self) -> &'static str {
        match self {
            Nb201Dataset::Cifar10 => "cifar10",
            Nb201Dataset::Cifar100 => "cifar100",
            Nb201Dataset::ImageNet16_120 => "imagenet16-120",
        }
    }

    /// The column the search sees.
    pub fn objective(self) -> &'static str {
        match self {
            Nb201Dataset::Cifar10 => NB201_OBJECTIVE,
            Nb201Dataset::Cifar100 => "cifar100_valid_acc",
            Nb201Dataset::ImageNet16_120 => "imagenet16_120_valid_acc",
        }
    }

    /// The column results report.
    pub fn report(self) -> &'static str {
        match self {
            Nb201Dataset::Cifar10 => NB201_REPORT,
            Nb201Dataset::Cifar100 => "cifar100_test_acc",
            Nb201Dataset::ImageNet16_120 => "imagenet16_120_test_acc",
        }
    }

    /// The column of training seconds, where the table has one.
    pub fn cost(self) -> Option<&'static str> {
        match self {
            Nb201Dataset::Cifar10 => Some(NB201_COST),
            _ => None,
        }
    }

    fn gzipped(self) -> &'static [u8] {
        static CIFAR10: &[u8] = include_bytes!("../../data/nb201_cifar10.csv.gz");
        static CIFAR100: &[u8] = include_bytes!("../../data/nb201_cifar100.csv.gz");
        static IMAGENET16_120: &[u8] = include_bytes!("../../data/nb201_imagenet16_120.csv.gz");
        match self {
            Nb201Dataset::Cifar10 => CIFAR10,
            Nb201Dataset::Cifar100 => CIFAR100,
            Nb201Dataset::ImageNet16_120 => IMAGENET16_120,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Nb201Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A data-set name that is not one of NAS-Bench-201's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown NAS-Bench-201 data set {0}: choose cifar10, cifar100 or imagenet16-120")]
pub struct UnknownDataset(pub String);

impl FromStr for Nb201Dataset {
    type Err = UnknownDataset;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Nb201Dataset::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| UnknownDataset(crate::settings::quoted(name)))
    }
}

/// The embedded CIFAR-10 table, decompressed and parsed once per process.
pub fn nb201_table() -> Arc<Table> {
    nb201_dataset_table(Nb201Dataset::Cifar10)
}

/// The embedded table of `dataset`, decompressed and parsed once per process.
pub fn nb201_dataset_table(dataset: Nb201Dataset) -> Arc<Table> {
    static TABLES: [OnceLock<Arc<Table>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    TABLES[dataset.index()]
        .get_or_init(|| {
            let mut text = String::new();
            flate2::read::GzDecoder::new(dataset.gzipped())
                .read_to_string(&mut text)
                .expect("embedded table is valid gzip");
            let name = format!("embedded nb201_{}.csv", dataset.name().replace('-', "_"));
            let table =
                Table::read_with_text_column(&name, text.as_bytes(), &Nb201Space::new(), "arch")
                    .expect("embedded table is valid");
            Arc::new(table)
        })
        .clone()
}

/// The NAS-Bench-201 CIFAR-10 benchmark with the given objective and report columns.
pub fn nb201_benchmark(objective: &str, report: &str) -> Result<TabularBenchmark, TableError> {
    nb201_dataset_benchmark(Nb201Dataset::Cifar10, objective, report)
}

/// The NAS-Bench-201 benchmark of `dataset` with the given objective and report columns
/// (its own columns: [`Nb201Dataset::objective`], [`Nb201Dataset::report`]).
pub fn nb201_dataset_benchmark(
    dataset: Nb201Dataset,
    objective: &str,
    report: &str,
) -> Result<TabularBenchmark, TableError> {
    TabularBenchmark::new(
        nb201_dataset_table(dataset),
        objective,
        report,
        dataset.cost(),
    )
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

    /// The optima the data README and the benchmark's paper give: CIFAR-100 index 9930 (valid
    /// 73.4933, test 73.5133); ImageNet16-120 best by valid index 10676 (46.7333, test 46.2),
    /// best test index 857 (47.3111).
    #[test]
    fn the_other_data_sets_have_every_cell_and_their_published_optima() {
        let space = Nb201Space::new();
        for (dataset, by_valid, valid, test, best_test) in [
            (Nb201Dataset::Cifar100, 9930.0, 73.4933, 73.5133, 73.5133),
            (
                Nb201Dataset::ImageNet16_120,
                10676.0,
                46.7333,
                46.2,
                47.3111,
            ),
        ] {
            let t = nb201_dataset_table(dataset);
            assert_eq!(t.len(), 15_625, "{dataset}");
            for i in [0, 1, 7_812, 15_624] {
                assert!(t.get(&space.format(&space.nth(i).unwrap())).is_some());
            }
            let b =
                nb201_dataset_benchmark(dataset, dataset.objective(), dataset.report()).unwrap();
            let idx = t.metric_index("index").unwrap();
            let obj = t.metric_index(dataset.objective()).unwrap();
            let (key, best) = t
                .iter()
                .max_by(|a, b| a.1[obj].total_cmp(&b.1[obj]))
                .unwrap();
            assert_eq!(best[idx], by_valid, "{dataset}");
            assert!((best[obj] - valid).abs() < 1e-9, "{dataset}");
            let e = b.lookup(key).unwrap();
            assert!((e.report.unwrap() - test).abs() < 1e-9, "{dataset}");
            assert_eq!(e.cost_seconds, 0.0, "no training times in this table");
            let reference = Evaluator::<Nb201Space>::reference(&b).unwrap();
            assert_eq!(reference.optimum(), Some(best_test), "{dataset}");
        }
    }

    #[test]
    fn data_set_names_parse_and_unknown_ones_are_refused() {
        for d in Nb201Dataset::ALL {
            assert_eq!(d.name().parse::<Nb201Dataset>().unwrap(), d);
        }
        let err = "imagenet".parse::<Nb201Dataset>().unwrap_err().to_string();
        assert!(err.contains("imagenet16-120"), "{err}");
    }
}
