use std::collections::HashSet;
use std::io::Read;

use super::*;
use crate::rng::rng_for;

fn gunzip(bytes: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn cell_of(v: &serde_json::Value) -> Cell {
    Nb101Space::new().parse_json(v).unwrap()
}

#[test]
fn thousand_published_graphs_hash_to_their_keys() {
    let text = gunzip(include_bytes!(
        "../../../tests/fixtures/nb101/nb101_1k_graphs.jsonl.gz"
    ));
    let mut n = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let cell = cell_of(&v);
        assert_eq!(
            cell.module_hash().unwrap().to_string(),
            v["hash"].as_str().unwrap(),
            "{line}"
        );
        n += 1;
    }
    assert_eq!(n, 1000);
}

#[test]
fn small_cells_hash_to_their_keys_and_are_all_enumerated() {
    let text = gunzip(include_bytes!(
        "../../../tests/fixtures/nb101/nb101_small_cells_hashes.json.gz"
    ));
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(map.len(), 2532);
    let mut published = HashSet::new();
    for (hash, v) in &map {
        let cell = cell_of(v);
        assert_eq!(&cell.module_hash().unwrap().to_string(), hash, "{v}");
        published.insert(hash.clone());
    }
    // The fixture holds every cell of at most 5 vertices: so must the enumeration.
    let ours: HashSet<String> = enumerate::unique_cells()
        .iter()
        .filter(|c| c.num_vertices() <= 5)
        .map(|c| c.graph_hash().to_string())
        .collect();
    assert_eq!(ours, published);
}

