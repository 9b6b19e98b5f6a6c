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
//! `apply` (or [`Engine::apply_deed`] with what a piece of their work did), so the dependency
//! runs one way. Who observed an event is the model's answer, the event's
//! [`Actor`](livemerge_model::Actor): the trace and the event log name it.
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
use livemerge_model::{
    enabled, settled, step, wants, Config, Event, GrandchildId, Refused, State, Transition, Wants,
};
use serde_json::{json, Value};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// What a source applies for a piece of its work: the events it may observe, and the effect
/// that observes which ([`Engine::apply_deed`]).
pub(crate) struct Deed<F> {
    /// The events it may observe, the expected one first: the gate lets it go on one of them,
    /// and the effect runs only if the model accepts one.
    pub events: Vec<Event>,
    /// The grandchild (disk, which one) it is for: nothing happens once the state shows another.
    pub grandchild: Option<(usize, GrandchildId)>,
    /// The work in flight it ends: its mark goes in the same critical section as the step, so
    /// that the step's own dispatch may hand out that work again.
    pub ends: Option<Work>,
    /// Observes what happened, under the engine's lock (short IO only): the event, and what the
    /// source saw, for the trace.
    pub effect: F,
}

impl Deed<()> {
    /// `event`, observed with `observed` (no IO under the lock).
    pub fn observed(event: Event, observed: Value) -> Deed<impl FnOnce() -> (Event, Value)> {
        Deed {
            events: vec![event],
            grandchild: None,
            ends: None,
            effect: move || (event, observed),
        }
    }

    /// One of `events` (the expected one first), as the IO of `effect` says.
    pub fn io<F: FnOnce() -> (Event, Value)>(
        events: impl IntoIterator<Item = Event>,
        effect: F,
    ) -> Deed<F> {
        Deed {
            events: events.into_iter().collect(),
            grandchild: None,
            ends: None,
            effect,
        }
    }
}

impl<F> Deed<F> {
    /// For disk `d`'s grandchild `id` only.
    pub fn of_grandchild(self, d: usize, id: GrandchildId) -> Deed<F> {
        Deed {
            grandchild: Some((d, id)),
            ..self
        }
    }

    /// Ending `work`.
    pub fn ending(self, work: Work) -> Deed<F> {
        Deed {
            ends: Some(work),
            ..self
        }
    }
}

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

/// A running removal's core. Started by `crate::sources::start` (one per removal); every
/// thread that works for it holds an `Arc` to it.
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
    pub fn apply(self: &Arc<Self>, event: Event) -> Result<State, ApplyError> {
        self.apply_deed(Deed::observed(event, Value::Null))
            .map(|a| a.after)
    }

    /// The one path to a new state from a source's work. After the gate lets the source go on
    /// one of the deed's events, under the lock: the work the deed ends loses its mark (whatever
    /// the model says next); then, if the deed is for a grandchild the state has moved past (a
    /// stale thread may wait at the gate while a retry's grandchild of the same disk comes up),
    /// or the model accepts none of its events, nothing happens (the effect is not run: the
    /// first event's refusal is returned); else the effect runs (it may do IO) and names the
    /// event that was observed, which is then stepped.
    ///
    /// Why IO under the lock: an effect such as deleting a volume or starting a merge must only
    /// happen if the model still allows the grandchild to end (its rows may have been deleted by
    /// the parent's end-action meanwhile); checking and acting atomically keeps the real world
    /// from running ahead of a state the model refuses. Such effects are short (a file removal,
    /// a process spawn); long IO (the merge itself, reading chains) runs outside the lock.
    pub(crate) fn apply_deed(
        self: &Arc<Self>,
        deed: Deed<impl FnOnce() -> (Event, Value)>,
    ) -> Applies {
        let Deed {
            events,
            grandchild,
            ends,
            effect,
        } = deed;
        if !self.gate.wait_turn(&events, &self.stop) {
            return Err(ApplyError::Stopping);
        }
        let mut g = self.lock();
        if self.stopping() {
            return Err(ApplyError::Stopping);
        }
        if let Some(work) = ends {
            g.io.release(work);
        }
        if grandchild.is_some_and(|(d, id)| livemerge_model::grandchild_id(&g.state, d) != id) {
            return Err(ApplyError::Refused(Refused(
                "the state has moved past this worker's grandchild",
            )));
        }
        // The effect runs only if the model accepts one of the events it may observe.
        if let Some((&first, others)) = events.split_first() {
            if let Err(r) = step(&self.cfg, &g.state, first) {
                if !others.iter().any(|&e| step(&self.cfg, &g.state, e).is_ok()) {
                    self.gate.applied(first, &g.state, None);
                    return Err(ApplyError::Refused(r));
                }
            }
        }
        let (event, observed) = effect();
        self.step_locked(&mut g, event, observed)
    }

    /// Like [`Engine::apply`] for the poller, which never waits for the gate: `None`
    /// if the gate does not let it dispatch `event` now.
    pub(crate) fn try_poll(self: &Arc<Self>, event: Event) -> Option<Applies> {
        if !self.gate.may_poll(event) {
            return None;
        }
        let mut g = self.lock();
        if self.stopping() {
            return Some(Err(ApplyError::Stopping));
        }
        Some(self.step_locked(&mut g, event, Value::Null))
    }

    fn step_locked(self: &Arc<Self>, g: &mut Inner, event: Event, observed: Value) -> Applies {
        let before = g.state;
        let actor = event.actor();
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
            g.db.commit_step(seq, actor.name(), event, &before, &after, &rows)
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
                source: actor,
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

    /// The thread doing `work` is done: its mark goes (under the lock) and waiters wake.
    pub(crate) fn finished(&self, work: Work) {
        let mut g = self.lock();
        g.io.release(work);
        self.changed.notify_all();
    }

    /// What the current state asks for ([`livemerge_model::wants`]).
    pub fn wants(&self) -> Wants {
        wants(&self.cfg, &self.lock().state)
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

    /// Whether the removal is over by `deadline`: `Some(true)` quiescent, `Some(false)` failed,
    /// past the deadline, or left only to an expiry that comes after it; `None` while it goes
    /// on ([`Engine::wait_end`] says why each).
    pub fn over(&self, deadline: Instant) -> Option<bool> {
        self.over_locked(&self.lock(), deadline)
    }

    fn over_locked(&self, g: &Inner, deadline: Instant) -> Option<bool> {
        if g.fatal.is_some() {
            return Some(false);
        }
        if self.quiescent_locked(g) {
            return Some(true);
        }
        let now = Instant::now();
        let expiry_too_late = self
            .awaits_expiry_locked(g)
            .is_some_and(|left| now + left > deadline);
        (now >= deadline || expiry_too_late).then_some(false)
    }

    /// Waits until the run is quiescent, the engine failed, or `limit` passed. True if quiescent.
    /// It also returns (false) as soon as only the expiry of the commands can end the removal and
    /// their lifetime runs out after `limit`: waiting would only run into the limit
    /// ([`Engine::awaits_expiry`] says why the run ended there).
    pub fn wait_end(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut g = self.lock();
        loop {
            if let Some(quiescent) = self.over_locked(&g, deadline) {
                return quiescent;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            g = wait(&self.changed, g, left.min(Duration::from_millis(50)));
        }
    }

    /// Stops every thread and waits for them (a running host job is waited for, not abandoned).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // A step checks `stop` under the lock: once the lock is ours, any step already past that
        // check has ended, and none after it can launch work (a thread nobody joins, or a child
        // queued in a pool that has been emptied, keeping this engine alive through it).
        drop(self.lock());
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
