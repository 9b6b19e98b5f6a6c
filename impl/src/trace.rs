//! The trace: one JSON object per line for every event the engine applied (`--trace FILE`).
//!
//! Each line is written after its step's transaction committed, in one `write` to a file opened
//! for appending (a `resume` appends to the same file), so a killed engine leaves whole lines only;
//! at most the last committed step can be missing from the trace (the database's `event_log` has
//! it). Each time the engine opens the trace it first writes a header line,
//! `{"livemerge_trace": 1, "configuration": {...}}`, the model configuration its events are
//! stepped with (`livemerge audit` reads it). Then one line per event, with fields:
//!
//! | field | content |
//! |---|---|
//! | `seq` | the event's number in this engine directory (1, 2, ...; `resume` continues) |
//! | `t_ms` | milliseconds since this engine process started |
//! | `source` | who observed it: `parent`, `pool`, `poller`, `task`, `host`, `resume`; `event_log` for a step copied from the database on resume (see [`Trace::backfill`]) |
//! | `event` | the model event, e.g. `{"event":"poll_child","disk":0}` (disks are 0-based) |
//! | `before`, `after` | the model state before and after (`livemerge_model::State` as JSON) |
//! | `db` | the oVirt rows after the step: `{"commands":[...],"snapshot":{...}\|null,"images":[...]}` |
//! | `storage` | `{"disks":[...], "observed":...}`: cheap per-disk facts read at the step (qcow2: the active volume, whether top's file exists, whether this engine runs a job; memory: all four facts), and what the source itself observed (the chain MERGE_STATUS read, a job's or a deletion's result), or `null` |

use crate::db::Rows;
use livemerge_model::{Event, State};
use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// One trace line.
#[derive(Serialize)]
pub struct Record<'a> {
    pub seq: u64,
    pub t_ms: u64,
    pub source: &'a str,
    pub event: Event,
    pub before: &'a State,
    pub after: &'a State,
    pub db: &'a Rows,
    pub storage: serde_json::Value,
}

/// An open trace file.
pub struct Trace {
    file: File,
}

impl Trace {
    /// Opens `path` for appending (created if missing).
    /// A target that is not a regular file (a device, a FIFO) is refused: see
    /// [`crate::outfile::open_append`].
    pub fn open(path: &Path) -> std::io::Result<Trace> {
        let file = crate::outfile::open_append(path).map_err(std::io::Error::other)?;
        Ok(Trace { file })
    }

    /// The highest `seq` among the records already in the file at `path` (0 if none): lines that
    /// do not parse (a torn last line) are ignored.
    pub fn last_seq(path: &Path) -> u64 {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("seq").and_then(|s| s.as_u64()))
            .max()
            .unwrap_or(0)
    }

    /// Appends records for steps the database committed but the trace lacks (an engine killed
    /// between its commit and its trace line, or a `resume` writing to a new trace file), so
    /// that a trace always tells the whole story from the initial state. They carry
    /// `"source": "event_log"` and no `db`/`storage` facts.
    pub fn backfill(
        &mut self,
        cfg: &livemerge_model::Config,
        rows: &[crate::db::LogRow],
    ) -> std::io::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.header(cfg)?;
        for r in rows {
            let mut line = serde_json::json!({
                "seq": r.seq,
                "t_ms": 0,
                "source": "event_log",
                "logged_source": r.source,
                "event": r.event,
                "before": r.before,
                "after": r.after,
                "db": null,
                "storage": null,
            })
            .to_string();
            line.push('\n');
            self.file.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    /// The header line: the format version and the model configuration of what follows.
    pub fn header(&mut self, cfg: &livemerge_model::Config) -> std::io::Result<()> {
        let mut line = serde_json::json!({"livemerge_trace": 1, "configuration": cfg}).to_string();
        line.push('\n');
        self.file.write_all(line.as_bytes())
    }

    pub fn record(&mut self, r: &Record<'_>) -> std::io::Result<()> {
        let mut line = serde_json::to_string(r).map_err(std::io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())
    }
}
