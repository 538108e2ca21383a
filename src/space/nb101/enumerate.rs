//! Enumeration of every unique NAS-Bench-101 cell (423,624), in seconds instead of the official
//! generator's hours.
//!
//! The official generator hashes every labelled full DAG (all vertices on an input-to-output
//! path, at most 9 edges) and keeps one per hash; its authors checked that the hash has no
//! collisions there, so unique hashes are exactly isomorphism classes. We count the classes
//! directly: an adjacency matrix is kept only if it is the smallest (as a bit mask) among all
//! relabellings of its interior vertices that stay upper-triangular, and a labelling of the
//! kept matrix only if it is the smallest in its orbit under the matrix's automorphisms. No
//! hashing is needed; [`enumerate_with_hashes`] hashes the result (in parallel) when the
//! hashes are wanted.
//!
//! Order: by number of vertices, then adjacency bit mask (bit `i + j(j-1)/2` is edge `i -> j`,
//! the official generator's numbering), then labelling (vertex 1 most significant, digits in
//! [`Op::INTERIOR`] order).

use std::sync::OnceLock;

use rayon::prelude::*;

use super::{Cell, MAX_EDGES, MAX_VERTICES, ModuleHash, Op};

fn bit(i: usize, j: usize) -> u32 {
    1 << (i + j * (j - 1) / 2)
}

/// All permutations of `1..=k` as vertex maps of an `k + 2`-vertex cell (input and output
/// fixed), identity first.
fn interior_perms(n: usize) -> Vec<[u8; MAX_VERTICES]> {
    let k = n - 2;
    let mut out = Vec::new();
    let mut cur: Vec<u8> = (1..=k as u8).collect();
    // Heap's algorithm would do; lexicographic next_permutation keeps identity first.
    loop {
        let mut p = [0u8; MAX_VERTICES];
        p[1..=k].copy_from_slice(&cur);
        p[n - 1] = (n - 1) as u8;
        out.push(p);
        let Some(i) = (1..k).rev().find(|&i| cur[i - 1] < cur[i]) else {
            break;
        };
        let j = (i..k).rev().find(|&j| cur[j] > cur[i - 1]).expect("exists");
        cur.swap(i - 1, j);
        cur[i..].reverse();
    }
    out
}

/// The unique cells with `n` vertices whose adjacency mask lies in `masks`.
fn cells_for_mask(n: usize, mask: u32, edges: &[(usize, usize)], perms: &[[u8; 7]]) -> Vec<Cell> {
    if mask.count_ones() as usize > MAX_EDGES {
        return Vec::new();
    }
    let mut rows = [0u8; MAX_VERTICES];
    let mut cols = [0u8; MAX_VERTICES];
    for &(i, j) in edges {
        if mask & bit(i, j) != 0 {
            rows[i] |= 1 << j;
            cols[j] |= 1 << i;
        }
    }
    // Full DAG: every vertex but the output has an out-edge, every one but the input an in-edge.
    if rows[..n - 1].contains(&0) || cols[1..n].contains(&0) {
        return Vec::new();
    }
    // Keep only the canonical matrix of its class; remember its automorphisms.
    let mut autos: Vec<&[u8; 7]> = Vec::new();
    'perm: for p in &perms[1..] {
        let mut m = 0u32;
        for &(i, j) in edges {
            if mask & bit(i, j) != 0 {
                let (a, b) = (usize::from(p[i]), usize::from(p[j]));
                if a >= b {
                    continue 'perm; // not a topological order: not an upper-triangular form
                }
                m |= bit(a, b);
            }
        }
        if m < mask {
            return Vec::new();
        }
        if m == mask {
            autos.push(p);
        }
    }
    let k = n - 2;
    let total = 3usize.pow(k as u32);
    let mut out = Vec::new();
    let mut labels = [0u8; MAX_VERTICES];
    'label: for code in 0..total {
        let mut c = code;
        for v in (1..=k).rev() {
            labels[v] = (c % 3) as u8;
            c /= 3;
        }
        for p in &autos {
            let mut moved = [0u8; MAX_VERTICES];
            for v in 1..=k {
                moved[usize::from(p[v])] = labels[v];
            }
            if moved[1..=k] < labels[1..=k] {
                continue 'label;
            }
        }
        let mut ops = [Op::Input; MAX_VERTICES];
        for v in 1..=k {
            ops[v] = Op::INTERIOR[usize::from(labels[v])];
        }
        ops[n - 1] = Op::Output;
        out.push(Cell {
            n: n as u8,
            adj: rows,
            ops,
        });
    }
    out
}

