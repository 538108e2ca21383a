//! The SemiNAS/NAO controller: LSTM encoder, MLP predictor, attention LSTM decoder.
//!
//! The network follows the official code (renqianluo/SemiNAS, `nasbench/`):
//! - encoder: token embedding -> dropout -> 1-layer bidirectional LSTM -> linear `2H -> H` plus
//!   the (dropped-out) embedding as residual -> L2-normalise per token (the *encoder outputs*)
//!   -> mean over tokens -> L2-normalise (the *architecture embedding* `z`);
//! - predictor: MLP `H -> mlp_hidden -> ... -> H` with ReLU and dropout after every layer,
//!   residual from `z`, scaled by `sqrt(1/2)`, then linear `H -> 1`;
//! - decoder: its own token embedding -> dropout -> 1-layer LSTM started at `(z, z)`, residual,
//!   dot-product attention over the encoder outputs (input projection `H -> H`, output
//!   projection of `[context; input]` `2H -> H`, tanh, no biases), residual, linear `H -> V`,
//!   log-softmax; teacher-forced input is SOS followed by the sequence shifted by one;
//! - loss `trade_off * MSE + (1 - trade_off) * NLL`, Adam with L2 weight decay added to the
//!   (already clipped) gradient as torch's Adam does, global gradient-norm clipping.
//!
//! Differences from the official code (all deliberate):
//! - greedy decoding chooses at each position only among the tokens the search space allows
//!   there ([`TokenEncoding::allowed`]) instead of NAS-Bench-101's hard-coded token ranges;
//! - generation moves *up* the predictor's gradient for `lambda > 0` (the official code's
//!   `direction='+'`, the one its search uses); a negative `lambda` moves down;
//! - `tanh` and `exp` in f32 use a vectorisable polynomial `exp` (relative error < 5e-7);
//! - a mini-batch is computed as [`ControllerConfig::slices`] fixed slices whose gradients are
//!   summed in order, which changes float rounding only.
//!
//! Parallelism: training runs the slices of each mini-batch on rayon's pool; `predict` and
//! `generate` split their input into fixed chunks. Results depend on the seed and the
//! configuration, never on the number of threads.

pub mod bench;
mod checkpoint;
pub mod config;
pub mod kernel;
pub(crate) mod model;
pub(crate) mod params;
pub mod profile;
pub(crate) mod real;
#[cfg(test)]
mod tests;

use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rayon::prelude::*;

pub use config::{ControllerConfig, ControllerError, EarlyStopping, StopOn};
pub use kernel::{Isa, Kernel, active_isa, active_kernel, set_isa, set_kernel};

use crate::rng::Rng;
use crate::space::TokenEncoding;
use model::{Dims, Net, Workspace};
use params::Layout;

/// Sequences per parallel chunk in [`Controller::predict`] and [`Controller::generate`].
const INFER_CHUNK: usize = 64;

/// Splits pairs into training and held-out indices for early stopping: a pair is held out when
/// a hash of its token sequence falls in the first `fraction` of the hash range. Copies of a
/// sequence (up-sampled pairs) land on the same side, and a sequence stays on its side in every
/// call (every round of a search), so held-out pairs are never trained on. No random numbers
/// are drawn.
fn split_held_out(seqs: &[Vec<u32>], fraction: f32) -> (Vec<usize>, Vec<usize>) {
    let cut = (f64::from(fraction.clamp(0.0, 1.0)) * (1u64 << 32) as f64) as u64;
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for (i, s) in seqs.iter().enumerate() {
        // FNV-1a over the tokens, then a 64-bit finaliser (splitmix64) to spread the bits.
        let mut x = 0xcbf2_9ce4_8422_2325u64;
        for &t in s {
            x = (x ^ u64::from(t)).wrapping_mul(0x0100_0000_01b3);
        }
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        if x >> 32 < cut {
            held.push(i);
        } else {
            train.push(i);
        }
    }
    if train.is_empty() {
        return ((0..seqs.len()).collect(), Vec::new());
    }
    (train, held)
}

