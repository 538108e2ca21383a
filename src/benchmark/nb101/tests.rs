use std::sync::Arc;

use super::record::{decode_payload, encode_payload};
use super::synth::{SynthOptions, write_synthetic};
use super::tfrecord::{masked_crc32c, write_record};
use super::*;
use crate::evaluator::{EvalContext, Evaluator, Outcome};
use crate::rng::rng_for;
use crate::space::SearchSpace;
use crate::space::nb101::{Cell, Nb101Space};

const REAL: &[u8] = include_bytes!("../../../tests/fixtures/nb101/nasbench_single_record.tfrecord");

fn load(bytes: &[u8]) -> Result<Nb101Dataset, Nb101Error> {
    Nb101Dataset::from_reader("t.tfrecord", bytes)
}

/// The error's byte offset and message.
fn format_error(bytes: &[u8]) -> (u64, String) {
    match load(bytes) {
        Err(Nb101Error::Format {
            offset, message, ..
        }) => (offset, message),
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// Rebuilds a one-record file around `data` with correct CRCs.
fn reframe(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_record(&mut out, data).unwrap();
    out
}

#[test]
fn real_record_decodes_and_re_encodes_byte_for_byte() {
    let d = load(REAL).unwrap();
    assert_eq!((d.num_records(), d.num_models()), (1, 1));
    assert_eq!(d.epochs(), &[4]);
    let m = &d.models()[0];
    assert_eq!(m.hash.to_string(), "00005c142e6f48ac74fdcf73e3439874");
    assert_eq!(m.trainable_parameters, 8_555_530);
    assert_eq!(m.cell.module_hash().unwrap(), m.hash);
    assert_eq!(m.runs.len(), 1);
    assert_eq!(m.runs[0].epochs, 4);
    assert!(m.runs[0].validation_accuracy > 0.1 && m.runs[0].validation_accuracy < 1.0);

    let mut scratch = Vec::new();
    let rec = decode_payload(&REAL[12..REAL.len() - 4], &mut scratch).unwrap();
    assert_eq!(rec.metrics.evaluation_data.len(), 3);
    assert_eq!(rec.metrics.evaluation_data[2].current_epoch, Some(4.0));
    assert_eq!(reframe(&encode_payload(&rec)), REAL);
}

#[test]
fn corrupt_inputs_give_located_errors() {
    // A flipped data byte: the data CRC (at byte 413) no longer matches.
    let mut bad = REAL.to_vec();
    bad[100] ^= 0x20;
    let (at, msg) = format_error(&bad);
    assert_eq!(at, 413);
    assert!(msg.contains("bad CRC-32C of the record data"), "{msg}");
    // A flipped length byte.
    let mut bad = REAL.to_vec();
    bad[1] ^= 1;
    let (at, msg) = format_error(&bad);
    assert_eq!(at, 8);
    assert!(msg.contains("record length"), "{msg}");
    // Truncated file, after one good record.
    let mut two = REAL.to_vec();
    two.extend_from_slice(&REAL[..300]);
    let (at, msg) = format_error(&two);
    assert_eq!(at, 417 + 12);
    assert!(msg.contains("truncated"), "{msg}");
    let e = load(&two).unwrap_err().to_string();
    assert!(
        e.starts_with("t.tfrecord: byte 429 (record 2): truncated record"),
        "{e}"
    );

    let data = &REAL[12..REAL.len() - 4];
    let text = std::str::from_utf8(data).unwrap();
    // Bad base64: a '*' inside the metrics string.
    let b64_at = text.find("\"Ci0J").unwrap() + 1;
    let mut d = data.to_vec();
    d[b64_at + 10] = b'*';
    let (at, msg) = format_error(&reframe(&d));
    assert_eq!(at, 12 + b64_at as u64 + 10);
    assert!(msg.contains("bad base64"), "{msg}");
    // ... and after the first line break (written as the two bytes `\n`).
    let mut d = data.to_vec();
    d[b64_at + 100] = b'!';
    let (at, msg) = format_error(&reframe(&d));
    assert_eq!(at, 12 + b64_at as u64 + 100);
    assert!(msg.contains("'!' is not a base64 character"), "{msg}");
    // Wrong field type: epochs as a string.
    let (at, msg) = format_error(&reframe(text.replacen(", 4, ", ", \"4\", ", 1).as_bytes()));
    assert!(msg.contains("invalid type"), "{msg}");
    assert_eq!(at, 12 + 39);
    // Wrong field type inside the protobuf: trainable_parameters as a double.
    let mut rec = decode_payload(data, &mut Vec::new()).unwrap();
    rec.metrics.trainable_parameters = None;
    let mut pb = super::record::encode_metrics(&rec.metrics);
    pb.extend_from_slice(&[0x11, 0, 0, 0, 0, 0, 0, 0, 0]);
    let b64 = super::record::base64_encode_lines(&pb).replace('\n', "\\n");
    let payload = format!("{}\"{b64}\"]", &text[..b64_at - 1]);
    let (at, msg) = format_error(&reframe(payload.as_bytes()));
    assert_eq!(at, 12 + b64_at as u64 - 1);
    assert!(
        msg.contains("trainable_parameters has wire type 1"),
        "{msg}"
    );
    // A payload that is not a list, and a bad hash.
    let (_, msg) = format_error(&reframe(b"{}"));
    assert!(msg.contains("not [hash"), "{msg}");
    let (at, msg) = format_error(&reframe(text.replacen("00005c", "zz005c", 1).as_bytes()));
    assert_eq!(at, 12 + 1);
    assert!(msg.contains("bad module hash"), "{msg}");
}

#[test]
fn no_single_byte_corruption_or_truncation_panics() {
    for i in 0..REAL.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = REAL.to_vec();
            bad[i] ^= flip;
            let _ = load(&bad);
            // Same corruption with the CRCs repaired, so the payload decoders see it.
            if i >= 12 && i < REAL.len() - 4 {
                let _ = load(&reframe(&bad[12..REAL.len() - 4]));
            }
        }
        let _ = load(&REAL[..i]);
        if i > 12 {
            let _ = load(&reframe(&REAL[12..i]));
        }
    }
    // Length claims more data than exists, with a valid length CRC.
    let mut bad = Vec::new();
    let len = 5000u64.to_le_bytes();
    bad.extend_from_slice(&len);
    bad.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    bad.extend_from_slice(&[b'x'; 100]);
    assert!(format_error(&bad).1.contains("truncated"));
}

