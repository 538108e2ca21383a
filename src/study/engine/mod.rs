//! The run engine: runs a searcher against an evaluator with one or many workers, records
//! every step in a [`Journal`] (the run store) and replays a stored run to resume it.
//!
//! Determinism with parallel workers: results are told to the searcher strictly in proposal
//! order, and the searcher is asked for its next proposal only at fixed points of that order
//! (while fewer than `workers` proposals are untold). Which evaluation finishes first changes
//! when work happens, never what is proposed, so a run with `--workers 2` gives the same
//! architectures and results every time, and a resumed run gives those of an uninterrupted one.
//! With one worker this is exactly the sequential ask, evaluate, tell loop.
//!
//! A stateful evaluator (see [`Evaluator::state_name`]) is driven by one worker; its state is
//! saved after every outcome and written with that outcome in one step of the journal, so a
//! stored run always holds the state that follows its newest outcome. [`restore_evaluator`]
//! puts it back before a stored run is resumed.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};

use super::budget::Budget;
use crate::evaluator::{Decision, Fidelities, Pruner, StepResult, StopRule};
use crate::evaluator::{EvalContext, Evaluator, EvaluatorState, Outcome, StateError};
use crate::search::Searcher;
use crate::search::run::{QueryRecord, SearchRun};
use crate::space::SearchSpace;

mod error;
mod ledger;
mod monitor;
mod restore;

use monitor::{Event, RunMonitor, StepLog};

pub use crate::store::journal::{Journal, JournalError, NoJournal, Replay};
pub use error::DriveError;
pub(crate) use ledger::{Ledger, TellError};
pub use restore::{Restored, restore_evaluator};

/// How the driver runs evaluations.
#[derive(Debug, Clone, Default)]
pub struct DriveOptions {
    /// Folder under which each evaluation gets its own folder (`<index>` zero-padded).
    pub workdirs: Option<PathBuf>,
    /// A stored run to replay first.
    pub replay: Option<Replay>,
    /// How trainings are stopped early.
    pub pruning: Pruning,
}

/// How a run stops trainings early (see [`crate::evaluator::fidelity`]).
#[derive(Debug, Clone, Default)]
pub struct Pruning {
    /// The steps the evaluator reports; without them nothing is stopped.
    pub fidelities: Option<Fidelities>,
    /// A pruner for every proposal (Optuna's way: the pruner decides, whatever the searcher).
    pub pruner: Option<Pruner>,
    /// Without a pruner: the searcher's own stop rules ([`Searcher::take_stop_rules`]), for
    /// the proposals it gives one; the searcher is told the fidelities.
    pub searcher_rules: bool,
    /// Spreads Hyperband's trials over its brackets.
    pub seed: u64,
}

impl Pruning {
    /// True when trainings may be stopped early.
    pub fn active(&self) -> bool {
        self.fidelities.is_some()
            && (self.searcher_rules || self.pruner.as_ref().is_some_and(|p| *p != Pruner::None))
    }
}

/// Runs `searcher` against `evaluator` until the budget is spent, the searcher is exhausted or
/// the search stalls, with `budget.workers` evaluations at a time. Every proposal and finished
/// evaluation goes to `journal`; `on_query` sees every paid query when it is told.
///
/// To resume a stored run with a stateful evaluator, restore the evaluator first with
/// [`restore_evaluator`].
pub fn drive<S, E>(
    space: &S,
    evaluator: &E,
    searcher: &mut dyn Searcher<S>,
    budget: Budget,
    options: DriveOptions,
    journal: &mut dyn Journal<S::Arch>,
    on_query: &mut dyn FnMut(&QueryRecord<S::Arch>),
) -> Result<SearchRun<S::Arch>, DriveError>
where
    S: SearchSpace,
    E: Evaluator<S> + ?Sized,
{
    let mut ledger = Ledger::new(budget, options);
    drive_ledger(
        &mut ledger,
        space,
        evaluator,
        searcher,
        budget.workers,
        journal,
        on_query,
        &|| None,
    )?;
    Ok(ledger.take_run())
}

