//! Search algorithms in ask/tell form.
//!
//! A [`Searcher`] proposes architectures ([`Searcher::ask`]) and learns what they scored
//! ([`Searcher::tell`]); it never sees reported metrics and never calls an evaluator. The run
//! engine of [`crate::study`] owns query accounting:
//! - a **query** is the first evaluation of an architecture with a new canonical key; it counts
//!   against the budget whether it succeeds or fails;
//! - proposing an architecture already known (evaluated, failed or not evaluable) costs nothing:
//!   the searcher is told the known result again;
//! - a **not evaluable** architecture (e.g. absent from a table) costs nothing either.
//!
//! The same searcher thus drives an instant table lookup or a slow training run.

pub mod clairvoyant;
pub mod evolution;
pub mod multi_fidelity;
pub mod pool;
pub mod random;
pub mod run;
mod schedule;
pub mod seminas;
pub mod seminas_ens;
pub mod seminas_re;

use crate::controller::{ControllerConfig, EarlyStopping, StopOn};
use crate::evaluator::{Fidelities, StepResult, StopRule};
use crate::predictor::semi_supervised::Trainings;
use crate::settings::SettingError;
use crate::space::SearchSpace;

pub use clairvoyant::Clairvoyant;
pub use evolution::{ReConfig, RegularizedEvolution};
pub use pool::evaluable_pool;
pub use random::RandomSearch;
pub use seminas::{SemiNas, SemiNasConfig, SemiNasOverrides};
pub use seminas_ens::{Acquisition, Listing, SemiNasEns, SemiNasEnsConfig};
pub use seminas_re::{SemiNasRe, SemiNasReConfig};

pub use crate::predictor::default_controller_hidden;

/// Settings of every algorithm (each uses its own part).
#[derive(Debug, Clone)]
pub struct AlgoConfig {
    /// Regularized evolution.
    pub re: ReConfig,
    /// SemiNAS's and NAO's settings before `seminas` overrides: a preset such as
    /// [`SemiNasConfig::paper`], or `None` for the budget-dependent defaults.
    pub seminas_preset: Option<SemiNasConfig>,
    /// Changes to SemiNAS's and NAO's settings.
    pub seminas: SemiNasOverrides,
    /// SemiNAS's and NAO's controller early stopping, when chosen (`Some(None)`: off); `None`
    /// keeps the preset's ([`Preset::Paper`] stops early) or the default's (off). SemiNAS-RE's
    /// choice is already in `seminas_re.controller`.
    pub seminas_early_stopping: Option<Option<EarlyStopping>>,
    /// SemiNAS-RE.
    pub seminas_re: SemiNasReConfig,
    /// True when `seminas_re.controller.hidden` was not chosen by the user, so the space's
    /// default ([`default_controller_hidden`]) applies.
    pub seminas_re_hidden_is_default: bool,
}

impl Default for AlgoConfig {
    fn default() -> Self {
        Self {
            re: ReConfig::default(),
            seminas_preset: None,
            seminas: SemiNasOverrides::default(),
            seminas_early_stopping: None,
            seminas_re: SemiNasReConfig::default(),
            seminas_re_hidden_is_default: true,
        }
    }
}

/// Early stopping of the controller's trainings in [`Preset::Paper`]: 10 % of the evaluated
/// cells held out, stop after 30 epochs without a better held-out Kendall tau. Measured in
/// `docs/controller.md`: a round's controller work 7x cheaper than the paper's fixed
/// 1,000 + 500 epochs, the predictor's held-out tau 0.749 against 0.765 (seed 0; 0.73-0.76
/// over 3 seeds), where watching the loss gave 0.70-0.72.
pub const PAPER_EARLY_STOPPING: EarlyStopping = EarlyStopping {
    held_out: 0.1,
    patience: 30,
    on: StopOn::Tau,
    second_only: false,
};

