//! The callback poller (`CommandCallbacksPoller`): a thread that wakes every tick and dispatches
//! each registered command whose delay ran out (`PollParent`, `PollChild(d)`).
//!
//! Delay rules ([`Delays`]), as in oVirt:
//! - `capped` (3.6, `3175d5a141a`): a command first registered is polled at the next pass; after
//!   each poll its delay doubles (1, 2, 4, 8, capped at 10 ticks) unless its status changed
//!   during its own callback, which resets it to 1. A poll that only waits is refused by `step`,
//!   which is how the poller learns "no change". When a command finishes (its end-action ran),
//!   it leaves the poller and its root's (the parent's) delay resets to 1.
//! - `fixed` (3.5): the poller passes only every 10 ticks and dispatches every registered command
//!   then. A new command waits for the next 10-tick pass, anywhere from 0 to 10 ticks.
//!
//! Within a pass the order is oVirt's hash order, i.e. no particular one: shuffled from the
//! seed. Each callback sees what the callbacks before it changed (each is its own `step`).
//!
//! Expiry (`markExpiredCommandsAsFailure`, run on every pass from 3.6.1): after the callbacks,
//! once the removal has not moved for the commands' lifetime (`Settings::command_lifetime`,
//! measured as [`Engine::still_for`] says), the pass offers `Expire` to the model, which fails
//! the ACTIVE commands it reaches, or refuses it (the release has no expiry, something else can
//! still happen, or no ACTIVE command is reached).
//! The poller's clock starts at a random phase (from the seed): in oVirt it runs all the time,
//! so a request meets it at no particular point of its cycle.

use crate::engine::{Applies, Engine};
use crate::settings::Backoff;
use livemerge_model::{Event, State, MAX_DISKS};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The cap of the capped backoff, and the period of the fixed one, in ticks.
pub const MAX_DELAY: u64 = 10;

/// A registered command: the parent (0) or disk `d`'s child (`d + 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Parent,
    Child(usize),
}

impl Cmd {
    fn index(self) -> usize {
        match self {
            Cmd::Parent => 0,
            Cmd::Child(d) => d + 1,
        }
    }

    pub fn event(self) -> Event {
        match self {
            Cmd::Parent => Event::PollParent,
            Cmd::Child(d) => Event::PollChild(d as u8),
        }
    }

    fn model(self) -> Option<usize> {
        match self {
            Cmd::Parent => None,
            Cmd::Child(d) => Some(d),
        }
    }

    /// Whether the poller holds this command's callback in `s`.
    pub fn registered(self, s: &State) -> bool {
        livemerge_model::polled_command(s, self.model()).0
    }
}

/// What one dispatch did, as the delay rule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// Refused (waits), or accepted without changing the command's status.
    Unchanged,
    /// The command's status changed during its callback.
    StatusChanged,
    /// Its end-action ran: it leaves the poller.
    Finished,
}

