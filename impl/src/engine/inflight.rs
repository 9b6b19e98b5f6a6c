//! The IO in flight, and the diff that turns what the model wants into work to launch.
//!
//! This is not protocol state: only which threads this process runs, so that each piece of
//! work the model asks for is launched once, and the end of a run can wait for outstanding IO.
//! What the work is, and when it is wanted, the model says ([`livemerge_model::wants`]).

use livemerge_model::{ChildAct, GrandchildId, Wants, MAX_DISKS};

/// A piece of work the model asks for that nobody does yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Run the parent's `execute()` thread (a new request: at start, or after a user's retry).
    Parent,
    /// Hand disk `d`'s queued child to the pool.
    Child(usize),
    /// Carry out disk `d`'s grandchild `id` (a thread follows it until it ends).
    Grandchild(usize, GrandchildId),
    /// Watch disk `d`'s host job, which nobody watches (the job `VM.merge` just started, or,
    /// after a restart, one whose watcher died with the old engine).
    HostJob(usize),
}

/// What this process has in flight. Only [`InFlight::claim`] marks work, from what the model
/// wants; only [`InFlight::release`] clears a mark, when the thread doing that work is done.
#[derive(Clone, Copy, Debug, Default)]
pub struct InFlight {
    /// The parent's `execute()` thread runs.
    parent: bool,
    /// The pool holds this disk's child: queued for a thread, or on one.
    child: [bool; MAX_DISKS],
    /// A thread follows this disk's grandchild (which one).
    grandchild: [Option<GrandchildId>; MAX_DISKS],
    /// A thread watches this disk's host job.
    job: [bool; MAX_DISKS],
}

impl InFlight {
    /// No IO outstanding.
    pub fn idle(&self) -> bool {
        !self.parent
            && (0..MAX_DISKS)
                .all(|d| !self.child[d] && self.grandchild[d].is_none() && !self.job[d])
    }

    /// The work `wants` asks for that nothing in flight does, marked as in flight.
    pub fn claim(&mut self, wants: &Wants) -> Vec<Work> {
        let mut work = Vec::new();
        for (d, w) in wants.disks().iter().enumerate() {
            // A child is handed to the pool once, queued; the thread that takes it also returns
            // from its `execute()`.
            if w.child == Some(ChildAct::PickUp) && !self.child[d] {
                self.child[d] = true;
                work.push(Work::Child(d));
            }
            if let Some((id, _)) = w.grandchild {
                // A thread still finishing an older grandchild of this disk clears only its own
                // mark, so the next one may start beside it.
                if self.grandchild[d] != Some(id) {
                    self.grandchild[d] = Some(id);
                    work.push(Work::Grandchild(d, id));
                }
            }
            if w.host_job && !self.job[d] {
                self.job[d] = true;
                work.push(Work::HostJob(d));
            }
        }
        // The parent's thread follows its `execute()` from beginning to return.
        if wants.parent().is_some() && !self.parent {
            self.parent = true;
            work.push(Work::Parent);
        }
        work
    }

    /// The thread doing `work` is done: its mark goes, unless (a grandchild) a newer
    /// grandchild's took its place.
    pub fn release(&mut self, work: Work) {
        match work {
            Work::Parent => self.parent = false,
            Work::Child(d) => self.child[d] = false,
            Work::Grandchild(d, id) => {
                if self.grandchild[d] == Some(id) {
                    self.grandchild[d] = None;
                }
            }
            Work::HostJob(d) => self.job[d] = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livemerge_model::{step, wants, Config, Event, State};

    fn after(cfg: &Config, events: &[Event]) -> State {
        events.iter().fold(State::initial(cfg.n()), |s, &e| {
            step(cfg, &s, e).unwrap_or_else(|r| panic!("{e:?}: {r}")).0
        })
    }

    /// Up to the child's first poll, which starts EXTEND's grandchild.
    const FIRST_POLL: [Event; 6] = [
        Event::ParentBegins,
        Event::ParentStartsChild,
        Event::ParentReturns,
        Event::PoolPicksUp(0),
        Event::ChildReturns(0),
        Event::PollChild(0),
    ];

    #[test]
    fn each_piece_of_work_is_claimed_once() {
        let cfg = Config {
            disks: 2,
            ..Config::default()
        };
        let mut io = InFlight::default();
        let s = State::initial(cfg.n());
        assert_eq!(io.claim(&wants(&cfg, &s)), vec![Work::Parent]);
        let s = after(&cfg, &FIRST_POLL[..2]);
        let s = step(&cfg, &s, Event::ParentStartsChild).unwrap().0;
        assert_eq!(
            io.claim(&wants(&cfg, &s)),
            vec![Work::Child(0), Work::Child(1)],
            "the parent's thread, still returning, is not claimed again"
        );
        assert!(io.claim(&wants(&cfg, &s)).is_empty(), "claimed already");
        let s = step(&cfg, &s, Event::PoolPicksUp(0)).unwrap().0;
        assert!(
            io.claim(&wants(&cfg, &s)).is_empty(),
            "the pool thread that took the child returns from it"
        );
        for w in [Work::Parent, Work::Child(0), Work::Child(1)] {
            assert!(!io.idle());
            io.release(w);
        }
        assert!(io.idle());
    }

    #[test]
    fn a_newer_grandchild_starts_beside_an_older_ones_thread() {
        let cfg = Config {
            disks: 1,
            ..Config::default()
        };
        let mut io = InFlight::default();
        let first = io.claim(&wants(&cfg, &after(&cfg, &FIRST_POLL)));
        let Some(Work::Grandchild(0, extend)) = first.first().copied() else {
            panic!("no grandchild work: {first:?}");
        };
        // EXTEND ends; the next poll starts MERGE's grandchild while EXTEND's thread finishes.
        let more = [
            Event::GrandchildReturns(0),
            Event::TaskEnds(0),
            Event::PollChild(0),
        ];
        let s = after(&cfg, &[&FIRST_POLL[..], &more[..]].concat());
        let next = io.claim(&wants(&cfg, &s));
        assert!(
            matches!(next.as_slice(), [Work::Grandchild(0, id)] if *id != extend),
            "{next:?}"
        );
        io.release(Work::Grandchild(0, extend));
        assert!(
            io.grandchild[0].is_some(),
            "the older thread left the newer mark"
        );
    }
}
