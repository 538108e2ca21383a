//! Image-folder datasets: the ImageNet layout as torchvision's `ImageFolder` reads it.
//!
//! `DIR/train/<class>/<images>` and `DIR/val/<class>/<images>`; a class's index is the position
//! of its folder name in sorted (byte) order; images may sit in nested folders under their class
//! folder. Only the list of files is read here: images are decoded when a batch is built
//! ([`super::Dataset::read`]).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{DataError, Dataset, Images, Pixels};

/// File extensions read as images (any letter case). The format is told by the file's
/// signature, so a PNG named `.JPEG` (ImageNet has one) is still read.
pub const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Image formats torchvision would read that this crate cannot decode: refused rather than
/// skipped, so that a class is never silently trained on part of its images.
const UNSUPPORTED: [&str; 7] = ["bmp", "gif", "pgm", "ppm", "tif", "tiff", "webp"];

/// Folders nested deeper than this under a class folder are refused (a symbolic-link loop).
const MAX_DEPTH: usize = 16;

/// How an image folder's images become network inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderOptions {
    /// Side of the square network input `R` (default 32, for CPU runs; the paper's ImageNet
    /// search uses 224).
    pub image_size: usize,
    /// The center crop's share of the resized image's shorter side: images are resized so
    /// that their shorter side is `round(R / crop_fraction)`, then center-cropped to `R x R`
    /// (default 0.875: 256 then 224, ImageNet's usual evaluation preprocessing; 1.0 resizes
    /// the shorter side to `R` and crops only the longer one).
    pub crop_fraction: f64,
}

impl Default for FolderOptions {
    fn default() -> Self {
        Self {
            image_size: 32,
            crop_fraction: 0.875,
        }
    }
}

impl FolderOptions {
    /// The shorter side before the crop, `round(R / crop_fraction)`.
    pub fn resize_size(&self) -> Result<usize, DataError> {
        if self.image_size == 0 || !(self.crop_fraction > 0.0 && self.crop_fraction <= 1.0) {
            return Err(DataError::Invalid(format!(
                "image size {} and crop fraction {}: the size must be positive and the \
                 fraction in (0, 1]",
                self.image_size, self.crop_fraction
            )));
        }
        Ok(((self.image_size as f64 / self.crop_fraction).round() as usize).max(self.image_size))
    }
}

/// The image files of one split, held compactly: paths relative to the split's folder in one
/// string (ImageNet's 1.28 million training paths take about 50 MB).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFiles {
    root: PathBuf,
    names: String,
    ends: Vec<usize>,
    resize: usize,
}

impl ImageFiles {
    /// Number of files.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there is no file.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The path of file `i`, relative to the split's folder (`<class>/<name>`).
    pub fn relative(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.names[start..self.ends[i]]
    }

    /// The full path of file `i`.
    pub fn path(&self, i: usize) -> PathBuf {
        self.root.join(self.relative(i))
    }

