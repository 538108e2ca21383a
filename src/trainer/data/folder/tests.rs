use std::path::{Path, PathBuf};

use super::super::image::decode;
use super::*;
use crate::evaluator::{Evaluator, Outcome};
use crate::rng::rng_for;
use crate::space::mobile::MobileSpace;
use crate::space::{Nb201Space, SearchSpace};
use crate::trainer::supernet::{SupernetConfig, SupernetEvaluator};
use crate::trainer::{TrainConfig, TrainEvaluator};

/// A fresh empty folder under the system's temporary folder.
fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seminas-folder-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn png_bytes(
    width: u32,
    height: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
    palette: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(color);
    enc.set_depth(depth);
    if let Some(p) = palette {
        enc.set_palette(p.to_vec());
    }
    let mut w = enc.write_header().unwrap();
    w.write_image_data(data).unwrap();
    w.finish().unwrap();
    out
}

/// Digits scaled by 15 (0..=16 to 0..=240, exact in 8 bits).
const SCALE: u8 = 15;

/// Writes `n_train` training and `n_val` test digits of the embedded set (the first ones of
/// each class, `n / 10` per class) as 8x8 grayscale PNGs: `dir/train/<label>/<index>.png`,
/// `dir/val/<label>/<index>.png`, the index in the embedded split.
fn digits_folder(dir: &Path, n_train: usize, n_val: usize) -> Dataset {
    let d = Dataset::digits();
    for (split, images, n) in [("train", &d.train, n_train), ("val", &d.test, n_val)] {
        let Pixels::Memory(pixels) = &images.pixels else {
            unreachable!()
        };
        let mut per_class = [0; 10];
        let chosen = (0..images.len()).filter(|&i| {
            let c = &mut per_class[usize::from(images.labels[i])];
            *c += 1;
            *c <= n / 10
        });
        for i in chosen {
            let class = dir.join(split).join(images.labels[i].to_string());
            std::fs::create_dir_all(&class).unwrap();
            let px: Vec<u8> = pixels[i * 64..(i + 1) * 64]
                .iter()
                .map(|&p| p * SCALE)
                .collect();
            let bytes = png_bytes(
                8,
                8,
                png::ColorType::Grayscale,
                png::BitDepth::Eight,
                &px,
                None,
            );
            std::fs::write(class.join(format!("{i:04}.png")), bytes).unwrap();
        }
    }
    d
}

fn exact() -> FolderOptions {
    FolderOptions {
        image_size: 8,
        crop_fraction: 1.0,
    }
}

