//! Stand-alone `bench-controller` until the subcommand is wired into `seminas`'s CLI.

#[path = "../cli/bench_controller.rs"]
mod bench_controller;

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: bench_controller::BenchControllerArgs,
}

fn main() -> anyhow::Result<()> {
    bench_controller::run(&Cli::parse().args)
}
