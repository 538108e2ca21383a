//! The processes of commands where there are no POSIX process groups (Windows): a command's
//! tree is ended with `taskkill /T`. Compiled for the Python wheels of those platforms
//! (which run the user's functions, not commands); commands there need `sh` on PATH (Git for
//! Windows, MSYS2). Not tested on this project's machines.

use std::process::{Child, Command};

/// Nothing to set up: the command gets no group of its own.
pub fn own_group_and_die_with_parent(_cmd: &mut Command) {}

/// Without `/proc` nothing an earlier run left can be found: nothing is killed.
pub fn kill_leftovers(_workdir: &std::path::Path) {}

/// Ends the tree of process `pid` (`force`: at once).
fn taskkill(pid: u32, force: bool) {
    let mut cmd = Command::new("taskkill");
    if force {
        cmd.arg("/F");
    }
    let _ = cmd.args(["/T", "/PID", &pid.to_string()]).output();
}

/// Kills the trees of every running command.
pub fn kill_all() -> usize {
    let running = super::running::now();
    for &pid in &running {
        taskkill(pid, true);
    }
    running.len()
}

/// Asks the child's tree to end.
pub fn terminate_group(pid: u32) {
    taskkill(pid, false);
}

/// Kills the child's tree.
pub fn kill_group(child: &mut Child) {
    taskkill(child.id(), true);
    let _ = child.kill();
}
