//! SemiNAS-Ens: semi-supervised search with an ensemble predictor and Thompson sampling.
//!
//! The paper's idea (a predictor trained on few evaluated architectures plus many
//! pseudo-labelled ones decides what to evaluate next) with three changes that make it both
//! better and about a hundred times cheaper per round, each measured on NAS-Bench-201 and
//! the NAS-Bench-101 sample (see docs/benchmarks.md):
//! - the predictor is an ensemble of small MLPs over the one-hot token encoding
//!   ([`crate::predictor::mlp`]): fast to train from scratch every round, and its spread says
//!   where it is unsure;
//! - candidates are scored, not generated: the whole evaluable set when the evaluator can only
//!   evaluate a known set (a table, [`super::pool`]) or when the space is small enough to list,
//!   otherwise random architectures plus mutations of the best evaluated ones;
//! - the next architectures are the candidates with the best predicted mean while that pays;
//!   once the best objective has not improved for `patience` evaluations (the ensemble is sure
//!   of a basin that has stopped giving), the search explores by independent Thompson sampling
//!   (BANANAS, White et al. 2021): each candidate draws a value from a normal with the
//!   ensemble's mean and spread, and the best draws are evaluated. Greedy alone reaches the
//!   optimum fastest but stays in a basin in about one run in twenty; Thompson sampling alone
//!   explores too much for a budget of 50.
//!
//! Pseudo-labels (`pseudo > 0`): after the fit on the evaluated pairs, unevaluated candidates
//! are labelled with the ensemble mean and the ensemble is fitted again on both, each
//! pseudo-label weighted down by the ensemble's disagreement on it.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use rand::Rng as _;

use super::multi_fidelity::{MultiFidelity, MultiFidelityConfig};
use super::pool::ENUMERATE_LIMIT;
use super::random::KeyHash;
use super::{Feedback, Origin, Phase, ProposalInfo, RandomSearch, Searcher};
use crate::evaluator::{Fidelities, StepResult, StopRule};
use crate::predictor::mlp::{MlpConfig, OneHot};
use crate::predictor::round_model::{EnsembleModel, GpModel, RoundModel};
use crate::predictor::targets::{normalize_targets, target_scale};
use crate::rng::Rng;
use crate::space::SearchSpace;

/// Most memory one round's candidates take (about 16 bytes per position each).
const CANDIDATE_BYTES: usize = 256 << 20;
/// Fewest candidates a round scores, however wide the space.
const MIN_CANDIDATES: usize = 100;

/// How the next architectures are picked from the scored candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Acquisition {
    /// Independent Thompson sampling: one normal draw per candidate from the ensemble's mean
    /// and standard deviation; the best draws win.
    Thompson,
    /// Upper confidence bound: mean plus `kappa` standard deviations.
    Ucb(f32),
    /// The ensemble mean alone (pure exploitation).
    Mean,
    /// The mean while it pays; Thompson sampling once the best objective has not improved
    /// for `patience` evaluations (the search is stuck in a basin the ensemble is sure of).
    Adaptive {
        /// Evaluations without improvement before exploring.
        patience: usize,
    },
    /// Mean and Thompson sampling in alternate rounds.
    Alternate,
    /// Expected improvement over the best evaluated objective.
    Ei,
}

/// The predictor that scores candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Surrogate {
    /// The MLP ensemble ([`crate::predictor::mlp`]): mean and spread of its members.
    Ensemble,
    /// A Gaussian process with the ARD Hamming kernel ([`crate::predictor::gp`]), refitted
    /// every round with this many steps of its hyperparameters (warm-started).
    Gp {
        /// Hyperparameter steps per round.
        steps: usize,
    },
}

/// Settings of SemiNAS-Ens.
#[derive(Debug, Clone, PartialEq)]
pub struct SemiNasEnsConfig {
    /// Random architectures evaluated first.
    pub init: usize,
    /// Architectures chosen per round (the ensemble is refitted between rounds).
    pub per_round: usize,
    /// The ensemble.
    pub mlp: MlpConfig,
    /// Pseudo-labelled architectures per round (0: supervised only).
    pub pseudo: usize,
    /// Weight of a pseudo-label the ensemble fully agrees on, relative to an evaluated pair.
    pub pseudo_weight: f32,
    /// The acquisition function.
    pub acquisition: Acquisition,
    /// At most this many candidates are scored per round; a larger evaluable set or space is
    /// subsampled (plus mutations of the best).
    pub max_candidates: usize,
    /// Evaluated architectures whose mutations join the candidates.
    pub top_k: usize,
    /// Mutations of each of them.
    pub mutations: usize,
    /// Objectives below this quantile of the evaluated ones are raised to it before
    /// normalisation (see [`normalize_targets`]).
    pub clip_quantile: f64,
    /// Also give the ensemble the pairwise interactions of the tokens as features
    /// ([`OneHot::with_pairs`]). Off: on NAS-Bench-201 it did not help and doubled the time
    /// (docs/search.md).
    pub pairs: bool,
    /// The predictor.
    pub surrogate: Surrogate,
    /// With fidelities (a search that may stop trainings early): how the predictor learns
    /// from them and when trainings are stopped.
    pub multi_fidelity: MultiFidelityConfig,
}

