//! The user's command run as Ray jobs: each evaluation attempt is one job on the cluster
//! (through [`RayClient`]), its result read back from the job's log.
//!
//! The job's entrypoint wraps the command: it makes a temporary folder on the node (the
//! command's `{workdir}`; `{result}` is a file in it), runs the command there, then prints one
//! line `SEMINAS-RESULT: {json}` with the result file's content (or, without one, the
//! command's last line of output). Jobs are named `seminas-<run id>-<index>-<attempt>`: a
//! resumed run asks for the same names, and Ray answers that they exist, so the run follows
//! jobs that kept running on the cluster while seminas was down instead of training again.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::command::{CommandEvaluator, shell_quote, substitute};
use super::ray::{JobStatus, RayClient, RayError, last_marked_line};
use crate::evaluator::{Decision, Fidelities, StepMonitor};
use crate::evaluator::{EvalContext, Evaluator, Outcome};
use crate::space::SearchSpace;

/// The marker that starts the line holding a job's result.
pub const RESULT_MARKER: &str = "SEMINAS-RESULT:";

/// Evaluates architectures by running the user's command as Ray jobs.
#[derive(Debug, Clone)]
pub struct RayEvaluator {
    client: RayClient,
    command: CommandEvaluator,
    run_id: String,
    cpus: Option<f64>,
    poll: Duration,
    /// Set once the head could not be reached (see [`Evaluator::unavailable`]).
    unreachable: Arc<Mutex<Option<String>>>,
    /// The jobs being followed now, and whether the run has stopped them (then no attempt
    /// starts), for [`Evaluator::stop_running`].
    running: Arc<Mutex<Running>>,
}

/// The jobs a [`RayEvaluator`] follows.
#[derive(Debug, Default)]
struct Running {
    ids: Vec<String>,
    stopped: bool,
}

