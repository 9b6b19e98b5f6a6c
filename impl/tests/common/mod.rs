//! Helpers shared by the engine's tests (and the crash test in `checks/tests`): settings, runs on
//! the in-memory backend, checks that every recorded step is the model's step, reading data back.

#![allow(dead_code)]

use livemerge_impl::db::Db;
use livemerge_impl::harness::memory::Memory;
use livemerge_impl::scheduler::Gate;
use livemerge_impl::session::{self, lock_engine_dir, Fresh, Mode, DB_FILE};
use livemerge_impl::storage::{Host, Storage};
use livemerge_impl::{Backoff, Error, Outcome, Schedule, Settings};
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
    let mode = Mode::InMemory {
        settings: s,
        hosts: vec![Arc::new(storage)],
        gate: Some(gate),
    };
    session::run(dir, mode, trace)
        .expect("the run starts")
        .remove(0)
}

/// `vms` removals at once on in-memory hosts whose merge job takes `job`, one engine.
pub fn memory_vms(dir: &Path, s: Settings, vms: u32, job: Duration) -> Result<Vec<Outcome>, Error> {
    let hosts = (0..vms)
        .map(|_| Arc::new(Memory::new(s.disks as usize, job)) as Arc<dyn Storage>)
        .collect();
    session::run(
        dir,
        Mode::InMemory {
            settings: s,
            hosts,
            gate: None,
        },
        None,
    )
}

/// One removal on qcow2 volumes in the new engine directory `dir`, under `schedule`.
pub fn qcow2_run(
    dir: &Path,
    s: Settings,
    schedule: Schedule,
    trace: Option<&Path>,
) -> Result<Outcome, Error> {
    let fresh = Fresh {
        gate: (schedule != Schedule::Free).then(|| schedule.gate()),
        ..Fresh::new(s, Host::Qcow2)
    };
    session::run(dir, Mode::Run(fresh), trace).map(|mut all| all.remove(0))
}

/// `livemerge resume` of the engine directory `dir` (one removal).
pub fn resume(dir: &Path) -> Result<Outcome, Error> {
    let lock = lock_engine_dir(dir)?;
    let mode = Mode::Resume {
        lock,
        limit_ms: None,
    };
    session::run(dir, mode, None).map(|mut all| all.remove(0))
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
