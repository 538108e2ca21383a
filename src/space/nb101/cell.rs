//! The cell of the space: its operations ([`Op`]), its matrix, pruning and validation
//! (the official `model_spec.py`).

use std::fmt;

use super::{MAX_EDGES, MAX_VERTICES};
use crate::space::SpaceError;

/// The operation at a vertex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// The cell's input (vertex 0).
    Input,
    /// 3x3 convolution, batch norm, ReLU.
    Conv3x3,
    /// 1x1 convolution, batch norm, ReLU.
    Conv1x1,
    /// 3x3 max pooling.
    MaxPool3x3,
    /// The cell's output (last vertex).
    Output,
}

impl Op {
    /// The interior operations, in the official `available_ops` order (which the hash uses).
    pub const INTERIOR: [Op; 3] = [Op::Conv3x3, Op::Conv1x1, Op::MaxPool3x3];

    /// The official name, e.g. `conv3x3-bn-relu`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Conv3x3 => "conv3x3-bn-relu",
            Op::Conv1x1 => "conv1x1-bn-relu",
            Op::MaxPool3x3 => "maxpool3x3",
            Op::Output => "output",
        }
    }

    /// The operation with official name `name`.
    pub fn from_name(name: &str) -> Option<Op> {
        [
            Op::Input,
            Op::Conv3x3,
            Op::Conv1x1,
            Op::MaxPool3x3,
            Op::Output,
        ]
        .into_iter()
        .find(|o| o.name() == name)
    }

    /// The label the official hash gives the vertex: -1 input, -2 output, else the index in
    /// [`Op::INTERIOR`].
    pub(super) fn label(self) -> i8 {
        match self {
            Op::Input => -1,
            Op::Conv3x3 => 0,
            Op::Conv1x1 => 1,
            Op::MaxPool3x3 => 2,
            Op::Output => -2,
        }
    }

    /// The SemiNAS token of the operation (`input` has none: it is never written).
    pub fn token(self) -> Option<u32> {
        match self {
            Op::Input => None,
            Op::Conv1x1 => Some(3),
            Op::Conv3x3 => Some(4),
            Op::MaxPool3x3 => Some(5),
            Op::Output => Some(6),
        }
    }

    pub(super) fn from_token(t: u32) -> Option<Op> {
        match t {
            3 => Some(Op::Conv1x1),
            4 => Some(Op::Conv3x3),
            5 => Some(Op::MaxPool3x3),
            6 => Some(Op::Output),
            _ => None,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cell as given: `n` vertices (2..=7), an upper-triangular adjacency matrix and one
/// operation per vertex. It may contain dead vertices; see [`Cell::prune`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    pub(super) n: u8,
    /// Row bit masks: bit `j` of `adj[i]` is the edge `i -> j` (only `j > i`).
    pub(super) adj: [u8; MAX_VERTICES],
    /// Operations; entries from `n` on are `Op::Input` so that equal cells compare equal.
    pub(super) ops: [Op; MAX_VERTICES],
}

impl fmt::Debug for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cell({}:{})", self.adjacency_string(), self.ops_string())
    }
}

impl Cell {
    /// Builds a cell from a square 0/1 matrix (`matrix[i][j] = 1`: edge `i -> j`) and its
    /// operations. Checks the shape (2..=7 vertices, one operation per vertex) and that the
    /// matrix is upper-triangular; the rules of the space are checked by [`Cell::validate`].
    pub fn new<R: AsRef<[u8]>>(matrix: &[R], ops: &[Op]) -> Result<Cell, SpaceError> {
        let n = matrix.len();
        if !(2..=MAX_VERTICES).contains(&n) {
            return Err(SpaceError::Invalid(format!(
                "a cell has 2 to {MAX_VERTICES} vertices, this matrix has {n} rows"
            )));
        }
        if ops.len() != n {
            return Err(SpaceError::Invalid(format!(
                "{} operations for {n} vertices",
                ops.len()
            )));
        }
        let mut adj = [0u8; MAX_VERTICES];
        for (i, row) in matrix.iter().enumerate() {
            let row = row.as_ref();
            if row.len() != n {
                return Err(SpaceError::Invalid(format!(
                    "the matrix is not square: row {i} has {} entries, expected {n}",
                    row.len()
                )));
            }
            for (j, &v) in row.iter().enumerate() {
                match v {
                    0 => {}
                    1 if j > i => adj[i] |= 1 << j,
                    1 => {
                        return Err(SpaceError::Invalid(format!(
                            "the matrix must be upper-triangular, but has an entry at ({i}, {j})"
                        )));
                    }
                    _ => {
                        return Err(SpaceError::Invalid(format!(
                            "matrix entries are 0 or 1, found {v} at ({i}, {j})"
                        )));
                    }
                }
            }
        }
        let mut o = [Op::Input; MAX_VERTICES];
        o[..n].copy_from_slice(ops);
        Ok(Cell {
            n: n as u8,
            adj,
            ops: o,
        })
    }

