//! A removal from start to end: set up an engine directory, run the engine until the removal
//! ends (or cannot), and judge the result on the REAL database and storage.
//!
//! "The end" of a run: the model says it is `settled` (only a restart, the user or expiry could
//! still act) and no IO is outstanding. A removal can reach that without ending: the model's
//! liveness findings (a 3.x parent FAILED_RESTARTED that the poller never dispatches, a 4.0 child
//! EXECUTION_FAILED that it never polls). A wall-clock limit catches anything else that hangs.
//! Either way the run reports "removal did not end: ..." instead of hanging.
//!
//! - [`dir`]: engine directories (setup, lock, the checks that keep a run off foreign files);
//! - [`verdict`]: the [`Outcome`] of a run, judged on reality;
//! - [`live`]: `run`, `resume` and `replay` on the live host, and the guest's report;
//! - [`fleet`]: many removals in one engine process (one pool, poller and database).

mod dir;
pub mod fleet;
pub mod live;
mod verdict;

pub use crate::db::{db_path, vm_dir, DB_FILE};
pub(crate) use dir::{
    create_db, open_trace, precheck_new_dir, refuse_used_trace, setup_dir, setup_dir_as,
};
pub use dir::{lock_dir, DirLock, SETUP_MARKER};
pub(crate) use verdict::finish;
pub use verdict::Outcome;

use crate::db::{Db, Layout};
use crate::engine::Parts;
use crate::error::{Error, Result};
use crate::scheduler::{Free, Gate};
use crate::settings::Settings;
use crate::sources::{start, Start};
use crate::storage::qcow2::{self, Qcow2};
use crate::storage::{Host, InjectedFaults, Storage};
use crate::trace::Trace;
use livemerge_model::State;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What [`run`] does in its directory.
pub enum Mode {
    /// Sets up a new engine directory and removes `vms` snapshots at once on a host on files.
    Run(Fresh),
    /// Removes one snapshot per host of `hosts` at once, hosts the harness holds in memory
    /// (`crate::harness::memory`); the database goes in the directory.
    InMemory {
        settings: Settings,
        hosts: Vec<Arc<dyn Storage>>,
        /// Orders one removal's sources (`crate::harness::schedules`); `None` lets real timing
        /// decide, as production does.
        gate: Option<Arc<dyn Gate>>,
    },
    /// A killed engine's directory: every removal restarted through the model and finished, on
    /// the host the directory names. Its lock ([`lock_engine_dir`]) is the caller's, held until
    /// the engine is done.
    Resume {
        lock: DirLock,
        limit_ms: Option<u64>,
    },
}

/// A new engine directory's removals ([`Mode::Run`]).
pub struct Fresh {
    pub settings: Settings,
    /// Removals at once, sharing one pool, poller and database ([`fleet`]).
    pub vms: u32,
    /// qcow2 or live.
    pub host: Host,
    /// The live host's guest.
    pub live: live::LiveOptions,
    /// Host calls the host fails for real (one removal only).
    pub faults: InjectedFaults,
    /// Orders the sources of one removal (`crate::harness::schedules`); `None`: real timing.
    pub gate: Option<Arc<dyn Gate>>,
}

impl Fresh {
    /// One removal on `host`, as production runs it.
    pub fn new(settings: Settings, host: Host) -> Fresh {
        Fresh {
            settings,
            vms: 1,
            host,
            live: live::LiveOptions::default(),
            faults: InjectedFaults::default(),
            gate: None,
        }
    }
}

/// The one way to run the engine on a directory: set one up and remove its snapshots, or
/// resume a killed one ([`Mode`]). Returns each removal's outcome, in order. `trace`: the trace
/// file of one removal, the directory of their `vm-K.jsonl` files for several.
pub fn run(dir: &Path, mode: Mode, trace: Option<&Path>) -> Result<Vec<Outcome>> {
    let one_gate = |gate: &Option<Arc<dyn Gate>>, vms: usize| {
        if gate.is_some() && vms != 1 {
            return Err(Error::BadInput(
                "a forced schedule orders one removal's sources: give one removal".into(),
            ));
        }
        Ok(())
    };
    match mode {
        Mode::Run(f) => {
            one_gate(&f.gate, f.vms as usize)?;
            let gate = f.gate.unwrap_or_else(|| Arc::new(Free));
            match (f.host, f.vms) {
                (Host::Memory, _) => Err(Error::BadInput(
                    "run drives a host on files: qcow2 or live".into(),
                )),
                (Host::Qcow2, 1) => {
                    run_dir(dir, f.settings, f.faults, gate, trace).map(|o| vec![o])
                }
                (Host::Live, 1) => {
                    live::run_live(dir, f.settings, f.live, f.faults, gate, trace).map(|o| vec![o])
                }
                (host, vms) => {
                    if !f.faults.is_empty() {
                        return Err(Error::BadInput(
                            "faults to meet name one removal's disks: give one removal".into(),
                        ));
                    }
                    fleet::run_vms_on(dir, f.settings, vms, host, f.live, trace)
                }
            }
        }
        Mode::InMemory {
            settings,
            mut hosts,
            gate,
        } => {
            one_gate(&gate, hosts.len())?;
            if hosts.len() == 1 {
                let gate = gate.unwrap_or_else(|| Arc::new(Free));
                run_memory(dir, settings, hosts.remove(0), gate, trace).map(|o| vec![o])
            } else {
                fleet::run_vms_memory(dir, settings, hosts, trace)
            }
        }
        Mode::Resume { lock, limit_ms } => resume_all_locked(dir, lock, trace, limit_ms),
    }
}

