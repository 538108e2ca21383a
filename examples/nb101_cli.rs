//! Runs the `seminas nb101 ...` subcommands before the main CLI wires them in:
//! `cargo run --release --example nb101_cli -- info --file FILE`.
#[path = "../src/cli/nb101.rs"]
mod nb101;

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    cmd: nb101::Nb101Command,
}

fn main() -> anyhow::Result<()> {
    nb101::run(&Args::parse().cmd)
}