impl SemiNasEnsConfig {
    /// Defaults for a search of `budget` queries: a tenth of the budget at random (at least
    /// 10, but never more than half of a small budget, so that `--queries 10` still has
    /// predictor rounds), then rounds of about a fiftieth (at least 1).
    pub fn for_budget(budget: usize) -> Self {
        Self {
            init: (budget / 10)
                .max((budget / 2).min(10))
                .clamp(1, budget.max(1)),
            per_round: (budget / 50).max(1),
            mlp: MlpConfig::default(),
            pseudo: 0,
            pseudo_weight: 0.3,
            acquisition: Acquisition::Adaptive { patience: 15 },
            max_candidates: 20_000,
            top_k: 10,
            mutations: 20,
            clip_quantile: 0.5,
            pairs: false,
            surrogate: Surrogate::Ensemble,
            multi_fidelity: MultiFidelityConfig::default(),
        }
    }
}

/// Every architecture a search may propose, listed once with each one's features and key
/// (NAS-Bench-101 keys are MD5 hashes: computing 20,001 of them every round would dominate
/// the search's time). Shared, so that searchers made afresh for every round (the Optuna
/// sampler's) list a space once: [`SemiNasEns::with_listing`].
pub struct Listing<A> {
    archs: Arc<[A]>,
    /// Every entry's features, one after another: entry `i`'s end at `ends[i]` (flat, and
    /// keys only as hashes: a table of millions of rows is listed once).
    feats: Vec<u32>,
    ends: Vec<usize>,
    hashes: Vec<KeyHash>,
    index: std::collections::HashMap<KeyHash, usize>,
    /// Whether the features include the pairwise ones ([`SemiNasEnsConfig::pairs`]).
    pairs: bool,
}

impl<A> Listing<A> {
    /// Lists `archs` of `space` with the features of a searcher whose
    /// [`SemiNasEnsConfig::pairs`] is `pairs`.
    pub fn new<S: SearchSpace<Arch = A>>(space: &S, archs: Arc<[A]>, pairs: bool) -> Self {
        let onehot = one_hot(space, pairs);
        let mut feats = Vec::new();
        let mut ends = Vec::with_capacity(archs.len());
        let mut hashes = Vec::with_capacity(archs.len());
        let mut index = std::collections::HashMap::with_capacity(archs.len());
        for (i, a) in archs.iter().enumerate() {
            let hash = KeyHash::of(&space.key(a));
            // The last entry of a key wins, as in the map of keys before.
            index.insert(hash, i);
            hashes.push(hash);
            feats.extend(onehot.features(&space.encode(a)));
            ends.push(feats.len());
        }
        feats.shrink_to_fit();
        Self {
            archs,
            feats,
            ends,
            hashes,
            index,
            pairs,
        }
    }

    /// Entry `i`'s features.
    fn feats(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.feats[start..self.ends[i]]
    }
    /// The entry of the architecture whose key is `key`.
    fn find(&self, key: &str) -> Option<usize> {
        self.index.get(&KeyHash::of(key)).copied()
    }
}

/// A listing and what one searcher has proposed of it.
struct Listed<A> {
    base: Arc<Listing<A>>,
    /// Proposed already.
    taken: Vec<bool>,
    /// How many are not taken.
    left: usize,
}

impl<A> std::ops::Deref for Listed<A> {
    type Target = Listing<A>;
    fn deref(&self) -> &Listing<A> {
        &self.base
    }
}

/// A candidate of a round: an entry of the listing, or an architecture made for the round.
enum Cand<A> {
    Listed(usize),
    Fresh(A, Vec<u32>),
}