/// Parameters per parallel chunk in the gradient sum, its norm and the Adam step.
const PARAM_CHUNK: usize = 16_384;

/// Mean losses over the last epoch of [`Controller::train`] (with early stopping: over the
/// epoch whose weights were kept).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TrainStats {
    /// Mean squared error of the predictor (on the normalised targets).
    pub mse: f64,
    /// Mean negative log-likelihood per token of the decoder.
    pub nll: f64,
    /// `trade_off * mse + (1 - trade_off) * nll`.
    pub loss: f64,
    /// Epochs run (fewer than asked when early stopping ended training).
    pub epochs: usize,
    /// With early stopping: the held-out loss (eval mode, same weighting as `loss`) of the
    /// epoch whose weights were kept; the losses above are that epoch's too.
    pub held_out_loss: Option<f64>,
    /// With early stopping on [`StopOn::Tau`]: the held-out Kendall tau of the kept epoch.
    pub held_out_tau: Option<f64>,
}

/// A trained (or freshly initialised) SemiNAS controller together with its optimiser state.
#[derive(Clone)]
pub struct Controller {
    cfg: ControllerConfig,
    layout: Layout,
    dims: Dims,
    /// The tokens allowed at each position (from the space's encoding).
    allowed: Vec<Vec<u32>>,
    /// `length x vocab_size` mask of `allowed`.
    mask: Vec<bool>,
    params: Vec<f32>,
    adam_m: Vec<f32>,
    adam_v: Vec<f32>,
    /// Adam steps taken so far.
    step: u64,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The weights themselves are too many to print.
        f.debug_struct("Controller")
            .field("config", &self.cfg)
            .field("params", &self.layout.total)
            .field("adam_steps", &self.step)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// A controller with PyTorch-style initial weights drawn from `rng`.
    ///
    /// # Panics
    /// If `cfg` is invalid (see [`ControllerConfig::validate`]) or does not match `enc`'s
    /// vocabulary and length; use [`Controller::try_new`] to get an error instead.
    pub fn new(cfg: ControllerConfig, enc: &TokenEncoding, rng: &mut Rng) -> Self {
        Self::try_new(cfg, enc, rng).expect("valid controller configuration")
    }

    /// Like [`Controller::new`], reporting a bad configuration as an error.
    pub fn try_new(
        cfg: ControllerConfig,
        enc: &TokenEncoding,
        rng: &mut Rng,
    ) -> Result<Self, ControllerError> {
        // Before the initialiser, which assumes a valid configuration.
        cfg.validate()?;
        let layout = Layout::new(&cfg);
        let params = layout.init(rng);
        Self::from_parts(cfg, enc.allowed.clone(), params, None)
    }

