//! `seminas bench-controller --round`: the controller training of one SemiNAS round at the
//! paper's NAS-Bench-101 settings, on the embedded `nb101-20k` table, with and without early
//! stopping: wall seconds per phase and the predictor's Kendall tau on held-out cells.
//!
//! The round (as `SemiNas` runs it with `--preset paper`): 1,100 evaluated cells (targets:
//! validation accuracy standardised by mean and standard deviation), 1,000 epochs on them;
//! 10,000 other cells pseudo-labelled by the predictor; 500 epochs on the evaluated pairs
//! up-sampled 10 times plus the pseudo-labelled ones. 1,000 further cells of the table, never
//! trained on, measure the ranking (Kendall tau of predicted against true validation accuracy)
//! after each phase. All cells are distinct and drawn from the seed. The round is the
//! semi-supervised step every search runs ([`super::semi_supervised`]), timed around its two
//! trainings.

use std::fmt;
use std::time::Instant;

use rand::seq::SliceRandom;
use serde::Serialize;

use super::semi_supervised::{Hooks, Trainings, Unlabelled, step};
use crate::benchmark::nb101::embedded::{NB101_20K_OBJECTIVE, nb101_20k_cells, nb101_20k_table};
use crate::controller::bench::process_cpu_seconds;
use crate::controller::{
    Controller, ControllerConfig, EarlyStopping, Isa, Kernel, StopOn, active_isa, active_kernel,
};
use crate::rng::rng_for;
use crate::space::SearchSpace;
use crate::space::nb101::Nb101Space;
use crate::stats::kendall_tau;

/// Sizes and epochs of the benchmarked round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundSettings {
    /// Evaluated cells (paper: 1,100).
    pub init: usize,
    /// Pseudo-labelled cells (paper: 10,000).
    pub pseudo: usize,
    /// Held-out test cells for Kendall tau.
    pub test: usize,
    /// Epochs on the evaluated pairs (paper: 1,000).
    pub pretrain_epochs: usize,
    /// Epochs on the up-sampled evaluated plus pseudo-labelled pairs (paper: 500).
    pub train_epochs: usize,
    /// Up-sampling of the evaluated pairs in the second training (paper: 10).
    pub upsample: usize,
}

impl Default for RoundSettings {
    fn default() -> Self {
        Self {
            init: 1100,
            pseudo: 10_000,
            test: 1000,
            pretrain_epochs: 1000,
            train_epochs: 500,
            upsample: 10,
        }
    }
}

/// One variant (early stopping off or on) of the round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundResult {
    /// The early-stopping settings (`None`: off).
    pub early_stopping: Option<EarlyStopping>,
    /// Epochs run in the first training (of `pretrain_epochs`).
    pub pretrain_epochs_run: usize,
    /// Wall seconds of the first training.
    pub pretrain_s: f64,
    /// Kendall tau on the test cells after the first training.
    pub tau_pretrain: f64,
    /// Epochs run in the second training (of `train_epochs`).
    pub train_epochs_run: usize,
    /// Wall seconds of the second training.
    pub train_s: f64,
    /// Kendall tau on the test cells after the second training (what the round's generation
    /// and ranking use).
    pub tau_final: f64,
    /// Wall seconds of the whole round's controller work (both trainings, pseudo-labelling).
    pub total_s: f64,
    /// CPU seconds of the whole round (all threads), when known.
    pub total_cpu_s: Option<f64>,
}

/// The benchmark's report.
#[derive(Debug, Clone, Serialize)]
pub struct RoundReport {
    /// Sizes and epochs.
    pub settings: RoundSettings,
    /// The matrix kernel that ran.
    pub kernel: Kernel,
    /// The instruction set of the elementwise passes.
    pub isa: Isa,
    /// Threads in rayon's pool.
    pub threads: usize,
    /// Seed of the cells, the initial weights and the training.
    pub seed: u64,
    /// One entry per variant, in the order asked.
    pub results: Vec<RoundResult>,
    /// The machine's 1-minute load average at the end, when known.
    pub load_avg_1m: Option<f64>,
}

