//! Where a controller epoch's time goes (`seminas bench-controller --profile`): the CPU time of
//! each phase of a training step, summed over the threads, and the part of it spent in matrix
//! products, so that a CPU this project does not have can be diagnosed from one run's output.
//!
//! Off unless [`enable`] turned it on: a phase marker is then one relaxed atomic load. On, it
//! reads the clock at each phase's start and end (a few dozen times per slice and step); the
//! results of training do not change.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// A phase of a controller training step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Transposing the weight matrices for the backward pass.
    Transpose,
    /// The encoder's forward pass (embedding, bidirectional LSTM, projection) and the
    /// predictor's.
    EncoderForward,
    /// The decoder's forward pass with teacher forcing (LSTM, attention, output softmax).
    DecoderForward,
    /// The two losses and their gradients at the outputs.
    Loss,
    /// The decoder's backward pass.
    DecoderBackward,
    /// The predictor's backward pass.
    PredictorBackward,
    /// The encoder's backward pass.
    EncoderBackward,
    /// Adding the slices' gradients (main thread, in parallel chunks).
    GradientSum,
    /// The Adam update (in parallel chunks).
    Adam,
}

impl Phase {
    /// Every phase, in the order of a step.
    pub const ALL: [Phase; 9] = [
        Phase::Transpose,
        Phase::EncoderForward,
        Phase::DecoderForward,
        Phase::Loss,
        Phase::DecoderBackward,
        Phase::PredictorBackward,
        Phase::EncoderBackward,
        Phase::GradientSum,
        Phase::Adam,
    ];

    /// A short name for a table.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Transpose => "transpose weights",
            Phase::EncoderForward => "encoder+predictor fwd",
            Phase::DecoderForward => "decoder fwd",
            Phase::Loss => "losses",
            Phase::DecoderBackward => "decoder bwd",
            Phase::PredictorBackward => "predictor bwd",
            Phase::EncoderBackward => "encoder bwd",
            Phase::GradientSum => "gradient sum",
            Phase::Adam => "adam",
        }
    }

    /// True for the phases timed on the main thread around parallel work (their figure is
    /// wall time, not a sum over threads).
    pub fn is_wall(self) -> bool {
        matches!(self, Phase::GradientSum | Phase::Adam)
    }
}

const N: usize = Phase::ALL.len();

static ON: AtomicBool = AtomicBool::new(false);
static NANOS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];
static GEMM_NANOS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];
static GEMM_CALLS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];

thread_local! {
    /// The phase this thread is in, for the matrix products it runs.
    static CURRENT: Cell<Option<Phase>> = const { Cell::new(None) };
}

/// Turns profiling on or off and clears what was measured.
pub fn enable(on: bool) {
    for a in NANOS.iter().chain(&GEMM_NANOS).chain(&GEMM_CALLS) {
        a.store(0, Ordering::Relaxed);
    }
    ON.store(on, Ordering::Relaxed);
}

/// A running phase (see [`start`]).
#[must_use]
pub(crate) struct Mark(Option<(Phase, Instant)>);

/// Starts timing `phase` on this thread (nothing when profiling is off).
#[inline]
pub(crate) fn start(phase: Phase) -> Mark {
    if !ON.load(Ordering::Relaxed) {
        return Mark(None);
    }
    CURRENT.with(|c| c.set(Some(phase)));
    Mark(Some((phase, Instant::now())))
}

/// Ends a phase [`start`] began.
#[inline]
pub(crate) fn stop(mark: Mark) {
    if let Some((phase, t)) = mark.0 {
        NANOS[phase as usize].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        CURRENT.with(|c| c.set(None));
    }
}

/// Starts timing a matrix product (nothing when profiling is off or outside a phase).
#[inline]
pub(crate) fn gemm_start() -> Mark {
    if !ON.load(Ordering::Relaxed) {
        return Mark(None);
    }
    Mark(CURRENT.with(|c| c.get()).map(|p| (p, Instant::now())))
}

