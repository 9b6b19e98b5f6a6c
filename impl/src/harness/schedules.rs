//! The gates a harness puts in front of the engine (`crate::scheduler::Gate`): a model path
//! released step for step ([`Script`]), a forced schedule ([`HoldUntil`]), and the schedules
//! `run --schedule` selects ([`Schedule`]).

use crate::scheduler::{wait_until, Free, Gate};
use crate::sync::lock;
use livemerge_model::{Event, State};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// A forced schedule selectable from the command line (`--schedule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Schedule {
    /// Real thread timing decides every interleaving.
    Free,
    /// Hold the pool: no pool thread picks up a child until the poller has polled the parent
    /// after its `execute()` returned (`HoldUntil::pool_after_parent_poll`).
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