/// Computes every unique cell (one per module hash), in the order described above.
pub fn enumerate_unique_cells() -> Vec<Cell> {
    let mut all = Vec::with_capacity(super::NUM_UNIQUE_CELLS);
    for n in 2..=MAX_VERTICES {
        let edges: Vec<(usize, usize)> = (1..n).flat_map(|j| (0..j).map(move |i| (i, j))).collect();
        let perms = interior_perms(n);
        let masks = 1u32 << edges.len();
        let part: Vec<Cell> = (0..masks)
            .into_par_iter()
            .with_min_len(4096)
            .flat_map_iter(|mask| cells_for_mask(n, mask, &edges, &perms))
            .collect();
        all.extend(part);
    }
    all
}

/// The unique cells, enumerated on first use and kept for the life of the process.
pub fn unique_cells() -> &'static [Cell] {
    static CELLS: OnceLock<Vec<Cell>> = OnceLock::new();
    CELLS.get_or_init(enumerate_unique_cells)
}

/// Every unique cell with its module hash, in enumeration order (hashed in parallel).
pub fn enumerate_with_hashes() -> Vec<(ModuleHash, Cell)> {
    unique_cells()
        .par_iter()
        .with_min_len(1024)
        .map(|c| (c.graph_hash(), *c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_423624_cells_with_distinct_hashes() {
        let t = std::time::Instant::now();
        let all = enumerate_with_hashes();
        eprintln!("enumerated and hashed in {:?}", t.elapsed());
        assert_eq!(all.len(), super::super::NUM_UNIQUE_CELLS);
        let distinct: std::collections::HashSet<_> = all.iter().map(|(h, _)| *h).collect();
        assert_eq!(distinct.len(), all.len());
        for (h, c) in all.iter().step_by(997) {
            assert_eq!(c.module_hash().unwrap(), *h);
        }
        // Every hash of the published 20k table (embedded) is a cell of the space.
        for (h, _) in crate::benchmark::nb101::nb101_20k_cells() {
            assert!(distinct.contains(h), "{h}");
        }
    }

    #[test]
    fn permutations_are_complete() {
        let p = interior_perms(7);
        assert_eq!(p.len(), 120);
        assert_eq!(p[0], [0, 1, 2, 3, 4, 5, 6]);
        let mut s = p.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 120);
        assert_eq!(interior_perms(2).len(), 1);
    }

    #[test]
    fn small_cell_counts_match_brute_force_hashing() {
        // For up to 5 vertices, the canonical-form enumeration must give exactly the distinct
        // official hashes of all labelled full DAGs (the official generator's definition).
        for n in 2..=5 {
            let edges: Vec<(usize, usize)> =
                (1..n).flat_map(|j| (0..j).map(move |i| (i, j))).collect();
            let mut hashes = std::collections::HashSet::new();
            for mask in 0u32..1 << edges.len() {
                if mask.count_ones() as usize > MAX_EDGES {
                    continue;
                }
                let mut rows = [0u8; MAX_VERTICES];
                for &(i, j) in &edges {
                    if mask & bit(i, j) != 0 {
                        rows[i] |= 1 << j;
                    }
                }
                let mut cols = 0u8;
                for r in &rows[..n] {
                    cols |= r;
                }
                if rows[..n - 1].contains(&0) || (1..n).any(|j| (cols >> j) & 1 == 0) {
                    continue;
                }
                for code in 0..3usize.pow(n as u32 - 2) {
                    let mut ops = vec![Op::Input; n];
                    let mut c = code;
                    for op in ops[1..n - 1].iter_mut() {
                        *op = Op::INTERIOR[c % 3];
                        c /= 3;
                    }
                    ops[n - 1] = Op::Output;
                    let cell = Cell::from_rows(&rows[..n], &ops).unwrap();
                    hashes.insert(cell.module_hash().unwrap());
                }
            }
            let ours: Vec<Cell> = unique_cells()
                .iter()
                .filter(|c| c.num_vertices() == n)
                .copied()
                .collect();
            let our_hashes: std::collections::HashSet<_> =
                ours.iter().map(|c| c.graph_hash()).collect();
            assert_eq!(our_hashes.len(), ours.len(), "n = {n}: duplicate classes");
            assert_eq!(our_hashes, hashes, "n = {n}");
        }
    }
}