    /// Builds a cell from row bit masks (bit `j` of `rows[i]`: edge `i -> j`); bits on or
    /// below the diagonal or beyond `n` are an error.
    pub fn from_rows(rows: &[u8], ops: &[Op]) -> Result<Cell, SpaceError> {
        let n = rows.len();
        let matrix: Vec<Vec<u8>> = rows
            .iter()
            .map(|&r| {
                if n < 8 && r >> n != 0 {
                    vec![2; n] // reported below as a bad entry
                } else {
                    (0..n).map(|j| (r >> j) & 1).collect()
                }
            })
            .collect();
        Cell::new(&matrix, ops)
    }

    /// Number of vertices.
    pub fn num_vertices(&self) -> usize {
        usize::from(self.n)
    }

    /// The operations, one per vertex.
    pub fn ops(&self) -> &[Op] {
        &self.ops[..self.num_vertices()]
    }

    /// Row bit masks of the adjacency matrix (bit `j` of entry `i`: edge `i -> j`).
    pub fn rows(&self) -> &[u8] {
        &self.adj[..self.num_vertices()]
    }

    /// True when there is an edge `i -> j`.
    pub fn has_edge(&self, i: usize, j: usize) -> bool {
        i < MAX_VERTICES && j < 8 && (self.adj[i] >> j) & 1 == 1
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.rows().iter().map(|r| r.count_ones() as usize).sum()
    }

    /// The adjacency matrix as rows of 0/1.
    pub fn matrix(&self) -> Vec<Vec<u8>> {
        let n = self.num_vertices();
        (0..n)
            .map(|i| (0..n).map(|j| u8::from(self.has_edge(i, j))).collect())
            .collect()
    }

