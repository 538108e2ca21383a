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
        let q = std::fs::read_to_string(d.join("queries.jsonl")).unwrap();
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
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap();
    assert_eq!(written, summary);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(d.join("queries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 30);
    let mut keys = std::collections::HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["n"], i + 1);
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
        let run = || {
            exec(&[
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
                "--pseudo",
                "10",
                "--population",
                "5",
                "--json",
            ])
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