fn synthetic(limit: usize, epochs: Vec<u32>) -> Vec<u8> {
    let mut out = Vec::new();
    let n = write_synthetic(
        &mut out,
        &SynthOptions {
            epochs: epochs.clone(),
            repeats: 3,
            seed: 4,
            limit: Some(limit),
        },
    )
    .unwrap();
    assert_eq!(n as usize, limit * 3 * epochs.len());
    out
}

#[test]
fn writer_reader_round_trip_and_official_query_semantics() {
    let bytes = synthetic(40, vec![12, 108]);
    let d = Arc::new(load(&bytes).unwrap());
    assert_eq!((d.num_records(), d.num_models()), (240, 40));
    assert_eq!(d.epochs(), &[12, 108]);
    let m = &d.models()[7];
    assert_eq!(m.cell.module_hash().unwrap(), m.hash);
    assert_eq!(m.runs_at(108).count(), 3);

    let mut rng = rng_for(1, "q");
    let cell = m.cell.padded();
    // Sample mode: one of the three repeats, all reachable, reproducible.
    let mut seen = std::collections::HashSet::new();
    let mut draws = Vec::new();
    for _ in 0..60 {
        let q = d
            .query(&cell, 108, QueryMode::Sample, &mut rng)
            .unwrap()
            .unwrap();
        let r = m
            .runs_at(108)
            .position(|r| r.validation_accuracy == q.validation_accuracy)
            .unwrap();
        assert_eq!(
            m.runs_at(108).nth(r).unwrap().test_accuracy,
            q.test_accuracy
        );
        seen.insert(r);
        draws.push(r);
        assert_eq!(q.mean_test_accuracy, m.mean_test_accuracy(108).unwrap());
        assert_eq!(q.trainable_parameters, m.trainable_parameters);
    }
    assert_eq!(seen.len(), 3);
    let mut rng = rng_for(1, "q");
    let again: Vec<usize> = (0..60)
        .map(|_| {
            let q = d
                .query(&cell, 108, QueryMode::Sample, &mut rng)
                .unwrap()
                .unwrap();
            m.runs_at(108)
                .position(|r| r.validation_accuracy == q.validation_accuracy)
                .unwrap()
        })
        .collect();
    assert_eq!(again, draws);
    // Mean mode.
    let q = d
        .query(&cell, 12, QueryMode::Mean, &mut rng)
        .unwrap()
        .unwrap();
    let runs: Vec<_> = m.runs_at(12).collect();
    let mv = runs.iter().map(|r| r.validation_accuracy).sum::<f64>() / 3.0;
    assert!((q.validation_accuracy - mv).abs() < 1e-12);
    assert!((q.mean_test_accuracy - m.mean_test_accuracy(12).unwrap()).abs() < 1e-12);
    // Out of domain and absent cells.
    assert!(d.query(&cell, 36, QueryMode::Mean, &mut rng).is_err());
    let invalid = Cell::new(
        &[[0, 0], [0, 0]],
        &[
            crate::space::nb101::Op::Input,
            crate::space::nb101::Op::Output,
        ],
    )
    .unwrap();
    assert!(d.query(&invalid, 108, QueryMode::Mean, &mut rng).is_err());
    let space = Nb101Space::new();
    let absent = (0..)
        .map(|i| space.sample(&mut rng_for(i, "absent")))
        .find(|c| d.get(&c.module_hash().unwrap()).is_none())
        .unwrap();
    assert!(
        d.query(&absent, 108, QueryMode::Mean, &mut rng)
            .unwrap()
            .is_none()
    );

    // The evaluator: objective = the sampled repeat's validation accuracy, report = mean test.
    let b = Nb101Benchmark::new(d.clone(), 108, QueryMode::Sample, rng_for(2, "e")).unwrap();
    match b.evaluate(&space, &cell) {
        crate::evaluator::Outcome::Evaluated(e) => {
            assert!(m.runs_at(108).any(|r| r.validation_accuracy == e.objective));
            assert_eq!(e.report, m.mean_test_accuracy(108));
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(
        b.evaluate(&space, &absent),
        crate::evaluator::Outcome::NotEvaluable
    );
    // Same seed, same draws; a reseeded copy starts its own stream.
    let objectives = |b: &Nb101Benchmark| -> Vec<f64> {
        (0..20)
            .map(|_| match b.evaluate(&space, &cell) {
                crate::evaluator::Outcome::Evaluated(e) => e.objective,
                o => panic!("{o:?}"),
            })
            .collect()
    };
    let b1 = b.reseeded(rng_for(9, "e"));
    let b2 = b.reseeded(rng_for(9, "e"));
    assert_eq!(objectives(&b1), objectives(&b2));
    assert_ne!(objectives(&b1), objectives(&b.reseeded(rng_for(10, "e"))));
    let reference = b.reference().unwrap();
    assert_eq!(reference.len(), 40);
    assert!(Nb101Benchmark::new(d, 4, QueryMode::Sample, rng_for(2, "e")).is_err());
}

#[test]
fn embedded_20k_table_holds_the_published_graphs() {
    let t = nb101_20k_table();
    assert_eq!(t.len(), 20_001);
    let cells = nb101_20k_cells();
    assert_eq!(cells.len(), 20_001);
    // Every embedded graph hashes to its published key.
    for (h, c) in cells {
        assert_eq!(c.graph_hash(), *h);
    }
    // First published row, and the evaluator.
    let space = Nb101Space::new();
    let b = nb101_20k_benchmark();
    let (h0, c0) = cells[0];
    assert_eq!(h0.to_string(), "00005c142e6f48ac74fdcf73e3439874");
    let e = b.lookup(&h0.to_string()).unwrap();
    assert_eq!((e.objective, e.report), (0.930489, Some(0.930489)));
    assert_eq!(e.cost_seconds, 1768.98);
    assert!(matches!(
        Evaluator::<Nb101Space>::evaluate(&b, &space, &c0.padded()),
        crate::evaluator::Outcome::Evaluated(_)
    ));
    // The subset space samples only table cells.
    let sub = nb101_20k_space();
    assert_eq!((sub.name(), sub.cardinality()), ("nb101-20k", Some(20_001)));
    let mut rng = rng_for(0, "sub");
    for _ in 0..100 {
        assert!(b.lookup(&sub.key(&sub.sample(&mut rng))).is_some());
    }
    // Hash ffff... sorts last: not among the first 20,001.
    let outside = (0..)
        .map(|i| space.sample(&mut rng_for(i, "outside")))
        .find(|c| c.module_hash().unwrap().0[0] > 0x80)
        .unwrap();
    assert_eq!(
        Evaluator::<Nb101Space>::evaluate(&b, &space, &outside),
        crate::evaluator::Outcome::NotEvaluable
    );
}

#[test]
fn embedded_20k_matches_the_published_csv_when_available() {
    // The published file is in the CI checkout (../shared/data), not in the repository.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/nb101/nb101_20k.csv"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} not found");
        return;
    };
    let t = nb101_20k_table();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[1..], t.metric_names());
    let mut n = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let row = t
            .get(cells[0])
            .unwrap_or_else(|| panic!("{} missing", cells[0]));
        for (v, c) in row.iter().zip(&cells[1..]) {
            assert_eq!(*v, c.parse::<f64>().unwrap(), "{line}");
        }
        n += 1;
    }
    assert_eq!(n, t.len());
}

