//! Image classification datasets for the trainer: Fashion-MNIST (IDX files), CIFAR-10 (official
//! binary batches) and the tiny 8x8 digits set embedded in the binary, held in memory; and
//! image folders (the ImageNet layout, JPEG and PNG files), read from disk batch by batch.
//!
//! [`Dataset::read`] gives a batch's images as bytes (`u8`, channel-major per image:
//! `C x H x W`); [`Dataset::normalizer`] the per-channel normalisation the trainer applies to
//! them.

mod folder;
mod image;

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use folder::{FolderOptions, IMAGE_EXTENSIONS, ImageFiles};

/// Where Debian's `dataset-fashion-mnist` package installs the IDX files.
pub const FASHION_MNIST_DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The 1,797 8x8 handwritten digits (UCI, scikit-learn's copy; see data/NOTICE), gzipped CSV:
/// 64 pixel values 0..=16, then the label.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// ImageNet's per-channel mean of pixels scaled to 0..1 (R, G, B), as torchvision's models use.
pub const IMAGENET_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation of pixels scaled to 0..1 (R, G, B).
pub const IMAGENET_STD: [f64; 3] = [0.229, 0.224, 0.225];

/// What went wrong reading a dataset; every variant but [`DataError::Invalid`] names the file
/// or folder.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file or folder exists but its contents are not what the format requires.
    #[error("{path}: {reason}")]
    Malformed {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// None of the accepted file names exists.
    #[error("{path}: not found ({hint})")]
    Missing {
        /// The file (or the first name tried).
        path: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// An image file could not be decoded when its batch was built.
    #[error("{path}: {reason}")]
    Decode {
        /// The image file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The options cannot work (e.g. an image size of 0).
    #[error("{0}")]
    Invalid(String),
}

/// One split of a dataset: `len()` images and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// One label per image, `0..classes`.
    pub labels: Vec<u16>,
    /// The images.
    pub pixels: Pixels,
}

/// Where a split's images are.
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    /// Decoded, image after image, each channel-major (`C x H x W` bytes).
    Memory(Vec<u8>),
    /// Image files, decoded, resized and cropped each time a batch needs them: only the paths
    /// are held, so a dataset larger than memory (ImageNet: 1.28 million images) works.
    Files(ImageFiles),
}

impl Images {
    /// In-memory images: `pixels` holds `labels.len()` images, channel-major.
    pub fn in_memory(pixels: Vec<u8>, labels: Vec<u16>) -> Self {
        Self {
            labels,
            pixels: Pixels::Memory(pixels),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// True when the images are files read batch by batch.
    pub fn on_disk(&self) -> bool {
        matches!(self.pixels, Pixels::Files(_))
    }
}

/// A dataset: its training and test splits and their shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Short name, e.g. `fashion-mnist`.
    pub name: String,
    /// Channels per image.
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Number of classes.
    pub classes: usize,
    /// The largest pixel value of the format (255, or 16 for digits).
    pub max_value: u8,
    /// Class names in label order where the format has them (an image folder's class folder
    /// names); empty otherwise.
    pub class_names: Vec<String>,
    /// Mirror training images left-right at random (probability 1/2, drawn from the trainer's
    /// seeded generator): true for image folders (ImageNet training's minimal augmentation),
    /// false for the in-memory sets (their recipes here use no augmentation).
    pub flip_train: bool,
    /// The training split (the validation split is carved from it by the trainer).
    pub train: Images,
    /// The test split (reported, never seen by the search).
    pub test: Images,
}

/// Per-channel affine normalisation: `x = (pixel * scale[c]) + shift[c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalizer {
    /// Multiplier per channel (`1 / (max_value * std)`).
    pub scale: Vec<f32>,
    /// Offset per channel (`-mean / std`).
    pub shift: Vec<f32>,
}

impl Dataset {
    /// Values per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Per-channel normalisation to mean 0 and standard deviation 1: for in-memory sets by the
    /// mean and standard deviation of the training pixels (scaled to 0..1); for image folders
    /// by ImageNet's ([`IMAGENET_MEAN`], [`IMAGENET_STD`]), as scanning every file would take
    /// longer than a short search.
    pub fn normalizer(&self) -> Normalizer {
        let Pixels::Memory(pixels) = &self.train.pixels else {
            let max = f64::from(self.max_value);
            let (scale, shift) = (0..self.channels)
                .map(|c| {
                    let (mean, std) = (IMAGENET_MEAN[c % 3], IMAGENET_STD[c % 3]);
                    ((1.0 / (max * std)) as f32, (-mean / std) as f32)
                })
                .unzip();
            return Normalizer { scale, shift };
        };
        let plane = self.height * self.width;
        let mut sum = vec![0f64; self.channels];
        let mut sq = vec![0f64; self.channels];
        for img in pixels.chunks_exact(self.image_len()) {
            for (c, ch) in img.chunks_exact(plane).enumerate() {
                for &p in ch {
                    let v = f64::from(p) / f64::from(self.max_value);
                    sum[c] += v;
                    sq[c] += v * v;
                }
            }
        }
        let n = (self.train.len() * plane).max(1) as f64;
        let mut scale = Vec::with_capacity(self.channels);
        let mut shift = Vec::with_capacity(self.channels);
        for c in 0..self.channels {
            let mean = sum[c] / n;
            let std = (sq[c] / n - mean * mean).max(1e-12).sqrt();
            scale.push((1.0 / (f64::from(self.max_value) * std)) as f32);
            shift.push((-mean / std) as f32);
        }
        Normalizer { scale, shift }
    }

    /// The images `idx` of `split` (a split of this dataset), one after the other, each
    /// channel-major at the dataset's shape; image `k` is mirrored left-right when `flip[k]`
    /// (an empty `flip`: none). Files are decoded in parallel on the current rayon pool; the
    /// bytes do not depend on the number of threads. A file that cannot be read or decoded
    /// gives the error of the first such image in `idx` order.
    pub fn read(&self, split: &Images, idx: &[usize], flip: &[bool]) -> Result<Vec<u8>, DataError> {
        let len = self.image_len();
        let flipped = |k: usize| flip.get(k).copied().unwrap_or(false);
        match &split.pixels {
            Pixels::Memory(pixels) => {
                let mut out = Vec::with_capacity(idx.len() * len);
                for (k, &i) in idx.iter().enumerate() {
                    let img = &pixels[i * len..(i + 1) * len];
                    if flipped(k) {
                        for row in img.chunks_exact(self.width) {
                            out.extend(row.iter().rev());
                        }
                    } else {
                        out.extend_from_slice(img);
                    }
                }
                Ok(out)
            }
            Pixels::Files(files) => {
                if self.channels != 3 || self.height != self.width {
                    return Err(DataError::Invalid(format!(
                        "image files give square RGB inputs, not {}x{}x{}",
                        self.channels, self.height, self.width
                    )));
                }
                let images: Vec<Result<Vec<u8>, DataError>> = idx
                    .par_iter()
                    .enumerate()
                    .map(|(k, &i)| {
                        let path = files.path(i);
                        let bytes = std::fs::read(&path).map_err(|source| DataError::Io {
                            path: path.clone(),
                            source,
                        })?;
                        let rgb = image::decode(&bytes)
                            .map_err(|reason| DataError::Decode { path, reason })?;
                        Ok(image::resize_crop(
                            &rgb,
                            files.resize_size(),
                            self.width,
                            flipped(k),
                        ))
                    })
                    .collect();
                let mut out = Vec::with_capacity(idx.len() * len);
                for img in images {
                    out.extend_from_slice(&img?);
                }
                Ok(out)
            }
        }
    }

    /// An image folder in the ImageNet layout, as torchvision's `ImageFolder` reads it:
    /// `dir/train/<class>/<images>` is the training split, `dir/val/<class>/<images>` the test
    /// split; both must have the same class folders (a missing `val` is an error). A class's
    /// label is the position of its folder name in sorted order. Images are JPEG or PNG files
    /// ([`IMAGE_EXTENSIONS`], any case; also in nested folders); hidden entries (names starting
    /// with `.`) are ignored, other files skipped, and BMP, GIF, PNM, TIFF and WebP files
    /// refused. Only the file list is read now; [`Dataset::read`] decodes a batch's images,
    /// converts them to RGB, resizes and center-crops them as `options` says.
    pub fn image_folder(dir: &Path, options: &FolderOptions) -> Result<Dataset, DataError> {
        folder::image_folder(dir, options)
    }

    /// The embedded 8x8 digits set (1,797 images, 10 classes), split deterministically: every
    /// fifth image (index % 5 == 4) is the test split (359 images), the rest training (1,438).
    pub fn digits() -> Dataset {
        let path = PathBuf::from("data/digits.csv.gz (embedded)");
        parse_digits(DIGITS_CSV_GZ, &path).expect("the embedded digits file is valid")
    }

    /// Fashion-MNIST from a folder holding the four IDX files (`train-images-idx3-ubyte`,
    /// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
    /// gzipped with a `.gz` suffix or raw). [`FASHION_MNIST_DEBIAN_DIR`] is where Debian's
    /// `dataset-fashion-mnist` puts them. Also reads MNIST, which has the same layout.
    pub fn fashion_mnist(dir: &Path) -> Result<Dataset, DataError> {
        let read = |stem: &str| read_maybe_gz(dir, stem);
        let (train_img, p1) = read("train-images-idx3-ubyte")?;
        let (train_lab, p2) = read("train-labels-idx1-ubyte")?;
        let (test_img, p3) = read("t10k-images-idx3-ubyte")?;
        let (test_lab, p4) = read("t10k-labels-idx1-ubyte")?;
        let (n_tr, h, w, pixels_tr) = parse_idx_images(&train_img, &p1)?;
        let labels_tr = parse_idx_labels(&train_lab, &p2, n_tr, 10)?;
        let (n_te, h2, w2, pixels_te) = parse_idx_images(&test_img, &p3)?;
        if (h2, w2) != (h, w) {
            return Err(DataError::Malformed {
                path: p3,
                reason: format!("images are {h2}x{w2}, the training images {h}x{w}"),
            });
        }
        let labels_te = parse_idx_labels(&test_lab, &p4, n_te, 10)?;
        Ok(Dataset {
            name: "fashion-mnist".into(),
            channels: 1,
            height: h,
            width: w,
            classes: 10,
            max_value: 255,
            class_names: Vec::new(),
            flip_train: false,
            train: Images::in_memory(pixels_tr, labels_tr),
            test: Images::in_memory(pixels_te, labels_te),
        })
    }

    /// CIFAR-10 in its official binary format, from a folder holding `data_batch_1.bin` ..
    /// `data_batch_5.bin` and `test_batch.bin` (the `cifar-10-batches-bin` folder of the official
    /// archive). Each record: one label byte, then 1,024 red, 1,024 green and 1,024 blue bytes.
    pub fn cifar10(dir: &Path) -> Result<Dataset, DataError> {
        let (mut train_px, mut train_lab) = (Vec::new(), Vec::new());
        for i in 1..=5 {
            let path = dir.join(format!("data_batch_{i}.bin"));
            read_cifar_batch(&path, &mut train_px, &mut train_lab)?;
        }
        let (mut test_px, mut test_lab) = (Vec::new(), Vec::new());
        read_cifar_batch(&dir.join("test_batch.bin"), &mut test_px, &mut test_lab)?;
        Ok(Dataset {
            name: "cifar10".into(),
            channels: 3,
            height: 32,
            width: 32,
            classes: 10,
            max_value: 255,
            class_names: Vec::new(),
            flip_train: false,
            train: Images::in_memory(train_px, train_lab),
            test: Images::in_memory(test_px, test_lab),
        })
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads `dir/stem.gz` or `dir/stem`, decompressing gzip (detected by its magic bytes).
fn read_maybe_gz(dir: &Path, stem: &str) -> Result<(Vec<u8>, PathBuf), DataError> {
    let gz = dir.join(format!("{stem}.gz"));
    let raw = dir.join(stem);
    let path = if gz.is_file() {
        gz
    } else if raw.is_file() {
        raw
    } else {
        return Err(DataError::Missing {
            path: gz,
            hint: format!(
                "expected {stem}.gz or {stem} in {}; Debian's dataset-fashion-mnist installs \
                 them in {FASHION_MNIST_DEBIAN_DIR}",
                dir.display()
            ),
        });
    };
    let bytes = std::fs::read(&path).map_err(io_err(&path))?;
    let data = gunzip_if_needed(bytes, &path)?;
    Ok((data, path))
}

fn gunzip_if_needed(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| DataError::Malformed {
                path: path.to_path_buf(),
                reason: format!("bad gzip data: {e}"),
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// An IDX image file: magic 0x00000803, then count, rows, columns (big-endian u32), then bytes.
fn parse_idx_images(b: &[u8], path: &Path) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    let bad = |reason: String| DataError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    if b.len() < 16 {
        return Err(bad(format!(
            "{} bytes, shorter than an IDX header",
            b.len()
        )));
    }
    let magic = be_u32(b, 0);
    if magic != 0x0803 {
        return Err(bad(format!(
            "magic number {magic:#010x}, expected 0x00000803 (IDX unsigned-byte images)"
        )));
    }
    let (n, h, w) = (
        be_u32(b, 4) as usize,
        be_u32(b, 8) as usize,
        be_u32(b, 12) as usize,
    );
    if n == 0 || h == 0 || w == 0 {
        return Err(bad(format!("empty shape {n}x{h}x{w}")));
    }
    let want = n
        .checked_mul(h * w)
        .ok_or_else(|| bad("shape overflows".into()))?;
    if b.len() - 16 != want {
        return Err(bad(format!(
            "header says {n} images of {h}x{w} ({want} bytes), the file holds {} bytes of pixels",
            b.len() - 16
        )));
    }
    Ok((n, h, w, b[16..].to_vec()))
}

/// An IDX label file: magic 0x00000801, count, then one byte per label.
fn parse_idx_labels(
    b: &[u8],
    path: &Path,
    expect: usize,
    classes: u8,
) -> Result<Vec<u16>, DataError> {
    let bad = |reason: String| DataError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    if b.len() < 8 {
        return Err(bad(format!(
            "{} bytes, shorter than an IDX header",
            b.len()
        )));
    }
    let magic = be_u32(b, 0);
    if magic != 0x0801 {
        return Err(bad(format!(
            "magic number {magic:#010x}, expected 0x00000801 (IDX unsigned-byte labels)"
        )));
    }
    let n = be_u32(b, 4) as usize;
    if n != expect || b.len() - 8 != n {
        return Err(bad(format!(
            "{n} labels in the header, {} in the file, {expect} images",
            b.len() - 8
        )));
    }
    if let Some(i) = b[8..].iter().position(|&l| l >= classes) {
        return Err(bad(format!(
            "label {} of item {i} is not below {classes}",
            b[8 + i]
        )));
    }
    Ok(b[8..].iter().map(|&l| u16::from(l)).collect())
}

const CIFAR_RECORD: usize = 1 + 3 * 32 * 32;

fn read_cifar_batch(
    path: &Path,
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u16>,
) -> Result<(), DataError> {
    if !path.is_file() {
        return Err(DataError::Missing {
            path: path.to_path_buf(),
            hint: "CIFAR-10 binary version: the folder cifar-10-batches-bin with \
                   data_batch_1.bin .. data_batch_5.bin and test_batch.bin"
                .into(),
        });
    }
    let b = std::fs::read(path).map_err(io_err(path))?;
    if b.is_empty() || b.len() % CIFAR_RECORD != 0 {
        return Err(DataError::Malformed {
            path: path.to_path_buf(),
            reason: format!(
                "{} bytes is not a whole number of {CIFAR_RECORD}-byte records",
                b.len()
            ),
        });
    }
    for (i, rec) in b.chunks_exact(CIFAR_RECORD).enumerate() {
        if rec[0] >= 10 {
            return Err(DataError::Malformed {
                path: path.to_path_buf(),
                reason: format!("record {i} has label {}, not below 10", rec[0]),
            });
        }
        labels.push(u16::from(rec[0]));
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(())
}

fn parse_digits(gz: &[u8], path: &Path) -> Result<Dataset, DataError> {
    let bytes = gunzip_if_needed(gz.to_vec(), path)?;
    let text = String::from_utf8(bytes).map_err(|_| DataError::Malformed {
        path: path.to_path_buf(),
        reason: "not UTF-8 text".into(),
    })?;
    // (pixels, labels) of the training and test splits.
    let mut train = (Vec::new(), Vec::new());
    let mut test = (Vec::new(), Vec::new());
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let vals: Result<Vec<u8>, _> = line.split(',').map(|v| v.trim().parse::<u8>()).collect();
        let vals = match vals {
            Ok(v) if v.len() == 65 && v[..64].iter().all(|&p| p <= 16) && v[64] < 10 => v,
            _ => {
                return Err(DataError::Malformed {
                    path: path.to_path_buf(),
                    reason: format!(
                        "line {}: expected 64 values 0..=16 and a label 0..=9",
                        i + 1
                    ),
                });
            }
        };
        let split = if i % 5 == 4 { &mut test } else { &mut train };
        split.0.extend_from_slice(&vals[..64]);
        split.1.push(u16::from(vals[64]));
    }
    Ok(Dataset {
        name: "digits".into(),
        channels: 1,
        height: 8,
        width: 8,
        classes: 10,
        max_value: 16,
        class_names: Vec::new(),
        flip_train: false,
        train: Images::in_memory(train.0, train.1),
        test: Images::in_memory(test.0, test.1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx_images(n: u32, h: u32, w: u32, extra: usize) -> Vec<u8> {
        let mut b = vec![0, 0, 8, 3];
        for v in [n, h, w] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend(std::iter::repeat_n(7u8, (n * h * w) as usize + extra));
        b
    }

    #[test]
    fn digits_has_the_published_size() {
        let d = Dataset::digits();
        assert_eq!(d.train.len() + d.test.len(), 1797);
        assert_eq!(d.test.len(), 359);
        let Pixels::Memory(pixels) = &d.train.pixels else {
            panic!("in memory")
        };
        assert_eq!(pixels.len(), d.train.len() * 64);
        // First row of the file: label 0.
        assert_eq!(d.train.labels[0], 0);
        // Class sizes of the UCI optdigits test set (its documentation's class distribution).
        let counts = (0..10)
            .map(|c| {
                let n = |s: &Images| s.labels.iter().filter(|&&l| l == c).count();
                n(&d.train) + n(&d.test)
            })
            .collect::<Vec<_>>();
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    }

    #[test]
    fn idx_reader_checks_magic_and_sizes() {
        let p = Path::new("x");
        let (n, h, w, px) = parse_idx_images(&idx_images(3, 2, 4, 0), p).unwrap();
        assert_eq!((n, h, w, px.len()), (3, 2, 4, 24));
        let e = parse_idx_images(&idx_images(3, 2, 4, 1), p).unwrap_err();
        assert!(e.to_string().contains("holds 25 bytes"), "{e}");
        let mut bad = idx_images(3, 2, 4, 0);
        bad[3] = 1;
        assert!(
            parse_idx_images(&bad, p)
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
        let labels = [0, 0, 8, 1, 0, 0, 0, 2, 3, 12];
        let e = parse_idx_labels(&labels, p, 2, 10).unwrap_err();
        assert!(e.to_string().contains("label 12 of item 1"), "{e}");
        let e = parse_idx_labels(&labels[..9], p, 2, 10).unwrap_err();
        assert!(
            e.to_string()
                .contains("2 labels in the header, 1 in the file"),
            "{e}"
        );
    }

    #[test]
    fn missing_and_malformed_files_are_errors_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("seminas-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = Dataset::fashion_mnist(&dir).unwrap_err();
        assert!(matches!(e, DataError::Missing { .. }));
        assert!(e.to_string().contains("train-images-idx3-ubyte.gz"), "{e}");
        for stem in ["train-images", "train-labels", "t10k-images", "t10k-labels"] {
            let kind = if stem.ends_with("images") {
                "idx3"
            } else {
                "idx1"
            };
            std::fs::write(dir.join(format!("{stem}-{kind}-ubyte")), b"garbage").unwrap();
        }
        let e = Dataset::fashion_mnist(&dir).unwrap_err();
        assert!(e.to_string().contains("shorter than an IDX header"), "{e}");
        std::fs::write(dir.join("data_batch_1.bin"), vec![0u8; 100]).unwrap();
        let e = Dataset::cifar10(&dir).unwrap_err();
        assert!(e.to_string().contains("data_batch_1.bin: 100 bytes"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fashion_mnist_from_debian_when_installed() {
        let dir = Path::new(FASHION_MNIST_DEBIAN_DIR);
        if !dir.join("train-images-idx3-ubyte.gz").is_file() {
            eprintln!("skipped: {FASHION_MNIST_DEBIAN_DIR} not installed");
            return;
        }
        let d = Dataset::fashion_mnist(dir).unwrap();
        assert_eq!(
            (d.train.len(), d.test.len(), d.height, d.width),
            (60_000, 10_000, 28, 28)
        );
        // Fashion-MNIST is balanced: 6,000 training images per class.
        assert_eq!(d.train.labels.iter().filter(|&&l| l == 9).count(), 6000);
    }
}
