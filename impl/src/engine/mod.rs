//! The engine core: the one place where protocol state changes.
//!
//! The engine holds the model's [`State`] and [`Config`]. ONE function changes the state:
//! `step_locked`, reached through [`Engine::apply`] and its variants. Under the engine's mutex it
//! calls `livemerge_model::step`; a refused event changes nothing (a poll that only waits is
//! refused: that is how the poller learns "no change"); an accepted one is committed in ONE
//! SQLite transaction (the oVirt rows, the model state, the event log), traced, and then the
//! engine asks the model what the new state wants ([`livemerge_model::wants`]), diffs that
//! against the IO in flight ([`InFlight::claim`]) and hands each new piece of [`Work`] to the
//! event sources through [`Launch`]. Nothing in this crate assigns a protocol field or reads one
//! to decide: the state is only ever replaced by `step`'s result, and what it asks for is the
//! model's answer.
//!
//! The core knows no source: the sources (`crate::sources`) implement [`Launch`] and call
//! `apply`, so the dependency runs one way.
//!
//! Every apply first passes the [`Gate`](crate::scheduler::Gate), so a scheduler can order the
//! sources deterministically.

mod inflight;

pub use inflight::{InFlight, Work};

use crate::db::{project, Db, Layout};
use crate::scheduler::Gate;
use crate::settings::Settings;
use crate::storage::Storage;
use crate::sync::{lock, wait};
use crate::trace::{Record, Trace};
use livemerge_model::{enabled, settled, step, wants, Config, Event, Refused, State, Transition};
use serde_json::{json, Value};
use std::fmt;
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
    /// The branch of `step` that took `before` to `after`.
    pub transition: Transition,
}

/// Why an event was not applied. The three cases ask different things of a caller: a refusal
/// is the protocol's answer (a poll that waits, a worker whose grandchild is gone); stopping is
/// the end of the run; a fatal error stopped the engine and is in [`Engine::fatal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyError {
    /// The model refuses the event in the current state.
    Refused(Refused),
    /// The engine is stopping: nothing more is applied.
    Stopping,
    /// The database or the trace failed: the engine stopped.
    Fatal(String),
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::Refused(r) => write!(f, "refused: {r}"),
            ApplyError::Stopping => f.write_str("the engine is stopping"),
            ApplyError::Fatal(why) => write!(f, "the engine failed: {why}"),
        }
    }
}

impl std::error::Error for ApplyError {}

impl From<Refused> for ApplyError {
    fn from(r: Refused) -> ApplyError {
        ApplyError::Refused(r)
    }
}

/// What [`Engine::apply`] and its variants return.
pub type Applies = std::result::Result<Applied, ApplyError>;

/// The event sources, as the core sees them: they take the work the model asks for.
pub trait Launch: Send + Sync {
    /// Starts `work` (its mark in [`InFlight`] is already set).
    fn launch(&self, engine: &Arc<Engine>, work: Work);
    /// The engine is stopping: wake whatever waits for work.
    fn wake(&self);
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
    /// When the removal last moved: this engine's last accepted step, or its start. The
    /// expiry pass measures the commands' lifetime from here (see [`Engine::still_for`]).
    moved: Instant,
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

/// A running engine. Start one with `crate::sources::start`; every thread holds an `Arc` to it.
pub struct Engine {
    cfg: Config,
    settings: Settings,
    layout: Layout,
    inner: Mutex<Inner>,
    changed: Condvar,
    storage: Arc<dyn Storage>,
    gate: Arc<dyn Gate>,
    launcher: Arc<dyn Launch>,
    stop: AtomicBool,
    started: Instant,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Engine {
    /// Builds the engine core. Nothing is applied and no thread runs yet.
    pub(crate) fn new(mut parts: Parts, launcher: Arc<dyn Launch>) -> Arc<Engine> {
        let cfg = parts.settings.model_config();
        // The auditor needs the configuration the events were stepped with; a trace that cannot
        // take its header fails at the first record like any other trace error.
        if let Some(t) = parts.trace.as_mut() {
            let _ = t.header(&cfg, &parts.layout);
        }
        Arc::new(Engine {
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
                moved: Instant::now(),
            }),
            changed: Condvar::new(),
            storage: parts.storage,
            gate: parts.gate,
            launcher,
            stop: AtomicBool::new(false),
            started: Instant::now(),
            threads: Mutex::new(Vec::new()),
        })
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
        lock(&self.inner)
    }

