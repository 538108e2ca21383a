//! Finite-difference and cross-precision checks of the hand-written passes.

// Index loops mirror the maths of the backward passes more readably than iterator chains.
#![allow(clippy::needless_range_loop)]

use super::*;
use crate::controller::config::ControllerConfig;
use crate::rng::rng_for;
use rand::Rng as _;
use rand::SeedableRng;

fn small() -> (ControllerConfig, Layout, Dims) {
    let cfg = ControllerConfig {
        vocab_size: 5,
        length: 4,
        hidden: 18, // one full 16-lane block and a remainder in every dot product
        mlp_hidden: 5,
        mlp_layers: 3,
        dropout: 0.3,
        ..ControllerConfig::default()
    };
    let lay = Layout::new(&cfg);
    let d = dims_of(&cfg);
    (cfg, lay, d)
}

pub(crate) fn dims_of(cfg: &ControllerConfig) -> Dims {
    Dims::of(cfg)
}

fn data(rng: &mut crate::rng::Rng, b: usize, t: usize, v: usize) -> (Vec<Vec<u32>>, Vec<f64>) {
    let seqs = (0..b)
        .map(|_| (0..t).map(|_| rng.gen_range(1..v as u32)).collect())
        .collect();
    let targets = (0..b).map(|_| rng.gen_range(-1.5..1.5)).collect();
    (seqs, targets)
}

/// Loss in f64 with dropout masks from a fixed seed, so every evaluation sees the same masks.
fn loss(
    p: &[f64],
    lay: &Layout,
    d: &Dims,
    ws: &mut Workspace<f64>,
    seqs: &[&[u32]],
    y: &[f64],
    grad: bool,
) -> f64 {
    let net = Net { p, lay, d };
    ws.grad.fill(0.0);
    let mut masks = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let b = seqs.len();
    let total_b = b + 2; // slices are scaled by the whole batch size
    let (sse, nll) = net.loss_and_grad(ws, seqs, y, total_b, Some(&mut masks));
    let _ = grad;
    d.trade_off * sse / total_b as f64 + (1.0 - d.trade_off) * nll / (total_b * d.t) as f64
}

#[test]
fn every_parameter_gradient_matches_finite_differences() {
    let (cfg, lay, d) = small();
    let mut rng = rng_for(5, "gradcheck");
    let p: Vec<f64> = lay.init(&mut rng).iter().map(|&x| f64::from(x)).collect();
    let (seqs, y) = data(&mut rng, 3, cfg.length, cfg.vocab_size);
    let seqs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
    let mut ws = Workspace::<f64>::new(&d, 3, lay.total);
    loss(&p, &lay, &d, &mut ws, &seqs, &y, true);
    let analytic = ws.grad.clone();
    let mut checked = 0;
    for tensor in &lay.tensors {
        let len = tensor.range.len();
        // Every element of small tensors, 40 random elements of large ones.
        let picks: Vec<usize> = if len <= 120 {
            tensor.range.clone().collect()
        } else {
            (0..40)
                .map(|_| tensor.range.start + rng.gen_range(0..len))
                .collect()
        };
        let mut worst = 0.0f64;
        let mut nonzero = false;
        for k in picks {
            let eps = 1e-6;
            let mut pp = p.clone();
            pp[k] = p[k] + eps;
            let lp = loss(&pp, &lay, &d, &mut ws, &seqs, &y, false);
            pp[k] = p[k] - eps;
            let lm = loss(&pp, &lay, &d, &mut ws, &seqs, &y, false);
            let numeric = (lp - lm) / (2.0 * eps);
            let a = analytic[k];
            nonzero |= a.abs() > 1e-9;
            let err = (a - numeric).abs() / (1e-7 + a.abs().max(numeric.abs()));
            worst = worst.max(if (a - numeric).abs() < 1e-9 { 0.0 } else { err });
            checked += 1;
        }
        assert!(
            worst < 1e-4,
            "{}: worst relative error {worst:e}",
            tensor.name
        );
        assert!(nonzero, "{}: gradient is identically zero", tensor.name);
    }
    assert!(checked > 500);
}

