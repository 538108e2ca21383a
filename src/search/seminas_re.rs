//! SemiNAS-RE: regularized evolution whose children are screened by the semi-supervised
//! predictor (the paper's use of the trained controller inside another search algorithm).
//!
//! After `population` random architectures, each step runs `children` tournaments, mutates each
//! winner one step, lets the predictor rank the new children and proposes the best-ranked one.
//! The child joins the population as its youngest member and the oldest leaves, as in plain
//! regularized evolution. The controller is trained SemiNAS-style (evaluated pairs, then
//! evaluated pairs repeated `upsample` times plus `pseudo` pseudo-labelled architectures) at
//! the start and again after every `retrain_every` new evaluations.
//!
//! With the evaluable pool ([`SemiNasRe::with_pool`], when the evaluator is a table), only
//! children the table holds are ranked (a key lookup); if no mutation gives one, the table's
//! best-predicted never-proposed architecture is proposed ("ranked from the table") once the
//! table has been seen to restrict the children. A table that holds every cell (NAS-Bench-201)
//! drops nothing, and the search is the same as without it.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use rand::Rng as _;

use super::pool::PoolIndex;
use super::{Feedback, Origin, Phase, ProposalInfo, RandomSearch, Searcher};
use crate::controller::ControllerConfig;
use crate::predictor::controller_model::ControllerModel;
use crate::predictor::semi_supervised::Trainings;
use crate::predictor::targets::{normalize_targets, target_scale};
use crate::rng::Rng;
use crate::settings::{
    MAX_CHILDREN, MAX_COUNT, MAX_EPOCHS, MAX_PSEUDO, MAX_UPSAMPLE, SettingError, in_range,
};
use crate::space::SearchSpace;

/// Settings of SemiNAS-RE.
#[derive(Debug, Clone, PartialEq)]
pub struct SemiNasReConfig {
    /// Population size (also the number of random architectures it starts from).
    pub population: usize,
    /// Tournament size.
    pub tournament: usize,
    /// Children mutated and ranked by the predictor per proposal.
    pub children: usize,
    /// Retrain the controller after this many new evaluations.
    pub retrain_every: usize,
    /// Pseudo-labelled architectures per training.
    pub pseudo: usize,
    /// The controller's two trainings each retraining.
    pub trainings: Trainings,
    /// Objectives below this quantile are raised to it before normalisation.
    pub clip_quantile: f64,
    /// The controller network (vocabulary and length are taken from the space).
    pub controller: ControllerConfig,
}

impl Default for SemiNasReConfig {
    fn default() -> Self {
        Self {
            population: 20,
            tournament: 5,
            children: 50,
            retrain_every: 10,
            pseudo: 500,
            trainings: Trainings {
                pretrain_epochs: 50,
                train_epochs: 10,
                upsample: 10,
            },
            clip_quantile: 0.5,
            controller: ControllerConfig::default(),
        }
    }
}

/// The SemiNAS-RE searcher.
pub struct SemiNasRe<A> {
    config: SemiNasReConfig,
    random: RandomSearch,
    rng: Rng,
    /// The predictor that screens children: the controller, retrained every `retrain_every`.
    model: ControllerModel,
    /// Oldest first.
    population: VecDeque<(A, f64)>,
    evaluated: Vec<(Vec<u32>, f64)>,
    evaluated_keys: HashSet<String>,
    proposed: HashSet<String>,
    trained_at: usize,
    /// Whether the latest training succeeded (else children are not screened).
    usable: bool,
    /// What the latest ask proposed.
    annotation: Option<ProposalInfo>,
    /// Trainings so far.
    trainings: usize,
    /// Epochs of the latest training's first and second part.
    epochs: (usize, usize),
    phase: Phase,
    /// The evaluable pool until the first mutation step indexes it.
    pool: Option<Arc<[A]>>,
    pool_index: Option<PoolIndex<A>>,
    /// Proposals ranked from the evaluable pool because no child was evaluable.
    pub ranked: usize,
}

