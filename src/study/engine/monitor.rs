//! The step monitor of one evaluation: checks what the evaluator reports, applies the
//! proposal's stop rule, and turns the evaluator's outcome into the recorded one.

use std::sync::{Arc, Mutex, mpsc};

use crate::evaluator::{Decision, StepMonitor, StepResult, StopRule};
use crate::evaluator::{Evaluation, Outcome};

/// Most notes kept about one evaluation's bad step reports (the rest are counted).
const MAX_NOTES: usize = 5;

/// What worker threads tell the driver's thread.
pub(crate) enum Event {
    /// A step reported by a running evaluation, to be recorded as it comes.
    Step {
        index: usize,
        step: StepResult,
        decision: Decision,
    },
    /// An evaluation finished.
    Done(usize, Outcome),
}

/// What an evaluation reported so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepLog {
    pub(crate) steps: Vec<StepResult>,
    /// The step at which the rule stopped it.
    pub(crate) stopped_at: Option<u64>,
    notes: Vec<String>,
    more_notes: usize,
}

impl StepLog {
    pub(crate) fn note(&mut self, text: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(text);
        } else {
            self.more_notes += 1;
        }
    }

    /// Takes one report: checks it, applies `rule` (or the decision `replayed` from a killed
    /// run for that step) and returns the decision with the step kept, if it was kept.
    pub(crate) fn report(
        &mut self,
        step: u64,
        objective: f64,
        cost_seconds: f64,
        rule: Option<&StopRule>,
        replayed: &[(StepResult, Decision)],
        max_step: Option<u64>,
    ) -> (Decision, Option<StepResult>) {
        if self.stopped_at.is_some() {
            return (Decision::Stop, None);
        }
        if !objective.is_finite() {
            self.note(format!(
                "step {step}: the objective {objective} is not a finite number (ignored)"
            ));
            return (Decision::Continue, None);
        }
        if let Some(last) = self.steps.last()
            && step <= last.step
        {
            self.note(format!(
                "step {step} came after step {} (steps must increase; ignored)",
                last.step
            ));
            return (Decision::Continue, None);
        }
        if let Some(max) = max_step
            && step > max
            && self.steps.last().is_none_or(|l| l.step <= max)
        {
            self.note(format!(
                "step {step} is past the full training's step {max} (kept, never stopped at)"
            ));
        }
        let cost_seconds = if cost_seconds.is_finite() && cost_seconds >= 0.0 {
            cost_seconds
        } else {
            self.steps.last().map_or(0.0, |l| l.cost_seconds)
        };
        let result = StepResult {
            step,
            objective: objective + 0.0,
            cost_seconds,
        };
        self.steps.push(result);
        let past_max = max_step.is_some_and(|m| step >= m);
        let decision = match replayed.iter().find(|(s, _)| s.step == step) {
            Some((_, d)) => *d,
            None if past_max => Decision::Continue,
            None => rule.map_or(Decision::Continue, |r| r.decide(&self.steps)),
        };
        if decision == Decision::Stop {
            self.stopped_at = Some(step);
        }
        (decision, Some(result))
    }

    /// The evaluator's outcome as recorded: steps attached, and an evaluation stopped by the
    /// rule marked so, with its objective at the step it was stopped at (also when the
    /// evaluator failed because it was stopped: a killed command exits with an error).
    pub(crate) fn finish(mut self, outcome: Outcome, expected_steps: bool) -> Outcome {
        if expected_steps && self.steps.is_empty() && matches!(outcome, Outcome::Evaluated(_)) {
            self.note("reported no step, so it could not be stopped early".into());
        }
        let note = self.note_text();
        match (outcome, self.stopped_at) {
            (Outcome::Evaluated(mut e), stopped) => {
                if let Some(at) = stopped {
                    let s = self.steps.iter().find(|s| s.step == at).copied();
                    e.objective = s.map_or(e.objective, |s| s.objective);
                    e.report = None;
                    e.stopped_at = Some(at);
                    if e.cost_seconds == 0.0 {
                        e.cost_seconds = s.map_or(0.0, |s| s.cost_seconds);
                    }
                }
                if e.steps.is_empty() {
                    e.steps = self.steps;
                }
                e.note = merge_notes(e.note.take(), note);
                Outcome::Evaluated(e)
            }
            (Outcome::Failed(reason), Some(at)) => {
                let s = self
                    .steps
                    .iter()
                    .find(|s| s.step == at)
                    .copied()
                    .expect("a stop follows a kept step");
                let mut e = Evaluation::new(s.objective, None, s.cost_seconds);
                e.stopped_at = Some(at);
                e.steps = self.steps;
                e.note = merge_notes(Some(format!("after the stop at step {at}: {reason}")), note);
                Outcome::Evaluated(e)
            }
            (other, _) => other,
        }
    }

    fn note_text(&self) -> Option<String> {
        if self.notes.is_empty() {
            return None;
        }
        let mut t = self.notes.join("; ");
        if self.more_notes > 0 {
            t.push_str(&format!("; and {} more such report(s)", self.more_notes));
        }
        Some(t)
    }
}

