//! `seminas dashboard`: the local web app over run and bench directories.

use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use seminas::dashboard::{Dashboard, serve};

/// Arguments of `seminas dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Run directories, `bench --out` directories, or folders holding them (two levels deep)
    /// [default: the current directory].
    dirs: Vec<PathBuf>,
    /// Address to listen on. Anything but a loopback address exposes the runs to the network
    /// without authentication.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on, from 0 to 65535 (0: any free port, printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

/// Runs `seminas dashboard` until interrupted.
pub fn run(args: &DashboardArgs) -> anyhow::Result<()> {
    let dirs = if args.dirs.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.dirs.clone()
    };
    let mut roots = Vec::new();
    for d in &dirs {
        anyhow::ensure!(d.is_dir(), "{} is not a directory", d.display());
        roots.push(std::path::absolute(d).unwrap_or_else(|_| d.clone()));
    }
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "warning: the dashboard listens on {addr}: anyone who can reach it can read these \
             runs (it has no authentication); use --host 127.0.0.1 to keep it local"
        );
    }
    let dashboard = Dashboard::new(roots);
    let (runs, benches) = dashboard
        .discover()
        .iter()
        .fold((0, 0), |(r, b), (k, _)| match k {
            seminas::dashboard::Kind::Run => (r + 1, b),
            seminas::dashboard::Kind::Bench => (r, b + 1),
        });
    let host = if addr.ip().is_loopback() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    eprintln!(
        "dashboard: http://{host}/ ({runs} run(s), {benches} bench director(ies) found; Ctrl-C \
         stops it)"
    );
    serve(dashboard, listener).context("the dashboard stopped")
}
