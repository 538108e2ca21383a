//! Evaluators that train architectures for real: the user's own command, run here
//! ([`command`]) or as jobs on a Ray cluster ([`ray`], [`ray_jobs`]).

pub mod command;
pub mod ray;
pub mod ray_jobs;
