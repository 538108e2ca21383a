//! `seminas._seminas.Proposer`: one proposal of a search algorithm from a history, for the
//! Optuna sampler (`seminas/optuna.py`). Each call builds a fresh searcher seeded by the
//! caller, tells it every complete result, and asks until it proposes an architecture that is
//! neither evaluated nor to be avoided (pruned or running trials). Nothing that depends on
//! the history is kept between calls (the space's listing is, and a round's first answer for
//! the same inputs), so a study resumed in another process, or sampled from several threads
//! at once, gets what one uninterrupted process would get for the same history.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use seminas::rng::rng_for;
use seminas::search::{
    Algo, AlgoConfig, Feedback, Listing, RandomSearch, Searcher, SemiNasConfig, SemiNasEns,
    SemiNasEnsConfig,
};
use seminas::space::{CategoricalArch, CategoricalSpace, Position, SearchSpace};

/// Spaces up to this size are listed once and every architecture not evaluated is scored; a
/// larger space is sampled each trial (listing it each trial would cost more than the rest).
const LIST_LIMIT: usize = 50_000;

/// Proposals of a searcher that cost nothing (known or avoided) before the proposer gives
/// up on it and draws at random among the architectures left.
const MAX_FREE_ASKS: usize = 1000;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Proposes architectures of a categorical space (positions of choice indices) with one of
/// the seminas algorithms.
#[pyclass(module = "seminas._seminas", frozen)]
pub struct Proposer {
    space: CategoricalSpace,
    algo: Algo,
    config: AlgoConfig,
    budget: usize,
    /// Every architecture, when the space is small enough to list.
    all: Option<Arc<[CategoricalArch]>>,
    /// SemiNAS-Ens's listing of `all` (features and keys), made at its first round and
    /// shared by every round's searcher.
    listing: std::sync::OnceLock<Arc<Listing<CategoricalArch>>>,
    /// The last call's inputs and its searcher's first answer: the next trial of the same
    /// round asks with the same inputs, and gets the same answer without a new fit.
    last: Mutex<Option<(Inputs, Vec<CategoricalArch>)>>,
}

/// What a proposal depends on, besides the current round's evaluated architectures.
#[derive(PartialEq)]
struct Inputs {
    seed: u64,
    startup: bool,
    complete: Vec<(CategoricalArch, u64)>,
    pruned: Vec<(CategoricalArch, u64, u64)>,
    avoid: Vec<CategoricalArch>,
}

impl Proposer {
    fn arch(&self, choices: Vec<u16>) -> PyResult<CategoricalArch> {
        let arch = CategoricalArch(choices.into());
        self.space.validate(&arch).map_err(value_error)?;
        Ok(arch)
    }

    /// The searcher of the model phase (`startup`: random search). `pool`: the candidates
    /// of a space too large to list (SemiNAS-Ens).
    fn searcher(
        &self,
        seed: u64,
        startup: bool,
        pool: Option<Arc<[CategoricalArch]>>,
    ) -> Box<dyn Searcher<CategoricalSpace>> {
        if startup {
            return Box::new(RandomSearch::new(rng_for(seed, "sampler-startup")));
        }
        match self.algo {
            // The random phase is the sampler's startup; every call is one round, whose
            // first proposal not evaluated yet is the answer (see `round_size`).
            Algo::SemiNasEns => {
                let config = SemiNasEnsConfig {
                    init: 0,
                    ..SemiNasEnsConfig::for_budget(self.budget)
                };
                let rng = rng_for(seed, "searcher");
                // A listed space is listed once; the searcher is told what is evaluated or
                // avoided, so it scores the rest, in the listing's order.
                Box::new(match &self.all {
                    Some(all) => {
                        let listing = self.listing.get_or_init(|| {
                            Arc::new(Listing::new(&self.space, all.clone(), config.pairs))
                        });
                        SemiNasEns::with_listing(config, rng, listing.clone())
                    }
                    None => SemiNasEns::<CategoricalArch>::new(config, rng, pool),
                })
            }
            Algo::Nao | Algo::SemiNas => {
                let mut config = self.config.clone();
                config.seminas.init = Some(0);
                self.algo.build(&self.space, seed, self.budget, &config)
            }
            algo => algo.build(&self.space, seed, self.budget, &self.config),
        }
    }
}

