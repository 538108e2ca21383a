//! End-to-end tests of `seminas bench` and `seminas report`.

use std::path::Path;

use crate::support::*;

/// The runs.csv lines without the `seconds` column (index 10): what must not depend on timing.
fn without_seconds(runs_csv: &str) -> Vec<String> {
    runs_csv
        .lines()
        .map(|l| {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(l.as_bytes());
            let rec = r.records().next().unwrap().unwrap();
            rec.iter()
                .enumerate()
                .filter(|&(i, _)| i != 10)
                .map(|(_, f)| f.to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

const ROW_KEYS: [&str; 9] = [
    "algo",
    "queries",
    "seeds",
    "mean_report",
    "std_report",
    "mean_regret",
    "mean_rank",
    "hit_rate",
    "mean_seconds",
];

#[test]
fn bench_prints_json_rows_and_writes_results() {
    let dir = TempDir::new("out");
    let d = dir.to_str().unwrap();
    let v = json(&exec(&[
        "bench",
        "--algos",
        "random,re",
        "--queries",
        "20,40",
        "--seeds",
        "5",
        "--json",
        "--out",
        d,
    ]));
    assert_eq!(v["space"], "nb201");
    assert_eq!(v["report"], "cifar10_test_acc");
    assert_eq!(v["optimum"], 94.3733);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for (row, (algo, q)) in
        rows.iter()
            .zip([("random", 20), ("random", 40), ("re", 20), ("re", 40)])
    {
        assert_eq!(row.as_object().unwrap().len(), ROW_KEYS.len());
        for k in ROW_KEYS {
            assert!(!row[k].is_null(), "{k} missing in {row}");
        }
        assert_eq!(row["algo"], algo);
        assert_eq!(row["queries"], q);
        assert_eq!(row["seeds"], 5);
        let (m, r) = (
            row["mean_report"].as_f64().unwrap(),
            row["mean_regret"].as_f64().unwrap(),
        );
        assert!((m + r - 94.3733).abs() < 1e-6);
    }
    let runs = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 20);
    assert!(runs.starts_with(
        "algo,budget,seed,queries,best_key,objective,report,regret,rank,hit,seconds,curve\n"
    ));
    // hit_rate and mean_seconds are the means of the runs' hit and seconds columns.
    let mut reader = csv::Reader::from_reader(runs.as_bytes());
    let recs: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    for row in rows {
        let mine: Vec<&csv::StringRecord> = recs
            .iter()
            .filter(|r| {
                r[0] == *row["algo"].as_str().unwrap()
                    && r[1].parse::<u64>().ok() == row["queries"].as_u64()
            })
            .collect();
        assert_eq!(mine.len(), 5);
        let hits = mine.iter().filter(|r| &r[9] == "1").count();
        assert_eq!(hits, mine.iter().filter(|r| &r[8] == "1").count());
        assert!((row["hit_rate"].as_f64().unwrap() - hits as f64 / 5.0).abs() < 1e-12);
        let secs: f64 = mine
            .iter()
            .map(|r| r[10].parse::<f64>().unwrap())
            .sum::<f64>()
            / 5.0;
        assert!(secs > 0.0 && (row["mean_seconds"].as_f64().unwrap() - secs).abs() < 1e-9);
    }
    let curves = std::fs::read_to_string(dir.join("curves.csv")).unwrap();
    assert_eq!(curves.lines().count(), 1 + 2 * 40);
    let svg = std::fs::read_to_string(dir.join("curves.svg")).unwrap();
    assert_eq!(svg.matches("<polyline").count(), 2);
    #[cfg(feature = "plot")]
    assert!(
        std::fs::read(dir.join("curves.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    // No temporary files are left behind.
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "{name} left in {d}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_text_table_shows_hit_rate_and_seconds_per_run() {
    // The toy table holds 26 of the space's 27 architectures: 26 queries evaluate every one,
    // so every run finds the optimum (hit rate 1, regret 0).
    let space = fixture("toy_space.toml");
    let table = fixture("toy_table.csv");
    let args = [
        "bench",
        "--space",
        &space,
        "--table",
        &table,
        "--objective",
        "val_acc",
        "--report",
        "test_acc",
        "--algos",
        "random,re",
        "--queries",
        "26",
        "--seeds",
        "3",
    ];
    let text = ok(&exec(&args));
    assert!(
        text.contains("hit rate") && text.contains("s/run"),
        "{text}"
    );
    let v = json(&exec(&[&args[..], &["--json"]].concat()));
    for row in v["rows"].as_array().unwrap() {
        assert_eq!(row["hit_rate"], 1.0, "{row}");
        assert_eq!(row["mean_regret"], 0.0, "{row}");
        assert_eq!(row["mean_rank"], 1.0, "{row}");
    }
}

/// A table with a cost column but no fidelities still has a whole training's cost (the
/// column's mean, 400 s in the toy table), so budgets in trainings need no `--fidelity`.
#[test]
fn a_cost_column_alone_gives_budgets_in_trainings() {
    let space = fixture("toy_space.toml");
    let table = fixture("toy_table.csv");
    let base = [
        "--space",
        space.as_str(),
        "--table",
        table.as_str(),
        "--objective",
        "val_acc",
        "--report",
        "test_acc",
    ];
    let v = json(&exec(
        &[
            &["bench"][..],
            &base,
            &[
                "--cost",
                "train_s",
                "--algos",
                "random",
                "--budget-trainings",
                "3",
                "--seeds",
                "2",
                "--json",
            ],
        ]
        .concat(),
    ));
    assert_eq!(v["unit"], "trainings", "{v}");
    assert_eq!(v["training_seconds"], 400.0, "{v}");
    // A search of 3 trainings' time: queries are not limited, so no query count is shown
    // as a limit (it was usize::MAX in the log and 100 in `show`).
    let dir = TempDir::created("cost-alone");
    let run = dir.join("r").display().to_string();
    let out = exec(
        &[
            &["search"][..],
            &base,
            &[
                "--cost",
                "train_s",
                "--budget-trainings",
                "3",
                "--out",
                &run,
            ],
        ]
        .concat(),
    );
    let log = stderr(&out);
    ok(&out);
    assert!(
        log.contains("queries not limited") && log.contains(" query 1 objective"),
        "{log}"
    );
    assert!(!log.contains(&usize::MAX.to_string()), "{log}");
    let shown = run_ok(&["show", &run]);
    assert!(
        shown.contains("queries (budget: 3 trainings' time)"),
        "{shown}"
    );
    let out = exec(&[&["bench"][..], &base, &["--budget-trainings", "3"]].concat());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cost column"), "{}", stderr(&out));
}

#[test]
fn a_repeated_algorithm_or_budget_runs_once() {
    let v = json(&exec(&[
        "bench",
        "--algos",
        "re,re",
        "--queries",
        "10,10",
        "--seeds",
        "2",
        "--json",
    ]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["seeds"], 2);
    let v = json(&exec(&[
        "bench",
        "--algos",
        "random,re,random",
        "--queries",
        "10,20,10",
        "--seeds",
        "2",
        "--json",
    ]));
    let got: Vec<(String, u64, u64)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["algo"].as_str().unwrap().to_string(),
                r["queries"].as_u64().unwrap(),
                r["seeds"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64, u64)> = [("random", 10), ("random", 20), ("re", 10), ("re", 20)]
        .iter()
        .map(|&(a, q)| (a.to_string(), q, 2))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn without_algos_every_algorithm_runs() {
    let v = json(&exec(&[
        "bench",
        "--queries",
        "12",
        "--seeds",
        "1",
        "--json",
    ]));
    let got: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["algo"].as_str().unwrap())
        .collect();
    let all: Vec<&str> = seminas::search::Algo::ALL
        .iter()
        .map(|a| a.name())
        .collect();
    assert_eq!(got, all);
}

/// A bench stopped after some runs (simulated: its runs.csv cut after three runs and in the
/// middle of a fourth) continues from them: the finished runs are kept as they were (their
/// seconds too, so they were not run again) and the result equals an uninterrupted bench.
#[test]
fn a_stopped_bench_continues_from_the_runs_it_finished() {
    let full = TempDir::new("full");
    let cut = TempDir::new("cut");
    let args = |d: &Path| {
        vec![
            "bench".to_string(),
            "--algos".into(),
            "random,re".into(),
            "--queries".into(),
            "10,30".into(),
            "--seeds".into(),
            "3".into(),
            "--out".into(),
            d.display().to_string(),
        ]
    };
    let run = |d: &Path| output_ok(seminas().args(args(d)));
    run(&full);
    let runs = std::fs::read_to_string(full.join("runs.csv")).unwrap();
    std::fs::create_dir_all(&cut).unwrap();
    std::fs::copy(
        full.join("bench-settings.json"),
        cut.join("bench-settings.json"),
    )
    .unwrap();
    let lines: Vec<&str> = runs.lines().collect();
    let partial = format!("{}\n{}", lines[..4].join("\n"), &lines[4][..15]);
    std::fs::write(cut.join("runs.csv"), &partial).unwrap();
    let out = run(&cut);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("resuming: 3 of 12 runs were finished before"),
        "{err}"
    );
    let resumed = std::fs::read_to_string(cut.join("runs.csv")).unwrap();
    assert_eq!(resumed.lines().take(4).collect::<Vec<_>>(), lines[..4]);
    assert_eq!(without_seconds(&resumed), without_seconds(&runs));
    assert_eq!(
        std::fs::read_to_string(cut.join("curves.csv")).unwrap(),
        std::fs::read_to_string(full.join("curves.csv")).unwrap()
    );
    // Started again when everything is done, it runs nothing.
    let out = run(&cut);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(0 run now)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(&full).unwrap();
    std::fs::remove_dir_all(&cut).unwrap();
}

/// The same with a real SIGKILL at a moment when some runs are finished.
#[cfg(unix)]
#[test]
fn a_killed_bench_continues_and_gives_the_uninterrupted_result() {
    let killed = TempDir::new("killed");
    let whole = TempDir::new("whole");
    let args = |d: &Path| {
        vec![
            "bench".to_string(),
            "--algos".into(),
            "random,nao".into(),
            "--queries".into(),
            "20".into(),
            "--seeds".into(),
            "4".into(),
            "--out".into(),
            d.display().to_string(),
        ]
    };
    let mut child = seminas()
        .args(args(&killed))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let n = std::fs::read_to_string(killed.join("runs.csv"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if n >= 2 + 4 || child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 300,
            "the bench never wrote a run"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    let a = args(&killed);
    ok(&exec(&a.iter().map(String::as_str).collect::<Vec<_>>()));
    let a = args(&whole);
    ok(&exec(&a.iter().map(String::as_str).collect::<Vec<_>>()));
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(
        without_seconds(&read(&killed, "runs.csv")),
        without_seconds(&read(&whole, "runs.csv"))
    );
    assert_eq!(read(&killed, "curves.csv"), read(&whole, "curves.csv"));
    std::fs::remove_dir_all(&killed).unwrap();
    std::fs::remove_dir_all(&whole).unwrap();
}

#[test]
fn a_directory_with_runs_of_other_settings_is_refused() {
    let dir = TempDir::new("other");
    let d = dir.to_str().unwrap();
    ok(&exec(&[
        "bench",
        "--algos",
        "random",
        "--queries",
        "10",
        "--seeds",
        "2",
        "--out",
        d,
    ]));
    let before = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    let out = exec(&[
        "bench",
        "--algos",
        "re",
        "--queries",
        "10",
        "--seeds",
        "2",
        "--population",
        "5",
        "--out",
        d,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another algorithm settings"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("runs.csv")).unwrap(),
        before
    );
    // Other algorithms with the same settings are added; the earlier runs are kept.
    let v = json(&exec(&[
        "bench",
        "--algos",
        "re",
        "--queries",
        "10",
        "--seeds",
        "2",
        "--json",
        "--out",
        d,
    ]));
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    let runs = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_combines_directories_into_one_table_and_plot() {
    let a = TempDir::new("report-a");
    let b = TempDir::new("report-b");
    let c = TempDir::new("report-c");
    let both = TempDir::new("report-out");
    for (dir, algos) in [(&a, "random,re"), (&b, "re")] {
        ok(&exec(&[
            "bench",
            "--algos",
            algos,
            "--queries",
            "10,20",
            "--seeds",
            "3",
            "--out",
            dir.to_str().unwrap(),
        ]));
    }
    // A directory in the format of earlier versions: no hit/seconds/curve columns, no
    // space in table.json.
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(
        c.join("runs.csv"),
        "algo,budget,seed,queries,best_key,objective,report,regret,rank\n\
         old,10,0,10,\"k\",91.6,94.3733,0,1\n\
         old,10,1,10,\"k2\",91.0,93.3733,1,300\n",
    )
    .unwrap();
    std::fs::write(c.join("table.json"), "{\"rows\": []}\n").unwrap();
    std::fs::write(
        c.join("curves.csv"),
        "algo,queries,mean_report,stderr\nold,1,90,0\nold,2,91,0\n",
    )
    .unwrap();
    let v = json(&exec(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
        "--json",
        "--out",
        both.to_str().unwrap(),
    ]));
    assert_eq!(v["space"], "nb201");
    let rows = v["rows"].as_array().unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {}", r["algo"].as_str().unwrap(), r["queries"]))
        .collect();
    let b_name = format!("re ({})", b.file_name().unwrap().to_string_lossy());
    assert_eq!(
        names,
        [
            "random 10".to_string(),
            "random 20".into(),
            "re 10".into(),
            "re 20".into(),
            format!("{b_name} 10"),
            format!("{b_name} 20"),
            "old 10".into(),
        ]
    );
    // The same runs give the same row, whichever directory they come from.
    for k in ["mean_report", "hit_rate", "mean_rank"] {
        assert_eq!(rows[2][k], rows[4][k]);
    }
    assert_eq!(rows[6]["hit_rate"], 0.5);
    assert!(rows[6]["mean_seconds"].is_null());
    let svg = std::fs::read_to_string(both.join("curves.svg")).unwrap();
    assert_eq!(svg.matches("<polyline").count(), 4);
    let runs = std::fs::read_to_string(both.join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 12 + 6 + 2);
    // Different benchmarks are not combined.
    let toy = TempDir::new("report-toy");
    ok(&exec(&[
        "bench",
        "--space",
        &fixture("toy_space.toml"),
        "--table",
        &fixture("toy_table.csv"),
        "--objective",
        "val_acc",
        "--report",
        "test_acc",
        "--algos",
        "random",
        "--queries",
        "5",
        "--seeds",
        "2",
        "--out",
        toy.to_str().unwrap(),
    ]));
    let out = exec(&["report", a.to_str().unwrap(), toy.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("different benchmarks"));
    for d in [a, b, c, both, toy] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// `bench-controller --profile` prints the machine it ran on and every phase of a step.
#[test]
fn bench_controller_profile_prints_every_phase_and_the_machine() {
    let out = run_ok(&[
        "bench-controller",
        "--profile",
        "--sizes",
        "150",
        "--epochs",
        "1",
    ]);
    for want in [
        "matrix kernel",
        "elementwise passes",
        "caches of cpu 0",
        "encoder+predictor fwd",
        "decoder fwd",
        "decoder bwd",
        "encoder bwd",
        "adam",
        "waiting for the slowest slice",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
}

#[test]
fn a_clairvoyant_bench_is_recorded_as_such_and_refuses_a_step_the_table_lacks() {
    let dir = TempDir::created("clairvoyant");
    let bench = |out: &str, extra: &[&str]| {
        let base = [
            "bench",
            "--space",
            "nb101-20k",
            "--algos",
            "random",
            "--budget-trainings",
            "3",
            "--seeds",
            "2",
            "--out",
            out,
        ];
        exec(&[&base[..], extra].concat())
    };
    let out = dir.join("b").display().to_string();
    ok(&bench(&out, &["--clairvoyant", "36"]));
    let settings = std::fs::read_to_string(dir.join("b/bench-settings.json")).unwrap();
    assert!(settings.contains("clairvoyant at step 36"), "{settings}");
    // The same directory without the bound: other settings, refused rather than mixed.
    let o = bench(&out, &[]);
    assert!(!o.status.success(), "{}", stderr(&o));
    let o = bench(
        &dir.join("c").display().to_string(),
        &["--clairvoyant", "20"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("its steps: 4, 12, 36, 108"),
        "{}",
        stderr(&o)
    );
}
