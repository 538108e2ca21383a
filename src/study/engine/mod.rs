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

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};

use super::budget::Budget;
use crate::evaluator::{Decision, Fidelities, Pruner, PrunerState, StepResult, StopRule};
use crate::evaluator::{EvalContext, Evaluator, EvaluatorState, Outcome, StateError};
use crate::report::time::unix_now;
use crate::search::random::KeyHash;
use crate::search::run::{QueryRecord, SearchRun, StopReason};
use crate::search::{Feedback, Origin, Phase, ProposalInfo, Searcher};
use crate::space::SearchSpace;

mod error;
mod monitor;
mod restore;

use monitor::{Event, RunMonitor, StepLog};

pub use crate::store::journal::{Journal, JournalError, NoJournal, Replay};
pub use error::DriveError;
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

enum Slot {
    /// A new architecture, not yet handed out for evaluation.
    Queued,
    /// A new architecture being evaluated.
    Running,
    /// A new architecture whose evaluation finished, not yet told.
    Done(Outcome),
    /// An architecture proposed before (told, or still in flight at an earlier index).
    Repeat,
    /// Told.
    Told,
}

pub(crate) struct Proposal<A> {
    pub(crate) arch: A,
    pub(crate) key: String,
    slot: Slot,
    /// The evaluation's own folder, when the run has workdirs.
    pub(crate) workdir: Option<PathBuf>,
    /// True when a stored run had proposed it already (its evaluation may have started).
    pub(crate) resumed: bool,
    /// What the searcher said of it.
    pub(crate) info: ProposalInfo,
    /// When its evaluation started and finished (Unix seconds).
    started: Option<f64>,
    finished: Option<f64>,
    /// When its training may be stopped early: its rule.
    pub(crate) rule: Option<Arc<StopRule>>,
    /// Steps a killed run had recorded for it, with their decisions.
    pub(crate) replayed_steps: Vec<(StepResult, Decision)>,
    /// The steps a study's user reported for it (see [`Ledger::report_step`]).
    pub(crate) log: StepLog,
}

/// Why a proposal cannot be told as asked (see [`Ledger::finish_checked`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TellError {
    /// No proposal has that index.
    Unknown,
    /// It was not handed out for evaluation (a repeat, or not asked yet).
    NotAsked,
    /// It was told already.
    AlreadyTold,
}

/// The query accounting of a search, shared by [`drive`] and [`crate::study::Study`]: which
/// proposals are new (paid), repeats (free) or not evaluable (free), the budget, the order in
/// which results reach the searcher (proposal order, whatever order they finish in) and the
/// points at which the searcher is asked (see the module documentation).
pub(crate) struct Ledger<A> {
    pub(crate) budget: Budget,
    replay: Option<Replay>,
    workdirs: Option<PathBuf>,
    /// Searchers maximise: a minimised objective reaches them negated.
    pub(crate) minimize: bool,
    /// Architectures to propose before asking the searcher.
    enqueued: VecDeque<A>,
    /// The proposals not told yet: proposal `told + i` is `proposals[i]`. Told ones are
    /// dropped (a study's told trials live in `run.records`), so memory does not grow with
    /// proposals that cost nothing (repeats, not evaluable).
    proposals: VecDeque<Proposal<A>>,
    /// What each told key gave (as the searcher was told it), by the key's hash (see
    /// [`KeyHash`]): 16 bytes a key, whatever its length.
    known: Known,
    /// Keys proposed as new and not told yet.
    untold_keys: HashSet<String>,
    pub(crate) told: usize,
    free_in_a_row: usize,
    exhausted: bool,
    stalled: bool,
    /// New proposals not handed out yet, in proposal order.
    pending: VecDeque<usize>,
    pub(crate) run: SearchRun<A>,
    /// What the search is doing, for progress reports (the searcher names its long steps).
    pub(crate) phase: Phase,
    /// How trainings are stopped early.
    pruning: Pruning,
    /// The pruner with what the told trials reported, made at the first proposal.
    pruner: Option<PrunerState>,
    /// True once the searcher was told the fidelities.
    fidelities_told: bool,
    /// Training seconds of the told queries.
    pub(crate) spent_seconds: f64,
}

fn empty_run<A>() -> SearchRun<A> {
    SearchRun {
        records: Vec::new(),
        repeats: 0,
        not_evaluable: 0,
        stop: StopReason::Budget,
    }
}