/// Runs the round once per entry of `variants` (each from the same cells and initial weights).
///
/// # Panics
/// When `init + pseudo + test` exceeds the table's 20,001 cells or `init` or `test` is below 2.
pub fn run(settings: &RoundSettings, variants: &[Option<EarlyStopping>], seed: u64) -> RoundReport {
    let cells = nb101_20k_cells();
    let (init, pseudo, test) = (settings.init, settings.pseudo, settings.test);
    assert!(
        init >= 2 && test >= 2,
        "need at least 2 evaluated and 2 test cells"
    );
    assert!(
        init + pseudo + test <= cells.len(),
        "the table has {} cells",
        cells.len()
    );
    let table = nb101_20k_table();
    let col = table
        .metric_index(NB101_20K_OBJECTIVE)
        .expect("embedded table has its objective");
    let space = Nb101Space::new();
    let mut rng = rng_for(seed, "bench-controller-round");
    let mut idx: Vec<usize> = (0..cells.len()).collect();
    idx.shuffle(&mut rng);
    let pick = |r: &[usize]| -> (Vec<Vec<u32>>, Vec<f64>) {
        r.iter()
            .map(|&i| {
                let (hash, cell) = &cells[i];
                let acc = table.get(&hash.to_string()).expect("cell in its table")[col];
                (space.encode(cell), acc)
            })
            .unzip()
    };
    let (seqs, values) = pick(&idx[..init]);
    let (test_seqs, test_values) = pick(&idx[init..init + test]);
    let (pool, _) = pick(&idx[init + test..init + test + pseudo]);
    // Plain standardisation, as the paper preset does (no clipping).
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    let targets: Vec<f32> = values
        .iter()
        .map(|v| ((v - mean) / std.max(1e-12)) as f32)
        .collect();
    let tau = |ctl: &Controller| {
        let p: Vec<f64> = ctl.predict(&test_seqs).into_iter().map(f64::from).collect();
        kendall_tau(&p, &test_values)
    };
    let results = variants
        .iter()
        .map(|es| {
            let cfg = ControllerConfig {
                early_stopping: es.clone(),
                ..ControllerConfig::for_encoding(space.encoding())
            };
            let mut ctl = Controller::new(cfg, space.encoding(), &mut rng_for(seed, "controller"));
            let mut train_rng = rng_for(seed, "bench-controller-round-train");
            let cpu0 = process_cpu_seconds();
            let t0 = Instant::now();
            // Measured between the trainings: the first's seconds, its tau, the second's start.
            let mut first = None;
            let mut after_first = |c: &Controller| {
                let s = t0.elapsed().as_secs_f64();
                first = Some((s, tau(c), Instant::now()));
            };
            let hooks = Hooks {
                interrupt: None,
                after_first: Some(&mut after_first),
            };
            let trainings = Trainings {
                pretrain_epochs: settings.pretrain_epochs,
                train_epochs: settings.train_epochs,
                upsample: settings.upsample,
            };
            let data = (&seqs[..], &targets[..]);
            let done = step(
                &mut ctl,
                &space,
                data,
                Unlabelled::Given(&pool),
                trainings,
                &mut train_rng,
                hooks,
            )
            .expect("the embedded table's cells fit the controller");
            let (pretrain_s, tau_pretrain, t1) = first.expect("called between the trainings");
            let train_s = t1.elapsed().as_secs_f64();
            let total_cpu_s = cpu0.zip(process_cpu_seconds()).map(|(a, b)| b - a);
            let (pretrain_epochs_run, train_epochs_run) = done.epochs;
            RoundResult {
                early_stopping: es.clone(),
                pretrain_epochs_run,
                pretrain_s,
                tau_pretrain,
                train_epochs_run,
                train_s,
                tau_final: tau(&ctl),
                total_s: t0.elapsed().as_secs_f64(),
                total_cpu_s,
            }
        })
        .collect();
    RoundReport {
        settings: settings.clone(),
        kernel: active_kernel(),
        isa: active_isa(),
        threads: rayon::current_num_threads(),
        seed,
        results,
        load_avg_1m: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok()),
    }
}

impl fmt::Display for RoundReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        writeln!(
            f,
            "one SemiNAS round on nb101-20k: {} evaluated, {} pseudo-labelled, {} + {} epochs, \
             up-sampling {}, tau on {} held-out cells; {} matrix kernel, {} elementwise passes, {} \
             threads, seed {}",
            s.init,
            s.pseudo,
            s.pretrain_epochs,
            s.train_epochs,
            s.upsample,
            s.test,
            self.kernel,
            self.isa,
            self.threads,
            self.seed
        )?;
        writeln!(
            f,
            "{:>16} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8} {:>9} {:>9}",
            "early stopping",
            "epochs 1",
            "s 1",
            "tau 1",
            "epochs 2",
            "s 2",
            "tau 2",
            "total s",
            "CPU s"
        )?;
        for r in &self.results {
            let es = r.early_stopping.as_ref().map_or("off".to_string(), |e| {
                let on = if e.on == StopOn::Tau { "/tau" } else { "" };
                let second = if e.second_only { "/second" } else { "" };
                format!("{}/{}{on}{second}", e.held_out, e.patience)
            });
            writeln!(
                f,
                "{:>16} {:>9} {:>9.1} {:>8.4} {:>9} {:>9.1} {:>8.4} {:>9.1} {:>9}",
                es,
                r.pretrain_epochs_run,
                r.pretrain_s,
                r.tau_pretrain,
                r.train_epochs_run,
                r.train_s,
                r.tau_final,
                r.total_s,
                r.total_cpu_s.map_or("-".to_string(), |c| format!("{c:.1}"))
            )?;
        }
        match self.load_avg_1m {
            Some(l) => write!(f, "load average (1 min) at the end: {l:.2}"),
            None => write!(f, "load average: unknown"),
        }
    }
}
