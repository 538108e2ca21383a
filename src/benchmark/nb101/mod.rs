//! NAS-Bench-101: the official dataset file ([`Nb101Dataset`], read and written by hand: TFRecord
//! framing, JSON payload, base64, ModelMetrics protobuf), the benchmark over it with the
//! official query semantics ([`Nb101Benchmark`]), a synthetic full-size file for load tests
//! ([`synth`]) and the embedded `nb101-20k` table ([`embedded`]).

pub mod dataset;
pub mod embedded;
pub mod record;
pub mod synth;
pub mod tfrecord;

pub use dataset::{
    Nb101Benchmark, Nb101Dataset, Nb101Model, QueryMode, QueryResult, Run, load_stats,
};
pub use embedded::{
    NB101_20K_OBJECTIVE, nb101_20k_benchmark, nb101_20k_cells, nb101_20k_space, nb101_20k_table,
};
pub use record::{EvaluationData, ModelMetrics, Nb101Record};

/// Errors reading or querying NAS-Bench-101 data. Format errors name the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum Nb101Error {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is malformed at a given byte.
    #[error("{file}: byte {offset} (record {record}): {message}")]
    Format {
        /// The file.
        file: String,
        /// Byte offset of the problem in the file.
        offset: u64,
        /// 1-based number of the record concerned.
        record: u64,
        /// What is wrong.
        message: String,
    },
    /// A query outside the dataset's domain (invalid cell, epoch budget not in the file).
    #[error("{0}")]
    OutOfDomain(String),
}

#[cfg(test)]
mod tests;
