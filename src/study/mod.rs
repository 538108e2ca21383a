//! A study: one search whose evaluations its user makes, in ask/tell form, with an optional
//! run store that makes it resumable.
//!
//! The study owns the space, the searcher and the query accounting of [`drive`] (the same
//! implementation): a repeat costs nothing, a not-evaluable architecture costs nothing, a failure
//! counts, and results reach the searcher in proposal order however they are told. The
//! searcher is asked at the points where `seminas search --workers N` asks it, `N` being
//! [`StudySettings::workers`]: [`Study::ask`] gives nothing (status [`StudyStatus::Waiting`])
//! while `N` trials wait to be told. So a study whose trials are told in any order gives the
//! trials of `seminas search --workers N` with the same seed.
//!
//! [`drive`]: crate::study::engine::drive

use std::path::{Path, PathBuf};

use crate::evaluator::{Decision, Fidelities};
use crate::evaluator::{Evaluation, Evaluator, Outcome};
use crate::report::{BestArch, QueryLog, RunFacts, Summary, SummaryContext, summarize};
use crate::search::{Phase, Searcher};
use crate::study::engine::{JournalOnly, Ledger, Restored, restore_evaluator};

use crate::space::SearchSpace;
use crate::store::{RunMeta, RunStatus, RunStore};
use crate::study::engine::{DriveError, DriveOptions, Journal, NoJournal};

/// Name of the run store checkpoint holding the queries [`Study::extend`] added (decimal
/// text): the stored settings keep the original budget, which the searcher's plan (its
/// rounds) was made for.
const EXTENSION: &str = "study.extension";

/// Queries added to a stored study by [`Study::extend`] so far.
fn stored_extension(store: &RunStore) -> Result<usize, StudyError> {
    Ok(match store.latest_checkpoint(EXTENSION)? {
        Some((_, bytes)) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        None => 0,
    })
}

/// One architecture to evaluate.
#[derive(Debug, Clone)]
pub struct Trial<A> {
    /// 0-based number of the proposal (its workdir's name in a stored study).
    pub number: usize,
    /// The architecture.
    pub arch: A,
    /// Its canonical key.
    pub key: String,
    /// A folder of its own, in a stored study.
    pub workdir: Option<PathBuf>,
}

/// Where a study stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyStatus {
    /// [`Study::ask`] has a trial to give.
    Running,
    /// Trials are out: tell one before asking again.
    Waiting,
    /// Every trial is told and no more will be proposed.
    Finished(StopReason),
}

/// A search driven by its user (see the module documentation).
pub struct Study<S: SearchSpace> {
    space: S,
    searcher: Box<dyn Searcher<S>>,
    ledger: Ledger<S::Arch>,
    store: Option<RunStore>,
    settings: StudySettings,
    /// `queries.jsonl` of a stored study, opened (afresh) when the first query is told.
    log: Option<QueryLog>,
    log_error: Option<std::io::Error>,
    /// Wall time of the latest [`Study::optimize`].
    wall: std::time::Duration,
    /// Architectures enqueued and warm-start pairs (kept in the store).
    inputs: Inputs,
}

impl<S: SearchSpace> Study<S> {
    /// A study kept in memory only.
    pub fn new(space: S, settings: StudySettings) -> Self {
        Self::build(space, settings, None, DriveOptions::default())
    }

    /// A study recorded in `store`; what the store holds already (a run being resumed) is
    /// replayed: its finished trials are neither lost nor repeated, and trials that were asked
    /// but never told are asked again first. The settings must be those the store was made
    /// with (a changed setting is detected when a replayed proposal differs).
    pub fn with_store(
        space: S,
        settings: StudySettings,
        store: RunStore,
    ) -> Result<Self, StudyError> {
        let options = DriveOptions {
            workdirs: Some(store.evals_dir()),
            replay: Some(store.replay()?),
            ..DriveOptions::default()
        };
        let extended = stored_extension(&store)?;
        let inputs = Inputs::read(&store)?;
        let mut study = Self::build(space, settings, Some(store), options);
        study.ledger.extend(extended);
        study.inputs = inputs;
        Ok(study)
    }

