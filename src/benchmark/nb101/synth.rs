//! A synthetic dataset in the official format, for load-speed and memory tests: every unique
//! cell (or the first `limit`), each with `repeats` runs per epoch budget. The metrics are
//! random (seeded) but shaped like the real ones (three evaluations per run: start, half-way,
//! end; parameters; total time), so records have the real size (about 390 bytes).

use std::io::{self, Write};

use rand::Rng as _;
use rayon::prelude::*;

use super::record::{EvaluationData, ModelMetrics, Nb101Record, encode_payload};
use super::tfrecord::write_record;
use crate::rng::rng_for;
use crate::space::nb101::enumerate;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Epoch budgets (the official only-108 file: `[108]`; the full file: `[4, 12, 36, 108]`).
    pub epochs: Vec<u32>,
    /// Runs per cell and budget (3 in the official files).
    pub repeats: usize,
    /// Seed of the random metrics.
    pub seed: u64,
    /// Only the first `limit` cells of the enumeration, if given.
    pub limit: Option<usize>,
}

impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            epochs: vec![108],
            repeats: 3,
            seed: 0,
            limit: None,
        }
    }
}

/// Writes the synthetic file; returns the number of records written.
pub fn write_synthetic<W: Write>(w: &mut W, opts: &SynthOptions) -> io::Result<u64> {
    let all = enumerate::unique_cells();
    let n = opts.limit.unwrap_or(all.len()).min(all.len());
    let cells: Vec<_> = all[..n].par_iter().map(|c| (c.graph_hash(), *c)).collect();
    let mut rng = rng_for(opts.seed, "nb101-synth");
    let mut records = 0;
    for (hash, cell) in &cells {
        let quality: f64 = rng.r#gen();
        let params = 200_000 + rng.gen_range(0..40_000_000);
        for &epochs in &opts.epochs {
            for _ in 0..opts.repeats {
                let time_per_epoch = 5.0 + 20.0 * rng.r#gen::<f64>();
                let acc = |rng: &mut crate::rng::Rng, scale: f64| {
                    (0.1 + scale * (0.65 + 0.2 * quality) + 0.01 * rng.r#gen::<f64>()).min(1.0)
                };
                let eval = |rng: &mut crate::rng::Rng, e: f64, scale: f64| EvaluationData {
                    current_epoch: Some(e),
                    training_time: Some(e * time_per_epoch),
                    train_accuracy: Some(acc(rng, scale)),
                    validation_accuracy: Some(acc(rng, scale)),
                    test_accuracy: Some(acc(rng, scale)),
                    checkpoint_path: None,
                };
                let e = f64::from(epochs);
                let metrics = ModelMetrics {
                    evaluation_data: vec![
                        eval(&mut rng, 0.0, 0.0),
                        eval(&mut rng, e / 2.0, 0.9),
                        eval(&mut rng, e, 1.0),
                    ],
                    trainable_parameters: Some(params),
                    total_time: Some(e * time_per_epoch * 1.1),
                };
                let rec = Nb101Record {
                    hash: *hash,
                    epochs,
                    cell: *cell,
                    metrics,
                };
                write_record(w, &encode_payload(&rec))?;
                records += 1;
            }
        }
    }
    w.flush()?;
    Ok(records)
}
