//! Fuzzing of every parser a user feeds (issue 13): NB101 TFRecord files, CSV tables, TOML
//! space definitions, architecture strings and JSON of every space, evaluator result JSON and
//! stored run rows. Each target mutates the inputs under `tests/fuzz/corpus/<target>/` (bit
//! flips, byte changes, cuts, copies, splices, troublesome tokens) and feeds them to the
//! parser: an error is fine, a panic is a defect. A crashing input is written to
//! `target/fuzz-crashes/` and the test fails naming it; it then belongs in the corpus (which
//! `cargo test` replays unchanged first) as a regression test.
//!
//! `cargo test --release --test fuzz_parsers` runs each target for SEMINAS_FUZZ_SECONDS
//! (default 1) seconds, with mutations drawn from SEMINAS_FUZZ_SEED (printed; default: the
//! time). CI runs the default; `SEMINAS_FUZZ_SECONDS=600` fuzzes for longer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::Rng as _;
use seminas::benchmark::Table;
use seminas::benchmark::nb101::Nb101Dataset;
use seminas::evaluator::command::parse_result;
use seminas::rng::{Rng, rng_for};
use seminas::space::{CategoricalSpace, MobileSpace, Nb101Space, Nb201Space, SearchSpace};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

const TOKENS: &[&[u8]] = &[
    b"NaN",
    b"Infinity",
    b"-0.0",
    b"1e308",
    b"-1e308",
    b"5e307",
    b"18446744073709551615",
    b"-1",
    b"0",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b"\n",
    b"\r\n",
    b"|",
    b"~",
    b"=",
    b"+",
    b"\0",
    b"\xff\xfe",
    b"\xe2\x82\xac",
    b"zero",
    b"k7e6",
    b"[[position]]",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.gen_range(0..seeds.len())].clone();
    for _ in 0..rng.gen_range(1..=4) {
        let len = data.len();
        match rng.gen_range(0..7) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                data[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                data[i] = rng.r#gen();
            }
            2 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 64));
                data.drain(a..b);
            }
            3 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 64));
                let copy = data[a..b].to_vec();
                let at = rng.gen_range(0..=data.len());
                data.splice(at..at, copy);
            }
            4 => {
                let t = TOKENS[rng.gen_range(0..TOKENS.len())];
                let at = rng.gen_range(0..=len);
                data.splice(at..at, t.iter().copied());
            }
            5 if len > 0 => data.truncate(rng.gen_range(0..len)),
            _ => {
                let other = &seeds[rng.gen_range(0..seeds.len())];
                if !other.is_empty() {
                    let a = rng.gen_range(0..other.len());
                    let at = rng.gen_range(0..=data.len());
                    data.truncate(at);
                    data.extend_from_slice(&other[a..]);
                }
            }
        }
    }
    data
}

/// Feeds the corpus, then mutants of it for the time budget, to `parse`; fails on a panic.
fn fuzz(target: &str, budget_scale: f64, parse: impl Fn(&[u8])) {
    let seeds = corpus(target);
    let seconds: f64 = std::env::var("SEMINAS_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let seed: u64 = std::env::var("SEMINAS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut rng = rng_for(seed, target);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds * budget_scale);
    let mut runs = 0u64;
    let mut inputs = seeds.clone().into_iter();
    loop {
        let input = match inputs.next() {
            Some(i) => i,
            None if Instant::now() < deadline => mutate(&mut rng, &seeds),
            None => break,
        };
        runs += 1;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&input)));
        if caught.is_err() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{target}-{seed}-{runs}"));
            std::fs::write(&path, &input).unwrap();
            panic!(
                "{target}: the parser panicked on {} (SEMINAS_FUZZ_SEED={seed})",
                path.display()
            );
        }
    }
    eprintln!("{target}: {runs} inputs, SEMINAS_FUZZ_SEED={seed}");
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

#[test]
fn fuzz_nb101_tfrecord() {
    fuzz("nb101_tfrecord", 1.0, |data| {
        let _ = Nb101Dataset::from_reader("fuzz.tfrecord", data);
    });
}

