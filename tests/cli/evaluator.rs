//! End-to-end tests of the command evaluator, the run store and `seminas resume`, with the
//! example training script (examples/evaluators/toy_train.py) as the user's command.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

#[test]
fn a_faulty_training_script_gives_failures_and_the_search_finishes() {
    let dir = TempDir::new("faulty");
    let cmd = format!(
        "python3 {} --arch {{arch}} --out {{result}} --crash-rate 0.1 --hang-rate 0.1 \
         --garbage-rate 0.1 --nan-rate 0.1",
        toy_script()
    );
    let started = Instant::now();
    let out = seminas()
        .args([
            "search",
            "--algo",
            "re",
            "--queries",
            "40",
            "--seed",
            "1",
            "--workers",
            "2",
        ])
        .args([
            "--timeout",
            "1",
            "--retries",
            "1",
            "--report-metric",
            "test_acc",
        ])
        .args(["--evaluator", &cmd, "--json", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["queries"], 40);
    let best = &summary["best"];
    assert_eq!(
        best["report"].as_f64().unwrap(),
        ((best["objective"].as_f64().unwrap() - 0.5) * 1e4).round() / 1e4
    );
    let q = queries(&dir);
    assert_eq!(q.len(), 40);
    let errors: Vec<&str> = q.iter().filter_map(|v| v["error"].as_str()).collect();
    let count = |what: &str| errors.iter().filter(|e| e.contains(what)).count();
    // Every kind of failure happened, was retried once, and named its cause and logs.
    assert!(
        count("exit status 1: RuntimeError: CUDA error") >= 1,
        "{errors:?}"
    );
    assert!(count("timed out after 1 s") >= 1, "{errors:?}");
    assert!(count("the result is not JSON") >= 1, "{errors:?}");
    assert!(
        count("the objective is not a finite number") >= 1,
        "{errors:?}"
    );
    assert_eq!(count("2 attempts failed; the last: "), errors.len());
    assert_eq!(count("(logs in RUN/evals/"), errors.len());
    assert!(
        errors.len() >= 8 && errors.len() <= 30,
        "{} failures",
        errors.len()
    );
    // The successes are the script's deterministic scores.
    for v in q.iter().filter(|v| v.get("objective").is_some()) {
        let o = v["objective"].as_f64().unwrap();
        assert!((50.0..92.0).contains(&o), "{v}");
        assert_eq!(
            v["metrics"]["test_acc"].as_f64().unwrap(),
            v["report"].as_f64().unwrap()
        );
    }
    // The failed attempts' logs are kept.
    let failed_n = q.iter().find(|v| v["error"].is_string()).unwrap()["n"]
        .as_u64()
        .unwrap();
    assert!(failed_n >= 1);
    assert!(started.elapsed() < Duration::from_secs(120));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn killed_runs_resume_to_exactly_the_uninterrupted_result() {
    killed_runs_resume(false);
}

/// A relative `--out` (resumed as a relative path too): the programs a killed run left
/// running are still found and stopped, so no evaluation runs twice.
#[test]
fn killed_runs_with_a_relative_out_resume_without_running_anything_twice() {
    killed_runs_resume(true);
}

fn killed_runs_resume(relative: bool) {
    let tag = if relative { "rel" } else { "abs" };
    let reference = TempDir::new(&format!("kill-ref-{tag}"));
    let killed = TempDir::new(&format!("kill-resumed-{tag}"));
    std::fs::create_dir_all(&killed).unwrap();
    let journal = killed.join("journal.txt");
    let cmd = |journal: &Path| {
        format!(
            "python3 {} --arch {{arch}} --out {{result}} --sleep 0.15 --crash-rate 0.1 \
             --garbage-rate 0.05 --journal {}",
            toy_script(),
            journal.display()
        )
    };
    let search = |dir: &Path, journal: &Path| {
        let mut c = seminas();
        c.args([
            "search",
            "--algo",
            "seminas",
            "--queries",
            "24",
            "--seed",
            "5",
        ])
        .args(["--init", "8", "--per-round", "4", "--pseudo", "100"])
        .args([
            "--pretrain-epochs",
            "20",
            "--controller-epochs",
            "5",
            "--workers",
            "2",
        ])
        .args(["--timeout", "20", "--evaluator", &cmd(journal), "--out"]);
        if relative && dir.starts_with(&killed) {
            c.current_dir(&killed)
                .arg(dir.strip_prefix(&killed).unwrap());
        } else {
            c.arg(dir);
        }
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let resume = || {
        let mut c = seminas();
        c.arg("resume");
        if relative {
            c.current_dir(&killed).arg("run");
        } else {
            c.arg(killed.join("run"));
        }
        c
    };
    std::fs::create_dir_all(&reference).unwrap();
    let out = search(&reference, &reference.join("journal.txt"))
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    ok(&out);

    let kills = kill_and_resume(
        || search(&killed.join("run"), &journal).spawn().unwrap(),
        || {
            resume()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        },
        Kills {
            spread_ms: 900,
            most: 6,
            after: None,
        },
        String::new,
    );
    assert!(
        kills >= 2,
        "the run finished before it could be killed twice ({kills})"
    );
    assert_eq!(queries(&killed.join("run")), queries(&reference));
    // No finished evaluation ran twice: the script logs each completed one once.
    let mut times: HashMap<String, usize> = HashMap::new();
    for line in std::fs::read_to_string(&journal).unwrap().lines() {
        *times.entry(line.to_string()).or_default() += 1;
    }
    assert!(times.values().all(|&n| n == 1), "{times:?}");
    // Resuming a finished run evaluates nothing and gives the same result.
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count();
    ok(&resume().output().unwrap());
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap().lines().count(),
        lines
    );
    assert_eq!(queries(&killed.join("run")), queries(&reference));
    std::fs::remove_dir_all(&reference).unwrap();
    std::fs::remove_dir_all(&killed).unwrap();
}

#[test]
fn a_second_process_on_a_run_is_refused() {
    let dir = TempDir::new("second");
    let cmd = format!("python3 {} --arch {{arch}} --sleep 3", toy_script());
    let search = || {
        let mut c = seminas();
        c.args(["search", "--algo", "random", "--queries", "2"])
            .args(["--evaluator", &cmd, "--out"])
            .arg(&dir);
        c
    };
    let mut first = search()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("run.sqlite").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let stderr = |out: Output| {
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    for second in [seminas().arg("resume").arg(&dir), &mut search()] {
        let err = stderr(second.output().unwrap());
        assert!(
            err.contains("is in use by another seminas process (pid "),
            "{err}"
        );
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let err = stderr(search().output().unwrap());
    assert!(
        err.contains("already holds a run; continue it with `seminas resume"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Processes whose environment holds `SEMINAS_WORKDIR=<a folder under dir>`, with that folder.
fn processes_working_in(dir: &Path) -> Vec<(u32, String)> {
    let needle = format!("SEMINAS_WORKDIR={}", dir.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let env = std::fs::read(e.path().join("environ")).ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let zombie = stat.rsplit(')').next()?.split_whitespace().next()? == "Z";
            let workdir = env
                .split(|&b| b == 0)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .find(|v| v.starts_with(&needle))?;
            (!zombie).then_some((pid, workdir))
        })
        .collect()
}

/// How many evaluations have a live process: an evaluation is a shell and what it started, so
/// processes are counted by their distinct workdirs.
fn evaluations_running_in(dir: &Path) -> usize {
    let workdirs: std::collections::BTreeSet<String> = processes_working_in(dir)
        .into_iter()
        .map(|(_, w)| w)
        .collect();
    workdirs.len()
}

#[test]
fn ctrl_c_stops_the_running_trainings_too() {
    let dir = TempDir::new("sigint");
    let child = seminas()
        .args([
            "search",
            "--algo",
            "random",
            "--queries",
            "4",
            "--workers",
            "2",
        ])
        .args([
            "--evaluator",
            "sleep 60; echo '{\"objective\": 1}'",
            "--out",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while evaluations_running_in(&dir) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        evaluations_running_in(&dir) >= 2,
        "the evaluations did not start"
    );
    // seminas registers a command just after its exec, which the loop above can see first.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: sending a signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stopped 2 running evaluation(s)"), "{err}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_working_in(&dir).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_working_in(&dir), Vec::<(u32, String)>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}
