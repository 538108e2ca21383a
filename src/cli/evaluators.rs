//! Evaluators chosen on the command line besides the space's benchmark table: the user's own
//! command, run locally or as Ray jobs.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use seminas::evaluator::command::{CommandConfig, CommandEvaluator};

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
}

impl EvalArgs {
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
