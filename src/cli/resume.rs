//! `seminas resume DIR`: continues a stored run where it stopped.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser};

use seminas::store::{RunStatus, RunStore};

use super::search::Resume;
use super::{Cli, Command};

/// Arguments of `seminas resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run directory (the `--out` of the search, holding run.sqlite).
    dir: PathBuf,
    /// Extend the run by N more queries (a finished run continues; one stopped early
    /// finishes its budget plus N). The extension is kept in the run store. At least 1, any
    /// number above (a space is searched until exhausted).
    #[arg(long, value_name = "N")]
    queries: Option<usize>,
    /// Off a terminal: a heartbeat line after this many seconds without one, replacing the
    /// stored search's --heartbeat (it only paces the progress log); from 0.1 to 1e9.
    #[arg(long, value_name = "SECS")]
    heartbeat: Option<f64>,
}

/// Reopens the run, re-reads the search's own arguments from it and continues the search in
/// the folder it was started from (relative paths in its arguments stay valid).
pub fn run(args: &ResumeArgs) -> anyhow::Result<()> {
    // Absolute before changing directory.
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("bad run directory {}", args.dir.display()))?;
    let (store, meta) = RunStore::open(&dir)?;
    let extend = args.queries.unwrap_or(0);
    if let Some(q) = args.queries {
        seminas::settings::in_range("queries", q, 1, usize::MAX)?;
    }
    if let Some(h) = args.heartbeat {
        seminas::settings::heartbeat(h)?;
    }
    let argv = std::iter::once("seminas".to_string()).chain(meta.args.iter().cloned());
    let cli = Cli::try_parse_from(argv).with_context(|| {
        format!(
            "{}: the stored arguments {:?} are not a search this seminas understands",
            dir.display(),
            meta.args
        )
    })?;
    let Command::Search(mut search) = cli.command else {
        anyhow::bail!("{}: the stored command is not a search", dir.display());
    };
    match args.heartbeat {
        Some(h) => {
            seminas::settings::heartbeat(h)?;
            search.heartbeat = h;
        }
        // Older seminas stored any positive heartbeat: say how to resume such a run.
        None => {
            seminas::settings::heartbeat(search.heartbeat).with_context(|| {
                format!(
                    "{}: the run was stored with --heartbeat {}; resume it with --heartbeat \
                     SECS to replace it",
                    dir.display(),
                    seminas::settings::number(search.heartbeat)
                )
            })?;
        }
    }
    if store.status()? == RunStatus::Finished && extend == 0 {
        eprintln!(
            "{}: the run had finished; printing its result again",
            dir.display()
        );
    }
    if meta.cwd.is_dir() {
        std::env::set_current_dir(&meta.cwd)
            .with_context(|| format!("cannot enter {}", meta.cwd.display()))?;
    } else {
        eprintln!(
            "warning: {} (where the run started) is gone; relative paths are taken from the \
             current directory",
            meta.cwd.display()
        );
    }
    super::search::run(&search, Some(Resume { store, extend }))
}