impl<A: Clone> Ledger<A> {
    pub(crate) fn new(budget: Budget, options: DriveOptions) -> Self {
        Self {
            budget,
            replay: options.replay,
            workdirs: options.workdirs,
            minimize: false,
            enqueued: VecDeque::new(),
            proposals: VecDeque::new(),
            known: Known::default(),
            untold_keys: HashSet::new(),
            told: 0,
            free_in_a_row: 0,
            exhausted: false,
            stalled: false,
            pending: VecDeque::new(),
            run: empty_run(),
            phase: Phase::default(),
            pruning: options.pruning,
            pruner: None,
            fidelities_told: false,
            spent_seconds: 0.0,
        }
    }

    /// How trainings are stopped early (before the first proposal).
    pub(crate) fn set_pruning(&mut self, pruning: Pruning) {
        self.pruning = pruning;
        self.pruner = None;
    }

    /// The last step a study's user reported for running proposal `index`.
    pub(crate) fn last_step(&self, index: usize) -> Option<StepResult> {
        self.proposal(index)?.log.steps.last().copied()
    }

    /// The full training's step, when the evaluator's fidelities are known.
    pub(crate) fn max_step(&self) -> Option<u64> {
        self.pruning.fidelities.as_ref().map(Fidelities::max_step)
    }

    /// -1 for a minimised objective.
    fn sign(&self) -> f64 {
        if self.minimize { -1.0 } else { 1.0 }
    }

    /// The stop rule of proposal `index`: the pruner's, or the searcher's own.
    fn rule_for(&mut self, index: usize, own: Option<StopRule>) -> Option<Arc<StopRule>> {
        if !self.pruning.active() {
            return None;
        }
        let sign = self.sign();
        if let Some(p) = &self.pruning.pruner {
            let fid = self
                .pruning
                .fidelities
                .clone()
                .expect("active pruning has fidelities");
            let seed = self.pruning.seed;
            let state = self
                .pruner
                .get_or_insert_with(|| PrunerState::new(p.clone(), fid, sign, seed));
            return Some(Arc::new(state.rule(index)));
        }
        // The searcher's thresholds are on its signed objectives.
        Some(Arc::new(
            own.map_or(StopRule::never(sign), |r| StopRule { sign, ..r }),
        ))
    }

    /// A step a study's user reported for running proposal `index`: recorded in the
    /// proposal, and what its rule decides.
    pub(crate) fn report_step(
        &mut self,
        index: usize,
        step: u64,
        objective: f64,
        cost_seconds: f64,
    ) -> Result<(Decision, Option<StepResult>), TellError> {
        self.check_running(index)?;
        let max_step = self.max_step();
        let p = &mut self.proposals[index - self.told];
        Ok(p.log.report(
            step,
            objective,
            cost_seconds,
            p.rule.as_deref(),
            &p.replayed_steps,
            max_step,
        ))
    }

    /// The outcome a study's user told for proposal `index`, with the steps they reported.
    pub(crate) fn with_reported_steps(&mut self, index: usize, outcome: Outcome) -> Outcome {
        match self.proposals.get_mut(index.wrapping_sub(self.told)) {
            Some(p) => {
                let expected = p.rule.is_some();
                std::mem::take(&mut p.log).finish(outcome, expected)
            }
            None => outcome,
        }
    }

    /// The step at which a study's user's running trial `index` was stopped, if it was.
    pub(crate) fn stopped_at(&self, index: usize) -> Option<(u64, StepResult)> {
        let p = self.proposal(index)?;
        let at = p.log.stopped_at?;
        Some((at, *p.log.steps.iter().find(|s| s.step == at)?))
    }

    /// Proposes `arch` before asking the searcher again.
    pub(crate) fn enqueue(&mut self, arch: A) {
        self.enqueued.push_back(arch);
    }

    /// A result known before the search (warm start): the searcher learns it, and proposing
    /// the architecture later costs nothing.
    pub(crate) fn warm_start<S: SearchSpace<Arch = A>>(
        &mut self,
        space: &S,
        searcher: &mut dyn Searcher<S>,
        arch: &A,
        objective: f64,
    ) {
        let feedback = Feedback::Objective(self.signed(objective));
        self.known.insert(KeyHash::of(&space.key(arch)), feedback);
        searcher.tell(space, arch, feedback);
    }