/// [`drive`] on a ledger (also a [`crate::study::Study`]'s): evaluates its proposals with
/// `workers` at once until it is finished, or until `halt` (asked after every told query)
/// gives a reason to stop ([`DriveError::Halted`]; the evaluations still running are stopped).
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive_ledger<S, E>(
    ledger: &mut Ledger<S::Arch>,
    space: &S,
    evaluator: &E,
    searcher: &mut dyn Searcher<S>,
    workers: usize,
    journal: &mut dyn Journal<S::Arch>,
    on_query: &mut dyn FnMut(&QueryRecord<S::Arch>),
    halt: &dyn Fn() -> Option<String>,
) -> Result<(), DriveError>
where
    S: SearchSpace,
    E: Evaluator<S> + ?Sized,
{
    Budget {
        workers,
        ..ledger.budget
    }
    .validate()
    .map_err(DriveError::Setting)?;
    let workers = workers.max(1);
    let unavailable = || evaluator.unavailable();
    if let Some(name) = evaluator.state_name()
        && workers > 1
    {
        return Err(DriveError::StatefulParallel {
            name: name.to_string(),
            workers,
        });
    }
    // Evaluators whose steps come while they train run on a worker thread even alone, so that
    // this thread records each step as it comes.
    if workers == 1 && !evaluator.live_steps() {
        let mut inline = Inline {
            space,
            evaluator,
            done: VecDeque::new(),
            keep_state: journal.keeps_states(),
        };
        return run_ledger(
            ledger,
            space,
            searcher,
            &mut inline,
            journal,
            on_query,
            &Ends {
                unavailable: &unavailable,
                halt,
            },
        );
    }
    std::thread::scope(|scope| {
        let (job_tx, job_rx) = mpsc::channel::<Job<S::Arch>>();
        let (done_tx, done_rx) = mpsc::channel::<Event>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..workers {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                loop {
                    // The lock is held only while taking a job, not while evaluating it.
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let outcome = evaluate_caught(evaluator, space, &job, Some(&done_tx));
                    if done_tx.send(Event::Done(job.ctx.index, outcome)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut pool = Pool {
            jobs: Some(job_tx),
            done: done_rx,
        };
        let result = run_ledger(
            ledger,
            space,
            searcher,
            &mut pool,
            journal,
            on_query,
            &Ends {
                unavailable: &unavailable,
                halt,
            },
        );
        if matches!(result, Err(DriveError::Halted(_))) {
            evaluator.stop_running();
        }
        // Closing the job channel lets idle workers end; busy ones finish their evaluation.
        pool.jobs = None;
        result
    })
}

/// Evaluates a job, its steps going to a monitor with the job's stop rule (and, with
/// `events`, to the driver's thread as they come); an evaluator that panics gives a failed
/// evaluation, not a dead run.
fn evaluate_caught<S: SearchSpace, E: Evaluator<S> + ?Sized>(
    evaluator: &E,
    space: &S,
    job: &Job<S::Arch>,
    events: Option<&mpsc::Sender<Event>>,
) -> Outcome {
    let monitor = RunMonitor {
        index: job.ctx.index,
        rule: job.rule.clone(),
        replayed: job.replayed.clone(),
        max_step: job.max_step,
        log: Mutex::new(StepLog::default()),
        events: events.cloned(),
    };
    let run = std::panic::AssertUnwindSafe(|| {
        evaluator.evaluate_steps(space, &job.arch, &job.ctx, &monitor)
    });
    let outcome = std::panic::catch_unwind(run).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Outcome::Failed(format!("the evaluator panicked: {message}"))
    });
    monitor.into_log().finish(outcome, job.rule.is_some())
}

struct Job<A> {
    arch: A,
    ctx: EvalContext,
    /// The proposal's stop rule, when trainings may be stopped early.
    rule: Option<Arc<StopRule>>,
    /// Decisions a killed run made for this evaluation's steps.
    replayed: Vec<(StepResult, Decision)>,
    /// The full training's step, when known.
    max_step: Option<u64>,
}

/// Where evaluations go: evaluated on the spot, or sent to worker threads.
trait Dispatch<A> {
    fn submit(&mut self, job: Job<A>);
    /// The next finished evaluation or reported step (blocks).
    fn wait(&mut self) -> Event;
    /// A stateful evaluator's state now, to be stored with the outcome being recorded.
    fn state(&mut self) -> Option<Result<EvaluatorState, StateError>> {
        None
    }
}

struct Inline<'a, S, E: ?Sized> {
    space: &'a S,
    evaluator: &'a E,
    done: VecDeque<(usize, Outcome)>,
    keep_state: bool,
}

impl<S: SearchSpace, E: Evaluator<S> + ?Sized> Dispatch<S::Arch> for Inline<'_, S, E> {
    fn submit(&mut self, job: Job<S::Arch>) {
        let outcome = evaluate_caught(self.evaluator, self.space, &job, None);
        self.done.push_back((job.ctx.index, outcome));
    }
    fn wait(&mut self) -> Event {
        let (index, outcome) = self
            .done
            .pop_front()
            .expect("an inline evaluation finishes when it is submitted");
        Event::Done(index, outcome)
    }
    // With one worker nothing is evaluated between an evaluation and the recording of its
    // outcome (the driver asks for the next proposal only once the last one is told), so the
    // state now is the state after the outcome being recorded.
    fn state(&mut self) -> Option<Result<EvaluatorState, StateError>> {
        if !self.keep_state {
            return None;
        }
        let name = self.evaluator.state_name()?;
        Some(self.evaluator.save_state().map(|data| EvaluatorState {
            name: name.to_string(),
            data,
        }))
    }
}

struct Pool<A> {
    jobs: Option<mpsc::Sender<Job<A>>>,
    done: mpsc::Receiver<Event>,
}

