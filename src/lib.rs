//! seminas: semi-supervised neural architecture search (SemiNAS, Luo et al., NeurIPS 2020).
//!
//! The library is organised by concept:
//! - [`space`]: search spaces (NAS-Bench-201, user-defined categorical spaces, ...), their
//!   sampling, validation, canonical keys, mutation and token encodings for the controller;
//! - [`benchmark`]: evaluators, the thing that turns an architecture into an objective the search
//!   may see plus reported metrics it must not see (tabular benchmarks first);
//! - [`evaluator`]: evaluation outside this process (jobs on a Ray cluster);
//! - [`search`]: searchers in ask/tell form and the driver that does the query accounting;
//! - [`controller`]: the encoder-predictor-decoder network of SemiNAS/NAO;
//! - [`predictor`]: the SemiNAS predictor on its own (fit, predict, generate, save/load);
//! - [`study`]: a search driven by its user (ask/tell), optionally stored and resumable;
//! - [`report`]: summaries of finished searches (human text and JSON);
//! - `trainer` (cargo feature `trainer`): the built-in trainer: datasets, NB201/NB101 networks,
//!   training, `TrainEvaluator`.

pub mod benchmark;
pub mod compare;
pub mod controller;
pub mod dashboard;
pub mod evaluator;
pub mod predictor;
pub mod report;
pub mod rng;
pub mod search;
pub mod settings;
pub mod space;
pub mod stats;
pub mod store;
pub mod study;
#[cfg(feature = "trainer")]
pub mod trainer;
