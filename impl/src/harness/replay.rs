//! Replaying a model path on the real engine: every event source is held by a [`Script`] that
//! releases the path's events one by one, in order, and nothing after the last one, so the
//! engine (its real threads, database and storage) goes through exactly that interleaving.
//!
//! The path's faults are planted in the storage (a disk whose merge job fails in the path gets
//! a failing job, on qcow2 as in memory). Where the engine cannot follow (the next event is
//! refused by the model in the engine's real state, or no source of the engine produces it),
//! the replay stops there and says why. A `Restart` in the path is a real restart: the engine is
//! stopped (its threads and queue are lost, the database stays) and a new one is started on the
//! same directory with the restart rules, as `resume` does.

use super::faults::of_path;
use super::memory::Memory;
use super::schedules::Script;
use crate::db::Db;
use crate::engine::{Engine, Parts};
use crate::error::Result;
use crate::session::{self, live, Outcome, DB_FILE};
use crate::settings::Settings;
use crate::sources::{start, Start};
use crate::storage::live::Live;
use crate::storage::qcow2::Qcow2;
use crate::storage::{Host, Storage};
use livemerge_model::{describe_event, step, Event};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a replay went.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The real outcome where the replay stopped (rows, chains, data, invariants on reality).
    pub outcome: Outcome,
    /// How many of the path's events the engine applied, in order.
    pub followed: usize,
    pub total: usize,
    /// Why the engine could not follow the path, if it could not.
    pub stopped: Option<String>,
}

/// How long the engine may make no progress on the script before the replay gives up on it:
/// many poller ticks, so that a poll the engine refuses had every chance.
fn stall_limit(settings: &Settings) -> Duration {
    Duration::from_millis((settings.tick_ms * 60).clamp(1_000, 10_000))
}

/// The host a replay drives.
#[derive(Clone, Copy, Debug)]
pub enum ReplayOn {
    /// Real qcow2 volumes in a new engine directory.
    Qcow2,
    /// A live `qemu-storage-daemon` and guest in a new engine directory.
    Live(live::LiveOptions),
    /// The in-memory host, its merge job taking `job_time`; the database in the directory.
    Memory { job_time: Duration },
}

/// The one way to replay: `events` (a model path) on a new engine on `on`, in `dir`, with the
/// path's faults met on the attempts it fails them. A `Restart` stops the engine and starts a
/// new one on the same database and host (the host outlives the engine).
pub fn replay(
    dir: &Path,
    on: ReplayOn,
    settings: Settings,
    events: &[Event],
    trace: Option<&Path>,
) -> Result<Replayed> {
    match on {
        ReplayOn::Qcow2 => replay_dir(dir, settings, events, trace),
        ReplayOn::Live(opts) => replay_live(dir, settings, opts, events, trace),
        ReplayOn::Memory { job_time } => replay_memory(dir, settings, events, job_time, trace),
    }
}

/// Replays `events` on a new engine directory `dir` with real qcow2 volumes.
fn replay_dir(
    dir: &Path,
    settings: Settings,
    events: &[Event],
    trace: Option<&Path>,
) -> Result<Replayed> {
    settings.validate()?;
    crate::storage::qcow2::check_tools()?;
    session::precheck_new_dir(dir)?;
    session::refuse_used_trace(trace)?;
    let first_trace = session::open_trace(trace)?;
    let (layout, _lock) = session::setup_dir(dir, &settings)?;
    let storage = Qcow2::open(dir, settings.disks as usize)?
        .with_faults(of_path(&settings.model_config(), events));
    let run = Run {
        db_dir: dir,
        settings,
        layout,
        storage: Arc::new(storage),
        trace,
    };
    run.segments(events, first_trace)
}

/// Replays `events` on the in-memory backend, its database in `db_dir`, its faults planted. A
/// `Restart` stops the engine and starts a new one on the same database and the same (still
/// living) storage: the host outlives the engine.
fn replay_memory(
    db_dir: &Path,
    settings: Settings,
    events: &[Event],
    job_time: Duration,
    trace: Option<&Path>,
) -> Result<Replayed> {
    settings.validate()?;
    let n = settings.disks as usize;
    let storage = Memory::with_faults(n, job_time, of_path(&settings.model_config(), events));
    let layout = crate::db::Layout::new(Host::Memory, n, settings.seed);
    session::create_db(db_dir, &settings, &layout)?;
    let first_trace = session::open_trace(trace)?;
    let run = Run {
        db_dir,
        settings,
        layout,
        storage: Arc::new(storage),
        trace,
    };
    run.segments(events, first_trace)
}

