//! A removal from start to end: set up an engine directory, run the engine until the removal
//! ends (or cannot), and judge the result on the REAL database and storage.
//!
//! "The end" of a run: `step` accepts nothing but `Restart` and no IO is outstanding. A removal
//! can reach that without ending: after a restart inside the parent's `execute()`, the parent is
//! FAILED_RESTARTED and the poller never dispatches it (oVirt's own liveness bug, which the model
//! finds). A wall-clock limit catches anything else that hangs. Either way the run reports
//! "removal did not end: ..." instead of hanging.

use crate::abstraction::{self, Observed};
use crate::db::{Db, Layout};
use crate::engine::{Engine, Parts, Source};
use crate::error::{Error, Result};
use crate::scheduler::{Free, Gate, HoldUntil};
use crate::settings::Settings;
use crate::storage::memory::Memory;
use crate::storage::qcow2::{self, Qcow2};
use crate::storage::{DataCheck, Storage};
use crate::trace::Trace;
use livemerge_model::properties::{self, Expectation};
use livemerge_model::{step, summarize, why_stuck, Event, State};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The engine's database file in an engine directory.
pub const DB_FILE: &str = "engine.db";
/// Present while `run` sets a directory up; lets a re-run redo an interrupted setup.
pub const SETUP_MARKER: &str = ".livemerge-setup";

/// A forced schedule selectable from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Real thread timing decides.
    Free,
    /// No pool thread picks up a child until the poller has polled the parent after its
    /// `execute()` returned (see [`HoldUntil::pool_after_parent_poll`]).
    PoolAfterParentPoll,
}

impl Schedule {
    pub fn gate(self) -> Arc<dyn Gate> {
        match self {
            Schedule::Free => Arc::new(Free),
            Schedule::PoolAfterParentPoll => Arc::new(HoldUntil::pool_after_parent_poll()),
        }
    }
}

/// The path of an engine directory's database; fails if `dir` is not an engine directory.
pub fn db_path(dir: &Path) -> Result<PathBuf> {
    let p = dir.join(DB_FILE);
    if !p.is_file() {
        return Err(Error::NotEngineDir(format!(
            "{} is not an engine directory (no {DB_FILE}; start one with `livemerge run --dir`)",
            dir.display()
        )));
    }
    Ok(p)
}

/// How a run ended, judged on the real database and storage.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub settings: Settings,
    pub layout: Layout,
    /// The engine's final model state (what it believes).
    pub state: State,
    /// The real rows and facts, and their abstraction (what is).
    pub observed: Observed,
    /// The data written to each disk's layers, read back from its active volume.
    pub data: Vec<DataCheck>,
    /// The safety properties ("always") evaluated on `observed.state`: name, holds.
    pub properties: Vec<(&'static str, bool)>,
    /// The first state the engine went through with the snapshot row deleted, if any (a 3.6.0
    /// child may merge after it, so the end alone cannot tell what the deletion left behind).
    pub removed_at: Option<State>,
    /// The parent's end-action ran.
    pub ended: bool,
    /// Why the removal did not end, if it did not.
    pub stuck: Option<String>,
    /// Disagreements between the model and reality (a MERGE_STATUS verdict, the final state vs
    /// the abstraction, a schedule the run departed from).
    pub conformance: Vec<String>,
    /// Events applied by this process, and in the whole directory.
    pub events_here: u64,
    pub events_total: u64,
    pub seconds: f64,
}

impl Outcome {
    /// Some safety property fails on reality, data is unreadable, or the engine did not conform.
    pub fn violated(&self) -> bool {
        self.properties.iter().any(|(_, ok)| !ok)
            || self.data.iter().any(|d| !d.all_readable())
            || !self.conformance.is_empty()
    }

    /// 0 ended and everything holds; 1 something is violated; 3 the removal did not end.
    pub fn exit_code(&self) -> u8 {
        if self.violated() {
            1
        } else if self.stuck.is_some() {
            3
        } else {
            0
        }
    }
}

/// An engine directory's lock: an exclusive `flock` on the directory itself, held while one
/// process sets it up or runs an engine on it (released when dropped, or when the process dies).
#[derive(Debug)]
pub struct DirLock {
    _dir: std::fs::File,
}

