//! Watching a search: progress on stderr off a terminal, queries.jsonl growing while the search
//! runs, the run directory's state at the end.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is whole JSON"))
        .collect()
}

/// A training command that sleeps, then scores the architecture by its length.
fn slow_command(seconds: f64) -> String {
    format!(r#"sleep {seconds}; echo "{{\"objective\": ${{#SEMINAS_ARCH}}}}""#)
}

#[test]
fn off_a_terminal_each_query_is_a_log_line_and_quiet_silences_them() {
    let dir = TempDir::new("log");
    let out = seminas()
        .args(["search", "--queries", "30", "--seed", "1", "--out"])
        .arg(&dir)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    ok(&out);
    let stderr = stderr(&out);
    let log: Vec<&str> = stderr.lines().collect();
    assert!(
        log[0].ends_with("seminas-ens on nb201: 30 queries"),
        "{stderr}"
    );
    let queries: Vec<&&str> = log.iter().filter(|l| l.contains(" query ")).collect();
    assert_eq!(queries.len(), 30, "{stderr}");
    for (i, l) in queries.iter().enumerate() {
        // 2026-12-02T11:53:01Z query 7/30 objective 84.3947 | best 90.5240 | failures 0 | ...
        assert_eq!(&l[10..11], "T", "{l}");
        assert!(
            l.contains(&format!(" query {}/30 objective ", i + 1)),
            "{l}"
        );
        assert!(l.contains(" | failures 0 | "), "{l}");
        // SemiNAS-Ens: 10 random (a tenth of the budget, at least 10), then predictor rounds.
        if i < 10 {
            assert!(l.ends_with("| random init"), "{l}");
        } else {
            assert!(
                l.contains(&format!("| round {} scored (predicted ", i - 9)),
                "{l}"
            );
        }
    }
    // The best so far never decreases and ends at the summary's best.
    let best: Vec<f64> = queries
        .iter()
        .map(|l| l.split("| best ").nth(1).unwrap()[..7].parse().unwrap())
        .collect();
    assert!(best.windows(2).all(|w| w[1] >= w[0]), "{best:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let found = summary["best"]["objective"].as_f64().unwrap();
    assert!((best[29] - found).abs() < 1e-4, "{} vs {found}", best[29]);
    assert!(log.last().unwrap().contains("30/30 queries"), "{stderr}");
    // queries.jsonl: the searcher's predicted value for every round's query.
    let q = lines(&dir.join("queries.jsonl"));
    assert_eq!(q.len(), 30);
    assert!(q[..10].iter().all(|l| l["origin"] == "initial"));
    assert_eq!(q[10]["origin"], "round 1 scored");
    assert!(
        q[10..].iter().all(|l| l["predicted"].is_f64()),
        "{:?}",
        q[10]
    );

    let quiet = seminas()
        .args(["search", "--queries", "30", "--quiet"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    ok(&quiet);
    assert_eq!(crate::support::stderr(&quiet), "");
}

#[test]
fn a_heartbeat_is_logged_while_nothing_finishes() {
    let dir = TempDir::new("heartbeat");
    let out = seminas()
        .args([
            "search",
            "--algo",
            "random",
            "--queries",
            "2",
            "--heartbeat",
            "0.3",
        ])
        .args(["--evaluator", &slow_command(1.5), "--out"])
        .arg(&dir)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    ok(&out);
    let stderr = stderr(&out);
    let beats: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("queries | best") && l.contains("| evaluating |"))
        .collect();
    // 3 s of evaluation, a heartbeat after every 0.3 s of silence (at a 1 s tick at most).
    assert!(beats.len() >= 2, "{stderr}");
    assert!(
        beats[0].contains(" 0/2 queries | best - | failures 0 | evaluating"),
        "{stderr}"
    );
}

#[test]
fn queries_jsonl_grows_while_the_search_runs_and_the_lock_goes_at_the_end() {
    let dir = TempDir::new("live");
    let mut child = seminas()
        .args(["search", "--algo", "re", "--queries", "8", "--quiet"])
        .args(["--evaluator", &slow_command(0.4), "--out"])
        .arg(&dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let path = dir.join("queries.jsonl");
    let started = Instant::now();
    let mut seen = Vec::new();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the search hangs"
        );
        let now = lines(&path);
        if !now.is_empty() && seen.last() != Some(&now.len()) {
            // Whole lines only, numbered 1..k, each with its evaluation's times.
            for (i, l) in now.iter().enumerate() {
                assert_eq!(l["n"], i + 1);
                assert!(l["finished"].as_f64() >= l["started"].as_f64(), "{l}");
            }
            if now.len() < 8 {
                assert!(
                    dir.join("lock").exists(),
                    "the running search holds its lock"
                );
            }
            seen.push(now.len());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(child.wait().unwrap().success());
    // Seen while running: several counts below 8.
    assert!(seen.iter().filter(|&&k| k < 8).count() >= 3, "{seen:?}");
    let done = lines(&path);
    assert_eq!(done.len(), 8);
    assert_eq!(done[0]["origin"], "initial");
    assert_eq!(done[0]["index"], 0);
    assert!(dir.join("evals/000000/stdout.log").is_file());
    assert!(
        !dir.join("lock").exists(),
        "the lock file goes with the run"
    );
}

#[test]
fn show_and_export_a_finished_run_with_failures() {
    let dir = TempDir::new("show");
    // Proposals 2 and 5 fail (exit 3, no retry); the others score the architecture's length.
    let cmd = r#"case $SEMINAS_INDEX in 2|5) echo boom >&2; exit 3;; esac; echo "{\"objective\": ${#SEMINAS_ARCH}, \"metrics\": {\"len\": ${#SEMINAS_ARCH}}}""#;
    let out = seminas()
        .args([
            "search",
            "--algo",
            "random",
            "--queries",
            "12",
            "--retries",
            "0",
        ])
        .args(["--quiet", "--evaluator", cmd, "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    ok(&out);
    let text = ok(&seminas().arg("show").arg(&dir).output().unwrap());
    assert!(text.contains(": finished\n"), "{text}");
    assert!(text.contains("  random on nb201, seed 0"), "{text}");
    assert!(
        text.contains("progress: 12/12 queries, 2 failed, 0 not evaluable"),
        "{text}"
    );
    assert!(text.contains("failures (2):\n  query 3: "), "{text}");
    assert!(text.contains("boom"), "{text}");
    let logs = dir.join("evals/000002");
    assert!(
        text.contains(&format!("[logs: {}]", logs.display())),
        "{text}"
    );
    assert!(text.contains("best objective so far, by query:"), "{text}");
    let shown: serde_json::Value = serde_json::from_str(&ok(&seminas()
        .arg("show")
        .arg(&dir)
        .arg("--json")
        .output()
        .unwrap()))
    .unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(shown["state"], "finished");
    assert_eq!(shown["queries"], 12);
    assert_eq!(shown["failures"], 2);
    assert_eq!(shown["best"]["objective"], summary["best"]["objective"]);
    assert_eq!(shown["best"]["arch"], summary["best"]["arch"]);

    let csv = ok(&seminas().arg("export").arg(&dir).output().unwrap());
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 13, "{csv}");
    assert!(rows[0].starts_with("n,index,status,arch,objective,report,cost_seconds,origin,"));
    assert!(
        rows[0].ends_with(",evals_dir,stopped_at,steps,metric:len"),
        "{}",
        rows[0]
    );
    assert!(rows[3].starts_with("3,2,failed,"), "{}", rows[3]);
    let jsonl = ok(&seminas()
        .arg("export")
        .arg(&dir)
        .args(["--format", "jsonl"])
        .output()
        .unwrap());
    let exported: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let logged = lines(&dir.join("queries.jsonl"));
    assert_eq!(exported.len(), 12);
    for (e, q) in exported.iter().zip(&logged) {
        assert_eq!(e["n"], q["n"]);
        assert_eq!(e["arch"], q["arch"]);
        assert_eq!(e["objective"], q["objective"]);
        assert_eq!(e["origin"], "random");
        assert_eq!(e["metrics"]["len"], q["objective"]);
    }
    assert_eq!(exported[2]["status"], "failed");
    assert!(exported[2]["reason"].as_str().unwrap().contains("boom"));
    // Reading left nothing behind.
    assert!(!dir.join("run.sqlite-shm").exists());

    std::fs::remove_dir_all(&*dir).unwrap();
    let missing = seminas().arg("show").arg(&dir).output().unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no run here"));
}

#[test]
fn show_and_export_read_a_running_search_without_stopping_it() {
    let dir = TempDir::new("show-live");
    let mut child = seminas()
        .args(["search", "--algo", "random", "--queries", "10", "--quiet"])
        .args(["--evaluator", &slow_command(0.3), "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut counts = Vec::new();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the search hangs"
        );
        if dir.join("run.sqlite").exists() {
            let out = seminas()
                .arg("show")
                .arg(&dir)
                .arg("--json")
                .output()
                .unwrap();
            if out.status.success() {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                if v["state"] == "running" {
                    assert_eq!(v["pid"], child.id());
                    counts.push(v["queries"].as_u64().unwrap());
                }
            }
            let export = seminas().arg("export").arg(&dir).output().unwrap();
            assert!(
                export.status.success(),
                "{}",
                String::from_utf8_lossy(&export.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(child.wait().unwrap().success(), "the search ends normally");
    assert!(counts.windows(2).all(|w| w[1] >= w[0]), "{counts:?}");
    assert!(
        counts.iter().any(|&c| c > 0 && c < 10),
        "a running count was seen: {counts:?}"
    );
    let v: serde_json::Value = serde_json::from_slice(
        &seminas()
            .arg("show")
            .arg(&dir)
            .arg("--json")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        (v["state"].as_str(), v["queries"].as_u64()),
        (Some("finished"), Some(10))
    );
}
