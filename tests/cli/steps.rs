//! Early stopping of a user's command that reports steps: what is stopped, how it is stopped,
//! what is recorded, bad step output, and a kill in the middle of a rung.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// A "training" in sh (fast to start, unlike Python): epochs 1..=4, each 40 ms, reporting
/// `objective = V.E` where V depends on the proposal; each epoch is appended to `journal`.
/// `extra` runs first (e.g. a trap).
fn training(journal: &Path, extra: &str) -> String {
    training_with(journal, extra, "0.04")
}

/// As [`training`], with epochs of `epoch` seconds.
fn training_with(journal: &Path, extra: &str, epoch: &str) -> String {
    format!(
        "{extra} v=$(( (SEMINAS_INDEX * 7 + 3) % 10 )); for e in 1 2 3 4; do sleep {epoch}; \
         echo \"$SEMINAS_INDEX $e\" >> {j}; echo \"{{\\\"step\\\": $e, \\\"objective\\\": $v.$e}}\"; \
         done; echo \"{{\\\"objective\\\": $v.5}}\"",
        j = journal.display()
    )
}

/// Epochs each proposal ran, from the journal.
fn epochs_run(journal: &Path) -> std::collections::BTreeMap<u64, u64> {
    let mut m = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(journal).unwrap_or_default().lines() {
        let mut it = line.split_whitespace().map(|x| x.parse::<u64>().unwrap());
        let (i, e) = (it.next().unwrap(), it.next().unwrap());
        let v = m.entry(i).or_insert(0);
        *v = (*v).max(e);
    }
    m
}

