//! The command evaluator: runs the user's own training command once per architecture.
//!
//! The command is a shell command line (run with `sh -c`) with placeholders, each replaced by
//! a shell-quoted value (write `--arch {arch}`, not `--arch '{arch}'`):
//! - `{arch}`: the architecture as JSON (NB101: `{"matrix": .., "ops": ..}`; NB201: the cell
//!   string; a categorical space: an object position -> choice);
//! - `{result}`: the file the command writes its result to;
//! - `{workdir}`: a folder of this evaluation alone (its logs are kept there);
//! - `{key}`, `{index}`: the architecture's canonical key and the proposal's number.
//!
//! - `{progress}`: a file the command may append its step reports to (instead of standard
//!   output).
//!
//! The same values are in the environment as `SEMINAS_ARCH`, `SEMINAS_RESULT`,
//! `SEMINAS_WORKDIR`, `SEMINAS_KEY`, `SEMINAS_INDEX` and `SEMINAS_PROGRESS`. The result is the
//! JSON object `{"objective": x, "metrics": {"name": y, ...}}`, written to `{result}` or
//! printed as the last line of standard output. A non-zero exit, a timeout, a missing,
//! malformed or non-finite objective is a failed attempt; after `retries` more attempts the
//! evaluation is recorded as failed with the reason, and the search goes on.
//!
//! Steps: a line `{"step": 3, "objective": 71.2}` on standard output (or in the progress
//! file) reports the objective after step 3 (an epoch, say), read as it is written. When the
//! search stops the training (see [`crate::evaluator::fidelity`]), the command's process group
//! gets SIGTERM, and SIGKILL after a grace period; its result is its objective at that step.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::evaluator::{Decision, Fidelities, NoMonitor, StepMonitor};
use crate::evaluator::{EvalContext, Evaluation, Evaluator, Outcome};
use crate::space::SearchSpace;

mod result;
mod steps;
use crate::settings::{MAX_RETRIES, SettingError, in_range, seconds};
use result::read_result;
pub use result::{MAX_RESULT_BYTES, RESULT_FILE, parse_result};
use steps::{StepLine, StepReader, last_line_of, parse_step_line};

/// File name of the progress file inside an evaluation's folder (`{progress}`).
pub const PROGRESS_FILE: &str = "progress.jsonl";

/// How the failure of a result without the report metric begins: the metric's name is wrong
/// for every architecture, so the evaluation is not retried and a search stops at it.
pub const NO_REPORT_METRIC: &str = "the result has no report metric";

/// How to run the user's command.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandConfig {
    /// The command line with placeholders (see the module documentation).
    pub template: String,
    /// Time limit of one attempt.
    pub timeout: Option<Duration>,
    /// Attempts after a failed one.
    pub retries: usize,
    /// The metric (from the result's `metrics`) reported in results, never seen by the search.
    pub report_metric: Option<String>,
    /// Working directory of the command (default: the current one).
    pub cwd: Option<PathBuf>,
    /// How its step reports are used.
    pub steps: StepSettings,
}

/// How a command's step reports are used.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSettings {
    /// The whole training's step (e.g. its epochs). With it the search may stop trainings
    /// early; without it steps are recorded only.
    pub max_step: Option<u64>,
    /// How long a command told to stop (SIGTERM to its process group) may take before it is
    /// killed (SIGKILL).
    pub grace: Duration,
}

impl Default for StepSettings {
    fn default() -> Self {
        Self {
            max_step: None,
            grace: Duration::from_secs(10),
        }
    }
}

/// Why a command evaluator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The command line is empty.
    #[error("the evaluator command is empty")]
    Empty,
    /// Retries or the time limit are out of range.
    #[error(transparent)]
    Setting(#[from] crate::settings::SettingError),
}

/// Evaluates architectures by running a command (see the module documentation).
#[derive(Debug, Clone)]
pub struct CommandEvaluator {
    config: CommandConfig,
    report_name: String,
    /// Why this machine cannot run commands now (file descriptors, processes, memory or disk
    /// ran out), once an evaluation met it: not an outcome of the architecture (see
    /// [`Evaluator::unavailable`]).
    unavailable: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

/// True for the errors of a local resource running out (file descriptors, processes,
/// memory, disk), which say nothing about the architecture being evaluated.
fn out_of_resources(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EAGAIN | libc::ENOSPC)
    ) || quota_exceeded(e)
}

#[cfg(unix)]
fn quota_exceeded(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EDQUOT)
}

