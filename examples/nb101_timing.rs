//! Times the NAS-Bench-101 enumeration and hashing (`cargo run --release --example nb101_timing`).
use std::time::Instant;

use seminas::space::nb101::enumerate;

fn main() {
    let t = Instant::now();
    let cells = enumerate::enumerate_unique_cells();
    println!("enumerated {} cells in {:?}", cells.len(), t.elapsed());
    let t = Instant::now();
    let h = enumerate::enumerate_with_hashes();
    println!("hashed {} cells in {:?}", h.len(), t.elapsed());
}
