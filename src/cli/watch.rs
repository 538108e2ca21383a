//! Progress of `seminas search` on stderr: a bar on a terminal, log lines off it (one per
//! finished query, a heartbeat while nothing finishes), nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use seminas::search::Phase;

use seminas::study::QueryRecord;
use seminas::study::progress::Progress;
use seminas::time::{unix_now, utc_text};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing.
    Quiet,
    /// A progress bar (stderr is a terminal).
    Bar,
    /// Log lines (stderr is not a terminal).
    Log,
}

impl Mode {
    /// The mode for stderr as it is, unless `quiet`.
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Log
        }
    }
}

struct Shared {
    progress: Mutex<Progress>,
    last_line: Mutex<Instant>,
    stop: Mutex<bool>,
    wake: Condvar,
    phase: Phase,
}

/// Reports a running search until [`Reporter::finish`].
pub struct Reporter {
    mode: Mode,
    shared: Arc<Shared>,
    bar: Option<ProgressBar>,
    thread: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Starts reporting a search of `budget` queries named `title`; `phase` is the search's
    /// (see [`seminas::study::Study::phase`]); a heartbeat comes after `heartbeat` of silence.
    pub fn start(
        mode: Mode,
        title: &str,
        budget: usize,
        minimize: bool,
        phase: Phase,
        heartbeat: Duration,
    ) -> Self {
        let shared = Arc::new(Shared {
            progress: Mutex::new(Progress::new(budget, minimize)),
            last_line: Mutex::new(Instant::now()),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            phase,
        });
        // A budget in training time leaves queries unlimited: a count, no bar or ETA.
        let limited = budget != usize::MAX;
        let bar = (mode == Mode::Bar).then(|| {
            let len = limited.then_some(budget as u64);
            let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
            let template = if limited {
                "{prefix} [{bar:30}] {pos}/{len} queries | {elapsed} elapsed, ETA {eta} | {msg}"
            } else {
                "{prefix} {pos} queries | {elapsed} elapsed | {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(title.to_string());
            bar
        });
        if mode == Mode::Log {
            if limited {
                eprintln!("{} {title}: {budget} queries", utc_text(unix_now()));
            } else {
                eprintln!(
                    "{} {title}: queries not limited (a budget in training time)",
                    utc_text(unix_now())
                );
            }
        }
        let thread = (mode != Mode::Quiet).then(|| {
            let shared = Arc::clone(&shared);
            let bar = bar.clone();
            std::thread::spawn(move || tick(&shared, bar.as_ref(), heartbeat))
        });
        Self {
            mode,
            shared,
            bar,
            thread,
        }
    }

    /// A told query.
    pub fn query<A>(&self, q: &QueryRecord<A>) {
        let Ok(mut p) = self.shared.progress.lock() else {
            return;
        };
        p.record(q);
        match self.mode {
            Mode::Quiet => {}
            Mode::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(p.done() as u64);
                    bar.set_message(bar_message(&p, &self.shared.phase.get()));
                }
            }
            Mode::Log => {
                eprintln!("{}", p.query_line(q));
                if let Ok(mut t) = self.shared.last_line.lock() {
                    *t = Instant::now();
                }
            }
        }
    }

    /// Stops the heartbeat, clears the bar and, off a terminal, logs the end of the search.
    pub fn finish(mut self) {
        if let Ok(mut stop) = self.shared.stop.lock() {
            *stop = true;
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode == Mode::Log
            && let Ok(p) = self.shared.progress.lock()
        {
            eprintln!("{}", p.heartbeat_line("search ended"));
        }
    }
}

fn bar_message(p: &Progress, phase: &str) -> String {
    let best = p.best().map_or_else(|| "-".into(), |b| format!("{b:.4}"));
    let phase = if phase.is_empty() { "starting" } else { phase };
    format!("best {best} | failures {} | {phase}", p.failures())
}

/// The reporter's thread: refreshes the bar's phase every second, or writes a heartbeat line
/// after `heartbeat` without a line.
fn tick(shared: &Shared, bar: Option<&ProgressBar>, heartbeat: Duration) {
    let step = if bar.is_some() {
        Duration::from_secs(1)
    } else {
        heartbeat.min(Duration::from_secs(1))
    };
    let Ok(mut stop) = shared.stop.lock() else {
        return;
    };
    loop {
        match shared.wake.wait_timeout(stop, step) {
            Ok((s, _)) => stop = s,
            Err(_) => return,
        }
        if *stop {
            return;
        }
        let phase = shared.phase.get();
        let Ok(p) = shared.progress.lock() else {
            return;
        };
        match bar {
            Some(bar) => bar.set_message(bar_message(&p, &phase)),
            None => {
                let Ok(mut last) = shared.last_line.lock() else {
                    return;
                };
                if last.elapsed() >= heartbeat {
                    eprintln!("{}", p.heartbeat_line(&phase));
                    *last = Instant::now();
                }
            }
        }
    }
}
