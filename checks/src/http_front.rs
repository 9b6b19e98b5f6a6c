//! The explorer's HTTP front: the only server a client reaches. It is small on purpose and
//! bounded everywhere a client could make it grow or wait:
//!
//! - a request head (request line and headers) of at most [`FrontLimits::max_head`] bytes, else
//!   `431`; at most 64 headers; a body is refused (`413`): no endpoint takes one;
//! - the head must arrive within [`FrontLimits::head_timeout`] (a slow or silent client gets `408` and
//!   is closed), each write within [`FrontLimits::io_timeout`];
//! - at most [`FrontLimits::max_connections`] connections are served at once (one thread each);
//!   beyond that a client is answered `503` at once and closed;
//! - one request per connection (`Connection: close`), so nothing is held between requests.
//!
//! A client that resets the connection costs only its own thread: every write error is
//! ignored, nothing here panics on a client's behaviour. Requests are parsed by `httparse`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The bounds of the front.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrontLimits {
    pub(crate) max_head: usize,
    pub(crate) head_timeout: Duration,
    pub(crate) io_timeout: Duration,
    pub(crate) max_connections: usize,
}

impl Default for FrontLimits {
    fn default() -> FrontLimits {
        FrontLimits {
            max_head: 8 * 1024,
            head_timeout: Duration::from_secs(3),
            io_timeout: Duration::from_secs(10),
            max_connections: 32,
        }
    }
}

/// A request the front accepts: a method and a path (with its query), nothing else is needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
}

/// An answer: status, content type, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn empty(status: u16) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Vec::new(),
        }
    }
}

/// Parses a request head from the bytes received so far: `Ok(None)` while incomplete, the
/// request once complete, or the status to refuse it with.
pub fn parse_head(buf: &[u8], max_head: usize) -> Result<Option<Request>, u16> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() >= max_head => Err(431),
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(n)) if n > max_head => Err(431),
        Ok(httparse::Status::Complete(_)) => {
            for h in req.headers.iter() {
                let name = h.name.to_ascii_lowercase();
                let body = (name == "content-length"
                    && std::str::from_utf8(h.value).map_or(true, |v| v.trim() != "0"))
                    || name == "transfer-encoding";
                if body {
                    return Err(413);
                }
            }
            match (req.method, req.path) {
                (Some(m), Some(p)) => Ok(Some(Request {
                    method: m.to_string(),
                    path: p.to_string(),
                })),
                _ => Err(400),
            }
        }
        Err(httparse::Error::TooManyHeaders) => Err(431),
        Err(_) => Err(400),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Writes `r` and closes; a client that is gone is its own business. With `drain`, what the
/// client may still send is read briefly first, so that closing does not reset the answer away.
fn respond(mut s: TcpStream, r: &Response, drain: bool) {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|_| s.write_all(&r.body))
        .and_then(|_| s.flush());
    let _ = s.shutdown(std::net::Shutdown::Write);
    if drain {
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
        let mut sink = [0u8; 1024];
        let _ = s.read(&mut sink);
    }
}

/// Reads a request head within the limits.
fn read_head(s: &mut TcpStream, limits: &FrontLimits) -> Result<Request, u16> {
    let deadline = Instant::now() + limits.head_timeout;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(408);
        }
        s.set_read_timeout(Some(left)).map_err(|_| 400u16)?;
        let want = (limits.max_head + 1 - buf.len().min(limits.max_head)).min(chunk.len());
        let n = match s.read(&mut chunk[..want]) {
            Ok(0) => return Err(400),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(408)
            }
            Err(_) => return Err(400),
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(r) = parse_head(&buf, limits.max_head)? {
            return Ok(r);
        }
    }
}

/// Serves `listener` until `stop` is set, answering each request with `handler`.
pub(crate) fn serve(
    listener: TcpListener,
    limits: FrontLimits,
    handler: Arc<dyn Fn(&Request) -> Response + Send + Sync>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let active = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            // A connection that died before it was accepted, or descriptors exhausted for a
            // moment: neither stops the server.
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_write_timeout(Some(limits.io_timeout));
        let _ = stream.set_nodelay(true);
        if active.load(Ordering::SeqCst) >= limits.max_connections {
            // Answered without waiting for the request: the client can retry. What it has sent
            // already is read (without waiting), so the close does not reset the answer away.
            let mut s = stream;
            let _ = s.set_nonblocking(true);
            let _ = s.read(&mut [0u8; 4096]);
            let _ = s.set_nonblocking(false);
            let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
            respond(s, &Response::empty(503), false);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let mine = Arc::clone(&active);
        let handler = Arc::clone(&handler);
        let spawned = std::thread::Builder::new()
            .name("http-front".into())
            .spawn(move || {
                let mut s = stream;
                let answer = match read_head(&mut s, &limits) {
                    Ok(rq) => handler(&rq),
                    Err(status) => Response::empty(status),
                };
                respond(s, &answer, true);
                mine.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // No thread to be had: the slot was never used.
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_and_bounded() {
        let get = b"GET /.status HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            parse_head(get, 8192),
            Ok(Some(Request {
                method: "GET".into(),
                path: "/.status".into()
            }))
        );
        assert_eq!(parse_head(&get[..10], 8192), Ok(None));
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(9000, b'a');
        assert_eq!(parse_head(&big, 8192), Err(431));
        assert_eq!(parse_head(b"\x00\x01garbage\r\n\r\n", 8192), Err(400));
        assert_eq!(
            parse_head(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 8192),
            Err(413)
        );
        let many: String = (0..70).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(
            parse_head(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), 8192),
            Err(431)
        );
    }
}
