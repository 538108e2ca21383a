//! A blocking client for Ray's Job Submission REST API (the dashboard's `/api/jobs/`).
//!
//! Each evaluation becomes one Ray job: [`RayClient::run_job`] submits an entrypoint under a
//! caller-chosen submission id, follows the job until it is terminal and returns its logs, from
//! which the caller extracts its result with [`last_marked_line`] or [`extract_between`] (the
//! logs interleave Ray's own lines with the job's output). Submitting an id that already
//! exists (after a resume) follows the existing job instead of failing.
//!
//! HTTP is written by hand over [`std::net::TcpStream`] rather than with an HTTP crate: the API
//! needs plain HTTP/1.1 with one request per connection (`Connection: close`), JSON bodies and a
//! handful of status codes, which is ~200 lines here against a new dependency tree that CI
//! would have to fetch. TLS is deliberately not supported: the dashboard serves plain HTTP.

mod error;
mod http;
mod logs;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// Largest response accepted: job logs can be long, but not unbounded.
pub use error::RayError;
use http::{Answer, Failure, is_complete, parse_response, snippet};
pub use logs::{extract_between, last_marked_line};

const MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// The lifecycle state of a Ray job, as the Jobs API spells it (`PENDING`, `RUNNING`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Submitted, waiting for resources or for its runtime environment.
    Pending,
    /// The entrypoint is running.
    Running,
    /// Stopped on request (by [`RayClient::stop`] or anyone else); terminal.
    Stopped,
    /// The entrypoint exited with status 0; terminal.
    Succeeded,
    /// The entrypoint exited nonzero or could not be started; terminal.
    Failed,
}

impl JobStatus {
    /// Whether the job has finished and will not change state again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Stopped | Self::Succeeded | Self::Failed)
    }

    /// Ray's spelling of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Stopped => "STOPPED",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Running,
            Self::Stopped,
            Self::Succeeded,
            Self::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `GET /api/jobs/{id}` says about a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    /// The job's state.
    pub status: JobStatus,
    /// Ray's human-readable note (e.g. why it failed), when it gives one.
    pub message: Option<String>,
}

/// A job that reached a terminal state, with its logs.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedJob {
    /// `Succeeded`, `Failed` or `Stopped`.
    pub status: JobStatus,
    /// Ray's note on the outcome, when it gives one.
    pub message: Option<String>,
    /// The job's whole log: its stdout and stderr interleaved with Ray's own lines.
    pub logs: String,
}

/// A blocking client for one Ray head's Job Submission REST API.
#[derive(Debug, Clone)]
pub struct RayClient {
    address: String,
    /// As it goes into the Host header (IPv6 literals keep their brackets).
    host: String,
    port: u16,
    attempts: u32,
    backoff: Duration,
    connect_timeout: Duration,
    io_timeout: Duration,
    entrypoint_num_gpus: Option<f64>,
}

