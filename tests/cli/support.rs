//! What every end-to-end test needs: the binary, temporary folders that clean up after
//! themselves, runners that show the command, its stdout and its stderr when it fails, the
//! run store's queries, and the kill-and-resume loop.

#![allow(dead_code)] // each test module uses a part; without the trainer some go unused

use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

/// The binary under test: `SEMINAS_BIN` when set (e.g. an older build, to show what a test
/// catches), else the one cargo built.
pub fn binary() -> String {
    std::env::var("SEMINAS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_seminas").to_string())
}

/// A command running the binary.
pub fn seminas() -> Command {
    Command::new(binary())
}

/// Runs the binary with `args` to the end, whatever its exit status.
pub fn exec(args: &[&str]) -> Output {
    seminas().args(args).output().expect("the binary runs")
}

/// Runs the binary with `args`; it must succeed. Its stdout.
pub fn run_ok(args: &[&str]) -> String {
    let out = exec(args);
    check(&format!("seminas {}", args.join(" ")), &out);
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Runs a prepared command to the end; it must succeed.
pub fn output_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    check(&format!("{cmd:?}"), &out);
    out
}

/// An output that must be a success (for outputs of spawned children). Its stdout.
pub fn ok(out: &Output) -> String {
    check("(a spawned seminas)", out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stdout of a successful run, parsed as one JSON value.
pub fn json(out: &Output) -> serde_json::Value {
    check("seminas", out);
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON value")
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn check(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}\nstatus: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file of tests/fixtures.
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// The example training script (examples/evaluators/toy_train.py).
pub fn toy_script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/evaluators/toy_train.py")
        .display()
        .to_string()
}

/// A folder under the system's temporary folder, unique to this process and `name`,
/// removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// The path, emptied of what an earlier run left; not created (for `--out`, which
    /// creates it).
    pub fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("seminas-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        TempDir(d)
    }

    /// As [`TempDir::new`], created.
    pub fn created(name: &str) -> TempDir {
        let d = TempDir::new(name);
        std::fs::create_dir_all(&d.0).expect("temporary folder");
        d
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<OsStr> for TempDir {
    fn as_ref(&self) -> &OsStr {
        self.0.as_os_str()
    }
}

/// queries.jsonl of a run without timings, its run folder's path written `RUN`.
pub fn queries(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("queries.jsonl")).expect("queries.jsonl");
    let text = text.replace(&dir.display().to_string(), "RUN");
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            for timing in ["seconds", "started", "finished"] {
                v.as_object_mut().expect("an object").remove(timing);
            }
            v
        })
        .collect()
}

/// How [`kill_and_resume`] kills.
pub struct Kills {
    /// Waits between kills: 150 ms plus up to this many ms.
    pub spread_ms: u64,
    /// After this many kills, the last resume runs to the end.
    pub most: usize,
    /// Kills start once this file exists (a kill before leaves nothing to resume).
    pub after: Option<PathBuf>,
}

/// Starts a run with `start`, then kills it (SIGKILL) at random moments and continues it with
/// `resume`, until a process finishes by itself or `kills.most` kills were made (the last
/// resume then runs to the end). Every finished process must succeed; `context` is printed
/// with a failure. The moments come from `SEMINAS_KILL_SEED` or the clock, and the seed is
/// printed so that a failure can be replayed. Returns the number of kills.
pub fn kill_and_resume(
    mut start: impl FnMut() -> Child,
    mut resume: impl FnMut() -> Child,
    kills: Kills,
    context: impl Fn() -> String,
) -> usize {
    let mut state = std::env::var("SEMINAS_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock after 1970")
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill moments from SEMINAS_KILL_SEED={state}");
    let succeeded = |status: ExitStatus| assert!(status.success(), "{status:?}: {}", context());
    let mut child = start();
    if let Some(file) = &kills.after {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut n = 0;
    loop {
        let wait = Duration::from_millis(150 + xorshift(&mut state) % kills.spread_ms);
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("wait") {
                succeeded(status);
                return n;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().expect("kill"); // SIGKILL
        child.wait().expect("wait");
        n += 1;
        child = resume();
        if n == kills.most {
            succeeded(child.wait().expect("wait"));
            return n;
        }
    }
}

/// A small number generator for the kill moments (meant to vary between runs of a test).
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The toy space's arguments (27 architectures, 26 in the table, a cost column).
pub fn toy() -> Vec<String> {
    [
        "--space",
        &fixture("toy_space.toml"),
        "--table",
        &fixture("toy_table.csv"),
        "--objective",
        "val_acc",
        "--report",
        "test_acc",
        "--cost",
        "train_s",
    ]
    .map(String::from)
    .to_vec()
}
