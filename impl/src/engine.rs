//! The engine: the one place where protocol state changes, and the effects it asks for.
//!
//! The engine holds the model's [`State`] and [`Config`]. ONE function changes the state:
//! [`Engine::apply`] (and its variant for IO that must happen atomically with the step). Under the
//! engine's mutex it calls `livemerge_model::step`; a refused event changes nothing (a poll that
//! only waits is refused: that is how the poller learns "no change"); an accepted one is
//! committed in ONE SQLite transaction (the oVirt rows, the model state, the event log), traced,
//! and then the engine looks at the new state to launch what it asks for ([`Engine::dispatch`]):
//! submit a queued child to the pool, run a grandchild that became Running, re-issue a host job
//! that the state says is running but nobody watches (after a restart). Nothing in this crate
//! assigns a protocol field: the state is only ever replaced by `step`'s result.
//!
//! Every apply first passes the [`Gate`](crate::scheduler::Gate), so a scheduler can order the
//! sources deterministically.

use crate::db::{project, Db, Layout};
use crate::scheduler::Gate;
use crate::settings::Settings;
use crate::storage::Storage;
use crate::trace::{Record, Trace};
use livemerge_model::MAX_DISKS;
use livemerge_model::{
    child_queued, enabled, grandchild_can_end, grandchild_id,
    grandchild_polled_in_execution_failed, grandchild_queued, host_job_running, step, Config,
    Event, Refused, State,
};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Who observed an event (recorded in the event log and the trace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The parent command's `execute()` thread.
    Parent,
    /// A thread of the pool that runs child commands.
    Pool,
    /// The callback poller.
    Poller,
    /// A worker carrying out a grandchild (`VM.merge`, MERGE_STATUS, `deleteVolume`).
    Task,
    /// A worker watching the host's merge job.
    Host,
    /// `livemerge resume`.
    Resume,
    /// The user, removing the snapshot again after a failed removal.
    User,
    /// A test or a tool driving the engine by hand.
    External,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Parent => "parent",
            Source::Pool => "pool",
            Source::Poller => "poller",
            Source::Task => "task",
            Source::Host => "host",
            Source::Resume => "resume",
            Source::User => "user",
            Source::External => "external",
        }
    }
}

/// An accepted event: the state before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    pub before: State,
    pub after: State,
}

const STOPPING: Refused = Refused("the engine is stopping");

/// IO in flight: not protocol state, only which threads this process runs, so that an effect is
/// launched once and the end of a run can wait for outstanding IO.
#[derive(Clone, Copy, Debug, Default)]
pub struct InFlight {
    /// Submitted to the pool, not yet taken by a pool thread.
    pub pool_queued: [bool; MAX_DISKS],
    /// A pool thread holds this disk's child (its start cost, or its `execute()`).
    pub pool_running: [bool; MAX_DISKS],
    /// A worker carries out this disk's current grandchild.
    pub task: [bool; MAX_DISKS],
    /// A worker watches this disk's host job.
    pub job: [bool; MAX_DISKS],
    /// The parent's `execute()` thread runs.
    pub parent: bool,
}

impl InFlight {
    pub fn idle(&self) -> bool {
        !self.parent
            && (0..MAX_DISKS).all(|d| {
                !self.pool_queued[d] && !self.pool_running[d] && !self.task[d] && !self.job[d]
            })
    }
}

struct Inner {
    state: State,
    seq: u64,
    db: Db,
    trace: Option<Trace>,
    io: InFlight,
    /// Places where reality and the model disagreed.
    conformance: Vec<String>,
    /// An error that stopped the engine (database or trace failure).
    fatal: Option<String>,
}

/// What an engine is built from.
pub struct Parts {
    pub settings: Settings,
    pub layout: Layout,
    pub db: Db,
    pub state: State,
    pub seq: u64,
    pub storage: Arc<dyn Storage>,
    pub gate: Arc<dyn Gate>,
    pub trace: Option<Trace>,
}

