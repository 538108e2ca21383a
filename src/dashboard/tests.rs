use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::*;
use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
use crate::evaluator::{Evaluation, Evaluator};
use crate::search::Algo;
use crate::space::{CategoricalSpace, Nb201Space, SearchSpace};
use crate::study::{Study, StudySettings};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seminas-dash-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn get(d: &Dashboard, target: &str) -> (u16, serde_json::Value) {
    let r = d.handle("GET", target);
    let body = String::from_utf8(r.body).unwrap();
    (
        r.status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A finished 30-query SemiNAS-Ens run on the NB201 table, stored in `dir`.
fn nb201_run(dir: &Path) -> Study<Nb201Space> {
    let settings = StudySettings {
        algo: Algo::SemiNasEns,
        ..StudySettings::new(30, 4)
    };
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let mut study = Study::open_or_create(Nb201Space::new(), settings, dir).unwrap();
    study.optimize(&bench, &mut |_| {}).unwrap();
    study
}

#[test]
fn the_api_lists_runs_and_gives_their_trials_predictions_and_benches() {
    let root = tmp("api");
    let dir = root.join("a");
    let study = nb201_run(&dir);
    let best = study.best().unwrap().result.as_ref().unwrap().objective;
    drop(study);
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/nb201-cifar10-ens");
    let d = Dashboard::new(vec![root.clone(), bench.clone()]);

    let (status, runs) = get(&d, "/api/runs");
    assert_eq!(status, 200);
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(r["state"], "finished");
    assert_eq!(
        (r["queries"].as_u64(), r["budget"].as_u64()),
        (Some(30), Some(30))
    );
    assert_eq!(r["algo"], "seminas-ens");
    assert_eq!(r["best"]["objective"].as_f64(), Some(best));
    let id = r["id"].as_str().unwrap();
    assert_eq!(id, folder_id(&dir));

    let (_, run) = get(&d, &format!("/api/runs/{id}"));
    let trials = run["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 30);
    assert_eq!(trials[0]["n"], 1);
    assert_eq!(trials[0]["origin"], "initial");
    assert_eq!(trials[10]["origin"], "round 1 scored");
    let (_, tail) = get(&d, &format!("/api/runs/{id}?since=25"));
    let tail = tail["trials"].as_array().unwrap();
    assert_eq!(tail.len(), 5);
    assert_eq!(tail[0]["n"], 26);

    let (_, p) = get(&d, &format!("/api/runs/{id}/predictions"));
    assert_eq!(p["count"], 20);
    assert_eq!(p["rounds"].as_array().unwrap().len(), 20);
    let tau = p["tau"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&tau));

    let (_, b) = get(&d, "/api/benches");
    let b = b["benches"].as_array().unwrap();
    assert_eq!(b.len(), 1);
    let (_, table) = get(
        &d,
        &format!("/api/benches/{}", b[0]["id"].as_str().unwrap()),
    );
    assert_eq!(table["table"]["rows"].as_array().unwrap().len(), 3);
    assert_eq!(
        table["curves"]["seminas-ens"].as_array().unwrap().len(),
        150
    );

    assert_eq!(get(&d, "/api/runs/000000000000").0, 404);
    assert_eq!(get(&d, "/api/nothing").0, 404);
    assert_eq!(d.handle("POST", "/api/runs").status, 405);
    assert_eq!(d.handle("DELETE", &format!("/api/runs/{id}")).status, 405);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_running_study_is_read_without_its_lock_and_keeps_going() {
    let dir = tmp("running");
    let settings = StudySettings {
        algo: Algo::Random,
        ..StudySettings::new(10, 1)
    };
    let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
    let space = Nb201Space::new();
    let mut study = Study::open_or_create(space.clone(), settings, &dir).unwrap();
    let d = Dashboard::new(vec![dir.clone()]);
    for told in 0..4 {
        let (_, runs) = get(&d, "/api/runs");
        let r = &runs["runs"][0];
        assert_eq!(r["state"], "running");
        assert_eq!(r["pid"], std::process::id());
        assert_eq!(r["queries"], told);
        let trial = study.ask().unwrap().unwrap();
        let e = match Evaluator::evaluate(&bench, &space, &trial.arch) {
            crate::evaluator::Outcome::Evaluated(e) => e,
            other => panic!("{other:?}"),
        };
        study.tell(trial.number, Ok(e)).unwrap();
    }
    drop(study);
    let (_, runs) = get(&d, "/api/runs");
    assert_eq!(runs["runs"][0]["state"], "stopped");
    assert_eq!(runs["runs"][0]["queries"], 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn only_evaluation_logs_are_served() {
    let dir = tmp("logs");
    drop(nb201_run(&dir));
    let evals = dir.join("evals/000003");
    std::fs::create_dir_all(&evals).unwrap();
    std::fs::write(evals.join("stdout.log"), "epoch 1\n").unwrap();
    std::fs::write(evals.join("big.log"), "x".repeat(100_000) + "END").unwrap();
    std::fs::write(dir.join("secret.log"), "secret").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("secret.log"), evals.join("link.log")).unwrap();
    let d = Dashboard::new(vec![dir.clone()]);
    let id = folder_id(&dir);
    let logs = |rest: &str| get(&d, &format!("/api/runs/{id}/logs/{rest}"));

    let (status, log) = logs("000003/stdout.log");
    assert_eq!(status, 200);
    assert_eq!(log["text"], "epoch 1\n");
    let (_, big) = logs("000003/big.log");
    assert_eq!(big["truncated"], true);
    assert_eq!(big["size"], 100_003);
    let text = big["text"].as_str().unwrap();
    assert_eq!(text.len() as u64, LOG_LIMIT);
    assert!(text.ends_with("END"));

    for bad in [
        "000003/../../secret.log",
        "000003/..%2f..%2fsecret.log",
        "000003/%2e%2e/secret.log",
        "../secret.log",
        "..%2f..%2fsecret.log/x",
        "000003/.hidden.log",
        "000003/run.sqlite",
        "0003/stdout.log",
        "00000a/stdout.log",
        "000003/nothing.log",
    ] {
        let (status, body) = logs(bad);
        assert!(matches!(status, 400 | 403 | 404), "{bad}: {status} {body}");
        assert!(body.get("text").is_none(), "{bad} was served");
    }
    #[cfg(unix)]
    assert_eq!(
        logs("000003/link.log").0,
        403,
        "a link out of evals/ is refused"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_string_of_a_run_reaches_the_page_escaped() {
    let dir = tmp("xss");
    let evil = "<script>alert(1)</script>";
    let toml = format!(
        "name = \"evil\"\n[[position]]\nname = \"op\"\nchoices = [\"{evil}\", \"b&c\"]\n\
         [[position]]\nname = \"depth\"\nchoices = [\"1\", \"2\"]\n"
    );
    let space = CategoricalSpace::from_toml_str(&toml, "evil").unwrap();
    let settings = StudySettings {
        algo: Algo::Random,
        ..StudySettings::new(4, 0)
    };
    let mut study = Study::open_or_create(space.clone(), settings, &dir).unwrap();
    let mut n = 0.0;
    while let Some(trial) = study.ask().unwrap() {
        n += 1.0;
        let outcome = if n == 2.0 {
            Err(format!("crashed on {evil}"))
        } else {
            Ok(Evaluation::new(n, None, 0.0))
        };
        study.tell(trial.number, outcome).unwrap();
    }
    assert!(
        study
            .trials()
            .iter()
            .any(|t| space.format(&t.arch).contains(evil))
    );
    drop(study);
    let d = Dashboard::new(vec![dir.clone()]);
    let id = folder_id(&dir);
    for target in [
        "/api/runs".to_string(),
        format!("/api/runs/{id}"),
        format!("/api/runs/{id}/predictions"),
    ] {
        let r = d.handle("GET", &target);
        assert_eq!(r.content_type, "application/json");
        let body = String::from_utf8(r.body).unwrap();
        assert!(
            !body.contains('<') && !body.contains('>'),
            "{target}: {body}"
        );
        assert!(!body.contains('&'), "{target}: {body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        if target.ends_with(&id) {
            // The same text comes back once parsed: escaped, not altered.
            let text = value.to_string();
            assert!(text.contains(evil), "{text}");
            assert!(text.contains("crashed on <script>"), "{text}");
        }
    }
    // The page's script builds the document from text only.
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!APP_JS.contains(sink), "app.js uses {sink}");
    }
    assert!(
        !INDEX_HTML.contains("<script>"),
        "no inline script (the CSP forbids it)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_server_answers_loopback_hosts_only() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || serve(Dashboard::new(vec![]), listener));
    let ask = |host: &str, path: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let page = ask(&format!("127.0.0.1:{}", addr.port()), "/");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Security-Policy: default-src 'self'"));
    assert!(page.contains("<title>seminas dashboard</title>"));
    let js = ask("localhost", "/app.js");
    assert!(js.contains("Content-Type: text/javascript"));
    assert!(js.contains("function linePlot"));
    let api = ask("localhost", "/api/runs");
    assert!(api.ends_with("{\"runs\":[]}"), "{api}");
    let rebound = ask("evil.example", "/api/runs");
    assert!(rebound.starts_with("HTTP/1.1 421"), "{rebound}");
    for (host, ok) in [
        ("localhost:8080", true),
        ("127.0.0.1", true),
        ("127.1.2.3:80", true),
        ("[::1]:8080", true),
        ("192.168.1.2:8080", false),
        ("localhost.evil.example", false),
        ("", false),
    ] {
        assert_eq!(http::is_loopback_host(host), ok, "{host}");
    }
}

/// A run whose trainings report steps: the API gives each trial's learning curve and the
/// step it was stopped at, the curves of trainings still running, and the count of stopped
/// ones; the best is a whole training.
#[test]
fn the_api_gives_learning_curves_and_stopped_trainings() {
    use crate::benchmark::nb101::embedded::{nb101_20k_benchmark, nb101_20k_space};
    use crate::evaluator::{Decision, Pruner, StepResult};
    let root = tmp("curves");
    let dir = root.join("a");
    let bench = nb101_20k_benchmark();
    let settings = StudySettings {
        algo: Algo::Random,
        prune: Some(Pruner::Asha {
            eta: 3,
            min_step: None,
        }),
        ..StudySettings::new(12, 1)
    };
    let space = nb101_20k_space();
    let mut study = Study::open_or_create(space, settings, &dir)
        .unwrap()
        .with_fidelities(Evaluator::<crate::space::nb101::Nb101Space>::fidelities(
            &bench,
        ));
    study.optimize(&bench, &mut |_| {}).unwrap();
    let stopped = study
        .trials()
        .iter()
        .filter(|t| t.result.as_ref().is_ok_and(|e| !e.is_complete()))
        .count();
    assert!(stopped > 0);
    // A training still running: steps recorded, no outcome yet.
    study.extend(1).unwrap();
    let t = study.ask().unwrap().unwrap();
    let store = study.store().unwrap();
    let step = StepResult {
        step: 4,
        objective: 0.5,
        cost_seconds: 10.0,
    };
    store.add_step(t.number, &step, Decision::Continue).unwrap();
    let d = Dashboard::new(vec![root.clone()]);
    let (_, runs) = get(&d, "/api/runs");
    let r = &runs["runs"][0];
    assert_eq!(r["stopped"].as_u64(), Some(stopped as u64));
    let id = r["id"].as_str().unwrap();
    let (_, run) = get(&d, &format!("/api/runs/{id}"));
    let trials = run["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 12);
    for t in trials {
        let steps = t["steps"].as_array().unwrap();
        match t["stopped_at"].as_u64() {
            Some(s) => assert_eq!(steps.last().unwrap()[0].as_u64(), Some(s)),
            None => assert_eq!(steps.last().unwrap()[0].as_u64(), Some(108)),
        }
    }
    assert_eq!(
        run["running_steps"][t.number.to_string()][0],
        serde_json::json!([4, 0.5, 10.0])
    );
    assert!(
        run["run"]["best"]["n"]
            .as_u64()
            .is_some_and(|n| { trials[n as usize - 1]["stopped_at"].is_null() })
    );
    drop(study);
    std::fs::remove_dir_all(&root).unwrap();
}
