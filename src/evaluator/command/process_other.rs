//! The processes of commands where there are no POSIX process groups (Windows): a command's
//! tree is ended with `taskkill /T`. Compiled for the Python wheels of those platforms
//! (which run the user's functions, not commands); commands there need `sh` on PATH (Git for
//! Windows, MSYS2). Not tested on this project's machines.

use std::process::{Child, Command};

/// Nothing to set up: the command gets no group of its own.
pub fn own_group_and_die_with_parent(_cmd: &mut Command) {}

/// Without `/proc` nothing an earlier run left can be found: nothing is killed.
pub fn kill_leftovers(_workdir: &std::path::Path) {}

/// Process ids of the commands running now, for [`super::kill_running_commands`].
static RUNNING: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Registers a running command until dropped.
pub struct Running(u32);

impl Running {
    pub fn register(pid: u32) -> Self {
        RUNNING.lock().unwrap_or_else(|p| p.into_inner()).push(pid);
        Self(pid)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|&g| g != self.0);
    }
}

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
    let running = RUNNING.lock().unwrap_or_else(|p| p.into_inner()).clone();
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