    /// Runs `f` on a thread the engine waits for at shutdown.
    pub(crate) fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        let h = std::thread::spawn(f);
        lock(&self.threads).push(h);
    }

    /// Applies an event a source observed: waits for the gate, then `step` under the lock.
    /// Refused: nothing changes. Accepted: committed, traced, the work it asks for launched.
    pub fn apply(self: &Arc<Self>, source: Source, event: Event) -> Result<State, ApplyError> {
        self.apply_observed(source, event, Value::Null)
            .map(|a| a.after)
    }

    /// [`Engine::apply`] with what the source observed (for the trace), returning both states.
    pub fn apply_observed(
        self: &Arc<Self>,
        source: Source,
        event: Event,
        observed: Value,
    ) -> Applies {
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
    ) -> Applies {
        if !self.gate.wait_turn(candidates, &self.stop) {
            return Err(ApplyError::Stopping);
        }
        let mut g = self.lock();
        if self.stopping() {
            return Err(ApplyError::Stopping);
        }
        if !guard(&g.state) {
            return Err(ApplyError::Refused(Refused(
                "the state has moved past this worker's grandchild",
            )));
        }
        if let Some(pre) = precheck {
            // The effect runs only if the model accepts one of the events it may observe.
            let accepted = candidates
                .iter()
                .chain(std::iter::once(&pre))
                .any(|&e| step(&self.cfg, &g.state, e).is_ok());
            if let (false, Err(r)) = (accepted, step(&self.cfg, &g.state, pre)) {
                self.gate.applied(pre, &g.state, None);
                return Err(ApplyError::Refused(r));
            }
        }
        let (event, observed) = effect(&mut g.io);
        self.step_locked(&mut g, source, event, observed)
    }

    /// Like [`Engine::apply_observed`] for the poller, which never waits for the gate: `None`
    /// if the gate does not let it dispatch `event` now.
    pub(crate) fn try_poll(self: &Arc<Self>, event: Event) -> Option<Applies> {
        if !self.gate.may_poll(event) {
            return None;
        }
        let mut g = self.lock();
        if self.stopping() {
            return Some(Err(ApplyError::Stopping));
        }
        Some(self.step_locked(&mut g, Source::Poller, event, Value::Null))
    }

    fn step_locked(
        self: &Arc<Self>,
        g: &mut Inner,
        source: Source,
        event: Event,
        observed: Value,
    ) -> Applies {
        let before = g.state;
        let (after, transition) = match step(&self.cfg, &before, event) {
            Ok(a) => a,
            Err(r) => {
                self.gate.applied(event, &before, None);
                return Err(ApplyError::Refused(r));
            }
        };
        let seq = g.seq + 1;
        let rows = project(&after, &self.layout);
        if let Err(e) =
            g.db.commit_step(seq, source.name(), event, &before, &after, &rows)
        {
            let why = format!("cannot commit {event:?}: {e}");
            self.fail(g, why.clone());
            return Err(ApplyError::Fatal(why));
        }
        g.seq = seq;
        g.state = after;
        g.moved = Instant::now();
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
                // The step is committed; the engine stops before the next one.
                self.fail(g, format!("cannot write the trace: {e}"));
            }
        }
        self.gate.applied(event, &before, Some(&after));
        self.dispatch(g);
        self.changed.notify_all();
        Ok(Applied {
            before,
            after,
            transition,
        })
    }

    fn fail(&self, g: &mut Inner, why: String) {
        g.fatal.get_or_insert(why);
        self.stop.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    fn wake_all(&self) {
        self.gate.wake();
        self.launcher.wake();
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

    /// Launches what the state asks for and nobody is doing yet.
    fn dispatch(self: &Arc<Self>, g: &mut Inner) {
        if self.stopping() {
            return;
        }
        for work in g.io.claim(&wants(&self.cfg, &g.state)) {
            self.launcher.launch(self, work);
        }
    }

    /// Launches what the current state asks for (at start, and after a resume's `Restart`).
    pub(crate) fn kick(self: &Arc<Self>) {
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
            g = wait(&self.changed, g, Duration::from_millis(50));
        }
    }

    /// Nothing more can happen: no IO is outstanding and the model says every event it accepts
    /// needs something from outside the engine ([`livemerge_model::settled`]).
    pub fn quiescent(&self) -> bool {
        self.quiescent_locked(&self.lock())
    }

    fn quiescent_locked(&self, g: &Inner) -> bool {
        g.io.idle() && settled(&self.cfg, &g.state)
    }

    /// How long the removal has not moved: since this engine's last accepted step, or since it
    /// started. The commands' lifetime is measured from here, not from each command row's
    /// creation: the rows keep no creation time (they are the projection of a model state), and
    /// the model lets commands expire only once nothing else can happen, so from the moment the
    /// hierarchy stopped moving. Every command the expiry pass fails was created before that
    /// moment, so a command never expires earlier than oVirt would let it; a restart starts the
    /// count again (its `Restart` is a step), later than oVirt, whose rows keep `created_at`.
    pub fn still_for(&self) -> Duration {
        self.lock().moved.elapsed()
    }

    /// When only the expiry pass can still end the removal (the model accepts `Expire` and no
    /// other event of the engine's own threads, and no IO is in flight): how long until the
    /// commands' lifetime has passed (zero once it has). `None` when anything else can happen,
    /// or nothing at all.
    pub fn awaits_expiry(&self) -> Option<Duration> {
        self.awaits_expiry_locked(&self.lock())
    }

    fn awaits_expiry_locked(&self, g: &Inner) -> Option<Duration> {
        let mut inside = enabled(&self.cfg, &g.state)
            .into_iter()
            .filter(|e| e.actor().inside_engine());
        let only_expiry = inside.next() == Some(Event::Expire) && inside.next().is_none();
        (only_expiry && g.io.idle()).then(|| {
            self.settings
                .command_lifetime()
                .saturating_sub(g.moved.elapsed())
        })
    }

    /// Waits until the run is quiescent, the engine failed, or `limit` passed. True if quiescent.
    /// It also returns (false) as soon as only the expiry of the commands can end the removal and
    /// their lifetime runs out after `limit`: waiting would only run into the limit
    /// ([`Engine::awaits_expiry`] says why the run ended there).
    pub fn wait_end(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut g = self.lock();
        loop {
            if g.fatal.is_some() {
                return false;
            }
            if self.quiescent_locked(&g) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            if self
                .awaits_expiry_locked(&g)
                .is_some_and(|left| now + left > deadline)
            {
                return false;
            }
            g = wait(
                &self.changed,
                g,
                (deadline - now).min(Duration::from_millis(50)),
            );
        }
    }

    /// Stops every thread and waits for them (a running host job is waited for, not abandoned).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake_all();
        loop {
            let hs: Vec<_> = lock(&self.threads).drain(..).collect();
            if hs.is_empty() {
                break;
            }
            for h in hs {
                let _ = h.join();
            }
        }
    }

    /// Time since this engine started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The engine's database, for reading at the end of a run (the engine must be stopped).
    pub(crate) fn with_db<T>(&self, f: impl FnOnce(&Db) -> T) -> T {
        f(&self.lock().db)
    }
}
