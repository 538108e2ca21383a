//! The official module hash of a cell (`graph_util.hash_module`): an MD5-based
//! Weisfeiler-Lehman fingerprint, invariant under graph isomorphism.

use std::fmt;
use std::str::FromStr;

use super::{Cell, MAX_VERTICES, md5};
use crate::space::SpaceError;

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

impl Cell {
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
}