impl AlgoConfig {
    /// SemiNAS's and NAO's settings: the preset if any, else `defaults` with a controller
    /// `hidden` wide; then the overrides and the early-stopping choice.
    pub fn seminas_config(&self, defaults: SemiNasConfig, hidden: usize) -> SemiNasConfig {
        let base = match &self.seminas_preset {
            Some(preset) => preset.clone(),
            None => SemiNasConfig {
                controller: ControllerConfig {
                    hidden,
                    ..defaults.controller
                },
                ..defaults
            },
        };
        let mut c = self.seminas.apply(base);
        if let Some(es) = &self.seminas_early_stopping {
            c.controller.early_stopping = es.clone();
        }
        c
    }
}

/// A settings preset of SemiNAS and NAO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The paper's NAS-Bench-101 settings ([`SemiNasConfig::paper`]) with the controller's
    /// trainings stopped early ([`PAPER_EARLY_STOPPING`]; `early_stopping: off` gives the
    /// paper's fixed 1,000 + 500 epochs).
    Paper,
    /// The paper's ImageNet settings ([`SemiNasConfig::paper_imagenet`]).
    PaperImagenet,
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "paper" => Ok(Preset::Paper),
            "paper-imagenet" => Ok(Preset::PaperImagenet),
            _ => Err(format!(
                "unknown preset {s:?} (known: paper, paper-imagenet)"
            )),
        }
    }
}

/// Changes to the algorithms' defaults, as the command line (`seminas search` and `bench`) and
/// the Python package (keyword arguments) take them; every field optional. A setting the
/// algorithms run do not use is an error ([`AlgoOverrides::unused_by`]).
#[derive(Debug, Clone, Default, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Algorithm")]
pub struct AlgoOverrides {
    /// RE and SemiNAS-RE: population size, from 1 to 1,000,000 [default: re 10, seminas-re
    /// 20].
    #[arg(long)]
    pub population: Option<usize>,
    /// RE and SemiNAS-RE: tournament size, from 1 to 1,000,000 [default: re 3, seminas-re 5].
    #[arg(long)]
    pub tournament: Option<usize>,
    /// SemiNAS/NAO settings preset: `paper` = the paper's NAS-Bench-101 settings (1,100 random,
    /// 10,000 pseudo-labels, top 100, 3 rounds of 300: use with --queries 2000), with the
    /// controller's 1,000 + 500 epochs stopped early (see --early-stopping);
    /// `paper-imagenet` = its ImageNet settings (100 random, 4,000 pseudo-labels, top 100, 3
    /// rounds of 100: use with --queries 400, --space mobile); other flags still override it.
    #[arg(
        long,
        value_name = "paper|paper-imagenet",
        help_heading = "SemiNAS controller"
    )]
    pub preset: Option<Preset>,
    /// SemiNAS/NAO: random architectures before the first round, from 0 to 1,000,000
    /// [default: budget/3, 10..1100].
    #[arg(long, help_heading = "SemiNAS controller")]
    pub init: Option<usize>,
    /// SemiNAS/SemiNAS-RE: pseudo-labelled architectures per training, from 0 to 1,000,000
    /// [default: 500].
    #[arg(long, help_heading = "SemiNAS controller")]
    pub pseudo: Option<usize>,
    /// SemiNAS/NAO: architectures generation starts from, from 1 to 1,000,000 [default: 20].
    #[arg(long, help_heading = "SemiNAS controller")]
    pub top_k: Option<usize>,
    /// SemiNAS/NAO: new architectures per round, from 1 to 1,000,000 [default: budget/10,
    /// 5..300].
    #[arg(long, help_heading = "SemiNAS controller")]
    pub per_round: Option<usize>,
    /// Controller epochs on the evaluated pairs per training, from 0 to 1,000,000 [default:
    /// 50].
    #[arg(long, help_heading = "SemiNAS controller")]
    pub pretrain_epochs: Option<usize>,
    /// Controller epochs on the up-sampled evaluated pairs plus the pseudo-labelled ones, from
    /// 0 to 1,000,000 [default: 10]. (`--train-epochs` is the built-in trainer's.)
    #[arg(long, help_heading = "SemiNAS controller")]
    pub controller_epochs: Option<usize>,
    /// Up-sampling of the evaluated pairs in the second training, from 0 to 1,000 [default:
    /// 10].
    #[arg(long, help_heading = "SemiNAS controller")]
    pub upsample: Option<usize>,
    /// SemiNAS, NAO, SemiNAS-RE: controller embedding and LSTM size, from 1 to 1,024 [default: 64 for long
    /// token sequences (nb101, mobile), 32 for short ones (nb201)].
    #[arg(long, help_heading = "SemiNAS controller")]
    pub controller_hidden: Option<usize>,
    /// SemiNAS, NAO, SemiNAS-RE: early stopping of the controller's trainings: `off`, or
    /// HELD_OUT/PATIENCE[/tau] (e.g. 0.1/30: 10% of the evaluated cells held out, stop after 30
    /// epochs without a better held-out loss; 0.1/30/tau: without a better held-out Kendall
    /// tau; `/second`: stop only the second training of a round, the first keeps all its epochs)
    /// [default: off; with --preset paper 0.1/30/tau, `off` gives the paper's fixed
    /// 1,000 + 500 epochs].
    #[arg(
        long,
        value_name = "off|HELD_OUT/PATIENCE[/tau][/second]",
        help_heading = "SemiNAS controller"
    )]
    pub early_stopping: Option<String>,
    /// SemiNAS-RE: children ranked by the predictor per proposal, from 1 to 100,000
    /// [default: 50].
    #[arg(long, help_heading = "SemiNAS controller")]
    pub children: Option<usize>,
    /// SemiNAS-RE: retrain the controller after this many new evaluations, from 1 to
    /// 1,000,000 [default: 10].
    #[arg(long, help_heading = "SemiNAS controller")]
    pub retrain_every: Option<usize>,
}

