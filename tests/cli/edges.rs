//! Reliability at the edges (issue 28): huge and tiny values, output files that never lose
//! finished queries, bounded reads of what commands write, local resource failures and
//! error messages that quote user input. Every test drives the real binary
//! (`SEMINAS_BIN` may name an older build, to show what a test catches).

use std::process::Output;

use crate::support::*;

/// A clear refusal: exit status 1 or 2 (not a panic's 101 or an abort's 134), no panic text,
/// a short message holding every `needles`.
fn refused(out: &Output, what: &str, needles: &[&str]) {
    let err = stderr(out);
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "{what}: status {:?}\n{err}",
        out.status
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.len() < 2000, "{what}: a {}-byte message", err.len());
    for n in needles {
        assert!(err.contains(n), "{what}: {n:?} not in: {err}");
    }
}

/// Rewrites the stored arguments of the run in `dir` (as an older seminas may have stored
/// them).
fn store_args(dir: &std::path::Path, args: &[&str]) {
    let conn = rusqlite::Connection::open(dir.join("run.sqlite")).unwrap();
    let json = serde_json::to_string(args).unwrap();
    let n = conn
        .execute("UPDATE meta SET value = ?1 WHERE key = 'args'", [json])
        .unwrap();
    assert_eq!(n, 1);
}

/// Defect 1: an out-of-range heartbeat is refused before a run directory exists, and a run
/// stored with one (by an older seminas) is resumed with a clear error, or with
/// `--heartbeat` replacing it.
#[test]
fn heartbeats_out_of_range_are_refused_and_stored_ones_replaced() {
    let dir = TempDir::created("heartbeat-range");
    let run = dir.join("r");
    let run_s = run.display().to_string();
    let cmd = r#"echo '{"objective": 1}'"#;
    for bad in ["1e20", "1e-300", "0", "-1", "NaN", "inf"] {
        let out = exec(&[
            "search",
            "--algo",
            "random",
            "--queries",
            "3",
            &format!("--heartbeat={bad}"),
            "--evaluator",
            cmd,
            "--out",
            &run_s,
        ]);
        refused(&out, bad, &["heartbeat"]);
        assert!(!run.exists(), "--heartbeat {bad} left a run directory");
    }
    let mut args = vec![
        "search",
        "--algo",
        "random",
        "--queries",
        "3",
        "--evaluator",
        cmd,
        "--out",
        &run_s,
    ];
    run_ok(&args);
    args.extend(["--heartbeat", "1e20"]);
    store_args(&run, &args);
    let out = exec(&["resume", &run_s, "--queries", "1"]);
    refused(&out, "resume", &["heartbeat = 1e20", "--heartbeat SECS"]);
    let out = run_ok(&["resume", &run_s, "--queries", "1", "--heartbeat", "5"]);
    assert!(out.contains("queries: 4"), "{out}");
}

fn with_toy(args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.splice(1..1, toy());
    all
}

fn exec_owned(args: &[String]) -> Output {
    seminas().args(args).output().expect("the binary runs")
}

/// Defect 2: a bench's budgets are users' values: huge ones run (the space ends the search,
/// as with `search`), nothing is preallocated from them, and seeds and training budgets past
/// their limits are refused by name before the output directory exists.
#[test]
fn huge_bench_budgets_run_and_huge_seeds_are_refused() {
    for q in ["18446744073709551615", "4294967296"] {
        let out = exec_owned(&with_toy(&[
            "bench",
            "--algos",
            "random",
            "--queries",
            q,
            "--seeds",
            "1",
            "--json",
        ]));
        let v = json(&out);
        assert_eq!(v["rows"][0]["queries"].to_string(), q, "{v}");
    }
    let dir = TempDir::created("bench-range");
    let out_dir = dir.join("b").display().to_string();
    for (flags, needle) in [
        (&["--seeds", "18446744073709551615"][..], "seeds"),
        (&["--seeds", "0"], "seeds"),
        (&["--seeds", "2000000", "--queries", "1,2,3"], "seeds"),
        (
            &[
                "--budget-trainings",
                "18446744073709551615",
                "--fidelity",
                "1=val_acc",
            ],
            "budget-trainings",
        ),
        (&["--queries", "0"], "queries"),
    ] {
        let mut args = vec!["bench", "--algos", "random", "--out", &out_dir];
        args.extend_from_slice(flags);
        let out = exec_owned(&with_toy(&args));
        refused(&out, &format!("{flags:?}"), &[needle]);
        assert!(!dir.join("b").exists(), "{flags:?} left {out_dir}");
    }
}

/// The paid queries run.sqlite holds (evaluated or failed), in proposal order: (index,
/// objective; `None` for a failure).
fn stored_queries(dir: &std::path::Path) -> Vec<(u64, Option<f64>)> {
    let conn = rusqlite::Connection::open(dir.join("run.sqlite")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT idx, objective FROM evaluations WHERE status IN ('evaluated', 'failed') \
             ORDER BY idx",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// queries.jsonl and summary.json hold exactly the queries run.sqlite holds.
fn outputs_match_the_store(dir: &std::path::Path, what: &str) -> usize {
    let stored = stored_queries(dir);
    let text = std::fs::read_to_string(dir.join("queries.jsonl")).unwrap();
    let logged: Vec<(u64, Option<f64>)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["index"].as_u64().unwrap(), v["objective"].as_f64())
        })
        .collect();
    assert_eq!(logged, stored, "{what}: queries.jsonl against run.sqlite");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["queries"], stored.len(), "{what}: summary.json");
    let best = stored.iter().filter_map(|q| q.1).fold(f64::MIN, f64::max);
    assert_eq!(summary["best"]["objective"], best, "{what}: summary.json");
    stored.len()
}

