//! The gate in front of [`Engine::apply`](crate::Engine::apply): who may apply an event, and when.
//!
//! Every event source (the parent's thread, pool threads, the poller, task and host workers)
//! asks the gate before it applies what it observed. In the default free mode the gate lets
//! everyone through at once, so the interleaving comes from real thread timing. A scheduled gate
//! makes sources wait until a deterministic scheduler releases their event; that is how a model
//! counterexample can be replayed step for step and how a test forces a schedule (the gates of
//! `crate::harness::schedules`: `Script`, `HoldUntil`).
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
pub(crate) fn wait_until<T>(
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
