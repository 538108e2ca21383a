//! The `seminas nb101` subcommands: a synthetic file in the official format, its summary, and
//! the module hash of a cell.

use seminas::benchmark::nb101::Nb101Dataset;

use crate::support::*;

#[test]
fn synth_then_info_then_hash() {
    let dir = TempDir::created("nb101-cli");
    let file = dir.join("small.tfrecord");
    let f = file.to_str().unwrap();
    run_ok(
        &["nb101", "synth", "--out", f, "--epochs", "12,108"]
            .iter()
            .chain(&["--repeats", "3", "--limit", "25", "--seed", "7"])
            .copied()
            .collect::<Vec<_>>(),
    );
    let d = Nb101Dataset::load(&file).unwrap();
    assert_eq!((d.num_records(), d.num_models()), (150, 25));
    let info = run_ok(&["nb101", "info", "--file", f]);
    assert!(
        info.contains("records: 150") && info.contains("unique cells: 25"),
        "{info}"
    );
    let hash = run_ok(&[
        "nb101",
        "hash",
        "0110000100010000:input,conv3x3-bn-relu,maxpool3x3,output",
    ]);
    assert_eq!(hash.trim().len(), 32, "{hash}");
    assert!(
        !exec(&["nb101", "hash", "0000:input,output"])
            .status
            .success()
    );
    let missing = dir.join("missing.tfrecord");
    let out = exec(&["nb101", "info", "--file", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("missing.tfrecord"),
        "{}",
        stderr(&out)
    );
}