/// An override that none of the algorithms run uses (SemiNAS-Ens, say, has no
/// pseudo-labels): an error rather than silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedOverride {
    /// The setting as the command line spells it without dashes (`controller-epochs`).
    pub name: &'static str,
    /// The algorithms that use it.
    pub users: &'static [Algo],
    /// The algorithms run.
    pub algos: Vec<Algo>,
}

impl std::error::Error for UnusedOverride {}

/// Why algorithm settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// A setting is out of its range.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// A setting none of the algorithms run uses.
    #[error(transparent)]
    Unused(#[from] UnusedOverride),
    /// A setting that cannot be read (early stopping's text, say).
    #[error("{0}")]
    Invalid(String),
}

impl std::fmt::Display for UnusedOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |a: &[Algo]| a.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ");
        write!(
            f,
            "--{} is a setting of {}; {} {} not use it",
            self.name,
            names(self.users),
            names(&self.algos),
            if self.algos.len() == 1 { "does" } else { "do" }
        )
    }
}

impl AlgoOverrides {
    /// Each override that is set, with the algorithms that use it.
    fn set(&self) -> Vec<(&'static str, &'static [Algo])> {
        use Algo::{Nao, Re, SemiNas, SemiNasRe};
        const EVOLUTION: &[Algo] = &[Re, SemiNasRe];
        const ROUNDS: &[Algo] = &[Nao, SemiNas];
        const PSEUDO: &[Algo] = &[SemiNas, SemiNasRe];
        const CONTROLLER: &[Algo] = &[Nao, SemiNas, SemiNasRe];
        const SCREENING: &[Algo] = &[SemiNasRe];
        [
            ("population", self.population.is_some(), EVOLUTION),
            ("tournament", self.tournament.is_some(), EVOLUTION),
            ("preset", self.preset.is_some(), ROUNDS),
            ("init", self.init.is_some(), ROUNDS),
            ("pseudo", self.pseudo.is_some(), PSEUDO),
            ("top-k", self.top_k.is_some(), ROUNDS),
            ("per-round", self.per_round.is_some(), ROUNDS),
            (
                "pretrain-epochs",
                self.pretrain_epochs.is_some(),
                CONTROLLER,
            ),
            (
                "controller-epochs",
                self.controller_epochs.is_some(),
                CONTROLLER,
            ),
            ("upsample", self.upsample.is_some(), CONTROLLER),
            (
                "controller-hidden",
                self.controller_hidden.is_some(),
                CONTROLLER,
            ),
            ("early-stopping", self.early_stopping.is_some(), CONTROLLER),
            ("children", self.children.is_some(), SCREENING),
            ("retrain-every", self.retrain_every.is_some(), SCREENING),
        ]
        .into_iter()
        .filter(|(_, set, _)| *set)
        .map(|(name, _, users)| (name, users))
        .collect()
    }