    /// A study stored in `dir`: created there, or reopened (resumed) when `dir` holds one
    /// made with the same space and settings.
    pub fn open_or_create(
        space: S,
        settings: StudySettings,
        dir: &Path,
    ) -> Result<Self, StudyError> {
        let now = settings.stored_args(space.name());
        let store = if dir.join("run.sqlite").is_file() {
            let (store, meta) = RunStore::open(dir)?;
            if meta.args != now {
                return Err(StudyError::Mismatch {
                    dir: dir.to_path_buf(),
                    stored: meta.args,
                    now,
                });
            }
            store
        } else {
            let run_id = RunMeta::new_run_id(&dir.display().to_string());
            return Self::create(space, settings, dir, now, run_id);
        };
        Self::with_store(space, settings, store)
    }

    /// A new study stored in `dir` (made; it must not hold a run), recorded with `args` (what
    /// re-creates its settings on resume: the CLI's arguments) and `run_id` (a name for the
    /// run, e.g. of its cluster jobs), the seed, the current directory and this version.
    pub fn create(
        space: S,
        settings: StudySettings,
        dir: &Path,
        args: Vec<String>,
        run_id: String,
    ) -> Result<Self, StudyError> {
        let meta = RunMeta {
            args,
            cwd: std::env::current_dir().unwrap_or_default(),
            seed: settings.seed,
            version: env!("CARGO_PKG_VERSION").to_string(),
            run_id,
        };
        let store = RunStore::create(dir, &meta)?;
        Self::with_store(space, settings, store)
    }

    fn build(
        space: S,
        settings: StudySettings,
        store: Option<RunStore>,
        options: DriveOptions,
    ) -> Self {
        let searcher = settings.algo.build(
            &space,
            settings.seed,
            settings.plan_budget(),
            &settings.config,
        );
        let budget = Budget {
            workers: settings.workers.max(1),
            seconds: settings.budget_seconds,
            ..Budget::queries(settings.queries)
        };
        let mut ledger = Ledger::new(budget, options);
        ledger.minimize = settings.direction == Direction::Minimize;
        let mut searcher = searcher;
        searcher.watch(ledger.phase.clone());
        Self {
            space,
            searcher,
            ledger,
            store,
            settings,
            log: None,
            log_error: None,
            wall: std::time::Duration::ZERO,
            inputs: Inputs::default(),
        }
    }

    /// The study with the set of architectures its evaluator can evaluate (see
    /// [`crate::search::evaluable_pool`]), which the algorithms that rank candidates with a
    /// predictor score instead of generating blind. Call it before the first ask, tell or
    /// warm start: it makes the searcher anew.
    pub fn with_candidates(mut self, pool: Option<std::sync::Arc<[S::Arch]>>) -> Self {
        if pool.is_some() {
            self.searcher = self.settings.algo.build_with_pool(
                &self.space,
                self.settings.seed,
                self.settings.plan_budget(),
                &self.settings.config,
                pool,
            );
            self.searcher.watch(self.ledger.phase.clone());
        }
        self
    }

    /// The study with its searcher wrapped by `wrap` (a bench's [`crate::search::Clairvoyant`]).
    /// Call it before the first ask, as [`Study::with_candidates`].
    pub(crate) fn wrap_searcher(
        mut self,
        wrap: impl FnOnce(Box<dyn Searcher<S>>) -> Box<dyn Searcher<S>>,
    ) -> Self {
        // A placeholder holds the field while `wrap` owns the searcher.
        let inner = std::mem::replace(
            &mut self.searcher,
            Box::new(crate::search::RandomSearch::new(crate::rng::rng_for(
                0, "unused",
            ))),
        );
        self.searcher = wrap(inner);
        self.searcher.watch(self.ledger.phase.clone());
        self
    }

    /// The study with the steps its evaluator reports (see [`crate::evaluator::fidelity`]):
    /// trainings may then be stopped early, as [`StudySettings::prune`] says. Call it before
    /// the first ask, as [`Study::with_candidates`].
    pub fn with_fidelities(mut self, fidelities: Option<Fidelities>) -> Self {
        self.ledger.set_pruning(self.settings.pruning(fidelities));
        self
    }