impl<A: Clone> SemiNasRe<A> {
    /// A new search with its own random stream.
    pub fn new(config: SemiNasReConfig, rng: Rng) -> Self {
        let mut init_rng = rng.clone();
        init_rng.set_stream(init_rng.get_stream() ^ 0x5eed);
        Self {
            model: ControllerModel::new(config.controller.clone()),
            config,
            random: RandomSearch::new(init_rng),
            rng,
            population: VecDeque::new(),
            evaluated: Vec::new(),
            evaluated_keys: HashSet::new(),
            proposed: HashSet::new(),
            trained_at: 0,
            usable: false,
            annotation: None,
            trainings: 0,
            epochs: (0, 0),
            phase: Phase::default(),
            pool: None,
            pool_index: None,
            ranked: 0,
        }
    }

    /// The same searcher told which architectures the evaluator can evaluate (see
    /// [`super::pool::evaluable_pool`]; `None`: anything).
    pub fn with_pool(mut self, pool: Option<Arc<[A]>>) -> Self {
        self.pool = pool;
        self
    }

    /// Children dropped because the evaluable pool lacks them.
    pub fn outside_pool(&self) -> usize {
        self.pool_index.as_ref().map_or(0, |p| p.outside)
    }

    /// Trainings whose controller could not be built or trained.
    pub fn controller_failures(&self) -> usize {
        self.model.failures()
    }

    /// Trains the controller; false (logged) when it could not be built or trained.
    fn train<S: SearchSpace<Arch = A>>(&mut self, space: &S) -> bool {
        self.trained_at = self.evaluated.len();
        self.trainings += 1;
        let last = match self.epochs {
            (0, 0) => String::new(),
            (a, b) => format!(" (the last one: {a} + {b} epochs)"),
        };
        self.phase.set(format!(
            "SemiNAS-RE training {}: training controller{last}",
            self.trainings
        ));
        let cfg = &self.config;
        let seqs: Vec<Vec<u32>> = self.evaluated.iter().map(|e| e.0.clone()).collect();
        let values: Vec<f64> = self.evaluated.iter().map(|e| e.1).collect();
        let targets = normalize_targets(&values, cfg.clip_quantile);
        // Without a second training nothing is pseudo-labelled (and nothing drawn).
        let pseudo = if cfg.trainings.train_epochs > 0 {
            cfg.pseudo
        } else {
            0
        };
        let data = (&seqs[..], &targets[..]);
        let unlabelled = (&self.evaluated_keys, pseudo);
        let trainings = cfg.trainings;
        let Some(done) = self
            .model
            .train(space, data, unlabelled, trainings, &mut self.rng)
        else {
            return false;
        };
        self.epochs = done.epochs;
        true
    }

    /// A prediction in the objective's units: the scale of the targets the controller was
    /// trained on.
    fn unscale(&self, pred: f32) -> f64 {
        let trained = &self.evaluated[..self.trained_at.min(self.evaluated.len())];
        let values: Vec<f64> = trained.iter().map(|e| e.1).collect();
        target_scale(&values, self.config.clip_quantile)(pred)
    }

    fn tournament_winner(&mut self) -> &A {
        let mut best = self.rng.gen_range(0..self.population.len());
        for _ in 1..self.config.tournament.max(1) {
            let c = self.rng.gen_range(0..self.population.len());
            if self.population[c].1 > self.population[best].1 {
                best = c;
            }
        }
        &self.population[best].0
    }
}

impl<S: SearchSpace> Searcher<S> for SemiNasRe<S::Arch> {
    fn name(&self) -> &str {
        "seminas-re"
    }

