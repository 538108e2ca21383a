//! `seminas show DIR` and `seminas export DIR`: a run directory's state and trials, read
//! without its lock (also while the search runs).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use seminas::report::run::{run_text, write_csv, write_jsonl};
use seminas::store::RunView;

/// Arguments of `seminas show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run directory (a search's --out, or a stored study's folder).
    dir: PathBuf,
    /// Print the run as one JSON object (settings, state, counts, best) instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `seminas export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run directory.
    dir: PathBuf,
    /// csv: one row per query, metrics as `metric:NAME` columns; jsonl: one object per line.
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Jsonl,
}

/// Runs `seminas show`.
pub fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let run = RunView::open(&args.dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run.overview())?);
    } else {
        print!("{}", run_text(&run));
    }
    Ok(())
}

/// Runs `seminas export`.
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let run = RunView::open(&args.dir)?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match args.format {
        Format::Jsonl => write_jsonl(&run, &mut out)?,
        Format::Csv => write_csv(&run, &mut out)?,
    }
    out.flush()?;
    Ok(())
}
