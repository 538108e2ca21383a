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

mod cell;
pub mod enumerate;
mod hash;
mod md5;

pub use cell::{Cell, Op, seminas_reference_sequence};
pub use hash::ModuleHash;

use rand::Rng as _;

use super::{SearchSpace, SpaceError, TokenEncoding};
use crate::rng::Rng;

/// Most vertices of a cell, input and output included.
pub const MAX_VERTICES: usize = 7;
/// Most edges of a (pruned) cell.
pub const MAX_EDGES: usize = 9;
/// Number of unique cells (distinct module hashes) of the space.
pub const NUM_UNIQUE_CELLS: usize = 423_624;

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