impl<A> Dispatch<A> for Pool<A> {
    fn submit(&mut self, job: Job<A>) {
        // A send fails only when every worker has ended; `wait` then reports that.
        if let Some(tx) = &self.jobs {
            let _ = tx.send(job);
        }
    }
    fn wait(&mut self) -> Event {
        self.done.recv().unwrap_or(Event::Done(
            usize::MAX,
            Outcome::Failed("every worker thread ended".into()),
        ))
    }
}

/// Where the ledger records a run: the journal, and how an outcome is written (with a stateful
/// evaluator's state after it, when there is one).
pub(crate) trait Recorder<A> {
    /// The journal.
    fn journal(&mut self) -> &mut dyn Journal<A>;
    /// Writes an outcome.
    fn record(&mut self, index: usize, key: &str, outcome: &Outcome) -> Result<(), DriveError>;
}

/// A journal alone: outcomes are written without evaluator state.
pub(crate) struct JournalOnly<'a, A>(pub &'a mut dyn Journal<A>);

impl<A> Recorder<A> for JournalOnly<'_, A> {
    fn journal(&mut self) -> &mut dyn Journal<A> {
        self.0
    }
    fn record(&mut self, index: usize, key: &str, outcome: &Outcome) -> Result<(), DriveError> {
        self.0
            .finished(index, key, outcome)
            .map_err(DriveError::Journal)
    }
}

/// The driver's recorder: the journal plus the dispatch that knows the evaluator's state.
struct WithState<'a, 'b, A> {
    journal: &'a mut dyn Journal<A>,
    dispatch: &'b mut dyn Dispatch<A>,
}

impl<A> Recorder<A> for WithState<'_, '_, A> {
    fn journal(&mut self) -> &mut dyn Journal<A> {
        self.journal
    }
    /// Writes an outcome, with the evaluator's state after it when the evaluator keeps one.
    /// An outcome whose state cannot be saved is not written: a resumed run makes it again.
    fn record(&mut self, index: usize, key: &str, outcome: &Outcome) -> Result<(), DriveError> {
        match self.dispatch.state() {
            None => self.journal.finished(index, key, outcome),
            Some(Ok(state)) => self
                .journal
                .finished_with_state(index, key, outcome, &state),
            Some(Err(e)) => return Err(DriveError::SaveState(e)),
        }
        .map_err(DriveError::Journal)
    }
}

/// What ends a run before its budget: an evaluator that became unavailable, a stop policy.
struct Ends<'a> {
    unavailable: &'a dyn Fn() -> Option<String>,
    halt: &'a dyn Fn() -> Option<String>,
}

/// The driver: the ledger's proposals go to `dispatch`, outcomes come back in whatever order
/// they finish and are told in proposal order by the ledger.
fn run_ledger<S: SearchSpace>(
    ledger: &mut Ledger<S::Arch>,
    space: &S,
    searcher: &mut dyn Searcher<S>,
    dispatch: &mut dyn Dispatch<S::Arch>,
    journal: &mut dyn Journal<S::Arch>,
    on_query: &mut dyn FnMut(&QueryRecord<S::Arch>),
    ends: &Ends<'_>,
) -> Result<(), DriveError> {
    loop {
        {
            let mut rec = WithState {
                journal: &mut *journal,
                dispatch: &mut *dispatch,
            };
            ledger.advance(space, searcher, &mut rec, on_query)?;
        }
        if let Some(why) = (ends.halt)() {
            return Err(DriveError::Halted(why));
        }
        while let Some(index) = ledger.next_pending() {
            let p = ledger
                .proposal(index)
                .expect("a pending proposal is untold");
            let job = Job {
                arch: p.arch.clone(),
                ctx: EvalContext {
                    index,
                    workdir: p.workdir.clone(),
                    resumed: p.resumed,
                    steps_wanted: p.rule.is_some(),
                },
                rule: p.rule.clone(),
                replayed: p.replayed_steps.clone(),
                max_step: ledger.max_step(),
            };
            // With one worker the evaluation runs inside `submit`.
            ledger.phase.set("evaluating");
            dispatch.submit(job);
        }
        if !ledger.head_running() {
            break;
        }
        let (index, outcome) = match dispatch.wait() {
            Event::Step {
                index,
                step,
                decision,
            } => {
                journal
                    .step(index, &step, decision)
                    .map_err(DriveError::Journal)?;
                continue;
            }
            Event::Done(index, outcome) => (index, outcome),
        };
        // Not an outcome of the architecture: stop before recording it (a resume redoes it).
        if let Some(why) = (ends.unavailable)() {
            return Err(DriveError::Unavailable(why));
        }
        // `usize::MAX` only when every worker died: fail the head so the run still ends.
        let index = if ledger.proposal(index).is_some() {
            index
        } else {
            ledger.told
        };
        let key = ledger.proposal(index).expect("untold").key.clone();
        WithState {
            journal: &mut *journal,
            dispatch: &mut *dispatch,
        }
        .record(index, &key, &outcome)?;
        ledger.finish(index, outcome);
    }
    Ok(())
}
