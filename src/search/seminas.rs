//! SemiNAS (Luo et al., NeurIPS 2020, Algorithm 1) and NAO (Luo et al., NeurIPS 2018) as
//! ask/tell searchers.
//!
//! A search starts with `init` random architectures. Each later round:
//! 1. trains the controller on the evaluated pairs (objectives normalised by their mean and
//!    standard deviation) for `pretrain_epochs`;
//! 2. SemiNAS only: samples `pseudo` unevaluated architectures and labels them with the
//!    predictor (pseudo-labels), then trains for `train_epochs` on the evaluated pairs repeated
//!    `upsample` times plus the pseudo-labelled ones (NAO, `pseudo = 0`, trains on the repeated
//!    evaluated pairs alone);
//! 3. takes the `top_k` best architectures (true objective for evaluated ones, predicted for
//!    pseudo-labelled ones) and moves their encoder outputs up the predictor's gradient with step
//!    lambda = 1, 2, 3, ... (at most `max_lambda`), decoding new candidates until `per_round`
//!    new, valid, never-proposed ones exist;
//! 4. proposes them, best predicted first.
//!
//! If generation cannot find enough new candidates, the round is filled with the best-predicted
//! unevaluated pseudo-labelled architectures (SemiNAS) or random ones (NAO), so the budget is
//! always spent. The controller is kept (warm) from round to round.
//!
//! With the evaluable pool ([`SemiNas::with_pool`], when the evaluator is a table), generation
//! keeps only candidates the table holds (a key lookup), and once a candidate was dropped
//! because the table lacks it, a short round is filled with the table's never-proposed
//! architectures ranked by the predictor ("ranked from the table") instead: generated cells
//! that the table does not hold would be free, not-evaluable proposals, and each empty queue
//! would cost another controller training. A table that holds every cell the space can
//! generate (NAS-Bench-201) drops nothing, and the search is the same as without it.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use super::pool::PoolIndex;
use super::{Feedback, Origin, Phase, ProposalInfo, RandomSearch, Searcher};
use crate::controller::ControllerConfig;
use crate::predictor::controller_model::ControllerModel;
use crate::predictor::semi_supervised::{Labelled, Trainings};
use crate::predictor::targets::{normalize_targets, target_scale};
use crate::rng::Rng;
use crate::settings::{MAX_COUNT, MAX_EPOCHS, MAX_PSEUDO, MAX_UPSAMPLE, SettingError, optional};
use crate::space::SearchSpace;

/// Settings of SemiNAS and NAO.
#[derive(Debug, Clone, PartialEq)]
pub struct SemiNasConfig {
    /// Random architectures evaluated before the first round (N).
    pub init: usize,
    /// Pseudo-labelled architectures per round (M); 0 gives NAO.
    pub pseudo: usize,
    /// Architectures generation starts from (K).
    pub top_k: usize,
    /// New architectures proposed per round.
    pub per_round: usize,
    /// The controller's two trainings each round (r: their `upsample`).
    pub trainings: Trainings,
    /// Largest generation step lambda.
    pub max_lambda: f32,
    /// Generation continues until this many times `per_round` new candidates exist; the
    /// predictor then keeps the best `per_round` of them (1 = keep the first ones found).
    pub oversample: usize,
    /// Objectives below this quantile of the evaluated ones are raised to it before
    /// normalisation (see [`normalize_targets`]).
    pub clip_quantile: f64,
    /// The controller network (vocabulary and length are taken from the space).
    pub controller: ControllerConfig,
}

impl SemiNasConfig {
    /// Defaults for a search of `budget` queries: a third of the budget (at least 10, at most
    /// 1,100 as in the paper) starts at random; the rest comes in rounds of a tenth of the budget
    /// (at least 5, at most 300 as in the paper).
    pub fn for_budget(budget: usize) -> Self {
        let init = (budget / 3).clamp(10, 1100).min(budget);
        let per_round = (budget / 10).clamp(5, 300);
        Self {
            init,
            pseudo: 500,
            top_k: 20,
            per_round,
            trainings: Trainings {
                pretrain_epochs: 50,
                train_epochs: 10,
                upsample: 10,
            },
            max_lambda: 50.0,
            oversample: 10,
            clip_quantile: 0.5,
            controller: ControllerConfig::default(),
        }
    }

