//! The query accounting of a search (see [`Ledger`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use super::monitor::{self, StepLog};
use super::{DriveError, DriveOptions, Pruning, Recorder, Replay};
use crate::evaluator::{Decision, Fidelities, Outcome, PrunerState, StepResult, StopRule};
use crate::search::random::KeyHash;
use crate::search::run::{QueryRecord, SearchRun, StopReason};
use crate::search::{Feedback, Origin, Phase, ProposalInfo, Searcher};
use crate::space::SearchSpace;
use crate::study::budget::Budget;
use crate::time::unix_now;

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