/// A running engine. Create it with [`Engine::start`]; every thread holds an `Arc` to it.
pub struct Engine {
    cfg: Config,
    settings: Settings,
    layout: Layout,
    inner: Mutex<Inner>,
    changed: Condvar,
    storage: Arc<dyn Storage>,
    gate: Arc<dyn Gate>,
    stop: AtomicBool,
    started: Instant,
    pool: Mutex<VecDeque<usize>>,
    pool_cv: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Engine {
    /// Builds the engine and starts its pool threads and its poller. Nothing is applied yet.
    pub fn start(mut parts: Parts) -> Arc<Engine> {
        let cfg = parts.settings.model_config();
        // The auditor needs the configuration the events were stepped with; a trace that cannot
        // take its header fails at the first record like any other trace error.
        if let Some(t) = parts.trace.as_mut() {
            let _ = t.header(&cfg, &parts.layout);
        }
        let e = Arc::new(Engine {
            cfg,
            settings: parts.settings,
            layout: parts.layout,
            inner: Mutex::new(Inner {
                state: parts.state,
                seq: parts.seq,
                db: parts.db,
                trace: parts.trace,
                io: InFlight::default(),
                conformance: Vec::new(),
                fatal: None,
            }),
            changed: Condvar::new(),
            storage: parts.storage,
            gate: parts.gate,
            stop: AtomicBool::new(false),
            started: Instant::now(),
            pool: Mutex::new(VecDeque::new()),
            pool_cv: Condvar::new(),
            threads: Mutex::new(Vec::new()),
        });
        for _ in 0..e.settings.pool_threads {
            let me = Arc::clone(&e);
            e.spawn(move || crate::pool::worker(me));
        }
        let me = Arc::clone(&e);
        e.spawn(move || crate::poller::run(me));
        e
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub(crate) fn gate(&self) -> &Arc<dyn Gate> {
        &self.gate
    }

    /// The current protocol state (a copy).
    pub fn state(&self) -> State {
        self.lock().state
    }

    /// How many events this engine directory has applied (across resumes).
    pub fn seq(&self) -> u64 {
        self.lock().seq
    }

    pub fn in_flight(&self) -> InFlight {
        self.lock().io
    }

    pub fn conformance_errors(&self) -> Vec<String> {
        let mut v = self.lock().conformance.clone();
        v.extend(self.gate.divergence());
        v
    }

    pub fn fatal(&self) -> Option<String> {
        self.lock().fatal.clone()
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        let h = std::thread::spawn(f);
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(h);
    }

    /// Applies an event a source observed: waits for the gate, then `step` under the lock.
    /// Refused: nothing changes. Accepted: committed, traced, effects launched.
    pub fn apply(self: &Arc<Self>, source: Source, event: Event) -> Result<State, Refused> {
        self.apply_observed(source, event, Value::Null)
            .map(|a| a.after)
    }

    /// [`Engine::apply`] with what the source observed (for the trace), returning both states.
    pub fn apply_observed(
        self: &Arc<Self>,
        source: Source,
        event: Event,
        observed: Value,
    ) -> Result<Applied, Refused> {
        self.apply_with(source, &[event], None, |_| true, move |_| (event, observed))
    }

    /// The one path to a new state. After the gate lets the source go, under the lock: if
    /// `guard` refuses the state (a worker whose grandchild is gone: a stale one may wait at the
    /// gate while a retry's grandchild of the same disk comes up), or `precheck` is given and
    /// `step` would refuse it and every candidate, nothing happens (the effect is not run);
    /// else `effect` runs (it may do IO and update the IO bookkeeping) and names the event that
    /// was observed, which is then stepped.
    ///
    /// Why IO under the lock: an effect such as deleting a volume or starting a merge must only
    /// happen if the model still allows the grandchild to end (its rows may have been deleted by
    /// the parent's end-action meanwhile); checking and acting atomically keeps the real world
    /// from running ahead of a state the model refuses. Such effects are short (a file removal,
    /// a process spawn); long IO (the merge itself, reading chains) runs outside the lock.
    pub(crate) fn apply_with(
        self: &Arc<Self>,
        source: Source,
        candidates: &[Event],
        precheck: Option<Event>,
        guard: impl Fn(&State) -> bool,
        effect: impl FnOnce(&mut InFlight) -> (Event, Value),
    ) -> Result<Applied, Refused> {
        if !self.gate.wait_turn(candidates, &self.stop) {
            return Err(STOPPING);
        }
        let mut g = self.lock();
        if self.stopping() {
            return Err(STOPPING);
        }
        if !guard(&g.state) {
            return Err(Refused("the state has moved past this worker's grandchild"));
        }
        if let Some(pre) = precheck {
            // The effect runs only if the model accepts one of the events it may observe.
            let accepted = candidates
                .iter()
                .chain(std::iter::once(&pre))
                .any(|&e| step(&self.cfg, &g.state, e).is_ok());
            if !accepted {
                let r = step(&self.cfg, &g.state, pre).err().unwrap_or(STOPPING);
                self.gate.applied(pre, &g.state, None);
                return Err(r);
            }
        }
        let (event, observed) = effect(&mut g.io);
        self.step_locked(&mut g, source, event, observed)
    }

    /// Like [`Engine::apply_observed`] for the poller, which never waits for the gate: `None`
    /// if the gate does not let it dispatch `event` now.
    pub(crate) fn try_poll(self: &Arc<Self>, event: Event) -> Option<Result<Applied, Refused>> {
        if !self.gate.may_poll(event) {
            return None;
        }
        let mut g = self.lock();
        if self.stopping() {
            return Some(Err(STOPPING));
        }
        Some(self.step_locked(&mut g, Source::Poller, event, Value::Null))
    }

    fn step_locked(
        self: &Arc<Self>,
        g: &mut Inner,
        source: Source,
        event: Event,
        observed: Value,
    ) -> Result<Applied, Refused> {
        let before = g.state;
        let after = match step(&self.cfg, &before, event) {
            Ok(a) => a,
            Err(r) => {
                self.gate.applied(event, &before, None);
                return Err(r);
            }
        };
        let seq = g.seq + 1;
        let rows = project(&after, &self.layout);
        if let Err(e) =
            g.db.commit_step(seq, source.name(), event, &before, &after, &rows)
        {
            self.fail(g, format!("cannot commit {event:?}: {e}"));
            return Err(Refused("the engine's database failed"));
        }
        g.seq = seq;
        g.state = after;
        if g.trace.is_some() {
            let storage = json!({
                "disks": (0..self.cfg.n()).map(|d| self.storage.quick_facts(d)).collect::<Vec<_>>(),
                "observed": observed,
            });
            let rec = Record {
                seq,
                t_ms: self.started.elapsed().as_millis() as u64,
                source: source.name(),
                event,
                before: &before,
                after: &after,
                db: &rows,
                storage,
            };
            let r = g.trace.as_mut().map(|t| t.record(&rec));
            if let Some(Err(e)) = r {
                self.fail(g, format!("cannot write the trace: {e}"));
            }
        }
        self.gate.applied(event, &before, Some(&after));
        self.dispatch(g);
        self.changed.notify_all();
        Ok(Applied { before, after })
    }

    fn fail(&self, g: &mut Inner, why: String) {
        g.fatal.get_or_insert(why);
        self.stop.store(true, Ordering::SeqCst);
        self.gate.wake();
        self.pool_cv.notify_all();
        self.changed.notify_all();
    }

    /// Stops the engine because storage failed in a way the protocol has no event for.
    pub(crate) fn abort(&self, why: String) {
        let mut g = self.lock();
        self.fail(&mut g, why);
    }

    /// Records a disagreement between the model and what was observed.
    pub(crate) fn conformance_error(&self, what: String) {
        self.lock().conformance.push(what);
        self.changed.notify_all();
    }

    /// Launches what the state asks for and nobody is doing yet (see the module doc).
    fn dispatch(self: &Arc<Self>, g: &mut Inner) {
        if self.stopping() {
            return;
        }
        let s = g.state;
        for d in 0..self.cfg.n() {
            if child_queued(&s, d) && !g.io.pool_queued[d] && !g.io.pool_running[d] {
                g.io.pool_queued[d] = true;
                self.pool
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back(d);
                self.pool_cv.notify_one();
            }
            if grandchild_queued(&s, d) && !g.io.task[d] {
                g.io.task[d] = true;
                let me = Arc::clone(self);
                let id = grandchild_id(&s, d);
                self.spawn(move || crate::effects::grandchild(me, d, id));
            }
            if grandchild_polled_in_execution_failed(&self.cfg, &s, d) && !g.io.task[d] {
                g.io.task[d] = true;
                let me = Arc::clone(self);
                self.spawn(move || crate::effects::end_by_callback(me, d));
            }
            if grandchild_can_end(&s, d) && !g.io.task[d] {
                g.io.task[d] = true;
                let me = Arc::clone(self);
                let id = grandchild_id(&s, d);
                self.spawn(move || crate::effects::task(me, d, id));
            }
            if host_job_running(&s, d) && !g.io.job[d] {
                // Only after a restart: the job's watcher died with the old engine. Redoing the
                // commit of the same top into the same base is safe.
                g.io.job[d] = true;
                let me = Arc::clone(self);
                self.spawn(move || crate::effects::reissue_job(me, d));
            }
        }
    }

    /// Launches what the current state asks for (after a resume whose Restart changed nothing).
    pub fn kick(self: &Arc<Self>) {
        let mut g = self.lock();
        self.dispatch(&mut g);
    }

    /// Marks IO bookkeeping from a worker (under the lock) and wakes waiters.
    pub(crate) fn with_io(&self, f: impl FnOnce(&mut InFlight)) {
        let mut g = self.lock();
        f(&mut g.io);
        self.changed.notify_all();
    }

    /// Blocks until `ready(state)` holds or the engine stops; returns the state, or None if stopping.
    pub(crate) fn wait_for(&self, ready: impl Fn(&State) -> bool) -> Option<State> {
        let mut g = self.lock();
        loop {
            if ready(&g.state) {
                return Some(g.state);
            }
            if self.stopping() {
                return None;
            }
            g = self
                .changed
                .wait_timeout(g, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Nothing more can happen: no IO is outstanding and `step` accepts nothing that a running
    /// source could produce (a restart needs a new engine; the parent's `execute()` events need
    /// its thread).
    pub fn quiescent(&self) -> bool {
        let g = self.lock();
        Self::quiescent_locked(&self.cfg, &g)
    }

    fn quiescent_locked(cfg: &Config, g: &Inner) -> bool {
        g.io.idle()
            && enabled(cfg, &g.state).iter().all(|e| {
                matches!(
                    e,
                    Event::Restart
                        | Event::UserRetries
                        | Event::ParentBegins
                        | Event::ParentStartsChild
                        | Event::ParentReturns
                )
            })
    }

    /// Waits until the run is quiescent, the engine failed, or `limit` passed. True if quiescent.
    pub fn wait_end(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut g = self.lock();
        loop {
            if g.fatal.is_some() {
                return false;
            }
            if Self::quiescent_locked(&self.cfg, &g) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = self
                .changed
                .wait_timeout(g, (deadline - now).min(Duration::from_millis(50)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Stops every thread and waits for them (a running host job is waited for, not abandoned).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.gate.wake();
        self.pool_cv.notify_all();
        self.changed.notify_all();
        loop {
            let hs: Vec<_> = self
                .threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..)
                .collect();
            if hs.is_empty() {
                break;
            }
            for h in hs {
                let _ = h.join();
            }
        }
    }

    /// Takes the next child off the pool's queue; None once the engine stops.
    pub(crate) fn next_pool_job(&self) -> Option<usize> {
        let mut q = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.stopping() {
                return None;
            }
            if let Some(d) = q.pop_front() {
                drop(q);
                self.with_io(|io| {
                    io.pool_queued[d] = false;
                    io.pool_running[d] = true;
                });
                return Some(d);
            }
            q = self
                .pool_cv
                .wait_timeout(q, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Milliseconds since this engine started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The engine's database, for reading at the end of a run (the engine must be stopped).
    pub(crate) fn with_db<T>(&self, f: impl FnOnce(&Db) -> T) -> T {
        f(&self.lock().db)
    }
}
