//! The Ray client against a real Ray head. Ignored by default: `.ci/ray-test.sh` starts a
//! private head and runs them with `SEMINAS_RAY_ADDRESS` set, e.g.
//! `SEMINAS_RAY_ADDRESS=http://127.0.0.1:8265 cargo test --release --test ray_jobs -- --ignored`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use seminas::evaluator::ray::{JobStatus, RayClient, RayError, extract_between, last_marked_line};

const POLL: Duration = Duration::from_millis(250);
const LIMIT: Duration = Duration::from_secs(120);

fn client() -> RayClient {
    let address = std::env::var("SEMINAS_RAY_ADDRESS")
        .expect("SEMINAS_RAY_ADDRESS must name a Ray head, e.g. http://127.0.0.1:8265");
    RayClient::new(&address).unwrap()
}

/// Ids unique across runs: a head outlives a test run.
fn unique_id(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("seminas-test-{name}-{}-{nanos}", std::process::id())
}

#[test]
#[ignore = "needs a Ray head at SEMINAS_RAY_ADDRESS (.ci/ray-test.sh)"]
fn a_succeeding_job_returns_its_marked_result() {
    let client = client();
    let version = client.version().unwrap();
    eprintln!("Ray {version} at {}", client.address());
    let id = unique_id("ok");
    let entrypoint = "echo 'noise before'; echo '<<<SEMINAS-RESULT'; \
                      echo '{\"objective\": 0.5, \"seconds\": 3}'; echo 'SEMINAS-RESULT>>>'; \
                      echo 'SEMINAS-RESULT {\"objective\": 0.25}'; echo 'noise after'";
    let done = client.run_job(entrypoint, &id, None, LIMIT, POLL).unwrap();
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    let block = extract_between(&done.logs, "<<<SEMINAS-RESULT", "SEMINAS-RESULT>>>")
        .unwrap_or_else(|| panic!("no result block in logs:\n{}", done.logs));
    let result: serde_json::Value = serde_json::from_str(block)
        .unwrap_or_else(|e| panic!("{e} in block {block:?} of logs:\n{}", done.logs));
    assert_eq!(result["objective"], 0.5);
    // Ray 2.60 also writes the entrypoint, markers included, into the log ("Running entrypoint
    // for job ...: echo ..."), after the output: only markers at the start of a line count.
    let line = last_marked_line(&done.logs, "SEMINAS-RESULT ").unwrap();
    assert_eq!(line, r#"{"objective": 0.25}"#);
    assert!(client.delete(&id).unwrap());
    assert!(matches!(client.status(&id), Err(RayError::NotFound { .. })));
}

#[test]
#[ignore = "needs a Ray head at SEMINAS_RAY_ADDRESS (.ci/ray-test.sh)"]
fn a_job_exiting_nonzero_failed() {
    let client = client();
    let id = unique_id("fail");
    let done = client
        .run_job("echo 'about to fail'; exit 3", &id, Some(1.0), LIMIT, POLL)
        .unwrap();
    assert_eq!(done.status, JobStatus::Failed, "{done:?}");
    assert!(done.logs.contains("about to fail"), "{}", done.logs);
    let message = done.message.unwrap_or_default();
    assert!(message.contains("exit code 3"), "{message}");
}

#[test]
#[ignore = "needs a Ray head at SEMINAS_RAY_ADDRESS (.ci/ray-test.sh)"]
fn a_job_past_its_timeout_is_stopped() {
    let client = client();
    let id = unique_id("slow");
    let started = Instant::now();
    let err = client
        .run_job("sleep 600", &id, None, Duration::from_secs(3), POLL)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RayError::Timeout {
                stop_error: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // The stop took effect on the head.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = client.status(&id).unwrap().status;
        if status == JobStatus::Stopped {
            break;
        }
        assert!(Instant::now() < deadline, "still {status} after stop");
        std::thread::sleep(POLL);
    }
}

#[test]
#[ignore = "needs a Ray head at SEMINAS_RAY_ADDRESS (.ci/ray-test.sh)"]
fn resubmitting_an_id_follows_the_existing_job() {
    let client = client();
    let id = unique_id("resume");
    client.submit("echo first-submission", &id, None).unwrap();
    let again = client.submit("echo second-submission", &id, None);
    assert!(
        matches!(again, Err(RayError::AlreadyExists { .. })),
        "{again:?}"
    );
    // As after a resume: run_job follows the job already there.
    let done = client
        .run_job("echo second-submission", &id, None, LIMIT, POLL)
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert!(done.logs.contains("first-submission"), "{}", done.logs);
    assert!(!done.logs.contains("second-submission"), "{}", done.logs);
    assert!(!client.stop(&id).unwrap(), "a finished job is not stopped");
}

#[test]
#[ignore = "needs a Ray head at SEMINAS_RAY_ADDRESS (.ci/ray-test.sh)"]
fn an_unknown_job_is_not_found() {
    let client = client();
    let id = unique_id("never-submitted");
    assert!(matches!(client.status(&id), Err(RayError::NotFound { .. })));
    assert!(matches!(client.logs(&id), Err(RayError::NotFound { .. })));
}