impl PollOutcome {
    pub fn of(r: &Applies) -> PollOutcome {
        match r {
            Err(_) => PollOutcome::Unchanged,
            Ok(a) if a.transition.ends_a_command() => PollOutcome::Finished,
            Ok(a) if a.transition.changes_a_status() => PollOutcome::StatusChanged,
            Ok(_) => PollOutcome::Unchanged,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timing {
    delay: u64,
    due: u64,
}

/// The per-command delays; pure, so the rules can be tested without threads.
#[derive(Clone, Debug)]
pub struct Delays {
    backoff: Backoff,
    entries: [Option<Timing>; MAX_DISKS + 1],
}

impl Delays {
    pub fn new(backoff: Backoff) -> Delays {
        Delays {
            backoff,
            entries: [None; MAX_DISKS + 1],
        }
    }

    /// Takes in commands newly registered (polled at this pass) and drops unregistered ones.
    pub fn sync(&mut self, registered: &[Cmd], tick: u64) {
        let mut keep = [false; MAX_DISKS + 1];
        for c in registered {
            keep[c.index()] = true;
            self.entries[c.index()].get_or_insert(Timing {
                delay: 1,
                due: tick,
            });
        }
        for (i, e) in self.entries.iter_mut().enumerate() {
            if !keep[i] {
                *e = None;
            }
        }
    }

    /// Whether `cmd` is dispatched at pass `tick`.
    pub fn due(&self, cmd: Cmd, tick: u64) -> bool {
        match (self.backoff, self.entries[cmd.index()]) {
            (_, None) => false,
            (Backoff::Fixed, Some(_)) => tick.is_multiple_of(MAX_DELAY),
            (Backoff::Capped, Some(t)) => t.due <= tick,
        }
    }

    /// The delay `cmd` waits now, in ticks (for tests and reports).
    pub fn delay(&self, cmd: Cmd) -> Option<u64> {
        match self.backoff {
            Backoff::Fixed => self.entries[cmd.index()].map(|_| MAX_DELAY),
            Backoff::Capped => self.entries[cmd.index()].map(|t| t.delay),
        }
    }

    /// Applies the rule after `cmd` was dispatched at `tick`.
    pub fn after_poll(&mut self, cmd: Cmd, tick: u64, outcome: PollOutcome) {
        let reset = Timing {
            delay: 1,
            due: tick + 1,
        };
        match outcome {
            PollOutcome::Finished => {
                self.entries[cmd.index()] = None;
                if let Some(root) = self.entries[Cmd::Parent.index()].as_mut() {
                    *root = reset;
                }
            }
            PollOutcome::StatusChanged => {
                if let Some(t) = self.entries[cmd.index()].as_mut() {
                    *t = reset;
                }
            }
            PollOutcome::Unchanged => {
                if let Some(t) = self.entries[cmd.index()].as_mut() {
                    t.delay = (t.delay * 2).min(MAX_DELAY);
                    t.due = tick + t.delay;
                }
            }
        }
    }
}

/// The poller thread, one for every removal of the engine process (oVirt's one
/// `CommandCallbacksPoller` holds every VM's commands): each removal's commands keep their own
/// delays, and a pass dispatches every due command of every removal in one shuffled order. The
/// clock (tick, phase) is the first removal's settings'; a removal that stopped is passed over,
/// and the thread ends once all have.
pub(crate) fn run(engines: Vec<Arc<Engine>>) {
    let Some(first) = engines.first() else { return };
    let tick = first.settings().tick();
    let lifetime = first.settings().command_lifetime();
    let mut delays: Vec<Delays> = engines
        .iter()
        .map(|e| Delays::new(e.settings().backoff()))
        .collect();
    let mut rng = fastrand::Rng::with_seed(first.settings().seed ^ 0x005e_ed0f_9011);
    // The poller runs for the engine's whole life, so a request arrives at no particular
    // moment of its cycle: start at a random phase of the tick and, for the 10-tick passes of
    // the fixed backoff, at a random tick of the cycle.
    let phase = Duration::from_nanos(rng.u64(..tick.as_nanos().max(1) as u64));
    let start = Instant::now() + phase;
    let mut t: u64 = rng.u64(..MAX_DELAY);
    let mut k: u32 = 0;
    let all_stopped = || engines.iter().all(|e| e.stopping());
    loop {
        t += 1;
        if !sleep_until(&all_stopped, start + tick * k) {
            return;
        }
        k += 1;
        let mut cmds: Vec<(usize, Cmd)> = Vec::new();
        for (i, e) in engines.iter().enumerate() {
            if e.stopping() {
                continue;
            }
            let s = e.state();
            let mine: Vec<Cmd> = std::iter::once(Cmd::Parent)
                .chain((0..e.config().n()).map(Cmd::Child))
                .filter(|c| c.registered(&s))
                .collect();
            delays[i].sync(&mine, t);
            cmds.extend(mine.into_iter().map(|c| (i, c)));
        }
        rng.shuffle(&mut cmds);
        for (i, c) in cmds {
            let e = &engines[i];
            let paced = e.gate().poller_delays();
            // A command may have left the poller earlier in this pass, or its removal stopped.
            if e.stopping() || !c.registered(&e.state()) || (paced && !delays[i].due(c, t)) {
                continue;
            }
            let Some(r) = e.try_poll(c.event()) else {
                continue;
            };
            delays[i].after_poll(c, t, PollOutcome::of(&r));
        }
        // The expiry pass: the model decides what, if anything, expires.
        for e in &engines {
            if !e.stopping() && e.still_for() >= lifetime {
                let _ = e.try_poll(Event::Expire);
            }
        }
    }
}

/// Sleeps until `when` in short slices so a stop is noticed; false once `stopped()`.
fn sleep_until(stopped: &impl Fn() -> bool, when: Instant) -> bool {
    loop {
        if stopped() {
            return false;
        }
        let now = Instant::now();
        if now >= when {
            return true;
        }
        std::thread::sleep((when - now).min(Duration::from_millis(20)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_delays_double_to_ten_and_reset_on_a_status_change() {
        let mut d = Delays::new(Backoff::Capped);
        let c = Cmd::Child(0);
        d.sync(&[Cmd::Parent, c], 1);
        assert!(d.due(c, 1), "a new command is polled at the next pass");
        let mut t = 1;
        let mut polled_at = vec![];
        for _ in 0..6 {
            while !d.due(c, t) {
                t += 1;
            }
            polled_at.push(t);
            d.after_poll(c, t, PollOutcome::Unchanged);
        }
        // oVirt's "about 1, 3, 7, 15, 25, 35 s".
        assert_eq!(polled_at, vec![1, 3, 7, 15, 25, 35]);
        assert_eq!(d.delay(c), Some(10));
        d.after_poll(c, t, PollOutcome::StatusChanged);
        assert_eq!(d.delay(c), Some(1));
        assert!(d.due(c, t + 1) && !d.due(c, t));
    }

    #[test]
    fn a_finished_child_leaves_and_resets_its_root() {
        let mut d = Delays::new(Backoff::Capped);
        d.sync(&[Cmd::Parent, Cmd::Child(1)], 1);
        for t in [1, 3, 7] {
            d.after_poll(Cmd::Parent, t, PollOutcome::Unchanged);
        }
        assert_eq!(d.delay(Cmd::Parent), Some(8));
        d.after_poll(Cmd::Child(1), 8, PollOutcome::Finished);
        assert_eq!(d.delay(Cmd::Child(1)), None);
        assert_eq!(d.delay(Cmd::Parent), Some(1));
        assert!(d.due(Cmd::Parent, 9));
    }

    #[test]
    fn fixed_backoff_polls_every_command_on_ten_tick_passes_only() {
        let mut d = Delays::new(Backoff::Fixed);
        d.sync(&[Cmd::Parent], 3);
        assert!(!d.due(Cmd::Parent, 3));
        assert!((4..10).all(|t| !d.due(Cmd::Parent, t)));
        assert!(d.due(Cmd::Parent, 10));
        d.after_poll(Cmd::Parent, 10, PollOutcome::StatusChanged);
        assert!(!d.due(Cmd::Parent, 11) && d.due(Cmd::Parent, 20));
        d.sync(&[], 21);
        assert!(
            !d.due(Cmd::Parent, 30),
            "an unregistered command is not polled"
        );
    }
}