/// The SemiNAS-Ens searcher.
pub struct SemiNasEns<A> {
    config: SemiNasEnsConfig,
    rng: Rng,
    random: RandomSearch,
    /// The evaluable set, if the evaluator has one.
    pool: Option<Arc<[A]>>,
    /// The pool, or the whole space when it can be listed; `Some(None)` once known unlistable.
    listed: Option<Option<Listed<A>>>,
    /// A listing made elsewhere ([`Self::with_listing`]), used when it is first needed.
    shared: Option<Arc<Listing<A>>>,
    onehot: Option<OneHot>,
    /// The predictor, made at the first round and refitted every round (the Gaussian
    /// process warm-starts its hyperparameters from the last round's).
    model: Option<Box<dyn RoundModel>>,
    evaluated: Vec<(A, Vec<u32>, f64)>,
    evaluated_keys: HashSet<String>,
    proposed: HashSet<String>,
    /// Chosen candidates to propose, with their round and predicted objective.
    queue: VecDeque<(A, ProposalInfo)>,
    /// What the latest ask proposed.
    annotations: Vec<ProposalInfo>,
    phase: Phase,
    init_proposed: usize,
    /// Rounds run so far.
    pub rounds: usize,
    /// With fidelities: every objective of every trial, by fidelity.
    mf: Option<MultiFidelity>,
    /// Stop rules of the latest ask's proposals.
    rules: Vec<Option<StopRule>>,
    /// Without fidelities: architectures whose training a pruner stopped, with their
    /// features. They are known to be worse than most (a pruner stops the worse part of a
    /// rung), so they are fitted at the lowest whole training's objective, as TPE puts
    /// pruned trials in its "bad" group.
    stopped: Vec<Vec<u32>>,
}

impl<A: Clone + Send + Sync> SemiNasEns<A> {
    /// A searcher with its own random stream; `pool`, when given, is the set of architectures
    /// the evaluator can evaluate (see [`super::pool::evaluable_pool`]).
    pub fn new(config: SemiNasEnsConfig, rng: Rng, pool: Option<Arc<[A]>>) -> Self {
        let mut init_rng = rng.clone();
        init_rng.set_stream(init_rng.get_stream() ^ 0x5eed);
        Self {
            config,
            rng,
            random: RandomSearch::new(init_rng),
            pool,
            listed: None,
            shared: None,
            onehot: None,
            model: None,
            evaluated: Vec::new(),
            evaluated_keys: HashSet::new(),
            proposed: HashSet::new(),
            queue: VecDeque::new(),
            annotations: Vec::new(),
            phase: Phase::default(),
            init_proposed: 0,
            rounds: 0,
            mf: None,
            rules: Vec::new(),
            stopped: Vec::new(),
        }
    }

    /// A random architecture never proposed: from the listing (the evaluable pool, or the
    /// listed space) when there is one, so that a table and a listed space give the same run.
    fn draw_random<S: SearchSpace<Arch = A>>(&mut self, space: &S) -> Option<A> {
        self.listing(space);
        if let Some(l) = self.listed.as_ref().and_then(Option::as_ref) {
            if l.left == 0 {
                return None;
            }
            // Rejection sampling while most of the listing is fresh, a scan after that.
            for _ in 0..64 {
                let i = self.rng.gen_range(0..l.archs.len());
                if !l.taken[i] {
                    return Some(l.archs[i].clone());
                }
            }
            let k = self.rng.gen_range(0..l.left);
            let i = (0..l.archs.len()).filter(|&i| !l.taken[i]).nth(k)?;
            return Some(l.archs[i].clone());
        }
        while let Some(a) = self.random.draw(space) {
            if !self.proposed.contains(&space.key(&a)) {
                return Some(a);
            }
        }
        None
    }

    /// A searcher that proposes among `listing`'s architectures (its evaluable pool), as
    /// [`Self::new`] with that pool would, without listing it again.
    pub fn with_listing(config: SemiNasEnsConfig, rng: Rng, listing: Arc<Listing<A>>) -> Self {
        let mut s = Self::new(config, rng, Some(listing.archs.clone()));
        s.shared = Some(listing);
        s
    }