#[test]
fn searchers_run_on_nb101_through_the_driver() {
    use crate::search::{Algo, AlgoConfig};
    use crate::study::{Budget, run_search};
    // The embedded subset: sampling within it, mutation may leave it (not evaluable, free).
    let space = nb101_20k_space();
    let bench = nb101_20k_benchmark();
    // (The controller-based searchers are exercised on NB101 in the next test, with small
    // settings, and on NB201 in crate::search.)
    for algo in [Algo::Random, Algo::Re] {
        let mut s = algo.build(&space, 1, 150, &AlgoConfig::default());
        let run = run_search(
            &space,
            &bench,
            s.as_mut(),
            Budget::queries(150),
            &mut |_| {},
        );
        assert_eq!(run.records.len(), 150, "{algo}");
        let best = run.best().unwrap().result.as_ref().unwrap().objective;
        assert!(best > 0.93, "{algo}: {best}");
        if algo == Algo::Re {
            assert!(run.not_evaluable > 0, "mutants outside the table are free");
        }
    }
    // An official-format file (synthetic), with seeded repeat draws.
    let d = Arc::new(load(&synthetic(300, vec![108])).unwrap());
    let pool: Vec<Cell> = d.models().iter().map(|m| m.cell).collect();
    let space = Nb101Space::with_pool("nb101-synthetic", pool);
    let bench = Nb101Benchmark::new(d, 108, QueryMode::Sample, rng_for(3, "repeats")).unwrap();
    let mut s = Algo::Re.build(&space, 2, 100, &AlgoConfig::default());
    let run = run_search(
        &space,
        &bench,
        s.as_mut(),
        Budget::queries(100),
        &mut |_| {},
    );
    assert_eq!(run.records.len(), 100);
    for r in &run.records {
        let e = r.result.as_ref().unwrap();
        assert!(e.report.unwrap() > 0.0 && e.cost_seconds > 0.0);
    }
}

