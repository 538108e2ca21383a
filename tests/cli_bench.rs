//! End-to-end tests of `seminas bench`.

use std::process::Command;

#[test]
fn bench_prints_json_rows_and_writes_results() {
    let dir = std::env::temp_dir().join(format!("seminas-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_seminas"))
        .args([
            "bench",
            "--algos",
            "random,re",
            "--queries",
            "20,40",
            "--seeds",
            "5",
            "--json",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let keys = [
        "algo",
        "queries",
        "seeds",
        "mean_report",
        "std_report",
        "mean_regret",
        "mean_rank",
    ];
    for (row, (algo, q)) in
        rows.iter()
            .zip([("random", 20), ("random", 40), ("re", 20), ("re", 40)])
    {
        assert_eq!(row.as_object().unwrap().len(), keys.len());
        for k in keys {
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
    std::fs::remove_dir_all(&dir).unwrap();
}
