//! A search space and its benchmark table chosen by options (`seminas search` and `bench`
//! flatten [`ProblemArgs`] into their command lines): the embedded NAS-Bench-201 table or a
//! user's, the embedded NAS-Bench-101 sample, the official NAS-Bench-101 file, or a
//! categorical space with its table; or the space alone, for evaluators that train.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::nb101::Nb101Error;
use super::nb101::dataset::{Nb101Benchmark, Nb101Dataset, QueryMode};
use super::nb101::embedded::{nb101_20k_benchmark, nb101_20k_space};
use super::nb201::{
    NB201_COST, NB201_OBJECTIVE, NB201_REPORT, Nb201Dataset, nb201_dataset_benchmark,
};
use super::{FidelityColumn, Table, TableError, TabularBenchmark};
use crate::evaluator::options::DatasetName;
use crate::settings::SettingError;
use crate::space::nb101::Nb101Space;
use crate::space::{
    AnyOf, AnySpace, CategoricalSpace, MobileSkeleton, MobileSpace, Nb201Space, SpaceKind,
};
use crate::space::{MobileError, SpaceError};

/// Where architectures come from and how they are evaluated.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Space and table")]
pub struct ProblemArgs {
    /// Search space: `nb201` (embedded NAS-Bench-201 benchmark, see --dataset), `nb101-20k`
    /// (embedded 20,001-cell NAS-Bench-101 sample), `nb101` (the official NAS-Bench-101 file,
    /// given with --nb101-file), `mobile` (the paper's ImageNet MobileNet-style space; needs
    /// --evaluator) or a TOML file defining a categorical space.
    #[arg(
        long,
        default_value = "nb201",
        value_name = "nb201|nb101-20k|nb101|mobile|FILE.toml"
    )]
    pub space: SpaceKind,
    /// The data set architectures are measured on. NAS-Bench-201's embedded tables: cifar10
    /// (the default), cifar100 or imagenet16-120. The built-in trainer (--evaluator train or
    /// supernet): fashion-mnist (IDX files; the default), cifar10 (official binary batches),
    /// digits (embedded, tiny) or imagefolder (DIR/train/CLASS/*.jpg|png and
    /// DIR/val/CLASS/..., the ImageNet layout, read from disk batch by batch).
    #[arg(long, value_enum, value_name = "NAME")]
    pub dataset: Option<DatasetName>,
    /// The settings of the `mobile` space.
    #[command(flatten)]
    pub mobile: MobileArgs,
    /// The official NAS-Bench-101 file (nasbench_only108.tfrecord or nasbench_full.tfrecord).
    #[arg(long, value_name = "FILE")]
    pub nb101_file: Option<PathBuf>,
    /// NAS-Bench-101: epoch budget queried, one of 4, 12, 36 or 108.
    #[arg(long, default_value_t = 108)]
    pub nb101_epochs: u32,
    /// NAS-Bench-101: queries return the mean of the three runs instead of one at random.
    #[arg(long)]
    pub nb101_mean: bool,
    /// CSV table of measured architectures (one column per position of a categorical space, or
    /// an `arch` column of cell strings for nb201).
    #[arg(long, value_name = "FILE.csv")]
    pub table: Option<PathBuf>,
    /// Table column the search maximises [nb201: cifar10_valid_valid_acc, or the --dataset's
    /// validation column].
    #[arg(long, value_name = "COL")]
    pub objective: Option<String>,
    /// The value reported in results, never seen by the search: a table column [nb201:
    /// cifar10_test_acc, or the --dataset's test column], or with --evaluator COMMAND a metric of the command's result (e.g.
    /// test_acc). `--report-metric` is another name for it.
    #[arg(long, value_name = "NAME", visible_alias = "report-metric")]
    pub report: Option<String>,
    /// Table column holding each evaluation's cost in seconds (optional).
    #[arg(long, value_name = "COL")]
    pub cost: Option<String>,
    /// A fidelity of --table: the objective after STEP steps (epochs) is column COL, and
    /// optionally what training to that step cost is column COST_COL (otherwise STEP/max of
    /// --cost). Repeat for each fidelity; the largest step's column is the objective (it may
    /// be given alone with --objective). E.g. --fidelity 12=val_12ep --fidelity 200=val_acc.
    #[arg(long, value_name = "STEP=COL[,COST_COL]")]
    pub fidelity: Vec<FidelityColumn>,
}