    fn ask(&mut self, space: &S, _max: usize) -> Vec<S::Arch> {
        // Sequential: each proposal depends on the population after the previous one.
        let mut info = ProposalInfo::of(Origin::Mutated);
        let choice = if self.population.len() < self.config.population.max(1) {
            info = ProposalInfo::of(Origin::Initial);
            self.random.draw(space)
        } else {
            if self.model.controller().is_none()
                || self.evaluated.len() >= self.trained_at + self.config.retrain_every.max(1)
            {
                self.usable = self.train(space);
            }
            if let Some(pool) = self.pool.take() {
                self.pool_index = Some(PoolIndex::new(space, pool));
            }
            let mut children = Vec::with_capacity(self.config.children);
            let mut keys = HashSet::new();
            for _ in 0..self.config.children.max(1) * 10 {
                if children.len() >= self.config.children.max(1) {
                    break;
                }
                let parent = self.tournament_winner().clone();
                let child = space.mutate(&parent, &mut self.rng);
                let k = space.key(&child);
                if self.proposed.contains(&k) || keys.contains(&k) {
                    continue;
                }
                if let Some(ix) = &mut self.pool_index
                    && !ix.admits(&k)
                {
                    continue;
                }
                keys.insert(k);
                children.push(child);
            }
            let from_table = match (&self.pool_index, self.model.controller()) {
                (Some(ix), Some(c)) if children.is_empty() && self.usable && ix.restricts() => {
                    let known =
                        |k: &str| self.proposed.contains(k) || self.evaluated_keys.contains(k);
                    ix.best_predicted(space, c, 1, known, &mut HashSet::new())
                        .pop()
                }
                _ => None,
            };
            if let Some((a, p)) = from_table {
                self.ranked += 1;
                info = ProposalInfo {
                    origin: Some(Origin::Ranked {
                        round: self.trainings,
                    }),
                    predicted: Some(self.unscale(p)),
                };
                Some(a)
            } else if children.is_empty() {
                info = ProposalInfo::of(Origin::Random);
                self.random.draw(space)
            } else if !self.usable {
                // No trained predictor (logged when training failed): plain mutation.
                Some(children.swap_remove(0))
            } else {
                let seqs: Vec<Vec<u32>> = children.iter().map(|c| space.encode(c)).collect();
                let preds = self
                    .model
                    .controller()
                    .expect("trained above")
                    .predict(&seqs);
                let best = (0..children.len())
                    .max_by(|&a, &b| preds[a].total_cmp(&preds[b]).then(b.cmp(&a)))
                    .expect("not empty");
                info.predicted = Some(self.unscale(preds[best]));
                Some(children.swap_remove(best))
            }
        };
        match choice {
            Some(a) => {
                self.proposed.insert(space.key(&a));
                self.annotation = Some(info);
                vec![a]
            }
            None => Vec::new(),
        }
    }

    fn tell(&mut self, space: &S, arch: &S::Arch, feedback: Feedback) {
        if let Feedback::Objective(v) = feedback {
            self.population.push_back((arch.clone(), v));
            if self.population.len() > self.config.population.max(1) {
                self.population.pop_front();
            }
            if self.evaluated_keys.insert(space.key(arch)) {
                self.evaluated.push((space.encode(arch), v));
            }
        }
    }

    fn take_checkpoints(&mut self) -> Vec<(String, Vec<u8>)> {
        self.model.take_checkpoint()
    }

    fn take_annotations(&mut self) -> Vec<ProposalInfo> {
        self.annotation.take().into_iter().collect()
    }

    fn watch(&mut self, phase: Phase) {
        self.phase = phase;
    }
}