    /// The first override that none of `algos` uses, if any (a bench of several algorithms
    /// applies each override to those that use it).
    pub fn unused_by(&self, algos: &[Algo]) -> Option<UnusedOverride> {
        self.set()
            .into_iter()
            .find(|(_, users)| !algos.iter().any(|a| users.contains(a)))
            .map(|(name, users)| UnusedOverride {
                name,
                users,
                algos: algos.to_vec(),
            })
    }

    /// The settings of `algos`, checked: every value in its range, and every setting given
    /// used by one of them.
    pub fn config_for(&self, algos: &[Algo]) -> Result<AlgoConfig, OverrideError> {
        use crate::settings::{MAX_COUNT, in_range};
        for (setting, v) in [
            ("population", self.population),
            ("tournament", self.tournament),
        ] {
            if let Some(v) = v {
                in_range(setting, v, 1, MAX_COUNT)?;
            }
        }
        let config = self.config().map_err(OverrideError::Invalid)?;
        config.validate()?;
        if let Some(unused) = self.unused_by(algos) {
            return Err(unused.into());
        }
        Ok(config)
    }

    /// The algorithm settings, checked.
    pub fn config(&self) -> Result<AlgoConfig, String> {
        if self.population == Some(0) || self.tournament == Some(0) {
            return Err("--population and --tournament must be at least 1".into());
        }
        let seminas = SemiNasOverrides {
            init: self.init,
            pseudo: self.pseudo,
            top_k: self.top_k,
            per_round: self.per_round,
            pretrain_epochs: self.pretrain_epochs,
            train_epochs: self.controller_epochs,
            upsample: self.upsample,
            hidden: self.controller_hidden,
        };
        let seminas_early_stopping = self
            .early_stopping
            .as_deref()
            .map(parse_early_stopping)
            .transpose()?;
        let d = SemiNasReConfig::default();
        let seminas_re = SemiNasReConfig {
            children: self.children.unwrap_or(d.children).max(1),
            retrain_every: self.retrain_every.unwrap_or(d.retrain_every).max(1),
            pseudo: self.pseudo.unwrap_or(d.pseudo),
            trainings: Trainings {
                pretrain_epochs: self.pretrain_epochs.unwrap_or(d.trainings.pretrain_epochs),
                train_epochs: self.controller_epochs.unwrap_or(d.trainings.train_epochs),
                upsample: self.upsample.unwrap_or(d.trainings.upsample),
            },
            population: self.population.unwrap_or(d.population),
            tournament: self.tournament.unwrap_or(d.tournament),
            controller: ControllerConfig {
                hidden: self.controller_hidden.unwrap_or(d.controller.hidden),
                early_stopping: seminas_early_stopping
                    .clone()
                    .unwrap_or_else(|| d.controller.early_stopping.clone()),
                ..d.controller.clone()
            },
            ..d
        };
        Ok(AlgoConfig {
            seminas_preset: self.preset.map(|p| match p {
                Preset::PaperImagenet => SemiNasConfig::paper_imagenet(),
                Preset::Paper => {
                    let mut c = SemiNasConfig::paper();
                    c.controller.early_stopping = Some(PAPER_EARLY_STOPPING);
                    c
                }
            }),
            seminas_early_stopping,
            re: ReConfig {
                population: self.population.unwrap_or(ReConfig::default().population),
                tournament: self.tournament.unwrap_or(ReConfig::default().tournament),
                ..ReConfig::default()
            },
            seminas,
            seminas_re,
            seminas_re_hidden_is_default: self.controller_hidden.is_none(),
        })
    }
}