    /// Reports the objective a running trial reached at `step` (an epoch, say) and the
    /// training's cost so far; the answer says whether to go on ([`Decision::Stop`]: stop the
    /// training and tell [`Study::tell_stopped`]). Reports that are not finite or whose steps
    /// do not increase are ignored and noted with the trial.
    pub fn report(
        &mut self,
        number: usize,
        step: u64,
        objective: f64,
        cost_seconds: f64,
    ) -> Result<Decision, StudyError> {
        let (decision, kept) = self
            .ledger
            .report_step(number, step, objective, cost_seconds)
            .map_err(|e| tell_error(number, e))?;
        if let (Some(step), Some(store)) = (kept, &self.store) {
            store.add_step(number, &step, decision)?;
        }
        Ok(decision)
    }

    /// Tells that a trial's training was stopped after a [`Study::report`] answered
    /// [`Decision::Stop`] (or stopped by its user at its last reported step): its result is
    /// its objective at that step, and it costs `cost_seconds` (the last report's cost when
    /// `None`).
    pub fn tell_stopped(
        &mut self,
        number: usize,
        cost_seconds: Option<f64>,
    ) -> Result<(), StudyError> {
        self.ledger
            .check_running(number)
            .map_err(|e| tell_error(number, e))?;
        let (step, at) = match self.ledger.stopped_at(number) {
            Some(s) => s,
            None => match self.ledger.last_step(number) {
                Some(s) => (s.step, s),
                None => return Err(StudyError::NoStep(number)),
            },
        };
        let mut e = Evaluation::new(at.objective, None, cost_seconds.unwrap_or(at.cost_seconds));
        e.stopped_at = Some(step);
        self.tell_outcome(number, Outcome::Evaluated(e))
    }

    /// What the search is doing now (a handle that another thread may read while
    /// [`Study::optimize`] runs, e.g. for a heartbeat).
    pub fn phase(&self) -> Phase {
        self.ledger.phase.clone()
    }

    /// The settings and how the run went, for `summary.json`.
    pub fn run_facts(&self, wall_seconds: f64) -> RunFacts {
        let s = &self.settings;
        let run = &self.ledger.run;
        RunFacts {
            settings: serde_json::json!({
                "algo": s.algo.name(),
                "queries": s.queries,
                "seed": s.seed,
                "workers": s.workers.max(1),
                "direction": match s.direction {
                    Direction::Maximize => "maximize",
                    Direction::Minimize => "minimize",
                },
                "args": self.store.as_ref().map(|st| st.meta().args.clone()),
            }),
            wall_seconds,
            failures: run.records.iter().filter(|r| r.result.is_err()).count(),
            not_evaluable: run.not_evaluable,
            repeats: run.repeats,
            // Rounded: a sum of table costs would print float noise (43369.84999999999).
            cost_seconds: (run.cost_seconds() * 1e6).round() / 1e6,
            stop: run.stop,
        }
    }

    /// The search space.
    pub fn space(&self) -> &S {
        &self.space
    }

    /// The query budget, extensions ([`Study::extend`]) included.
    pub fn budget(&self) -> usize {
        self.ledger.budget.queries
    }

    /// The settings.
    pub fn settings(&self) -> &StudySettings {
        &self.settings
    }

    /// The run store, for a stored study.
    pub fn store(&self) -> Option<&RunStore> {
        self.store.as_ref()
    }

    /// Reads warm-start pairs from a file (see `warm_start::read_pairs`).
    pub fn warm_start_pairs(&self, path: &Path) -> Result<Vec<(S::Arch, f64)>, StudyError> {
        warm_start::read_pairs(&self.space, path)
    }

    /// `queries` more queries (e.g. for a finished study). A stored study records the
    /// extension, so reopening it keeps the larger budget.
    pub fn extend(&mut self, queries: usize) -> Result<(), StudyError> {
        if let Some(store) = &self.store {
            let total = stored_extension(store)?.saturating_add(queries);
            let told = self.ledger.run.records.len();
            store.add_checkpoint(told, EXTENSION, total.to_string().as_bytes())?;
            store.set_status(RunStatus::Running)?;
        }
        self.ledger.extend(queries);
        Ok(())
    }

