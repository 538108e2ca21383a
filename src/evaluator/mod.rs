//! Evaluators that run real training: the user's own command (locally, or as Ray jobs).

pub mod command;
