//! A search whose evaluations run as jobs on a real Ray head, killed and resumed against the
//! cluster. Ignored by default: `.ci/ray-test.sh` starts a private head and runs it with
//! `SEMINAS_RAY_ADDRESS` and `SEMINAS_RAY_PYTHON` set (see docs/ray.md).

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// queries.jsonl without timings and run-specific text.
fn queries(dir: &Path) -> Vec<(String, Option<f64>, bool)> {
    std::fs::read_to_string(dir.join("queries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["arch"].to_string(),
                v["objective"].as_f64(),
                v["error"].is_string(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs a Ray head: run through .ci/ray-test.sh"]
fn a_search_runs_on_ray_and_resumes_against_the_cluster() {
    let address = std::env::var("SEMINAS_RAY_ADDRESS").expect("SEMINAS_RAY_ADDRESS");
    let python = std::env::var("SEMINAS_RAY_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/evaluators/toy_train.py");
    let local = TempDir::created("local");
    let remote = TempDir::created("remote");
    let command = |journal: &Path| {
        format!(
            "{python} {} --arch {{arch}} --out {{result}} --sleep 0.5 --crash-rate 0.2 \
             --garbage-rate 0.1 --journal {}",
            script.display(),
            journal.display()
        )
    };
    let search = |dir: &Path, ray: bool| {
        let mut c = seminas();
        c.args([
            "search",
            "--algo",
            "re",
            "--queries",
            "10",
            "--seed",
            "2",
            "--workers",
            "2",
        ])
        .args(["--timeout", "60", "--retries", "0"])
        .args(["--evaluator", &command(&dir.join("journal.txt")), "--out"])
        .arg(dir.join("run"));
        if ray {
            c.args(["--ray", &address, "--ray-cpus", "1"]);
        }
        c
    };
    let out = search(&local, false).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same search on Ray, killed once while jobs run, then resumed.
    let started = Instant::now();
    let mut child = search(&remote, true)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(6));
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    let out = seminas()
        .arg("resume")
        .arg(remote.join("run"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "ray search took {:?} (killed once: {killed})",
        started.elapsed()
    );
    let q = queries(&remote.join("run"));
    assert_eq!(q.len(), 10);
    assert!(q.iter().any(|x| x.2), "some evaluations failed on purpose");
    assert_eq!(
        q,
        queries(&local.join("run")),
        "Ray gives what local runs give"
    );
    // Jobs that ran while seminas was down were followed, not trained again.
    let mut times: HashMap<String, usize> = HashMap::new();
    for line in std::fs::read_to_string(remote.join("journal.txt"))
        .unwrap()
        .lines()
    {
        *times.entry(line.to_string()).or_default() += 1;
    }
    assert!(times.values().all(|&n| n == 1), "{times:?}");
    // Each evaluation's job log is kept in its folder.
    assert!(remote.join("run/evals/000000/ray-job-1.log").exists());
    std::fs::remove_dir_all(&local).unwrap();
    std::fs::remove_dir_all(&remote).unwrap();
}
