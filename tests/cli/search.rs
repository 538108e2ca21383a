//! End-to-end tests of `seminas search` through the real binary.

use crate::support::*;

#[test]
fn re_on_nb201_prints_the_summary_object_deterministically() {
    let args = [
        "search",
        "--space",
        "nb201",
        "--algo",
        "re",
        "--queries",
        "150",
        "--seed",
        "0",
        "--json",
    ];
    let a = exec(&args);
    let b = exec(&args);
    assert_eq!(a.stdout, b.stdout, "same seed, same output");
    let v = json(&a);
    assert_eq!(v["space"], "nb201");
    assert_eq!(v["algo"], "re");
    assert_eq!(v["seed"], 0);
    assert_eq!(v["queries"], 150);
    let best = &v["best"];
    let arch = best["arch"].as_str().unwrap();
    assert!(
        arch.starts_with('|') && arch.matches('~').count() == 6,
        "{arch}"
    );
    let report = best["report"].as_f64().unwrap();
    let rank = best["rank"].as_u64().unwrap();
    assert!((1..=15_625).contains(&rank));
    let regret = v["regret"].as_f64().unwrap();
    assert!((regret - (94.3733 - report)).abs() < 1e-6);
    // Keys exactly as documented.
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
}

/// queries.jsonl without its wall-clock timestamps.
fn without_times(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            assert!(o.remove("started").unwrap().is_f64());
            assert!(o.remove("finished").unwrap().is_f64());
            v
        })
        .collect()
}

#[test]
fn different_seeds_give_different_searches() {
    let run = |seed: &str| {
        let d = TempDir::new(&format!("seed{seed}"));
        let out = exec(&[
            "search",
            "--algo",
            "random",
            "--queries",
            "20",
            "--seed",
            seed,
            "--out",
            d.to_str().unwrap(),
        ]);
        assert!(out.status.success());
        let q = without_times(&std::fs::read_to_string(d.join("queries.jsonl")).unwrap());
        std::fs::remove_dir_all(&d).unwrap();
        q
    };
    let (a, a2, b) = (run("1"), run("1"), run("2"));
    assert_eq!(a, a2);
    assert_ne!(a, b);
}