    /// Lists the evaluable pool, or the whole space when it is small enough, once.
    fn listing<S: SearchSpace<Arch = A>>(&mut self, space: &S) -> Option<&Listed<A>> {
        if self.listed.is_none() {
            let pairs = self.config.pairs;
            let base = match self.shared.take() {
                Some(shared) if shared.pairs == pairs => Some(shared),
                _ => {
                    let all: Option<Arc<[A]>> = match &self.pool {
                        Some(p) => Some(p.clone()),
                        None => space.enumerate(ENUMERATE_LIMIT).map(Into::into),
                    };
                    all.map(|all| Arc::new(Listing::new(space, all, pairs)))
                }
            };
            let proposed: HashSet<KeyHash> = self.proposed.iter().map(|k| KeyHash::of(k)).collect();
            self.listed = Some(base.map(|base| {
                let taken: Vec<bool> = base.hashes.iter().map(|h| proposed.contains(h)).collect();
                let left = taken.iter().filter(|t| !**t).count();
                Listed { base, taken, left }
            }));
        }
        self.listed.as_ref().and_then(Option::as_ref)
    }

    /// The ensemble's input layout for `space`, made once.
    fn onehot<S: SearchSpace<Arch = A>>(&mut self, space: &S) -> &OneHot {
        let pairs = self.config.pairs;
        self.onehot.get_or_insert_with(|| one_hot(space, pairs))
    }

    /// Marks `key` as proposed.
    fn mark(&mut self, key: String) {
        if let Some(Some(l)) = &mut self.listed
            && let Some(i) = l.find(&key)
            && !l.taken[i]
        {
            l.taken[i] = true;
            l.left -= 1;
        }
        self.proposed.insert(key);
    }

    /// This round's candidates: never proposed, evaluable where that is known.
    fn candidates<S: SearchSpace<Arch = A>>(&mut self, space: &S) -> Vec<Cand<A>> {
        // Each candidate holds its architecture, features and key, all as long as the
        // architecture: on wide spaces the round's candidates are fewer, so that they take
        // at most CANDIDATE_BYTES (2,000 two-way positions took 616 MB, 8,000 did not fit 2 GB).
        let per = 16 * self.onehot(space).positions() + 64;
        let max = self
            .config
            .max_candidates
            .min((CANDIDATE_BYTES / per).max(MIN_CANDIDATES));
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut rng = self.rng.clone();
        let listing = self.listing(space);
        if let Some(l) = listing {
            if l.left <= max {
                out.extend(
                    (0..l.archs.len())
                        .filter(|&i| !l.taken[i])
                        .map(Cand::Listed),
                );
                return out;
            }
            for _ in 0..max * 2 {
                if out.len() >= max {
                    break;
                }
                let i = rng.gen_range(0..l.archs.len());
                if !l.taken[i] && seen.insert(i) {
                    out.push(Cand::Listed(i));
                }
            }
        }
        let listed = listing.is_some();
        let onehot = self.onehot.clone().expect("set by listing");
        let mut seen_keys = HashSet::new();
        if !listed {
            for _ in 0..max * 2 {
                if out.len() >= max {
                    break;
                }
                let a = space.sample(&mut rng);
                let k = space.key(&a);
                if space.validate(&a).is_ok() && !self.proposed.contains(&k) && seen_keys.insert(k)
                {
                    let f = onehot.features(&space.encode(&a));
                    out.push(Cand::Fresh(a, f));
                }
            }
        }
        // Mutations of the best evaluated architectures (within the listing, if any).
        let mut best: Vec<&(A, Vec<u32>, f64)> = self.evaluated.iter().collect();
        best.sort_by(|a, b| b.2.total_cmp(&a.2));
        let listing = self.listed.as_ref().and_then(Option::as_ref);
        for (a, _, _) in best.into_iter().take(self.config.top_k) {
            for _ in 0..self.config.mutations {
                let m = space.mutate(a, &mut rng);
                let k = space.key(&m);
                if self.proposed.contains(&k) {
                    continue;
                }
                match listing {
                    Some(l) => {
                        if let Some(i) = l.find(&k)
                            && seen.insert(i)
                        {
                            out.push(Cand::Listed(i));
                        }
                    }
                    None => {
                        if space.validate(&m).is_ok() && seen_keys.insert(k) {
                            let f = onehot.features(&space.encode(&m));
                            out.push(Cand::Fresh(m, f));
                        }
                    }
                }
            }
        }
        self.rng = rng;
        out
    }

    /// Evaluations told since the best objective last improved.
    fn since_improvement(&self) -> usize {
        let mut best = f64::NEG_INFINITY;
        let mut at = 0;
        for (i, e) in self.evaluated.iter().enumerate() {
            if e.2 > best {
                best = e.2;
                at = i;
            }
        }
        self.evaluated.len().saturating_sub(at + 1)
    }