/// Early-stopping settings from text: `off` (`None`), or `HELD_OUT/PATIENCE[/tau]` such as
/// `0.1/30` (held-out share in (0, 1), patience at least 1 epoch; with `/tau` the held-out
/// Kendall tau is watched instead of the loss, see [`StopOn`]).
///
/// # Errors
/// A message naming the bad text.
pub fn parse_early_stopping(v: &str) -> Result<Option<EarlyStopping>, String> {
    let v = v.trim();
    if v == "off" {
        return Ok(None);
    }
    let bad = || {
        format!(
            "early stopping {v:?} is neither `off` nor HELD_OUT/PATIENCE[/tau][/second] (e.g. 0.1/30)"
        )
    };
    let (v, second_only) = match v.strip_suffix("/second") {
        Some(rest) => (rest, true),
        None => (v, false),
    };
    let (rest, on) = match v.strip_suffix("/tau") {
        Some(rest) => (rest, StopOn::Tau),
        None => (v, StopOn::Loss),
    };
    let (h, p) = rest.split_once('/').ok_or_else(bad)?;
    let es = EarlyStopping {
        held_out: h.trim().parse().map_err(|_| bad())?,
        patience: p.trim().parse().map_err(|_| bad())?,
        on,
        second_only,
    };
    if !(es.held_out > 0.0 && es.held_out < 1.0) || es.patience == 0 {
        return Err(format!(
            "early stopping {v}: the held-out share must be in (0, 1) and the patience at least 1"
        ));
    }
    Ok(Some(es))
}

/// The search algorithms seminas offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algo {
    /// Random search without replacement.
    Random,
    /// Regularized evolution.
    Re,
    /// NAO: encoder-predictor-decoder search without pseudo-labels.
    Nao,
    /// SemiNAS: NAO with pseudo-labelled architectures.
    SemiNas,
    /// Regularized evolution screened by the SemiNAS predictor.
    SemiNasRe,
    /// Semi-supervised ensemble predictor with Thompson sampling over scored candidates.
    SemiNasEns,
}

impl Algo {
    /// Every algorithm, in the order tables list them.
    pub const ALL: [Algo; 6] = [
        Algo::Random,
        Algo::Re,
        Algo::Nao,
        Algo::SemiNas,
        Algo::SemiNasRe,
        Algo::SemiNasEns,
    ];