/// Defect 3: resumes and extensions, huge ones included, never leave queries.jsonl or
/// summary.json with fewer queries than run.sqlite (a wrapped budget used to rewrite them
/// with 14 or 19 of 20).
#[test]
fn outputs_keep_every_stored_query_through_resumes_and_extensions() {
    let dir = TempDir::created("extend");
    let run = dir.join("r").display().to_string();
    let mut search = vec![
        "search",
        "--algo",
        "random",
        "--queries",
        "20",
        "--out",
        &run,
    ];
    search.extend(["--quiet"]);
    exec_ok(&with_toy(&search));
    assert_eq!(outputs_match_the_store(&dir.join("r"), "search"), 20);
    for (extend, expected) in [
        (None, 20),
        (Some("18446744073709551610"), 26),
        (Some("18446744073709551615"), 26),
        (Some("1"), 26),
        (None, 26),
    ] {
        let mut args = vec!["resume", run.as_str()];
        if let Some(n) = extend {
            args.extend(["--queries", n]);
        }
        let out = run_ok(&args);
        assert!(
            out.contains(&format!("queries: {expected} ")),
            "{args:?}: {out}"
        );
        let n = outputs_match_the_store(&dir.join("r"), &format!("{args:?}"));
        assert_eq!(n, expected, "{args:?}");
    }
}

fn exec_ok(args: &[String]) -> String {
    let out = exec_owned(args);
    ok(&out)
}

/// Defect 6: a machine out of file descriptors is not an architecture that failed: the run
/// stops (status 1, saying why and how to resume) with no failure recorded, and a resume with
/// the limit raised finishes it. Runs under a range of descriptor limits around what one
/// evaluation needs, from the lowest (what a child inherits differs between machines and
/// harnesses): each stops before the search or stops resumably, until one succeeds; at least
/// one stops resumably.
#[test]
fn running_out_of_file_descriptors_stops_the_run_resumably() {
    let dir = TempDir::created("emfile");
    let cmd = r#"echo '{"objective": 1}'"#;
    let mut stopped = 0;
    for limit in 8..24 {
        let run = dir.join(format!("r{limit}"));
        let run_s = run.display().to_string();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
            .arg(binary())
            .args(["search", "--algo", "random", "--queries", "3", "--quiet"])
            .args(["--workers", "2", "--evaluator", cmd, "--out", &run_s])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "limit {limit}: {err}");
        if out.status.success() {
            break;
        }
        assert_eq!(out.status.code(), Some(1), "limit {limit}: {err}");
        if !err.contains("ran out") {
            // Stopped before the search began (e.g. the run store could not be opened).
            continue;
        }
        assert!(err.contains("Too many open files"), "limit {limit}: {err}");
        assert!(err.contains("seminas resume"), "limit {limit}: {err}");
        stopped += 1;
        let failed = stored_queries(&run)
            .iter()
            .filter(|q| q.1.is_none())
            .count();
        assert_eq!(failed, 0, "limit {limit}: a failure was recorded");
        let text = run_ok(&["resume", &run_s]);
        assert!(text.contains("queries: 3 "), "{text}");
        assert!(!text.contains("failed"), "{text}");
        break;
    }
    assert!(stopped > 0, "no limit made the run stop resumably");
}

/// Defect 8: what an error quotes from a user's file is cut (a 200 MB field gave a 200 MB
/// message): the start of the value, an ellipsis and its length.
#[test]
fn errors_quote_a_short_start_of_huge_values() {
    let dir = TempDir::created("quotes");
    let table = std::fs::read_to_string(fixture("toy_table.csv")).unwrap();
    let huge = "x".repeat(1_000_000);
    let cases = [
        // An unknown choice, a cell that is not a number, a column name.
        (
            table.replacen("d2,w16,conv", &format!("{huge},w16,conv"), 1),
            "unknown choice",
        ),
        (
            table.replacen(",100\n", &format!(",1{huge}\n"), 1),
            "is not a number",
        ),
        (
            table.replacen("depth,", &format!("{huge},"), 1),
            "missing architecture column",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let path = dir.join(format!("t{i}.csv"));
        std::fs::write(&path, text).unwrap();
        let out = exec(&[
            "search",
            "--space",
            &fixture("toy_space.toml"),
            "--table",
            &path.display().to_string(),
            "--objective",
            "val_acc",
            "--report",
            "test_acc",
        ]);
        refused(&out, needle, &[needle, "… (100000"]);
    }
}

/// Defect 7: a table whose search cannot fit in the memory this process may have is refused
/// before it is read, saying how much it needs (a 5.8 M-row table used to take the process
/// to its limit and abort halfway through). The file is sparse: only its size is looked at.
#[test]
fn a_table_too_large_for_memory_is_refused_before_it_is_read() {
    let dir = TempDir::created("huge-table");
    let table = dir.join("huge.csv");
    std::fs::File::create(&table)
        .unwrap()
        .set_len(400_000_000)
        .unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2000000 && exec \"$0\" \"$@\"")
        .arg(binary())
        .args(["search", "--space", &fixture("toy_space.toml"), "--table"])
        .arg(&table)
        .args([
            "--objective",
            "val_acc",
            "--report",
            "test_acc",
            "--queries",
            "2",
        ])
        .output()
        .unwrap();
    refused(
        &out,
        "a 400 MB table under ulimit -v 2000000",
        &[
            "huge.csv: a table of 400 MB needs about 3600 MB",
            "ulimit -v",
        ],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