/// Ends a matrix product [`gemm_start`] began.
#[inline]
pub(crate) fn gemm_stop(mark: Mark) {
    if let Some((phase, t)) = mark.0 {
        GEMM_NANOS[phase as usize].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        GEMM_CALLS[phase as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// What one phase took since [`enable`].
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PhaseTime {
    /// The phase's name.
    pub phase: &'static str,
    /// Seconds: CPU time summed over threads, or wall time for the main thread's phases.
    pub seconds: f64,
    /// Of which in matrix products.
    pub gemm_seconds: f64,
    /// Matrix products run.
    pub gemm_calls: u64,
    /// True when `seconds` is wall time of the main thread (see [`Phase::is_wall`]).
    pub wall: bool,
}

/// What every phase took since [`enable`].
pub fn snapshot() -> Vec<PhaseTime> {
    Phase::ALL
        .iter()
        .map(|&p| PhaseTime {
            phase: p.name(),
            seconds: NANOS[p as usize].load(Ordering::Relaxed) as f64 * 1e-9,
            gemm_seconds: GEMM_NANOS[p as usize].load(Ordering::Relaxed) as f64 * 1e-9,
            gemm_calls: GEMM_CALLS[p as usize].load(Ordering::Relaxed),
            wall: p.is_wall(),
        })
        .collect()
}

/// The profile of training epochs on one data-set size, with the machine it ran on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProfileReport {
    /// The CPU (`/proc/cpuinfo`'s model name, family and model), when known.
    pub cpu: Option<String>,
    /// The data caches and unified caches of CPU 0 (`L1d 48K`, `L2 2048K`, ...), when known.
    pub caches: Vec<String>,
    /// Threads in rayon's pool.
    pub threads: usize,
    /// The matrix kernel that ran.
    pub kernel: super::Kernel,
    /// The instruction set of the elementwise passes.
    pub isa: super::Isa,
    /// Samples per epoch.
    pub samples: usize,
    /// Epochs profiled.
    pub epochs: usize,
    /// Mean wall seconds of an epoch.
    pub epoch_s: f64,
    /// Per phase, per epoch.
    pub phases: Vec<PhaseTime>,
}

impl ProfileReport {
    /// Profiles `epochs` epochs of the benchmark controller on `samples` synthetic samples
    /// (as `seminas bench-controller` trains it).
    pub fn measure(samples: usize, epochs: usize, seed: u64) -> Self {
        enable(true);
        let report = super::bench::run_with(&[samples], epochs, seed, false);
        let totals = snapshot();
        enable(false);
        let case = &report.cases[0];
        let per = case.epochs.max(1) as f64;
        Self {
            cpu: cpu_name(),
            caches: caches(),
            threads: report.threads,
            kernel: report.kernel,
            isa: report.isa,
            samples,
            epochs: case.epochs,
            epoch_s: case.mean_epoch_s,
            phases: totals
                .into_iter()
                .map(|p| PhaseTime {
                    seconds: p.seconds / per,
                    gemm_seconds: p.gemm_seconds / per,
                    gemm_calls: (p.gemm_calls as f64 / per).round() as u64,
                    ..p
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for ProfileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "profile of a controller epoch: {} samples, mean of {} epochs, {:.3} s of wall time",
            self.samples, self.epochs, self.epoch_s
        )?;
        writeln!(
            f,
            "cpu: {}; {} threads; matrix kernel {}, elementwise passes {}",
            self.cpu.as_deref().unwrap_or("unknown"),
            self.threads,
            self.kernel,
            self.isa
        )?;
        writeln!(
            f,
            "caches of cpu 0: {}",
            if self.caches.is_empty() {
                "unknown".to_string()
            } else {
                self.caches.join(", ")
            }
        )?;
        let slices: f64 = self
            .phases
            .iter()
            .filter(|p| !p.wall)
            .map(|p| p.seconds)
            .sum();
        let capacity = self.epoch_s * self.threads as f64;
        writeln!(
            f,
            "{:<24} {:>9} {:>7} {:>9} {:>7} {:>11}",
            "phase", "seconds", "share", "gemm s", "gemms", "elementwise"
        )?;
        for p in &self.phases {
            let share = p.seconds / if p.wall { self.epoch_s } else { capacity };
            writeln!(
                f,
                "{:<24} {:>9.3} {:>6.1}% {:>9.3} {:>7} {:>11.3}{}",
                p.phase,
                p.seconds,
                100.0 * share,
                p.gemm_seconds,
                p.gemm_calls,
                p.seconds - p.gemm_seconds,
                if p.wall { "  (wall, main thread)" } else { "" }
            )?;
        }
        let wall: f64 = self
            .phases
            .iter()
            .filter(|p| p.wall)
            .map(|p| p.seconds)
            .sum();
        let gemm: f64 = self.phases.iter().map(|p| p.gemm_seconds).sum();
        writeln!(
            f,
            "slices: {slices:.3} CPU s of the {capacity:.3} the {} threads had \
             ({:.1}%); gemm {gemm:.3} s ({:.1}% of the slices' time); main-thread phases \
             {wall:.3} s of wall; the rest ({:.3} CPU s) is waiting for the slowest slice, \
             scheduling and work outside the phases",
            self.threads,
            100.0 * slices / capacity,
            100.0 * gemm / slices.max(1e-12),
            (capacity - slices - wall * self.threads as f64).max(0.0)
        )
    }
}

/// `/proc/cpuinfo`'s first model name, with its family and model.
fn cpu_name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let model = field("model name")?;
    Some(match (field("cpu family"), field("model")) {
        (Some(fam), Some(m)) => format!("{model} (family {fam}, model {m})"),
        _ => model,
    })
}

/// The caches of CPU 0 as sysfs lists them (data and unified ones).
fn caches() -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
        let read = |f: &str| {
            std::fs::read_to_string(format!("{dir}/{f}"))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        let kind = match kind.as_str() {
            "Data" => "d",
            "Instruction" => continue,
            _ => "",
        };
        out.push(format!("L{level}{kind} {size}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Profiling times every phase of a step, counts the matrix products where they run, and
    /// changes nothing the training computes.
    #[test]
    fn a_profiled_epoch_times_every_phase_and_trains_the_same() {
        let plain = crate::controller::bench::run_with(&[120], 2, 3, false);
        enable(true);
        let profiled = crate::controller::bench::run_with(&[120], 2, 3, false);
        let timed = snapshot();
        enable(false);
        assert_eq!(
            plain.cases[0].last_loss.to_bits(),
            profiled.cases[0].last_loss.to_bits()
        );
        assert!(timed.iter().all(|t| t.seconds > 0.0), "{timed:?}");
        let p = ProfileReport::measure(120, 2, 3);
        assert_eq!(p.epochs, 2);
        assert_eq!(p.phases.len(), Phase::ALL.len());
        for t in &p.phases {
            assert!(t.seconds > 0.0, "{t:?}");
            assert!(t.gemm_seconds <= t.seconds, "{t:?}");
        }
        let calls = |name: &str| {
            p.phases
                .iter()
                .find(|t| t.phase == name)
                .unwrap()
                .gemm_calls
        };
        for name in [
            "encoder+predictor fwd",
            "decoder fwd",
            "decoder bwd",
            "encoder bwd",
        ] {
            assert!(calls(name) > 0, "{name}");
        }
        assert_eq!(calls("adam"), 0);
        let text = p.to_string();
        assert!(
            text.contains("matrix kernel") && text.contains("caches of cpu 0"),
            "{text}"
        );
    }
}