    /// The paper's NAS-Bench-101 settings (official `nasbench/train_seminas.py`): 1,100 random
    /// architectures, 10,000 pseudo-labelled ones, generation from the top 100, 3 rounds of 300
    /// (so a budget of 2,000), 1,000 + 500 epochs, up-sampling 10, steps up to 100, plain mean /
    /// standard-deviation normalisation and the 64-wide controller. The official code also
    /// drops initial architectures below 90% validation accuracy without counting them; here
    /// every query counts. This is the paper's schedule as written; `--preset paper`
    /// ([`Preset::Paper`](super::Preset::Paper)) adds early stopping of both trainings.
    pub fn paper() -> Self {
        Self {
            init: 1100,
            pseudo: 10_000,
            top_k: 100,
            per_round: 300,
            trainings: Trainings {
                pretrain_epochs: 1000,
                train_epochs: 500,
                upsample: 10,
            },
            max_lambda: 100.0,
            oversample: 1,
            clip_quantile: 0.0,
            controller: ControllerConfig::default(),
        }
    }

    /// The paper's ImageNet settings (official `imagenet/train_search_imagenet.py` defaults and
    /// `runs/search_seminas.sh`): 100 random architectures, 4,000 pseudo-labelled ones,
    /// generation from the top 100, 3 rounds of 100 (so a budget of 400), 10,000 + 1,000
    /// epochs, no up-sampling, steps up to 100, plain normalisation, and the controller with
    /// embedding/LSTM size 16 and predictor MLP width 64 (dropout 0.1, L2 1e-4, trade-off 0.8,
    /// Adam 1e-3, batch 100, clipping 5, as by default). Differences from the official code:
    /// the step grows by 1 per try (officially by 0.1, up to 100); targets are normalised by
    /// mean and standard deviation (officially min-max: a monotone change of the targets, not of
    /// their order); and the top 100 are the best architectures, where the official code takes
    /// `np.argsort(all_targets)[:100]`, the 100 *lowest*. The supernet training between rounds
    /// (20,000 updates per round, batch 512, learning rate 0.4) belongs to the evaluator.
    pub fn paper_imagenet() -> Self {
        Self {
            init: 100,
            pseudo: 4000,
            top_k: 100,
            per_round: 100,
            trainings: Trainings {
                pretrain_epochs: 10_000,
                train_epochs: 1000,
                upsample: 1,
            },
            max_lambda: 100.0,
            oversample: 1,
            clip_quantile: 0.0,
            controller: ControllerConfig {
                hidden: 16,
                mlp_hidden: 64,
                ..ControllerConfig::default()
            },
        }
    }

    /// NAO: the same without pseudo-labels.
    pub fn nao(mut self) -> Self {
        self.pseudo = 0;
        self
    }
}

/// Changes to [`SemiNasConfig::for_budget`]'s defaults (`None` keeps the default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SemiNasOverrides {
    /// Random architectures before the first round.
    pub init: Option<usize>,
    /// Pseudo-labelled architectures per round (ignored by NAO).
    pub pseudo: Option<usize>,
    /// Architectures generation starts from.
    pub top_k: Option<usize>,
    /// New architectures per round.
    pub per_round: Option<usize>,
    /// Epochs on the evaluated pairs.
    pub pretrain_epochs: Option<usize>,
    /// Epochs on evaluated plus pseudo-labelled pairs.
    pub train_epochs: Option<usize>,
    /// Up-sampling of the evaluated pairs.
    pub upsample: Option<usize>,
    /// Controller embedding / LSTM size.
    pub hidden: Option<usize>,
}

impl SemiNasOverrides {
    /// `base` with the overridden fields replaced.
    pub fn apply(&self, mut base: SemiNasConfig) -> SemiNasConfig {
        let set = |slot: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut base.init, self.init);
        set(&mut base.pseudo, self.pseudo);
        set(&mut base.top_k, self.top_k);
        set(&mut base.per_round, self.per_round);
        set(&mut base.trainings.pretrain_epochs, self.pretrain_epochs);
        set(&mut base.trainings.train_epochs, self.train_epochs);
        set(&mut base.trainings.upsample, self.upsample);
        set(&mut base.controller.hidden, self.hidden);
        base
    }
}

