//! Evaluators chosen on the command line besides the space's benchmark table: the user's own
//! command, run locally or as Ray jobs.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use seminas::benchmark::{EvalContext, Evaluator, Outcome};
use seminas::evaluator::command::{CommandConfig, CommandEvaluator};
use seminas::evaluator::ray::RayClient;
use seminas::evaluator::ray_jobs::RayEvaluator;
use seminas::space::SearchSpace;

/// How architectures are evaluated and how many at once.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Evaluate by running this shell command once per architecture instead of looking it up
    /// in a benchmark table. Placeholders (replaced by shell-quoted values): {arch} (the
    /// architecture as JSON), {result} (the file to write {"objective": X, "metrics": {...}}
    /// to; or print it as the last line), {workdir}, {key}, {index}. See docs/evaluators.md.
    #[arg(long, value_name = "COMMAND")]
    pub evaluator: Option<String>,
    /// Time limit of one evaluation attempt, in seconds (default: none).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Attempts after a failed one (a crash, a timeout, garbage output).
    #[arg(long, default_value_t = 1)]
    pub retries: usize,
    /// The metric of the command's result shown as the reported value (never seen by the
    /// search), e.g. test_acc.
    #[arg(long, value_name = "NAME")]
    pub report_metric: Option<String>,
    /// Evaluations running at once. Results are used in proposal order, so the same seed
    /// gives the same run whatever the timing.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Run each evaluation as a job on this Ray cluster (the head's dashboard address,
    /// http://HOST:8265) instead of here. See docs/ray.md.
    #[arg(long, value_name = "URL", requires = "evaluator")]
    pub ray: Option<String>,
    /// Ray: CPUs each job reserves (Ray runs jobs that reserve nothing on the head node).
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    pub ray_cpus: f64,
    /// Ray: GPUs each job reserves.
    #[arg(long, value_name = "N")]
    pub ray_gpus: Option<f64>,
}

/// The user's command, run here or on a Ray cluster.
pub enum External {
    /// Runs here.
    Local(CommandEvaluator),
    /// Runs as Ray jobs.
    Ray(Box<RayEvaluator>),
}

impl<S: SearchSpace> Evaluator<S> for External {
    fn objective_name(&self) -> &str {
        "objective"
    }
    fn report_name(&self) -> &str {
        match self {
            External::Local(e) => Evaluator::<S>::report_name(e),
            External::Ray(e) => Evaluator::<S>::report_name(e.as_ref()),
        }
    }
    fn evaluate(&self, space: &S, arch: &S::Arch) -> Outcome {
        match self {
            External::Local(e) => e.evaluate(space, arch),
            External::Ray(e) => e.evaluate(space, arch),
        }
    }
    fn evaluate_in(&self, space: &S, arch: &S::Arch, ctx: &EvalContext) -> Outcome {
        match self {
            External::Local(e) => e.evaluate_in(space, arch, ctx),
            External::Ray(e) => e.evaluate_in(space, arch, ctx),
        }
    }
}

impl EvalArgs {
    /// The evaluator for `template`: local, or Ray jobs named after `run_id`.
    pub fn external(&self, template: &str, cwd: &Path, run_id: &str) -> anyhow::Result<External> {
        let command = self.command(template, cwd)?;
        let Some(address) = &self.ray else {
            return Ok(External::Local(command));
        };
        anyhow::ensure!(
            self.ray_cpus.is_finite() && self.ray_cpus >= 0.0,
            "--ray-cpus must be a number of CPUs, not {}",
            self.ray_cpus
        );
        let mut client = RayClient::new(address)?;
        if let Some(gpus) = self.ray_gpus {
            anyhow::ensure!(
                gpus.is_finite() && gpus > 0.0,
                "--ray-gpus must be positive"
            );
            client = client.with_entrypoint_num_gpus(gpus);
        }
        let cpus = (self.ray_cpus > 0.0).then_some(self.ray_cpus);
        Ok(External::Ray(Box::new(RayEvaluator::new(
            client, command, run_id, cpus,
        ))))
    }

    /// The command evaluator the arguments describe, running commands in `cwd`.
    pub fn command(&self, template: &str, cwd: &Path) -> anyhow::Result<CommandEvaluator> {
        anyhow::ensure!(self.workers >= 1, "--workers must be at least 1");
        let timeout = match self.timeout {
            Some(t) if t.is_finite() && t > 0.0 => Some(Duration::from_secs_f64(t)),
            Some(t) => anyhow::bail!("--timeout must be a positive number of seconds, not {t}"),
            None => None,
        };
        Ok(CommandEvaluator::new(CommandConfig {
            template: template.to_string(),
            timeout,
            retries: self.retries,
            report_metric: self.report_metric.clone(),
            cwd: Some(cwd.to_path_buf()),
        })?)
    }
}