    fn round<S: SearchSpace<Arch = A>>(&mut self, space: &S) {
        self.rounds += 1;
        let round = self.rounds;
        self.phase
            .set(format!("SemiNAS-Ens round {round}: fitting the ensemble"));
        let values: Vec<f64> = self.evaluated.iter().map(|e| e.2).collect();
        let (feats, targets, weights, unscale): (_, _, _, Box<dyn Fn(f32) -> Option<f64>>) =
            match &self.mf {
                // Whole trainings and trainings stopped at the probe, standardised.
                Some(mf) => {
                    let (f, t, w) = mf.training_set();
                    let scale = mf.whole_scale();
                    let unscale = move |z: f32| scale.map(|(m, s)| m + s * f64::from(z));
                    (f, t, w, Box::new(unscale))
                }
                None => {
                    let mut f: Vec<Vec<u32>> = self.evaluated.iter().map(|e| e.1.clone()).collect();
                    let mut v = values.clone();
                    if let Some(low) = values.iter().copied().reduce(f64::min) {
                        for s in &self.stopped {
                            f.push(s.clone());
                            v.push(low);
                        }
                    }
                    let t = normalize_targets(&v, self.config.clip_quantile);
                    let w = vec![1.0; f.len()];
                    let u = target_scale(&values, self.config.clip_quantile);
                    (f, t, w, Box::new(move |z| Some(u(z))))
                }
            };

        let candidates = self.candidates(space);
        if candidates.is_empty() {
            return;
        }
        let listing = self.listed.as_ref().and_then(Option::as_ref);
        let cand_feats: Vec<&[u32]> = candidates
            .iter()
            .map(|c| match c {
                Cand::Listed(i) => listing.expect("listed candidates").feats(*i),
                Cand::Fresh(_, f) => &f[..],
            })
            .collect();

        let acquisition = match self.config.acquisition {
            Acquisition::Adaptive { patience } => {
                if self.since_improvement() >= patience {
                    Acquisition::Thompson
                } else {
                    Acquisition::Mean
                }
            }
            Acquisition::Alternate if self.rounds.is_multiple_of(2) => Acquisition::Thompson,
            Acquisition::Alternate => Acquisition::Mean,
            a => a,
        };
        let (config, onehot) = (&self.config, &self.onehot);
        let model = self.model.get_or_insert_with(|| match config.surrogate {
            Surrogate::Gp { steps } => {
                Box::new(GpModel::new(space.encoding().len(), steps.max(100), steps))
            }
            Surrogate::Ensemble => Box::new(EnsembleModel::new(
                onehot.clone().expect("made by `candidates`"),
                config.mlp.clone(),
                config.pseudo,
                config.pseudo_weight,
            )),
        });
        model.fit(&feats, &targets, &weights, &cand_feats, &mut self.rng);
        let scores: Vec<(f32, f32)> = model
            .predict(&cand_feats)
            .into_iter()
            .map(|(m, s)| (m as f32, s as f32))
            .collect();
        let mut order: Vec<(f32, usize)> = match acquisition {
            Acquisition::Thompson => scores
                .iter()
                .enumerate()
                .map(|(i, &(m, s))| {
                    let z = standard_normal(&mut self.rng);
                    (m + s * z, i)
                })
                .collect(),
            Acquisition::Ei => {
                let best = targets.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                scores
                    .iter()
                    .enumerate()
                    .map(|(i, &(m, s))| (expected_improvement(m, s, best), i))
                    .collect()
            }
            Acquisition::Ucb(kappa) => scores
                .iter()
                .enumerate()
                .map(|(i, &(m, s))| (m + kappa * s, i))
                .collect(),
            _ => scores
                .iter()
                .enumerate()
                .map(|(i, &(m, _))| (m, i))
                .collect(),
        };
        // Best first, ties to the earlier candidate; only the top `per_round` are ordered.
        let by_score = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        // With fidelities most trials are cheap: a round chooses for a twentieth of the trials
        // told so far, so that the fits do not grow with the square of the trials.
        let per_round = match &self.mf {
            Some(mf) => self.config.per_round.max(mf.told() / 20),
            None => self.config.per_round,
        };
        let k = per_round.clamp(1, order.len());
        if k < order.len() {
            order.select_nth_unstable_by(k - 1, by_score);
            order.truncate(k);
        }
        order.sort_by(by_score);
        for &(_, i) in &order {
            let a = match &candidates[i] {
                Cand::Listed(j) => listing.expect("listed candidates").archs[*j].clone(),
                Cand::Fresh(a, _) => a.clone(),
            };
            // The ensemble's mean, whichever acquisition chose the candidate (in the
            // objective's units once whole trainings give them).
            let info = ProposalInfo {
                origin: Some(Origin::Scored { round }),
                predicted: unscale(scores[i].0),
            };
            self.queue.push_back((a, info));
        }
    }
}