/// The SemiNAS / NAO searcher.
pub struct SemiNas<A> {
    name: &'static str,
    config: SemiNasConfig,
    random: RandomSearch,
    rng: Rng,
    /// The predictor: the controller, retrained every round.
    model: ControllerModel,
    /// Evaluated architectures, their tokens and objectives.
    evaluated: Vec<(A, Vec<u32>, f64)>,
    evaluated_keys: HashSet<String>,
    /// Generated candidates to propose, with where they came from.
    queue: VecDeque<(A, ProposalInfo)>,
    /// What the latest ask proposed.
    annotations: Vec<ProposalInfo>,
    phase: Phase,
    proposed: HashSet<String>,
    init_proposed: usize,
    /// Rounds run so far.
    pub rounds: usize,
    /// Candidates that came from generation (the rest of the rounds came from the fallback).
    pub generated: usize,
    /// Candidates ranked from the evaluable pool to fill short rounds.
    pub ranked: usize,
    /// The latest trained round and the epochs its two controller trainings ran (early
    /// stopping varies them).
    pub epochs: Option<(usize, usize, usize)>,
    /// The evaluable pool until the first round indexes it.
    pool: Option<Arc<[A]>>,
    pool_index: Option<PoolIndex<A>>,
}

impl<A: Clone> SemiNas<A> {
    /// A SemiNAS searcher (NAO when `config.pseudo == 0`) with its own random stream.
    pub fn new(config: SemiNasConfig, rng: Rng) -> Self {
        let mut init_rng = rng.clone();
        init_rng.set_stream(init_rng.get_stream() ^ 0x5eed);
        Self {
            name: if config.pseudo == 0 { "nao" } else { "seminas" },
            random: RandomSearch::new(init_rng),
            model: ControllerModel::new(config.controller.clone()),
            config,
            rng,
            evaluated: Vec::new(),
            evaluated_keys: HashSet::new(),
            queue: VecDeque::new(),
            annotations: Vec::new(),
            phase: Phase::default(),
            proposed: HashSet::new(),
            init_proposed: 0,
            rounds: 0,
            generated: 0,
            ranked: 0,
            epochs: None,
            pool: None,
            pool_index: None,
        }
    }

    /// The same searcher told which architectures the evaluator can evaluate (see
    /// [`super::pool::evaluable_pool`]; `None`: anything).
    pub fn with_pool(mut self, pool: Option<Arc<[A]>>) -> Self {
        self.pool = pool;
        self
    }

    /// Candidates generation dropped because the evaluable pool lacks them.
    pub fn outside_pool(&self) -> usize {
        self.pool_index.as_ref().map_or(0, |p| p.outside)
    }

    /// Rounds whose controller could not be built or trained (each fell back to random).
    pub fn controller_failures(&self) -> usize {
        self.model.failures()
    }

