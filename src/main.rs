//! The `seminas` command line.

mod cli;

use clap::Parser;

fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away (`| head`)
    // instead of panicking on a failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = cli::Cli::parse();
    stop_cleanly_on_signals();
    if let Err(e) = cli::run(cli) {
        eprintln!("error: {e:#}");
        // A refused setting is a usage error: the status clap gives a malformed command line.
        let usage = e.chain().any(|c| {
            c.downcast_ref::<seminas::settings::SettingError>()
                .is_some()
                || matches!(
                    c.downcast_ref(),
                    Some(seminas::benchmark::problem::ProblemError::Setting(_))
                )
                || matches!(
                    c.downcast_ref(),
                    Some(
                        seminas::search::OverrideError::Setting(_)
                            | seminas::search::OverrideError::Unused(_)
                    )
                )
        });
        std::process::exit(if usage { 2 } else { 1 });
    }
}

/// On Ctrl-C, SIGTERM or SIGHUP: kill the training commands running (they run in process
/// groups of their own, so the terminal's signal does not reach them) and exit. The run store
/// is consistent at any moment, so the run can be resumed.
fn stop_cleanly_on_signals() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain libc signal-mask calls on valid, initialised sets. The mask is set
        // before any other thread exists, so every thread inherits it and only the thread
        // below receives these signals.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            set
        };
        std::thread::spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: sigwait on the set blocked above.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                let killed = seminas::evaluator::command::kill_running_commands();
                eprintln!(
                    "\ninterrupted (signal {sig}); stopped {killed} running evaluation(s). A run \
                     with a run directory continues with `seminas resume DIR`."
                );
                std::process::exit(128 + sig);
            }
        });
    }
}