    /// The algorithm's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Random => "random",
            Algo::Re => "re",
            Algo::Nao => "nao",
            Algo::SemiNas => "seminas",
            Algo::SemiNasRe => "seminas-re",
            Algo::SemiNasEns => "seminas-ens",
        }
    }

    /// The best algorithm available, used when the user names none.
    pub fn best_available() -> Algo {
        Algo::SemiNasEns
    }

    /// A fresh searcher for a search of `budget` queries, with every random choice drawn from
    /// `seed`. Some algorithms plan their rounds from the budget.
    pub fn build<S: SearchSpace>(
        self,
        space: &S,
        seed: u64,
        budget: usize,
        config: &AlgoConfig,
    ) -> Box<dyn Searcher<S>> {
        self.build_with_pool(space, seed, budget, config, None)
    }

    /// As [`Algo::build`], with the set of architectures the evaluator can evaluate (see
    /// [`evaluable_pool`]) for the algorithms that rank candidates with a predictor: SemiNAS-Ens
    /// scores it; SemiNAS, NAO and SemiNAS-RE keep their candidates in it and fill short rounds
    /// from it.
    pub fn build_with_pool<S: SearchSpace>(
        self,
        space: &S,
        seed: u64,
        budget: usize,
        config: &AlgoConfig,
        pool: Option<std::sync::Arc<[S::Arch]>>,
    ) -> Box<dyn Searcher<S>> {
        let rng = crate::rng::rng_for(seed, "searcher");
        let hidden = default_controller_hidden(space.encoding());
        let seminas = |base: SemiNasConfig| config.seminas_config(base, hidden);
        match self {
            Algo::Random => Box::new(RandomSearch::new(rng)),
            Algo::Re => Box::new(RegularizedEvolution::<S::Arch>::new(config.re, rng)),
            Algo::Nao => {
                let c = seminas(SemiNasConfig::for_budget(budget));
                Box::new(SemiNas::<S::Arch>::new(c.nao(), rng).with_pool(pool))
            }
            Algo::SemiNas => {
                let c = seminas(SemiNasConfig::for_budget(budget));
                Box::new(SemiNas::<S::Arch>::new(c, rng).with_pool(pool))
            }
            Algo::SemiNasRe => {
                let mut c = config.seminas_re.clone();
                if config.seminas_re_hidden_is_default {
                    c.controller.hidden = hidden;
                }
                Box::new(SemiNasRe::<S::Arch>::new(c, rng).with_pool(pool))
            }
            Algo::SemiNasEns => {
                let c = SemiNasEnsConfig::for_budget(budget);
                Box::new(SemiNasEns::<S::Arch>::new(c, rng, pool))
            }
        }
    }
}

impl std::str::FromStr for Algo {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Algo::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Algo::ALL.iter().map(|a| a.name()).collect();
                format!("unknown algorithm {s:?} (known: {})", names.join(", "))
            })
    }
}

impl std::fmt::Display for Algo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a searcher is told about one of its proposals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Feedback {
    /// The architecture's objective (larger is better), after a whole training.
    Objective(f64),
    /// Its training was stopped early (pruned) at `step`, where it had `objective` (larger is
    /// better). Not comparable with whole trainings' objectives; the steps before it reach
    /// the searcher through [`Searcher::tell_steps`].
    Stopped {
        /// The step it was stopped at.
        step: u64,
        /// Its objective at that step.
        objective: f64,
    },
    /// The evaluator cannot evaluate it; it cost nothing.
    NotEvaluable,
    /// Its evaluation failed.
    Failed,
}

impl Feedback {
    /// The objective, if there is one.
    pub fn objective(self) -> Option<f64> {
        match self {
            Feedback::Objective(v) => Some(v),
            _ => None,
        }
    }
}

/// A search algorithm in ask/tell form.
pub trait Searcher<S: SearchSpace>: Send {
    /// Short name, e.g. `re`.
    fn name(&self) -> &str;

    /// Proposes up to `max` architectures to evaluate next. An empty answer means the searcher
    /// has nothing left to propose (e.g. random search has seen the whole space).
    fn ask(&mut self, space: &S, max: usize) -> Vec<S::Arch>;

    /// Reports what a proposal gave. Called once for every proposal the driver evaluates or
    /// looks up, in proposal order.
    fn tell(&mut self, space: &S, arch: &S::Arch, feedback: Feedback);

    /// The intermediate results of a proposal's training (objectives signed as in
    /// [`Feedback`]: larger is better), told just before [`Searcher::tell`] when it reported
    /// any. Most searchers learn from whole trainings only and ignore them.
    fn tell_steps(&mut self, space: &S, arch: &S::Arch, steps: &[StepResult]) {
        let _ = (space, arch, steps);
    }

    /// The searcher's own rules for stopping the trainings of its latest [`Searcher::ask`]'s
    /// proposals early, in the same order (see [`crate::evaluator::fidelity`]); `None` for a
    /// proposal it has no rule for. Empty (the default) when it has none: the run's pruner,
    /// if any, decides. Thresholds are on objectives signed as in [`Feedback`].
    fn take_stop_rules(&mut self) -> Vec<Option<StopRule>> {
        Vec::new()
    }

