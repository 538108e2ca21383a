//! `RayEvaluator` (the user's command as Ray jobs) against the fake head of the parent
//! module: steps read from the job's log, stops through the Jobs API.

use super::*;
use crate::evaluator::command::{CommandConfig, CommandEvaluator};
use crate::evaluator::ray_jobs::RayEvaluator;
use crate::evaluator::{Decision, EvalContext, Evaluator, Outcome, StepMonitor};
use crate::space::{Nb201Space, SearchSpace};

/// Jobs of `python3 train.py` on `head`, named after `run`, polled every 5 ms.
fn evaluator(head: &FakeHead, run: &str, retries: usize) -> RayEvaluator {
    let command = CommandEvaluator::new(CommandConfig {
        template: "python3 train.py".into(),
        timeout: None,
        retries,
        report_metric: None,
        cwd: None,
        steps: Default::default(),
    })
    .unwrap();
    RayEvaluator::new(head.client(), command, run, None).with_poll(Duration::from_millis(5))
}

/// The best NB201 cell, to evaluate.
fn cell() -> (Nb201Space, <Nb201Space as SearchSpace>::Arch) {
    let space = Nb201Space::new();
    let arch = space
        .parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
        .unwrap();
    (space, arch)
}

#[test]
fn a_ray_job_that_reports_steps_is_stopped_through_the_jobs_api() {
    /// Stops at step 2, recording the steps it saw.
    struct StopAt2(Mutex<Vec<(u64, f64)>>);
    impl StepMonitor for StopAt2 {
        fn report(&self, step: u64, objective: f64, _: f64) -> Decision {
            self.0.lock().unwrap().push((step, objective));
            if step == 2 {
                Decision::Stop
            } else {
                Decision::Continue
            }
        }
    }
    // The job's log grows by a step line at each log request; it is STOPPED once asked to.
    let stopped = Arc::new(AtomicUsize::new(0));
    let reads = AtomicUsize::new(0);
    let s = stopped.clone();
    let id = "seminas-r1-0-1";
    let head = FakeHead::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/api/jobs/") => respond(200, &format!(r#"{{"submission_id":"{id}"}}"#)),
        ("GET", p) if p == format!("/api/jobs/{id}") => job(if s.load(Ordering::SeqCst) > 0 {
            "STOPPED"
        } else {
            "RUNNING"
        }),
        ("GET", p) if p == format!("/api/jobs/{id}/logs") => {
            let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
            let mut log = String::from("starting\n");
            for step in 1..=n.min(4) {
                log.push_str(&format!(
                    "{{\"step\": {step}, \"objective\": {}.5}}\n",
                    10 * step
                ));
            }
            log.push_str("{\"step\": 9, \"obj"); // an unfinished line is not read yet
            respond(200, &serde_json::json!({ "logs": log }).to_string())
        }
        ("POST", p) if p == format!("/api/jobs/{id}/stop") => {
            s.fetch_add(1, Ordering::SeqCst);
            respond(200, r#"{"stopped": true}"#)
        }
        _ => respond(404, "no such route"),
    });
    let ray = evaluator(&head, "r1", 0);
    let (space, arch) = cell();
    let monitor = StopAt2(Mutex::new(Vec::new()));
    let ctx = EvalContext {
        steps_wanted: true,
        ..EvalContext::default()
    };
    let out = ray.evaluate_steps(&space, &arch, &ctx, &monitor);
    let Outcome::Evaluated(e) = out else {
        panic!("{out:?}")
    };
    assert_eq!((e.objective, e.report), (20.5, None));
    assert_eq!(*monitor.0.lock().unwrap(), vec![(1, 10.5), (2, 20.5)]);
    assert_eq!(stopped.load(Ordering::SeqCst), 1, "stopped once");
    assert!(head.lines().contains(&format!("POST /api/jobs/{id}/stop")));
}

/// A run that stops (its stop policy halted it) stops the Ray jobs it follows through the
/// Jobs API, and submits no further attempt.
#[test]
fn stopping_the_run_stops_its_running_jobs_and_submits_no_more() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let submitted = Arc::new(AtomicUsize::new(0));
    let (s, n) = (stopped.clone(), submitted.clone());
    let id = "seminas-r2-0-1";
    let head = FakeHead::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/api/jobs/") => {
            n.fetch_add(1, Ordering::SeqCst);
            respond(200, &format!(r#"{{"submission_id":"{id}"}}"#))
        }
        ("GET", p) if p == format!("/api/jobs/{id}") => job(if s.load(Ordering::SeqCst) > 0 {
            "STOPPED"
        } else {
            "RUNNING"
        }),
        ("GET", p) if p == format!("/api/jobs/{id}/logs") => respond(200, r#"{"logs": ""}"#),
        ("POST", p) if p == format!("/api/jobs/{id}/stop") => {
            s.fetch_add(1, Ordering::SeqCst);
            respond(200, r#"{"stopped": true}"#)
        }
        _ => respond(404, "no such route"),
    });
    let ray = Arc::new(evaluator(&head, "r2", 3));
    let (space, arch) = cell();
    let worker = {
        let (ray, space) = (ray.clone(), space.clone());
        std::thread::spawn(move || ray.evaluate_in(&space, &arch, &EvalContext::default()))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while submitted.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Followed for a while: the job runs until it is stopped.
    std::thread::sleep(Duration::from_millis(50));
    Evaluator::<Nb201Space>::stop_running(ray.as_ref());
    let out = worker.join().unwrap();
    let Outcome::Failed(why) = out else {
        panic!("{out:?}")
    };
    assert!(why.contains("stopped"), "{why}");
    assert_eq!(
        stopped.load(Ordering::SeqCst),
        1,
        "the running job was stopped once"
    );
    assert_eq!(
        submitted.load(Ordering::SeqCst),
        1,
        "no retry after the stop"
    );
    assert!(head.lines().contains(&format!("POST /api/jobs/{id}/stop")));
}