impl RayEvaluator {
    /// Jobs on `client`'s cluster running `command`'s command line (its timeout, retries and
    /// report metric apply), named after `run_id`, each reserving `cpus` CPUs if given (Ray
    /// runs jobs without a reservation on the head node). The command starts in `command`'s
    /// working directory when that exists on the node (a shared file system).
    pub fn new(
        client: RayClient,
        command: CommandEvaluator,
        run_id: &str,
        cpus: Option<f64>,
    ) -> Self {
        Self {
            client,
            command,
            run_id: run_id.to_string(),
            cpus,
            poll: Duration::from_secs(1),
            unreachable: Arc::default(),
            running: Arc::default(),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops every job being followed through the Jobs API, and refuses new attempts: for a
    /// run that ends early (its trainings would not be recorded). Returns how many jobs were
    /// asked to stop.
    pub fn stop_all(&self) -> usize {
        let ids = {
            let mut running = self.running();
            running.stopped = true;
            running.ids.clone()
        };
        for id in &ids {
            let _ = self.client.stop(id);
        }
        ids.len()
    }

    /// How often job status is asked for (default 1 s).
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Why the cluster is unavailable: set when its head could not be reached.
    pub fn unavailable_reason(&self) -> Option<String> {
        self.unreachable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|why| {
                format!("{why} (is the cluster up? check the address; nothing more is submitted)")
            })
    }

    /// The submission id of an attempt.
    pub fn job_id(&self, index: usize, attempt: usize) -> String {
        format!("seminas-{}-{index}-{attempt}", self.run_id)
    }

    /// The job's entrypoint: one line of POSIX shell around the user's command.
    pub fn entrypoint(&self, arch_json: &str, key: &str, index: usize) -> String {
        let config = self.command.config();
        let cmd = substitute(
            &config.template,
            &[
                ("{arch}", shell_quote(arch_json)),
                ("{result}", "\"$SEMINAS_RESULT\"".into()),
                ("{workdir}", "\"$SEMINAS_WORKDIR\"".into()),
                ("{key}", shell_quote(key)),
                ("{index}", index.to_string()),
            ],
        );
        let cd = match &config.cwd {
            Some(dir) => format!("cd {} 2>/dev/null; ", shell_quote(&dir.to_string_lossy())),
            None => String::new(),
        };
        // stdout is copied to a file for the last-line result; stderr goes straight to the
        // log. The exit status is kept in a file because a pipeline's status is tee's.
        format!(
            "{cd}d=$(mktemp -d) || exit 70; export SEMINAS_WORKDIR=\"$d\" \
             SEMINAS_RESULT=\"$d/result.json\" SEMINAS_ARCH={arch} SEMINAS_KEY={key} \
             SEMINAS_INDEX={index}; {{ ( ( {cmd}\n ); echo $? > \"$d/.rc\" ) 2>&3 | tee \"$d/.out\"; }} 3>&2; \
             rc=$(cat \"$d/.rc\" 2>/dev/null || echo 1); \
             if [ -s \"$d/result.json\" ]; then r=$(tr -d '\\n' < \"$d/result.json\"); \
             else r=$(grep -v '^[[:space:]]*$' \"$d/.out\" | tail -n 1); fi; \
             echo; echo \"{RESULT_MARKER} $r\"; rm -rf \"$d\"; exit $rc",
            arch = shell_quote(arch_json),
            key = shell_quote(key),
        )
    }

    fn attempt(
        &self,
        entrypoint: &str,
        id: &str,
        log: Option<&PathBuf>,
        monitor: Option<&dyn StepMonitor>,
        since: std::time::Instant,
    ) -> Result<crate::evaluator::Evaluation, String> {
        let timeout = self.command.config().timeout.unwrap_or(Duration::MAX);
        // With a monitor: the job's log is read at each poll, its step reports go to the
        // monitor, and a stop stops the job through the Jobs API.
        let mut read = 0usize;
        let mut stop: Option<(u64, f64, f64)> = None;
        let mut on_poll = || {
            let Some(m) = monitor else { return };
            if stop.is_some() {
                return;
            }
            let Ok(text) = self.client.logs(id) else {
                return;
            };
            // Complete lines only; the log grows as the job writes.
            let end = text[read.min(text.len())..]
                .rfind('\n')
                .map_or(read, |i| read + i + 1);
            for line in text.get(read..end).unwrap_or("").lines() {
                match super::command::step_line(line) {
                    Some(Ok((step, v))) => {
                        let cost = since.elapsed().as_secs_f64();
                        if m.report(step, v, cost) == Decision::Stop {
                            stop = Some((step, v, cost));
                            let _ = self.client.stop(id);
                            break;
                        }
                    }
                    Some(Err(why)) => m.note(&why),
                    None => {}
                }
            }
            read = end;
        };
        {
            let mut running = self.running();
            if running.stopped {
                return Err(format!("not submitted: the run stopped (Ray job {id})"));
            }
            running.ids.push(id.to_string());
        }
        let followed = self.client.run_job_watched(
            entrypoint,
            id,
            self.cpus,
            timeout,
            self.poll,
            &mut on_poll,
        );
        self.running().ids.retain(|x| x != id);
        let job = match followed {
            Ok(job) => job,
            Err(RayError::Timeout { timeout, .. }) => {
                return Err(format!(
                    "timed out after {} s (Ray job {id} stopped)",
                    timeout.as_secs_f64()
                ));
            }
            Err(e @ RayError::Unreachable { .. }) => {
                let why = e.to_string();
                *self.unreachable.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                return Err(why);
            }
            Err(e) => return Err(e.to_string()),
        };
        if let Some(path) = log {
            // The driver names the evaluation's folder; evaluators that keep files make it.
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = std::fs::write(path, &job.logs);
        }
        if let Some((_, v, cost)) = stop {
            // Stopped by the search: its objective at that step (the driver marks it).
            return Ok(crate::evaluator::Evaluation::new(v, None, cost));
        }
        match job.status {
            JobStatus::Succeeded => {}
            status => {
                let mut why = job.message.unwrap_or_default().replace('\n', " / ");
                if why.chars().count() > 300 {
                    why = format!("{}...", why.chars().take(300).collect::<String>());
                }
                return Err(format!(
                    "Ray job {id} {}: {why}",
                    status.as_str().to_lowercase()
                ));
            }
        }
        let text = last_marked_line(&job.logs, RESULT_MARKER)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("Ray job {id} succeeded but gave no result"))?;
        self.command.parse_final(text)
    }

    fn run<S: SearchSpace>(
        &self,
        space: &S,
        arch: &S::Arch,
        ctx: &EvalContext,
        monitor: Option<&dyn StepMonitor>,
    ) -> Outcome {
        let arch_json = space.to_json(arch).to_string();
        let entrypoint = self.entrypoint(&arch_json, &space.key(arch), ctx.index);
        let started = std::time::Instant::now();
        let attempts = self.command.config().retries + 1;
        let mut last = String::new();
        for attempt in 1..=attempts {
            let id = self.job_id(ctx.index, attempt);
            let log = ctx
                .workdir
                .as_ref()
                .map(|d| d.join(format!("ray-job-{attempt}.log")));
            if attempt > 1
                && let Some(m) = monitor
            {
                m.restart();
            }
            match self.attempt(&entrypoint, &id, log.as_ref(), monitor, started) {
                Ok(mut e) => {
                    e.cost_seconds = started.elapsed().as_secs_f64();
                    return Outcome::Evaluated(e);
                }
                Err(reason) => last = reason,
            }
            // A cluster that cannot be reached, or a run that stopped, is no reason to try
            // again.
            if self.unavailable_reason().is_some() || self.running().stopped {
                return Outcome::Failed(last);
            }
        }
        if attempts == 1 {
            Outcome::Failed(last)
        } else {
            Outcome::Failed(format!("{attempts} attempts failed; the last: {last}"))
        }
    }
}