#[test]
fn fuzz_csv_tables() {
    let toy = CategoricalSpace::from_toml_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toy_space.toml"),
        )
        .unwrap(),
        "toy",
    )
    .unwrap();
    let nb201 = Nb201Space::new();
    fuzz("csv_table", 1.0, |data| {
        if let Ok(t) = Table::read_categorical("fuzz.csv", data, &toy) {
            // Whatever a table holds, a benchmark over its columns is built or refused.
            let names = t.metric_names().to_vec();
            for (o, r) in names.iter().zip(names.iter().rev()) {
                let _ = seminas::benchmark::TabularBenchmark::new(
                    std::sync::Arc::new(t.clone()),
                    o,
                    r,
                    Some(o),
                );
            }
        }
        let _ = Table::read_with_text_column("fuzz.csv", data, &nb201, "arch");
    });
}

#[test]
fn fuzz_toml_spaces() {
    fuzz("toml_space", 1.0, |data| {
        if let Ok(space) = CategoricalSpace::from_toml_str(&text(data), "fuzz") {
            let mut rng = rng_for(0, "fuzz");
            let a = space.sample(&mut rng);
            let _ = space.parse(&space.format(&a)).unwrap();
            let _ = space.mutate(&a, &mut rng);
            let _ = space.decode(&space.encode(&a)).unwrap();
        }
    });
}

#[test]
fn fuzz_architecture_text_and_json() {
    let toy = CategoricalSpace::from_toml_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toy_space.toml"),
        )
        .unwrap(),
        "toy",
    )
    .unwrap();
    let (nb201, nb101, mobile) = (Nb201Space::new(), Nb101Space::new(), MobileSpace::paper());
    let limited = MobileSpace::paper().with_max_mflops(600.0).unwrap();
    fn check<S: SearchSpace>(space: &S, t: &str) {
        if let Ok(a) = space.parse(t) {
            let _ = space.validate(&a);
            // What the space writes, it reads back as the same architecture.
            assert_eq!(
                space.key(&space.parse(&space.format(&a)).unwrap()),
                space.key(&a)
            );
            let _ = space.to_json(&a);
            let _ = space.decode(&space.encode(&a));
        }
    }
    fuzz("arch_text", 2.0, |data| {
        let t = text(data);
        check(&nb201, &t);
        check(&nb101, &t);
        check(&mobile, &t);
        check(&limited, &t);
        check(&toy, &t);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) {
            let _ = mobile.arch_from_json(&v);
            let _ = nb101.parse_json(&v);
        }
    });
}

#[test]
fn fuzz_evaluator_result_json() {
    fuzz("result_json", 1.0, |data| {
        if let Ok((objective, metrics)) = parse_result(&text(data)) {
            assert!(objective.is_finite());
            assert!(metrics.values().all(|m| m.is_finite()));
        }
    });
}

#[test]
fn fuzz_stored_run_rows() {
    use seminas::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
    use seminas::search::{Algo, AlgoConfig};
    use seminas::store::{RunMeta, RunStore};
    use seminas::study::Budget;
    use seminas::study::engine::{DriveOptions, drive};
    // A real stored run (proposals, outcomes, a failure), as the seed.
    let root = std::env::temp_dir().join(format!("seminas-fuzz-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("seed");
    let meta = RunMeta {
        args: vec!["search".into(), "--algo".into(), "random".into()],
        cwd: root.clone(),
        seed: 1,
        version: "fuzz".into(),
        run_id: "fuzz".into(),
    };
    {
        let store = RunStore::create(&dir, &meta).unwrap();
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let mut s = Algo::Random.build(&space, 1, 6, &AlgoConfig::default());
        drive(
            &space,
            &bench,
            s.as_mut(),
            Budget::queries(6),
            DriveOptions::default(),
            &mut store.journal(&space),
            &mut |_| {},
        )
        .unwrap();
        store
            .add_outcome(99, &seminas::evaluator::Outcome::Failed("x".into()))
            .ok();
    }
    let seed = std::fs::read(dir.join("run.sqlite")).unwrap();
    let corpus_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus/run_store");
    if !corpus_dir.join("seed.sqlite").exists() {
        std::fs::create_dir_all(&corpus_dir).unwrap();
        std::fs::write(corpus_dir.join("seed.sqlite"), &seed).unwrap();
    }
    let case = root.join("case");
    std::fs::create_dir_all(&case).unwrap();
    fuzz("run_store", 1.0, |data| {
        std::fs::write(case.join("run.sqlite"), data).unwrap();
        if let Ok((store, _meta)) = RunStore::open(&case) {
            let _ = store.replay();
            let _ = store.status();
            let _ = store.evaluator_state("supernet");
            let _ = store.latest_checkpoint("controller");
        }
    });
    std::fs::remove_dir_all(&root).unwrap();
}