#[test]
fn a_digits_folder_gives_its_classes_and_the_exact_pixels() {
    let dir = tmp_dir("exact");
    let digits = digits_folder(&dir, 300, 100);
    let data = Dataset::image_folder(&dir, &exact()).unwrap();
    let names: Vec<String> = (0..10).map(|c| c.to_string()).collect();
    assert_eq!(data.class_names, names);
    assert_eq!((data.classes, data.channels, data.height), (10, 3, 8));
    assert_eq!((data.train.len(), data.test.len()), (300, 100));
    assert!(data.train.on_disk() && data.flip_train);
    let Pixels::Files(files) = &data.train.pixels else {
        panic!()
    };
    assert_eq!(files.resize_size(), 8);
    let Pixels::Memory(source) = &digits.train.pixels else {
        panic!()
    };
    // Files are in class order, then name order; each label is its folder's.
    let mut prev = 0;
    for i in 0..data.train.len() {
        let rel = files.relative(i);
        let (class, name) = rel.split_once('/').unwrap();
        assert_eq!(class, data.train.labels[i].to_string(), "{rel}");
        assert!(data.train.labels[i] >= prev);
        prev = data.train.labels[i];
        let src: usize = name.trim_end_matches(".png").parse().unwrap();
        assert_eq!(digits.train.labels[src], data.train.labels[i]);
    }
    // Every image: 8x8, no resize, the three channels equal to the digit times 15.
    let idx: Vec<usize> = (0..data.train.len()).collect();
    let px = data.read(&data.train, &idx, &[]).unwrap();
    assert_eq!(px.len(), 300 * 3 * 64);
    for (i, img) in px.chunks_exact(3 * 64).enumerate() {
        let src: usize = files.relative(i)[2..6].parse().unwrap();
        let want: Vec<u8> = source[src * 64..(src + 1) * 64]
            .iter()
            .map(|&p| p * SCALE)
            .collect();
        for c in 0..3 {
            assert_eq!(
                &img[c * 64..(c + 1) * 64],
                &want[..],
                "image {i} channel {c}"
            );
        }
    }
    // Mirrored on request, image by image.
    let two = data.read(&data.train, &[5, 6], &[true, false]).unwrap();
    for y in 0..8 {
        let row = &px[5 * 192 + y * 8..][..8];
        let mirrored: Vec<u8> = row.iter().rev().copied().collect();
        assert_eq!(&two[y * 8..y * 8 + 8], &mirrored[..]);
    }
    assert_eq!(&two[192..], &px[6 * 192..7 * 192]);
    // ImageNet's normalisation, not the data's.
    let norm = data.normalizer();
    assert!((norm.shift[0] + 0.485 / 0.229).abs() < 1e-6);
    assert!((norm.scale[2] - 1.0 / (255.0 * 0.225)).abs() < 1e-9);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reading_gives_the_same_bytes_on_any_number_of_threads() {
    let dir = tmp_dir("threads");
    digits_folder(&dir, 200, 10);
    // Resized 8 -> 14 and cropped to 12; and 8 -> 7 then 6.
    for (size, fraction) in [(12, 0.875), (6, 0.875)] {
        let options = FolderOptions {
            image_size: size,
            crop_fraction: fraction,
        };
        let data = Dataset::image_folder(&dir, &options).unwrap();
        let mut rng = rng_for(1, "t");
        let mut idx: Vec<usize> = (0..200).collect();
        rand::seq::SliceRandom::shuffle(idx.as_mut_slice(), &mut rng);
        let flip: Vec<bool> = (0..200).map(|i| i % 3 == 0).collect();
        let read = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| data.read(&data.train, &idx, &flip).unwrap())
        };
        let one = read(1);
        assert_eq!(one.len(), 200 * 3 * size * size);
        assert_eq!(one, read(2));
        assert_eq!(one, read(3));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn png_color_types_become_rgb() {
    use png::{BitDepth as B, ColorType as C};
    let rgb = |bytes: Vec<u8>| {
        let img = decode(&bytes).unwrap();
        assert_eq!((img.width, img.height), (2, 1));
        img.data
    };
    assert_eq!(
        rgb(png_bytes(2, 1, C::Grayscale, B::Eight, &[7, 200], None)),
        [7, 7, 7, 200, 200, 200]
    );
    // 4-bit gray 15 and 5: scaled to 8 bits (x 17).
    assert_eq!(
        rgb(png_bytes(2, 1, C::Grayscale, B::Four, &[0xf5], None)),
        [255, 255, 255, 85, 85, 85]
    );
    assert_eq!(
        rgb(png_bytes(
            2,
            1,
            C::GrayscaleAlpha,
            B::Eight,
            &[9, 0, 90, 255],
            None
        )),
        [9, 9, 9, 90, 90, 90]
    );
    assert_eq!(
        rgb(png_bytes(2, 1, C::Rgb, B::Eight, &[1, 2, 3, 4, 5, 6], None)),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        rgb(png_bytes(
            2,
            1,
            C::Rgba,
            B::Eight,
            &[1, 2, 3, 0, 4, 5, 6, 128],
            None
        )),
        [1, 2, 3, 4, 5, 6]
    );
    let palette = [10, 20, 30, 40, 50, 60];
    assert_eq!(
        rgb(png_bytes(
            2,
            1,
            C::Indexed,
            B::Eight,
            &[1, 0],
            Some(&palette)
        )),
        [40, 50, 60, 10, 20, 30]
    );
    // 16-bit: the high byte.
    assert_eq!(
        rgb(png_bytes(
            2,
            1,
            C::Rgb,
            B::Sixteen,
            &[0x12, 0x34, 0, 0xff, 0xab, 0xcd, 1, 2, 3, 4, 5, 6],
            None
        )),
        [0x12, 0, 0xab, 1, 3, 5]
    );
    assert_eq!(
        rgb(png_bytes(
            2,
            1,
            C::Grayscale,
            B::Sixteen,
            &[0x80, 1, 0x40, 2],
            None
        )),
        [0x80, 0x80, 0x80, 0x40, 0x40, 0x40]
    );
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

/// The JPEG fixtures of tests/data (see its README): decoded size and pixels within JPEG's
/// error of the source values, for baseline, progressive and CMYK files.
#[test]
fn jpeg_fixtures_decode_near_their_source_values() {
    for name in [
        "gradient_12x10.jpg",
        "gradient_12x10_progressive.jpg",
        "gradient_12x10_cmyk.jpg",
    ] {
        let img = decode(&fixture(name)).unwrap();
        assert_eq!((img.width, img.height), (12, 10), "{name}");
        let mut worst = 0;
        for y in 0..10 {
            for x in 0..12 {
                let want = [x * 20, y * 25, 100];
                let got = &img.data[(y * 12 + x) * 3..][..3];
                for c in 0..3 {
                    worst = worst.max((i32::from(got[c]) - want[c] as i32).abs());
                }
            }
        }
        // Measured: 3, 3 and 1.
        assert!(worst <= 4, "{name}: off by {worst}");
    }
    let img = decode(&fixture("gray_9x7.jpg")).unwrap();
    assert_eq!((img.width, img.height), (9, 7));
    for y in 0..7 {
        for x in 0..9 {
            let px = &img.data[(y * 9 + x) * 3..][..3];
            assert!(px[0] == px[1] && px[1] == px[2], "gray stays gray: {px:?}");
            let want = (30 + x * 20 + y * 5) as i32;
            assert!(
                (i32::from(px[0]) - want).abs() <= 4,
                "({x}, {y}): {px:?} {want}"
            );
        }
    }
    // Resized like any image: the 12x10 gradient to 8 (short side 9, crop 8).
    let out = super::super::image::resize_crop(&img, 9, 8, false);
    assert_eq!(out.len(), 3 * 64);
}

fn err_text(r: Result<Dataset, DataError>) -> String {
    r.map(|_| ()).unwrap_err().to_string()
}

#[test]
fn bad_folders_and_files_are_errors_naming_the_path() {
    let dir = tmp_dir("bad");
    let opts = FolderOptions::default();
    let train = dir.join("train");
    let e = err_text(Dataset::image_folder(&dir, &opts));
    assert!(
        e.starts_with(&format!("{}: not found", train.display())),
        "{e}"
    );
    digits_folder(&dir, 30, 10);
    std::fs::create_dir_all(dir.join("extra/val")).unwrap();
    let e = err_text(Dataset::image_folder(&dir.join("extra"), &opts));
    assert!(e.contains("extra/train: not found"), "{e}");
    // val's classes must be train's: here 0..8 and x.
    std::fs::remove_dir_all(dir.join("val")).unwrap();
    for c in ["0", "1", "2", "3", "4", "5", "6", "7", "8", "x"] {
        std::fs::create_dir_all(dir.join("val").join(c)).unwrap();
    }
    let e = err_text(Dataset::image_folder(&dir, &opts));
    let want = format!(
        "{}: its class folders differ from those of {}: missing 1 [9], not in train 1 [x]",
        dir.join("val").display(),
        train.display()
    );
    assert_eq!(e, want);
    std::fs::remove_dir_all(dir.join("val")).unwrap();
    let e = err_text(Dataset::image_folder(&dir, &opts));
    assert!(
        e.contains("val: not found") && e.contains("valprep.sh"),
        "{e}"
    );
    // An empty class folder (hidden files do not count).
    std::fs::create_dir_all(dir.join("val")).unwrap();
    for c in 0..10 {
        std::fs::create_dir_all(dir.join(format!("val/{c}"))).unwrap();
    }
    std::fs::write(dir.join("val/0/.DS_Store"), b"x").unwrap();
    std::fs::write(dir.join("val/0/a.png"), b"x").unwrap();
    let e = err_text(Dataset::image_folder(&dir, &opts));
    assert!(
        e.starts_with(&format!("{}: no image file", dir.join("val/1").display())),
        "{e}"
    );
    for c in 1..10 {
        std::fs::write(dir.join(format!("val/{c}/b.txt")), b"notes").unwrap();
        std::fs::write(dir.join(format!("val/{c}/b.PNG")), b"x").unwrap();
    }
    // An unsupported image format.
    std::fs::write(dir.join("val/3/c.webp"), b"x").unwrap();
    let e = err_text(Dataset::image_folder(&dir, &opts));
    assert!(e.contains("val/3/c.webp: unsupported image format"), "{e}");
    std::fs::remove_file(dir.join("val/3/c.webp")).unwrap();
    // Listed fine; reading a text file named .png fails naming it.
    let data = Dataset::image_folder(&dir, &opts).unwrap();
    assert_eq!(data.test.len(), 10);
    let e = data.read(&data.test, &[1, 0], &[]).unwrap_err();
    assert!(matches!(e, DataError::Decode { .. }));
    let want = format!(
        "{}: neither a JPEG nor a PNG file",
        dir.join("val/1/b.PNG").display()
    );
    assert!(e.to_string().starts_with(&want), "{e}");
    // A truncated JPEG; a file gone since the listing.
    let jpeg = fixture("gradient_12x10.jpg");
    std::fs::write(dir.join("val/0/a.png"), &jpeg[..jpeg.len() / 2]).unwrap();
    let e = data.read(&data.test, &[0], &[]).unwrap_err().to_string();
    assert!(e.contains("val/0/a.png: truncated JPEG"), "{e}");
    std::fs::write(dir.join("val/0/a.png"), &jpeg).unwrap();
    assert_eq!(data.read(&data.test, &[0], &[]).unwrap().len(), 3 * 32 * 32);
    std::fs::remove_file(dir.join("val/2/b.PNG")).unwrap();
    let e = data.read(&data.test, &[2], &[]).unwrap_err().to_string();
    assert!(
        e.starts_with(&dir.join("val/2/b.PNG").display().to_string()),
        "{e}"
    );
    // Bad options.
    let bad = FolderOptions {
        image_size: 0,
        ..opts
    };
    assert!(matches!(
        Dataset::image_folder(&dir, &bad),
        Err(DataError::Invalid(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An evaluation that meets an undecodable image fails (with the file's name); it does not
/// panic.
#[test]
fn a_broken_image_fails_the_evaluation() {
    let dir = tmp_dir("broken");
    digits_folder(&dir, 40, 10);
    std::fs::write(dir.join("train/3/0007.png"), b"GIF89a").unwrap();
    let data = Dataset::image_folder(&dir, &exact()).unwrap();
    let cfg = TrainConfig {
        epochs: 1,
        channels: Some(4),
        cells: Some(1),
        threads: 1,
        ..TrainConfig::default()
    };
    let eval = TrainEvaluator::new(cfg, data).unwrap();
    let space = Nb201Space::new();
    match eval.evaluate(&space, &space.nth(0).unwrap()) {
        Outcome::Failed(why) => {
            assert!(
                why.contains("train/3/0007.png: neither a JPEG nor a PNG"),
                "{why}"
            )
        }
        o => panic!("{o:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The trainer and the supernet learn from a digits folder (flipped training images and all)
/// far above chance (10%).
#[test]
fn the_trainer_and_the_supernet_learn_a_digits_folder() {
    let dir = tmp_dir("learn");
    digits_folder(&dir, 1000, 300);
    let data = Dataset::image_folder(&dir, &exact()).unwrap();
    let cfg = TrainConfig {
        epochs: 8,
        batch_size: 32,
        learning_rate: 0.05,
        channels: Some(8),
        cells: Some(1),
        ..TrainConfig::default()
    };
    let eval = TrainEvaluator::new(cfg, data.clone()).unwrap();
    let space = Nb201Space::new();
    let arch = space
        .parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        .unwrap();
    let r = eval.train_nb201(&arch).unwrap();
    eprintln!("trainer on the digits folder: {r:?}");
    assert!(r.test_acc > 70.0 && r.val_acc > 70.0, "{r:?}");

    let config = SupernetConfig {
        steps_per_eval: 80,
        eval_images: 200,
        threads: 1,
        ..SupernetConfig::default()
    };
    let mobile = MobileSpace::paper();
    let supernet = SupernetEvaluator::new(config, data, &mobile).unwrap();
    let a = mobile.sample(&mut rng_for(4, "t"));
    match supernet.evaluate(&mobile, &a) {
        Outcome::Evaluated(e) => {
            eprintln!("supernet on the digits folder: {}%", e.objective);
            assert!(e.objective > 35.0, "{e:?}");
        }
        o => panic!("{o:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Decoding throughput (`Dataset::read` of every training image, at R = 32 and 224, on 1 thread
/// and on all cores) of the image folder in `SEMINAS_IMAGE_FOLDER`:
/// `SEMINAS_IMAGE_FOLDER=DIR cargo test --release --lib decode_throughput -- --ignored
/// --nocapture`.
#[test]
#[ignore = "a benchmark; needs SEMINAS_IMAGE_FOLDER"]
fn decode_throughput() {
    let Some(dir) = std::env::var_os("SEMINAS_IMAGE_FOLDER") else {
        eprintln!("set SEMINAS_IMAGE_FOLDER to an image folder (DIR/train/<class>/...)");
        return;
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for size in [32, 224] {
        let options = FolderOptions {
            image_size: size,
            ..FolderOptions::default()
        };
        let data = Dataset::image_folder(Path::new(&dir), &options).unwrap();
        let idx: Vec<usize> = (0..data.train.len()).collect();
        // Once untimed: the files in the page cache, as in a long run.
        data.read(&data.train, &idx, &[]).unwrap();
        for threads in [1, cores] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let start = std::time::Instant::now();
            for chunk in idx.chunks(64) {
                pool.install(|| data.read(&data.train, chunk, &[]).unwrap());
            }
            let s = start.elapsed().as_secs_f64();
            println!(
                "R = {size}: {} images, {threads} threads: {:.0} images/s",
                idx.len(),
                idx.len() as f64 / s
            );
        }
    }
}
