//! The NAS-Bench-101 cell space (Ying et al., ICML 2019), exactly as the official
//! `google-research/nasbench` code defines it.
//!
//! A cell is a DAG of at most [`MAX_VERTICES`] vertices given by an upper-triangular adjacency
//! matrix: vertex 0 is the input, the last vertex the output, every other vertex one of the
//! three operations ([`Op::INTERIOR`]). Vertices not on an input-to-output path are pruned
//! (as the official `ModelSpec` does); the pruned cell must keep the input connected to the
//! output and have at most [`MAX_EDGES`] edges. Its identity is the official module hash
//! ([`ModuleHash`]), an MD5-based Weisfeiler-Lehman fingerprint invariant under graph
//! isomorphism: the [`SearchSpace::key`] of a cell.
//!
//! A [`Cell`] keeps the matrix it was given (unpruned), like the official `original_matrix`:
//! mutation works on it, so dead vertices and edges are carried along and may come alive
//! later, as in the NAS-Bench-101 paper's evolution.
//!
//! Sampling is uniform over the 423,624 unique cells: the space enumerates them once per
//! process ([`enumerate::unique_cells`], 0.2 s in release and 0.8 s in debug builds on 2 cores,
//! 6.4 MB) and draws an index.
//!
//! # Token encoding (SemiNAS)
//! The official SemiNAS sequence has 27 tokens over a vocabulary of 7: 0 start, 1 no edge,
//! 2 edge, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu, 5 maxpool3x3, 6 output. For each vertex
//! j = 1..6 it lists the j entries `matrix[i][j]` (i = 0..j-1), then the token of vertex j's
//! operation. Allowed tokens: {1, 2} at edge positions, {3, 4, 5} at the operations of
//! vertices 1..5 and {6} at vertex 6. (The official decoder lets every operation position
//! choose 3..6; a 6 before the end can only give an invalid cell, so it is not offered.)
//!
//! Cells with fewer than 7 vertices: SemiNAS's `convert_arch_to_seq` (nasbench/utils.py) writes
//! the real columns and then pads each missing column j with j+1 zeros, so `output` (6) comes
//! early and token 0 appears inside the sequence; its decoder can never produce such a
//! sequence (it picks edges from {1, 2} and operations from {3..6} everywhere), so only the
//! initial training pool contains them. Our decoder may never see token 0, so [`Nb101Space`]
//! instead encodes a small cell as the equivalent 7-vertex cell ([`Cell::padded`]): the
//! interior vertices keep their places, unconnected conv3x3 vertices fill the gap and the
//! output moves to vertex 6. It prunes back to the same cell and hash.
//! [`seminas_reference_sequence`] gives SemiNAS's own zero-padded form for comparison.

pub mod enumerate;
mod md5;

use std::fmt;
use std::str::FromStr;

use rand::Rng as _;

use super::{SearchSpace, SpaceError, TokenEncoding};
use crate::rng::Rng;

/// Most vertices of a cell, input and output included.
pub const MAX_VERTICES: usize = 7;
/// Most edges of a (pruned) cell.
pub const MAX_EDGES: usize = 9;
/// Number of unique cells (distinct module hashes) of the space.
pub const NUM_UNIQUE_CELLS: usize = 423_624;

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
    fn label(self) -> i8 {
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

    fn from_token(t: u32) -> Option<Op> {
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

/// The official module hash of a cell: 16 bytes, written as 32 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleHash(pub [u8; 16]);

impl fmt::Display for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = md5::hex(&self.0);
        f.write_str(std::str::from_utf8(&h).expect("hex digits are ASCII"))
    }
}

impl FromStr for ModuleHash {
    type Err = SpaceError;
    fn from_str(s: &str) -> Result<Self, SpaceError> {
        let bad = |reason: &str| SpaceError::Parse {
            text: s.to_string(),
            reason: reason.to_string(),
        };
        let b = s.as_bytes();
        if b.len() != 32 {
            return Err(bad("a module hash has 32 hex digits"));
        }
        let digit = |c: u8| -> Result<u8, SpaceError> {
            (c as char)
                .to_digit(16)
                .map(|d| d as u8)
                .ok_or_else(|| bad("not a hex digit"))
        };
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
        }
        Ok(ModuleHash(out))
    }
}

