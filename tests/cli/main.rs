//! End-to-end tests of the `seminas` binary, one module per command or concern, sharing
//! [`support`] (temporary folders, runners that show what failed, the kill-and-resume loop).
//! The trainer's modules need `--features trainer`; `ray` is ignored unless a Ray head runs
//! (.ci/ray-test.sh).

mod support;

mod bench;
mod docs;
mod edges;
mod evaluator;
mod flags;
#[cfg(feature = "trainer")]
mod imagefolder;
mod mobile;
mod nb101;
mod ray;
mod reliability;
mod search;
mod small_budget;
mod steps;
mod sweep;
mod watch;