    /// The shorter side images are resized to before the center crop.
    pub fn resize_size(&self) -> usize {
        self.resize
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn malformed(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Names of the visible entries of `dir` (hidden ones, starting with `.`, are skipped: macOS's
/// `._name.jpg` files and `.ipynb_checkpoints` folders are not images or classes), each with
/// whether it is a folder (symbolic links followed).
fn entries(dir: &Path) -> Result<Vec<(String, bool)>, DataError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(malformed(&path, "the name is not UTF-8"));
        };
        if name.starts_with('.') {
            continue;
        }
        let is_dir = std::fs::metadata(&path).map_err(io_err(&path))?.is_dir();
        out.push((name, is_dir));
    }
    out.sort();
    Ok(out)
}

/// The sorted class folder names of a split folder.
fn classes(split: &Path) -> Result<Vec<String>, DataError> {
    let classes: Vec<String> = entries(split)?
        .into_iter()
        .filter_map(|(name, is_dir)| is_dir.then_some(name))
        .collect();
    if classes.is_empty() {
        return Err(malformed(
            split,
            "no class folder (expected one subfolder of images per class)",
        ));
    }
    Ok(classes)
}

/// Appends the image files under `dir` (relative to the split folder, as `prefix/name`) in
/// sorted order, descending into subfolders.
fn collect(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) -> Result<(), DataError> {
    if depth > MAX_DEPTH {
        return Err(malformed(
            dir,
            format!("folders nested more than {MAX_DEPTH} deep (a symbolic-link loop?)"),
        ));
    }
    for (name, is_dir) in entries(dir)? {
        let rel = format!("{prefix}/{name}");
        if is_dir {
            collect(&dir.join(&name), &rel, depth + 1, out)?;
            continue;
        }
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some(e) if IMAGE_EXTENSIONS.contains(&e) => out.push(rel),
            Some(e) if UNSUPPORTED.contains(&e) => {
                return Err(malformed(
                    &dir.join(&name),
                    "unsupported image format (only JPEG and PNG files are read): convert \
                     or remove it",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The files and labels of a split folder whose classes are `classes`.
fn split_images(split: &Path, classes: &[String], resize: usize) -> Result<Images, DataError> {
    let per_class: Vec<Result<Vec<String>, DataError>> = classes
        .par_iter()
        .map(|class| {
            let mut files = Vec::new();
            let dir = split.join(class);
            collect(&dir, class, 0, &mut files)?;
            if files.is_empty() {
                return Err(malformed(
                    &dir,
                    format!(
                        "no image file (extensions {})",
                        IMAGE_EXTENSIONS.map(|e| format!(".{e}")).join(", ")
                    ),
                ));
            }
            Ok(files)
        })
        .collect();
    let mut names = String::new();
    let mut ends = Vec::new();
    let mut labels = Vec::new();
    // The first error in class order, whatever the threads.
    for (label, files) in per_class.into_iter().enumerate() {
        for f in files? {
            names.push_str(&f);
            ends.push(names.len());
            labels.push(label as u16);
        }
    }
    Ok(Images {
        labels,
        pixels: Pixels::Files(ImageFiles {
            root: split.to_path_buf(),
            names,
            ends,
            resize,
        }),
    })
}

/// Lists `dir/train` and `dir/val` (see [`Dataset::image_folder`]).
pub(super) fn image_folder(dir: &Path, options: &FolderOptions) -> Result<Dataset, DataError> {
    let resize = options.resize_size()?;
    let layout = "the ImageNet layout: DIR/train/<class>/<images> and DIR/val/<class>/<images>";
    let (train_dir, val_dir) = (dir.join("train"), dir.join("val"));
    for d in [&train_dir, &val_dir] {
        if !d.is_dir() {
            let extra = if d == &val_dir {
                "; ImageNet's validation images come in one folder and must first be moved \
                 into class folders (e.g. by the usual valprep.sh)"
            } else {
                ""
            };
            return Err(DataError::Missing {
                path: d.clone(),
                hint: format!("{layout}{extra}"),
            });
        }
    }
    let names = classes(&train_dir)?;
    if names.len() > usize::from(u16::MAX) + 1 {
        return Err(malformed(
            &train_dir,
            format!("{} classes, more than 65,536", names.len()),
        ));
    }
    let val_names = classes(&val_dir)?;
    if val_names != names {
        let missing: Vec<&str> = names
            .iter()
            .filter(|n| !val_names.contains(n))
            .map(String::as_str)
            .collect();
        let extra: Vec<&str> = val_names
            .iter()
            .filter(|n| !names.contains(n))
            .map(String::as_str)
            .collect();
        let few = |v: &[&str]| {
            let mut s = v.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            if v.len() > 5 {
                s.push_str(&format!(" and {} more", v.len() - 5));
            }
            s
        };
        return Err(malformed(
            &val_dir,
            format!(
                "its class folders differ from those of {}: missing {} [{}], not in train {} [{}]",
                train_dir.display(),
                missing.len(),
                few(&missing),
                extra.len(),
                few(&extra)
            ),
        ));
    }
    let train = split_images(&train_dir, &names, resize)?;
    let test = split_images(&val_dir, &names, resize)?;
    Ok(Dataset {
        name: "imagefolder".into(),
        channels: 3,
        height: options.image_size,
        width: options.image_size,
        classes: names.len(),
        max_value: 255,
        class_names: names,
        flip_train: true,
        train,
        test,
    })
}

#[cfg(test)]
mod tests;