/// `livemerge run`: sets up `dir` with qcow2 disks and removes the snapshot live, the host
/// failing the calls `faults` names.
pub(crate) fn run_dir(
    dir: &Path,
    settings: Settings,
    faults: InjectedFaults,
    gate: Arc<dyn Gate>,
    trace: Option<&Path>,
) -> Result<Outcome> {
    settings.validate()?;
    qcow2::check_tools()?;
    precheck_new_dir(dir)?;
    refuse_used_trace(trace)?;
    let trace = open_trace(trace)?;
    let (layout, _lock) = setup_dir(dir, &settings)?;
    let db = Db::open_engine(&dir.join(DB_FILE))?;
    let storage = Arc::new(Qcow2::open(dir, settings.disks as usize)?.with_faults(faults));
    let parts = fresh_parts(settings, layout, db, storage, gate, trace);
    Ok(drive(parts, Start::Fresh))
}

/// The lock of an existing engine directory (one with a database): what `resume` takes before
/// anything else, so that a directory another process holds is refused before this one reads
/// (or says) anything of its files.
pub fn lock_engine_dir(dir: &Path) -> Result<DirLock> {
    db_path(dir)?;
    lock_dir(dir)
}

/// `livemerge resume` ([`Mode::Resume`]) on an engine directory of one removal or several
/// ([`fleet`]): every removal's outcome, in order. With several, `trace` is their trace
/// directory.
fn resume_all_locked(
    dir: &Path,
    lock: DirLock,
    trace: Option<&Path>,
    limit_ms: Option<u64>,
) -> Result<Vec<Outcome>> {
    let _lock = lock;
    let path = db_path(dir)?;
    if let Some(tp) = trace.filter(|t| !t.is_dir()) {
        crate::outfile::check_target(tp).map_err(|e| Error::BadInput(format!("--trace {e}")))?;
    }
    // The trace is compared with the database before the engine writes anything to it.
    // So are the rows with the state they were committed with: a database edited behind the
    // engine's back (a status outside oVirt's enums, a row deleted) is refused as it is.
    let (db, (vms, last)) =
        Db::open_engine_with(&path, |db| fleet::check_all(&path, dir, db, trace))?;
    if vms > 1 {
        return fleet::resume_vms(dir, db, vms, trace, &last, limit_ms);
    }
    let last_traced = last[0];
    let p = db.load()?;
    let mut settings = p.settings;
    if let Some(l) = limit_ms {
        settings.limit_ms = l;
    }
    settings.validate()?;
    // The live backend's host is restarted from the files (the daemon died with its engine).
    let (storage, live): (Arc<dyn Storage>, _) = match p.layout.host {
        Host::Qcow2 => (Arc::new(Qcow2::open(dir, p.layout.disks.len())?), None),
        Host::Live => {
            let l = live::open_for_resume(dir, p.layout.disks.len())?;
            (Arc::clone(&l) as Arc<dyn Storage>, Some(l))
        }
        other @ Host::Memory => {
            return Err(Error::BadInput(format!(
                "{} holds a {other} engine, which cannot be resumed",
                dir.display()
            )))
        }
    };
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
    let mut o = drive(parts, Start::Restart);
    if let Some(l) = live {
        o.guest = Some(l.shutdown());
    }
    Ok(vec![o])
}

/// Refuses a database whose settings, layout and state do not agree on the number of disks.
pub(crate) fn check_counts(path: &Path, p: &crate::db::Persisted) -> Result<()> {
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
    Ok(())
}

/// One removal on a host the harness holds in memory, with its database in `db_dir` (stress
/// and tests: `crate::harness::memory`).
pub(crate) fn run_memory(
    db_dir: &Path,
    settings: Settings,
    storage: Arc<dyn Storage>,
    gate: Arc<dyn Gate>,
    trace: Option<&Path>,
) -> Result<Outcome> {
    settings.validate()?;
    let trace = open_trace(trace)?;
    let layout = Layout::new(Host::Memory, settings.disks as usize, settings.seed);
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

/// Runs an engine from `parts` to the end of the removal and judges the outcome.
pub fn drive(parts: Parts, how: Start) -> Outcome {
    drive_all(vec![parts], how).remove(0)
}

/// Runs one engine process with a removal per element of `parts` (sharing its pool, poller and
/// database) until every removal is over, and judges each outcome on its own rows and storage.
/// The limit is the first removal's.
pub fn drive_all(parts: Vec<Parts>, how: Start) -> Vec<Outcome> {
    let t0 = Instant::now();
    let seq0: Vec<u64> = parts.iter().map(|p| p.seq).collect();
    let limit = parts.first().map_or(Duration::ZERO, |p| p.settings.limit());
    let mut fleet = start(parts, how, 0);
    let quiescent = fleet.wait_end(limit);
    fleet.shutdown();
    fleet
        .engines()
        .iter()
        .zip(quiescent)
        .zip(seq0)
        .map(|((e, (q, at)), s0)| finish(e, q, s0, (at - t0).as_secs_f64()))
        .collect()
}
