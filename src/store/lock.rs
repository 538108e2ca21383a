//! The lock file that keeps a second process off a run directory.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use super::{LOCK, StoreError};

/// Takes the run directory's lock file; the OS releases it when the process dies, however.
pub(super) fn lock(dir: &Path) -> Result<File, StoreError> {
    // A holder that ends removes the file: a lock taken on a file it had just removed is no
    // lock on the run; try again on the new file.
    for _ in 0..100 {
        let file = lock_once(dir)?;
        if same_file(&file, &dir.join(LOCK)) {
            return Ok(file);
        }
    }
    Err(StoreError::Locked {
        path: dir.to_path_buf(),
        holder: String::new(),
    })
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.exists()
}

fn lock_once(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK);
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
                holder: if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {pid})")
                },
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    write!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(file)
}