/// Replays `events` on a new engine directory `dir` on the live backend: the path's faults are
/// met for real (blkdebug, an immutable file), at the attempts the path fails.
fn replay_live(
    dir: &Path,
    settings: Settings,
    opts: live::LiveOptions,
    events: &[Event],
    trace: Option<&Path>,
) -> Result<Replayed> {
    settings.validate()?;
    live::preflight(dir)?;
    crate::session::precheck_new_dir(dir)?;
    crate::session::refuse_used_trace(trace)?;
    let first_trace = crate::session::open_trace(trace)?;
    let (layout, _lock) = live::setup(dir, &settings, opts)?;
    let live = Arc::new(
        Live::open(dir, settings.disks as usize, opts.every())?
            .with_faults(of_path(&settings.model_config(), events)),
    );
    let run = Run {
        db_dir: dir,
        settings,
        layout,
        storage: Arc::clone(&live) as Arc<dyn Storage>,
        trace,
    };
    let mut r = run.segments(events, first_trace)?;
    r.outcome.guest = Some(live.shutdown());
    Ok(r)
}

/// What every engine of one replay shares: the database, the storage (the host outlives an
/// engine restart), and the trace file.
pub(crate) struct Run<'a> {
    pub(crate) db_dir: &'a Path,
    pub(crate) settings: Settings,
    pub(crate) layout: crate::db::Layout,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) trace: Option<&'a Path>,
}

impl Run<'_> {
    /// An engine's parts, from the database as the previous engine left it.
    fn parts(&self, gate: Arc<Script>, trace: Option<crate::trace::Trace>) -> Result<Parts> {
        let db = Db::open_engine(&self.db_dir.join(DB_FILE))?;
        let p = db.load()?;
        Ok(Parts {
            settings: self.settings,
            layout: self.layout.clone(),
            db,
            state: p.state,
            seq: p.seq,
            storage: Arc::clone(&self.storage),
            gate,
            trace,
        })
    }

    /// Runs the path segment by segment (a `Restart` starts a new engine on the same database).
    pub(crate) fn segments(
        &self,
        events: &[Event],
        first_trace: Option<crate::trace::Trace>,
    ) -> Result<Replayed> {
        let total = events.len();
        let mut done = 0usize;
        let mut trace = first_trace;
        loop {
            let restarting = done > 0;
            // This segment: up to (not including) the next Restart after its start.
            let from = done;
            let end = events[from + usize::from(restarting)..]
                .iter()
                .position(|e| *e == Event::Restart)
                .map_or(total, |i| from + usize::from(restarting) + i);
            let script = Arc::new(Script::exact(events[from..end].to_vec()));
            let parts = self.parts(script.clone(), trace.take())?;
            let seq0 = parts.seq;
            let t0 = Instant::now();
            let retries = events[from..end]
                .iter()
                .filter(|e| **e == Event::UserRetries)
                .count();
            let how = if restarting {
                Start::Restart
            } else {
                Start::Fresh
            };
            let mut fleet = start(vec![parts], how, retries);
            let engine = Arc::clone(&fleet.engines()[0]);
            let stopped = follow(&engine, &script, &self.settings);
            let followed = from + script.done();
            fleet.shutdown();
            let mut outcome = session::finish(&engine, false, seq0, t0.elapsed().as_secs_f64());
            if !outcome.ended && outcome.stuck.is_some() {
                // Not stuck: the script stopped the engine where the path ends or where it could
                // not follow.
                outcome.stuck = Some(format!("the replay stops after step {followed}"));
            }
            if stopped.is_some() || end == total {
                let stopped = stopped.map(|why| format!("step {}: {why}", followed + 1));
                return Ok(Replayed {
                    outcome,
                    followed,
                    total,
                    stopped,
                });
            }
            done = end;
            trace = session::open_trace(self.trace)?;
        }
    }
}

/// Waits while the engine follows the script; returns why it stopped following, if it did.
fn follow(engine: &Arc<Engine>, script: &Script, settings: &Settings) -> Option<String> {
    let stall = stall_limit(settings);
    let mut last = (script.done(), Instant::now());
    loop {
        let done = script.done();
        if done == script.events().len() {
            // Let the engine settle (its bookkeeping after the last step) before judging.
            std::thread::sleep(Duration::from_millis(settings.tick_ms.clamp(5, 200)));
            return None;
        }
        if let Some(d) = engine.fatal() {
            return Some(format!("the engine stopped: {d}"));
        }
        let next = script.events()[done];
        // The poller offers `Expire` only once the removal has not moved for the commands'
        // lifetime: a path's expiry step is waited for that long on top.
        let stall = if next == Event::Expire {
            stall + settings.command_lifetime()
        } else {
            stall
        };
        if done != last.0 {
            last = (done, Instant::now());
        } else if last.1.elapsed() > stall {
            let state = engine.state();
            return Some(match step(engine.config(), &state, next) {
                Err(r) => format!(
                    "the engine cannot follow {} ({}): the model refuses it in the engine's real state: {r}",
                    serde_json::to_string(&next).unwrap_or_default(),
                    describe_event(next)
                ),
                Ok(_) => format!(
                    "the engine cannot follow {} ({}): none of its sources produced it in {:.1} s",
                    serde_json::to_string(&next).unwrap_or_default(),
                    describe_event(next),
                    stall.as_secs_f64()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