#[test]
fn f32_path_matches_f64_path() {
    // The f32 passes (AVX-512 kernel, fast exp, vectorised variants) against the f64 ones,
    // at the paper's sizes.
    let cfg = ControllerConfig::default();
    let lay = Layout::new(&cfg);
    let d = dims_of(&cfg);
    let mut rng = rng_for(8, "f32check");
    let p32 = lay.init(&mut rng);
    let p64: Vec<f64> = p32.iter().map(|&x| f64::from(x)).collect();
    let (seqs, y) = data(&mut rng, 37, cfg.length, cfg.vocab_size);
    let seqs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
    let y32: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    let mut ws32 = Workspace::<f32>::new(&d, 37, lay.total);
    let mut ws64 = Workspace::<f64>::new(&d, 37, lay.total);
    let mut m1 = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut m2 = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let l32 = Net {
        p: &p32,
        lay: &lay,
        d: &d,
    }
    .loss_and_grad(&mut ws32, &seqs, &y32, 37, Some(&mut m1));
    let l64 = Net {
        p: &p64,
        lay: &lay,
        d: &d,
    }
    .loss_and_grad(&mut ws64, &seqs, &y, 37, Some(&mut m2));
    assert!(
        (l32.0 - l64.0).abs() < 1e-4 * l64.0.abs().max(1.0),
        "{l32:?} {l64:?}"
    );
    assert!(
        (l32.1 - l64.1).abs() < 1e-4 * l64.1.abs().max(1.0),
        "{l32:?} {l64:?}"
    );
    for ten in &lay.tensors {
        let r = ten.range.clone();
        let norm = ws64.grad[r.clone()]
            .iter()
            .map(|g| g * g)
            .sum::<f64>()
            .sqrt();
        let diff = ws32.grad[r.clone()]
            .iter()
            .zip(&ws64.grad[r])
            .map(|(a, b)| (f64::from(*a) - b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(
            diff <= 1e-3 * norm + 1e-7,
            "{}: |diff| {diff:e}, |grad| {norm:e}",
            ten.name
        );
    }
    let allowed = vec![true; cfg.length * cfg.vocab_size];
    let g32 = Net {
        p: &p32,
        lay: &lay,
        d: &d,
    }
    .generate(&mut ws32, &seqs, 1.0, &allowed);
    let pr32 = ws32.pred.value[..37].to_vec();
    let g64 = Net {
        p: &p64,
        lay: &lay,
        d: &d,
    }
    .generate(&mut ws64, &seqs, 1.0, &allowed);
    for (a, b) in pr32.iter().zip(&ws64.pred.value[..37]) {
        assert!((f64::from(*a) - b).abs() < 1e-4, "{a} vs {b}");
    }
    let same = g32.iter().zip(&g64).filter(|(a, b)| a == b).count();
    assert!(
        same * 100 >= 99 * g32.len(),
        "decoded tokens differ: {same}/{}",
        g32.len()
    );
}

#[test]
fn eval_tables_change_nothing_but_rounding() {
    let (cfg, lay, d) = small();
    let mut rng = rng_for(9, "tables");
    let p: Vec<f64> = lay.init(&mut rng).iter().map(|&x| f64::from(x)).collect();
    let (seqs, _) = data(&mut rng, 5, cfg.length, cfg.vocab_size);
    let seqs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
    let net = Net {
        p: &p,
        lay: &lay,
        d: &d,
    };
    let allowed = vec![true; cfg.length * cfg.vocab_size];
    let mut plain = Workspace::<f64>::new(&d, 5, 0);
    let mut tabled = Workspace::<f64>::new(&d, 5, 0);
    net.prepare_eval(&mut tabled);
    net.encode(&mut plain, &seqs, None);
    net.encode(&mut tabled, &seqs, None);
    for (a, b) in plain.pred.value[..5].iter().zip(&tabled.pred.value[..5]) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    let g1 = net.generate(&mut plain, &seqs, 0.7, &allowed);
    let g2 = net.generate(&mut tabled, &seqs, 0.7, &allowed);
    assert_eq!(g1, g2);
    for (a, b) in plain.pred.value[..5].iter().zip(&tabled.pred.value[..5]) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

#[test]
fn gradient_wrt_encoder_outputs_matches_finite_differences() {
    let (cfg, lay, d) = small();
    let mut rng = rng_for(6, "gradcheck");
    let p: Vec<f64> = lay.init(&mut rng).iter().map(|&x| f64::from(x)).collect();
    let (seqs, _) = data(&mut rng, 3, cfg.length, cfg.vocab_size);
    let seqs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
    let net = Net {
        p: &p,
        lay: &lay,
        d: &d,
    };
    let mut ws = Workspace::<f64>::new(&d, 3, 0);
    let b = seqs.len();
    net.encode(&mut ws, &seqs, None);
    net.pred_grad_wrt_outputs(&mut ws, b);
    let analytic = ws.g.enc_out[..d.t * b * d.h].to_vec();
    let o0 = ws.enc.out[..d.t * b * d.h].to_vec();
    let total = |ws: &mut Workspace<f64>| -> f64 {
        net.embed_and_predict(ws, b, None);
        ws.pred.value[..b].iter().sum()
    };
    for k in 0..o0.len() {
        let eps = 1e-6;
        ws.enc.out[..o0.len()].copy_from_slice(&o0);
        ws.enc.out[k] += eps;
        let lp = total(&mut ws);
        ws.enc.out[k] -= 2.0 * eps;
        let lm = total(&mut ws);
        let numeric = (lp - lm) / (2.0 * eps);
        let a = analytic[k];
        assert!(
            (a - numeric).abs() <= 1e-7 + 1e-5 * a.abs().max(numeric.abs()),
            "output {k}: analytic {a} numeric {numeric}"
        );
    }
    assert!(analytic.iter().any(|g| g.abs() > 1e-6));
}
