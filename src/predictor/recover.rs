//! A controller that cannot be built or trained must not stop a search: the searchers call
//! these helpers, which log the error and let that round fall back to random sampling or
//! plain mutation.

use crate::controller::{Controller, ControllerConfig, ControllerError};
use crate::rng::Rng;
use crate::space::TokenEncoding;

/// The searcher's controller, built on first use from `config` with the space's vocabulary and
/// length; `None` (logged, counted in `failures`) when the configuration is refused.
pub(crate) fn controller<'a>(
    slot: &'a mut Option<Controller>,
    config: &ControllerConfig,
    encoding: &TokenEncoding,
    rng: &mut Rng,
    failures: &mut usize,
) -> Option<&'a mut Controller> {
    if slot.is_none() {
        let mut c = config.clone();
        c.vocab_size = encoding.vocab_size;
        c.length = encoding.len();
        match Controller::try_new(c, encoding, rng) {
            Ok(controller) => *slot = Some(controller),
            Err(e) => {
                warn(&e, failures);
                return None;
            }
        }
    }
    slot.as_mut()
}

/// Trains `controller` on `(sequences, targets, epochs)` and returns the epochs it ran (fewer
/// when early stopping ended it); `None` (logged, counted in `failures`) when the controller
/// refuses the data.
pub(crate) fn train(
    controller: &mut Controller,
    (seqs, targets, epochs): (&[Vec<u32>], &[f32], usize),
    rng: &mut Rng,
    failures: &mut usize,
) -> Option<usize> {
    match controller.try_train(seqs, targets, epochs, rng) {
        Ok(stats) => Some(stats.epochs),
        Err(e) => {
            warn(&e, failures);
            None
        }
    }
}

fn warn(e: &ControllerError, failures: &mut usize) {
    *failures += 1;
    eprintln!("warning: {e}; this round falls back to random sampling / plain mutation");
}
