//! `seminas mobile`: cost and export of architectures of the MobileNet-style ImageNet space.

use clap::{Args, Subcommand};

use seminas::space::SearchSpace;
use seminas::space::mobile::SEMINASNET;

use seminas::benchmark::problem::MobileArgs;

/// `seminas mobile` subcommands.
#[derive(Debug, Subcommand)]
pub enum MobileCommand {
    /// Print an architecture's multiply-adds (MFLOPs) and parameters.
    Cost(ArchArgs),
    /// Print the network description of an architecture as JSON, for training it fully.
    Export(ArchArgs),
}

/// An architecture and the space's settings.
#[derive(Debug, Args)]
pub struct ArchArgs {
    /// The architecture: blocks by name with stages separated by `|`
    /// (`k7e6,k7e3,k3e3,zero|...`), the official integers (`"6 5 1 7 4 ..."`), or
    /// `seminasnet` (the paper's found architecture).
    #[arg(long)]
    arch: String,
    #[command(flatten)]
    mobile: MobileArgs,
    /// cost: print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs a `seminas mobile` subcommand.
pub fn run(cmd: &MobileCommand) -> anyhow::Result<()> {
    let (args, export) = match cmd {
        MobileCommand::Cost(a) => (a, false),
        MobileCommand::Export(a) => (a, true),
    };
    let space = args.mobile.space()?;
    let text = if args.arch.eq_ignore_ascii_case("seminasnet") {
        SEMINASNET
    } else {
        args.arch.as_str()
    };
    let arch = space.parse(text)?;
    if export {
        // The network of an architecture over the limit is not one the search would give.
        if let Some(limit) = space.max_mflops() {
            let mflops = space.cost(&arch).mflops();
            anyhow::ensure!(
                mflops <= limit,
                "the architecture costs {mflops:.2} MFLOPs, over --max-mflops {limit}"
            );
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&space.export_json(&arch))?
        );
        return Ok(());
    }
    let cost = space.cost(&arch);
    let within = space.max_mflops().map(|limit| cost.mflops() <= limit);
    if args.json {
        let v = serde_json::json!({
            "arch": space.format(&arch),
            "official": space.official_string(&arch),
            "mflops": cost.mflops(),
            "madds": cost.madds,
            "params": cost.params,
            "resolution": space.skeleton().resolution,
            "num_classes": space.skeleton().num_classes,
            "widths": args.mobile.widths,
            "within_limit": within,
        });
        println!("{v}");
        return Ok(());
    }
    println!("architecture: {}", space.format(&arch));
    println!("official:     {}", space.official_string(&arch));
    println!(
        "MFLOPs:       {:.2} ({} multiply-adds, {}x{} input, {} widths)",
        cost.mflops(),
        cost.madds,
        space.skeleton().resolution,
        space.skeleton().resolution,
        args.mobile.widths
    );
    println!(
        "parameters:   {:.2}M ({}, {} classes)",
        cost.mparams(),
        cost.params,
        space.skeleton().num_classes
    );
    if let (Some(ok), Some(limit)) = (within, space.max_mflops()) {
        println!(
            "limit:        {} {limit} MFLOPs",
            if ok { "within" } else { "OVER" }
        );
    }
    Ok(())
}