/// Settings of the `mobile` space (also used by `seminas mobile`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Space and table")]
pub struct MobileArgs {
    /// mobile: only architectures of at most this many million multiply-adds are proposed
    /// (the paper's bound is 600); at least the cheapest architecture's (182.48 at the
    /// defaults), finite.
    #[arg(long, value_name = "M")]
    pub max_mflops: Option<f64>,
    /// mobile: channel widths the FLOPs and the exported network use: `train` (the widths the
    /// paper trains found networks at; its 600M bound applies there) or `search` (the
    /// supernet's, ProxylessNAS-mobile's).
    #[arg(long, default_value = "train", value_parser = ["train", "search"])]
    pub widths: String,
    /// mobile: input resolution, from 1 to 2,048.
    #[arg(long, default_value_t = 224)]
    pub resolution: usize,
    /// mobile: classes of the classifier, from 1 to 1,000,000.
    #[arg(long, default_value_t = 1000)]
    pub num_classes: usize,
}

impl MobileArgs {
    /// The skeleton the arguments describe.
    pub fn skeleton(&self) -> MobileSkeleton {
        let base = match self.widths.as_str() {
            "search" => MobileSkeleton::paper_search(),
            _ => MobileSkeleton::paper_train(),
        };
        MobileSkeleton {
            resolution: self.resolution,
            num_classes: self.num_classes,
            ..base
        }
    }

    /// The space the arguments describe.
    pub fn space(&self) -> Result<MobileSpace, ProblemError> {
        use crate::settings::in_range;
        use crate::space::mobile::{MAX_CLASSES, MAX_RESOLUTION};
        in_range("resolution", self.resolution, 1, MAX_RESOLUTION)?;
        in_range("num-classes", self.num_classes, 1, MAX_CLASSES)?;
        let space = MobileSpace::new(self.skeleton())?;
        Ok(match self.max_mflops {
            Some(limit) => {
                let cheapest = space.cost(&space.cheapest()).mflops();
                space.with_max_mflops(crate::settings::max_mflops(limit, cheapest)?)?
            }
            None => space,
        })
    }

    /// Refuses the mobile settings unless the space is `mobile`.
    fn only_mobile(&self, space: &SpaceKind) -> Result<(), crate::settings::SettingError> {
        const WHERE: &str = "to --space mobile only";
        if *space == SpaceKind::Mobile {
            return Ok(());
        }
        if let Some(m) = self.max_mflops {
            return Err(crate::settings::not_here(
                "max-mflops",
                crate::settings::number(m),
                WHERE,
            ));
        }
        if self.widths != "train" {
            return Err(crate::settings::not_here("widths", &self.widths, WHERE));
        }
        if self.resolution != 224 {
            return Err(crate::settings::not_here(
                "resolution",
                self.resolution,
                WHERE,
            ));
        }
        if self.num_classes != 1000 {
            return Err(crate::settings::not_here(
                "num-classes",
                self.num_classes,
                WHERE,
            ));
        }
        Ok(())
    }
}

