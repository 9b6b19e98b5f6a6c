//! Progress of the engine commands (`run`, `resume`, `replay`): one line on stderr per event the
//! engine applies, as it applies it, in oVirt's words. They are read from the engine's trace
//! file, which it writes one whole line per committed step: the engine needs no hook, and a run
//! that is killed has already said how far it got.

use livemerge_impl::sync::lock;
use livemerge_impl::trace::{self, ReadRecord};
use livemerge_model::{describe_step, ConcreteStep, Config};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A thread printing the trace's new records until [`Follower::finish`].
pub(crate) struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Follower {
    /// Follows `trace` from its current end (earlier lines are an earlier run's), prefixing each
    /// line with `what` (`run`, `resume`, `replay`). `cfg` describes the records until the
    /// trace names its own configuration. Prints `banner` first, once the engine has opened the
    /// trace (its header line): after the command's input was accepted, before the first step.
    pub(crate) fn start_saying(
        trace: &Path,
        what: &'static str,
        cfg: Option<Config>,
        banner: Option<String>,
    ) -> Follower {
        let stop = Arc::new(AtomicBool::new(false));
        let from = std::fs::metadata(trace).map_or(0, |m| m.len());
        let path = trace.to_path_buf();
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || follow(&path, from, what, cfg, banner, &flag));
        Follower {
            stop,
            thread: Some(thread),
        }
    }

    /// Prints what is left to print, then stops.
    pub(crate) fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs an engine command (`go`) with its progress lines: `go` is handed the trace to write,
/// and while it runs a [`Follower`] prints that trace's records as `what` (`cfg` describes them
/// until the trace names its own configuration). See [`trace_for`] for which trace.
pub(crate) fn with_progress<T>(
    given: Option<&Path>,
    quiet: bool,
    what: &'static str,
    cfg: Option<Config>,
    go: impl FnOnce(Option<&Path>) -> T,
) -> T {
    with_progress_saying(given, quiet, what, cfg, None, go)
}

/// As [`with_progress`], with a first line (`banner`) said once the engine has started.
pub fn with_progress_saying<T>(
    given: Option<&Path>,
    quiet: bool,
    what: &'static str,
    cfg: Option<Config>,
    banner: Option<String>,
    go: impl FnOnce(Option<&Path>) -> T,
) -> T {
    let (trace, tmp) = trace_for(given, quiet);
    let follower = trace
        .as_deref()
        .filter(|_| !quiet)
        .map(|t| Follower::start_saying(t, what, cfg, banner));
    let out = go(trace.as_deref());
    if let Some(f) = follower {
        f.finish();
    }
    if tmp.is_some() {
        *lock(&PRIVATE_TRACE_DIR) = None;
    }
    drop(tmp);
    out
}

/// The trace a command writes, and the progress lines read from it: the user's `--trace`, or
/// one in a temporary directory (removed with the returned guard, or by [`remove_on_signal`]
/// when the command is interrupted) just for the progress lines. Quiet and no `--trace`: no
/// trace at all.
fn trace_for(given: Option<&Path>, quiet: bool) -> (Option<PathBuf>, Option<tempfile::TempDir>) {
    match (given, quiet) {
        (Some(p), _) => (Some(p.to_path_buf()), None),
        (None, true) => (None, None),
        // Progress is a convenience: without a temporary directory the command runs silently.
        (None, false) => match tempfile::tempdir() {
            Ok(d) => {
                remove_on_signal(d.path());
                (Some(d.path().join("trace.jsonl")), Some(d))
            }
            Err(_) => (None, None),
        },
    }
}

/// The private trace's directory while a command runs (see [`remove_on_signal`]).
static PRIVATE_TRACE_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// An engine command stopped by Ctrl-C, SIGTERM or SIGHUP removes its private trace's directory
/// before it exits (130), as the guard would have: otherwise every interrupted `run` would leave
/// one behind in the system's temporary directory. The engine's own state needs nothing: every
/// step is committed whole, and `resume` goes on from there. A SIGKILL still leaves it.
fn remove_on_signal(dir: &Path) {
    *lock(&PRIVATE_TRACE_DIR) = Some(dir.to_path_buf());
    // Set once per process; a second command in the same process finds it set, and the handler
    // reads the directory of the moment.
    let _ = ctrlc::set_handler(|| {
        if let Some(d) = lock(&PRIVATE_TRACE_DIR).take() {
            let _ = std::fs::remove_dir_all(d);
        }
        std::process::exit(130);
    });
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn follow(
    path: &PathBuf,
    mut offset: u64,
    what: &str,
    mut cfg: Option<Config>,
    mut banner: Option<String>,
    stop: &AtomicBool,
) {
    let mut pending = Vec::new();
    let mut earlier = Earlier::default();
    loop {
        // Read the stop flag first: what was written before it was set is still printed.
        let last_round = stop.load(Ordering::SeqCst);
        // Only a regular file: opening a FIFO would block until a writer came (the engine
        // refuses such a trace, so none ever would).
        let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
        if let Some(mut f) = regular.then(|| std::fs::File::open(path).ok()).flatten() {
            if f.seek(SeekFrom::Start(offset)).is_ok() {
                let mut buf = Vec::new();
                if let Ok(n) = f.read_to_end(&mut buf) {
                    offset += n as u64;
                    pending.extend_from_slice(&buf);
                }
            }
        }
        // Only whole lines: the engine writes each in one write, but a read may catch half.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            // Only the engine's own lines (JSON objects) say it started: a path the engine then
            // refuses (a procfs file) may hold other text.
            let engines =
                serde_json::from_slice::<serde_json::Value>(&line).is_ok_and(|v| v.is_object());
            if engines {
                if let Some(b) = banner.take() {
                    eprintln!("{b}");
                }
            }
            print_line(&line, what, &mut cfg, &mut earlier);
        }
        if last_round {
            earlier.flush(what);
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Steps a `resume` copies into its trace from the event log (source `event_log`): they were
/// applied, and said, before the engine was killed, so they are summed up in one line.
#[derive(Default)]
struct Earlier {
    count: usize,
    last: Option<String>,
}

impl Earlier {
    fn flush(&mut self, what: &str) {
        if let Some(last) = self.last.take() {
            eprintln!(
                "livemerge {what}: {} step(s) applied before the engine stopped, the last: {last}",
                self.count
            );
            self.count = 0;
        }
    }
}

fn print_line(line: &[u8], what: &str, cfg: &mut Option<Config>, earlier: &mut Earlier) {
    // Progress is best effort: a line that does not read (a foreign header, a torn line) is
    // passed over; `audit` judges the trace.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
        return;
    };
    if trace::is_header(&value) {
        if let Ok(h) = trace::parse_header(value) {
            *cfg = Some(Config {
                symmetry: false,
                ..h.configuration
            });
        }
        return;
    }
    let Ok(r) = serde_json::from_value::<ReadRecord>(value) else {
        return;
    };
    let text = match cfg {
        Some(c) => ConcreteStep::new(c, &r.before, r.event)
            .map(|st| describe_step(c, &st))
            .unwrap_or_else(|_| livemerge_model::describe_event(r.event)),
        None => livemerge_model::describe_event(r.event),
    };
    if r.source == "event_log" {
        earlier.count += 1;
        earlier.last = Some(format!("step {} ({text})", r.seq));
        return;
    }
    earlier.flush(what);
    eprintln!(
        "livemerge {what}: {:>7.2} s  step {:>3} ({}): {text}",
        r.t_ms as f64 / 1000.0,
        r.seq,
        r.source
    );
}
