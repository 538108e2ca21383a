//! The embedded `nb101-20k` benchmark: 20,001 NAS-Bench-101 cells (the first 20,001 module
//! hashes in sorted order, a uniform 4.7% sample) with one training run each and validation
//! accuracies only (source and licence in data/NOTICE).
//!
//! Embedding: `data/nb101_20k.csv.gz` (about 0.9 MB), the published table with each cell's
//! graph (recovered by enumerating the space and hashing, see [`build_20k_csv`]) added as a
//! `seq` column: its 27 SemiNAS tokens as digits (a 7-vertex form that prunes to the cell).
//! Loading parses it once per process (about 0.1 s; the graphs are not re-hashed at load, the
//! tests check every one).
//!
//! There is no test accuracy, so the reported metric is the objective itself
//! (`val_acc_108ep`); the cost is `train_time_108ep_s`. Cells outside the table are not
//! evaluable (they cost no query).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, OnceLock};

use crate::benchmark::{FidelityColumn, Table, TableError, TabularBenchmark};
use crate::space::SearchSpace;
use crate::space::nb101::{Cell, ModuleHash, Nb101Space};

/// The objective (and reported) column.
pub const NB101_20K_OBJECTIVE: &str = "val_acc_108ep";
/// The cost column (seconds).
pub const NB101_20K_COST: &str = "train_time_108ep_s";

static NB101_20K_CSV_GZ: &[u8] = include_bytes!("../../../data/nb101_20k.csv.gz");

struct Embedded {
    table: Arc<Table>,
    cells: Vec<(ModuleHash, Cell)>,
}

fn embedded() -> &'static Embedded {
    static E: OnceLock<Embedded> = OnceLock::new();
    E.get_or_init(|| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(NB101_20K_CSV_GZ)
            .read_to_string(&mut text)
            .expect("embedded table is valid gzip");
        let (table, cells) = read_20k_csv("embedded nb101_20k.csv", text.as_bytes())
            .expect("embedded table is valid");
        Embedded {
            table: Arc::new(table),
            cells,
        }
    })
}

/// Reads a table with columns `hash` and `seq` (the cell's 27 tokens as digits) and metric
/// columns; keys are the hashes. Also returns the (pruned) cells in file order.
pub fn read_20k_csv<R: Read>(
    source: &str,
    reader: R,
) -> Result<(Table, Vec<(ModuleHash, Cell)>), TableError> {
    let space = Nb101Space::new();
    let mut cells = Vec::new();
    let table = Table::read_csv(
        source,
        reader,
        &["hash".to_string(), "seq".to_string()],
        |c| {
            let h: ModuleHash = c[0].parse().map_err(|e| (0, format!("{e}")))?;
            let tokens: Vec<u32> = c[1]
                .chars()
                .map(|d| {
                    d.to_digit(10)
                        .ok_or((1, format!("{d:?} is not a token digit")))
                })
                .collect::<Result<_, _>>()?;
            let cell = space
                .decode(&tokens)
                .and_then(|c| c.validate())
                .map_err(|e| (1, e.to_string()))?;
            cells.push((h, cell));
            Ok(h.to_string())
        },
    )?;
    Ok((table, cells))
}

/// The embedded table (parsed once per process).
pub fn nb101_20k_table() -> Arc<Table> {
    embedded().table.clone()
}

/// The embedded cells with their hashes, in hash order (e.g. to sample within the subset).
pub fn nb101_20k_cells() -> &'static [(ModuleHash, Cell)] {
    &embedded().cells
}

/// The `nb101-20k` space: NAS-Bench-101, sampling only among the table's cells.
pub fn nb101_20k_space() -> Nb101Space {
    Nb101Space::with_pool(
        "nb101-20k",
        nb101_20k_cells().iter().map(|(_, c)| *c).collect(),
    )
}

/// The `nb101-20k` benchmark: objective and report `val_acc_108ep`, cost the training time,
/// with the published lower fidelities (4, 12 and 36 epochs; the table has only the
/// 108-epoch training time, so `e` epochs cost `e / 108` of it).
pub fn nb101_20k_benchmark() -> TabularBenchmark {
    let fidelities: Vec<FidelityColumn> = NB101_20K_EPOCHS
        .iter()
        .map(|&e| FidelityColumn {
            step: e,
            column: format!("val_acc_{e}ep"),
            cost_column: None,
        })
        .collect();
    TabularBenchmark::new(
        nb101_20k_table(),
        NB101_20K_OBJECTIVE,
        NB101_20K_OBJECTIVE,
        Some(NB101_20K_COST),
    )
    .and_then(|b| b.with_fidelities(&fidelities))
    .expect("embedded table has its columns")
}

/// The epoch budgets of NAS-Bench-101, the fidelities of `nb101-20k`.
pub const NB101_20K_EPOCHS: [u64; 4] = [4, 12, 36, 108];

/// Builds the embedded table from the published `nb101_20k.csv` (first column `hash`) and the
/// enumeration: inserts a `seq` column after `hash`. Fails on a hash the space lacks.
pub fn build_20k_csv(published: &str, cells: &[(ModuleHash, Cell)]) -> Result<String, String> {
    let space = Nb101Space::new();
    let by_hash: HashMap<ModuleHash, &Cell> = cells.iter().map(|(h, c)| (*h, c)).collect();
    let mut lines = published.lines();
    let header = lines.next().ok_or("empty table")?;
    let rest = header
        .strip_prefix("hash,")
        .ok_or("the first column must be hash")?;
    let mut out = format!("hash,seq,{rest}\n");
    for (i, line) in lines.enumerate() {
        let (h, rest) = line
            .split_once(',')
            .ok_or_else(|| format!("line {}: no comma", i + 2))?;
        let hash: ModuleHash = h.parse().map_err(|e| format!("line {}: {e}", i + 2))?;
        let cell = by_hash
            .get(&hash)
            .ok_or_else(|| format!("line {}: hash {h} is not a cell of the space", i + 2))?;
        let seq: String = space
            .encode(cell)
            .iter()
            .map(|&t| char::from_digit(t, 10).expect("tokens are digits"))
            .collect();
        out.push_str(&format!("{h},{seq},{rest}\n"));
    }
    Ok(out)
}