    /// The matrix as the official dataset writes it: `n*n` characters `0`/`1`, row-major.
    pub fn adjacency_string(&self) -> String {
        let n = self.num_vertices();
        let mut s = String::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                s.push(if self.has_edge(i, j) { '1' } else { '0' });
            }
        }
        s
    }

    /// The operations as the official dataset writes them: names joined by commas.
    pub fn ops_string(&self) -> String {
        let names: Vec<&str> = self.ops().iter().map(|o| o.name()).collect();
        names.join(",")
    }

    /// Parses the official dataset's two fields (see [`Cell::adjacency_string`] and
    /// [`Cell::ops_string`]).
    pub fn from_official_strings(adjacency: &str, ops: &str) -> Result<Cell, SpaceError> {
        let bad = |reason: String| SpaceError::Parse {
            text: format!("{adjacency}:{ops}"),
            reason,
        };
        // No allocation on the good path: the dataset reader calls this per record.
        let mut o = [Op::Input; MAX_VERTICES];
        let mut n = 0;
        for name in ops.split(',') {
            if n == MAX_VERTICES {
                return Err(bad(format!(
                    "more than {MAX_VERTICES} operations (at most {MAX_VERTICES} vertices)"
                )));
            }
            o[n] = Op::from_name(name)
                .ok_or_else(|| bad(format!("unknown op {}", crate::settings::quoted(name))))?;
            n += 1;
        }
        if n < 2 {
            return Err(bad(format!(
                "a cell has 2 to {MAX_VERTICES} vertices, found {n}"
            )));
        }
        let b = adjacency.as_bytes();
        if b.len() != n * n {
            return Err(bad(format!(
                "{n} operations need {} adjacency digits, found {}",
                n * n,
                b.len()
            )));
        }
        let mut adj = [0u8; MAX_VERTICES];
        for (k, &c) in b.iter().enumerate() {
            let (i, j) = (k / n, k % n);
            match c {
                b'0' => {}
                b'1' if j > i => adj[i] |= 1 << j,
                b'1' => {
                    return Err(bad(format!(
                        "the matrix must be upper-triangular, but has an entry at ({i}, {j})"
                    )));
                }
                _ => {
                    return Err(bad(format!(
                        "adjacency digit {:?} is not 0 or 1",
                        c as char
                    )));
                }
            }
        }
        Ok(Cell {
            n: n as u8,
            adj,
            ops: o,
        })
    }

    /// Removes the vertices not on a path from the input to the output (official
    /// `ModelSpec._prune`). `None` when the input does not reach the output.
    pub fn prune(&self) -> Option<Cell> {
        let n = self.num_vertices();
        let mut from_input: u8 = 1;
        for i in 0..n {
            if (from_input >> i) & 1 == 1 {
                from_input |= self.adj[i];
            }
        }
        let mut to_output: u8 = 1 << (n - 1);
        for i in (0..n).rev() {
            if self.adj[i] & to_output != 0 {
                to_output |= 1 << i;
            }
        }
        let keep = from_input & to_output;
        if (keep >> (n - 1)) & 1 == 0 {
            return None;
        }
        if keep.count_ones() as usize == n {
            return Some(*self);
        }
        let mut index = [0u8; MAX_VERTICES];
        let mut m = 0u8;
        for (v, slot) in index.iter_mut().enumerate().take(n) {
            if (keep >> v) & 1 == 1 {
                *slot = m;
                m += 1;
            }
        }
        let mut out = Cell {
            n: m,
            adj: [0; MAX_VERTICES],
            ops: [Op::Input; MAX_VERTICES],
        };
        for i in 0..n {
            if (keep >> i) & 1 == 0 {
                continue;
            }
            out.ops[usize::from(index[i])] = self.ops[i];
            for j in 0..n {
                if (keep >> j) & 1 == 1 && self.has_edge(i, j) {
                    out.adj[usize::from(index[i])] |= 1 << index[j];
                }
            }
        }
        Some(out)
    }

    /// Checks the rules of the space (official `NASBench._check_spec`) and returns the pruned
    /// cell: the input must reach the output; after pruning, the first operation is `input`,
    /// the last `output`, the others interior operations, and there are at most 9 edges.
    pub fn validate(&self) -> Result<Cell, SpaceError> {
        let p = self.prune().ok_or_else(|| {
            SpaceError::Invalid("the input is not connected to the output".into())
        })?;
        let n = p.num_vertices();
        if p.ops[0] != Op::Input {
            return Err(SpaceError::Invalid(format!(
                "the first operation must be input, not {}",
                p.ops[0]
            )));
        }
        if p.ops[n - 1] != Op::Output {
            return Err(SpaceError::Invalid(format!(
                "the last operation must be output, not {}",
                p.ops[n - 1]
            )));
        }
        if let Some(o) = p.ops()[1..n - 1].iter().find(|o| !Op::INTERIOR.contains(o)) {
            return Err(SpaceError::Invalid(format!(
                "{o} cannot be an interior operation"
            )));
        }
        if p.num_edges() > MAX_EDGES {
            return Err(SpaceError::Invalid(format!(
                "{} edges after pruning, at most {MAX_EDGES} allowed",
                p.num_edges()
            )));
        }
        Ok(p)
    }

    /// The same cell on 7 vertices: interior vertices keep their indices, unconnected
    /// conv3x3 vertices fill the gap, the output becomes vertex 6. Prunes back to `self`'s
    /// pruned cell.
    pub fn padded(&self) -> Cell {
        let n = self.num_vertices();
        if n == MAX_VERTICES {
            return *self;
        }
        let last = n - 1;
        let mut out = Cell {
            n: MAX_VERTICES as u8,
            adj: [0; MAX_VERTICES],
            ops: [Op::Conv3x3; MAX_VERTICES],
        };
        let to = |v: usize| if v == last { MAX_VERTICES - 1 } else { v };
        for i in 0..n {
            out.ops[to(i)] = self.ops[i];
            for j in 0..n {
                if self.has_edge(i, j) {
                    out.adj[to(i)] |= 1 << to(j);
                }
            }
        }
        out
    }
}

/// SemiNAS's own `convert_arch_to_seq` of the pruned cell (nasbench/utils.py), with its zero
/// padding for cells under 7 vertices; `None` for an invalid cell. For reference only: the
/// space encodes small cells via [`Cell::padded`] instead (see the module documentation).
pub fn seminas_reference_sequence(cell: &Cell) -> Option<Vec<u32>> {
    let p = cell.validate().ok()?;
    let n = p.num_vertices();
    let mut seq = Vec::with_capacity(27);
    for col in 1..MAX_VERTICES {
        if col >= n {
            seq.extend(std::iter::repeat_n(0, col + 1));
        } else {
            for row in 0..col {
                seq.push(u32::from(p.has_edge(row, col)) + 1);
            }
            seq.push(p.ops[col].token()?);
        }
    }
    Some(seq)
}
