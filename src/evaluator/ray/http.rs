//! The hand-written HTTP/1.1 response parsing of the client: one response per connection,
//! Content-Length or chunked bodies.

use std::io;

/// A raw answer: status code and body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: String,
}

/// Why one HTTP exchange failed: `Io` is worth retrying, `Malformed` is not.
pub(super) enum Failure {
    Io(io::Error),
    Malformed(String),
}

/// Whether `raw` holds a whole response whose length its header gives (Content-Length, or a
/// chunked body's last chunk); without either, only EOF ends it.
pub(super) fn is_complete(raw: &[u8]) -> bool {
    let Some(head_end) = find(raw, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let body = &raw[head_end + 4..];
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.trim() {
            "content-length" => return value.trim().parse().is_ok_and(|n: usize| body.len() >= n),
            // Cheap test first: the decoder runs only once the last chunk may have arrived.
            "transfer-encoding" if value.contains("chunked") => {
                return body.ends_with(b"\r\n\r\n") && decode_chunked(body).is_ok();
            }
            _ => {}
        }
    }
    false
}

/// Parses a whole HTTP/1.x response (the server closed the connection after it).
pub(super) fn parse_response(raw: &[u8]) -> Result<Answer, String> {
    let head_end = find(raw, b"\r\n\r\n")
        .ok_or_else(|| format!("truncated HTTP header ({} bytes, no blank line)", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => code.parse::<u16>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("not an HTTP status line: {:?}", snippet(status_line)))?;

    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad HTTP header line {:?}", snippet(line)));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }

    let rest = &raw[head_end + 4..];
    let body = if chunked {
        decode_chunked(rest)?
    } else if let Some(len) = content_length {
        if rest.len() < len {
            return Err(format!(
                "truncated body: Content-Length {len} but {} bytes arrived",
                rest.len()
            ));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn decode_chunked(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end =
            find(rest, b"\r\n").ok_or("truncated chunked body: no chunk size line".to_string())?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {:?}", snippet(&size_text)))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body); // trailers, if any, are ignored
        }
        if rest.len() < size + 2 {
            return Err(format!(
                "truncated chunked body: chunk of {size} bytes, {} arrived",
                rest.len()
            ));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// At most ~600 characters of `text`: its start and its end (where a traceback's cause is).
pub(super) fn snippet(text: &str) -> String {
    let text = text.trim();
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 600 {
        return text.to_string();
    }
    let head: String = chars[..200].iter().collect();
    let tail: String = chars[chars.len() - 400..].iter().collect();
    format!("{head} [...] {tail}")
}