impl<S: SearchSpace> Evaluator<S> for RayEvaluator {
    fn objective_name(&self) -> &str {
        "objective"
    }
    fn report_name(&self) -> &str {
        <CommandEvaluator as Evaluator<S>>::report_name(&self.command)
    }
    fn evaluate(&self, space: &S, arch: &S::Arch) -> Outcome {
        self.run(space, arch, &EvalContext::default(), None)
    }
    fn evaluate_in(&self, space: &S, arch: &S::Arch, ctx: &EvalContext) -> Outcome {
        self.run(space, arch, ctx, None)
    }
    fn evaluate_steps(
        &self,
        space: &S,
        arch: &S::Arch,
        ctx: &EvalContext,
        monitor: &dyn StepMonitor,
    ) -> Outcome {
        // Reading a job's log at every poll costs a request: only when steps matter.
        self.run(space, arch, ctx, ctx.steps_wanted.then_some(monitor))
    }
    fn fidelities(&self) -> Option<Fidelities> {
        <CommandEvaluator as Evaluator<S>>::fidelities(&self.command)
    }
    fn live_steps(&self) -> bool {
        true
    }
    fn unavailable(&self) -> Option<String> {
        self.unavailable_reason()
    }
    fn stop_running(&self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::command::CommandConfig;

    fn evaluator(template: &str) -> RayEvaluator {
        let command = CommandEvaluator::new(CommandConfig {
            template: template.into(),
            timeout: None,
            retries: 0,
            report_metric: Some("test_acc".into()),
            cwd: Some(std::env::temp_dir()),
            steps: Default::default(),
        })
        .unwrap();
        let client = RayClient::new("http://127.0.0.1:8265").unwrap();
        RayEvaluator::new(client, command, "r1", Some(1.0))
    }

    /// Runs an entrypoint here as Ray would (through a shell): its stdout and exit status.
    fn run_here(entrypoint: &str) -> (String, i32) {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(entrypoint)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code().unwrap(),
        )
    }

    #[test]
    fn an_unreachable_head_stops_the_run_instead_of_failing_architectures() {
        use crate::search::{Algo, AlgoConfig};
        use crate::study::Budget;
        use crate::study::engine::{DriveError, DriveOptions, NoJournal};
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = RayClient::new(&format!("http://127.0.0.1:{port}"))
            .unwrap()
            .with_retries(2, Duration::from_millis(5));
        let command = CommandEvaluator::new(CommandConfig {
            template: "true".into(),
            timeout: None,
            retries: 3,
            report_metric: None,
            cwd: None,
            steps: Default::default(),
        })
        .unwrap();
        let e = RayEvaluator::new(client, command, "r1", None).with_poll(Duration::from_millis(5));
        let space = crate::space::Nb201Space::new();
        for workers in [1, 2] {
            let mut searcher = Algo::Random.build(&space, 0, 5, &AlgoConfig::default());
            let mut told = 0;
            let started = std::time::Instant::now();
            let result = crate::study::engine::drive(
                &space,
                &e,
                searcher.as_mut(),
                Budget {
                    workers,
                    ..Budget::queries(5)
                },
                DriveOptions::default(),
                &mut NoJournal,
                &mut |_| told += 1,
            );
            let Err(DriveError::Unavailable(why)) = result else {
                panic!("{result:?}");
            };
            assert_eq!(told, 0, "no failed evaluation is recorded");
            assert!(why.contains(&format!("127.0.0.1:{port}")), "{why}");
            assert!(why.contains("unreachable"), "{why}");
            // One request's retries, not every attempt of every query.
            assert!(started.elapsed() < Duration::from_secs(5));
        }
    }

    #[test]
    fn the_entrypoint_reports_the_result_file_or_the_last_line_on_one_marked_line() {
        let arch = r#""|nor_conv_3x3~0|+|it's~0|""#;
        // The result file, written in two lines, comes back on one line.
        let e = evaluator(
            r#"test {arch} = "$SEMINAS_ARCH" || exit 9; echo training; printf '{"objective": 2,\n"metrics": {"test_acc": 1}}' > {result}; echo warn >&2"#,
        );
        let (out, rc) = run_here(&e.entrypoint(arch, "k", 4));
        assert_eq!(rc, 0, "{out}");
        let line = last_marked_line(&out, RESULT_MARKER).unwrap();
        let ev = e.command.parse(line).unwrap();
        assert_eq!((ev.objective, ev.report), (2.0, Some(1.0)));
        assert!(out.starts_with("training\n"), "{out}");
        // Without a result file: the last line of standard output, not of standard error.
        let e = evaluator(r#"echo '{"objective": 3}'; echo 'oops' >&2"#);
        let (out, _) = run_here(&e.entrypoint(arch, "k", 4));
        assert_eq!(
            last_marked_line(&out, RESULT_MARKER),
            Some(r#"{"objective": 3}"#)
        );
        // The command's exit status is the job's; the working folder is removed.
        let e = evaluator("echo $SEMINAS_WORKDIR > /dev/stderr; exit 3 # a comment");
        let (_, rc) = run_here(&e.entrypoint(arch, "k", 4));
        assert_eq!(rc, 3);
        assert_eq!(e.job_id(12, 2), "seminas-r1-12-2");
    }
}