#[pymethods]
impl Proposer {
    /// `choices`: the names of each position's choices (position `i` is named `p{i}`).
    /// `algo`, `budget` and `settings` (JSON) as `seminas.Study` takes them.
    #[new]
    fn new(
        py: Python<'_>,
        choices: Vec<Vec<String>>,
        algo: &str,
        budget: usize,
        settings: &str,
    ) -> PyResult<Self> {
        let algo: Algo = algo.parse().map_err(value_error)?;
        let config = super::algo_config(algo, settings)?;
        if budget == 0 {
            return Err(value_error("budget must be at least 1"));
        }
        let positions = choices
            .into_iter()
            .enumerate()
            .map(|(i, choices)| Position {
                name: format!("p{i}"),
                choices,
            })
            .collect();
        let space = CategoricalSpace::new("optuna", positions).map_err(value_error)?;
        let all = py.detach(|| space.enumerate(LIST_LIMIT).map(Arc::from));
        Ok(Self {
            space,
            algo,
            config,
            budget,
            all,
            listing: std::sync::OnceLock::new(),
            last: Mutex::new(None),
        })
    }

    /// Number of architectures.
    #[getter]
    fn cardinality(&self) -> u128 {
        self.space.size()
    }

    /// Architectures the algorithm chooses per round from one fit of its predictor, as in
    /// `seminas search` with the same budget (1 for the algorithms without rounds).
    #[getter]
    fn round_size(&self) -> usize {
        match self.algo {
            Algo::SemiNasEns => SemiNasEnsConfig::for_budget(self.budget).per_round,
            Algo::Nao | Algo::SemiNas => {
                let defaults = SemiNasConfig::for_budget(self.budget);
                let hidden = defaults.controller.hidden;
                self.config.seminas_config(defaults, hidden).per_round
            }
            _ => 1,
        }
        .max(1)
    }

