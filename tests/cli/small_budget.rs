//! A budget too small for an algorithm's random start must not silently give random search:
//! `seminas search` and `seminas bench` say so on stderr.

use crate::support::*;

/// Stderr of a successful run.
fn stderr_of(args: &[&str]) -> String {
    let out = exec(args);
    ok(&out);
    stderr(&out)
}

#[test]
fn search_warns_when_the_budget_is_all_random_start() {
    let search = |extra: &[&str]| {
        let mut args = vec!["search", "--space", "nb201", "--seed", "0", "--json"];
        args.extend_from_slice(extra);
        stderr_of(&args)
    };
    for algo in ["seminas", "nao"] {
        let e = search(&["--algo", algo, "--queries", "10"]);
        assert!(
            e.contains(&format!(
                "warning: {algo} with a budget of 10 queries is random search"
            )) && e.contains("--init")
                && e.contains("at least 11 queries"),
            "{e}"
        );
    }
    let e = search(&["--algo", "seminas", "--preset", "paper", "--queries", "100"]);
    assert!(
        e.contains("random search") && e.contains("1100 random") && e.contains("at least 1101"),
        "{e}"
    );
    let e = search(&["--algo", "seminas-re", "--queries", "10"]);
    assert!(
        e.contains("random search") && e.contains("--population"),
        "{e}"
    );
    // SemiNAS-Ens scales its random start to the budget: 10 queries have predictor rounds.
    let e = search(&["--algo", "seminas-ens", "--queries", "10"]);
    assert!(!e.contains("warning"), "{e}");
    let e = search(&["--queries", "2"]);
    assert!(
        e.contains("warning: seminas-ens with a budget of 2 queries is random search"),
        "{e}"
    );
}

#[test]
fn bench_warns_once_per_algorithm_and_budget_concerned() {
    let e = stderr_of(&[
        "bench",
        "--space",
        "nb201",
        "--algos",
        "nao,seminas-ens",
        "--queries",
        "5,10",
        "--seeds",
        "1",
        "--json",
    ]);
    assert_eq!(e.matches("warning: nao with a budget of").count(), 2, "{e}");
    assert!(!e.contains("warning: seminas-ens"), "{e}");
}