/// Takes `dir`'s lock without waiting: another livemerge holding it is a one-line error.
pub fn lock_dir(dir: &Path) -> Result<DirLock> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(dir)
        .map_err(|e| Error::BadInput(format!("cannot open {}: {e}", dir.display())))?;
    // SAFETY: flock on a descriptor we own; no memory is passed.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Error::Locked(format!(
                "{} is in use by another livemerge (its directory lock is held)",
                dir.display()
            ))
        } else {
            Error::BadInput(format!("cannot lock {}: {e}", dir.display()))
        });
    }
    Ok(DirLock { _dir: f })
}

/// [`check_new_dir`] before anything is opened, for a clear answer early: a directory another
/// livemerge is setting up or running on is "in use" (its lock is held), not "not empty".
pub(crate) fn precheck_new_dir(dir: &Path) -> Result<()> {
    let _lock = if dir.is_dir() {
        Some(lock_dir(dir)?)
    } else {
        None
    };
    check_new_dir(dir)
}

/// Creates an engine directory: qcow2 disks with a snapshot, and the database. The directory's
/// lock is taken before anything is checked or written, and returned to be held while the
/// engine runs, so two `run`s on one new directory cannot both set it up.
pub(crate) fn setup_dir(dir: &Path, settings: &Settings) -> Result<(Layout, DirLock)> {
    if dir.exists() && !dir.is_dir() {
        check_new_dir(dir)?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::BadInput(format!("cannot create {}: {e}", dir.display())))?;
    // Checked only under the lock: a run setting the directory up holds it, and a check made
    // outside it could see that run's half-written files and call the directory foreign.
    let lock = lock_dir(dir)?;
    check_new_dir(dir)?;
    Ok((setup_checked(dir, settings)?, lock))
}