fn merge_notes(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

/// The monitor the driver gives an evaluation: a [`StepLog`] behind a lock (evaluators report
/// from their own threads), and a channel to the driver's thread for evaluators whose steps
/// come while they train.
pub(crate) struct RunMonitor {
    pub(crate) index: usize,
    pub(crate) rule: Option<Arc<StopRule>>,
    pub(crate) replayed: Vec<(StepResult, Decision)>,
    pub(crate) max_step: Option<u64>,
    pub(crate) log: Mutex<StepLog>,
    pub(crate) events: Option<mpsc::Sender<Event>>,
}

impl RunMonitor {
    /// The log, once the evaluation has returned.
    pub(crate) fn into_log(self) -> StepLog {
        self.log.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl StepMonitor for RunMonitor {
    fn report(&self, step: u64, objective: f64, cost_seconds: f64) -> Decision {
        let (decision, kept) = {
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            log.report(
                step,
                objective,
                cost_seconds,
                self.rule.as_deref(),
                &self.replayed,
                self.max_step,
            )
        };
        if let (Some(step), Some(tx)) = (kept, &self.events) {
            // The driver has gone only when the run is ending; the step is in the log anyway.
            let _ = tx.send(Event::Step {
                index: self.index,
                step,
                decision,
            });
        }
        decision
    }

    fn note(&self, text: &str) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .note(text.to_string());
    }

    fn restart(&self) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if !log.steps.is_empty() {
            let n = log.steps.len();
            log.note(format!(
                "a failed attempt's {n} step(s) were discarded when it was tried again"
            ));
        }
        log.steps.clear();
        log.stopped_at = None;
    }
}

/// The outcome of a killed run's evaluation that had been stopped before the kill: not
/// trained again, its stored steps are its result.
pub(crate) fn replayed_stop(steps: &[(StepResult, Decision)]) -> Option<Outcome> {
    let at = steps.iter().position(|(_, d)| *d == Decision::Stop)?;
    let s = steps[at].0;
    let mut e = Evaluation::new(s.objective, None, s.cost_seconds);
    e.stopped_at = Some(s.step);
    e.steps = steps[..=at].iter().map(|(s, _)| *s).collect();
    Some(Outcome::Evaluated(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(t: &[(u64, f64)]) -> StopRule {
        let mut r = StopRule::never(1.0);
        r.thresholds = t.iter().copied().collect();
        r
    }

    #[test]
    fn bad_reports_are_noted_and_ignored_and_a_stop_sets_the_objective() {
        let r = rule(&[(2, 0.5)]);
        let mut log = StepLog::default();
        let rep = |log: &mut StepLog, s, v| log.report(s, v, s as f64, Some(&r), &[], Some(4));
        assert_eq!(rep(&mut log, 1, 0.3).0, Decision::Continue);
        assert_eq!(rep(&mut log, 1, 0.4).1, None, "a repeated step");
        assert_eq!(rep(&mut log, 0, 0.4).1, None, "a decreasing step");
        assert_eq!(rep(&mut log, 2, f64::NAN).1, None, "NaN");
        assert_eq!(rep(&mut log, 2, 0.45).0, Decision::Stop);
        assert_eq!(
            rep(&mut log, 3, 0.9).0,
            Decision::Stop,
            "stopped stays stopped"
        );
        let out = log.finish(Outcome::Failed("killed by SIGTERM".into()), true);
        let Outcome::Evaluated(e) = out else {
            panic!("a stopped evaluation is an evaluation: {out:?}")
        };
        assert_eq!((e.objective, e.stopped_at, e.report), (0.45, Some(2), None));
        assert_eq!(e.cost_seconds, 2.0);
        assert_eq!(e.steps.len(), 2);
        let note = e.note.unwrap();
        for part in ["step 1 came after step 1", "step 0 came", "NaN", "SIGTERM"] {
            assert!(note.contains(part), "{note}");
        }
    }

    #[test]
    fn steps_past_the_maximum_are_kept_not_stopped_and_replayed_decisions_win() {
        let r = rule(&[(5, 10.0), (2, 10.0)]);
        let mut log = StepLog::default();
        let replayed = [(
            StepResult {
                step: 2,
                objective: 0.0,
                cost_seconds: 0.0,
            },
            Decision::Continue,
        )];
        // Replayed: the killed run went on at step 2, whatever the new value.
        assert_eq!(
            log.report(2, 0.1, 1.0, Some(&r), &replayed, Some(4)).0,
            Decision::Continue
        );
        assert_eq!(
            log.report(5, 0.1, 1.0, Some(&r), &[], Some(4)).0,
            Decision::Continue
        );
        let Outcome::Evaluated(e) = log.finish(
            Outcome::Evaluated(Evaluation::new(0.2, Some(0.3), 3.0)),
            true,
        ) else {
            panic!()
        };
        assert!(e.is_complete());
        assert_eq!(e.steps.len(), 2);
        assert!(e.note.unwrap().contains("past the full training's step 4"));
        // No step at all, when steps were expected.
        let out =
            StepLog::default().finish(Outcome::Evaluated(Evaluation::new(1.0, None, 0.0)), true);
        let Outcome::Evaluated(e) = out else { panic!() };
        assert!(e.note.unwrap().contains("reported no step"));
    }
}
