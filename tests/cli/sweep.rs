//! What a new user tripped over (issue 16): a search whose evaluations all fail, a misnamed
//! report metric, `--report-metric` as another name of `--report`, and the grouped help.

use crate::support::*;

/// A command evaluator whose every evaluation fails.
const FAILING: &str = "echo 'CUDA out of memory' >&2; exit 3";

/// A command evaluator whose result has the metrics test_acc and loss.
const SUCCEEDING: &str = r#"echo '{"objective": 0.5, "metrics": {"test_acc": 0.4, "loss": 1.0}}'"#;

fn search(evaluator: &str, dir: &TempDir, extra: &[&str]) -> std::process::Output {
    let d = dir.join("run");
    let mut args = vec![
        "search",
        "--algo",
        "random",
        "--queries",
        "6",
        "--seed",
        "1",
    ];
    args.extend(["--retries", "0", "--evaluator", evaluator, "--out"]);
    args.push(d.to_str().unwrap());
    args.extend(extra);
    exec(&args)
}

#[test]
fn a_search_whose_evaluations_all_failed_exits_nonzero() {
    let dir = TempDir::created("all-failed");
    let out = search(FAILING, &dir, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no architecture was evaluated successfully: all 6 evaluations failed")
            && err.contains("CUDA out of memory"),
        "{err}"
    );
    // The run is still written out, failures and all.
    assert_eq!(queries(&dir.join("run")).len(), 6);
    // `show` and the dashboard call it failed, not finished.
    let run = dir.join("run").display().to_string();
    let shown: serde_json::Value =
        serde_json::from_str(&run_ok(&["show", &run, "--json"])).unwrap();
    assert_eq!(shown["state"], "failed");
    assert!(run_ok(&["show", &run]).contains(": failed: every query failed"));
}

#[test]
fn max_failures_stops_a_broken_command_early() {
    let dir = TempDir::created("max-failures");
    let out = search(FAILING, &dir, &["--max-failures", "2"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the first 2 evaluations all failed (--max-failures 2)")
            && err.contains("seminas resume"),
        "{err}"
    );
    // Two evaluations ran, not the six of the budget.
    let evals = std::fs::read_dir(dir.join("run/evals")).unwrap().count();
    assert_eq!(evals, 2, "{err}");
    let run = dir.join("run").display().to_string();
    let shown: serde_json::Value =
        serde_json::from_str(&run_ok(&["show", &run, "--json"])).unwrap();
    assert_eq!(shown["state"], "failed");
    // A command that works is not stopped.
    let dir = TempDir::created("max-failures-ok");
    let out = search(SUCCEEDING, &dir, &["--max-failures", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_misspelt_report_metric_stops_at_the_first_result_naming_the_metrics() {
    let dir = TempDir::created("report-metric");
    let out = search(SUCCEEDING, &dir, &["--report-metric", "tset_acc"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("query 1: the result has no report metric \"tset_acc\"")
            && err.contains("its metrics: loss, test_acc"),
        "{err}"
    );
    let evals = std::fs::read_dir(dir.join("run/evals")).unwrap().count();
    assert_eq!(evals, 1, "{err}");
}

#[test]
fn report_and_report_metric_are_one_flag() {
    for flag in ["--report", "--report-metric"] {
        let dir = TempDir::created(&format!("report-flag{flag}"));
        let out = search(SUCCEEDING, &dir, &[flag, "test_acc", "--json"]);
        let v = json(&out);
        assert_eq!(v["best"]["report"], 0.4, "{flag}: {v}");
    }
    // On a table, --report-metric names the column, as --report does.
    let with = |flag: &str| {
        json(&exec(&[
            "search",
            "--algo",
            "re",
            "--queries",
            "12",
            "--json",
            flag,
            "cifar10_test_acc",
        ]))
    };
    assert_eq!(with("--report"), with("--report-metric"));
}

#[test]
fn search_help_is_grouped() {
    let help = run_ok(&["search", "--help"]);
    let headings = [
        "Space and table:",
        "Algorithm:",
        "SemiNAS controller:",
        "Evaluation:",
        "Output:",
    ];
    let mut at = 0;
    for h in headings {
        let i = help
            .find(&format!("\n{h}\n"))
            .unwrap_or_else(|| panic!("{h} missing:\n{help}"));
        assert!(i > at, "{h} out of order:\n{help}");
        at = i;
    }
    // Each flag sits under its group.
    let group_of = |flag: &str| {
        let i = help
            .find(&format!("--{flag} "))
            .unwrap_or_else(|| panic!("--{flag}"));
        headings
            .iter()
            .rev()
            .find(|h| help.find(&format!("\n{h}\n")).unwrap() < i)
            .unwrap()
    };
    assert_eq!(*group_of("table"), "Space and table:");
    assert_eq!(*group_of("population"), "Algorithm:");
    assert_eq!(*group_of("pseudo"), "SemiNAS controller:");
    assert_eq!(*group_of("workers"), "Evaluation:");
    assert_eq!(*group_of("max-failures"), "Evaluation:");
    assert_eq!(*group_of("out"), "Output:");
    // Texts that used to disagree with behaviour.
    assert!(!help.contains("docs/evaluators.md"), "{help}");
    assert!(help.contains("32 for short ones (nb201)"), "{help}");
    assert!(
        help.contains("another number of workers gives another run"),
        "{help}"
    );
}

#[test]
fn csv_errors_cite_the_right_line_of_a_crlf_file() {
    let dir = TempDir::created("crlf");
    // As Python's csv module writes it: CRLF line ends.
    let table = dir.join("bad.csv");
    std::fs::write(
        &table,
        "depth,width,op,val_acc,test_acc,train_s\r\nd2,w16,conv,81.00,80.50,100\r\n\
         d2,w16,bogus,81.50,81.10,100\r\n",
    )
    .unwrap();
    let space = fixture("toy_space.toml");
    let t = table.to_str().unwrap();
    let out = exec(&[
        "search",
        "--space",
        &space,
        "--table",
        t,
        "--objective",
        "val_acc",
        "--report",
        "test_acc",
    ]);
    let err = stderr(&out);
    assert!(
        err.contains("bad.csv:3: column \"op\": unknown choice \"bogus\""),
        "{err}"
    );
}
