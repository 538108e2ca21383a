//! `--dataset imagefolder`: a supernet search and a trainer search on a tiny folder of PNG
//! images, and the errors that name the folder.

use std::path::Path;

use crate::support::*;

/// Two classes of 12x10 RGB PNGs, `dark` (values below 100) and `light` (above 150), with a
/// little per-image variation: `n` images per class in train, 4 in val.
fn two_class_folder(dir: &Path, n: usize) {
    for (split, count) in [("train", n), ("val", 4)] {
        for (class, base) in [("dark", 20u8), ("light", 160)] {
            let d = dir.join(split).join(class);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..count {
                let px: Vec<u8> = (0..12 * 10 * 3)
                    .map(|k| base + ((k * 7 + i * 13) % 80) as u8)
                    .collect();
                let mut bytes = Vec::new();
                let mut enc = png::Encoder::new(&mut bytes, 12, 10);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                let mut w = enc.write_header().unwrap();
                w.write_image_data(&px).unwrap();
                w.finish().unwrap();
                std::fs::write(d.join(format!("{i}.png")), bytes).unwrap();
            }
        }
    }
}

fn objectives(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("queries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["objective"].as_f64().unwrap()
        })
        .collect()
}

#[test]
fn supernet_and_trainer_searches_run_on_an_image_folder() {
    let dir = TempDir::created("search");
    let data = dir.join("data");
    two_class_folder(&data, 20);
    let run = dir.join("supernet");
    let out = seminas()
        .args([
            "search",
            "--space",
            "mobile",
            "--algo",
            "random",
            "--queries",
            "2",
        ])
        .args([
            "--evaluator",
            "supernet",
            "--dataset",
            "imagefolder",
            "--data-dir",
        ])
        .arg(&data)
        .args(["--image-size", "8", "--supernet-steps", "2"])
        .args(["--supernet-eval-images", "10", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    ok(&out);
    let accs = objectives(&run);
    assert_eq!(accs.len(), 2);
    assert!(accs.iter().all(|a| (0.0..=100.0).contains(a)), "{accs:?}");

    let run = dir.join("trainer");
    let out = seminas()
        .args([
            "search",
            "--space",
            "nb201",
            "--algo",
            "random",
            "--queries",
            "1",
        ])
        .args([
            "--evaluator",
            "train",
            "--dataset",
            "imagefolder",
            "--data-dir",
        ])
        .arg(&data)
        .args([
            "--image-size",
            "8",
            "--crop-fraction",
            "1",
            "--train-epochs",
            "1",
        ])
        .args(["--train-channels", "4", "--train-cells", "1", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(objectives(&run).len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_or_broken_folder_is_an_error_naming_it() {
    let dir = TempDir::created("errors");
    let search = |extra: &[&str]| {
        seminas()
            .args([
                "search",
                "--space",
                "mobile",
                "--algo",
                "random",
                "--queries",
                "1",
            ])
            .args(["--evaluator", "supernet", "--out"])
            .arg(dir.join("run"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = search(&["--dataset", "imagefolder"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("needs --data-dir DIR"),
        "{}",
        stderr(&out)
    );
    let missing = dir.join("nowhere");
    let out = search(&[
        "--dataset",
        "imagefolder",
        "--data-dir",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let want = format!("{}: not found", missing.join("train").display());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    let out = search(&["--dataset", "digits", "--image-size", "8"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("apply to --dataset imagefolder only"),
        "{}",
        stderr(&out)
    );
    // A class folder with no image.
    let data = dir.join("data");
    two_class_folder(&data, 2);
    for i in 0..4 {
        std::fs::remove_file(data.join(format!("val/light/{i}.png"))).unwrap();
    }
    let out = search(&[
        "--dataset",
        "imagefolder",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let want = format!("{}: no image file", data.join("val/light").display());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}