impl<S: SearchSpace> Searcher<S> for SemiNasEns<S::Arch> {
    fn name(&self) -> &str {
        "seminas-ens"
    }

    fn ask(&mut self, space: &S, max: usize) -> Vec<S::Arch> {
        let mut out = Vec::new();
        self.annotations.clear();
        while out.len() < max && self.init_proposed < self.config.init {
            match self.draw_random(space) {
                Some(a) => {
                    self.init_proposed += 1;
                    self.mark(space.key(&a));
                    out.push(a);
                    self.annotations.push(ProposalInfo::of(Origin::Initial));
                }
                None => break,
            }
        }
        if out.is_empty() {
            let learned = match &self.mf {
                Some(mf) => mf.training_set().0.len(),
                None => self.evaluated.len(),
            };
            if self.queue.is_empty() && learned >= 2 {
                self.round(space);
            }
            if self.queue.is_empty()
                && let Some(a) = self.draw_random(space)
            {
                out.push(a);
                self.annotations.push(ProposalInfo::of(Origin::Random));
            }
            while out.len() < max {
                match self.queue.pop_front() {
                    Some((a, info)) => {
                        out.push(a);
                        self.annotations.push(info);
                    }
                    None => break,
                }
            }
        }
        for a in &out {
            self.mark(space.key(a));
        }
        self.rules = match &self.mf {
            Some(mf) => out.iter().map(|_| Some(mf.stop_rule())).collect(),
            None => Vec::new(),
        };
        out
    }

    fn set_fidelities(&mut self, fidelities: &Fidelities) {
        self.mf = Some(MultiFidelity::new(
            fidelities,
            self.config.multi_fidelity.clone(),
        ));
        // Random trainings are probed too, so half as many start the search (measured in
        // docs/search.md: 10 probed at 25 trainings' budget did worse than 5).
        self.config.init = self.config.init.div_ceil(2).max(1);
    }

    fn tell_steps(&mut self, space: &S, arch: &S::Arch, steps: &[StepResult]) {
        if self.mf.is_some() {
            let f = self.onehot(space).features(&space.encode(arch));
            let key = space.key(arch);
            if let Some(mf) = &mut self.mf {
                mf.tell_steps(&key, &f, steps);
            }
        }
    }

    fn take_stop_rules(&mut self) -> Vec<Option<StopRule>> {
        std::mem::take(&mut self.rules)
    }

    fn tell(&mut self, space: &S, arch: &S::Arch, feedback: Feedback) {
        // Known now, whether proposed here or not (a warm start, an enqueued architecture):
        // never proposed again. A no-op for the searcher's own proposals.
        self.mark(space.key(arch));
        if let Feedback::Objective(v) = feedback
            && self.evaluated_keys.insert(space.key(arch))
        {
            let onehot = self.onehot(space);
            let f = onehot.features(&space.encode(arch));
            if let Some(mf) = &mut self.mf {
                mf.tell_complete(&space.key(arch), &f, v);
            }
            self.evaluated.push((arch.clone(), f, v));
        }
        if let Feedback::Stopped { .. } = feedback
            && self.mf.is_none()
            && self.evaluated_keys.insert(space.key(arch))
        {
            let f = self.onehot(space).features(&space.encode(arch));
            self.stopped.push(f);
        }
    }

    fn take_annotations(&mut self) -> Vec<ProposalInfo> {
        std::mem::take(&mut self.annotations)
    }

    fn watch(&mut self, phase: Phase) {
        self.phase = phase;
    }
}

/// The ensemble's input layout for `space`: one-hot tokens, plus their pairs with `pairs`.
fn one_hot<S: SearchSpace>(space: &S, pairs: bool) -> OneHot {
    if pairs {
        OneHot::with_pairs(space.encoding())
    } else {
        OneHot::new(space.encoding())
    }
}

/// Expected improvement of a normal with mean `m` and deviation `s` over `best`.
fn expected_improvement(m: f32, s: f32, best: f32) -> f32 {
    crate::stats::expected_improvement(f64::from(m), f64::from(s), f64::from(best)) as f32
}

/// A standard normal draw (Box-Muller), so that no distribution crate is needed.
fn standard_normal(rng: &mut Rng) -> f32 {
    let u1: f64 = rng.r#gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.r#gen::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

#[cfg(test)]
mod tests;
