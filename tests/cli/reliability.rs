//! Reliability of `seminas` as a hostile user meets it (issue 13): bounded memory when most
//! proposals are not evaluable, exhausted or nearly empty spaces that stop and say so,
//! out-of-range settings refused with the setting's name and range, and clear errors for
//! smaller misuses. Every test drives the real binary (`SEMINAS_BIN` may name another build,
//! e.g. an older seminas, to show what these tests catch).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// Runs seminas in the temporary folder (so that relative paths it writes land there).
fn exec_in_tmp(args: &[&str]) -> Output {
    seminas()
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("binary runs")
}

/// A clear refusal: exit status 1 or 2 (not a panic's 101 or an abort's 134), no panic text,
/// and a message holding every `needles`.
fn refused(args: &[&str], needles: &[&str]) {
    let out = exec_in_tmp(args);
    let err = stderr(&out);
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "{args:?}: status {:?}\n{err}",
        out.status
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in: {err}");
    }
}

/// A categorical space of `positions` two-way positions and a table of `rows` random
/// architectures of it (seeded), as files in `dir`.
fn wide_space(dir: &std::path::Path, positions: usize, rows: usize) -> (String, String) {
    let mut toml = String::from("name = \"wide\"\n");
    for p in 0..positions {
        toml.push_str(&format!(
            "[[position]]\nname = \"p{p}\"\nchoices = [\"a\", \"b\"]\n"
        ));
    }
    let mut csv: Vec<String> = (0..positions).map(|p| format!("p{p}")).collect();
    csv.push("val".into());
    csv.push("test".into());
    let mut csv = csv.join(",") + "\n";
    let mut state = 0x9e3779b97f4a7c15u64;
    for r in 0..rows {
        for _ in 0..positions {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            csv.push_str(if state & 1 == 0 { "a," } else { "b," });
        }
        csv.push_str(&format!("{},{}\n", 50 + r % 40, 40 + r % 50));
    }
    let (s, t) = (dir.join("wide.toml"), dir.join("wide.csv"));
    std::fs::write(&s, toml).unwrap();
    std::fs::write(&t, csv).unwrap();
    (s.display().to_string(), t.display().to_string())
}

/// Runs seminas to the end; its output and peak resident memory in bytes.
// The child is reaped by wait4 (for its rusage), which clippy does not see.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (Output, u64) {
    let mut child = seminas()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    let mut status = 0;
    // SAFETY: plain system call on our own child; rusage is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    use std::os::unix::process::ExitStatusExt;
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out,
        stderr: err,
    };
    (output, usage.ru_maxrss as u64 * 1024)
}

