//! A small QMP client: JSON lines over a unix socket, replies and events kept apart.
//!
//! One reader thread owns the socket's read side. A reply carries the `id` its command was sent
//! with and goes to that command's waiter; an event is appended to a log that job watchers scan
//! from the position they noted before sending their command, so an event that arrives before
//! its watcher looks is not lost. When the daemon dies the socket closes: every waiter, present
//! and future, gets an error saying so.
//!
//! (The `qapi` crate has generated types for QEMU's whole QAPI schema, pinned to one QEMU's
//! version of it; this backend sends a dozen commands and reads four events, so serde_json
//! values over a `UnixStream` are less to depend on, and the replies and events it reads are
//! exactly the ones this file names.)

use crate::sync::{lock, wait};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a command may take before the daemon is taken for hung.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Shared {
    replies: HashMap<u64, Value>,
    events: Vec<Value>,
    /// Why the socket closed, once it has.
    closed: Option<String>,
}

/// A connection to one daemon's QMP monitor.
pub struct Qmp {
    writer: Mutex<(UnixStream, u64)>,
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

impl Qmp {
    /// Connects, reads the greeting and leaves negotiation mode (`qmp_capabilities`).
    pub fn connect(path: &Path) -> Result<Qmp, String> {
        let stream = UnixStream::connect(path)
            .map_err(|e| format!("cannot connect to {}: {e}", path.display()))?;
        let read = stream
            .try_clone()
            .map_err(|e| format!("cannot use the QMP socket: {e}"))?;
        let shared: Arc<(Mutex<Shared>, Condvar)> = Arc::default();
        let sh = Arc::clone(&shared);
        std::thread::spawn(move || reader(BufReader::new(read), sh));
        let q = Qmp {
            writer: Mutex::new((stream, 0)),
            shared,
        };
        q.execute("qmp_capabilities", json!({}))?;
        Ok(q)
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared.0)
    }

    /// Runs a command; its `return` value, or its `error.desc` as the error.
    pub fn execute(&self, command: &str, arguments: Value) -> Result<Value, String> {
        let id = {
            let mut w = lock(&self.writer);
            w.1 += 1;
            let id = w.1;
            let mut line =
                json!({"execute": command, "arguments": arguments, "id": id}).to_string();
            line.push('\n');
            if let Err(e) = w.0.write_all(line.as_bytes()) {
                return Err(self
                    .closed_reason()
                    .unwrap_or(format!("qemu-storage-daemon's QMP socket: {e}")));
            }
            id
        };
        self.wait_until(REPLY_TIMEOUT, command, |g| {
            g.replies.remove(&id).map(|r| match r.get("error") {
                Some(err) => Err(format!(
                    "{command}: {}",
                    err["desc"].as_str().unwrap_or("error")
                )),
                None => Ok(r["return"].clone()),
            })
        })?
    }

    /// How many events have arrived so far: a position to scan from.
    pub fn event_mark(&self) -> usize {
        self.lock().events.len()
    }

    /// Waits for the first event at or after `from` that `pick` accepts; returns it and the
    /// position after it. Errors when the daemon's socket closes or the wait times out.
    pub fn wait_event(
        &self,
        from: usize,
        timeout: Duration,
        pick: impl Fn(&Value) -> bool,
    ) -> Result<(Value, usize), String> {
        let mut at = from;
        self.wait_until(timeout, "an event", |g| {
            while at < g.events.len() {
                at += 1;
                if pick(&g.events[at - 1]) {
                    return Some((g.events[at - 1].clone(), at));
                }
            }
            None
        })
    }

    /// Waits until `found` finds what it looks for in what the reader has received; errors
    /// when the daemon's socket closes first or `timeout` passes (`what`: what was awaited).
    fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut found: impl FnMut(&mut Shared) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.shared;
        let mut g = lock(m);
        loop {
            if let Some(t) = found(&mut g) {
                return Ok(t);
            }
            if let Some(why) = &g.closed {
                return Err(format!("{what}: {why}"));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "{what}: no answer from qemu-storage-daemon in {} s",
                    timeout.as_secs()
                ));
            }
            g = wait(cv, g, deadline - now);
        }
    }

    /// Why the connection closed, if it has.
    pub fn closed_reason(&self) -> Option<String> {
        self.lock().closed.clone()
    }
}

fn reader(mut r: BufReader<UnixStream>, shared: Arc<(Mutex<Shared>, Condvar)>) {
    let (m, cv) = &*shared;
    let mut line = String::new();
    let why = loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => {
                break "qemu-storage-daemon closed its QMP socket (it exited or was killed)"
                    .to_string()
            }
            Ok(_) => {}
            Err(e) => break format!("qemu-storage-daemon's QMP socket: {e}"),
        }
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let mut g = lock(m);
        if v.get("event").is_some() {
            g.events.push(v);
        } else if let Some(id) = v.get("id").and_then(Value::as_u64) {
            g.replies.insert(id, v);
        }
        // The greeting ({"QMP": ...}) and replies without an id are nobody's.
        drop(g);
        cv.notify_all();
    };
    lock(m).closed = Some(why);
    cv.notify_all();
}
