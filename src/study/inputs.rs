//! What a stored study was given besides its settings: the architectures enqueued and the
//! warm-start pairs, kept in its run store so that reopening the study needs no repeat.
//!
//! They are applied again, in the order given, before the reopened study's first ask or new
//! input. A caller that repeats them (as reopening needed before they were stored) is not
//! applied twice: a repeated input equal to the next restored one is skipped.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::StudyError;
use crate::store::RunStore;

/// Name of the run store checkpoint holding the inputs (JSON).
const INPUTS: &str = "study.inputs";

/// One call that fed the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Input {
    /// An enqueued architecture (its text form).
    Enqueue(String),
    /// Warm-start pairs (architectures as text, objectives).
    WarmStart(Vec<(String, f64)>),
}

/// The inputs of a study, as given and as restored.
#[derive(Debug, Default)]
pub(super) struct Inputs {
    /// Every input, in call order: what is stored.
    given: Vec<Input>,
    /// Read from the store, not yet applied.
    to_restore: Option<Vec<Input>>,
    /// Restored inputs a caller may give again, in order (skipped then).
    repeatable: VecDeque<Input>,
}

impl Inputs {
    /// The inputs stored with `store` (none for a new run).
    pub fn read(store: &RunStore) -> Result<Self, StudyError> {
        let Some((_, bytes)) = store.latest_checkpoint(INPUTS)? else {
            return Ok(Self::default());
        };
        let given: Vec<Input> = serde_json::from_slice(&bytes).map_err(|e| {
            StudyError::StoredInputs(format!(
                "{}: the stored enqueued architectures and warm-start pairs ({INPUTS}) are not \
                 readable: {e}",
                store.dir().display()
            ))
        })?;
        Ok(Self {
            to_restore: Some(given.clone()),
            repeatable: given.iter().cloned().collect(),
            given,
        })
    }

    /// The stored inputs to apply now (once).
    pub fn take_restore(&mut self) -> Vec<Input> {
        self.to_restore.take().unwrap_or_default()
    }

    /// True when `input` repeats the next restored input (it is then used up); any other
    /// input ends the repeats.
    pub fn is_repeat(&mut self, input: &Input) -> bool {
        if self.repeatable.front() == Some(input) {
            self.repeatable.pop_front();
            return true;
        }
        self.repeatable.clear();
        false
    }

    /// Adds `input` and saves them all in `store`, if any (`told`: queries told so far).
    pub fn record(
        &mut self,
        input: Input,
        store: Option<&RunStore>,
        told: usize,
    ) -> Result<(), StudyError> {
        self.given.push(input);
        if let Some(store) = store {
            let json = serde_json::to_vec(&self.given).expect("inputs serialise");
            store.add_checkpoint(told, INPUTS, &json)?;
        }
        Ok(())
    }
}
