//! What a study is given besides its settings: the architectures enqueued and the warm-start
//! pairs. A stored study keeps each in its run store, so that reopening it needs no repeat.
//!
//! Stored inputs are applied again, in the order given, before the reopened study's first
//! ask, tell or new input. A caller that repeats them (as reopening needed before they were
//! stored) is not applied twice: a repeated input equal to the next stored one is skipped.

use serde::{Deserialize, Serialize};

use super::{Study, StudyError};
use crate::space::SearchSpace;
use crate::store::RunStore;

/// The run store checkpoint holding input `i` (JSON): one row per input, written once.
fn checkpoint_name(i: usize) -> String {
    format!("study.input.{i}")
}

/// One call that fed the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Input {
    /// An enqueued architecture (its text form).
    Enqueue(String),
    /// Warm-start pairs (architectures as text, objectives).
    WarmStart(Vec<(String, f64)>),
}

/// The inputs of a study.
#[derive(Debug, Default)]
pub(super) struct Inputs {
    /// Every input, in call order.
    given: Vec<Input>,
    /// How many of them came from the store (a reopened study).
    stored: usize,
    /// True once the stored inputs were applied.
    restored: bool,
    /// The next stored input a caller may repeat; `None` once a caller gave another one.
    repeat: Option<usize>,
}

impl Inputs {
    /// The inputs stored with `store` (none for a new run).
    pub fn read(store: &RunStore) -> Result<Self, StudyError> {
        let mut given = Vec::new();
        while let Some((_, bytes)) = store.latest_checkpoint(&checkpoint_name(given.len()))? {
            given.push(serde_json::from_slice(&bytes).map_err(|e| {
                StudyError::StoredInputs(format!(
                    "{}: stored input {} (the enqueued architectures and warm-start pairs) is \
                     not readable: {e}",
                    store.dir().display(),
                    given.len()
                ))
            })?);
        }
        Ok(Self {
            stored: given.len(),
            restored: given.is_empty(),
            repeat: Some(0),
            given,
        })
    }
}

impl<S: SearchSpace> Study<S> {
    /// Evaluates `arch` before anything the searcher proposes (in the order enqueued). A
    /// stored study keeps it: reopening the study enqueues it again (enqueueing it again by
    /// hand, in the same order, is not counted twice).
    pub fn enqueue(&mut self, arch: S::Arch) -> Result<(), StudyError> {
        self.space.validate(&arch)?;
        self.give(Input::Enqueue(self.space.format(&arch)))
    }

    /// Results known before the study (warm start): the searcher learns them, and they cost
    /// nothing when proposed. A stored study keeps them: reopening the study learns them
    /// again (the same pairs given again by hand, in the same order, are not learnt twice).
    pub fn warm_start(&mut self, pairs: &[(S::Arch, f64)]) -> Result<(), StudyError> {
        for (arch, objective) in pairs {
            self.space.validate(arch)?;
            if !objective.is_finite() {
                return Err(StudyError::NotFinite {
                    number: 0,
                    value: *objective,
                });
            }
        }
        let pairs = pairs.iter().map(|(a, o)| (self.space.format(a), *o));
        self.give(Input::WarmStart(pairs.collect()))
    }

    /// Applies `input` and keeps it (in the store too), unless it repeats the next stored one.
    fn give(&mut self, input: Input) -> Result<(), StudyError> {
        self.restore_inputs()?;
        let inputs = &mut self.inputs;
        match inputs.repeat {
            Some(i) if i < inputs.stored && inputs.given[i] == input => {
                inputs.repeat = Some(i + 1);
                return Ok(());
            }
            _ => inputs.repeat = None,
        }
        self.apply_input(&input)?;
        if let Some(store) = &self.store {
            let json = serde_json::to_vec(&input).expect("an input serialises");
            let told = self.ledger.run.records.len();
            store.add_checkpoint(told, &checkpoint_name(self.inputs.given.len()), &json)?;
        }
        self.inputs.given.push(input);
        Ok(())
    }

    /// Applies the inputs a reopened study's store holds (once).
    pub(super) fn restore_inputs(&mut self) -> Result<(), StudyError> {
        if self.inputs.restored {
            return Ok(());
        }
        self.inputs.restored = true;
        let stored = self.inputs.given[..self.inputs.stored].to_vec();
        stored.iter().try_for_each(|input| self.apply_input(input))
    }

    fn apply_input(&mut self, input: &Input) -> Result<(), StudyError> {
        match input {
            Input::Enqueue(text) => self.ledger.enqueue(self.space.parse(text)?),
            Input::WarmStart(pairs) => {
                for (text, objective) in pairs {
                    let arch = self.space.parse(text)?;
                    self.ledger
                        .warm_start(&self.space, self.searcher.as_mut(), &arch, *objective);
                }
            }
        }
        Ok(())
    }
}
