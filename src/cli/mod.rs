//! Command-line interface: argument parsing and wiring of library parts. No search logic here.

mod bench;
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
    /// Compare search algorithms over many seeds and budgets on a benchmark.
    Bench(bench::BenchArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Search(args) => search::run(&args),
        Command::Bench(args) => bench::run(&args),
    }
}
