//! `seminas mobile cost|export`, a search on `--space mobile` under `--max-mflops` with a
//! command evaluator, and a weight-sharing supernet search killed and resumed.

#[cfg(feature = "trainer")]
use std::fs::File;
#[cfg(feature = "trainer")]
use std::path::Path;
#[cfg(feature = "trainer")]
use std::process::Stdio;

use crate::support::*;

#[test]
fn cost_of_seminasnet_is_the_papers() {
    let out = seminas()
        .args(["mobile", "cost", "--arch", "seminasnet", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    // Luo et al. 2020: 599M FLOPs (multiply-adds), 6.32M parameters.
    assert_eq!(v["madds"], 598_952_544u64);
    assert_eq!(v["params"], 6_319_360u64);
    assert_eq!(v["official"], "6 5 1 7 4 2 5 3 5 2 5 3 3 5 7 3 1 6 3 3 6");
    let out = seminas()
        .args([
            "mobile",
            "cost",
            "--arch",
            "seminasnet",
            "--widths",
            "search",
        ])
        .output()
        .unwrap();
    assert!(ok(&out).contains("339.17"));
}

#[test]
fn export_gives_the_trainable_network_and_bad_input_is_refused() {
    let out = seminas()
        .args(["mobile", "export", "--arch", "seminasnet"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let blocks = v["network"]["blocks"].as_array().unwrap();
    // The fixed first block and the 19 non-zero searchable blocks.
    assert_eq!(blocks.len(), 20);
    assert_eq!(blocks[1]["kernel"], 7);
    assert_eq!(blocks[1]["expansion"], 6);
    assert_eq!(blocks[1]["stride"], 2);
    assert_eq!(v["network"]["head_channels"], 1728);
    assert_eq!(v["conventions"]["convolution_bias"], false);
    let out = seminas()
        .args([
            "mobile",
            "cost",
            "--arch",
            "7 5 1 7 4 2 5 3 5 2 5 3 3 5 7 3 1 6 3 3 6",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot be zero"), "{err}");
    let out = seminas()
        .args(["search", "--space", "mobile", "--queries", "3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--evaluator"));
}

#[test]
fn search_under_max_mflops_evaluates_nothing_over_the_limit() {
    let dir = TempDir::created("search");
    let script = dir.join("eval.py");
    // Rewards FLOPs: the search is pushed against the limit.
    std::fs::write(
        &script,
        "import json, sys\n\
         a = json.loads(sys.argv[1])\n\
         json.dump({'objective': a['mflops'] / 450.0}, open(sys.argv[2], 'w'))\n",
    )
    .unwrap();
    let run = dir.join("run");
    let cmd = format!("python3 {} {{arch}} {{result}}", script.display());
    let out = seminas()
        .args(["search", "--space", "mobile", "--max-mflops", "450"])
        .args(["--algo", "seminas", "--queries", "16", "--init", "8"])
        .args([
            "--per-round",
            "4",
            "--pseudo",
            "50",
            "--pretrain-epochs",
            "10",
        ])
        .args([
            "--controller-epochs",
            "2",
            "--controller-hidden",
            "16",
            "--json",
        ])
        .args(["--evaluator", &cmd, "--out"])
        .arg(&run)
        .output()
        .unwrap();
    ok(&out);
    let text = std::fs::read_to_string(run.join("queries.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 16);
    for l in &lines {
        let mflops = l["arch"]["mflops"].as_f64().unwrap();
        assert!(mflops <= 450.0, "{l}");
        let objective = l["objective"].as_f64().unwrap();
        assert!((objective - mflops / 450.0).abs() < 1e-9, "{l}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[cfg(feature = "trainer")]
fn a_killed_supernet_search_resumes_to_exactly_the_uninterrupted_labels() {
    let dir = TempDir::created("supernet-kill");
    let (reference, run) = (dir.join("reference"), dir.join("run"));
    // Each process's stderr, to see what the resumes said.
    let log = dir.join("stderr.txt");
    let stderr = || {
        Stdio::from(
            File::options()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap(),
        )
    };
    let search = |out: &Path| {
        let mut c = seminas();
        c.args(["search", "--space", "mobile", "--evaluator", "supernet"])
            .args(["--dataset", "digits", "--train-subset", "400"])
            .args(["--supernet-width", "0.25", "--supernet-steps", "3"])
            .args(["--supernet-eval-images", "300", "--algo", "re"])
            .args(["--population", "4", "--tournament", "2", "--queries", "12"])
            .args(["--seed", "4", "--out"])
            .arg(out)
            .stdout(Stdio::null());
        c
    };
    ok(&search(&reference).output().unwrap());

    let kills = kill_and_resume(
        || search(&run).stderr(stderr()).spawn().unwrap(),
        || {
            seminas()
                .arg("resume")
                .arg(&run)
                .stdout(Stdio::null())
                .stderr(stderr())
                .spawn()
                .unwrap()
        },
        Kills {
            spread_ms: 1200,
            most: 5,
            after: Some(run.join("run.sqlite")),
        },
        || std::fs::read_to_string(&log).unwrap(),
    );
    assert!(kills >= 1, "the run finished before it could be killed");
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(!said.contains("restarts untrained"), "{said}");
    eprintln!(
        "{kills} kill(s), {} resume(s) continued a stored supernet",
        said.matches("the supernet continues from its state")
            .count()
    );
    assert_eq!(queries(&run), queries(&reference));
    std::fs::remove_dir_all(&dir).unwrap();
}
