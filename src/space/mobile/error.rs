//! What can be wrong with a mobile-space architecture or definition.

/// What is wrong with a mobile-space architecture or definition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MobileError {
    /// A block name or token that is not one of the seven operations.
    #[error(
        "unknown operation {} at block {position} (expected one of k3e3, k3e6, k5e3, k5e6, \
         k7e3, k7e6, zero, or the official ids 1..7)",
        crate::settings::quoted(op)
    )]
    UnknownOp {
        /// What was given.
        op: String,
        /// Block index (0-based).
        position: usize,
    },
    /// The wrong number of blocks.
    #[error("expected {expected} blocks (stages of {stages}), found {found}")]
    WrongLength {
        /// Blocks of the space.
        expected: usize,
        /// Blocks given.
        found: usize,
        /// Stage sizes, e.g. `4,4,4,4,4,1`.
        stages: String,
    },
    /// A stage written with the wrong number of blocks.
    #[error("stage {stage} has {expected} blocks, found {found}")]
    WrongStage {
        /// Stage number (1-based).
        stage: usize,
        /// Blocks of the stage.
        expected: usize,
        /// Blocks given.
        found: usize,
    },
    /// Zero as the first block of a stage, where the stride or width changes.
    #[error(
        "block {position} is the first of stage {stage} and cannot be zero (it changes the \
         resolution or width)"
    )]
    ZeroFirst {
        /// Stage number (1-based).
        stage: usize,
        /// Block index (0-based).
        position: usize,
    },
    /// Over the space's FLOPs limit.
    #[error("{mflops:.2} MFLOPs is over the limit of {limit} MFLOPs")]
    OverLimit {
        /// The architecture's multiply-adds, in millions.
        mflops: f64,
        /// The limit.
        limit: f64,
    },
    /// A FLOPs limit no architecture meets.
    #[error("no architecture fits in {limit} MFLOPs: the cheapest one costs {cheapest:.2} MFLOPs")]
    InfeasibleLimit {
        /// The limit asked for.
        limit: f64,
        /// The cheapest architecture's multiply-adds, in millions.
        cheapest: f64,
    },
    /// The fixed parts of the network are malformed.
    #[error("invalid mobile skeleton: {0}")]
    Skeleton(String),
    /// A JSON description that does not describe an architecture of the space.
    #[error("invalid architecture JSON: {0}")]
    Json(String),
}