/// Why the options do not make a problem.
#[derive(Debug, thiserror::Error)]
pub enum ProblemError {
    /// A setting out of its range, or given where it does not apply.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// A space definition file that cannot be read.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// Mobile-space settings that make no space.
    #[error(transparent)]
    Mobile(#[from] MobileError),
    /// A table that cannot be read or lacks a column.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The NAS-Bench-101 file cannot be read.
    #[error(transparent)]
    Nb101(#[from] Nb101Error),
    /// A file that cannot be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Options that do not go together (the message says how to mend them).
    #[error("{0}")]
    Invalid(String),
}

/// A space together with the evaluator chosen for it.
// Built once per run: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Problem {
    /// A space with a table: NAS-Bench-201's, the embedded NAS-Bench-101 sample's, or the
    /// user's for a categorical space.
    Table(AnySpace, TabularBenchmark),
    /// NAS-Bench-101 from the official file.
    Nb101File(Nb101Space, Box<Nb101Benchmark>),
}

fn open(path: &Path) -> Result<std::fs::File, ProblemError> {
    std::fs::File::open(path).map_err(|source| ProblemError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens a table, refusing one whose search would not fit in this process's memory.
fn open_table(path: &Path) -> Result<std::fs::File, ProblemError> {
    let file = open(path)?;
    let bytes = file.metadata().map_or(0, |m| m.len());
    if let Some(why) = super::table::too_large_for_memory(bytes) {
        return Err(ProblemError::Invalid(format!("{}: {why}", path.display())));
    }
    Ok(file)
}

impl ProblemArgs {
    /// The space the arguments name, without loading any benchmark (`--dataset` is then the
    /// evaluator's to read).
    pub fn space_only(&self) -> Result<AnySpace, ProblemError> {
        if !(self.table.is_none() && self.objective.is_none() && self.fidelity.is_empty()) {
            return Err(ProblemError::Invalid(
                "--table/--objective choose a benchmark table; with --evaluator the evaluator \
             measures the architectures"
                    .to_string(),
            ));
        }
        self.mobile.only_mobile(&self.space)?;
        Ok(match &self.space {
            SpaceKind::Mobile => AnyOf::Mobile(self.mobile.space()?),
            SpaceKind::Nb201 => AnyOf::Nb201(Nb201Space::new()),
            SpaceKind::Nb101Sample => AnyOf::Nb101(nb101_20k_space()),
            SpaceKind::Nb101 => AnyOf::Nb101(Nb101Space::new()),
            SpaceKind::Toml(path) => AnyOf::Categorical(CategoricalSpace::from_toml_file(path)?),
        })
    }

    /// Builds the space and evaluator the arguments describe.
    pub fn problem(&self) -> Result<Problem, ProblemError> {
        self.mobile.only_mobile(&self.space)?;
        if self.space != SpaceKind::Nb201 {
            self.no_dataset("to NAS-Bench-201's embedded tables and the built-in trainer")?;
        }
        let path = match &self.space {
            SpaceKind::Mobile => {
                return Err(ProblemError::Invalid(
                    "--space mobile has no benchmark table: evaluate its architectures with \
                 --evaluator COMMAND (the command gets each network as JSON)"
                        .to_string(),
                ));
            }
            SpaceKind::Nb201 => return self.nb201(),
            SpaceKind::Nb101Sample => return self.nb101_sample(),
            SpaceKind::Nb101 => return self.nb101_file(),
            SpaceKind::Toml(path) => path,
        };
        let space = CategoricalSpace::from_toml_file(path)?;
        let Some(table_path) = &self.table else {
            return Err(ProblemError::Invalid(
                "a categorical space needs --table FILE.csv with measured architectures (one \
                 column per position)"
                    .to_string(),
            ));
        };
        let objective = self.objective.as_deref().or(self.fidelity_objective());
        let (Some(objective), Some(report)) = (objective, &self.report) else {
            return Err(ProblemError::Invalid(
                "with --table, name the columns: --objective COL --report COL".to_string(),
            ));
        };
        let name = table_path.display().to_string();
        let table = Table::read_categorical(&name, open_table(table_path)?, &space)?;
        let bench =
            TabularBenchmark::new(Arc::new(table), objective, report, self.cost.as_deref())?
                .with_fidelities(&self.fidelity)?;
        Ok(Problem::Table(AnyOf::Categorical(space), bench))
    }

    /// Refuses `--dataset` where nothing reads it (`applies`: where it does).
    pub fn no_dataset(&self, applies: &str) -> Result<(), SettingError> {
        match self.dataset {
            Some(d) => Err(crate::settings::not_here("dataset", d.name(), applies)),
            None => Ok(()),
        }
    }

    /// The NAS-Bench-201 table `--dataset` names.
    fn nb201_dataset(&self) -> Result<Nb201Dataset, ProblemError> {
        Ok(match self.dataset {
            None | Some(DatasetName::Cifar10) => Nb201Dataset::Cifar10,
            Some(DatasetName::Cifar100) => Nb201Dataset::Cifar100,
            Some(DatasetName::Imagenet16_120) => Nb201Dataset::ImageNet16_120,
            Some(other) => {
                return Err(crate::settings::not_here(
                    "dataset",
                    other.name(),
                    "to the built-in trainer (--evaluator train or supernet); NAS-Bench-201's \
                     embedded tables are cifar10, cifar100 and imagenet16-120",
                )
                .into());
            }
        })
    }

    /// `--space nb201`: the embedded table of `--dataset`, or the user's.
    fn nb201(&self) -> Result<Problem, ProblemError> {
        let space = Nb201Space::new();
        let dataset = self.nb201_dataset()?;
        // A user's table is read with CIFAR-10's column names unless told otherwise.
        let (objective, report) = match self.table {
            None => (dataset.objective(), dataset.report()),
            Some(_) => (NB201_OBJECTIVE, NB201_REPORT),
        };
        let objective = (self.objective.as_deref())
            .or(self.fidelity_objective())
            .unwrap_or(objective);
        let report = self.report.as_deref().unwrap_or(report);
        let bench = match &self.table {
            None => {
                if self.cost.is_some() {
                    return Err(ProblemError::Invalid(match dataset.cost() {
                        Some(_) => format!(
                            "--cost names a column of --table; the embedded NAS-Bench-201 \
                             table's cost is its {NB201_COST} column"
                        ),
                        None => format!(
                            "--cost names a column of --table; the embedded NAS-Bench-201 \
                             {dataset} table has no training times"
                        ),
                    }));
                }
                if !(self.fidelity.is_empty()) {
                    return Err(ProblemError::Invalid(
                        "--fidelity names columns of --table; the embedded NAS-Bench-201 table \
                         has 200-epoch results only"
                            .to_string(),
                    ));
                }
                nb201_dataset_benchmark(dataset, objective, report)?
            }
            Some(path) => {
                self.no_dataset("to NAS-Bench-201's embedded tables (--table names its columns)")?;
                let name = path.display().to_string();
                let table = Table::read_with_text_column(&name, open_table(path)?, &space, "arch")?;
                let cost = self.cost.as_deref().or_else(|| {
                    table
                        .metric_names()
                        .iter()
                        .any(|m| m == NB201_COST)
                        .then_some(NB201_COST)
                });
                TabularBenchmark::new(Arc::new(table), objective, report, cost)?
                    .with_fidelities(&self.fidelity)?
            }
        };
        Ok(Problem::Table(AnyOf::Nb201(space), bench))
    }

    /// `--space nb101-20k`: the embedded sample.
    fn nb101_sample(&self) -> Result<Problem, ProblemError> {
        if !(self.table.is_none()
            && self.objective.is_none()
            && self.report.is_none()
            && self.cost.is_none()
            && self.fidelity.is_empty())
        {
            return Err(ProblemError::Invalid(
                "nb101-20k is an embedded table (with its fidelities, 4/12/36/108 epochs): \
                 --table/--objective/--report/--cost/--fidelity do not apply"
                    .to_string(),
            ));
        }
        Ok(Problem::Table(
            AnyOf::Nb101(nb101_20k_space()),
            nb101_20k_benchmark(),
        ))
    }

    /// `--space nb101`: the official file.
    fn nb101_file(&self) -> Result<Problem, ProblemError> {
        let Some(file) = &self.nb101_file else {
            return Err(ProblemError::Invalid(
                "--space nb101 needs --nb101-file PATH (the official nasbench_only108.tfrecord); \
                     without it, try --space nb101-20k"
                    .to_string(),
            ));
        };
        let data = Nb101Dataset::load(file)?;
        let mode = if self.nb101_mean {
            QueryMode::Mean
        } else {
            QueryMode::Sample
        };
        let bench = Nb101Benchmark::new(
            Arc::new(data),
            self.nb101_epochs,
            mode,
            crate::rng::rng_for(0, "evaluator"),
        )?;
        Ok(Problem::Nb101File(Nb101Space::new(), Box::new(bench)))
    }

    /// The objective column that the largest `--fidelity` step names, if any.
    fn fidelity_objective(&self) -> Option<&str> {
        self.fidelity
            .iter()
            .max_by_key(|f| f.step)
            .map(|f| f.column.as_str())
    }
}
