//! Command-line interface: argument parsing and wiring of library parts. No search logic here.

mod search;
mod spaces;

use clap::{Parser, Subcommand};

/// Semi-supervised neural architecture search.
#[derive(Debug, Parser)]
#[command(name = "seminas", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one architecture search and print its result.
    Search(search::SearchArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Search(args) => search::run(&args),
    }
}
