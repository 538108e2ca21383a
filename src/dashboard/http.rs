//! A small HTTP/1.1 server for the dashboard: one thread per connection (at most
//! [`MAX_CONNECTIONS`] at once), `Connection: close`, GET only.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{Dashboard, Response};

/// Connections served at once; more get 503.
pub const MAX_CONNECTIONS: usize = 32;
/// Longest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// Serves `dashboard` on `listener` until the process ends. When the listener is on a
/// loopback address, only requests naming a loopback host are answered (a web page elsewhere
/// cannot reach the dashboard through DNS rebinding).
pub fn serve(dashboard: Dashboard, listener: TcpListener) -> std::io::Result<()> {
    let loopback_only = listener.local_addr()?.ip().is_loopback();
    let dashboard = Arc::new(dashboard);
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            let busy = Response::error(503, "too many connections");
            let _ = write_response(&mut stream, &busy, false);
            continue;
        }
        let (dashboard, open) = (Arc::clone(&dashboard), Arc::clone(&open));
        std::thread::spawn(move || {
            let _ = answer(&dashboard, stream, loopback_only);
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn answer(dashboard: &Dashboard, stream: TcpStream, loopback_only: bool) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push(line.trim_end().to_string());
        if head.iter().map(String::len).sum::<usize>() > MAX_HEAD {
            break;
        }
    }
    let mut stream = stream;
    let Some(request) = head.first() else {
        return Ok(());
    };
    let mut parts = request.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let host = head.iter().skip(1).find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.eq_ignore_ascii_case("host").then(|| v.trim().to_string())
    });
    let response = if loopback_only && !host.as_deref().is_some_and(is_loopback_host) {
        Response::error(421, "the dashboard answers requests for localhost only")
    } else {
        dashboard.handle(method, target)
    };
    write_response(&mut stream, &response, method != "HEAD")
}

/// True for `localhost`, `127.x.x.x` and `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn write_response(stream: &mut TcpStream, r: &Response, body: bool) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        421 => "Misdirected Request",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
         Content-Security-Policy: default-src 'self'; img-src 'self' data:; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    stream.write_all(head.as_bytes())?;
    if body {
        stream.write_all(&r.body)?;
    }
    stream.flush()
}