impl RayClient {
    /// A client for the head whose dashboard listens at `address`, `http://HOST:PORT` (a
    /// trailing `/` is allowed). Nothing is contacted yet. Each request is tried up to 6 times
    /// while the connection fails, waiting 0.5 s, 1 s, 2 s, 4 s, 8 s in between (see
    /// [`RayClient::with_retries`]).
    pub fn new(address: &str) -> Result<RayClient, RayError> {
        let bad = |reason: &str| RayError::BadAddress {
            address: address.to_string(),
            reason: reason.to_string(),
        };
        let rest = match address.strip_prefix("http://") {
            Some(rest) => rest,
            None if address.starts_with("https://") => {
                return Err(bad(
                    "https is not supported (the Ray dashboard serves plain HTTP)",
                ));
            }
            None if address.starts_with("ray://") => {
                return Err(bad(
                    "ray:// is the Ray Client port; give the dashboard's http:// address",
                ));
            }
            None => return Err(bad("it must start with http://")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) || rest.chars().any(char::is_whitespace) {
            return Err(bad("only a host and a port are allowed, no path or user"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (inner, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in IPv6 address"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| bad("missing :PORT (the dashboard's is usually 8265)"))?;
            (format!("[{inner}]"), port)
        } else {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| bad("missing :PORT (the dashboard's is usually 8265)"))?;
            if host.contains(':') {
                return Err(bad(
                    "IPv6 addresses must be in brackets, e.g. http://[::1]:8265",
                ));
            }
            (host.to_string(), port)
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("empty host"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?;
        Ok(RayClient {
            address: format!("http://{host}:{port}"),
            host,
            port,
            attempts: 6,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(60),
            entrypoint_num_gpus: None,
        })
    }

    /// Tries each request up to `attempts` times (at least once) when the connection fails,
    /// waiting `first_backoff`, then twice as long each time (at most 8 s).
    pub fn with_retries(mut self, attempts: u32, first_backoff: Duration) -> RayClient {
        self.attempts = attempts.max(1);
        self.backoff = first_backoff;
        self
    }

    /// Sets the limits on connecting and on each read or write of a request (defaults 10 s
    /// and 60 s).
    pub fn with_timeouts(mut self, connect: Duration, io: Duration) -> RayClient {
        self.connect_timeout = connect;
        self.io_timeout = io;
        self
    }

    /// Reserves `gpus` GPUs for the entrypoint of every job this client submits, so that Ray
    /// runs it on a node that has them (as `entrypoint_num_cpus` does for CPUs).
    pub fn with_entrypoint_num_gpus(mut self, gpus: f64) -> RayClient {
        self.entrypoint_num_gpus = Some(gpus);
        self
    }

    /// The head's address, normalised to `http://HOST:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The Ray version the head runs (`GET /api/version`): a cheap check that the address
    /// points at a live Ray dashboard.
    pub fn version(&self) -> Result<String, RayError> {
        let answer = self.call("GET", "/api/version", None, "-", "version")?;
        let obj = self.expect_ok_json(answer, "-", "version")?;
        self.string_field(&obj, "ray_version", "-", "version")
    }

    /// Submits `entrypoint` (a shell command run on the cluster, with the PATH of whoever
    /// started Ray there: prefer absolute paths) as job `submission_id`, reserving
    /// `entrypoint_num_cpus` CPUs for it when given. Without a reservation (CPUs here, GPUs
    /// with [`RayClient::with_entrypoint_num_gpus`]) Ray runs the entrypoint on the head node;
    /// with one, on any node that has the resources. Returns once Ray has accepted the job.
    /// [`RayError::AlreadyExists`] when the id is taken, which also happens when a retried
    /// submission had in fact reached the head.
    pub fn submit(
        &self,
        entrypoint: &str,
        submission_id: &str,
        entrypoint_num_cpus: Option<f64>,
    ) -> Result<(), RayError> {
        self.check_id(submission_id)?;
        let mut body = Map::new();
        body.insert("entrypoint".into(), entrypoint.into());
        body.insert("submission_id".into(), submission_id.into());
        body.insert(
            "metadata".into(),
            serde_json::json!({ "submitted_by": "seminas" }),
        );
        if let Some(cpus) = entrypoint_num_cpus {
            body.insert("entrypoint_num_cpus".into(), cpus.into());
        }
        if let Some(gpus) = self.entrypoint_num_gpus {
            body.insert("entrypoint_num_gpus".into(), gpus.into());
        }
        let body = Value::Object(body).to_string();
        // The trailing slash matters: Ray routes `/api/jobs` (no slash) elsewhere.
        let mut wait = self.backoff;
        let mut attempt = 1;
        let answer = loop {
            let answer = self.call("POST", "/api/jobs/", Some(&body), submission_id, "submit")?;
            // The head has no job agent yet (just started, or one restarting): nothing was
            // created, so trying again is safe.
            if answer.status == 500
                && answer.body.contains("No available agent")
                && attempt < self.attempts
            {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(8));
                attempt += 1;
                continue;
            }
            break answer;
        };
        // Ray wraps the job manager's "already exists" ValueError in a 400 or 500 traceback.
        if answer.status != 200 && answer.body.contains("already exists") {
            return Err(RayError::AlreadyExists {
                address: self.address.clone(),
                submission_id: submission_id.to_string(),
            });
        }
        let obj = self.expect_ok_json(answer, submission_id, "submit")?;
        match obj.get("submission_id").or_else(|| obj.get("job_id")) {
            Some(Value::String(id)) if id != submission_id => Err(self.bad_response(
                submission_id,
                "submit",
                format!("the head accepted the job under another id, {id:?}"),
            )),
            _ => Ok(()),
        }
    }

    /// The job's current state; [`RayError::NotFound`] when the head does not know it.
    pub fn status(&self, submission_id: &str) -> Result<JobInfo, RayError> {
        self.check_id(submission_id)?;
        let path = format!("/api/jobs/{submission_id}");
        let answer = self.call("GET", &path, None, submission_id, "status")?;
        let obj = self.expect_found_json(answer, submission_id, "status")?;
        let status = self.string_field(&obj, "status", submission_id, "status")?;
        let status = JobStatus::parse(&status).ok_or_else(|| {
            self.bad_response(
                submission_id,
                "status",
                format!("unknown job status {status:?}"),
            )
        })?;
        let message = match obj.get("message") {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) => Some(m.clone()),
            Some(other) => {
                return Err(self.bad_response(
                    submission_id,
                    "status",
                    format!("\"message\" is not a string: {other}"),
                ));
            }
        };
        Ok(JobInfo { status, message })
    }

    /// The job's whole log so far.
    pub fn logs(&self, submission_id: &str) -> Result<String, RayError> {
        self.check_id(submission_id)?;
        let path = format!("/api/jobs/{submission_id}/logs");
        let answer = self.call("GET", &path, None, submission_id, "logs")?;
        let obj = self.expect_found_json(answer, submission_id, "logs")?;
        self.string_field(&obj, "logs", submission_id, "logs")
    }

    /// Asks Ray to stop the job; `true` if it was still running, `false` if it had already
    /// finished.
    pub fn stop(&self, submission_id: &str) -> Result<bool, RayError> {
        self.check_id(submission_id)?;
        let path = format!("/api/jobs/{submission_id}/stop");
        let answer = self.call("POST", &path, None, submission_id, "stop")?;
        let obj = self.expect_found_json(answer, submission_id, "stop")?;
        self.bool_field(&obj, "stopped", submission_id, "stop")
    }

    /// Deletes a finished job and its logs from the head; `true` if it was deleted. Ray refuses
    /// (an HTTP error) to delete a job that is still running.
    pub fn delete(&self, submission_id: &str) -> Result<bool, RayError> {
        self.check_id(submission_id)?;
        let path = format!("/api/jobs/{submission_id}");
        let answer = self.call("DELETE", &path, None, submission_id, "delete")?;
        let obj = self.expect_found_json(answer, submission_id, "delete")?;
        self.bool_field(&obj, "deleted", submission_id, "delete")
    }

    /// Runs one job to its end: submits it (or, if `submission_id` already exists, follows
    /// the existing job), polls its status every `poll` until it is terminal and returns its
    /// status and logs. A job still unfinished `timeout` after this call began is stopped and
    /// reported as [`RayError::Timeout`]; one that disappears as [`RayError::Vanished`].
    /// A `Failed` or `Stopped` job is an `Ok` [`FinishedJob`]: the caller decides.
    pub fn run_job(
        &self,
        entrypoint: &str,
        submission_id: &str,
        entrypoint_num_cpus: Option<f64>,
        timeout: Duration,
        poll: Duration,
    ) -> Result<FinishedJob, RayError> {
        self.run_job_watched(
            entrypoint,
            submission_id,
            entrypoint_num_cpus,
            timeout,
            poll,
            &mut || {},
        )
    }

    /// As [`RayClient::run_job`], calling `on_poll` after each status poll that finds the
    /// job still running (e.g. to read its log so far).
    pub fn run_job_watched(
        &self,
        entrypoint: &str,
        submission_id: &str,
        entrypoint_num_cpus: Option<f64>,
        timeout: Duration,
        poll: Duration,
        on_poll: &mut dyn FnMut(),
    ) -> Result<FinishedJob, RayError> {
        let started = Instant::now();
        match self.submit(entrypoint, submission_id, entrypoint_num_cpus) {
            Ok(()) | Err(RayError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        let vanished = |last_status| RayError::Vanished {
            address: self.address.clone(),
            submission_id: submission_id.to_string(),
            last_status,
        };
        let mut last_status = JobStatus::Pending;
        loop {
            match self.status(submission_id) {
                Ok(info) if info.status.is_terminal() => {
                    let logs = match self.logs(submission_id) {
                        Err(RayError::NotFound { .. }) => return Err(vanished(info.status)),
                        other => other?,
                    };
                    return Ok(FinishedJob {
                        status: info.status,
                        message: info.message,
                        logs,
                    });
                }
                Ok(info) => {
                    last_status = info.status;
                    if info.status == JobStatus::Running {
                        on_poll();
                    }
                }
                Err(RayError::NotFound { .. }) => return Err(vanished(last_status)),
                Err(e) => return Err(e),
            }
            let elapsed = started.elapsed();
            if elapsed >= timeout {
                let stop_error = match self.stop(submission_id) {
                    Ok(_) => None,
                    Err(e) => Some(e.to_string()),
                };
                return Err(RayError::Timeout {
                    address: self.address.clone(),
                    submission_id: submission_id.to_string(),
                    timeout,
                    stop_error,
                });
            }
            std::thread::sleep(poll.min(timeout - elapsed));
        }
    }

    fn check_id(&self, submission_id: &str) -> Result<(), RayError> {
        let ok = (1..=128).contains(&submission_id.len())
            && submission_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if ok {
            Ok(())
        } else {
            Err(RayError::BadSubmissionId {
                address: self.address.clone(),
                submission_id: submission_id.to_string(),
            })
        }
    }

    fn bad_response(&self, id: &str, operation: &'static str, detail: String) -> RayError {
        RayError::BadResponse {
            address: self.address.clone(),
            submission_id: id.to_string(),
            operation,
            detail,
        }
    }

    /// A 404 becomes [`RayError::NotFound`]; otherwise as [`Self::expect_ok_json`].
    fn expect_found_json(
        &self,
        answer: Answer,
        id: &str,
        operation: &'static str,
    ) -> Result<Map<String, Value>, RayError> {
        if answer.status == 404 {
            return Err(RayError::NotFound {
                address: self.address.clone(),
                submission_id: id.to_string(),
            });
        }
        self.expect_ok_json(answer, id, operation)
    }

    /// Requires a 200 answer whose body is a JSON object.
    fn expect_ok_json(
        &self,
        answer: Answer,
        id: &str,
        operation: &'static str,
    ) -> Result<Map<String, Value>, RayError> {
        if answer.status != 200 {
            return Err(RayError::Http {
                address: self.address.clone(),
                submission_id: id.to_string(),
                operation,
                status: answer.status,
                body: snippet(&answer.body),
            });
        }
        match serde_json::from_str::<Value>(&answer.body) {
            Ok(Value::Object(obj)) => Ok(obj),
            Ok(other) => Err(self.bad_response(
                id,
                operation,
                format!(
                    "expected a JSON object, got {}",
                    snippet(&other.to_string())
                ),
            )),
            Err(e) => Err(self.bad_response(
                id,
                operation,
                format!("invalid JSON ({e}): {}", snippet(&answer.body)),
            )),
        }
    }

    fn string_field(
        &self,
        obj: &Map<String, Value>,
        key: &str,
        id: &str,
        operation: &'static str,
    ) -> Result<String, RayError> {
        match obj.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(self.bad_response(id, operation, format!("no string field {key:?}"))),
        }
    }

    fn bool_field(
        &self,
        obj: &Map<String, Value>,
        key: &str,
        id: &str,
        operation: &'static str,
    ) -> Result<bool, RayError> {
        match obj.get(key) {
            Some(Value::Bool(b)) => Ok(*b),
            _ => Err(self.bad_response(id, operation, format!("no boolean field {key:?}"))),
        }
    }

    /// One request, retried with backoff while the connection fails.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        id: &str,
        operation: &'static str,
    ) -> Result<Answer, RayError> {
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            match self.exchange(method, path, body) {
                Ok(answer) => return Ok(answer),
                Err(Failure::Malformed(detail)) => {
                    return Err(self.bad_response(id, operation, detail));
                }
                Err(Failure::Io(source)) if attempt >= self.attempts => {
                    return Err(RayError::Unreachable {
                        address: self.address.clone(),
                        submission_id: id.to_string(),
                        attempts: attempt,
                        source,
                    });
                }
                Err(Failure::Io(_)) => {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(8));
                    attempt += 1;
                }
            }
        }
    }

    /// One HTTP/1.1 exchange on a fresh connection, read to its end.
    fn exchange(&self, method: &str, path: &str, body: Option<&str>) -> Result<Answer, Failure> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let addrs = (host, self.port).to_socket_addrs().map_err(Failure::Io)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolves to no address");
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let mut stream = stream.ok_or(Failure::Io(last))?;
        stream
            .set_read_timeout(Some(self.io_timeout))
            .and_then(|()| stream.set_write_timeout(Some(self.io_timeout)))
            .map_err(Failure::Io)?;

        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\
             Accept: application/json\r\nUser-Agent: seminas\r\n",
            self.host, self.port
        );
        let body = body.unwrap_or("");
        if !body.is_empty() || method == "POST" {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).map_err(Failure::Io)?;
        stream.flush().map_err(Failure::Io)?;

        // Read until the answer is complete rather than only until EOF: a server (or proxy)
        // that keeps the connection open despite `Connection: close` must not cost a timeout.
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 << 10];
        loop {
            let n = match stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Io(e)),
            };
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if raw.len() as u64 > MAX_RESPONSE_BYTES || is_complete(&raw) {
                break;
            }
        }
        if raw.is_empty() {
            // Closed without a word: a restarting server or a dropped connection, worth a retry.
            return Err(Failure::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed without an answer",
            )));
        }
        if raw.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(Failure::Malformed(format!(
                "answer larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        parse_response(&raw).map_err(Failure::Malformed)
    }
}

#[cfg(test)]
mod tests;