impl SemiNasReConfig {
    /// Checks every setting.
    pub fn validate(&self) -> Result<(), SettingError> {
        in_range("population", self.population, 1, MAX_COUNT)?;
        in_range("tournament", self.tournament, 1, MAX_COUNT)?;
        in_range("children", self.children, 1, MAX_CHILDREN)?;
        in_range("retrain-every", self.retrain_every, 1, MAX_COUNT)?;
        in_range("pseudo", self.pseudo, 0, MAX_PSEUDO)?;
        in_range(
            "pretrain-epochs",
            self.trainings.pretrain_epochs,
            0,
            MAX_EPOCHS,
        )?;
        in_range(
            "controller-epochs",
            self.trainings.train_epochs,
            0,
            MAX_EPOCHS,
        )?;
        in_range("upsample", self.trainings.upsample, 0, MAX_UPSAMPLE)?;
        let max_hidden = crate::controller::config::MAX_WIDTH;
        in_range("controller-hidden", self.controller.hidden, 1, max_hidden)?;
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
    use crate::study::{Budget, run_search};

    fn quick() -> SemiNasReConfig {
        SemiNasReConfig {
            trainings: Trainings {
                pretrain_epochs: 30,
                train_epochs: 5,
                ..SemiNasReConfig::default().trainings
            },
            pseudo: 300,
            controller: ControllerConfig {
                hidden: 16,
                ..ControllerConfig::default()
            },
            ..SemiNasReConfig::default()
        }
    }

    #[test]
    fn with_a_table_only_its_children_are_ranked() {
        // Most mutations of an nb101-20k cell are not among the table's 20,001: without the
        // pool each such child was a free, not-evaluable proposal (hundreds per search).
        let space = nb101_20k_space();
        let bench = nb101_20k_benchmark();
        let pool = evaluable_pool(&space, &bench);
        let keys = |seed| {
            let mut s = SemiNasRe::new(quick(), rng_for(seed, "t")).with_pool(pool.clone());
            let run = run_search(&space, &bench, &mut s, Budget::queries(40), &mut |_| {});
            assert_eq!(run.records.len(), 40);
            assert_eq!((run.not_evaluable, run.repeats), (0, 0));
            assert!(s.outside_pool() > 0);
            assert!(run.records[20..].iter().all(|r| r.info.predicted.is_some()));
            run.records.into_iter().map(|r| r.key).collect::<Vec<_>>()
        };
        assert_eq!(keys(3), keys(3));
        assert_ne!(keys(3), keys(4));

        // NAS-Bench-201's table holds every cell: the pool changes nothing there.
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let pool = evaluable_pool(&space, &bench);
        let keys = |pool| {
            let mut s = SemiNasRe::new(quick(), rng_for(5, "t")).with_pool(pool);
            let run = run_search(&space, &bench, &mut s, Budget::queries(40), &mut |_| {});
            assert_eq!((s.outside_pool(), s.ranked), (0, 0));
            run.records.into_iter().map(|r| r.key).collect::<Vec<_>>()
        };
        assert_eq!(keys(pool), keys(None));
    }

    #[test]
    fn screened_children_beat_the_random_start() {
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let cfg = SemiNasReConfig {
            trainings: Trainings {
                pretrain_epochs: 30,
                train_epochs: 5,
                ..SemiNasReConfig::default().trainings
            },
            pseudo: 300,
            ..SemiNasReConfig::default()
        };
        let mut s = SemiNasRe::new(cfg, rng_for(2, "t"));
        let run = run_search(&space, &bench, &mut s, Budget::queries(50), &mut |_| {});
        assert_eq!(run.records.len(), 50);
        assert_eq!(run.repeats, 0);
        let mean = |rs: &[crate::study::QueryRecord<_>]| {
            rs.iter()
                .map(|r| r.result.as_ref().unwrap().objective)
                .sum::<f64>()
                / rs.len() as f64
        };
        let (init, children) = (mean(&run.records[..20]), mean(&run.records[20..]));
        assert!(children > init + 3.0, "{children} vs {init}");
        // Every child is one mutation away from an earlier architecture.
        for (i, r) in run.records.iter().enumerate().skip(20) {
            let c = space.parse(&r.key).unwrap();
            assert!(run.records[..i].iter().any(|p| {
                let p = space.parse(&p.key).unwrap();
                p.0.iter().zip(c.0.iter()).filter(|(a, b)| a != b).count() == 1
            }));
        }
    }

    #[test]
    fn early_stopping_reaches_the_controller_and_keeps_a_whole_first_training() {
        // One retraining (40 evaluations, retrain_every past the budget): the Adam steps of the
        // controller tell how many epochs each training ran.
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let epochs = |es: Option<&str>| {
            let cfg = crate::search::AlgoOverrides {
                early_stopping: es.map(str::to_string),
                pretrain_epochs: Some(200),
                controller_epochs: Some(100),
                pseudo: Some(300),
                controller_hidden: Some(16),
                retrain_every: Some(1000),
                ..Default::default()
            }
            .config()
            .unwrap()
            .seminas_re;
            let mut s = SemiNasRe::new(cfg, rng_for(1, "t"));
            run_search(&space, &bench, &mut s, Budget::queries(40), &mut |_| {});
            assert_eq!(s.trainings, 1);
            s.epochs
        };
        assert_eq!(epochs(None), (200, 100));
        let (first, second) = epochs(Some("0.2/3"));
        assert!(first < 200 && second < 100, "{first} {second}");
        // `/second`: the first training runs its 200 epochs, the second stops early.
        let (first, second) = epochs(Some("0.2/3/second"));
        assert!(first == 200 && second < 100, "{first} {second}");
    }
}