    /// The steps evaluations will report (the evaluator's fidelities), told once before the
    /// first [`Searcher::ask`] when the search runs with fidelities.
    fn set_fidelities(&mut self, fidelities: &Fidelities) {
        let _ = fidelities;
    }

    /// Named snapshots produced since the last call (e.g. trained controller weights as
    /// safetensors), for the run store. Most searchers have none.
    fn take_checkpoints(&mut self) -> Vec<(String, Vec<u8>)> {
        Vec::new()
    }

    /// What the searcher knows of the proposals of its latest [`Searcher::ask`], in the same
    /// order (where they came from, what its predictor expected). Informative only: it never
    /// changes what is proposed. Empty when the searcher says nothing.
    fn take_annotations(&mut self) -> Vec<ProposalInfo> {
        Vec::new()
    }

    /// Gives the searcher a handle on which it names what it is doing during long steps
    /// (e.g. training its controller), for progress reports while [`Searcher::ask`] runs.
    fn watch(&mut self, phase: Phase) {
        let _ = phase;
    }
}

/// Where a proposal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The random start of an algorithm (initial population, initial samples).
    Initial,
    /// Drawn at random outside a start (random search, or a fallback).
    Random,
    /// A mutation of an evaluated architecture (evolution).
    Mutated,
    /// Generated by a predictor-guided round (SemiNAS, NAO; numbered from 1).
    Generated {
        /// The round.
        round: usize,
    },
    /// Chosen by scoring candidates with a predictor in a round (SemiNAS-Ens).
    Scored {
        /// The round.
        round: usize,
    },
    /// Put in front of the searcher's proposals by the user.
    Enqueued,
    /// Taken from the evaluable set (a table) by the predictor's ranking, because the round's
    /// generation or mutation gave too few architectures the table holds (SemiNAS, NAO,
    /// SemiNAS-RE; numbered as their rounds or trainings).
    Ranked {
        /// The round.
        round: usize,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Initial => f.write_str("initial"),
            Origin::Random => f.write_str("random"),
            Origin::Mutated => f.write_str("mutated"),
            Origin::Generated { round } => write!(f, "round {round} generated"),
            Origin::Scored { round } => write!(f, "round {round} scored"),
            Origin::Enqueued => f.write_str("enqueued"),
            Origin::Ranked { round } => write!(f, "round {round} ranked from the table"),
        }
    }
}

impl serde::Serialize for Origin {
    fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        s.collect_str(self)
    }
}

/// What a searcher says of one proposal (see [`Searcher::take_annotations`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProposalInfo {
    /// Where it came from, if the searcher says.
    pub origin: Option<Origin>,
    /// The objective its predictor expected, if a predictor chose it (in the objective's
    /// units, before the evaluation).
    pub predicted: Option<f64>,
}

impl ProposalInfo {
    /// A proposal of `origin` without prediction.
    pub fn of(origin: Origin) -> Self {
        Self {
            origin: Some(origin),
            predicted: None,
        }
    }
}

/// What a search is doing now, shared between the thread that runs it and those that report
/// on it (a cheap clone of one shared text).
#[derive(Debug, Clone, Default)]
pub struct Phase(std::sync::Arc<std::sync::Mutex<String>>);

impl Phase {
    /// Names what the search does from now on.
    pub fn set(&self, what: impl Into<String>) {
        if let Ok(mut p) = self.0.lock() {
            *p = what.into();
        }
    }

    /// What the search is doing (empty before anything was said).
    pub fn get(&self) -> String {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl AlgoConfig {
    /// Checks the settings of every algorithm.
    pub fn validate(&self) -> Result<(), SettingError> {
        self.re.validate()?;
        self.seminas.validate()?;
        self.seminas_re.validate()
    }
}

#[cfg(test)]
mod tests;
