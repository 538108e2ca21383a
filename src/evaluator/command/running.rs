//! The commands running now (by process id, which is also their process group's on Unix),
//! for [`super::kill_running_commands`].

/// Process ids of the running commands.
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

/// The process ids registered now.
pub fn now() -> Vec<u32> {
    RUNNING.lock().unwrap_or_else(|p| p.into_inner()).clone()
}
