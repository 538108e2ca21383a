//! The `seminas nb101` subcommands (src/cli/nb101.rs), run in-process.
#[path = "../src/cli/nb101.rs"]
mod nb101;

use nb101::{Nb101Command, run};
use seminas::benchmark::nb101::Nb101Dataset;

#[test]
fn synth_then_info_then_hash() {
    let dir = std::env::temp_dir().join(format!("seminas-nb101-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("small.tfrecord");
    run(&Nb101Command::Synth {
        out: file.clone(),
        epochs: vec![12, 108],
        repeats: 3,
        limit: Some(25),
        seed: 7,
    })
    .unwrap();
    let d = Nb101Dataset::load(&file).unwrap();
    assert_eq!((d.num_records(), d.num_models()), (150, 25));
    run(&Nb101Command::Info { file: file.clone() }).unwrap();
    run(&Nb101Command::Hash {
        cell: "0110000100010000:input,conv3x3-bn-relu,maxpool3x3,output".into(),
    })
    .unwrap();
    assert!(
        run(&Nb101Command::Hash {
            cell: "0000:input,output".into()
        })
        .is_err()
    );
    let missing = run(&Nb101Command::Info {
        file: dir.join("missing.tfrecord"),
    })
    .unwrap_err();
    assert!(
        missing.to_string().contains("missing.tfrecord"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
