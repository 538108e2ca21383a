//! A resumable bench directory (`seminas bench --out DIR`): `bench-settings.json` records
//! what determines a run's result (the seminas build, the space and table, the algorithm
//! settings), each finished run is appended to `runs.csv` at once, and a bench started again
//! on the same directory with the same settings runs only what is missing.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::output::DERIVED_FILES;
use super::{BudgetUnit, RunResult, runs_file};
use crate::report::write_atomic;

/// What must be equal for runs already in a bench directory to be continued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSettings {
    /// The seminas version.
    pub seminas: String,
    /// Size and FNV-1a hash of the seminas executable: another build may search differently.
    pub binary: String,
    /// The space, table and columns (the command-line arguments that choose them).
    pub space: String,
    /// The algorithm settings.
    pub algorithm_settings: String,
}

impl BenchSettings {
    /// The settings of a bench run by this executable.
    pub fn of_this_build(space: String, algorithm_settings: String) -> std::io::Result<Self> {
        Ok(Self {
            seminas: env!("CARGO_PKG_VERSION").to_string(),
            binary: binary_fingerprint()?,
            space,
            algorithm_settings,
        })
    }

    /// The name of the first setting that differs from `other`.
    pub fn first_difference(&self, other: &Self) -> Option<&'static str> {
        if self.seminas != other.seminas {
            Some("seminas version")
        } else if self.binary != other.binary {
            Some("seminas build (the executable changed)")
        } else if self.space != other.space {
            Some("space, table or columns")
        } else if self.algorithm_settings != other.algorithm_settings {
            Some("algorithm settings")
        } else {
            None
        }
    }
}

/// Size and FNV-1a hash of the running executable.
fn binary_fingerprint() -> std::io::Result<String> {
    let exe = std::env::current_exe()?;
    let bytes = std::fs::read(&exe)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Ok(format!("{} bytes, fnv1a {h:016x}", bytes.len()))
}

/// Why a bench directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BenchDirError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `bench-settings.json` is not a settings file.
    #[error("{path} is not a bench settings file: {source}")]
    Settings {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The directory holds runs of other settings.
    #[error(
        "{dir} holds runs of a bench with another {what} (see {settings}); they cannot be \
         continued: remove the directory (or its runs.csv) to start over, or choose another \
         --out"
    )]
    OtherSettings {
        /// The directory.
        dir: PathBuf,
        /// The first setting that differs.
        what: &'static str,
        /// Its settings file.
        settings: PathBuf,
    },
    /// `runs.csv` is malformed (the message names the line and field).
    #[error("{0}")]
    Runs(String),
}

/// A bench directory being filled: `runs.csv` open for appending.
pub struct BenchDir {
    runs_path: PathBuf,
    /// The file and the first error appending to it (no more is written after one).
    runs: Mutex<(std::fs::File, Option<std::io::Error>)>,
}

/// What a prepared directory already held.
pub struct Finished {
    /// Its runs, each (algorithm, budget, seed) once.
    pub runs: Vec<RunResult>,
    /// True when `runs.csv` ended in an unfinished line (a killed bench): that run is run
    /// again.
    pub truncated: bool,
}

impl BenchDir {
    /// Prepares `dir` for a bench with `settings`: returns the runs it already holds (a
    /// bench with the same settings was stopped or finished there), or refuses a directory
    /// holding runs of other settings. Leaves `runs.csv` holding those runs (an unfinished
    /// last line dropped), open to be appended to, and removes the files derived from it,
    /// which the bench rewrites when it is done.
    pub fn prepare(
        dir: &Path,
        settings: &BenchSettings,
        unit: BudgetUnit,
    ) -> Result<(Self, Finished), BenchDirError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BenchDirError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let settings_path = dir.join("bench-settings.json");
        let runs_path = dir.join("runs.csv");
        let mut finished = Finished {
            runs: Vec::new(),
            truncated: false,
        };
        if settings_path.exists() {
            let text = std::fs::read_to_string(&settings_path).map_err(io(&settings_path))?;
            let stored: BenchSettings =
                serde_json::from_str(&text).map_err(|source| BenchDirError::Settings {
                    path: settings_path.clone(),
                    source,
                })?;
            if let Some(what) = settings.first_difference(&stored) {
                return Err(BenchDirError::OtherSettings {
                    dir: dir.to_path_buf(),
                    what,
                    settings: settings_path,
                });
            }
            if runs_path.exists() {
                let text = std::fs::read_to_string(&runs_path).map_err(io(&runs_path))?;
                let parsed = runs_file::parse(&runs_path.display().to_string(), &text)
                    .map_err(BenchDirError::Runs)?;
                let mut seen = HashSet::new();
                finished = Finished {
                    runs: parsed
                        .runs
                        .into_iter()
                        .filter(|r| seen.insert((r.algo.clone(), r.budget, r.seed)))
                        .collect(),
                    truncated: parsed.truncated,
                };
            }
        }
        let json = serde_json::to_string_pretty(settings).expect("strings serialise") + "\n";
        write_atomic(&settings_path, json.as_bytes()).map_err(io(&settings_path))?;
        for name in DERIVED_FILES {
            let path = dir.join(name);
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(io(&path)(e));
            }
        }
        let mut text = format!("{}\n", runs_file::header(unit));
        for r in &finished.runs {
            text.push_str(&runs_file::line(r));
        }
        write_atomic(&runs_path, text.as_bytes()).map_err(io(&runs_path))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&runs_path)
            .map_err(io(&runs_path))?;
        let runs = Mutex::new((file, None));
        Ok((Self { runs_path, runs }, finished))
    }

    /// Appends a finished run to `runs.csv` at once (after a failed write, nothing more:
    /// [`BenchDir::close`] reports it).
    pub fn append(&self, r: &RunResult) {
        let mut j = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if j.1.is_none() {
            let line = runs_file::line(r);
            if let Err(e) = j.0.write_all(line.as_bytes()).and_then(|()| j.0.flush()) {
                j.1 = Some(e);
            }
        }
    }

    /// Closes `runs.csv`: the first failed append, if any.
    pub fn close(self) -> Result<(), BenchDirError> {
        let (_, error) = self.runs.into_inner().unwrap_or_else(|e| e.into_inner());
        match error {
            Some(source) => Err(BenchDirError::Io {
                path: self.runs_path,
                source,
            }),
            None => Ok(()),
        }
    }
}
