//! The processes of commands: their own process group, killed with everything they started.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Puts the command in a process group of its own (so a timeout kills everything it
/// started) and has Linux kill it if seminas dies (so a killed run leaves no orphans
/// writing into a folder the resumed run uses).
pub fn own_group_and_die_with_parent(cmd: &mut Command) {
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id();
        // SAFETY: prctl and getppid are async-signal-safe, as pre_exec requires.
        unsafe {
            cmd.pre_exec(move || {
                // seminas may block signals to handle them on one thread (the CLI does);
                // the command gets the default mask.
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    libc::_exit(137);
                }
                Ok(())
            });
        }
    }
}

/// Kills what an earlier, killed seminas left running for this evaluation and waits until
/// it is gone: every process whose environment names `workdir` as its `SEMINAS_WORKDIR`,
/// with its whole process group (the command's group: programs it started that cleared
/// their environment go too).
///
/// One look at `/proc` is not enough. A process shows an empty environment while it
/// executes a new program, and a command line like `python3 train.py` under pyenv's shims
/// runs a chain of such programs; a program the look missed lives on, finishes its
/// training and writes its result next to the resumed run's own attempt (an evaluation run
/// twice). So the look is repeated until one finds nothing of this evaluation and no
/// process caught between programs, and a match is killed with its group, which a signal
/// reaches atomically (a process forking at that moment has its child killed too).
pub fn kill_leftovers(workdir: &std::path::Path) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        use std::time::{Duration, Instant};
        let mut needle = b"SEMINAS_WORKDIR=".to_vec();
        needle.extend_from_slice(workdir.as_os_str().as_bytes());
        let me = std::process::id();
        // SAFETY: getpgrp has no memory effects and cannot fail.
        let own_group = unsafe { libc::getpgrp() } as u32;
        let started = Instant::now();
        // A process without an environment is waited for this long at most: between two
        // programs it has none for microseconds, but a few programs have none for good.
        let unsure_for = Duration::from_millis(500);
        let (mut killed, mut groups) = (Vec::new(), Vec::new());
        loop {
            let (mut found, mut unsure) = (false, false);
            for pid in pids() {
                if pid == me {
                    continue;
                }
                // Unreadable: gone, or another user's (never one of our commands).
                let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                    continue;
                };
                if environ.is_empty() {
                    // Kernel threads have no program file; a user process between two
                    // programs has one.
                    unsure |= live_group(pid).is_some()
                        && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok();
                    continue;
                }
                if !environ
                    .split(|&b| b == 0)
                    .any(|var| var == needle.as_slice())
                {
                    continue;
                }
                let Some(group) = live_group(pid) else {
                    continue;
                };
                // SAFETY: kill has no memory effects. The group is the command's own (it
                // runs in a group of its own); never seminas's.
                unsafe {
                    if group > 1 && group != own_group {
                        libc::kill(-(group as i32), libc::SIGKILL);
                        groups.push(group);
                    }
                    libc::kill(pid as i32, libc::SIGKILL);
                }
                killed.push(pid);
                found = true;
            }
            let waited = started.elapsed();
            // Look again after a kill (a program may have started meanwhile) and while a
            // process may be between programs, within limits.
            let again = found || (unsure && waited < unsure_for);
            if !again || waited > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        groups.sort_unstable();
        groups.dedup();
        // Gone, or zombies waiting for their new parent to reap them.
        let in_killed_group =
            |pid| live_group(pid).is_some_and(|g| groups.binary_search(&g).is_ok());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && (killed.iter().any(|&pid| live_group(pid).is_some())
                || (!groups.is_empty() && pids().any(in_killed_group)))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = workdir;
}

/// The process ids listed in `/proc`.
#[cfg(target_os = "linux")]
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
}

/// The process group of process `pid` while it runs; `None` once it is gone or a zombie.
/// Read from `/proc/PID/stat`, after the command name (which may hold spaces and
/// parentheses): state, parent, group.
#[cfg(target_os = "linux")]
pub(super) fn live_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    if matches!(fields.next()?, "Z" | "X") {
        return None;
    }
    fields.nth(1)?.parse().ok()
}

/// Kills the process groups of every running command.
pub fn kill_all() -> usize {
    let groups = super::running::now();
    for &g in &groups {
        // SAFETY: kill has no memory effects; each group is one we created.
        unsafe {
            libc::kill(-(g as i32), libc::SIGKILL);
        }
    }
    groups.len()
}

/// Asks the child's whole process group to end (SIGTERM).
pub fn terminate_group(pid: u32) {
    // SAFETY: kill has no memory effects; a negative pid names the group we created.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGTERM);
    }
}

/// Kills the child's whole process group.
pub fn kill_group(child: &mut Child) {
    // SAFETY: kill has no memory effects; a negative pid names the group we created.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    let _ = child.kill();
}