#[cfg(not(unix))]
fn quota_exceeded(_: &std::io::Error) -> bool {
    false
}

impl CommandEvaluator {
    /// An evaluator running `config.template`.
    pub fn new(config: CommandConfig) -> Result<Self, CommandError> {
        if config.template.trim().is_empty() {
            return Err(CommandError::Empty);
        }
        config.validate()?;
        let report_name = config
            .report_metric
            .clone()
            .unwrap_or_else(|| "none".into());
        Ok(Self {
            config,
            report_name,
            unavailable: Default::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &CommandConfig {
        &self.config
    }

    /// Why no command can run here now (a local resource ran out), if an evaluation met it.
    pub fn unavailable_reason(&self) -> Option<String> {
        self.unavailable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `why` as a failure; when `e` is a local resource running out, the evaluator is
    /// unavailable from now on (the first reason is kept).
    fn failure(&self, e: &std::io::Error, why: String) -> String {
        if out_of_resources(e) {
            let mut u = self.unavailable.lock().unwrap_or_else(|p| p.into_inner());
            u.get_or_insert_with(|| {
                format!(
                    "{why} (a resource of this machine ran out, not the architecture: raise the \
                     limit, e.g. `ulimit -n`, or use fewer --workers; nothing more is started)"
                )
            });
        }
        why
    }

    /// The command line for one evaluation, placeholders replaced.
    pub fn command_line(&self, values: &Placeholders) -> String {
        values.substitute(&self.config.template)
    }

    /// Turns a result's text into an evaluation (objective, report, metrics); the cost is
    /// left at 0.
    /// A result without the report metric (when one is named) is an error that names the
    /// metrics it has, beginning with [`NO_REPORT_METRIC`].
    pub fn parse(&self, text: &str) -> Result<Evaluation, String> {
        let (objective, metrics) = parse_result(text)?;
        let report = match &self.config.report_metric {
            None => None,
            Some(m) => match metrics.get(m) {
                Some(&v) => Some(v),
                None => {
                    let names: Vec<&str> = metrics.keys().map(String::as_str).collect();
                    let has = if names.is_empty() {
                        "it has no metrics".to_string()
                    } else {
                        format!("its metrics: {}", names.join(", "))
                    };
                    return Err(format!("{NO_REPORT_METRIC} {m:?} (--report); {has}"));
                }
            },
        };
        Ok(Evaluation {
            metrics,
            ..Evaluation::new(objective, report, 0.0)
        })
    }

    fn run<S: SearchSpace>(
        &self,
        space: &S,
        arch: &S::Arch,
        ctx: &EvalContext,
        monitor: &dyn StepMonitor,
    ) -> Outcome {
        let temporary = ctx.workdir.is_none();
        let workdir = match &ctx.workdir {
            // Absolute: a resumed run (possibly started from elsewhere) finds the programs
            // this one leaves behind by the `SEMINAS_WORKDIR` they were given.
            Some(dir) => std::path::absolute(dir).unwrap_or_else(|_| dir.clone()),
            None => {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                std::env::temp_dir().join(format!(
                    "seminas-eval-{}-{}-{}",
                    std::process::id(),
                    ctx.index,
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ))
            }
        };
        if let Some(why) = self.unavailable_reason() {
            return Outcome::Failed(why);
        }
        if let Err(e) = std::fs::create_dir_all(&workdir) {
            return Outcome::Failed(
                self.failure(&e, format!("cannot create {}: {e}", workdir.display())),
            );
        }
        if ctx.resumed {
            // Programs the killed run's command started may still be running (the shell dies
            // with seminas; what it started does not): stop them before looking.
            process::kill_leftovers(&workdir);
            if let Some(e) = self.salvage(&workdir) {
                return Outcome::Evaluated(e);
            }
        }
        let values = Placeholders {
            arch: space.to_json(arch).to_string(),
            result: workdir.join(RESULT_FILE),
            workdir: workdir.clone(),
            key: space.key(arch),
            index: ctx.index,
        };
        let _ = std::fs::remove_file(workdir.join(PROGRESS_FILE));
        let started = Instant::now();
        let mut reasons = Vec::new();
        let attempts = self.config.retries + 1;
        let mut outcome = None;
        for attempt in 1..=attempts {
            if attempt > 1 {
                keep_logs_of_attempt(&workdir, attempt - 1);
                monitor.restart();
            }
            match self.attempt(&values, &workdir, monitor, started) {
                Ok(mut e) => {
                    e.cost_seconds = started.elapsed().as_secs_f64();
                    outcome = Some(Outcome::Evaluated(e));
                    break;
                }
                Err(reason) => {
                    // A misnamed metric is missing from every result, and a machine out of
                    // resources fails every attempt: trying again is waste.
                    let last =
                        reason.starts_with(NO_REPORT_METRIC) || self.unavailable_reason().is_some();
                    reasons.push(reason);
                    if last {
                        break;
                    }
                }
            }
        }
        let outcome = outcome.unwrap_or_else(|| {
            let last = reasons.pop().unwrap_or_default();
            let logs = if temporary {
                String::new()
            } else {
                format!(" (logs in {})", workdir.display())
            };
            if reasons.is_empty() {
                Outcome::Failed(format!("{last}{logs}"))
            } else {
                Outcome::Failed(format!(
                    "{} attempts failed; the last: {last}{logs}",
                    reasons.len() + 1
                ))
            }
        });
        if temporary {
            let _ = std::fs::remove_dir_all(&workdir);
        }
        outcome
    }

    /// A complete result left by an attempt that finished before the run was killed, with
    /// the steps it reported (their costs are unknown: 0).
    fn salvage(&self, workdir: &Path) -> Option<Evaluation> {
        // A JSON object is complete only once its closing brace is written, so a result cut
        // short by the kill never parses; a step report is not a result.
        let text = read_result(&workdir.join(RESULT_FILE))
            .ok()?
            .or_else(|| last_line_of(&workdir.join("stdout.log")))?;
        let mut e = self.parse_final(&text).ok()?;
        let mut reader = StepReader::new(vec![
            workdir.join("stdout.log"),
            workdir.join(PROGRESS_FILE),
        ]);
        loop {
            let lines = reader.poll();
            if lines.is_empty() {
                break;
            }
            for line in lines {
                if let StepLine::Step(step, objective) = line
                    && e.steps.last().is_none_or(|l| l.step < step)
                {
                    e.steps.push(crate::evaluator::StepResult {
                        step,
                        objective,
                        cost_seconds: 0.0,
                    });
                }
            }
        }
        Some(e)
    }

    /// One run of the command; the evaluation or why it failed. Its step reports go to
    /// `monitor`, with their cost counted from `since`.
    fn attempt(
        &self,
        values: &Placeholders,
        workdir: &Path,
        monitor: &dyn StepMonitor,
        since: Instant,
    ) -> Result<Evaluation, String> {
        let _ = std::fs::remove_file(&values.result);
        let progress = workdir.join(PROGRESS_FILE);
        let _ = std::fs::remove_file(&progress);
        let line = self.command_line(values);
        let create = |name: &str| {
            File::create(workdir.join(name)).map_err(|e| {
                self.failure(
                    &e,
                    format!("cannot create {}: {e}", workdir.join(name).display()),
                )
            })
        };
        let stdout = create("stdout.log")?;
        let stderr = create("stderr.log")?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&line)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .env("SEMINAS_ARCH", &values.arch)
            .env("SEMINAS_RESULT", &values.result)
            .env("SEMINAS_WORKDIR", &values.workdir)
            .env("SEMINAS_KEY", &values.key)
            .env("SEMINAS_INDEX", values.index.to_string())
            .env("SEMINAS_PROGRESS", &progress);
        if let Some(cwd) = &self.config.cwd {
            cmd.current_dir(cwd);
        }
        process::own_group_and_die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| {
            let short = crate::settings::quoted(&line);
            self.failure(&e, format!("cannot start `sh -c {short}`: {e}"))
        })?;
        // The command holds its log files now; keeping them open here too would cost two
        // descriptors per running evaluation.
        drop(cmd);
        let _running = running::Running::register(child.id());
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        let mut reader = StepReader::new(vec![workdir.join("stdout.log"), progress.clone()]);
        // The step the search stopped the training at, its objective and cost, and when the
        // grace period ends.
        let mut stop: Option<(u64, f64, f64, Instant)> = None;
        let mut forced = false;
        let pid = child.id();
        let mut read_steps = |stop: &mut Option<(u64, f64, f64, Instant)>| {
            for line in reader.poll() {
                match line {
                    StepLine::Bad(why) => monitor.note(&why),
                    StepLine::Step(step, v) => {
                        let cost = since.elapsed().as_secs_f64();
                        if monitor.report(step, v, cost) == Decision::Stop && stop.is_none() {
                            *stop = Some((step, v, cost, Instant::now() + self.config.steps.grace));
                            process::terminate_group(pid);
                        }
                    }
                }
            }
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => return Err(format!("cannot wait for the command: {e}")),
            }
            read_steps(&mut stop);
            if let Some((_, _, _, deadline)) = stop
                && Instant::now() >= deadline
                && !forced
            {
                process::kill_group(&mut child);
                forced = true;
            }
            if stop.is_none()
                && let Some(limit) = self.config.timeout
                && started.elapsed() >= limit
            {
                process::kill_group(&mut child);
                let _ = child.wait();
                return Err(format!(
                    "timed out after {} s{}",
                    limit.as_secs_f64(),
                    stderr_tail(workdir)
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        };
        // Reports written just before the command ended.
        if stop.is_none() {
            read_steps(&mut stop);
        }
        if let Some((step, v, cost, _)) = stop {
            // Stopped by the search: its result is its objective at that step.
            let mut e = Evaluation::new(v, None, cost);
            if forced {
                e.note = Some(format!(
                    "it did not end within {} s of SIGTERM after the stop at step {step}, so \
                     its process group was killed",
                    self.config.steps.grace.as_secs_f64()
                ));
            }
            return Ok(e);
        }
        if !status.success() {
            return Err(format!("{}{}", describe(status), stderr_tail(workdir)));
        }
        let text = match read_result(&values.result).map_err(|(e, why)| match e {
            Some(e) => self.failure(&e, why),
            None => why,
        })? {
            Some(t) => t,
            None => match last_line_of(&workdir.join("stdout.log")) {
                Some(l) => l,
                None => {
                    let stdout = workdir.join("stdout.log");
                    if let Err(e) = File::open(&stdout)
                        && out_of_resources(&e)
                    {
                        let why = format!("cannot open {}: {e}", stdout.display());
                        return Err(self.failure(&e, why));
                    }
                    return Err(format!(
                        "the command wrote no result (neither {} nor a last line of standard \
                         output)",
                        values.result.display()
                    ));
                }
            },
        };
        self.parse_final(&text)
    }

    /// The result of a command that ended by itself. Its last step report stands for it when
    /// the command printed no result line after its reports, provided that step is the whole
    /// training's.
    pub(crate) fn parse_final(&self, text: &str) -> Result<Evaluation, String> {
        match parse_step_line(text) {
            None => self.parse(text),
            Some(StepLine::Step(step, v)) => match self.config.steps.max_step {
                Some(max) if step >= max => Ok(Evaluation::new(v, None, 0.0)),
                Some(max) => Err(format!(
                    "the command ended after step {step} of {max} without a result (its last \
                     output is a step report)"
                )),
                None => Err(format!(
                    "the command's last output is step {step}'s report, not a result (print \
                     {{\"objective\": ...}} at the end, or give --max-step so that the last \
                     step's report counts)"
                )),
            },
            Some(StepLine::Bad(why)) => Err(why),
        }
    }
}

impl<S: SearchSpace> Evaluator<S> for CommandEvaluator {
    fn stop_running(&self) {
        kill_running_commands();
    }

    fn objective_name(&self) -> &str {
        "objective"
    }
    fn report_name(&self) -> &str {
        &self.report_name
    }
    fn evaluate(&self, space: &S, arch: &S::Arch) -> Outcome {
        self.run(space, arch, &EvalContext::default(), &NoMonitor)
    }
    fn evaluate_in(&self, space: &S, arch: &S::Arch, ctx: &EvalContext) -> Outcome {
        self.run(space, arch, ctx, &NoMonitor)
    }
    fn evaluate_steps(
        &self,
        space: &S,
        arch: &S::Arch,
        ctx: &EvalContext,
        monitor: &dyn StepMonitor,
    ) -> Outcome {
        self.run(space, arch, ctx, monitor)
    }
    fn fidelities(&self) -> Option<Fidelities> {
        self.config.steps.max_step.map(Fidelities::open)
    }
    fn live_steps(&self) -> bool {
        true
    }
    fn unavailable(&self) -> Option<String> {
        self.unavailable_reason()
    }
}

/// The values substituted into a command line.
#[derive(Debug, Clone)]
pub struct Placeholders {
    /// The architecture as JSON.
    pub arch: String,
    /// The result file.
    pub result: PathBuf,
    /// The evaluation's folder.
    pub workdir: PathBuf,
    /// The canonical key.
    pub key: String,
    /// The proposal's index.
    pub index: usize,
}

impl Placeholders {
    /// The progress file (`{progress}`): in the evaluation's folder.
    pub fn progress(&self) -> PathBuf {
        self.workdir.join(PROGRESS_FILE)
    }
}

impl Placeholders {
    /// `template` with `{arch}`, `{result}`, `{workdir}`, `{key}` and `{index}` replaced by
    /// shell-quoted values. Other braces (e.g. `${HOME}`) are left alone.
    pub fn substitute(&self, template: &str) -> String {
        substitute(
            template,
            &[
                ("{arch}", shell_quote(&self.arch)),
                ("{result}", shell_quote(&self.result.to_string_lossy())),
                ("{workdir}", shell_quote(&self.workdir.to_string_lossy())),
                ("{key}", shell_quote(&self.key)),
                ("{index}", self.index.to_string()),
                (
                    "{progress}",
                    shell_quote(&self.progress().to_string_lossy()),
                ),
            ],
        )
    }
}

/// The placeholders a command line may hold.
pub const PLACEHOLDERS: [&str; 6] = [
    "{arch}",
    "{result}",
    "{workdir}",
    "{key}",
    "{index}",
    "{progress}",
];

/// Every `{word}` of `template` (a lowercase identifier in braces, not `${word}`) that is not
/// one of [`PLACEHOLDERS`].
pub fn unknown_placeholders(template: &str) -> Vec<String> {
    let bytes = template.as_bytes();
    let mut found = Vec::new();
    for (start, _) in template.match_indices('{') {
        if start > 0 && bytes[start - 1] == b'$' {
            continue;
        }
        let Some(len) = template[start + 1..].find('}') else {
            continue;
        };
        let word = &template[start + 1..start + 1 + len];
        let identifier = !word.is_empty()
            && word.starts_with(|c: char| c.is_ascii_lowercase())
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let name = format!("{{{word}}}");
        if identifier && !PLACEHOLDERS.contains(&name.as_str()) {
            found.push(name);
        }
    }
    found
}

/// `template` with each `(name, text)` of `values` replaced by its text as is (quote it
/// first); other braces are left alone.
pub fn substitute(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match values.iter().find(|(name, _)| tail.starts_with(name)) {
            Some((name, v)) => {
                out.push_str(v);
                rest = &tail[name.len()..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A step report in a line of a command's output: `Some(Ok((step, objective)))`, a bad one
/// `Some(Err(why))`, or `None` for a line that is not about a step (for evaluators that read
/// a command's output elsewhere, e.g. a Ray job's log).
pub fn step_line(line: &str) -> Option<Result<(u64, f64), String>> {
    parse_step_line(line).map(|l| match l {
        StepLine::Step(s, v) => Ok((s, v)),
        StepLine::Bad(why) => Err(why),
    })
}

/// Kills every command the command evaluators of this process are running (with their
/// process groups) and returns how many there were: for a program that is interrupted and
/// must not leave trainings running behind it.
pub fn kill_running_commands() -> usize {
    process::kill_all()
}

/// `s` as one shell word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    match (status.code(), signal) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "ended abnormally".into(),
    }
}

/// The end of the attempt's standard error, to put in the failure's reason.
fn stderr_tail(workdir: &Path) -> String {
    let Ok(mut f) = File::open(workdir.join("stderr.log")) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(400)));
    let mut bytes = Vec::new();
    let _ = f.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.len() {
        0 => String::new(),
        n => format!(": {}", lines[n.saturating_sub(2)..].join(" / ").trim()),
    }
}

/// Renames the logs of attempt `n` to `stdout.N.log` / `stderr.N.log` before the next one.
fn keep_logs_of_attempt(workdir: &Path, n: usize) {
    for name in ["stdout", "stderr"] {
        let _ = std::fs::rename(
            workdir.join(format!("{name}.log")),
            workdir.join(format!("{name}.{n}.log")),
        );
    }
}

#[cfg(unix)]
mod process;
#[cfg(not(unix))]
#[path = "command/process_other.rs"]
mod process;
mod running;

impl CommandConfig {
    /// Checks retries and the time limit.
    pub fn validate(&self) -> Result<(), SettingError> {
        in_range("retries", self.retries, 0, MAX_RETRIES)?;
        if let Some(t) = self.timeout {
            seconds("timeout", t.as_secs_f64())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
