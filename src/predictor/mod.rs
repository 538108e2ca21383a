//! Predictors: models of the objective over a space's architectures, fitted on evaluated
//! pairs (and, for the semi-supervised ones, on unevaluated architectures too).
//!
//! - [`seminas`]: the SemiNAS predictor, the controller's encoder and MLP trained as a SemiNAS
//!   round trains them (what `seminas.Predictor` is in Python);
//! - [`mlp`]: an ensemble of small MLPs over one-hot tokens (SemiNAS-Ens's fast model);
//! - [`gp`]: a Gaussian process with an ARD Hamming kernel (SemiNAS-Ens's second model);
//! - [`round_model`]: either of those as the model a search holds and refits every round
//!   (with the ensemble's semi-supervised step);
//! - `controller_model`: the controller as the predictor a SemiNAS, NAO or SemiNAS-RE search
//!   holds and retrains every round (it also generates);
//! - [`semi_supervised`]: the pseudo-labelling step all the controller's users run, written
//!   once; [`targets`]: how objectives become regression targets.
//!
//! [`Surrogate`] is what they have in common: fit on pairs (and unlabelled architectures),
//! predict a mean and a spread. The searchers in [`crate::search`] hold these models.

pub(crate) mod controller_model;
pub mod gp;
pub mod mlp;
pub mod round_model;
pub mod semi_supervised;
pub mod seminas;
mod surrogate;
pub mod targets;
pub mod timed_round;

pub use self::seminas::{
    FitStats, Generated, Predictor, PredictorError, PredictorOverrides, PredictorSettings,
    Unlabelled, saved_space_name,
};
pub use semi_supervised::Trainings;
pub use surrogate::{GpSurrogate, MlpSurrogate, Prediction, Surrogate};

/// The controller size used unless the user sets one: the paper's 64 for long sequences (the
/// 27 tokens of NAS-Bench-101), 32 for short ones (the 6 edges of NAS-Bench-201), where it ranks
/// as well at about a third of the training time.
pub fn default_controller_hidden(encoding: &crate::space::TokenEncoding) -> usize {
    if encoding.len() >= 16 { 64 } else { 32 }
}