#[test]
fn seminas_runs_on_the_27_token_encoding() {
    use crate::search::{Algo, AlgoConfig, SemiNasOverrides};
    use crate::study::{Budget, run_search};
    let space = nb101_20k_space();
    let bench = nb101_20k_benchmark();
    let config = AlgoConfig {
        seminas: SemiNasOverrides {
            pretrain_epochs: Some(20),
            train_epochs: Some(2),
            pseudo: Some(200),
            ..SemiNasOverrides::default()
        },
        ..AlgoConfig::default()
    };
    let mut s = Algo::SemiNas.build(&space, 5, 40, &config);
    let run = run_search(&space, &bench, s.as_mut(), Budget::queries(40), &mut |_| {});
    assert_eq!(run.records.len(), 40);
    assert_eq!(run.repeats, 0);
    // Generated cells decode to valid NAS-Bench-101 cells (the driver would record invalid
    // ones as failures).
    assert!(run.records.iter().all(|r| r.result.is_ok()));
}

#[test]
fn the_official_file_reports_each_budget_as_a_fidelity_of_its_own_cost() {
    use crate::evaluator::{Decision, NoMonitor, StepMonitor};
    /// Stops at a given step, recording what it saw.
    struct StopAt(u64, std::sync::Mutex<Vec<(u64, f64, f64)>>);
    impl StepMonitor for StopAt {
        fn report(&self, step: u64, objective: f64, cost: f64) -> Decision {
            self.1.lock().unwrap().push((step, objective, cost));
            if step == self.0 {
                Decision::Stop
            } else {
                Decision::Continue
            }
        }
    }
    let d = Arc::new(load(&synthetic(30, vec![4, 12, 108])).unwrap());
    let bench = Nb101Benchmark::new(d.clone(), 108, QueryMode::Sample, rng_for(3, "e")).unwrap();
    let space = Nb101Space::new();
    let fid = Evaluator::<Nb101Space>::fidelities(&bench).unwrap();
    assert_eq!(fid.steps, vec![4, 12, 108]);
    // A whole training's cost (the unit of --budget-trainings): the mean over the cells of
    // each cell's mean 108-epoch training time.
    let per_cell: Vec<f64> = d
        .models()
        .iter()
        .map(|m| m.runs_at(108).map(|r| r.training_time).sum::<f64>() / 3.0)
        .collect();
    let want = per_cell.iter().sum::<f64>() / per_cell.len() as f64;
    let got = Evaluator::<Nb101Space>::full_training_cost(&bench).unwrap();
    assert!((got - want).abs() <= 1e-9 * want, "{got} {want}");
    for (index, m) in d.models().iter().enumerate().take(10) {
        let ctx = EvalContext {
            index,
            ..EvalContext::default()
        };
        let cell = m.cell.padded();
        let whole = bench.evaluate_in(&space, &cell, &ctx);
        // Nothing stopped: the same answer as without steps (the same repeat drawn).
        assert_eq!(bench.evaluate_steps(&space, &cell, &ctx, &NoMonitor), whole);
        let Outcome::Evaluated(w) = &whole else {
            panic!()
        };
        let k = m
            .runs_at(108)
            .position(|r| r.validation_accuracy == w.objective)
            .unwrap();
        let stop = StopAt(12, Default::default());
        let Outcome::Evaluated(e) = bench.evaluate_steps(&space, &cell, &ctx, &stop) else {
            panic!()
        };
        // Stopped at 12 epochs: that budget's run of the same repeat, at its own cost.
        let r12 = m.runs_at(12).nth(k).unwrap();
        assert_eq!(
            (e.objective, e.cost_seconds),
            (r12.validation_accuracy, r12.training_time)
        );
        let seen = stop.1.into_inner().unwrap();
        let r4 = m.runs_at(4).nth(k).unwrap();
        assert_eq!(
            seen,
            vec![
                (4, r4.validation_accuracy, r4.training_time),
                (12, e.objective, e.cost_seconds)
            ]
        );
    }
}