/// Issue 13, item 3: a space where almost nothing is evaluable used to grow without limit
/// (6.3 GB here). The bound stated in docs/reliability.md: 144 MB measured for the 1,000,000 free
/// proposals of the stall limit; the test allows 250 MB.
#[test]
fn memory_stays_bounded_when_most_proposals_are_not_evaluable() {
    let dir = TempDir::created("wide");
    let (space, table) = wide_space(&dir, 200, 300);
    let args = [
        "search",
        "--space",
        &space,
        "--table",
        &table,
        "--objective",
        "val",
        "--report",
        "test",
        "--algo",
        "random",
        "--queries",
        "5",
        "--json",
    ];
    let (out, peak) = run_measured(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["queries"], 0, "no random architecture is in the table");
    eprintln!("peak RSS {} MB", peak / 1_000_000);
    assert!(peak < 250_000_000, "peak RSS {} MB", peak / 1_000_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 28, defect 4: the same case with `--out` stored a row per free proposal (2.5 GB of
/// run.sqlite after 300 s, and a resume holding 970 MB). The bounds stated in
/// docs/reliability.md: run.sqlite under 10 MB, the resume under 200 MB. Slow (a million
/// proposals written to the store, then replayed):
/// `cargo test --release --test cli -- --ignored store_stays_small`.
#[test]
#[ignore = "slow: a million free proposals written to a run store and replayed"]
fn store_stays_small_and_resume_bounded_when_most_proposals_are_not_evaluable() {
    let dir = TempDir::created("wide-out");
    let (space, table) = wide_space(&dir, 200, 300);
    let run = dir.join("run").display().to_string();
    let args = [
        "search",
        "--space",
        &space,
        "--table",
        &table,
        "--objective",
        "val",
        "--report",
        "test",
        "--algo",
        "random",
        "--queries",
        "5",
        "--quiet",
        "--out",
        &run,
    ];
    let started = Instant::now();
    let (out, peak) = run_measured(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let size = |name: &str| std::fs::metadata(dir.join("run").join(name)).map_or(0, |m| m.len());
    let db = size("run.sqlite") + size("run.sqlite-wal");
    eprintln!(
        "search: {:.0} s, peak RSS {} MB, run.sqlite {} KB",
        started.elapsed().as_secs_f64(),
        peak / 1_000_000,
        db / 1000
    );
    assert!(db < 10_000_000, "run.sqlite holds {db} bytes");
    let started = Instant::now();
    let (out, peak) = run_measured(&["resume", &run]);
    assert!(out.status.success(), "{}", stderr(&out));
    let db = size("run.sqlite") + size("run.sqlite-wal");
    eprintln!(
        "resume: {:.0} s, peak RSS {} MB, run.sqlite {} KB",
        started.elapsed().as_secs_f64(),
        peak / 1_000_000,
        db / 1000
    );
    assert!(
        peak < 200_000_000,
        "resume peak RSS {} MB",
        peak / 1_000_000
    );
    assert!(
        db < 10_000_000,
        "run.sqlite holds {db} bytes after the resume"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 28, defect 5: a command whose result is the last line of 300 MB of standard output
/// took as much memory as its output (498 MB for 500 MB); now what is read of it is bounded
/// (its last 4 MiB, step lines of at most 64 KiB).
#[test]
fn a_huge_standard_output_is_read_in_bounded_memory() {
    let dir = TempDir::created("huge-stdout");
    let run = dir.join("run").display().to_string();
    let cmd = "head -c 300000000 /dev/zero | tr '\\0' x; echo; echo '{\"objective\": 0.5}'";
    let (out, peak) = run_measured(&[
        "search",
        "--space",
        "nb201",
        "--algo",
        "random",
        "--queries",
        "1",
        "--quiet",
        "--evaluator",
        cmd,
        "--out",
        &run,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("queries: 1 "), "{text}");
    assert!(!text.contains("failed"), "{text}");
    eprintln!("peak RSS {} MB", peak / 1_000_000);
    assert!(peak < 100_000_000, "peak RSS {} MB", peak / 1_000_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 28, defect 7: SemiNAS-Ens on a space of 2,000 two-way positions took 616 MB (8,000
/// positions did not fit 2 GB): its candidates per round are now bounded in memory. The bound
/// in docs/reliability.md: 284 MB measured; the test allows 400 MB. Slow (about 90 s):
/// `cargo test --release --test cli -- --ignored wide_spaces_keep`.
#[test]
#[ignore = "slow: SemiNAS-Ens rounds on a space of 2,000 positions"]
fn wide_spaces_keep_seminas_ens_memory_bounded() {
    let dir = TempDir::created("wide-ens");
    let (space, _) = wide_space(&dir, 2000, 1);
    let run = dir.join("run").display().to_string();
    let (out, peak) = run_measured(&[
        "search",
        "--out",
        &run,
        "--space",
        &space,
        "--algo",
        "seminas-ens",
        "--queries",
        "25",
        "--evaluator",
        "echo '{\"objective\": 1}'",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["queries"], 25);
    eprintln!("peak RSS {} MB", peak / 1_000_000);
    assert!(peak < 400_000_000, "peak RSS {} MB", peak / 1_000_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 13, item 4: a spent space ends the search at once, whatever the algorithm.
#[test]
fn exhausted_spaces_stop_and_say_so() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (space, table) = (
        root.join("toy_space.toml").display().to_string(),
        root.join("toy_table.csv").display().to_string(),
    );
    for algo in ["random", "re", "nao", "seminas", "seminas-re"] {
        let started = Instant::now();
        let out = exec_in_tmp(&[
            "search",
            "--space",
            &space,
            "--table",
            &table,
            "--objective",
            "val_acc",
            "--report",
            "test_acc",
            "--algo",
            algo,
            "--queries",
            "100",
        ]);
        assert!(out.status.success(), "{algo}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("queries: 26 (searcher exhausted the space"),
            "{algo}: {text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{algo}: {:?}",
            started.elapsed()
        );
    }
}

/// Issue 13, item 4: regularized evolution finishes NAS-Bench-201 instead of stalling on it.
#[test]
fn regularized_evolution_spends_the_whole_nb201_space() {
    let started = Instant::now();
    let out = exec_in_tmp(&["search", "--algo", "re", "--queries", "20000", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["queries"], 15625);
    assert_eq!(v["best"]["rank"], 1);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

/// Issue 13, item 4: a FLOPs limit that only the cheapest network meets.
#[test]
fn a_nearly_empty_mobile_space_stops_after_its_one_architecture() {
    let dir = TempDir::created("mobile");
    for algo in ["random", "re", "seminas"] {
        let started = Instant::now();
        let out = exec_in_tmp(&[
            "search",
            "--space",
            "mobile",
            "--max-mflops",
            "182.5",
            "--algo",
            algo,
            "--queries",
            "2",
            "--evaluator",
            r#"echo '{"objective": 1}'"#,
            "--out",
            &dir.join(algo).display().to_string(),
        ]);
        assert!(out.status.success(), "{algo}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("queries: 1 (searcher exhausted the space"),
            "{algo}: {text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{algo}: {:?}",
            started.elapsed()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 13, item 6: every out-of-range setting is refused, naming it and its range, before a
/// run directory exists.
#[test]
fn out_of_range_settings_are_refused_by_name() {
    let dir = TempDir::created("settings");
    let out = dir.join("run").display().to_string();
    let max = "18446744073709551615";
    let cmd = r#"echo '{"objective": 1}'"#;
    let search = |extra: &[&str], needles: &[&str]| {
        let mut args = vec![
            "search",
            "--algo",
            "seminas",
            "--queries",
            "20",
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        refused(&args, needles);
        assert!(!dir.join("run").exists(), "{extra:?} left a run directory");
    };
    search(
        &["--evaluator", cmd, "--retries", max],
        &["retries", "from 0 to 1000"],
    );
    search(&["--workers", "100000"], &["workers", "from 1 to 1024"]);
    search(
        &["--evaluator", cmd, "--timeout", "1e300"],
        &["timeout", "seconds"],
    );
    search(
        &["--controller-hidden", "0"],
        &["controller-hidden", "from 1 to 1024"],
    );
    search(
        &["--controller-hidden", "100000"],
        &["controller-hidden", "from 1 to 1024"],
    );
    search(&["--controller-hidden", max], &["controller-hidden"]);
    search(&["--pseudo", max], &["pseudo", "from 0 to 1000000"]);
    search(&["--children", max], &["children", "from 1 to 100000"]);
    search(&["--top-k", "0"], &["top-k"]);
    search(&["--upsample", max], &["upsample"]);
    refused(
        &[
            "mobile",
            "cost",
            "--arch",
            "seminasnet",
            "--num-classes",
            max,
        ],
        &["num-classes", "from 1 to 1000000"],
    );
    refused(
        &[
            "mobile",
            "cost",
            "--arch",
            "seminasnet",
            "--resolution",
            max,
        ],
        &["resolution"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 13, item 8: smaller misuses get errors (or warnings) that say what is wrong.
#[test]
fn smaller_misuses_are_named() {
    let dir = TempDir::created("small");
    refused(&["search", "--cost", "no_such_column"], &["--cost"]);
    refused(
        &["search", "--space", "nb101-20k", "--cost", "x"],
        &["--cost"],
    );
    refused(
        &[
            "search",
            "--space",
            "mobile",
            "--max-mflops",
            "inf",
            "--evaluator",
            "true",
        ],
        &["finite"],
    );
    refused(
        &[
            "mobile",
            "export",
            "--arch",
            "seminasnet",
            "--max-mflops",
            "300",
        ],
        &["over --max-mflops 300"],
    );
    let empty = dir.join("empty.tfrecord");
    std::fs::write(&empty, b"").unwrap();
    refused(&["nb101", "info", &empty.display().to_string()], &["empty"]);
    // A negative cost in a table.
    let (space, table) = wide_space(&dir, 8, 3);
    let text = std::fs::read_to_string(&table)
        .unwrap()
        .replace("val,test", "val,cost");
    let text = text.replacen(",51,41\n", ",51,-41\n", 1);
    std::fs::write(&table, text).unwrap();
    refused(
        &[
            "search",
            "--space",
            &space,
            "--table",
            &table,
            "--objective",
            "val",
            "--report",
            "val",
            "--cost",
            "cost",
        ],
        &["wide.csv:3", "cost", "negative"],
    );
    // Too many choices: the limit is named.
    let many: Vec<String> = (0..70_000).map(|i| format!("\"c{i}\"")).collect();
    let toml = dir.join("many.toml");
    std::fs::write(
        &toml,
        format!(
            "[[position]]\nname = \"p\"\nchoices = [{}]\n",
            many.join(",")
        ),
    )
    .unwrap();
    refused(
        &[
            "search",
            "--space",
            &toml.display().to_string(),
            "--table",
            &table,
        ],
        &["70000 choices", "at most 65535"],
    );
    // An unknown placeholder is flagged (a warning: braces may be the command's own).
    let out = exec_in_tmp(&[
        "search",
        "--algo",
        "random",
        "--queries",
        "1",
        "--evaluator",
        r#"echo '{"objective": 1}' > {reslt}"#,
        "--out",
        &dir.join("run").display().to_string(),
    ]);
    assert!(
        stderr(&out).contains("{reslt}, which is not a placeholder"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