    /// More queries for the search; a stalled search may go on.
    pub(crate) fn extend(&mut self, queries: usize) {
        // Saturating: `usize::MAX` is "no limit", and a wrapped budget ends a run early.
        self.budget.queries = self.budget.queries.saturating_add(queries);
        self.stalled = false;
        self.free_in_a_row = 0;
    }

    fn signed(&self, objective: f64) -> f64 {
        if self.minimize { -objective } else { objective }
    }

    /// Asks the searcher at every point where the driver may, and tells every result that is
    /// ready in proposal order, until neither is possible.
    pub(crate) fn advance<S: SearchSpace<Arch = A>>(
        &mut self,
        space: &S,
        searcher: &mut dyn Searcher<S>,
        rec: &mut dyn Recorder<A>,
        on_query: &mut dyn FnMut(&QueryRecord<A>),
    ) -> Result<(), DriveError> {
        loop {
            self.fill(space, searcher, rec)?;
            let ready = match self.proposals.front() {
                Some(p) => matches!(p.slot, Slot::Done(_) | Slot::Repeat),
                None => false,
            };
            if !ready {
                break;
            }
            self.tell_head(space, searcher, on_query);
            if self.free_in_a_row >= self.budget.max_free_proposals {
                self.stalled = true;
            }
        }
        self.run.stop = if self.stalled {
            StopReason::Stalled
        } else if self.exhausted {
            StopReason::Exhausted
        } else {
            StopReason::Budget
        };
        Ok(())
    }

    /// Asks only at fixed points of the told order (see the module documentation): untold new
    /// keys count as paid until told, so a decision never depends on which evaluation
    /// finished first.
    fn fill<S: SearchSpace<Arch = A>>(
        &mut self,
        space: &S,
        searcher: &mut dyn Searcher<S>,
        rec: &mut dyn Recorder<A>,
    ) -> Result<(), DriveError> {
        while self.can_fill() {
            // Every architecture of the space is known: nothing new can be proposed.
            if let Some(n) = space.cardinality()
                && self.known.len() as u128 >= n
            {
                self.exhausted = true;
                break;
            }
            if !self.fidelities_told
                && self.pruning.active()
                && self.pruning.pruner.is_none()
                && let Some(f) = &self.pruning.fidelities
            {
                searcher.set_fidelities(f);
                self.fidelities_told = true;
            }
            let (archs, infos, mut rules) = match self.enqueued.pop_front() {
                Some(arch) => (
                    vec![arch],
                    vec![ProposalInfo::of(Origin::Enqueued)],
                    Vec::new(),
                ),
                None => {
                    let archs = searcher.ask(space, 1);
                    let rules = searcher.take_stop_rules();
                    let mut infos = searcher.take_annotations();
                    // Searchers see a minimised objective negated; so do their predictions.
                    if self.minimize {
                        for i in &mut infos {
                            i.predicted = i.predicted.map(|p| -p);
                        }
                    }
                    // Searchers train while asked: save what they trained with `told` as
                    // it was.
                    for (name, data) in searcher.take_checkpoints() {
                        rec.journal()
                            .checkpoint(self.told, &name, &data)
                            .map_err(DriveError::Journal)?;
                    }
                    (archs, infos, rules)
                }
            };
            if archs.is_empty() {
                self.exhausted = true;
                break;
            }
            rules.resize(archs.len(), None);
            for ((i, arch), own) in archs.into_iter().enumerate().zip(rules) {
                let info = infos.get(i).copied().unwrap_or_default();
                self.propose(space, arch, info, own, rec)?;
            }
        }
        Ok(())
    }

