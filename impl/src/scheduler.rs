//! The gate in front of [`Engine::apply`](crate::Engine::apply): who may apply an event, and when.
//!
//! Every event source (the parent's thread, pool threads, the poller, task and host workers)
//! asks the gate before it applies what it observed. In the default free mode the gate lets
//! everyone through at once, so the interleaving comes from real thread timing. A scheduled gate
//! makes sources wait until a deterministic scheduler releases their event; that is how a model
//! counterexample can be replayed step for step ([`Script`]) and how a test forces a schedule
//! ([`HoldUntil`], e.g. "the pool is held until the poller has polled the parent").
//!
//! Sources that observed something real block in [`Gate::wait_turn`]; the poller never blocks: it
//! asks [`Gate::may_poll`] and, told no, tries again at its next tick (it must keep serving the
//! other commands). The engine reports every verdict of `step` to [`Gate::applied`] under its
//! lock, so a scheduler sees events in exactly the order they were applied.

use crate::sync::{lock, wait};
use livemerge_model::{Event, State};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How often a blocked source re-checks the engine's stop flag.
const RECHECK: Duration = Duration::from_millis(20);

/// The hook every event source calls before applying. See the module doc.
pub trait Gate: Send + Sync {
    /// A source has observed something and will apply one of `candidates` (one event, or both
    /// outcomes of an IO whose result is not known yet). Blocks until the scheduler lets it go.
    /// Returns false if `stop` was raised while waiting.
    fn wait_turn(&self, candidates: &[Event], stop: &AtomicBool) -> bool;
    /// Whether the poller may dispatch `event` now. Never blocks.
    fn may_poll(&self, event: Event) -> bool;
    /// Whether the poller applies oVirt's per-command delays (a script decides timing itself).
    fn poller_delays(&self) -> bool {
        true
    }
    /// `step`'s verdict on `event` in `before`: `Some(after)` if accepted, `None` if refused.
    /// Called with the engine's lock held.
    fn applied(&self, event: Event, before: &State, after: Option<&State>);
    /// Wakes every waiting source (the engine is stopping).
    fn wake(&self);
    /// How the run departed from the schedule, if it did.
    fn divergence(&self) -> Option<String> {
        None
    }
}

/// Everyone applies as soon as they observe: the production mode.
#[derive(Debug, Default)]
pub struct Free;

impl Gate for Free {
    fn wait_turn(&self, _: &[Event], stop: &AtomicBool) -> bool {
        !stop.load(Ordering::SeqCst)
    }
    fn may_poll(&self, _: Event) -> bool {
        true
    }
    fn applied(&self, _: Event, _: &State, _: Option<&State>) {}
    fn wake(&self) {}
}

/// Waits on `cv` until `ready` holds or `stop` is raised; returns whether `ready` held.
fn wait_until<T>(
    m: &Mutex<T>,
    cv: &Condvar,
    stop: &AtomicBool,
    mut ready: impl FnMut(&T) -> bool,
) -> bool {
    let mut g = lock(m);
    loop {
        if ready(&g) {
            return true;
        }
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        g = wait(cv, g, RECHECK);
    }
}

/// Releases events in exactly the order of a list (a model path), then lets everything through
/// (or, built with [`Script::exact`], holds everything: the run stops where the path ends).
/// An applied event that is not the next one is recorded as a divergence (reality wins: the
/// engine never pretends an IO outcome it did not observe).
#[derive(Debug)]
pub struct Script {
    events: Vec<Event>,
    hold_after: bool,
    pos: Mutex<ScriptPos>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct ScriptPos {
    next: usize,
    divergence: Option<String>,
}

impl Script {
    pub fn new(events: Vec<Event>) -> Script {
        Script {
            events,
            hold_after: false,
            pos: Mutex::new(ScriptPos::default()),
            cv: Condvar::new(),
        }
    }

    /// Releases exactly `events`, in order, and nothing after them.
    pub fn exact(events: Vec<Event>) -> Script {
        Script {
            hold_after: true,
            ..Script::new(events)
        }
    }

    /// The script's events.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// How many of the script's events have been applied.
    pub fn done(&self) -> usize {
        lock(&self.pos).next
    }

    fn admits(&self, p: &ScriptPos, candidates: &[Event]) -> bool {
        if p.divergence.is_some() {
            return !self.hold_after;
        }
        match self.events.get(p.next) {
            Some(e) => candidates.contains(e),
            None => !self.hold_after,
        }
    }
}

impl Gate for Script {
    fn wait_turn(&self, candidates: &[Event], stop: &AtomicBool) -> bool {
        wait_until(&self.pos, &self.cv, stop, |p| self.admits(p, candidates))
    }
    fn may_poll(&self, event: Event) -> bool {
        let p = lock(&self.pos);
        self.admits(&p, &[event])
    }
    fn poller_delays(&self) -> bool {
        false
    }
    fn applied(&self, event: Event, _: &State, after: Option<&State>) {
        if after.is_none() {
            return;
        }
        let mut p = lock(&self.pos);
        match self.events.get(p.next) {
            Some(&e) if e == event => p.next += 1,
            Some(&e) if p.divergence.is_none() => {
                p.divergence = Some(format!(
                    "schedule step {}: expected {e:?}, the engine applied {event:?}",
                    p.next + 1
                ))
            }
            _ => {}
        }
        self.cv.notify_all();
    }
    fn wake(&self) {
        self.cv.notify_all();
    }
    fn divergence(&self) -> Option<String> {
        lock(&self.pos).divergence.clone()
    }
}

/// Holds every event matching `held` until `release` says so, then lets everything through.
pub struct HoldUntil {
    held: fn(Event) -> bool,
    release: fn(Event, &State, Option<&State>) -> bool,
    released: Mutex<bool>,
    cv: Condvar,
}

impl HoldUntil {
    pub fn new(
        held: fn(Event) -> bool,
        release: fn(Event, &State, Option<&State>) -> bool,
    ) -> HoldUntil {
        HoldUntil {
            held,
            release,
            released: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    /// The forced schedule of bug 1280160: no pool thread picks up a child until the poller has
    /// polled the parent after its `execute()` returned, and that poll either made it wait
    /// (refused: 3.6.1, 4.0) or let it run its end-action (3.6.0 decides, then ends it).
    pub fn pool_after_parent_poll() -> HoldUntil {
        HoldUntil::new(
            |e| matches!(e, Event::PoolPicksUp(_)),
            |e, before, after| {
                e == Event::PollParent
                    && livemerge_model::parent_returned(before)
                    && after.is_none_or(|s| s.removal_ended())
            },
        )
    }
}

impl Gate for HoldUntil {
    fn wait_turn(&self, candidates: &[Event], stop: &AtomicBool) -> bool {
        if !candidates.iter().any(|&e| (self.held)(e)) {
            return !stop.load(Ordering::SeqCst);
        }
        wait_until(&self.released, &self.cv, stop, |r| *r)
    }
    fn may_poll(&self, event: Event) -> bool {
        !(self.held)(event) || *lock(&self.released)
    }
    fn applied(&self, event: Event, before: &State, after: Option<&State>) {
        if (self.release)(event, before, after) {
            *lock(&self.released) = true;
            self.cv.notify_all();
        }
    }
    fn wake(&self) {
        self.cv.notify_all();
    }
}
