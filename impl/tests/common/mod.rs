//! Helpers shared by the engine's tests (and the crash test in `checks/tests`): settings, runs on
//! the in-memory backend, checks that every recorded step is the model's step, reading data back.

#![allow(dead_code)]

use livemerge_impl::db::Db;
use livemerge_impl::scheduler::Gate;
use livemerge_impl::session::{run_memory, DB_FILE};
use livemerge_impl::storage::memory::Memory;
use livemerge_impl::{Backoff, Outcome, Settings};
use livemerge_model::{step, Release, State};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

pub fn settings(disks: u8, release: Release, tick_ms: u64) -> Settings {
    Settings {
        disks,
        release,
        tick_ms,
        backoff: Some(Backoff::Capped),
        pool_threads: 10,
        start_cost_us: 0,
        limit_ms: 60_000,
        seed: 7,
        ..Settings::default()
    }
}

pub fn memory_run(
    dir: &Path,
    s: Settings,
    storage: Memory,
    gate: Arc<dyn Gate>,
    trace: Option<&Path>,
) -> Outcome {
    run_memory(dir, s, Arc::new(storage), gate, trace).expect("the run starts")
}

pub fn mem(disks: u8) -> Memory {
    Memory::new(disks as usize, Duration::from_millis(2))
}

/// Every row of the event log is `step` of the previous state, from the initial state on, and
/// the persisted state is the last one. Returns the number of events.
pub fn assert_log_is_model_steps(dir: &Path, start: State) -> usize {
    let db = Db::open_read(&dir.join(DB_FILE)).expect("the database opens");
    assert_removal_log_is_model_steps(&db, start)
}

/// [`assert_log_is_model_steps`] for the removal `db` is a handle of.
pub fn assert_removal_log_is_model_steps(db: &Db, start: State) -> usize {
    let p = db.load().expect("the engine state loads");
    let cfg = p.settings.model_config();
    let log = db.event_log().expect("the log reads");
    let mut s = start;
    for (i, row) in log.iter().enumerate() {
        assert_eq!(row.seq, i as u64 + 1, "the log has no gaps");
        assert_eq!(
            row.before, s,
            "event {} starts from the previous state",
            row.seq
        );
        let next = step(&cfg, &s, row.event)
            .unwrap_or_else(|r| {
                panic!(
                    "event {} ({:?}) is refused by the model: {r}",
                    row.seq, row.event
                )
            })
            .0;
        assert_eq!(row.after, next, "event {} leads where step says", row.seq);
        s = next;
    }
    assert_eq!(p.state, s, "the persisted state is the last step's");
    assert_eq!(p.seq, log.len() as u64);
    log.len()
}

/// Whether `pattern` reads back at `offset` (64 KiB) from the disk's active volume, read with
/// qemu-io directly, not through the engine's storage code.
pub fn reads(dir: &Path, disk: usize, pattern: u8, offset: u64) -> bool {
    let dd = dir.join(format!("disk-{}", disk + 1));
    let active = std::fs::read_to_string(dd.join("active")).unwrap();
    Command::new("qemu-io")
        .args(["-r", "-U", "-f", "qcow2", "-c"])
        .arg(format!("read -P {pattern:#x} {offset} 65536"))
        .arg(active.trim())
        .current_dir(&dd)
        .output()
        .unwrap()
        .status
        .success()
}
