//! The trace: one JSON object per line for every event the engine applied (`--trace FILE`).
//!
//! Each line is written after its step's transaction committed, in one `write` to a file opened
//! for appending (a `resume` appends to the same file). A kill can tear that write (Linux stops a
//! killed process's write at a page boundary), so opening a trace first cuts a torn last line
//! off; at most the last committed step can be missing from the trace (the database's
//! `event_log` has it, and `resume` copies it back). Each time the engine opens the trace it first writes a header line,
//! `{"livemerge_trace": 1, "configuration": {...}, "layout": {...}}`: the model configuration its
//! events are stepped with, and the engine directory's layout (`storage`, `vm_id`, `snapshot_id`,
//! `parent_command_id`, per disk its ids), the same as in its database's `engine_state`, which
//! ties the trace to that directory. Then one line per event, with fields:
//!
//! | field | content |
//! |---|---|
//! | `seq` | the event's number in this engine directory (1, 2, ...; `resume` continues): the auditor checks they are consecutive from 1 |
//! | `t_ms` | milliseconds since this engine process started: never decreasing between two headers; 0 in a backfilled record |
//! | `source` | who observed it, the model's actor of the event (`livemerge_model::Actor::name`): `user`, `parent`, `pool`, `grandchild`, `poller`, `host`, `restart` (the auditor checks it is the event's actor; it reads an older engine's names too); `event_log` for a step copied from the database on resume (see [`Trace::backfill`]), which then has `logged_source`, checked the same way |
//! | `event` | the model event, e.g. `{"event":"poll_child","disk":0}` (disks are 0-based) |
//! | `before`, `after` | the model state before and after (`livemerge_model::State` as JSON) |
//! | `db` | the oVirt rows after the step: `{"commands":[...],"snapshot":{...}\|null,"images":[...]}`, exactly `db::project(after, layout)` (the auditor checks it); `null` only in a backfilled record |
//! | `storage` | `{"disks":[...], "observed":...}`: cheap per-disk facts read at the step (qcow2: the active volume, whether top's file exists, whether this engine runs a job; memory: all four facts), and what the source itself observed (the chain MERGE_STATUS read, a job's or a deletion's result), or `null`. The auditor checks its shape (one entry per disk); its content is informational: the real end state is checked against the directory with `audit --dir` |
//!
//! Any other field makes the record malformed.
//!
//! The engine writes with [`Trace`] and the auditor and the progress lines read back with
//! [`Header`], [`parse_header`] and [`ReadRecord`]: one definition of the format, its version
//! [`TRACE_FORMAT`] included.

use crate::db::{Layout, Rows};
use livemerge_model::{Actor, Config, Event, State};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// The trace format's version, the `livemerge_trace` of every header: the engine writes it and
/// the auditor reads this version only. Bump it when a line changes meaning.
pub const TRACE_FORMAT: u32 = 1;

/// A header line: the format version, the model configuration of the records that follow, and
/// the engine directory's layout (`None` only in traces written before headers named it).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub livemerge_trace: u32,
    pub configuration: Config,
    #[serde(default)]
    pub layout: Option<Layout>,
}

/// Whether a trace line (as JSON) is a header rather than a record.
pub fn is_header(line: &serde_json::Value) -> bool {
    line.get("livemerge_trace").is_some()
}

/// Reads a header line: one that is malformed or of another format version is refused, with a
/// one-line reason.
pub fn parse_header(line: serde_json::Value) -> Result<Header, String> {
    let h: Header =
        serde_json::from_value(line).map_err(|e| format!("malformed trace header: {e}"))?;
    if h.livemerge_trace != TRACE_FORMAT {
        return Err(format!(
            "trace format version {}, this livemerge reads version {TRACE_FORMAT}",
            h.livemerge_trace
        ));
    }
    Ok(h)
}

/// A record line as read back: what [`Record`] writes, or a line [`Trace::backfill`] copied
/// from the event log (with `logged_source`, and `null` facts).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadRecord {
    pub seq: u64,
    pub t_ms: u64,
    pub source: String,
    #[serde(default)]
    pub logged_source: Option<String>,
    pub event: Event,
    pub before: State,
    pub after: State,
    pub db: serde_json::Value,
    pub storage: serde_json::Value,
}