    fn propose<S: SearchSpace<Arch = A>>(
        &mut self,
        space: &S,
        arch: A,
        info: ProposalInfo,
        own_rule: Option<StopRule>,
        rec: &mut dyn Recorder<A>,
    ) -> Result<(), DriveError> {
        let index = self.told + self.proposals.len();
        let key = space.key(&arch);
        let replayed = self.replay.as_mut().and_then(|r| {
            r.keys
                .get(index)
                .map(|stored| (stored.clone(), r.outcomes.remove(&index)))
        });
        let repeat = self.known.contains(&KeyHash::of(&key)) || self.untold_keys.contains(&key);
        match &replayed {
            Some((Some(stored), _)) if *stored != key => {
                return Err(DriveError::Diverged {
                    index,
                    stored: stored.clone(),
                    proposed: key,
                });
            }
            Some(_) => {}
            None if repeat => rec.journal().repeated(index).map_err(DriveError::Journal)?,
            None => rec
                .journal()
                .proposed(index, &key, &arch)
                .map_err(DriveError::Journal)?,
        }
        // A free proposal the store kept only as part of a range: a repeat again, or else one
        // that was not evaluable (the store keeps repeats and not-evaluable ones that way).
        let compacted = matches!(replayed, Some((None, _)));
        let resumed = replayed.is_some();
        let times = self
            .replay
            .as_ref()
            .and_then(|r| r.times.get(&index).copied());
        let replayed_steps = self
            .replay
            .as_mut()
            .and_then(|r| r.steps.remove(&index))
            .unwrap_or_default();
        let mut proposal = Proposal {
            arch,
            key,
            slot: Slot::Repeat,
            workdir: None,
            resumed,
            info,
            started: times.map(|t| t.0),
            finished: times.map(|t| t.1),
            rule: None,
            replayed_steps,
            log: StepLog::default(),
        };
        if repeat {
            self.proposals.push_back(proposal);
            return Ok(());
        }
        self.untold_keys.insert(proposal.key.clone());
        proposal.rule = self.rule_for(index, own_rule);
        proposal.slot = if let Some((_, Some(outcome))) = replayed {
            Slot::Done(outcome)
        } else if compacted {
            Slot::Done(Outcome::NotEvaluable)
        } else if let Some(outcome) = monitor::replayed_stop(&proposal.replayed_steps) {
            // Stopped before the kill, not recorded: its stored steps are its result.
            rec.record(index, &proposal.key, &outcome)?;
            proposal.finished = Some(unix_now());
            Slot::Done(outcome)
        } else if let Err(e) = space.validate(&proposal.arch) {
            let outcome = Outcome::Failed(format!("invalid architecture: {e}"));
            rec.record(index, &proposal.key, &outcome)?;
            proposal.finished = Some(unix_now());
            Slot::Done(outcome)
        } else {
            // Named, not made: the evaluators that keep files there make it (a table lookup
            // leaves no empty folder behind); a study's user gets it made when asking.
            if let Some(root) = &self.workdirs {
                proposal.workdir = Some(root.join(format!("{index:06}")));
            }
            self.pending.push_back(index);
            Slot::Queued
        };
        self.proposals.push_back(proposal);
        Ok(())
    }

    /// True when the searcher may be asked now.
    pub(crate) fn can_fill(&self) -> bool {
        !self.exhausted
            && !self.stalled
            && self.proposals.len() < self.budget.workers.max(1)
            && self.run.records.len() + self.untold_keys.len() < self.budget.queries
            && self.budget.seconds.is_none_or(|b| self.spent_seconds < b)
    }

    /// The next new proposal to evaluate, in proposal order; it is running from now on.
    pub(crate) fn next_pending(&mut self) -> Option<usize> {
        let index = self.pending.pop_front()?;
        let p = &mut self.proposals[index - self.told];
        p.slot = Slot::Running;
        p.started = Some(unix_now());
        Some(index)
    }

    /// Proposal `index`, while it is not told (told ones are dropped).
    pub(crate) fn proposal(&self, index: usize) -> Option<&Proposal<A>> {
        self.proposals.get(index.checked_sub(self.told)?)
    }

    /// True when the oldest untold proposal is still being evaluated.
    pub(crate) fn head_running(&self) -> bool {
        self.proposals
            .front()
            .is_some_and(|p| matches!(p.slot, Slot::Running | Slot::Queued))
    }

    /// True when every proposal is told and the searcher will not be asked again.
    pub(crate) fn finished(&self) -> bool {
        self.proposals.is_empty()
    }

    /// True when a new proposal waits to be handed out.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The outcome of a running proposal (recorded by the caller).
    pub(crate) fn finish(&mut self, index: usize, outcome: Outcome) {
        let p = &mut self.proposals[index - self.told];
        p.slot = Slot::Done(outcome);
        p.finished = Some(unix_now());
    }

