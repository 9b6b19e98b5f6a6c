//! Progress lines on stderr while a search runs: at most one a second, the first after a second,
//! so that short checks print none. Never on stdout, which may carry `--format json`.

use std::io::Write;
use std::time::{Duration, Instant};

pub(crate) struct Progress {
    enabled: bool,
    start: Instant,
    last: Instant,
    printed: bool,
}

/// The process's resident memory now, in MiB (Linux; `None` elsewhere).
fn resident_mib() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // Every Linux this runs on has 4 KiB pages, but a wrong page size would only skew a hint.
    Some(pages * 4096.0 / (1024.0 * 1024.0))
}

impl Progress {
    pub(crate) fn new(enabled: bool, start: Instant) -> Progress {
        Progress {
            enabled,
            start,
            last: start,
            printed: false,
        }
    }

    /// Prints a line if a second has passed since the last one.
    pub(crate) fn tick(&mut self, depth: u64, unique: u64, generated: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if now - self.last < Duration::from_secs(1) {
            return;
        }
        self.last = now;
        self.printed = true;
        let secs = (now - self.start).as_secs_f64();
        let memory = resident_mib()
            .map(|m| format!(", {m:.0} MiB"))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "livemerge: {secs:.0}s, depth {depth}, {unique} unique states, {generated} generated ({:.0} states/s){memory}",
            generated as f64 / secs.max(1e-9)
        );
    }

    pub(crate) fn done(&self) {
        if self.printed {
            let _ = writeln!(std::io::stderr(), "livemerge: search finished");
        }
    }
}
