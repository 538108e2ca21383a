//! `seminas dashboard`: a local, read-only web app over run directories and `bench --out`
//! directories, live while searches run.
//!
//! Everything it serves is in the binary (the page, its script and style: no CDN, works
//! offline); the page draws its plots from the JSON API ([`Dashboard::handle`], documented in
//! `docs/dashboard.md`), which scripts may poll too. Read-only: run databases are opened
//! read-only without the run's lock ([`RunView`]); of a run's files only the logs of its
//! evaluations (`evals/<index>/<name>.log` and the result file) are served, size-limited.
//! Every string from a run reaches the page as JSON (with `<`, `>` and `&` escaped as
//! `\u003c` ...), and the page puts it in the document as text, never as markup.

mod api;
pub mod http;

use std::path::{Path, PathBuf};

pub use http::serve;

use crate::store::{DATABASE, RunView};

/// The page.
const INDEX_HTML: &str = include_str!("assets/index.html");
/// Its script (plots and architecture drawings in SVG, by hand).
const APP_JS: &str = include_str!("assets/app.js");
/// Its style.
const STYLE_CSS: &str = include_str!("assets/style.css");

/// At most this many bytes of a log are served (its end, where errors are).
pub const LOG_LIMIT: u64 = 64 * 1024;

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body: safe_json(value).into_bytes(),
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: safe_json(&serde_json::json!({ "error": message })).into_bytes(),
        }
    }

    fn asset(content_type: &'static str, text: &str) -> Self {
        Self {
            status: 200,
            content_type,
            body: text.as_bytes().to_vec(),
        }
    }
}

/// JSON text in which `<`, `>` and `&` appear only escaped (they can occur only inside
/// strings, where `\u003c` means the same): no run's text can close a script or start a tag
/// wherever the JSON ends up.
pub fn safe_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let text = serde_json::to_string(value).expect("JSON values serialise");
    // One pass, one copy (a 10,000-query run is megabytes of JSON).
    let mut out = String::with_capacity(text.len() + text.len() / 64);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

/// What the dashboard shows: the folders it was given.
#[derive(Debug, Clone)]
pub struct Dashboard {
    roots: Vec<PathBuf>,
}

/// Kinds of folders the dashboard finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A run directory (`run.sqlite`).
    Run,
    /// A `seminas bench --out` directory (`runs.csv`, `table.json`).
    Bench,
}

impl Dashboard {
    /// A dashboard over `roots`: run directories, bench directories, or folders holding them
    /// (searched two levels deep, looked at again on every request so new runs appear).
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Self { roots }
    }

    /// The run and bench directories under the roots, in a stable order.
    pub fn discover(&self) -> Vec<(Kind, PathBuf)> {
        let mut found = Vec::new();
        for root in &self.roots {
            visit(root, 0, &mut found);
        }
        found.sort_by(|a, b| a.1.cmp(&b.1));
        found.dedup();
        found
    }

    /// The folder with id `id` (see [`folder_id`]).
    fn find(&self, kind: Kind, id: &str) -> Option<PathBuf> {
        self.discover()
            .into_iter()
            .find(|(k, p)| *k == kind && folder_id(p) == id)
            .map(|(_, p)| p)
    }

    /// Answers a request: `GET` (or `HEAD`) of `target` (path and query).
    pub fn handle(&self, method: &str, target: &str) -> Response {
        if method != "GET" && method != "HEAD" {
            return Response::error(405, "read-only: only GET is served");
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        match path {
            "/" | "/index.html" => return Response::asset("text/html; charset=utf-8", INDEX_HTML),
            "/app.js" => return Response::asset("text/javascript; charset=utf-8", APP_JS),
            "/style.css" => return Response::asset("text/css; charset=utf-8", STYLE_CSS),
            _ => {}
        }
        let Some(rest) = path.strip_prefix("/api/") else {
            return Response::error(404, "not found");
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let since = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("since="))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        match parts.as_slice() {
            ["runs"] => Response::json(&api::runs(self)),
            ["benches"] => Response::json(&api::benches(self)),
            ["runs", id] => self.with_run(id, |run| api::run(run, since)),
            ["runs", id, "predictions"] => {
                self.with_run(id, |run| Response::json(&api::predictions(run)))
            }
            ["runs", id, "logs", index, name] => match self.find(Kind::Run, id) {
                Some(dir) => api::log(&dir, index, name),
                None => Response::error(404, "no such run"),
            },
            ["benches", id] => match self.find(Kind::Bench, id) {
                Some(dir) => match api::bench(&dir) {
                    Ok(v) => Response::json(&v),
                    Err(e) => Response::error(500, &e),
                },
                None => Response::error(404, "no such bench directory"),
            },
            _ => Response::error(404, "not found"),
        }
    }

    fn with_run(&self, id: &str, f: impl FnOnce(&RunView) -> Response) -> Response {
        let Some(dir) = self.find(Kind::Run, id) else {
            return Response::error(404, "no such run");
        };
        match RunView::open(&dir) {
            Ok(run) => f(&run),
            Err(e) => Response::error(500, &e.to_string()),
        }
    }
}

/// A folder's id in the API: 12 hex digits of a hash of its path.
pub fn folder_id(path: &Path) -> String {
    format!(
        "{:012x}",
        crate::rng::fnv1a(path.to_string_lossy().as_bytes()) >> 16
    )
}

fn visit(dir: &Path, depth: usize, found: &mut Vec<(Kind, PathBuf)>) {
    if dir.join(DATABASE).is_file() {
        found.push((Kind::Run, dir.to_path_buf()));
        return;
    }
    if dir.join("runs.csv").is_file() {
        found.push((Kind::Bench, dir.to_path_buf()));
        return;
    }
    if depth >= 2 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let hidden = name.to_string_lossy().starts_with('.');
        if !hidden && e.file_type().is_ok_and(|t| t.is_dir()) {
            visit(&e.path(), depth + 1, found);
        }
    }
}

#[cfg(test)]
mod tests;