/// One trace line, as the engine writes it.
#[derive(Serialize)]
pub struct Record<'a> {
    pub seq: u64,
    pub t_ms: u64,
    pub source: Actor,
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
    /// A torn last line (a kill in the middle of a record's `write`: Linux may stop a write to
    /// a regular file at a page boundary when the process is killed) is cut off first, so the
    /// next line starts on a line of its own; its step is in the database's `event_log`, which a
    /// `resume` copies back ([`Trace::backfill`]).
    pub fn open(path: &Path) -> std::io::Result<Trace> {
        let file = crate::outfile::open_append(path).map_err(std::io::Error::other)?;
        cut_torn_tail(&file)?;
        Ok(Trace { file })
    }

    /// Appends records for steps the database committed but the trace lacks (an engine killed
    /// between its commit and its trace line, or a `resume` writing to a new trace file), so
    /// that a trace always tells the whole story from the initial state. They carry
    /// `"source": "event_log"` and no `db`/`storage` facts.
    pub fn backfill(
        &mut self,
        cfg: &Config,
        layout: &Layout,
        rows: &[crate::db::LogRow],
    ) -> std::io::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.header(cfg, layout)?;
        for r in rows {
            let mut line = serde_json::json!({
                "seq": r.seq,
                "t_ms": 0,
                "source": BACKFILL,
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

    /// The header line: the format version, the model configuration of what follows, and the
    /// engine's layout (the ids of its rows, fixed when its directory was set up: they tie the
    /// trace to that directory's database, and `db` is their projection).
    pub fn header(&mut self, cfg: &Config, layout: &Layout) -> std::io::Result<()> {
        let header = Header {
            livemerge_trace: TRACE_FORMAT,
            configuration: *cfg,
            layout: Some(layout.clone()),
        };
        let mut line = serde_json::to_string(&header).map_err(std::io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())
    }

    pub fn record(&mut self, r: &Record<'_>) -> std::io::Result<()> {
        let mut line = serde_json::to_string(r).map_err(std::io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())
    }
}

/// Truncates `file` after its last newline if it does not end with one.
fn cut_torn_tail(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep != len {
                file.set_len(keep)?;
            }
            return Ok(());
        }
        end = start;
    }
    if len > 0 {
        file.set_len(0)?;
    }
    Ok(())
}

/// The `source` of a record copied from the database's event log on resume.
pub const BACKFILL: &str = "event_log";

/// What a trace file already holds: the layouts its headers name and its last record's `seq`.
#[derive(Debug, Default)]
pub struct Existing {
    /// The `layout` of each header (JSON `null` for a header without one).
    pub layouts: Vec<serde_json::Value>,
    /// The number of records.
    pub records: u64,
    /// The highest `seq` among them (0 if none).
    pub last_seq: u64,
}

impl Existing {
    /// Reads the trace at `path` (missing: empty). Lines that do not parse (a torn last line)
    /// are ignored; the auditor judges them.
    pub fn read(path: &Path) -> std::io::Result<Existing> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::default()),
            Err(e) => return Err(e),
        };
        let mut x = Existing::default();
        for line in text.split(|b| *b == b'\n') {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
                continue;
            };
            if is_header(&v) {
                x.layouts
                    .push(v.get("layout").cloned().unwrap_or(serde_json::Value::Null));
            } else if let Some(s) = v.get("seq").and_then(|s| s.as_u64()) {
                x.records += 1;
                x.last_seq = x.last_seq.max(s);
            }
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        for (before, after) in [
            ("{\"a\":1}\n{\"b\":", "{\"a\":1}\n"),
            ("{\"a\":1}\n", "{\"a\":1}\n"),
            ("{\"torn", ""),
            ("", ""),
        ] {
            std::fs::write(&p, before).unwrap();
            drop(Trace::open(&p).unwrap());
            assert_eq!(std::fs::read_to_string(&p).unwrap(), after, "{before:?}");
        }
        // Longer than one read chunk, the newline far back.
        let long = format!("{{\"a\":1}}\n{}", "x".repeat(200_000));
        std::fs::write(&p, long).unwrap();
        drop(Trace::open(&p).unwrap());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":1}\n");
    }
}