    fn round<S: SearchSpace<Arch = A>>(&mut self, space: &S) {
        if let Some(pool) = self.pool.take() {
            self.pool_index = Some(PoolIndex::new(space, pool));
        }
        self.rounds += 1;
        let round = self.rounds;
        let label = if self.name == "nao" { "NAO" } else { "SemiNAS" };
        self.phase.set(format!(
            "{label} round {round}: training controller{}",
            match self.epochs {
                None => String::new(),
                Some((r, a, b)) => format!(" (round {r}: {a} + {b} epochs)"),
            }
        ));
        let cfg = self.config.clone();
        let seqs: Vec<Vec<u32>> = self.evaluated.iter().map(|e| e.1.clone()).collect();
        let values: Vec<f64> = self.evaluated.iter().map(|e| e.2).collect();
        let targets = normalize_targets(&values, cfg.clip_quantile);
        let unscale = target_scale(&values, cfg.clip_quantile);
        let Some(Labelled {
            archs: pool,
            seqs: pool_seqs,
            labels: pseudo_labels,
            epochs: (first_epochs, second_epochs),
        }) = self.model.train(
            space,
            (&seqs, &targets),
            (&self.evaluated_keys, cfg.pseudo),
            cfg.trainings,
            &mut self.rng,
        )
        else {
            return;
        };
        let controller = self.model.controller().expect("trained above");
        self.epochs = Some((round, first_epochs, second_epochs));
        // Said in the phases that follow: early stopping makes the epochs vary by round.
        let trained = format!("controller trained {first_epochs} + {second_epochs} epochs");
        self.phase.set(format!(
            "{label} round {round}: generating candidates ({trained})"
        ));

        // The K best, true or predicted.
        let mut ranked: Vec<(f32, &Vec<u32>)> = targets
            .iter()
            .copied()
            .zip(&seqs)
            .chain(pseudo_labels.iter().copied().zip(&pool_seqs))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let top: Vec<Vec<u32>> = ranked
            .iter()
            .take(cfg.top_k.max(1))
            .map(|r| r.1.clone())
            .collect();

        // Generation with growing steps, until `oversample` times the round's size of new
        // candidates exist; the decoded candidates are then re-encoded and ranked by the
        // predictor (the value predicted at the moved embedding is not the decoded sequence's).
        let want = cfg.per_round * cfg.oversample.max(1);
        let mut fresh: Vec<(A, Vec<u32>)> = Vec::new();
        let mut fresh_keys = HashSet::new();
        let mut lambda = 1.0f32;
        // The encoder pass over the K best is the same for every step: done once.
        let generator = controller.generator(&top);
        while fresh.len() < want && lambda <= cfg.max_lambda {
            for (tokens, _) in generator.generate(lambda) {
                let Ok(a) = space.decode(&tokens) else {
                    continue;
                };
                if space.validate(&a).is_err() {
                    continue;
                }
                let k = space.key(&a);
                if self.proposed.contains(&k) || fresh_keys.contains(&k) {
                    continue;
                }
                if let Some(ix) = &mut self.pool_index
                    && !ix.admits(&k)
                {
                    continue;
                }
                fresh_keys.insert(k);
                fresh.push((a, tokens));
            }
            lambda += 1.0;
        }
        let fresh_seqs: Vec<Vec<u32>> = fresh.iter().map(|f| f.1.clone()).collect();
        let fresh_preds = if fresh.is_empty() {
            Vec::new()
        } else {
            controller.predict(&fresh_seqs)
        };
        let mut fresh: Vec<(A, f32)> = fresh
            .into_iter()
            .zip(fresh_preds)
            .map(|((a, _), p)| (a, p))
            .collect();
        fresh.sort_by(|a, b| b.1.total_cmp(&a.1));
        fresh.truncate(cfg.per_round);
        self.generated += fresh.len();

        // Fill a short round so the budget is spent: from the table, ranked by the predictor,
        // where the table restricts what generation can give.
        let mut ranked = Vec::new();
        if fresh.len() < cfg.per_round
            && let Some(ix) = self.pool_index.as_ref().filter(|ix| ix.restricts())
        {
            self.phase.set(format!(
                "{label} round {round}: ranking the table ({trained})"
            ));
            let need = cfg.per_round - fresh.len();
            let known = |k: &str| self.proposed.contains(k) || self.evaluated_keys.contains(k);
            ranked = ix.best_predicted(space, controller, need, known, &mut fresh_keys);
            self.ranked += ranked.len();
        } else if fresh.len() < cfg.per_round {
            let mut by_pred: Vec<(usize, f32)> =
                pseudo_labels.iter().copied().enumerate().collect();
            by_pred.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (i, p) in by_pred {
                if fresh.len() >= cfg.per_round {
                    break;
                }
                let k = space.key(&pool[i]);
                if !self.proposed.contains(&k) && fresh_keys.insert(k) {
                    fresh.push((pool[i].clone(), p));
                }
            }
        }
        let generated = fresh.into_iter().map(|f| (f, Origin::Generated { round }));
        let ranked = ranked.into_iter().map(|r| (r, Origin::Ranked { round }));
        for ((a, p), origin) in generated.chain(ranked) {
            let info = ProposalInfo {
                origin: Some(origin),
                predicted: Some(unscale(p)),
            };
            self.queue.push_back((a, info));
        }
    }
}

impl<S: SearchSpace> Searcher<S> for SemiNas<S::Arch> {
    fn name(&self) -> &str {
        self.name
    }