#[test]
fn hash_is_invariant_under_relabelling_and_sensitive_to_ops() {
    // input -> 1 -> 3 -> output, input -> 2 -> 3 with 1 and 2 swapped.
    let m = [
        [0, 1, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ];
    let a = Cell::new(
        &m,
        &[
            Op::Input,
            Op::Conv1x1,
            Op::MaxPool3x3,
            Op::Conv3x3,
            Op::Output,
        ],
    )
    .unwrap();
    let b = Cell::new(
        &m,
        &[
            Op::Input,
            Op::MaxPool3x3,
            Op::Conv1x1,
            Op::Conv3x3,
            Op::Output,
        ],
    )
    .unwrap();
    let c = Cell::new(
        &m,
        &[
            Op::Input,
            Op::MaxPool3x3,
            Op::Conv1x1,
            Op::Conv1x1,
            Op::Output,
        ],
    )
    .unwrap();
    assert_eq!(a.module_hash().unwrap(), b.module_hash().unwrap());
    assert_ne!(a.module_hash().unwrap(), c.module_hash().unwrap());
    // A padded cell prunes back to the same hash.
    assert_eq!(a.padded().num_vertices(), 7);
    assert_eq!(a.padded().module_hash().unwrap(), a.module_hash().unwrap());
    assert_eq!(a.padded().prune().unwrap(), a);
}

#[test]
fn pruning_and_validity_rules() {
    // Vertex 2 is dead (no way to the output), vertex 3 unreachable from the input.
    let m = [
        [0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ];
    let ops = [
        Op::Input,
        Op::Conv1x1,
        Op::Conv3x3,
        Op::MaxPool3x3,
        Op::Output,
    ];
    let c = Cell::new(&m, &ops).unwrap();
    let p = c.prune().unwrap();
    assert_eq!(p.num_vertices(), 3);
    assert_eq!(
        p.matrix(),
        vec![vec![0, 1, 0], vec![0, 0, 1], vec![0, 0, 0]]
    );
    assert_eq!(p.ops(), &[Op::Input, Op::Conv1x1, Op::Output]);
    assert!(c.validate().is_ok());

    // Disconnected.
    let d = Cell::new(&[[0, 0], [0, 0]], &[Op::Input, Op::Output]).unwrap();
    assert!(d.prune().is_none());
    assert!(
        d.validate()
            .unwrap_err()
            .to_string()
            .contains("not connected")
    );
    // Input-output alone is valid.
    assert!(
        Cell::new(&[[0, 1], [0, 0]], &[Op::Input, Op::Output])
            .unwrap()
            .validate()
            .is_ok()
    );
    // Ten edges, all alive: the chain 0-1-..-6 plus 0->2, 0->3, 0->4, 0->5.
    let mut full = [[0u8; 7]; 7];
    for i in 0..6 {
        full[i][i + 1] = 1;
    }
    full[0][2..6].fill(1);
    let ops7 = [
        Op::Input,
        Op::Conv3x3,
        Op::Conv3x3,
        Op::Conv3x3,
        Op::Conv3x3,
        Op::Conv3x3,
        Op::Output,
    ];
    let ten = Cell::new(&full, &ops7).unwrap();
    assert_eq!(ten.num_edges(), 10);
    assert!(ten.validate().unwrap_err().to_string().contains("10 edges"));
    // Wrong operations.
    let mut bad = ops7;
    bad[0] = Op::Conv1x1;
    let line: Vec<Vec<u8>> = (0..7)
        .map(|i| (0..7).map(|j| u8::from(j == i + 1)).collect())
        .collect();
    assert!(Cell::new(&line, &bad).unwrap().validate().is_err());
    let mut bad = ops7;
    bad[3] = Op::Output;
    assert!(Cell::new(&line, &bad).unwrap().validate().is_err());
    // Shape errors.
    assert!(Cell::new(&[[0, 1], [1, 0]], &[Op::Input, Op::Output]).is_err());
    assert!(Cell::new(&[[0, 2], [0, 0]], &[Op::Input, Op::Output]).is_err());
    assert!(Cell::new(&[[0, 1], [0, 0]], &[Op::Input]).is_err());
    assert!(Cell::new(&vec![vec![0u8; 8]; 8], &[Op::Input; 8]).is_err());
}

#[test]
fn encoding_round_trips_and_matches_seminas() {
    let s = Nb101Space::new();
    let enc = s.encoding();
    assert_eq!((enc.len(), enc.vocab_size), (27, 7));
    let mut rng = rng_for(1, "test");
    for _ in 0..300 {
        let a = s.sample(&mut rng);
        let t = s.encode(&a);
        enc.check(&t).unwrap();
        let b = s.decode(&t).unwrap();
        assert_eq!(s.key(&a), s.key(&b));
        assert_eq!(s.encode(&b), t);
        let reference = seminas_reference_sequence(&a).unwrap();
        if a.num_vertices() == 7 {
            assert_eq!(reference, t);
        } else {
            assert!(reference.contains(&0));
        }
    }
    // Known sequence: the first published graph (7 vertices).
    let v = serde_json::json!({"matrix": [[0, 1, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]], "ops": ["input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv1x1-bn-relu", "output"]});
    let c = s.parse_json(&v).unwrap();
    assert_eq!(
        s.encode(&c),
        vec![
            2, 4, 1, 2, 5, 1, 1, 2, 4, 2, 1, 1, 1, 4, 2, 1, 1, 2, 2, 3, 1, 1, 2, 1, 1, 2, 6
        ]
    );
    // Disallowed tokens and invalid cells are refused.
    let mut t = s.encode(&c);
    t[0] = 3;
    assert!(s.decode(&t).is_err());
    let none = vec![
        1, 4, 1, 1, 4, 1, 1, 1, 4, 1, 1, 1, 1, 4, 1, 1, 1, 1, 1, 4, 1, 1, 1, 1, 1, 1, 6,
    ];
    assert!(
        s.decode(&none)
            .unwrap_err()
            .to_string()
            .contains("invalid cell")
    );
}

#[test]
fn mutation_gives_valid_different_cells_reproducibly() {
    let s = Nb101Space::new();
    let mut rng = rng_for(3, "test");
    let mut a = s.sample(&mut rng);
    let mut trail = Vec::new();
    for _ in 0..200 {
        let b = s.mutate(&a, &mut rng);
        assert!(s.validate(&b).is_ok());
        assert_eq!(b.num_vertices(), 7);
        assert_ne!(s.key(&a), s.key(&b));
        trail.push(s.key(&b));
        a = b;
    }
    let mut rng = rng_for(3, "test");
    let mut a = s.sample(&mut rng);
    for k in &trail {
        a = s.mutate(&a, &mut rng);
        assert_eq!(&s.key(&a), k);
    }
}

#[test]
fn sampling_is_reproducible_and_spread() {
    let s = Nb101Space::new();
    let draw = |seed| {
        let mut rng = rng_for(seed, "sample");
        (0..50)
            .map(|_| s.key(&s.sample(&mut rng)))
            .collect::<Vec<_>>()
    };
    assert_eq!(draw(5), draw(5));
    assert_ne!(draw(5), draw(6));
    let distinct: HashSet<_> = draw(5).into_iter().collect();
    assert!(distinct.len() > 45);
}

#[test]
fn official_random_spec_is_valid_and_favours_prunable_cells() {
    let s = Nb101Space::new().with_official_sampling();
    let mut rng = rng_for(4, "test");
    let mut small = 0;
    for _ in 0..2000 {
        let c = s.sample(&mut rng);
        assert_eq!(c.num_vertices(), 7);
        let p = c.validate().unwrap();
        small += usize::from(p.num_vertices() < 7);
    }
    // Random 7x7 matrices have 10.5 edges on average, so nearly every valid one is pruned.
    assert!(small > 1900, "{small}");
    // Uniform sampling matches the enumeration's share of cells under 7 vertices (15.2%).
    let all = enumerate::unique_cells();
    let share = all.iter().filter(|c| c.num_vertices() < 7).count() as f64 / all.len() as f64;
    let uniform = Nb101Space::new();
    let small_u = (0..2000)
        .filter(|_| uniform.sample(&mut rng).num_vertices() < 7)
        .count();
    assert!((small_u as f64 / 2000.0 - share).abs() < 0.03, "{small_u}");
}

#[test]
fn text_and_json_forms_round_trip() {
    let s = Nb101Space::new();
    let mut rng = rng_for(9, "test");
    for _ in 0..50 {
        let a = s.mutate(&s.sample(&mut rng), &mut rng);
        assert_eq!(s.parse(&s.format(&a)).unwrap(), a);
        assert_eq!(s.parse(&s.to_json(&a).to_string()).unwrap(), a);
    }
    let a = s
        .parse("0110000100010000:input,conv3x3-bn-relu,maxpool3x3,output")
        .unwrap();
    assert_eq!(a.num_vertices(), 4);
    assert_eq!(
        s.to_json(&a),
        serde_json::json!({"matrix": [[0,1,1,0],[0,0,0,1],[0,0,0,1],[0,0,0,0]],
            "ops": ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]})
    );
    for bad in [
        "",
        "0110:input,output,output",
        "01100001000100000:input,conv3x3-bn-relu,maxpool3x3,output",
        "0110000100010000:input,conv5x5,maxpool3x3,output",
        "0120000100010000:input,conv3x3-bn-relu,maxpool3x3,output",
        "1000:input,output",
        "{\"matrix\": [[0,1],[0,0]]}",
        "{\"matrix\": [[0,1],[0]], \"ops\": [\"input\", \"output\"]}",
        "{not json",
    ] {
        assert!(s.parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        s.key(&s.parse("0000:input,output").unwrap()),
        "invalid:0000:input,output"
    );
    assert_eq!(
        "00005C142E6F48AC74FDCF73E3439874"
            .parse::<ModuleHash>()
            .unwrap()
            .to_string(),
        "00005c142e6f48ac74fdcf73e3439874"
    );
    assert!("00005c14".parse::<ModuleHash>().is_err());
    assert!(
        "g0005c142e6f48ac74fdcf73e3439874"
            .parse::<ModuleHash>()
            .is_err()
    );
}