    /// The next trial to evaluate; `None` when the budget is spent, the space is exhausted or
    /// trials must be told first (see [`Study::status`]).
    pub fn ask(&mut self) -> Result<Option<Trial<S::Arch>>, StudyError> {
        self.advance()?;
        let Some(number) = self.ledger.next_pending() else {
            return Ok(None);
        };
        let p = self
            .ledger
            .proposal(number)
            .expect("a pending trial is not told");
        if let Some(dir) = &p.workdir {
            std::fs::create_dir_all(dir).map_err(|source| DriveError::Workdir {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(Some(Trial {
            number,
            arch: p.arch.clone(),
            key: p.key.clone(),
            workdir: p.workdir.clone(),
        }))
    }

    /// Reports a trial's evaluation (`Err(reason)`: it failed, which counts as a query), in
    /// any order.
    pub fn tell(
        &mut self,
        number: usize,
        result: Result<Evaluation, String>,
    ) -> Result<(), StudyError> {
        if let Ok(e) = &result
            && !e.objective.is_finite()
        {
            return Err(StudyError::NotFinite {
                number,
                value: e.objective,
            });
        }
        let outcome = match result {
            Ok(e) => Outcome::Evaluated(e),
            Err(reason) => Outcome::Failed(reason),
        };
        self.tell_outcome(number, outcome)
    }

    /// Reports that a trial cannot be evaluated (e.g. over a resource limit): it costs no
    /// query.
    pub fn tell_not_evaluable(&mut self, number: usize) -> Result<(), StudyError> {
        self.tell_outcome(number, Outcome::NotEvaluable)
    }

    fn tell_outcome(&mut self, number: usize, outcome: Outcome) -> Result<(), StudyError> {
        self.ledger
            .check_running(number)
            .map_err(|e| tell_error(number, e))?;
        let outcome = self.ledger.with_reported_steps(number, outcome);
        let key = self
            .ledger
            .proposal(number)
            .expect("a running trial is not told")
            .key
            .clone();
        if let Some(store) = &self.store {
            store
                .journal(&self.space)
                .finished(number, &key, &outcome)
                .map_err(DriveError::Journal)?;
        }
        self.ledger.finish(number, outcome);
        self.advance()
    }

    fn advance(&mut self) -> Result<(), StudyError> {
        self.restore_inputs()?;
        let (log, log_error, space) = (&mut self.log, &mut self.log_error, &self.space);
        let dir = self.store.as_ref().map(|s| s.dir().to_path_buf());
        let mut on_query = |r: &QueryRecord<S::Arch>| {
            log_query(log, log_error, dir.as_deref(), space, r);
        };
        match &self.store {
            Some(store) => self.ledger.advance(
                &self.space,
                self.searcher.as_mut(),
                &mut JournalOnly(&mut store.journal(&self.space)),
                &mut on_query,
            )?,
            None => self.ledger.advance(
                &self.space,
                self.searcher.as_mut(),
                &mut JournalOnly(&mut NoJournal),
                &mut on_query,
            )?,
        }
        if self.ledger.finished()
            && let Some(store) = &self.store
        {
            store.set_status(RunStatus::Finished)?;
        }
        Ok(())
    }

    /// Where the study stands.
    pub fn status(&self) -> StudyStatus {
        if self.ledger.has_pending() || self.ledger.can_fill() {
            StudyStatus::Running
        } else if self.ledger.finished() {
            StudyStatus::Finished(self.ledger.run.stop)
        } else {
            StudyStatus::Waiting
        }
    }

    /// The told queries (evaluated or failed), in the order they reached the searcher.
    pub fn trials(&self) -> &[QueryRecord<S::Arch>] {
        &self.ledger.run.records
    }

    /// The search so far: queries, repeats, not-evaluable proposals, why it stopped.
    pub fn run(&self) -> &SearchRun<S::Arch> {
        &self.ledger.run
    }

    /// The finished run, taken out of the study.
    pub fn into_run(mut self) -> SearchRun<S::Arch> {
        self.ledger.take_run()
    }

    /// The best told trial in the study's direction (the earliest among equals), among whole
    /// trainings (a training stopped early is never the best).
    pub fn best(&self) -> Option<&QueryRecord<S::Arch>> {
        let sign = match self.settings.direction {
            Direction::Maximize => 1.0,
            Direction::Minimize => -1.0,
        };
        let mut best: Option<(&QueryRecord<S::Arch>, f64)> = None;
        for r in &self.ledger.run.records {
            if let Some(e) = r.complete()
                && best.is_none_or(|(_, b)| sign * e.objective > b)
            {
                best = Some((r, sign * e.objective));
            }
        }
        best.map(|(r, _)| r)
    }

    /// Before evaluating with a stateful `evaluator` (see [`Evaluator::state_name`]): puts
    /// back the state it had after the stored run's newest outcome. Nothing to do for a
    /// finished run (it evaluates nothing more), a study without a store or an evaluator
    /// without state.
    pub fn restore_evaluator<E: Evaluator<S> + ?Sized>(
        &self,
        evaluator: &E,
    ) -> Result<Restored, StudyError> {
        let (Some(store), Some(name)) = (&self.store, evaluator.state_name()) else {
            return Ok(Restored::Nothing);
        };
        if store.status()? == RunStatus::Finished {
            return Ok(Restored::Nothing);
        }
        let replay = store.replay()?;
        let stored = store.evaluator_state(name)?;
        Ok(restore_evaluator::<S, E>(evaluator, &replay, stored)?)
    }

    /// Writes the results of a stored study into its folder: `queries.jsonl` and
    /// `summary.json` (see [`crate::report::write_run_dir`]). Nothing for a study in memory.
    /// Refuses to write fewer queries than the store holds: the files a user reads must
    /// never lose finished work.
    pub fn write_results(&self, summary: &crate::report::Summary) -> std::io::Result<()> {
        match &self.store {
            Some(store) => {
                let stored = store.paid_queries().map_err(std::io::Error::other)?;
                let told = self.ledger.run.records.len();
                if told < stored {
                    return Err(std::io::Error::other(format!(
                        "the run store holds {stored} queries but the search told only {told}; \
                         queries.jsonl and summary.json are left as they were"
                    )));
                }
                crate::report::write_run_dir(
                    store.dir(),
                    &self.space,
                    &self.ledger.run.records,
                    summary,
                )
            }
            None => Ok(()),
        }
    }

    /// Runs the study to its end with `evaluator` (`workers` evaluations at once, as set),
    /// exactly as [`crate::study::engine::drive`] would; `on_query` sees every paid query.
    pub fn optimize<E: Evaluator<S> + ?Sized>(
        &mut self,
        evaluator: &E,
        on_query: &mut dyn FnMut(&QueryRecord<S::Arch>),
    ) -> Result<(), StudyError> {
        self.restore_inputs()?;
        let started = std::time::Instant::now();
        let budget = self.ledger.budget;
        let policy = self.settings.stop;
        let (log, log_error, space) = (&mut self.log, &mut self.log_error, &self.space);
        let dir = self.store.as_ref().map(|s| s.dir().to_path_buf());
        let halted = std::cell::RefCell::new(None::<Halt>);
        let (mut seen, mut failed) = (0, 0);
        let on_query = &mut |r: &QueryRecord<S::Arch>| {
            log_query(log, log_error, dir.as_deref(), space, r);
            on_query(r);
            seen += 1;
            if let Err(reason) = &r.result {
                failed += 1;
                let mut halt = halted.borrow_mut();
                if reason.starts_with(crate::evaluator::command::NO_REPORT_METRIC) {
                    halt.get_or_insert(Halt::MissingReport {
                        query: r.n,
                        reason: reason.clone(),
                    });
                } else if policy.max_failures == Some(seen) && failed == seen {
                    halt.get_or_insert(Halt::AllFailed {
                        count: seen,
                        last: reason.clone(),
                    });
                }
            }
        };
        let halt = || {
            halted
                .borrow()
                .as_ref()
                .map(|_| "stopped by the stop policy".to_string())
        };
        let result = match &self.store {
            Some(store) => engine::drive_ledger(
                &mut self.ledger,
                &self.space,
                evaluator,
                self.searcher.as_mut(),
                budget.workers,
                &mut store.journal(&self.space),
                on_query,
                &halt,
            ),
            None => engine::drive_ledger(
                &mut self.ledger,
                &self.space,
                evaluator,
                self.searcher.as_mut(),
                budget.workers,
                &mut NoJournal,
                on_query,
                &halt,
            ),
        };
        self.wall = started.elapsed();
        match result {
            Err(DriveError::Halted(_)) => {
                let halt = halted.into_inner().expect("halted by the policy");
                return Err(StudyError::Halted(halt));
            }
            other => other?,
        }
        if let Some(store) = &self.store {
            store.set_status(RunStatus::Finished)?;
            if let Some(source) = self.log_error.take() {
                return Err(StudyError::Log {
                    path: store.dir().join("queries.jsonl"),
                    source,
                });
            }
        }
        Ok(())
    }

    /// The summary of a finished study, for `evaluator` (whose reference gives rank and regret
    /// of a maximised objective): the best in the study's direction; for a stored study also
    /// written with `queries.jsonl` into its folder. An error when every evaluation failed
    /// (after the files are written).
    pub fn finish<E: Evaluator<S> + ?Sized>(
        &self,
        evaluator: &E,
    ) -> Result<(Summary, SummaryContext), StudyError> {
        let run = self.run();
        let (mut summary, mut ctx) = summarize(
            &self.space,
            evaluator,
            self.settings.algo.name(),
            self.settings.seed,
            run,
        );
        if self.settings.direction == Direction::Minimize {
            // The best is the smallest objective; the reference ranks reports largest first,
            // which says nothing about a minimised objective's architecture.
            summary.best = self.best().map(|r| {
                let e = r.result.as_ref().expect("best is a success");
                BestArch {
                    arch: self.space.to_json(&r.arch),
                    objective: e.objective,
                    report: e.report,
                    rank: None,
                }
            });
            summary.regret = None;
            ctx.best_text = self.best().map(|r| self.space.format(&r.arch));
        }
        if let Some(store) = self.store() {
            let facts = self.run_facts(self.wall.as_secs_f64());
            self.write_results(&summary.clone().with_run(facts))
                .map_err(|source| StudyError::Results {
                    dir: store.dir().to_path_buf(),
                    source,
                })?;
        }
        let records = &run.records;
        if !records.is_empty() && records.iter().all(|r| r.result.is_err()) {
            let first = records[0]
                .result
                .as_ref()
                .err()
                .cloned()
                .unwrap_or_default();
            return Err(StudyError::AllFailed {
                count: records.len(),
                first,
            });
        }
        Ok((summary, ctx))
    }
}

/// Appends a told query to a stored study's `queries.jsonl` (started afresh at its first
/// query); the first failure is kept and no more is written.
fn log_query<S: SearchSpace>(
    log: &mut Option<QueryLog>,
    error: &mut Option<std::io::Error>,
    dir: Option<&Path>,
    space: &S,
    r: &QueryRecord<S::Arch>,
) {
    let Some(dir) = dir else { return };
    if error.is_some() {
        return;
    }
    if log.is_none() {
        match QueryLog::create(dir) {
            Ok(l) => *log = Some(l),
            Err(e) => {
                *error = Some(e);
                return;
            }
        }
    }
    if let Some(l) = log
        && let Err(e) = l.append(space, r)
    {
        *error = Some(e);
    }
}

pub mod budget;
pub mod engine;
mod error;
mod inputs;
pub mod progress;
mod settings;
mod warm_start;

pub use crate::search::run::{QueryRecord, SearchRun, StopReason, TrialState};
pub use budget::Budget;
pub use error::StudyError;
use error::tell_error;
use inputs::Inputs;
pub use settings::{Direction, Halt, StopPolicy, StudySettings, TimeBudget};

#[cfg(test)]
mod tests;

#[cfg(test)]
/// Runs `searcher` against `evaluator` until the budget is spent, the searcher is exhausted or
/// the search stalls, recording nothing. `on_query` sees every paid query as it is told. See
/// [`engine::drive`] for runs with workers and a run store.
pub(crate) fn run_search<S, E>(
    space: &S,
    evaluator: &E,
    searcher: &mut dyn Searcher<S>,
    budget: Budget,
    on_query: &mut dyn FnMut(&QueryRecord<S::Arch>),
) -> SearchRun<S::Arch>
where
    S: SearchSpace,
    E: Evaluator<S> + ?Sized,
{
    engine::drive(
        space,
        evaluator,
        searcher,
        budget,
        engine::DriveOptions::default(),
        &mut engine::NoJournal,
        on_query,
    )
    .expect("a search without a journal, workdirs or replay cannot fail")
}