    /// The next architecture (choice indices), or None when every architecture is evaluated
    /// or avoided. `complete`: evaluated architectures with their objective (larger is better),
    /// in the order they were evaluated; `avoid`: architectures not to propose (pruned or
    /// running); `round`: architectures of the current round evaluated since `complete`
    /// (not learnt, not proposed: the round's next choice is wanted); `startup`: draw at
    /// random instead of asking the algorithm; `pruned`: architectures whose trials were
    /// pruned, with the step and value of their last report (larger is better), which the
    /// algorithm learns as trainings stopped early. Deterministic in its arguments.
    #[pyo3(signature = (seed, startup, complete, avoid, round, pruned=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn propose(
        &self,
        py: Python<'_>,
        seed: u64,
        startup: bool,
        complete: Vec<(Vec<u16>, f64)>,
        avoid: Vec<Vec<u16>>,
        round: Vec<Vec<u16>>,
        pruned: Vec<(Vec<u16>, u64, f64)>,
    ) -> PyResult<Option<Vec<u16>>> {
        let pruned = pruned
            .into_iter()
            .map(|(c, step, v)| {
                if !v.is_finite() {
                    return Err(value_error(format!("a pruned value {v} is not finite")));
                }
                Ok((self.arch(c)?, step, v))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let complete = complete
            .into_iter()
            .map(|(c, v)| {
                if !v.is_finite() {
                    return Err(value_error(format!("objective {v} is not finite")));
                }
                Ok((self.arch(c)?, v))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let archs = |list: Vec<Vec<u16>>| {
            list.into_iter()
                .map(|c| self.arch(c))
                .collect::<PyResult<Vec<_>>>()
        };
        let (avoid, round) = (archs(avoid)?, archs(round)?);
        let out =
            py.detach(|| self.propose_arch(seed, startup, &complete, &pruned, &avoid, &round));
        Ok(out.map(|a| a.0.into_vec()))
    }
}

impl Proposer {
    fn propose_arch(
        &self,
        seed: u64,
        startup: bool,
        complete: &[(CategoricalArch, f64)],
        pruned: &[(CategoricalArch, u64, f64)],
        avoid: &[CategoricalArch],
        round: &[CategoricalArch],
    ) -> Option<CategoricalArch> {
        // A pruned architecture is not proposed again either.
        let mut avoid_all: Vec<CategoricalArch> = pruned.iter().map(|p| p.0.clone()).collect();
        avoid_all.extend_from_slice(avoid);
        let avoid = &avoid_all[..];
        let mut known: HashMap<&CategoricalArch, f64> = HashMap::new();
        for (a, v) in complete {
            known.entry(a).or_insert(*v);
        }
        let avoided: HashSet<&CategoricalArch> = avoid.iter().collect();
        let in_round: HashSet<&CategoricalArch> = round.iter().collect();
        let free = |a: &CategoricalArch| {
            !known.contains_key(a) && !avoided.contains(a) && !in_round.contains(a)
        };
        let inputs = Inputs {
            seed,
            startup,
            complete: complete
                .iter()
                .map(|(a, v)| (a.clone(), v.to_bits()))
                .collect(),
            pruned: pruned
                .iter()
                .map(|(a, s, v)| (a.clone(), *s, v.to_bits()))
                .collect(),
            avoid: avoid.to_vec(),
        };
        if let Ok(last) = self.last.lock()
            && let Some((before, first)) = last.as_ref()
            && *before == inputs
            && let Some(a) = first.iter().find(|a| free(a))
        {
            // The searcher would be built, told and asked exactly as before: the first of its
            // answers not taken is what it would propose again.
            return Some(a.clone());
        }
        // What is left, when the space can be listed: the set a stuck searcher falls back to.
        let left = || -> Option<Vec<&CategoricalArch>> {
            self.all
                .as_ref()
                .map(|all| all.iter().filter(|a| free(a)).collect())
        };
        // Nothing left: no searcher to build (the count rules the scan out cheaply).
        if let Some(all) = &self.all
            && known.len() + avoided.len() >= all.len()
            && !all.iter().any(free)
        {
            return None;
        }
        // SemiNAS-Ens scores a pool: a listed space (the searcher is told what is taken), else
        // candidates drawn here as it draws them for a space too large to list (random
        // architectures plus every one-choice change of the best evaluated ones), so that it
        // never lists it.
        let pool = match (&self.all, self.algo, startup) {
            (None, Algo::SemiNasEns, false) => Some(self.sampled_pool(seed, complete, |a| {
                !known.contains_key(a) && !avoided.contains(a)
            })),
            _ => None,
        };
        let mut searcher = self.searcher(seed, startup, pool);
        for (a, v) in complete {
            searcher.tell(&self.space, a, Feedback::Objective(*v));
        }
        for (a, step, v) in pruned {
            searcher.tell(
                &self.space,
                a,
                Feedback::Stopped {
                    step: *step,
                    objective: *v,
                },
            );
        }
        for a in &avoid[pruned.len()..] {
            searcher.tell(&self.space, a, Feedback::NotEvaluable);
        }
        let size = self.round_size();
        let mut inputs_slot = Some(inputs);
        let mut asked = 0;
        while asked < MAX_FREE_ASKS {
            let proposals = searcher.ask(&self.space, size);
            if proposals.is_empty() {
                break;
            }
            // The first answer of a round-based searcher is kept for the round's next trial.
            if size > 1
                && let Some(inputs) = inputs_slot.take()
                && let Ok(mut last) = self.last.lock()
            {
                *last = Some((inputs, proposals.clone()));
            }
            asked += proposals.len();
            for a in proposals {
                if let Some(v) = known.get(&a) {
                    // A repeat costs nothing, as in a search; the searcher hears its result.
                    searcher.tell(&self.space, &a, Feedback::Objective(*v));
                } else if avoided.contains(&a) {
                    searcher.tell(&self.space, &a, Feedback::NotEvaluable);
                } else if !in_round.contains(&a) {
                    return Some(a);
                }
            }
        }
        // The searcher is exhausted or stuck on known architectures: a random one of those left.
        match left() {
            Some(left) => (!left.is_empty())
                .then(|| left[(splitmix64(seed) % left.len() as u64) as usize].clone()),
            None => {
                let mut random = RandomSearch::new(rng_for(seed, "sampler-stuck"));
                while let Some(a) = random.draw(&self.space) {
                    if free(&a) {
                        return Some(a);
                    }
                }
                None
            }
        }
    }
}

impl Proposer {
    /// Candidates of a space too large to list: every one-choice change of the `top_k` best
    /// evaluated architectures and `max_candidates` random ones, all passing `fresh`.
    fn sampled_pool(
        &self,
        seed: u64,
        complete: &[(CategoricalArch, f64)],
        fresh: impl Fn(&CategoricalArch) -> bool,
    ) -> Arc<[CategoricalArch]> {
        let config = SemiNasEnsConfig::for_budget(self.budget);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut best: Vec<&(CategoricalArch, f64)> = complete.iter().collect();
        best.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (a, _) in best.into_iter().take(config.top_k) {
            for (p, position) in self.space.positions().iter().enumerate() {
                for c in 0..position.choices.len() as u16 {
                    let mut m = a.0.clone();
                    m[p] = c;
                    let m = CategoricalArch(m);
                    if fresh(&m) && seen.insert(m.clone()) {
                        out.push(m);
                    }
                }
            }
        }
        let want = out.len() + config.max_candidates;
        let mut rng = rng_for(seed, "sampler-candidates");
        for _ in 0..config.max_candidates * 2 {
            if out.len() >= want {
                break;
            }
            let a = self.space.sample(&mut rng);
            if fresh(&a) && seen.insert(a.clone()) {
                out.push(a);
            }
        }
        out.into()
    }
}

/// A well-mixed 64-bit hash of `x` (SplitMix64's finaliser), for one seeded pick.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
