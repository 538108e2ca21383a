//! Benchmark tables: published measurements that answer an architecture's objective and
//! reported metric at once ([`TabularBenchmark`], NAS-Bench-201, NAS-Bench-101, CSV tables)
//! by table lookup. Each is an [`Evaluator`](crate::evaluator::Evaluator) that also knows the
//! [`Reference`](crate::evaluator::Reference) of every reported value, for rank and regret.

pub mod nb101;
pub mod nb201;
pub mod problem;
pub mod table;

pub use table::{FidelityColumn, Table, TableError, TabularBenchmark};