/// A cell as given: `n` vertices (2..=7), an upper-triangular adjacency matrix and one
/// operation per vertex. It may contain dead vertices; see [`Cell::prune`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    n: u8,
    /// Row bit masks: bit `j` of `adj[i]` is the edge `i -> j` (only `j > i`).
    adj: [u8; MAX_VERTICES],
    /// Operations; entries from `n` on are `Op::Input` so that equal cells compare equal.
    ops: [Op; MAX_VERTICES],
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
            o[n] = Op::from_name(name).ok_or_else(|| bad(format!("unknown op {name:?}")))?;
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

    /// The official module hash (validates and prunes first).
    pub fn module_hash(&self) -> Result<ModuleHash, SpaceError> {
        Ok(self.validate()?.graph_hash())
    }

    /// The official `graph_util.hash_module` of this graph exactly as it is (no pruning or
    /// checks): vertices start from MD5("(out-degree, in-degree, label)"), then `n` rounds
    /// replace each vertex's hash by MD5 of its sorted in-neighbour hashes, `|`, its sorted
    /// out-neighbour hashes, `|`, its own hash (all as hex text); the result is MD5 of the
    /// Python text of the sorted list of vertex hashes.
    pub fn graph_hash(&self) -> ModuleHash {
        use std::io::Write as _;
        let n = self.num_vertices();
        let mut cols = [0u8; MAX_VERTICES];
        for i in 0..n {
            for (j, c) in cols.iter_mut().enumerate().take(n) {
                if self.has_edge(i, j) {
                    *c |= 1 << i;
                }
            }
        }
        let mut hashes = [[0u8; 32]; MAX_VERTICES];
        let mut buf = [0u8; 256];
        for v in 0..n {
            let mut w = &mut buf[..];
            write!(
                w,
                "({}, {}, {})",
                self.adj[v].count_ones(),
                cols[v].count_ones(),
                self.ops[v].label()
            )
            .expect("fits the buffer");
            let len = 256 - w.len();
            hashes[v] = md5::hex(&md5::md5(&buf[..len]));
        }
        let mut neigh = [[0u8; 32]; MAX_VERTICES];
        for _ in 0..n {
            let mut next = [[0u8; 32]; MAX_VERTICES];
            for (v, slot) in next.iter_mut().enumerate().take(n) {
                let mut len = 0;
                for mask in [cols[v], self.adj[v]] {
                    let mut k = 0;
                    for (w, h) in hashes.iter().enumerate().take(n) {
                        if (mask >> w) & 1 == 1 {
                            neigh[k] = *h;
                            k += 1;
                        }
                    }
                    neigh[..k].sort_unstable();
                    for h in &neigh[..k] {
                        buf[len..len + 32].copy_from_slice(h);
                        len += 32;
                    }
                    buf[len] = b'|';
                    len += 1;
                }
                buf[len..len + 32].copy_from_slice(&hashes[v]);
                len += 32;
                *slot = md5::hex(&md5::md5(&buf[..len]));
            }
            hashes = next;
        }
        let sorted = &mut hashes[..n];
        sorted.sort_unstable();
        // Python's str() of a list of str: ['a', 'b']
        let mut len = 0;
        buf[len] = b'[';
        len += 1;
        for (k, h) in sorted.iter().enumerate() {
            if k > 0 {
                buf[len..len + 2].copy_from_slice(b", ");
                len += 2;
            }
            buf[len] = b'\'';
            buf[len + 1..len + 33].copy_from_slice(h);
            buf[len + 33] = b'\'';
            len += 34;
        }
        buf[len] = b']';
        len += 1;
        ModuleHash(md5::md5(&buf[..len]))
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

/// Index of the first token of vertex `j`'s group (its `j` edges, then its operation).
fn group_offset(j: usize) -> usize {
    (j - 1) * (j + 2) / 2
}

/// The NAS-Bench-101 space; see the module documentation.
///
/// [`Nb101Space::with_pool`] makes a variant that samples only from a given list of cells
/// (e.g. the cells of a partial table such as `nb101-20k`); its other operations, mutation
/// included, are those of the full space.
#[derive(Debug, Clone)]
pub struct Nb101Space {
    encoding: TokenEncoding,
    name: String,
    pool: Option<std::sync::Arc<[Cell]>>,
    official_sampling: bool,
}

impl Default for Nb101Space {
    fn default() -> Self {
        Self::new()
    }
}

impl Nb101Space {
    /// The space.
    pub fn new() -> Self {
        let mut allowed = Vec::with_capacity(27);
        for j in 1..MAX_VERTICES {
            allowed.extend(std::iter::repeat_n(vec![1, 2], j));
            allowed.push(if j + 1 < MAX_VERTICES {
                vec![3, 4, 5]
            } else {
                vec![6]
            });
        }
        let token_names = [
            "<sos>",
            "no-edge",
            "edge",
            "conv1x1-bn-relu",
            "conv3x3-bn-relu",
            "maxpool3x3",
            "output",
        ]
        .map(String::from)
        .to_vec();
        Self {
            encoding: TokenEncoding {
                vocab_size: 7,
                allowed,
                token_names,
            },
            name: "nb101".into(),
            pool: None,
            official_sampling: false,
        }
    }

    /// The same space, but [`SearchSpace::sample`] draws like the official example code's
    /// `random_spec` ([`Nb101Space::random_spec`]) instead of uniformly over unique cells.
    pub fn with_official_sampling(mut self) -> Self {
        self.official_sampling = true;
        self
    }

    /// The official example code's `random_spec`: each of the 21 upper-triangular entries of a
    /// 7x7 matrix is an edge with probability 1/2, each interior vertex gets a uniform random
    /// operation, until the cell is valid. Not uniform over unique cells (cells with many
    /// isomorphic or prunable forms come up more often), but what the NAS-Bench-101 paper's
    /// random search and evolution draw.
    pub fn random_spec(rng: &mut Rng) -> Cell {
        loop {
            let mut adj = [0u8; MAX_VERTICES];
            for (i, row) in adj.iter_mut().enumerate() {
                for j in i + 1..MAX_VERTICES {
                    if rng.gen_range(0..2) == 1 {
                        *row |= 1 << j;
                    }
                }
            }
            let mut ops = [Op::Output; MAX_VERTICES];
            ops[0] = Op::Input;
            for op in &mut ops[1..MAX_VERTICES - 1] {
                *op = Self::random_interior(rng);
            }
            let c = Cell {
                n: MAX_VERTICES as u8,
                adj,
                ops,
            };
            if c.validate().is_ok() {
                return c;
            }
        }
    }

    /// The space named `name` whose [`SearchSpace::sample`] draws uniformly from `pool` (which
    /// should hold valid cells with distinct hashes) and whose cardinality is the pool's size.
    /// Panics on an empty pool.
    pub fn with_pool(name: &str, pool: Vec<Cell>) -> Self {
        assert!(!pool.is_empty(), "a sampling pool needs at least one cell");
        Self {
            name: name.to_string(),
            pool: Some(pool.into()),
            ..Self::new()
        }
    }

    /// Parses the JSON form `{"matrix": [[0, 1, ...], ...], "ops": ["input", ...]}`.
    pub fn parse_json(&self, value: &serde_json::Value) -> Result<Cell, SpaceError> {
        let text = value.to_string();
        let bad = |reason: String| SpaceError::Parse {
            text: text.clone(),
            reason,
        };
        let matrix = value
            .get("matrix")
            .and_then(|m| m.as_array())
            .ok_or_else(|| bad("expected a \"matrix\" list of rows".into()))?;
        let rows: Vec<Vec<u8>> = matrix
            .iter()
            .map(|row| {
                row.as_array()
                    .and_then(|r| {
                        r.iter()
                            .map(|x| x.as_u64().and_then(|x| u8::try_from(x).ok()))
                            .collect::<Option<Vec<u8>>>()
                    })
                    .ok_or_else(|| bad("matrix rows must be lists of 0/1".into()))
            })
            .collect::<Result<_, _>>()?;
        let ops: Vec<Op> = value
            .get("ops")
            .and_then(|o| o.as_array())
            .ok_or_else(|| bad("expected an \"ops\" list".into()))?
            .iter()
            .map(|o| {
                o.as_str()
                    .and_then(Op::from_name)
                    .ok_or_else(|| bad(format!("unknown op {o}")))
            })
            .collect::<Result<_, _>>()?;
        Cell::new(&rows, &ops).map_err(|e| bad(e.to_string()))
    }

    fn random_interior(rng: &mut Rng) -> Op {
        Op::INTERIOR[rng.gen_range(0..3)]
    }
}

impl SearchSpace for Nb101Space {
    type Arch = Cell;

    fn name(&self) -> &str {
        &self.name
    }

    fn cardinality(&self) -> Option<u128> {
        Some(self.pool.as_ref().map_or(NUM_UNIQUE_CELLS, |p| p.len()) as u128)
    }

    /// Uniform over the unique cells (each returned pruned, in its enumeration form), over the
    /// pool if there is one, or as `random_spec` with [`Nb101Space::with_official_sampling`].
    fn sample(&self, rng: &mut Rng) -> Cell {
        if self.official_sampling && self.pool.is_none() {
            return Self::random_spec(rng);
        }
        let all: &[Cell] = match &self.pool {
            Some(p) => p,
            None => enumerate::unique_cells(),
        };
        all[rng.gen_range(0..all.len())]
    }

    /// The pool, or every unique cell (423,624) when there is no pool.
    fn enumerate(&self, limit: usize) -> Option<Vec<Cell>> {
        let all: &[Cell] = match &self.pool {
            Some(p) => p,
            None => enumerate::unique_cells(),
        };
        (all.len() <= limit).then(|| all.to_vec())
    }

    fn validate(&self, arch: &Cell) -> Result<(), SpaceError> {
        arch.validate().map(|_| ())
    }

    /// The module hash; an invalid cell (never evaluated) gets `invalid:` and its text.
    fn key(&self, arch: &Cell) -> String {
        match arch.module_hash() {
            Ok(h) => h.to_string(),
            Err(_) => format!("invalid:{}", self.format(arch)),
        }
    }

    fn encoding(&self) -> &TokenEncoding {
        &self.encoding
    }

    fn encode(&self, arch: &Cell) -> Vec<u32> {
        let c = arch.padded();
        let mut seq = Vec::with_capacity(27);
        for j in 1..MAX_VERTICES {
            for i in 0..j {
                seq.push(u32::from(c.has_edge(i, j)) + 1);
            }
            // Only a dead vertex can hold input/output inside a valid cell; write conv3x3.
            seq.push(if j + 1 == MAX_VERTICES {
                6
            } else {
                c.ops[j].token().filter(|&t| t != 6).unwrap_or(4)
            });
        }
        seq
    }

    fn decode(&self, tokens: &[u32]) -> Result<Cell, SpaceError> {
        self.encoding.check(tokens)?;
        let mut adj = [0u8; MAX_VERTICES];
        let mut ops = [Op::Input; MAX_VERTICES];
        for j in 1..MAX_VERTICES {
            let off = group_offset(j);
            for i in 0..j {
                if tokens[off + i] == 2 {
                    adj[i] |= 1 << j;
                }
            }
            ops[j] = Op::from_token(tokens[off + j]).expect("checked by the encoding");
        }
        let cell = Cell::from_rows(&adj, &ops)?;
        cell.validate()
            .map_err(|e| SpaceError::Decode(format!("the tokens give an invalid cell: {e}")))?;
        Ok(cell)
    }

    /// The NAS-Bench-101 paper's evolution mutation (official example code, mutation rate 1):
    /// on the 7-vertex form, flip each of the 21 possible edges with probability 1/7 and give
    /// each of the 5 interior vertices another operation with probability 1/5; retry until
    /// the result is valid and has a different module hash than `arch`.
    fn mutate(&self, arch: &Cell, rng: &mut Rng) -> Cell {
        let own = arch.module_hash().ok();
        let mut base = arch.padded();
        // Vertices added by padding get random operations, as the official random cells have.
        for v in arch.num_vertices() - 1..MAX_VERTICES - 1 {
            base.ops[v] = Self::random_interior(rng);
        }
        let edge_p = 1.0 / MAX_VERTICES as f64;
        let op_p = 1.0 / (MAX_VERTICES - 2) as f64;
        loop {
            let mut c = base;
            for j in 1..MAX_VERTICES {
                for i in 0..j {
                    if rng.r#gen::<f64>() < edge_p {
                        c.adj[i] ^= 1 << j;
                    }
                }
            }
            for v in 1..MAX_VERTICES - 1 {
                if rng.r#gen::<f64>() < op_p {
                    let others: Vec<Op> = Op::INTERIOR
                        .into_iter()
                        .filter(|&o| o != c.ops[v])
                        .collect();
                    c.ops[v] = others[rng.gen_range(0..others.len())];
                }
            }
            if let Ok(h) = c.module_hash()
                && Some(h) != own
            {
                return c;
            }
        }
    }

    /// `ADJACENCY:OPS`, the two fields of the official dataset, e.g.
    /// `0110001000100000:input,conv3x3-bn-relu,maxpool3x3,output`.
    fn format(&self, arch: &Cell) -> String {
        format!("{}:{}", arch.adjacency_string(), arch.ops_string())
    }

    /// Reads [`SearchSpace::format`]'s text or the JSON form of [`SearchSpace::to_json`].
    fn parse(&self, text: &str) -> Result<Cell, SpaceError> {
        let t = text.trim();
        if t.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(t).map_err(|e| SpaceError::Parse {
                text: text.to_string(),
                reason: format!("invalid JSON: {e}"),
            })?;
            return self.parse_json(&v);
        }
        let (adj, ops) = t.split_once(':').ok_or_else(|| SpaceError::Parse {
            text: text.to_string(),
            reason: "expected ADJACENCY:OPS or a JSON object".into(),
        })?;
        Cell::from_official_strings(adj, ops)
    }

    /// `{"matrix": [[...]], "ops": [...]}` of the cell as given (not pruned).
    fn read_json(&self, value: &serde_json::Value) -> Result<Cell, SpaceError> {
        match value {
            serde_json::Value::String(text) => self.parse(text),
            other => self.parse_json(other),
        }
    }

    fn to_json(&self, arch: &Cell) -> serde_json::Value {
        serde_json::json!({
            "matrix": arch.matrix(),
            "ops": arch.ops().iter().map(|o| o.name()).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests;
