//! Progress lines on stderr, for searches that take more than a couple of seconds.

use std::io::Write;
use std::time::{Duration, Instant};

pub struct Progress {
    enabled: bool,
    start: Instant,
    last: Instant,
    printed: bool,
}

impl Progress {
    pub fn new(enabled: bool, start: Instant) -> Progress {
        Progress {
            enabled,
            start,
            last: start,
            printed: false,
        }
    }

    pub fn tick(&mut self, depth: u64, unique: u64, generated: u64) {
        let now = Instant::now();
        if !self.enabled || now - self.last < Duration::from_secs(2) {
            return;
        }
        self.last = now;
        self.printed = true;
        let secs = (now - self.start).as_secs_f64();
        let _ = writeln!(
            std::io::stderr(),
            "livemerge: {secs:.0}s, depth {depth}, {unique} unique states, {generated} generated ({:.0} states/s)",
            generated as f64 / secs.max(1e-9)
        );
    }

    pub fn done(&self) {
        if self.printed {
            let _ = writeln!(std::io::stderr(), "livemerge: search finished");
        }
    }
}