/// Refuses a directory `run` must not touch: one that holds an engine, is not a directory, or
/// holds anything else than an interrupted setup of ours.
pub(crate) fn check_new_dir(dir: &Path) -> Result<()> {
    if dir.join(DB_FILE).exists() {
        return Err(Error::BadInput(format!(
            "{} already holds an engine: use `livemerge resume --dir {}`",
            dir.display(),
            dir.display()
        )));
    }
    if dir.exists() {
        if !dir.is_dir() {
            return Err(Error::BadInput(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| Error::BadInput(format!("cannot read {}: {e}", dir.display())))?;
        if entries.next().is_some() && !dir.join(SETUP_MARKER).exists() {
            return Err(Error::BadInput(format!(
                "{} is not empty and not an engine directory: give an empty or new directory",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Continues [`setup_dir`] once the directory is known to be usable.
fn setup_checked(dir: &Path, settings: &Settings) -> Result<Layout> {
    let io = |e: std::io::Error| Error::Storage(format!("{}: {e}", dir.display()));
    // Through the one writer of files: a marker planted as a FIFO or device is refused, not
    // waited on or written through.
    crate::outfile::write_atomically(&dir.join(SETUP_MARKER), b"setup in progress\n")
        .map_err(Error::BadInput)?;
    // Leftovers of an interrupted setup (only ours: the marker says the directory is ours).
    for d in 0..crate::MAX_DISKS {
        let dd = qcow2::disk_dir(dir, d);
        if dd.exists() {
            std::fs::remove_dir_all(&dd).map_err(io)?;
        }
    }
    Qcow2::create(dir, settings.disks as usize)?;
    let layout = Layout::new(
        "qcow2",
        settings.disks as usize,
        seed_from_clock(settings.seed),
    );
    create_db(dir, settings, &layout)?;
    std::fs::remove_file(dir.join(SETUP_MARKER)).map_err(io)?;
    Ok(layout)
}

/// Writes the database under a temporary name and renames it: `engine.db` exists only whole.
pub(crate) fn create_db(dir: &Path, settings: &Settings, layout: &Layout) -> Result<()> {
    let tmp = dir.join(format!("{DB_FILE}.tmp"));
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
    }
    Db::create(
        &tmp,
        settings,
        layout,
        &State::initial(settings.disks as usize),
    )?;
    std::fs::rename(&tmp, dir.join(DB_FILE))
        .map_err(|e| Error::Db(format!("cannot install {DB_FILE}: {e}")))
}

fn seed_from_clock(seed: u64) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    seed ^ t ^ ((std::process::id() as u64) << 32)
}

/// A new engine's trace must be a new (or empty) file: appending to another run's trace would
/// make one file tell two stories.
pub(crate) fn refuse_used_trace(trace: Option<&Path>) -> Result<()> {
    let Some(p) = trace else { return Ok(()) };
    crate::outfile::check_target(p).map_err(|e| Error::BadInput(format!("--trace {e}")))?;
    match std::fs::metadata(p) {
        Ok(m) if m.len() > 0 => Err(Error::BadInput(format!(
            "--trace {}: already holds a trace (of another run): give a new file",
            p.display()
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn open_trace(trace: Option<&Path>) -> Result<Option<Trace>> {
    trace
        .map(|p| {
            // The error names the path already.
            Trace::open(p).map_err(|e| Error::BadInput(format!("--trace {e}")))
        })
        .transpose()
}

/// `livemerge run`: sets up `dir` with qcow2 disks and removes the snapshot live.
pub fn run_dir(
    dir: &Path,
    settings: Settings,
    schedule: Schedule,
    trace: Option<&Path>,
) -> Result<Outcome> {
    settings.validate().map_err(Error::BadInput)?;
    qcow2::check_tools()?;
    precheck_new_dir(dir)?;
    refuse_used_trace(trace)?;
    let trace = open_trace(trace)?;
    let (layout, _lock) = setup_dir(dir, &settings)?;
    let db = Db::open_engine(&dir.join(DB_FILE))?;
    let storage = Arc::new(Qcow2::open(dir, settings.disks as usize)?);
    let parts = fresh_parts(settings, layout, db, storage, schedule.gate(), trace);
    Ok(drive(parts, Start::Fresh))
}

/// `livemerge resume`: the engine on `dir` was killed; restart it through the model and finish.
pub fn resume_dir(dir: &Path, trace: Option<&Path>, limit_ms: Option<u64>) -> Result<Outcome> {
    let path = db_path(dir)?;
    let _lock = lock_dir(dir)?;
    if let Some(tp) = trace {
        crate::outfile::check_target(tp).map_err(|e| Error::BadInput(format!("--trace {e}")))?;
    }
    // The trace is compared with the database before the engine writes anything to it.
    let (db, last_traced) = Db::open_engine_with(&path, |db| match trace {
        Some(tp) => check_trace_belongs(tp, dir, &db.load()?),
        None => Ok(0),
    })?;
    let p = db.load()?;
    let mut settings = p.settings;
    if let Some(l) = limit_ms {
        settings.limit_ms = l;
    }
    settings.validate().map_err(Error::BadInput)?;
    let n = p.settings.disks as usize;
    if p.layout.disks.len() != n || p.state.disk_count() != n {
        return Err(Error::BadInput(format!(
            "{}: the engine database is inconsistent ({} disk(s) in its settings, {} in its layout, {} in its state)",
            path.display(),
            n,
            p.layout.disks.len(),
            p.state.disk_count()
        )));
    }
    if p.layout.storage != "qcow2" {
        return Err(Error::BadInput(format!(
            "{} holds a {} engine, which cannot be resumed",
            dir.display(),
            p.layout.storage
        )));
    }
    let storage: Arc<dyn Storage> = Arc::new(Qcow2::open(dir, p.layout.disks.len())?);
    let mut trace = open_trace(trace)?;
    if let Some(t) = trace.as_mut() {
        let missing: Vec<_> = db
            .event_log()?
            .into_iter()
            .filter(|r| r.seq > last_traced)
            .collect();
        t.backfill(&settings.model_config(), &p.layout, &missing)
            .map_err(|e| Error::BadInput(format!("cannot write the trace: {e}")))?;
    }
    let parts = Parts {
        settings,
        layout: p.layout,
        db,
        state: p.state,
        seq: p.seq,
        storage,
        gate: Arc::new(Free),
        trace,
    };
    Ok(drive(parts, Start::Restart))
}

/// Refuses a `resume --trace` file that is not this directory's trace (another engine's, or one
/// without a header naming its directory), or that is ahead of the database (the database lost
/// committed steps: a damaged WAL or file rolled it back). Returns the trace's last `seq`.
fn check_trace_belongs(tp: &Path, dir: &Path, p: &crate::db::Persisted) -> Result<u64> {
    let x = crate::trace::Existing::read(tp)
        .map_err(|e| Error::BadInput(format!("--trace {}: cannot read: {e}", tp.display())))?;
    let mine = serde_json::to_value(&p.layout).unwrap_or_default();
    let vm = |l: &serde_json::Value| l["vm_id"].as_str().unwrap_or("none").to_string();
    if let Some(other) = x.layouts.iter().find(|l| **l != mine) {
        return Err(Error::BadInput(format!(
            "--trace {}: the trace of another engine (its header names VM {}, {}'s database VM {}): give this directory's trace or a new file",
            tp.display(),
            vm(other),
            dir.display(),
            p.layout.vm_id
        )));
    }
    if x.records > 0 && x.layouts.is_empty() {
        return Err(Error::BadInput(format!(
            "--trace {}: holds records but no header naming its engine directory: give a new file",
            tp.display()
        )));
    }
    if x.last_seq > p.seq {
        return Err(Error::BadInput(format!(
            "{}: the database is behind the trace: its last step is seq {}, the trace {} records seq {}; committed steps were lost (a damaged WAL or database file?): refusing to resume",
            dir.display(),
            p.seq,
            tp.display(),
            x.last_seq
        )));
    }
    Ok(x.last_seq)
}

/// One removal on the in-memory backend, with its database in `db_dir` (stress and tests).
pub fn run_memory(
    db_dir: &Path,
    settings: Settings,
    storage: Arc<Memory>,
    gate: Arc<dyn Gate>,
    trace: Option<&Path>,
) -> Result<Outcome> {
    settings.validate().map_err(Error::BadInput)?;
    let trace = open_trace(trace)?;
    let layout = Layout::new("memory", settings.disks as usize, settings.seed);
    create_db(db_dir, &settings, &layout)?;
    let db = Db::open_engine(&db_dir.join(DB_FILE))?;
    let parts = fresh_parts(settings, layout, db, storage, gate, trace);
    Ok(drive(parts, Start::Fresh))
}

/// The parts of an engine that has applied nothing yet.
fn fresh_parts(
    settings: Settings,
    layout: Layout,
    db: Db,
    storage: Arc<dyn Storage>,
    gate: Arc<dyn Gate>,
    trace: Option<Trace>,
) -> Parts {
    Parts {
        settings,
        layout,
        db,
        state: State::initial(settings.disks as usize),
        seq: 0,
        storage,
        gate,
        trace,
    }
}

/// How the engine starts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The user asked to remove the snapshot: the parent's thread runs `execute()`.
    Fresh,
    /// A killed engine's directory: apply `Restart`, then carry on with what is in flight.
    Restart,
}

/// Runs an engine from `parts` to the end of the removal and judges the outcome.
pub fn drive(parts: Parts, start: Start) -> Outcome {
    let t0 = Instant::now();
    let seq0 = parts.seq;
    let limit = parts.settings.limit();
    let engine = Engine::start(parts);
    match start {
        Start::Fresh => {
            engine.with_io(|io| io.parent = true);
            let me = Arc::clone(&engine);
            engine.spawn(move || parent_thread(me));
        }
        Start::Restart => {
            // A restart that changes nothing (the removal had already ended, or never began)
            // is refused: fine.
            let _ = engine.apply(Source::Resume, Event::Restart);
            engine.kick();
            let cfg = *engine.config();
            if step(&cfg, &engine.state(), Event::ParentBegins).is_ok() {
                // The engine died before RemoveSnapshot.execute() persisted anything: the user's
                // request left no trace, so resume submits it again (as the user would).
                engine.with_io(|io| io.parent = true);
                let me = Arc::clone(&engine);
                engine.spawn(move || parent_thread(me));
            }
        }
    }
    let quiescent = engine.wait_end(limit);
    engine.shutdown();
    finish(&engine, quiescent, seq0, t0)
}

/// The user removes the snapshot again `times` times, each time once the model lets them (after a
/// failed removal): each retry runs a new parent command's `execute()`.
pub(crate) fn user_thread(engine: Arc<Engine>, times: usize) {
    for _ in 0..times {
        if engine.apply(Source::User, Event::UserRetries).is_err() {
            break;
        }
        engine.with_io(|io| io.parent = true);
        parent_thread(Arc::clone(&engine));
    }
}

/// `RemoveSnapshotCommand.execute()`: begin, start a child for each disk that still has an image
/// in the snapshot (all of them, except on a retry), return.
pub(crate) fn parent_thread(engine: Arc<Engine>) {
    let cfg = *engine.config();
    let more = |e: &Arc<Engine>| step(&cfg, &e.state(), Event::ParentStartsChild).is_ok();
    let mut ok = engine.apply(Source::Parent, Event::ParentBegins).is_ok();
    while ok && more(&engine) {
        ok = engine
            .apply(Source::Parent, Event::ParentStartsChild)
            .is_ok();
    }
    if ok {
        let _ = engine.apply(Source::Parent, Event::ParentReturns);
    }
    engine.with_io(|io| io.parent = false);
}

pub(crate) fn finish(engine: &Arc<Engine>, quiescent: bool, seq0: u64, t0: Instant) -> Outcome {
    let cfg = *engine.config();
    let state = engine.state();
    let storage = Arc::clone(engine.storage());
    let layout = engine.layout().clone();
    let mut conformance = engine.conformance_errors();
    let fatal = engine.fatal();
    let observed = engine.with_db(|db| abstraction::observe(db, storage.as_ref(), &layout));
    let observed = match observed {
        Ok(o) => o,
        Err(e) => {
            // Reality could not be read: judge the engine's own state and say so.
            conformance.push(format!("cannot read the real database and storage: {e}"));
            Observed {
                rows: crate::db::project(&state, &layout),
                facts: Vec::new(),
                persisted: state,
                state,
            }
        }
    };
    let diffs = abstraction::discrepancies(&state, &observed.state);
    if !diffs.is_empty() {
        conformance.push(format!(
            "the engine's state differs from the real database and storage: {}",
            diffs.join("; ")
        ));
    }
    let data = (0..cfg.n())
        .map(|d| {
            storage.data_check(d).unwrap_or_else(|e| {
                conformance.push(format!("disk-{}: cannot read data back: {e}", d + 1));
                DataCheck {
                    base_data: false,
                    top_data: false,
                }
            })
        })
        .collect();
    // An invariant must hold in every state the engine went through, not only at the end: a
    // 3.6.0 child whose row was deleted re-creates it and merges after the snapshot row is gone,
    // so the end can look right after the snapshot was removed with nothing merged.
    let went_through: Vec<State> = engine
        .with_db(|db| db.event_log())
        .map(|log| log.into_iter().map(|r| r.after).collect())
        .unwrap_or_else(|e| {
            conformance.push(format!("cannot read the event log: {e}"));
            Vec::new()
        });
    let removed_at = went_through
        .iter()
        .find(|s| s.snapshot() == livemerge_model::Snapshot::Deleted)
        .copied();
    let props = properties::all(&cfg)
        .into_iter()
        .filter(|p| p.expectation == Expectation::Always)
        .map(|p| {
            let always = went_through.iter().all(|s| (p.holds)(&cfg, s));
            (p.name, always && (p.holds)(&cfg, &observed.state))
        })
        .collect();
    let ended = observed.state.removal_ended();
    let stuck = if let Some(f) = fatal {
        Some(format!("the engine stopped: {f}"))
    } else if ended {
        None
    } else if quiescent {
        Some(format!(
            "removal did not end: nothing more can happen ({})",
            why_stuck(&cfg, &state)
        ))
    } else {
        Some(format!(
            "removal did not end within {:.0} s: {}",
            engine.settings().limit().as_secs_f64(),
            summarize(&cfg, &state).replace('\n', "; ")
        ))
    };
    let events_total = engine.seq();
    Outcome {
        settings: *engine.settings(),
        layout,
        state,
        observed,
        data,
        properties: props,
        removed_at,
        ended,
        stuck,
        conformance,
        events_here: events_total - seq0,
        events_total,
        seconds: t0.elapsed().as_secs_f64(),
    }
}
