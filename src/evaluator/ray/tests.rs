//! The client against a scripted fake Ray head on 127.0.0.1 that records every request.

use super::http::find;
use super::*;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One request as the fake head received it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A fake head: each connection gets the raw bytes the handler returns, then is closed.
struct FakeHead {
    address: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeHead {
    fn start(handler: impl Fn(&Request) -> String + Send + 'static) -> FakeHead {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        // Detached: it blocks in accept until the test binary exits.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                log.lock().unwrap().push(request.clone());
                let _ = stream.write_all(handler(&request).as_bytes());
            }
        });
        FakeHead { address, requests }
    }

    fn client(&self) -> RayClient {
        RayClient::new(&self.address)
            .unwrap()
            .with_retries(3, Duration::from_millis(10))
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(5))
    }

    fn lines(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(Request::line)
            .collect()
    }

    fn request(&self, i: usize) -> Request {
        self.requests.lock().unwrap()[i].clone()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = find(&raw, b"\r\n\r\n") {
            break p;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(raw[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap().split(' ');
    let method = first.next().unwrap().to_string();
    let path = first.next().unwrap().to_string();
    assert_eq!(first.next(), Some("HTTP/1.1"));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8(body).unwrap(),
    })
}

fn respond(status: u16, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn job(status: &str) -> String {
    respond(
        200,
        &format!(
            concat!(
                r#"{{"type":"SUBMISSION","submission_id":"j1","status":"{status}","#,
                r#""message":"Job is {status}.","entrypoint":"x"}}"#
            ),
            status = status
        ),
    )
}

const ALREADY_EXISTS: &str = "Traceback (most recent call last):\n  ...\nRuntimeError: Request \
    failed with status code 400: Traceback ...\nValueError: Job with submission_id j1 already \
    exists. Please use a different submission_id.";

#[test]
fn addresses_are_validated_and_normalised() {
    for (given, normal) in [
        ("http://127.0.0.1:8265", "http://127.0.0.1:8265"),
        ("http://127.0.0.1:8265/", "http://127.0.0.1:8265"),
        ("http://head.example.org:80", "http://head.example.org:80"),
        ("http://[::1]:8265", "http://[::1]:8265"),
    ] {
        assert_eq!(RayClient::new(given).unwrap().address(), normal);
    }
    for (bad, why) in [
        ("127.0.0.1:8265", "must start with http://"),
        ("https://head:8265", "https is not supported"),
        ("ray://head:10001", "Ray Client port"),
        ("http://head", "missing :PORT"),
        ("http://head:0", "from 1 to 65535"),
        ("http://head:70000", "from 1 to 65535"),
        ("http://head:port", "from 1 to 65535"),
        ("http://:8265", "empty host"),
        ("http://head:8265/api", "no path"),
        ("http://::1:8265", "in brackets"),
        ("", "must start with http://"),
    ] {
        let err = RayClient::new(bad).unwrap_err();
        assert!(matches!(err, RayError::BadAddress { .. }), "{bad}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(why), "{bad}: {msg}");
        assert!(
            msg.contains(&format!("{bad:?}")),
            "names the address: {msg}"
        );
    }
}

#[test]
fn submit_posts_the_job_to_the_trailing_slash_path() {
    let head = FakeHead::start(|_| respond(200, r#"{"job_id":"j1","submission_id":"j1"}"#));
    let client = head.client();
    client
        .submit("/usr/bin/python3 eval.py --arch 'a b'", "j1", Some(1.5))
        .unwrap();
    client.submit("true", "j2", None).unwrap_err(); // answered as j1: rejected below
    let req = head.request(0);
    assert_eq!(req.line(), "POST /api/jobs/");
    assert_eq!(req.header("Content-Type"), Some("application/json"));
    let port = head.address.rsplit(':').next().unwrap();
    assert_eq!(req.header("Host"), Some(&*format!("127.0.0.1:{port}")));
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["entrypoint"], "/usr/bin/python3 eval.py --arch 'a b'");
    assert_eq!(body["submission_id"], "j1");
    assert_eq!(body["entrypoint_num_cpus"], 1.5);
    assert!(body.get("entrypoint_num_gpus").is_none(), "{body}");
    let body: Value = serde_json::from_str(&head.request(1).body).unwrap();
    assert!(body.get("entrypoint_num_cpus").is_none(), "{body}");
    head.client()
        .with_entrypoint_num_gpus(0.5)
        .submit("true", "j1", None)
        .unwrap();
    let body: Value = serde_json::from_str(&head.request(2).body).unwrap();
    assert_eq!(body["entrypoint_num_gpus"], 0.5);
}

#[test]
fn submit_under_another_id_is_a_bad_response() {
    let head = FakeHead::start(|_| respond(200, r#"{"submission_id":"other"}"#));
    let err = head.client().submit("true", "j1", None).unwrap_err();
    assert!(matches!(err, RayError::BadResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("\"other\""), "{err}");
}

#[test]
fn an_existing_submission_id_is_already_exists() {
    for status in [400, 500] {
        let head = FakeHead::start(move |_| respond(status, ALREADY_EXISTS));
        let err = head.client().submit("true", "j1", None).unwrap_err();
        assert!(matches!(err, RayError::AlreadyExists { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("j1") && msg.contains(&head.address), "{msg}");
    }
}

#[test]
fn a_head_without_a_job_agent_yet_is_asked_again() {
    let calls = AtomicUsize::new(0);
    let head = FakeHead::start(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) < 2 {
            respond(
                500,
                "No available agent to submit job, please try again later.",
            )
        } else {
            respond(200, r#"{"submission_id":"j1"}"#)
        }
    });
    head.client().submit("true", "j1", None).unwrap();
    assert_eq!(head.lines(), ["POST /api/jobs/"; 3]);
    // Not forever: after the last attempt it is an HTTP error.
    let head = FakeHead::start(|_| respond(500, "No available agent to submit job"));
    let err = head.client().submit("true", "j1", None).unwrap_err();
    assert!(matches!(err, RayError::Http { status: 500, .. }), "{err:?}");
    assert_eq!(head.lines().len(), 3);
}

#[test]
fn other_submit_failures_are_http_errors_naming_head_and_job() {
    let head = FakeHead::start(|_| respond(400, "TypeError: bad runtime_env"));
    let err = head.client().submit("true", "j1", None).unwrap_err();
    assert!(matches!(err, RayError::Http { status: 400, .. }), "{err:?}");
    assert_eq!(head.lines().len(), 1, "a refused job is not resubmitted");
    let msg = err.to_string();
    for part in [
        "j1",
        head.address.as_str(),
        "submit",
        "HTTP 400",
        "bad runtime_env",
    ] {
        assert!(msg.contains(part), "{part} missing: {msg}");
    }
}

#[test]
fn status_reads_every_state_and_the_message() {
    for (text, status) in [
        ("PENDING", JobStatus::Pending),
        ("RUNNING", JobStatus::Running),
        ("STOPPED", JobStatus::Stopped),
        ("SUCCEEDED", JobStatus::Succeeded),
        ("FAILED", JobStatus::Failed),
    ] {
        let head = FakeHead::start(move |_| job(text));
        let info = head.client().status("j1").unwrap();
        assert_eq!(info.status, status);
        assert_eq!(info.message.as_deref(), Some(&*format!("Job is {text}.")));
        assert_eq!(head.lines(), ["GET /api/jobs/j1"]);
        assert_eq!(status.is_terminal(), !matches!(text, "PENDING" | "RUNNING"));
    }
    let head = FakeHead::start(|_| respond(200, r#"{"status":"RUNNING","message":null}"#));
    assert_eq!(head.client().status("j1").unwrap().message, None);
}

#[test]
fn unknown_jobs_are_not_found() {
    let head = FakeHead::start(|_| respond(404, "Job j9 does not exist"));
    let client = head.client();
    assert!(matches!(
        client.status("j9"),
        Err(RayError::NotFound { .. })
    ));
    assert!(matches!(client.logs("j9"), Err(RayError::NotFound { .. })));
    assert!(matches!(client.stop("j9"), Err(RayError::NotFound { .. })));
    assert!(matches!(
        client.delete("j9"),
        Err(RayError::NotFound { .. })
    ));
    assert_eq!(
        head.lines(),
        [
            "GET /api/jobs/j9",
            "GET /api/jobs/j9/logs",
            "POST /api/jobs/j9/stop",
            "DELETE /api/jobs/j9"
        ]
    );
}

#[test]
fn bad_answers_are_errors_that_say_what_was_wrong() {
    let cases: [(&str, String); 7] = [
        ("invalid JSON", respond(200, r#"{"status": "RUNN"#)),
        ("expected a JSON object", respond(200, r#"["RUNNING"]"#)),
        (
            "no string field \"status\"",
            respond(200, r#"{"state":"RUNNING"}"#),
        ),
        ("unknown job status \"EXPLODED\"", job("EXPLODED")),
        (
            "truncated body: Content-Length 100 but 9 bytes arrived",
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"status\"".to_string(),
        ),
        (
            "truncated HTTP header",
            "HTTP/1.1 200 OK\r\nContent-Len".to_string(),
        ),
        (
            "not an HTTP status line",
            "SSH-2.0-OpenSSH\r\n\r\n".to_string(),
        ),
    ];
    for (why, answer) in cases {
        let head = FakeHead::start(move |_| answer.clone());
        let err = head.client().status("j1").unwrap_err();
        assert!(
            matches!(err, RayError::BadResponse { .. }),
            "{why}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(why), "{why}: {msg}");
        assert!(msg.contains(&head.address) && msg.contains("j1"), "{msg}");
        // Not retried: a malformed answer will not improve.
        assert_eq!(head.lines().len(), 1, "{why}");
    }
}

#[test]
fn chunked_answers_are_decoded() {
    let head = FakeHead::start(|_| {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
         a\r\n{\"logs\": \"\r\n7;ext=1\r\nhello\\n\r\n2\r\n\"}\r\n0\r\n\r\n"
            .to_string()
    });
    assert_eq!(head.client().logs("j1").unwrap(), "hello\n");
}

#[test]
fn a_complete_answer_is_read_without_waiting_for_the_connection_to_close() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let mut stream = stream.unwrap();
            std::thread::spawn(move || {
                read_request(&mut stream).unwrap();
                let answer = if i == 0 {
                    job("RUNNING")
                } else {
                    // The JSON and a newline: 0x11 bytes.
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                     11\r\n{\"logs\": \"done\"}\n\r\n0\r\n\r\n"
                        .to_string()
                };
                stream.write_all(answer.as_bytes()).unwrap();
                // Held open, as a server ignoring `Connection: close` would.
                std::thread::sleep(Duration::from_secs(5));
            });
        }
    });
    let client = RayClient::new(&address)
        .unwrap()
        .with_retries(1, Duration::ZERO)
        .with_timeouts(Duration::from_secs(1), Duration::from_secs(3));
    let started = Instant::now();
    assert_eq!(client.status("j1").unwrap().status, JobStatus::Running);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert_eq!(client.logs("j1").unwrap(), "done");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn stop_and_delete_report_what_ray_did() {
    let head = FakeHead::start(|r| match r.method.as_str() {
        "POST" => respond(200, r#"{"stopped": true}"#),
        _ => respond(200, r#"{"deleted": false}"#),
    });
    let client = head.client();
    assert!(client.stop("j1").unwrap());
    assert!(!client.delete("j1").unwrap());
    assert_eq!(
        head.lines(),
        ["POST /api/jobs/j1/stop", "DELETE /api/jobs/j1"]
    );
    // A bare POST still says how long its (empty) body is.
    assert_eq!(head.request(0).header("Content-Length"), Some("0"));
}

#[test]
fn version_names_the_ray_release() {
    let head = FakeHead::start(|_| {
        respond(
            200,
            r#"{"version":"4","ray_version":"2.60.0","ray_commit":"abc"}"#,
        )
    });
    assert_eq!(head.client().version().unwrap(), "2.60.0");
    assert_eq!(head.lines(), ["GET /api/version"]);
}

#[test]
fn unusable_submission_ids_are_refused_before_any_request() {
    let head = FakeHead::start(|_| job("RUNNING"));
    let client = head.client();
    for id in ["", "a/b", "a b", "../x", "é", &"x".repeat(129)] {
        let err = client.status(id).unwrap_err();
        assert!(
            matches!(err, RayError::BadSubmissionId { .. }),
            "{id}: {err:?}"
        );
    }
    client.status("seminas-run_3.q17").unwrap();
    assert_eq!(head.lines(), ["GET /api/jobs/seminas-run_3.q17"]);
}

/// A scripted head for `run_job`: `states` are served in order to successive status requests
/// (the last one repeats); `None` is a 404.
fn job_head(submit: String, states: Vec<Option<&'static str>>, logs: &'static str) -> FakeHead {
    let polls = AtomicUsize::new(0);
    FakeHead::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/api/jobs/") => submit.clone(),
        ("GET", "/api/jobs/j1") => {
            let i = polls.fetch_add(1, Ordering::SeqCst).min(states.len() - 1);
            match states[i] {
                Some(s) => job(s),
                None => respond(404, "Job j1 does not exist"),
            }
        }
        ("GET", "/api/jobs/j1/logs") => {
            respond(200, &serde_json::json!({ "logs": logs }).to_string())
        }
        ("POST", "/api/jobs/j1/stop") => respond(200, r#"{"stopped": true}"#),
        _ => respond(404, "no such route"),
    })
}

const LOGS: &str = "2026-11-27 INFO worker.py: connecting\n<<<R\n{\"acc\": 0.9}\nR>>>\nbye\n";

#[test]
fn run_job_submits_follows_and_returns_the_logs() {
    let head = job_head(
        respond(200, r#"{"submission_id":"j1"}"#),
        vec![
            Some("PENDING"),
            Some("RUNNING"),
            Some("RUNNING"),
            Some("SUCCEEDED"),
        ],
        LOGS,
    );
    let done = head
        .client()
        .run_job(
            "true",
            "j1",
            None,
            Duration::from_secs(10),
            Duration::from_millis(5),
        )
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.message.as_deref(), Some("Job is SUCCEEDED."));
    assert_eq!(
        extract_between(&done.logs, "<<<R", "R>>>"),
        Some("{\"acc\": 0.9}")
    );
    let mut expected = vec!["POST /api/jobs/".to_string()];
    expected.extend(std::iter::repeat_n("GET /api/jobs/j1".to_string(), 4));
    expected.push("GET /api/jobs/j1/logs".to_string());
    assert_eq!(head.lines(), expected);
}

#[test]
fn run_job_follows_a_job_that_already_exists() {
    let head = job_head(respond(500, ALREADY_EXISTS), vec![Some("FAILED")], "boom\n");
    let done = head
        .client()
        .run_job(
            "true",
            "j1",
            None,
            Duration::from_secs(10),
            Duration::from_millis(5),
        )
        .unwrap();
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.logs, "boom\n");
    assert_eq!(
        head.lines(),
        [
            "POST /api/jobs/",
            "GET /api/jobs/j1",
            "GET /api/jobs/j1/logs"
        ]
    );
}

#[test]
fn a_job_that_disappears_mid_run_has_vanished() {
    let head = job_head(
        respond(200, "{}"),
        vec![Some("PENDING"), Some("RUNNING"), None],
        "",
    );
    let err = head
        .client()
        .run_job(
            "true",
            "j1",
            None,
            Duration::from_secs(10),
            Duration::from_millis(5),
        )
        .unwrap_err();
    let RayError::Vanished { last_status, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*last_status, JobStatus::Running);
    let msg = err.to_string();
    assert!(msg.contains("j1") && msg.contains(&head.address) && msg.contains("RUNNING"));
}

#[test]
fn a_job_past_its_timeout_is_stopped() {
    let head = job_head(respond(200, "{}"), vec![Some("RUNNING")], "");
    let started = Instant::now();
    let err = head
        .client()
        .run_job(
            "sleep 60",
            "j1",
            None,
            Duration::from_millis(300),
            Duration::from_millis(20),
        )
        .unwrap_err();
    let waited = started.elapsed();
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
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    let lines = head.lines();
    assert_eq!(lines.last().unwrap(), "POST /api/jobs/j1/stop");
    assert!(lines.len() >= 5, "polled until the timeout: {lines:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("timed out after 0.3 s (stop requested)"),
        "{msg}"
    );
}

#[test]
fn a_refused_connection_is_retried_then_unreachable() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = RayClient::new(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .with_retries(3, Duration::from_millis(50));
    let started = Instant::now();
    let err = client
        .run_job(
            "true",
            "j1",
            None,
            Duration::from_secs(10),
            Duration::from_millis(5),
        )
        .unwrap_err();
    // Backoff 50 ms then 100 ms between the three attempts.
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    let RayError::Unreachable {
        attempts, source, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*attempts, 3);
    assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("j1"),
        "{msg}"
    );
}

#[test]
fn connections_closed_without_an_answer_are_retried() {
    let calls = AtomicUsize::new(0);
    let head = FakeHead::start(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) < 2 {
            String::new() // close at once
        } else {
            job("RUNNING")
        }
    });
    assert_eq!(
        head.client().status("j1").unwrap().status,
        JobStatus::Running
    );
    assert_eq!(head.lines().len(), 3);
}

#[test]
fn extract_between_takes_the_last_complete_block_of_whole_lines() {
    let logs = "BEGIN\nold\nEND\nray: INFO something\n  BEGIN\r\n  {\"a\": 1}\nEND\ntrailer";
    assert_eq!(extract_between(logs, "BEGIN", "END"), Some("{\"a\": 1}"));
    assert_eq!(
        extract_between("BEGIN\nx\nEND\nBEGIN\ncut off", "BEGIN", "END"),
        None
    );
    assert_eq!(extract_between("no markers", "BEGIN", "END"), None);
    assert_eq!(extract_between("END\nBEGIN", "BEGIN", "END"), None);
    assert_eq!(extract_between("BEGIN\nEND", "BEGIN", "END"), Some(""));
    // What Ray really writes: its echo of the entrypoint, markers inside, after the output.
    let ray = "INFO job_manager.py:581 -- Runtime env is setting up.\nBEGIN\n{\"a\": 2}\nEND\n\
               Running entrypoint for job j1: echo BEGIN; echo '{\"a\": 3}'; echo END\n";
    assert_eq!(extract_between(ray, "BEGIN", "END"), Some("{\"a\": 2}"));
}

#[test]
fn last_marked_line_ignores_lines_that_only_contain_the_marker() {
    let ray = "RESULT {\"a\": 1}\nnoise\nRESULT {\"a\": 2}\r\n\
               Running entrypoint for job j1: echo 'RESULT {\"a\": 3}'\n";
    assert_eq!(last_marked_line(ray, "RESULT "), Some("{\"a\": 2}"));
    assert_eq!(last_marked_line("no result\n", "RESULT "), None);
    assert_eq!(last_marked_line("", "RESULT "), None);
}

#[test]
fn long_error_bodies_keep_their_start_and_end() {
    let body = format!("Traceback{}ValueError: the cause", "x".repeat(5000));
    let s = snippet(&body);
    assert!(s.len() < 700, "{}", s.len());
    assert!(s.starts_with("Traceback") && s.ends_with("ValueError: the cause"));
}

/// The user's command as Ray jobs (`RayEvaluator`) against a fake head.
#[path = "tests_jobs.rs"]
mod jobs;