    fn ask(&mut self, space: &S, max: usize) -> Vec<S::Arch> {
        let mut out = Vec::new();
        self.annotations.clear();
        while out.len() < max && self.init_proposed < self.config.init {
            match self.random.draw(space) {
                Some(a) => {
                    self.init_proposed += 1;
                    out.push(a);
                    self.annotations.push(ProposalInfo::of(Origin::Initial));
                }
                None => break,
            }
        }
        if out.is_empty() {
            if self.queue.is_empty() && self.evaluated.len() >= 2 {
                self.round(space);
            }
            if self.queue.is_empty() {
                // Nothing generated (or too little data to train): fall back to random.
                while let Some(a) = self.random.draw(space) {
                    if !self.proposed.contains(&space.key(&a)) {
                        out.push(a);
                        self.annotations.push(ProposalInfo::of(Origin::Random));
                        break;
                    }
                }
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
            self.proposed.insert(space.key(a));
        }
        out
    }

    fn tell(&mut self, space: &S, arch: &S::Arch, feedback: Feedback) {
        if let Feedback::Objective(v) = feedback
            && self.evaluated_keys.insert(space.key(arch))
        {
            self.evaluated.push((arch.clone(), space.encode(arch), v));
        }
    }

    fn take_checkpoints(&mut self) -> Vec<(String, Vec<u8>)> {
        self.model.take_checkpoint()
    }

    fn take_annotations(&mut self) -> Vec<ProposalInfo> {
        std::mem::take(&mut self.annotations)
    }

    fn watch(&mut self, phase: Phase) {
        self.phase = phase;
    }
}

impl SemiNasOverrides {
    /// Checks every overridden setting.
    pub fn validate(&self) -> Result<(), SettingError> {
        optional("init", self.init, 0, MAX_COUNT)?;
        optional("pseudo", self.pseudo, 0, MAX_PSEUDO)?;
        optional("top-k", self.top_k, 1, MAX_COUNT)?;
        optional("per-round", self.per_round, 1, MAX_COUNT)?;
        optional("pretrain-epochs", self.pretrain_epochs, 0, MAX_EPOCHS)?;
        optional("controller-epochs", self.train_epochs, 0, MAX_EPOCHS)?;
        optional("upsample", self.upsample, 0, MAX_UPSAMPLE)?;
        optional(
            "controller-hidden",
            self.hidden,
            1,
            crate::controller::config::MAX_WIDTH,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchmark::nb101::embedded::{nb101_20k_benchmark, nb101_20k_space};
    use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
    use crate::rng::rng_for;
    use crate::search::evaluable_pool;
    use crate::space::Nb201Space;
    use crate::study::{Budget, StopReason, run_search};

    fn small(budget: usize) -> SemiNasConfig {
        SemiNasConfig {
            trainings: Trainings {
                pretrain_epochs: 30,
                train_epochs: 5,
                ..SemiNasConfig::for_budget(budget).trainings
            },
            pseudo: 300,
            ..SemiNasConfig::for_budget(budget)
        }
    }

    #[test]
    fn defaults_follow_the_budget() {
        let c = SemiNasConfig::for_budget(100);
        assert_eq!((c.init, c.per_round), (33, 10));
        let c = SemiNasConfig::for_budget(2000);
        assert_eq!((c.init, c.per_round), (666, 200));
        assert_eq!(SemiNasConfig::for_budget(5).init, 5);
        assert_eq!(SemiNasConfig::for_budget(100).nao().pseudo, 0);
    }

    #[test]
    fn imagenet_preset_spends_400_queries_in_3_rounds() {
        let c = SemiNasConfig::paper_imagenet();
        assert_eq!(c.init + 3 * c.per_round, 400);
        assert_eq!((c.pseudo, c.top_k, c.trainings.upsample), (4000, 100, 1));
        assert_eq!(
            (c.trainings.pretrain_epochs, c.trainings.train_epochs),
            (10_000, 1000)
        );
        assert_eq!((c.controller.hidden, c.controller.mlp_hidden), (16, 64));
        assert!(c.controller.validate().is_ok());
    }

    #[test]
    fn seminas_spends_the_budget_and_its_rounds_beat_its_random_start() {
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let (mut init_sum, mut init_n, mut gen_sum, mut gen_n) = (0.0, 0, 0.0, 0);
        for seed in 0..3 {
            let mut s = SemiNas::new(small(60), rng_for(seed, "t"));
            let run = run_search(&space, &bench, &mut s, Budget::queries(60), &mut |_| {});
            assert_eq!(run.records.len(), 60);
            assert_eq!(run.stop, StopReason::Budget);
            assert_eq!(run.repeats, 0, "never proposes a known architecture");
            assert!(s.rounds >= 4, "rounds {}", s.rounds);
            for r in &run.records {
                let v = r.result.as_ref().unwrap().objective;
                if r.n <= 20 {
                    (init_sum, init_n) = (init_sum + v, init_n + 1);
                } else {
                    (gen_sum, gen_n) = (gen_sum + v, gen_n + 1);
                }
            }
        }
        let (init_mean, gen_mean) = (init_sum / init_n as f64, gen_sum / gen_n as f64);
        // Random NAS-Bench-201 cells average about 83.6% validation accuracy with a long tail
        // of broken cells; candidates the controller proposes must be clearly better.
        assert!(gen_mean > init_mean + 3.0, "{gen_mean} vs {init_mean}");
    }

    #[test]
    fn seminas_is_deterministic_per_seed() {
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let keys = |seed| {
            let mut s = SemiNas::new(small(30), rng_for(seed, "t"));
            run_search(&space, &bench, &mut s, Budget::queries(30), &mut |_| {})
                .records
                .into_iter()
                .map(|r| r.key)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(3), keys(3));
        assert_ne!(keys(3), keys(4));
    }

    /// SemiNAS (or NAO) with a small, quick controller.
    fn quick(budget: usize, nao: bool) -> SemiNasConfig {
        let c = SemiNasConfig {
            controller: ControllerConfig {
                hidden: 16,
                ..ControllerConfig::default()
            },
            ..small(budget)
        };
        if nao { c.nao() } else { c }
    }

    #[test]
    fn on_nb101_20k_rounds_stay_in_the_table_and_short_ones_are_ranked_from_it() {
        // Most cells the decoder generates are not among the table's 20,001: without the pool
        // every round proposed them (free, not evaluable) and the emptied queue called for
        // another round, dozens of them.
        let space = nb101_20k_space();
        let bench = nb101_20k_benchmark();
        let pool = evaluable_pool(&space, &bench);
        for nao in [false, true] {
            let cfg = quick(30, nao);
            assert_eq!((cfg.init, cfg.per_round), (10, 5));
            let mut s = SemiNas::new(cfg, rng_for(1, "t")).with_pool(pool.clone());
            let run = run_search(&space, &bench, &mut s, Budget::queries(30), &mut |_| {});
            assert_eq!(run.records.len(), 30);
            assert_eq!(run.stop, StopReason::Budget);
            assert_eq!((run.not_evaluable, run.repeats), (0, 0), "nao {nao}");
            assert!(s.outside_pool() > 0);
            assert!(s.ranked > 0, "nao {nao}");
            // Without early stopping every round trains its whole schedule (NAO: no second
            // training on pseudo-labels, but the repeated pairs still train 5 epochs).
            assert_eq!(s.epochs, Some((s.rounds, 30, 5)), "nao {nao}");
            // Once the table has dropped a generated cell, every round is filled to its 5
            // candidates (the budget may cut the last one short), the ranked ones best
            // predicted first. (Before that, a round whose decoder gives too few valid cells
            // stays short, as without a table: NAO then starts rounds more often.)
            let of_round = |round: usize| {
                run.records
                    .iter()
                    .filter(|r| match r.info.origin {
                        Some(Origin::Generated { round: g } | Origin::Ranked { round: g }) => {
                            g == round
                        }
                        _ => false,
                    })
                    .collect::<Vec<_>>()
            };
            let first = (1..=s.rounds)
                .find(|&r| {
                    of_round(r)
                        .iter()
                        .any(|q| matches!(q.info.origin, Some(Origin::Ranked { .. })))
                })
                .unwrap();
            for round in first..s.rounds {
                assert_eq!(of_round(round).len(), 5, "nao {nao} round {round}");
            }
            for round in 1..=s.rounds {
                let ranked: Vec<f64> = of_round(round)
                    .iter()
                    .filter(|r| matches!(r.info.origin, Some(Origin::Ranked { .. })))
                    .map(|r| r.info.predicted.unwrap())
                    .collect();
                assert!(ranked.windows(2).all(|w| w[0] >= w[1]), "{ranked:?}");
            }
            if !nao {
                assert_eq!(s.rounds, 4);
            }
        }
        // Deterministic per seed.
        let keys = |seed| {
            let mut s = SemiNas::new(quick(20, true), rng_for(seed, "t")).with_pool(pool.clone());
            run_search(&space, &bench, &mut s, Budget::queries(20), &mut |_| {})
                .records
                .into_iter()
                .map(|r| r.key)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(3), keys(3));
        assert_ne!(keys(3), keys(4));
    }

    #[test]
    fn on_nb201_the_pool_changes_nothing() {
        // NAS-Bench-201's table holds every cell: generation never leaves it.
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let pool = evaluable_pool(&space, &bench);
        for nao in [false, true] {
            let run = |pool| {
                let mut s = SemiNas::new(quick(60, nao), rng_for(2, "t")).with_pool(pool);
                let run = run_search(&space, &bench, &mut s, Budget::queries(60), &mut |_| {});
                assert_eq!((s.outside_pool(), s.ranked), (0, 0));
                let seen: Vec<(String, Option<Origin>)> = run
                    .records
                    .into_iter()
                    .map(|r| (r.key, r.info.origin))
                    .collect();
                seen
            };
            assert_eq!(run(pool.clone()), run(None), "nao {nao}");
        }
    }
}