    /// Like [`Ledger::finish`], for outcomes told by a user: refuses an index that is not a
    /// running proposal.
    pub(crate) fn check_running(&self, index: usize) -> Result<(), TellError> {
        if index < self.told {
            return Err(TellError::AlreadyTold);
        }
        match self.proposal(index).map(|p| &p.slot) {
            None => Err(TellError::Unknown),
            Some(Slot::Running) => Ok(()),
            Some(Slot::Done(_) | Slot::Told) => Err(TellError::AlreadyTold),
            Some(Slot::Queued | Slot::Repeat) => Err(TellError::NotAsked),
        }
    }

    /// The run so far; the ledger starts afresh.
    pub(crate) fn take_run(&mut self) -> SearchRun<A> {
        std::mem::replace(&mut self.run, empty_run())
    }

    fn tell_head<S: SearchSpace<Arch = A>>(
        &mut self,
        space: &S,
        searcher: &mut dyn Searcher<S>,
        on_query: &mut dyn FnMut(&QueryRecord<A>),
    ) {
        let index = self.told;
        let sign = if self.minimize { -1.0 } else { 1.0 };
        let mut p = self
            .proposals
            .pop_front()
            .expect("the head proposal is told");
        let feedback = match std::mem::replace(&mut p.slot, Slot::Told) {
            Slot::Repeat => {
                self.run.repeats += 1;
                self.free_in_a_row += 1;
                self.known
                    .get(&KeyHash::of(&p.key))
                    .expect("an earlier proposal of the key was told first")
            }
            Slot::Done(outcome) => {
                self.untold_keys.remove(&p.key);
                let (feedback, result) = match outcome {
                    Outcome::Evaluated(e) => {
                        if !e.steps.is_empty() {
                            if let Some(pruner) = &mut self.pruner {
                                pruner.tell(index, &e.steps);
                            }
                            let signed: Vec<StepResult> = e
                                .steps
                                .iter()
                                .map(|s| StepResult {
                                    objective: sign * s.objective,
                                    ..*s
                                })
                                .collect();
                            searcher.tell_steps(space, &p.arch, &signed);
                        }
                        self.spent_seconds += e.cost_seconds;
                        let feedback = match e.stopped_at {
                            Some(step) => Feedback::Stopped {
                                step,
                                objective: sign * e.objective,
                            },
                            None => Feedback::Objective(sign * e.objective),
                        };
                        (feedback, Some(Ok(e)))
                    }
                    Outcome::Failed(reason) => (Feedback::Failed, Some(Err(reason))),
                    Outcome::NotEvaluable => (Feedback::NotEvaluable, None),
                };
                self.known.insert(KeyHash::of(&p.key), feedback);
                match result {
                    Some(result) => {
                        self.free_in_a_row = 0;
                        let record = QueryRecord {
                            n: self.run.records.len() + 1,
                            index,
                            arch: p.arch.clone(),
                            key: p.key.clone(),
                            result,
                            info: p.info,
                            started_unix: p.started,
                            finished_unix: p.finished,
                        };
                        on_query(&record);
                        self.run.records.push(record);
                    }
                    None => {
                        self.run.not_evaluable += 1;
                        self.free_in_a_row += 1;
                    }
                }
                feedback
            }
            Slot::Queued | Slot::Running | Slot::Told => {
                unreachable!("only finished proposals are told")
            }
        };
        self.told += 1;
        searcher.tell(space, &p.arch, feedback);
    }
}

/// What the ledger was told of every key (hashed). The not-evaluable ones, which a wide
/// space may give by the million, are kept as bare hashes (a third of the memory).
#[derive(Default)]
struct Known {
    told: HashMap<KeyHash, Feedback>,
    not_evaluable: HashSet<KeyHash>,
}

impl Known {
    fn insert(&mut self, key: KeyHash, feedback: Feedback) {
        if feedback == Feedback::NotEvaluable {
            self.not_evaluable.insert(key);
        } else {
            self.told.insert(key, feedback);
        }
    }
    fn get(&self, key: &KeyHash) -> Option<Feedback> {
        match self.told.get(key) {
            Some(f) => Some(*f),
            None => self
                .not_evaluable
                .contains(key)
                .then_some(Feedback::NotEvaluable),
        }
    }
    fn contains(&self, key: &KeyHash) -> bool {
        self.told.contains_key(key) || self.not_evaluable.contains(key)
    }
    fn len(&self) -> usize {
        self.told.len() + self.not_evaluable.len()
    }
}