    fn from_parts(
        cfg: ControllerConfig,
        allowed: Vec<Vec<u32>>,
        params: Vec<f32>,
        adam: Option<(Vec<f32>, Vec<f32>, u64)>,
    ) -> Result<Self, ControllerError> {
        cfg.validate()?;
        if allowed.len() != cfg.length {
            return Err(ControllerError::Config(format!(
                "length {} but the encoding has {} positions",
                cfg.length,
                allowed.len()
            )));
        }
        let mut mask = vec![false; cfg.length * cfg.vocab_size];
        for (p, toks) in allowed.iter().enumerate() {
            if toks.is_empty() {
                return Err(ControllerError::Config(format!(
                    "position {p} allows no token"
                )));
            }
            for &tok in toks {
                if tok == 0 || tok as usize >= cfg.vocab_size {
                    return Err(ControllerError::Config(format!(
                        "token {tok} at position {p} is outside 1..{}",
                        cfg.vocab_size
                    )));
                }
                mask[p * cfg.vocab_size + tok as usize] = true;
            }
        }
        let layout = Layout::new(&cfg);
        if params.len() != layout.total {
            return Err(ControllerError::Config(format!(
                "{} parameters given, the configuration needs {}",
                params.len(),
                layout.total
            )));
        }
        let dims = Dims::of(&cfg);
        let (adam_m, adam_v, step) =
            adam.unwrap_or_else(|| (vec![0.0; layout.total], vec![0.0; layout.total], 0));
        Ok(Self {
            cfg,
            layout,
            dims,
            allowed,
            mask,
            params,
            adam_m,
            adam_v,
            step,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ControllerConfig {
        &self.cfg
    }

    /// Runs `f` (the first training of a SemiNAS round or SemiNAS-RE retraining, on the
    /// evaluated pairs alone) with early stopping off when the setting stops only the second
    /// training ([`EarlyStopping::second_only`]).
    pub fn first_training<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let second_only = self
            .cfg
            .early_stopping
            .as_ref()
            .is_some_and(|e| e.second_only);
        if !second_only {
            return f(self);
        }
        let es = self.cfg.early_stopping.take();
        let r = f(self);
        self.cfg.early_stopping = es;
        r
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> usize {
        self.layout.total
    }

    /// Adam steps taken so far (one per mini-batch).
    pub fn steps(&self) -> u64 {
        self.step
    }

    fn net(&self) -> Net<'_, f32> {
        Net {
            p: &self.params,
            lay: &self.layout,
            d: &self.dims,
        }
    }

    fn check_seqs(&self, seqs: &[Vec<u32>]) -> Result<(), ControllerError> {
        for (i, s) in seqs.iter().enumerate() {
            if s.len() != self.cfg.length {
                return Err(ControllerError::Input(format!(
                    "sequence {i} has {} tokens, expected {}",
                    s.len(),
                    self.cfg.length
                )));
            }
            if let Some(&tok) = s.iter().find(|&&t| t as usize >= self.cfg.vocab_size) {
                return Err(ControllerError::Input(format!(
                    "sequence {i} has token {tok}, vocabulary size is {}",
                    self.cfg.vocab_size
                )));
            }
        }
        Ok(())
    }

    /// Trains `epochs` epochs on `(sequence, target)` pairs (targets already normalised by the
    /// caller), shuffling with `rng` each epoch; returns the mean losses of the last epoch.
    ///
    /// # Panics
    /// On malformed input (see [`Controller::try_train`]).
    pub fn train(
        &mut self,
        seqs: &[Vec<u32>],
        targets: &[f32],
        epochs: usize,
        rng: &mut Rng,
    ) -> TrainStats {
        self.try_train(seqs, targets, epochs, rng)
            .expect("valid training data")
    }

    /// [`Controller::train`], reporting sequences of the wrong length or with tokens outside
    /// the vocabulary, non-finite targets, and a target count that differs from the sequence
    /// count.
    pub fn try_train(
        &mut self,
        seqs: &[Vec<u32>],
        targets: &[f32],
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<TrainStats, ControllerError> {
        self.try_train_until(seqs, targets, epochs, rng, &mut || false)
    }

    /// [`Controller::try_train`] that calls `interrupt` before every epoch and stops with
    /// [`ControllerError::Interrupted`] when it returns true (the weights are then those of a
    /// partial training: the caller discards them). Python's Ctrl-C reaches a fit this way.
    pub fn try_train_until(
        &mut self,
        seqs: &[Vec<u32>],
        targets: &[f32],
        epochs: usize,
        rng: &mut Rng,
        interrupt: &mut dyn FnMut() -> bool,
    ) -> Result<TrainStats, ControllerError> {
        self.check_seqs(seqs)?;
        if seqs.len() != targets.len() {
            return Err(ControllerError::Input(format!(
                "{} sequences but {} targets",
                seqs.len(),
                targets.len()
            )));
        }
        if let Some(i) = targets.iter().position(|y| !y.is_finite()) {
            return Err(ControllerError::Input(format!(
                "target {i} is {}, targets must be finite",
                targets[i]
            )));
        }
        let mut stats = TrainStats {
            mse: 0.0,
            nll: 0.0,
            loss: 0.0,
            epochs: 0,
            held_out_loss: None,
            held_out_tau: None,
        };
        if seqs.is_empty() || epochs == 0 {
            return Ok(stats);
        }
        let nslices = self.cfg.slices;
        let cap = self.cfg.batch_size.div_ceil(nslices);
        let mut workspaces: Vec<Workspace<f32>> = (0..nslices)
            .map(|_| Workspace::new(&self.dims, cap, self.layout.total))
            .collect();
        let (mut order, held) = match &self.cfg.early_stopping {
            Some(es) => split_held_out(seqs, es.held_out),
            None => ((0..seqs.len()).collect(), Vec::new()),
        };
        let early = self.cfg.early_stopping.clone().filter(|_| !held.is_empty());
        if early.is_none() {
            // Too few pairs to hold any out: plain training on all of them.
            order = (0..seqs.len()).collect();
        }
        // For the tau criterion: the distinct held-out sequences. When some occur more than
        // once (SemiNAS up-samples its evaluated pairs next to single pseudo-labelled ones),
        // only those: a pseudo-label is the predictor's own output, ranking against it would
        // reward staying where training started.
        let (tau_seqs, tau_targets) = match &early {
            Some(es) if es.on == StopOn::Tau => {
                let mut count = std::collections::HashMap::new();
                for &i in &held {
                    *count.entry(seqs[i].as_slice()).or_insert(0usize) += 1;
                }
                let repeated = count.values().any(|&c| c > 1);
                let mut seen = std::collections::HashSet::new();
                held.iter()
                    .filter(|&&i| !repeated || count[seqs[i].as_slice()] > 1)
                    .filter(|&&i| seen.insert(seqs[i].as_slice()))
                    .map(|&i| (seqs[i].clone(), f64::from(targets[i])))
                    .unzip()
            }
            _ => (Vec::new(), Vec::new()),
        };
        // The watched value, lower is better: the loss, or minus tau.
        let mut best: Option<(f64, TrainStats, Box<Controller>)> = None;
        let mut since_best = 0;
        for epoch in 0..epochs {
            if interrupt() {
                return Err(ControllerError::Interrupted);
            }
            order.shuffle(rng);
            let (sse, nll) = self.train_epoch(&order, seqs, targets, &mut workspaces, rng);
            let n = order.len() as f64;
            stats.mse = sse / n;
            stats.nll = nll / (n * self.cfg.length as f64);
            let to = f64::from(self.cfg.trade_off);
            stats.loss = to * stats.mse + (1.0 - to) * stats.nll;
            stats.epochs = epoch + 1;
            let Some(es) = &early else { continue };
            let held_loss = self.held_out_loss(&held, seqs, targets, &mut workspaces);
            stats.held_out_loss = Some(held_loss);
            let watched = match es.on {
                StopOn::Loss => held_loss,
                StopOn::Tau => {
                    let p: Vec<f64> = self.predict(&tau_seqs).into_iter().map(f64::from).collect();
                    let tau = crate::stats::kendall_tau(&p, &tau_targets);
                    stats.held_out_tau = Some(tau);
                    // Constant predictions (tau undefined) are the worst ranking.
                    if tau.is_nan() { f64::INFINITY } else { -tau }
                }
            };
            if best.as_ref().is_none_or(|b| watched < b.0) {
                // Keep the weights and the optimiser state of the best epoch.
                best = Some((watched, stats, Box::new(self.clone())));
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= es.patience {
                    break;
                }
            }
        }
        if let Some((_, best_stats, state)) = best {
            let epochs_run = stats.epochs;
            *self = *state;
            stats = best_stats;
            stats.epochs = epochs_run;
        }
        Ok(stats)
    }

    /// One epoch over `order` (mini-batches of `batch_size` in that order); returns the sums of
    /// squared errors and of token NLLs.
    fn train_epoch(
        &mut self,
        order: &[usize],
        seqs: &[Vec<u32>],
        targets: &[f32],
        workspaces: &mut [Workspace<f32>],
        rng: &mut Rng,
    ) -> (f64, f64) {
        let nslices = self.cfg.slices;
        let (mut sse, mut nll) = (0.0, 0.0);
        for batch in order.chunks(self.cfg.batch_size) {
            let seeds: Vec<u64> = (0..nslices).map(|_| rng.next_u64()).collect();
            let per = batch.len().div_ceil(nslices);
            let net = self.net();
            let losses: Vec<(f64, f64)> = workspaces
                .par_iter_mut()
                .zip(seeds)
                .enumerate()
                .map(|(k, (ws, seed))| {
                    ws.grad.fill(0.0);
                    let part = &batch[(k * per).min(batch.len())..((k + 1) * per).min(batch.len())];
                    if part.is_empty() {
                        return (0.0, 0.0);
                    }
                    let s: Vec<&[u32]> = part.iter().map(|&i| seqs[i].as_slice()).collect();
                    let y: Vec<f32> = part.iter().map(|&i| targets[i]).collect();
                    let mut masks = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                    net.loss_and_grad(ws, &s, &y, batch.len(), Some(&mut masks))
                })
                .collect();
            for (a, b) in losses {
                sse += a;
                nll += b;
            }
            let t = profile::start(profile::Phase::GradientSum);
            let (first, rest) = workspaces.split_first_mut().expect("at least one slice");
            let rest: &[Workspace<f32>] = rest;
            first
                .grad
                .par_chunks_mut(PARAM_CHUNK)
                .enumerate()
                .for_each(|(ci, g)| {
                    for ws in rest {
                        let src = &ws.grad[ci * PARAM_CHUNK..][..g.len()];
                        for (a, b) in g.iter_mut().zip(src) {
                            *a += *b;
                        }
                    }
                });
            profile::stop(t);
            let grad = std::mem::take(&mut first.grad);
            let t = profile::start(profile::Phase::Adam);
            self.adam_step(&grad);
            profile::stop(t);
            first.grad = grad;
        }
        (sse, nll)
    }

    /// The training loss (eval mode) over the pairs `held`: fixed chunks of one workspace's
    /// capacity, summed in order, so the value does not depend on the number of threads.
    fn held_out_loss(
        &self,
        held: &[usize],
        seqs: &[Vec<u32>],
        targets: &[f32],
        workspaces: &mut [Workspace<f32>],
    ) -> f64 {
        let net = self.net();
        let cap = self.cfg.batch_size.div_ceil(self.cfg.slices);
        let (mut sse, mut nll) = (0.0, 0.0);
        for group in held.chunks(cap * workspaces.len()) {
            let parts: Vec<(f64, f64)> = workspaces
                .par_iter_mut()
                .zip(group.par_chunks(cap))
                .map(|(ws, part)| {
                    let s: Vec<&[u32]> = part.iter().map(|&i| seqs[i].as_slice()).collect();
                    let y: Vec<f32> = part.iter().map(|&i| targets[i]).collect();
                    net.eval_loss(ws, &s, &y)
                })
                .collect();
            for (a, b) in parts {
                sse += a;
                nll += b;
            }
        }
        let n = held.len() as f64;
        let to = f64::from(self.cfg.trade_off);
        to * sse / n + (1.0 - to) * nll / (n * self.cfg.length as f64)
    }

    /// Clips the gradient's global norm, adds weight decay and takes one Adam step (torch's
    /// order: `clip_grad_norm_` on the loss gradient, then `Adam(weight_decay)`).
    fn adam_step(&mut self, grad: &[f32]) {
        // Partial sums over fixed chunks, added in order: the same norm for any thread count.
        let partial: Vec<f64> = grad
            .par_chunks(PARAM_CHUNK)
            .map(|c| c.iter().map(|&g| f64::from(g) * f64::from(g)).sum::<f64>())
            .collect();
        let norm = partial.iter().sum::<f64>().sqrt();
        let clip = f64::from(self.cfg.grad_clip) / (norm + 1e-6);
        let scale = if clip < 1.0 { clip as f32 } else { 1.0 };
        self.step += 1;
        let c = &self.cfg;
        let bc1 = 1.0 - f64::from(c.beta1).powf(self.step as f64);
        let bc2 = 1.0 - f64::from(c.beta2).powf(self.step as f64);
        let step_size = (f64::from(c.lr) / bc1) as f32;
        let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
        let (b1, b2, eps, wd) = (c.beta1, c.beta2, c.eps, c.weight_decay);
        self.params
            .par_chunks_mut(PARAM_CHUNK)
            .zip(self.adam_m.par_chunks_mut(PARAM_CHUNK))
            .zip(self.adam_v.par_chunks_mut(PARAM_CHUNK))
            .zip(grad.par_chunks(PARAM_CHUNK))
            .for_each(|(((p, m), v), g)| {
                for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
                    let g = g * scale + wd * *p;
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    let denom = v.sqrt() * inv_sqrt_bc2 + eps;
                    *p -= step_size * *m / denom;
                }
            });
    }

    /// Runs `f` on fixed chunks of `INFER_CHUNK` sequences, one workspace per thread; chunk
    /// boundaries never depend on the thread count, so neither do the results.
    fn infer<T: Send>(
        &self,
        seqs: &[Vec<u32>],
        f: impl Fn(&Net<'_, f32>, &mut Workspace<f32>, &[&[u32]]) -> Vec<T> + Sync,
    ) -> Vec<T> {
        let chunks: Vec<&[Vec<u32>]> = seqs.chunks(INFER_CHUNK).collect();
        self.infer_chunks(&chunks, |net, ws, chunk| {
            let s: Vec<&[u32]> = chunk.iter().map(|x| x.as_slice()).collect();
            f(net, ws, &s)
        })
    }

    /// Runs `f` on each of `chunks` (at most `INFER_CHUNK` sequences each), the chunks split
    /// in order among the threads, each thread with its eval-mode workspace (see
    /// [`with_infer_workspace`]); the results in chunk order.
    fn infer_chunks<C: Sync, T: Send>(
        &self,
        chunks: &[C],
        f: impl Fn(&Net<'_, f32>, &mut Workspace<f32>, &C) -> Vec<T> + Sync,
    ) -> Vec<T> {
        let net = self.net();
        let per = chunks.len().div_ceil(rayon::current_num_threads()).max(1);
        let parts: Vec<Vec<T>> = chunks
            .par_chunks(per)
            .map(|group| {
                with_infer_workspace(&self.dims, |ws| {
                    net.prepare_eval(ws);
                    let mut out = Vec::new();
                    for chunk in group {
                        out.extend(f(&net, ws, chunk));
                    }
                    out
                })
            })
            .collect();
        parts.into_iter().flatten().collect()
    }

    /// Predicted (normalised) values of `seqs`, eval mode (no dropout).
    ///
    /// # Panics
    /// On sequences of the wrong length or with tokens outside the vocabulary.
    pub fn predict(&self, seqs: &[Vec<u32>]) -> Vec<f32> {
        self.check_seqs(seqs).expect("valid sequences");
        self.infer(seqs, |net, ws, s| {
            net.encode(ws, s, None);
            ws.pred.value[..s.len()].to_vec()
        })
    }

    /// Gradient of the predicted value with respect to each encoder output (`length x hidden`
    /// per sequence, row-major), as used by [`Controller::generate`].
    ///
    /// # Panics
    /// On sequences of the wrong length or with tokens outside the vocabulary.
    pub fn output_gradients(&self, seqs: &[Vec<u32>]) -> Vec<Vec<f32>> {
        self.check_seqs(seqs).expect("valid sequences");
        let (tl, h) = (self.cfg.length, self.cfg.hidden);
        self.infer(seqs, |net, ws, s| {
            let b = s.len();
            net.encode(ws, s, None);
            net.pred_grad_wrt_outputs(ws, b);
            (0..b)
                .map(|i| {
                    let mut g = Vec::with_capacity(tl * h);
                    for tt in 0..tl {
                        let r = tt * b + i;
                        g.extend_from_slice(&ws.g.enc_out[r * h..(r + 1) * h]);
                    }
                    g
                })
                .collect()
        })
    }

    /// NAO generation: moves each sequence's encoder outputs up the predictor's gradient by
    /// `lambda`, renormalises them, predicts from the new embedding and decodes greedily among
    /// the tokens allowed at each position. Returns the new sequences and their predicted
    /// (normalised) values, in input order.
    ///
    /// # Panics
    /// On sequences of the wrong length or with tokens outside the vocabulary.
    pub fn generate(&self, seqs: &[Vec<u32>], lambda: f32) -> Vec<(Vec<u32>, f32)> {
        self.check_seqs(seqs).expect("valid sequences");
        let tl = self.cfg.length;
        self.infer(seqs, |net, ws, s| {
            let toks = net.generate(ws, s, lambda, &self.mask);
            toks.chunks_exact(tl)
                .zip(&ws.pred.value)
                .map(|(t, &p)| (t.to_vec(), p))
                .collect()
        })
    }

    /// [`Controller::generate`] for several steps `lambda` from the same sequences: the
    /// encoder pass and the predictor's gradient, which do not depend on `lambda`, run once
    /// here, and each [`Generator::generate`] gives exactly what `generate(seqs, lambda)`
    /// gives (same bits).
    ///
    /// # Panics
    /// On sequences of the wrong length or with tokens outside the vocabulary.
    pub fn generator(&self, seqs: &[Vec<u32>]) -> Generator<'_> {
        self.check_seqs(seqs).expect("valid sequences");
        let (tl, h) = (self.cfg.length, self.cfg.hidden);
        let chunks = self.infer(seqs, |net, ws, s| {
            net.encode_with_gradients(ws, s);
            let rows = tl * s.len();
            vec![EncodedChunk {
                len: s.len(),
                out: ws.enc.out[..rows * h].to_vec(),
                grad: ws.g.enc_out[..rows * h].to_vec(),
            }]
        });
        Generator { ctl: self, chunks }
    }
}

/// One inference chunk's encoder outputs and their predictor gradients (time-major rows).
struct EncodedChunk {
    len: usize,
    out: Vec<f32>,
    grad: Vec<f32>,
}

/// NAO generation steps from fixed sequences (see [`Controller::generator`]).
pub struct Generator<'a> {
    ctl: &'a Controller,
    chunks: Vec<EncodedChunk>,
}

impl Generator<'_> {
    /// The same as [`Controller::generate`] on the generator's sequences with this `lambda`.
    pub fn generate(&self, lambda: f32) -> Vec<(Vec<u32>, f32)> {
        let ctl = self.ctl;
        let tl = ctl.cfg.length;
        ctl.infer_chunks(&self.chunks, |net, ws, c| {
            let n = c.out.len();
            ws.enc.out[..n].copy_from_slice(&c.out);
            ws.g.enc_out[..n].copy_from_slice(&c.grad);
            let toks = net.generate_moved(ws, c.len, lambda, &ctl.mask);
            toks.chunks_exact(tl)
                .zip(&ws.pred.value)
                .map(|(t, &p)| (t.to_vec(), p))
                .collect()
        })
    }
}

thread_local! {
    /// This thread's eval-mode workspace, kept from one inference call to the next: a
    /// workspace is tens of MiB, and allocating (and faulting in) a fresh one for every call
    /// cost more than small calls' arithmetic (generation calls `generate` once per step).
    static INFER_WORKSPACE: std::cell::RefCell<Option<Workspace<f32>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's inference workspace for `dims` (`INFER_CHUNK` samples), made
/// when missing or of other sizes. Every eval-mode pass writes what it reads, so a reused
/// workspace gives the same results as a fresh one.
fn with_infer_workspace<R>(dims: &Dims, f: impl FnOnce(&mut Workspace<f32>) -> R) -> R {
    INFER_WORKSPACE.with(|slot| match slot.try_borrow_mut() {
        Ok(mut slot) => {
            if slot.as_ref().is_none_or(|ws| ws.dims != *dims) {
                *slot = Some(Workspace::new(dims, INFER_CHUNK, 0));
            }
            f(slot.as_mut().expect("just made"))
        }
        // Already in use further up this thread's stack: a fresh one.
        Err(_) => f(&mut Workspace::new(dims, INFER_CHUNK, 0)),
    })
}