#[test]
fn out_dir_holds_queries_and_summary() {
    let d = TempDir::new("out");
    let out = exec(&[
        "search",
        "--algo",
        "re",
        "--queries",
        "30",
        "--seed",
        "3",
        "--out",
        d.to_str().unwrap(),
        "--json",
    ]);
    let summary = json(&out);
    let mut written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap();
    // summary.json is the --json object plus how the run went.
    let w = written.as_object_mut().unwrap();
    assert_eq!(w.remove("failures").unwrap(), 0);
    assert_eq!(w.remove("stop").unwrap(), "budget");
    assert_eq!(w.remove("not_evaluable").unwrap(), 0);
    assert!(w.remove("repeats").unwrap().is_u64());
    assert!(w.remove("wall_seconds").unwrap().as_f64().unwrap() > 0.0);
    assert!(w.remove("cost_seconds").unwrap().as_f64().unwrap() > 30.0 * 1000.0);
    let settings = w.remove("settings").unwrap();
    assert_eq!(settings["algo"], "re");
    assert_eq!(settings["queries"], 30);
    assert_eq!(settings["seed"], 3);
    assert_eq!(settings["args"][0], "search");
    assert_eq!(written, summary);
    // A table run keeps no evaluation folders, and its lock goes with it.
    assert!(!d.join("evals").exists());
    assert!(!d.join("lock").exists());
    assert!(d.join("run.sqlite").is_file());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(d.join("queries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 30);
    let mut keys = std::collections::HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["n"], i + 1);
        // RE: a random population of 10, then mutants.
        let origin = if i < 10 { "initial" } else { "mutated" };
        assert_eq!(l["origin"], origin, "{l}");
        assert!(l.get("predicted").is_none(), "{l}");
        let (s, f) = (
            l["started"].as_f64().unwrap(),
            l["finished"].as_f64().unwrap(),
        );
        assert!(s > 1.7e9 && f >= s, "{l}");
        assert!(
            keys.insert(l["arch"].as_str().unwrap().to_string()),
            "no query twice"
        );
        for f in ["objective", "report", "seconds"] {
            assert!(l[f].is_f64(), "{f} in {l}");
        }
    }
    let best = lines
        .iter()
        .max_by(|a, b| {
            a["objective"]
                .as_f64()
                .partial_cmp(&b["objective"].as_f64())
                .unwrap()
        })
        .unwrap();
    assert_eq!(best["objective"], summary["best"]["objective"]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn searches_a_user_defined_categorical_space() {
    let (space, table) = (fixture("toy_space.toml"), fixture("toy_table.csv"));
    let base = [
        "search",
        "--space",
        &space,
        "--table",
        &table,
        "--objective",
        "val_acc",
        "--report",
        "test_acc",
        "--cost",
        "train_s",
    ];
    // The whole space: 26 rows are evaluable, the 27th is absent and costs nothing.
    let mut args = base.to_vec();
    args.extend(["--algo", "random", "--queries", "100", "--json"]);
    let v = json(&exec(&args));
    assert_eq!(v["space"], "toy");
    assert_eq!(v["queries"], 26);
    assert_eq!(v["best"]["arch"]["depth"], "d4");
    assert_eq!(v["best"]["arch"]["width"], "w64");
    assert_eq!(v["best"]["arch"]["op"], "sepconv");
    assert_eq!(v["best"]["objective"], 88.5);
    assert_eq!(v["best"]["rank"], 1);
    assert_eq!(v["regret"], 0.0);

    let mut args = base.to_vec();
    args.extend(["--algo", "re", "--queries", "10", "--seed", "4"]);
    let out = exec(&args);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("search: re on toy, seed 4"), "{text}");
    assert!(text.contains("queries: 10"), "{text}");
    assert!(text.contains("rank "), "{text}");
}

#[test]
fn controller_searches_run_on_a_categorical_space() {
    let (space, table) = (fixture("toy_space.toml"), fixture("toy_table.csv"));
    for algo in ["seminas", "nao", "seminas-re"] {
        // Each algorithm's own settings (one it does not use is an error).
        let own: &[&str] = match algo {
            "seminas" => &["--pseudo", "10"],
            "nao" => &[],
            _ => &["--pseudo", "10", "--population", "5"],
        };
        let run = || {
            let mut args = vec![
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
                "15",
                "--seed",
                "2",
                "--pretrain-epochs",
                "10",
                "--controller-epochs",
                "2",
                "--json",
            ];
            args.extend_from_slice(own);
            exec(&args)
        };
        let (a, b) = (run(), run());
        assert_eq!(a.stdout, b.stdout, "{algo} is deterministic");
        let v = json(&a);
        assert_eq!(v["algo"], algo);
        assert_eq!(v["queries"], 15);
        assert!(v["best"]["rank"].as_u64().unwrap() <= 26);
    }
}

#[test]
fn bad_inputs_fail_with_clear_messages() {
    let space = fixture("toy_space.toml");
    let d = TempDir::new("bad");
    std::fs::create_dir_all(&d).unwrap();
    let cases = [
        (
            "depth,width,op,val,test\nd2,w16,conv,1,2\nd2,w16,conv,3,4\n",
            "3",
            "duplicate",
        ),
        (
            "depth,width,op,val,test\nd2,w16,conv,1,2\nd9,w16,conv,3,4\n",
            "3: column \"depth\"",
            "unknown choice \"d9\"",
        ),
        (
            "depth,op,val,test\nd2,conv,1,2\n",
            "1: column \"width\"",
            "missing architecture column",
        ),
        (
            "depth,width,op,val,test\nd2,w16,conv,1,high\n",
            "2: column \"test\"",
            "\"high\" is not a number",
        ),
        (
            "depth,width,op,val,test\nd2,w16,conv,nan,1\n",
            "2: column \"val\"",
            "not a finite number",
        ),
    ];
    for (i, (csv, loc, msg)) in cases.iter().enumerate() {
        let path = d.join(format!("t{i}.csv"));
        std::fs::write(&path, csv).unwrap();
        let p = path.to_str().unwrap();
        let out = exec(&[
            "search",
            "--space",
            &space,
            "--table",
            p,
            "--objective",
            "val",
            "--report",
            "test",
        ]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("{p}:{loc}")), "case {i}: {err}");
        assert!(err.contains(msg), "case {i}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = exec(&["search", "--space", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown search space"));
    let out = exec(&["search", "--objective", "bogus"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such metric column"));
    // A setting the algorithm does not use is refused, naming those that use it.
    let out = exec(&["search", "--pseudo", "100"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--pseudo is a setting of seminas, seminas-re; seminas-ens does not use it"),
        "{err}"
    );
    let out = exec(&[
        "bench",
        "--algos",
        "random,nao",
        "--children",
        "5",
        "--seeds",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--children is a setting of seminas-re; random, nao do not use it"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
#[cfg(not(feature = "trainer"))]
fn without_the_trainer_feature_the_trainer_commands_say_how_to_get_it() {
    for args in [
        &["search", "--evaluator", "train", "--queries", "2"][..],
        &["search", "--space", "mobile", "--evaluator", "supernet"][..],
        &["bench-trainer"][..],
    ] {
        let out = exec(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("built without it") && err.contains("--features trainer"),
            "{args:?}: {err}"
        );
    }
}

/// The objectives of a run directory's queries.jsonl, in query order.
fn objectives(dir: &std::path::Path) -> Vec<f64> {
    std::fs::read_to_string(dir.join("queries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["objective"]
                .as_f64()
                .unwrap()
        })
        .collect()
}

#[test]
fn minimize_searches_for_the_smallest_objective_and_reports_it() {
    let run = |minimize: bool, tag: &str| {
        let dir = TempDir::new(tag);
        let d = dir.display().to_string();
        let mut args = vec![
            "search",
            "--algo",
            "re",
            "--queries",
            "40",
            "--json",
            "--out",
            &d,
        ];
        if minimize {
            args.push("--minimize");
        }
        let v = json(&exec(&args));
        let objs = objectives(&dir);
        (v, objs)
    };
    let (min_v, min_objs) = run(true, "minimize");
    let (max_v, max_objs) = run(false, "maximize");
    let smallest = min_objs.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(min_v["best"]["objective"].as_f64().unwrap(), smallest);
    // Rank and regret rank the reported metric largest first: left out when minimising.
    assert!(min_v["best"]["rank"].is_null() && min_v["regret"].is_null());
    assert!(max_v["best"]["rank"].is_u64());
    // The same 10 random architectures start both runs; evolution then goes opposite ways.
    assert_eq!(min_objs[..10], max_objs[..10]);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&min_objs[20..]) + 5.0 < mean(&max_objs[20..]),
        "minimised {} vs maximised {}",
        mean(&min_objs[20..]),
        mean(&max_objs[20..])
    );
}

#[test]
fn resume_queries_extends_a_finished_run_and_keeps_the_extension() {
    let dir = TempDir::new("extend");
    let d = dir.display().to_string();
    json(&exec(&[
        "search",
        "--algo",
        "re",
        "--queries",
        "10",
        "--out",
        &d,
        "--json",
    ]));
    let v = json(&exec(&["resume", &d, "--queries", "5"]));
    assert_eq!(v["queries"], 15);
    // RE plans nothing from its budget: 10 extended by 5 are the queries of a 15-query run.
    let whole = TempDir::new("extend-whole");
    let w = whole.display().to_string();
    json(&exec(&[
        "search",
        "--algo",
        "re",
        "--queries",
        "15",
        "--out",
        &w,
        "--json",
    ]));
    assert_eq!(objectives(&dir), objectives(&whole));
    // Resumed again without --queries, the extended run stays at 15.
    assert_eq!(json(&exec(&["resume", &d]))["queries"], 15);
    let out = exec(&["resume", &d, "--queries", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid setting queries = 0"));
}

#[test]
fn typed_choices_refuse_unknown_values_naming_the_known_ones() {
    let out = exec(&["search", "--preset", "papr"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown preset \"papr\" (known: paper, paper-imagenet)"),
        "{}",
        stderr(&out)
    );
    let out = exec(&["search", "--evaluator", " "]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("an empty command"),
        "{}",
        stderr(&out)
    );
}

/// `--dataset` chooses NAS-Bench-201's table: rank and regret are against that table's best
/// test accuracy (CIFAR-100 73.5133, ImageNet16-120 47.3111), and the search finds the
/// objective of that table (CIFAR-100's best validation cell, index 9930, in 100 queries).
#[test]
fn the_other_nb201_data_sets_report_against_their_own_optima() {
    for (dataset, optimum) in [("cifar100", 73.5133), ("imagenet16-120", 47.3111)] {
        let v = json(&exec(&[
            "search",
            "--dataset",
            dataset,
            "--queries",
            "100",
            "--seed",
            "0",
            "--json",
        ]));
        let report = v["best"]["report"].as_f64().unwrap();
        let regret = v["regret"].as_f64().unwrap();
        assert!((regret - (optimum - report)).abs() < 1e-6, "{dataset}: {v}");
        let rank = v["best"]["rank"].as_u64().unwrap();
        assert!((1..=15_625).contains(&rank), "{dataset}: {v}");
        if dataset == "cifar100" {
            assert_eq!(v["best"]["objective"], 73.4933, "{v}");
            assert_eq!((rank, regret), (1, 0.0), "{v}");
        }
    }
    // CIFAR-10 by name is the default table, query for query.
    let named = exec(&[
        "search",
        "--dataset",
        "cifar10",
        "--queries",
        "30",
        "--json",
    ]);
    let default = exec(&["search", "--queries", "30", "--json"]);
    assert_eq!(named.stdout, default.stdout);
}

/// `--dataset` where nothing reads it, or naming the other reader's data set, is refused with
/// a line that says where it applies.
#[test]
fn a_dataset_that_does_not_apply_is_refused() {
    for (args, says) in [
        (
            vec!["--space", "nb101-20k", "--dataset", "cifar100"],
            "NAS-Bench-201's embedded tables",
        ),
        (
            vec!["--dataset", "fashion-mnist"],
            "it applies to the built-in trainer",
        ),
        (vec!["--dataset", "imagenet"], "imagenet16-120"),
        (
            vec!["--dataset", "cifar100", "--evaluator", "true"],
            "a command reads its own data",
        ),
    ] {
        let mut all = vec!["search", "--queries", "5"];
        all.extend(args.iter().copied());
        let out = exec(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}: a usage error");
        let err = stderr(&out);
        assert!(err.contains(says), "{all:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