fn search(dir: &Path, command: &str, queries: &str, extra: &[&str]) -> std::process::Output {
    seminas()
        .args([
            "search",
            "--space",
            "nb201",
            "--algo",
            "random",
            "--queries",
            queries,
        ])
        .args([
            "--evaluator",
            command,
            "--max-step",
            "4",
            "--quiet",
            "--out",
        ])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn successive_halving_stops_commands_at_their_rungs_and_keeps_their_curves() {
    let dir = TempDir::new("steps-asha");
    let journal = dir.join("journal");
    std::fs::create_dir_all(&dir).unwrap();
    let run = dir.join("run");
    let out = search(
        &run,
        &training(&journal, ""),
        "8",
        &["--prune", "asha:eta=2,min-step=1"],
    );
    let text = ok(&out);
    let q = queries(&run);
    assert_eq!(q.len(), 8);
    // What successive halving with rungs 1 and 2 (eta 2) decides from the values V.E, V =
    // (7 i + 3) mod 10: trial i goes on at a rung if it is among the best half of the values
    // told there (its own included, at least the best one).
    let v = |i: u64| ((i * 7 + 3) % 10) as f64;
    let mut at: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for (i, line) in q.iter().enumerate() {
        let i = i as u64;
        let mut stopped = None;
        for (r, rung) in [1u64, 2].iter().enumerate() {
            let value = v(i) + *rung as f64 / 10.0;
            let mut all = at[r].clone();
            all.push(value);
            all.sort_by(|a, b| b.total_cmp(a));
            let k = (all.len() / 2).max(1);
            at[r].push(value);
            if value < all[k - 1] {
                stopped = Some(*rung);
                break;
            }
        }
        assert_eq!(line["stopped_at"].as_u64(), stopped, "trial {i}: {line}");
        let steps = line["steps"].as_array().unwrap();
        match stopped {
            Some(s) => {
                assert_eq!(steps.len() as u64, s, "{line}");
                assert_eq!(line["objective"].as_f64().unwrap(), v(i) + s as f64 / 10.0);
                assert!(line.get("report").is_none(), "{line}");
                // Stopped: it did not train on (one more epoch may slip in before SIGTERM).
                let ran = epochs_run(&journal)[&i];
                assert!(ran <= s + 1, "trial {i} stopped at {s} ran {ran} epochs");
            }
            None => {
                assert_eq!(steps.len(), 4, "{line}");
                assert_eq!(line["objective"].as_f64().unwrap(), v(i) + 0.5);
            }
        }
    }
    assert!(text.contains("trainings stopped early"), "{text}");
    // The best is a whole training, never a stopped one.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let best = summary["best"]["objective"].as_f64().unwrap();
    assert_eq!(best.fract(), 0.5, "{summary}");
    assert_eq!(
        summary["stopped"].as_u64().unwrap(),
        q.iter().filter(|l| l.get("stopped_at").is_some()).count() as u64
    );
}

#[test]
fn a_command_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = TempDir::new("steps-grace");
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal");
    let run = dir.join("run");
    let started = Instant::now();
    // A pruner that stops every training after the first (its values are all below the
    // first's best at step 1): the median of one value.
    let out = search(
        &run,
        // Epochs of 0.3 s: it would run 0.9 s more after the stop at step 1.
        &training_with(&journal, "trap '' TERM;", "0.3"),
        "3",
        &[
            "--prune",
            "percentile:p=100,startup=1",
            "--stop-grace",
            "0.2",
        ],
    );
    ok(&out);
    let q = queries(&run);
    assert_eq!(q.len(), 3);
    let stopped: Vec<&serde_json::Value> =
        q.iter().filter(|l| l.get("stopped_at").is_some()).collect();
    assert!(!stopped.is_empty(), "{q:?}");
    for l in stopped {
        let note = l["note"].as_str().unwrap();
        assert!(
            note.contains("did not end within 0.2 s of SIGTERM"),
            "{note}"
        );
        // Killed: it ran its stop's epoch and at most one more.
        let i = l["index"].as_u64().unwrap();
        assert!(epochs_run(&journal)[&i] <= 2, "{:?}", epochs_run(&journal));
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn bad_step_reports_are_noted_and_never_lose_the_result() {
    let dir = TempDir::new("steps-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let run = dir.join("run");
    // NaN (not JSON), a repeated step, a decreasing one, one past --max-step, garbage.
    let command = "echo '{\"step\": 1, \"objective\": NaN}'; echo '{\"step\": 1, \"objective\": 1}'; \
                   echo '{\"step\": 2, \"objective\": 2}'; echo '{\"step\": 2, \"objective\": 3}'; \
                   echo '{\"step\": 1, \"objective\": 3}'; echo '{\"step\": 9, \"objective\": 4}'; \
                   echo '{\"step\": \"x\"}'; echo '{\"objective\": 5}'";
    let out = search(&run, command, "1", &["--prune", "median"]);
    ok(&out);
    let q = queries(&run);
    assert_eq!(q[0]["objective"].as_f64(), Some(5.0));
    let steps: Vec<u64> = q[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![1, 2, 9]);
    let note = q[0]["note"].as_str().unwrap();
    for part in [
        "its objective is not a finite number",
        "step 2 came after step 2",
        "step 1 came after step 2",
        "step 9 is past the full training's step 4",
        "\"step\" is not a number",
    ] {
        assert!(note.contains(part), "{part}: {note}");
    }
    // A command that reports steps and ends without a result: a failure that says so.
    let run2 = dir.join("run2");
    let out = search(
        &run2,
        "echo '{\"step\": 1, \"objective\": 1}'",
        "1",
        &["--retries", "0"],
    );
    assert!(!out.status.success());
    let q = queries(&run2);
    let error = q[0]["error"].as_str().unwrap();
    assert!(
        error.contains("ended after step 1 of 4 without a result"),
        "{error}"
    );
}

#[test]
fn a_run_killed_in_the_middle_of_rungs_resumes_with_the_same_decisions() {
    let dir = TempDir::new("steps-kill");
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal");
    let args = |out: &Path| {
        let mut c = seminas();
        c.args([
            "search",
            "--space",
            "nb201",
            "--algo",
            "random",
            "--queries",
            "10",
        ])
        .args(["--evaluator", &training(&journal, ""), "--max-step", "4"])
        .args([
            "--prune",
            "asha:eta=2,min-step=1",
            "--workers",
            "2",
            "--quiet",
        ])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        c
    };
    let whole = dir.join("whole");
    output_ok(&mut args(&whole));
    let expected = queries(&whole);
    let _ = std::fs::remove_file(&journal);
    let killed = dir.join("killed");
    let n = kill_and_resume(
        || args(&killed).spawn().unwrap(),
        || {
            seminas()
                .arg("resume")
                .arg(&killed)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        },
        Kills {
            spread_ms: 400,
            most: 4,
            after: Some(journal.clone()),
        },
        || {
            format!(
                "{:?}",
                std::fs::read_to_string(killed.join("queries.jsonl"))
            )
        },
    );
    eprintln!("{n} kills");
    let without_costs = |q: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        q.into_iter()
            .map(|mut l| {
                if let Some(steps) = l.get_mut("steps").and_then(|s| s.as_array_mut()) {
                    for s in steps {
                        s[2] = serde_json::Value::Null;
                    }
                }
                l.as_object_mut().unwrap().remove("note");
                l
            })
            .collect()
    };
    assert_eq!(without_costs(queries(&killed)), without_costs(expected));
}
