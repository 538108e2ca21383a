//! seminas: semi-supervised neural architecture search (SemiNAS, Luo et al., NeurIPS 2020).
//!
//! The library is organised by concept:
//! - [`space`]: search spaces (NAS-Bench-201, user-defined categorical spaces, ...), their
//!   sampling, validation, canonical keys, mutation and token encodings for the controller;
//! - [`benchmark`]: benchmark tables (NAS-Bench-201, NAS-Bench-101, CSV tables);
//! - [`evaluator`]: the [`Evaluator`](evaluator::Evaluator) trait (what turns an architecture
//!   into an objective the search may see plus reported metrics it must not see), and
//!   evaluation by the user's training command, here or as jobs on a Ray cluster;
//! - [`study`]: the front door: a search driven by its user (ask/tell) or run with an
//!   evaluator, optionally stored and resumable; its run engine does the query accounting;
//! - [`search`]: searchers in ask/tell form and the algorithms' settings;
//! - [`predictor`]: predictors behind one trait (the SemiNAS predictor, the MLP ensemble, the
//!   GP) and the semi-supervised step;
//! - [`controller`]: the encoder-predictor-decoder network of SemiNAS/NAO;
//! - [`store`]: the run store (SQLite) that makes a run resumable;
//! - [`report`]: summaries of finished searches (human text and JSON), stored runs as text and
//!   files, plots;
//! - [`dashboard`]: `seminas dashboard`, a local read-only web app over run directories;
//! - [`compare`]: comparisons of algorithms over seeds (`seminas bench`);
//! - [`rng`]: the seeded random streams every random choice flows from;
//! - [`stats`]: mean and standard deviation, Kendall's tau;
//! - [`settings`]: range checks of user settings;
//! - [`time`]: the clock (Unix seconds) and times as text;
//! - `trainer` (cargo feature `trainer`): the built-in trainer: datasets, NB201/NB101 networks,
//!   training, `TrainEvaluator`.
//!
//! SemiNAS for 60 queries on the embedded NAS-Bench-201 table (CIFAR-10): the search sees the
//! validation accuracy, the test accuracy is reported.
//!
//! ```
//! use seminas::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
//! use seminas::search::Algo;
//! use seminas::space::Nb201Space;
//! use seminas::study::{Study, StudySettings};
//!
//! let table = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT)?;
//! let settings = StudySettings { algo: Algo::SemiNas, ..StudySettings::new(60, 0) };
//! let mut study = Study::new(Nb201Space::new(), settings);
//! study.optimize(&table, &mut |_| {})?;
//! let best = study.best().expect("some cell was evaluated");
//! let found = best.result.as_ref().expect("the best is a success");
//! println!("{}: valid {:.2}%, test {:?}%", best.key, found.objective, found.report);
//! assert!(found.objective > 89.0 && study.run().records.len() == 60);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

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
pub mod time;
#[cfg(feature = "trainer")]
pub mod trainer;
