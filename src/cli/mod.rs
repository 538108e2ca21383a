//! Command-line interface: argument parsing and wiring of library parts. No search logic here.

mod bench;
mod bench_controller;
mod bench_trainer;
mod dashboard;
mod evaluators;
mod mobile;
mod nb101;
mod report;
mod resume;
mod search;
mod show;
mod watch;

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
    Search(Box<search::SearchArgs>),
    /// Continue a stored run (a search's --out directory) where it stopped, even after a kill.
    Resume(resume::ResumeArgs),
    /// The state of a run directory (running or not): settings, progress, best so far,
    /// failures and a text plot of the best objective so far.
    Show(show::ShowArgs),
    /// Every query of a run directory as CSV or JSON lines (running or not).
    Export(show::ExportArgs),
    /// A local web app over run and bench directories, live while searches run.
    Dashboard(dashboard::DashboardArgs),
    /// Compare search algorithms over many seeds and budgets on a benchmark.
    Bench(Box<bench::BenchArgs>),
    /// One table and one plot from several `bench --out` directories (e.g. seminas's and
    /// Optuna's, benches/peers/).
    Report(report::ReportArgs),
    /// Time the controller's training on synthetic data (seconds per epoch, GFLOP/s, memory).
    BenchController(bench_controller::BenchControllerArgs),
    /// Time the built-in trainer on a fixed NB201 network (images/s) against PyTorch CPU.
    BenchTrainer(bench_trainer::BenchTrainerArgs),
    /// NAS-Bench-101 utilities: enumerate the space, inspect or synthesise dataset files.
    #[command(subcommand)]
    Nb101(nb101::Nb101Command),
    /// MobileNet-style ImageNet space: FLOPs and parameters of an architecture, its network
    /// as JSON.
    #[command(subcommand)]
    Mobile(mobile::MobileCommand),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Search(args) => search::run(&args, None),
        Command::Resume(args) => resume::run(&args),
        Command::Show(args) => show::show(&args),
        Command::Export(args) => show::export(&args),
        Command::Dashboard(args) => dashboard::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Report(args) => report::run(&args),
        Command::BenchController(args) => bench_controller::run(&args),
        Command::BenchTrainer(args) => bench_trainer::run(&args),
        Command::Nb101(cmd) => nb101::run(&cmd),
        Command::Mobile(cmd) => mobile::run(&cmd),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap checks its definition (e.g. two flattened argument groups declaring the same
        // flag) only in debug builds; the tests run in release, so ask for it here.
        super::Cli::command().debug_assert();
    }
}
