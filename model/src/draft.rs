//! Hand-built states: a [`Draft`] mirrors a [`State`] field by field, with plain public fields and
//! plain `bool`s for the flags, and [`Draft::build`] turns it into a `State`.
//!
//! It is for the states nobody reaches through `step`: tests that put the protocol in a chosen
//! situation, the `--disks any` abstraction's representative states, and the engine's abstraction
//! of its rows and storage ([`State::observed`] is built on it). A `State` itself has no public
//! field or setter, so that outside the model nothing changes a state in place: code that wants
//! another state says so by building one, which a reader (and the compiler) can tell apart from a
//! transition.

use crate::config::MAX_DISKS;
use crate::state::{
    CmdStatus, Disk, DiskFlags, Images, Parent, ParentFlags, Snapshot, State, Step, Task,
};

/// A [`State`] as plain data: edit the fields, then [`build`](Draft::build) it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Draft {
    pub parent: ParentDraft,
    pub snapshot: Snapshot,
    /// Engine restarts so far.
    pub restarts: u8,
    /// Removals of the snapshot the user started again after a failed one.
    pub retries: u8,
    /// Every slot: the configured disks first, the rest left at their default (all zero), which
    /// is how a `State` tells how many disks it has.
    pub disks: [DiskDraft; MAX_DISKS],
}

/// A [`Parent`] as plain data (see [`ParentFlags`] for what each flag means).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParentDraft {
    pub status: CmdStatus,
    pub begun: bool,
    pub executed: bool,
    pub notified: bool,
    pub registered: bool,
    /// A command expired on the way here (kept across retries).
    pub expired: bool,
}

/// A [`Disk`] as plain data (see [`DiskFlags`] for what each flag means).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskDraft {
    pub status: CmdStatus,
    pub step: Step,
    pub task: Task,
    pub images: Images,
    pub created: bool,
    pub queued: bool,
    pub executed: bool,
    pub notified: bool,
    pub registered: bool,
    pub in_snapshot: bool,
    pub job_running: bool,
    pub top_in_chain: bool,
    pub top_exists: bool,
    pub base_has_top: bool,
    pub destroy_failed: bool,
}

impl Draft {
    /// `s` as a draft.
    pub fn of(s: &State) -> Draft {
        Draft {
            parent: ParentDraft::of(&s.parent),
            snapshot: s.snapshot,
            restarts: s.restarts,
            retries: s.retries,
            disks: s.disks.map(|d| DiskDraft::of(&d)),
        }
    }

    /// The draft of [`State::initial`]`(n)`.
    pub fn initial(n: usize) -> Draft {
        Draft::of(&State::initial(n))
    }

    /// The state this draft describes.
    pub fn build(&self) -> State {
        State {
            parent: self.parent.build(),
            snapshot: self.snapshot,
            restarts: self.restarts,
            retries: self.retries,
            disks: self.disks.map(|d| d.build()),
        }
    }
}

impl ParentDraft {
    pub fn of(p: &Parent) -> ParentDraft {
        let f = p.f;
        ParentDraft {
            status: p.status,
            begun: f.begun(),
            executed: f.executed(),
            notified: f.notified(),
            registered: f.registered(),
            expired: f.expired(),
        }
    }

    pub fn build(&self) -> Parent {
        let mut f = ParentFlags::default();
        f.set_begun(self.begun);
        f.set_executed(self.executed);
        f.set_notified(self.notified);
        f.set_registered(self.registered);
        f.set_expired(self.expired);
        Parent {
            status: self.status,
            f,
        }
    }
}

impl DiskDraft {
    pub fn of(d: &Disk) -> DiskDraft {
        let f = d.f;
        DiskDraft {
            status: d.status,
            step: d.step,
            task: d.task,
            images: d.images,
            created: f.created(),
            queued: f.queued(),
            executed: f.executed(),
            notified: f.notified(),
            registered: f.registered(),
            in_snapshot: f.in_snapshot(),
            job_running: f.job_running(),
            top_in_chain: f.top_in_chain(),
            top_exists: f.top_exists(),
            base_has_top: f.base_has_top(),
            destroy_failed: f.destroy_failed(),
        }
    }

    /// The draft of [`Disk::initial`].
    pub fn initial() -> DiskDraft {
        DiskDraft::of(&Disk::initial())
    }

    pub fn build(&self) -> Disk {
        let mut f = DiskFlags::default();
        f.set_created(self.created);
        f.set_queued(self.queued);
        f.set_executed(self.executed);
        f.set_notified(self.notified);
        f.set_registered(self.registered);
        f.set_in_snapshot(self.in_snapshot);
        f.set_job_running(self.job_running);
        f.set_top_in_chain(self.top_in_chain);
        f.set_top_exists(self.top_exists);
        f.set_base_has_top(self.base_has_top);
        f.set_destroy_failed(self.destroy_failed);
        Disk {
            status: self.status,
            step: self.step,
            task: self.task,
            images: self.images,
            f,
        }
    }
}

impl From<&State> for Draft {
    fn from(s: &State) -> Draft {
        Draft::of(s)
    }
}

impl From<Draft> for State {
    fn from(d: Draft) -> State {
        d.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A draft carries every flag: a flag added to `flags!` but not here fails this test (the
    /// struct literals above already fail to compile for a missing field).
    #[test]
    fn every_flag_round_trips() {
        for bit in 0..DiskFlags::NAMES.len() {
            let d = Disk {
                f: DiskFlags { flags: 1 << bit },
                ..Disk::default()
            };
            assert_eq!(DiskDraft::of(&d).build(), d, "disk flag {bit}");
        }
        for bit in 0..ParentFlags::NAMES.len() {
            let p = Parent {
                f: ParentFlags { flags: 1 << bit },
                ..Parent::default()
            };
            assert_eq!(ParentDraft::of(&p).build(), p, "parent flag {bit}");
        }
    }

    #[test]
    fn a_state_round_trips() {
        let mut s = State::initial(3);
        s.restarts = 2;
        s.retries = 1;
        s.snapshot = Snapshot::Locked;
        s.parent.status = CmdStatus::Active;
        s.parent.f.set_registered(true);
        s.disks[1].task = Task::Running;
        s.disks[2].f.set_job_running(true);
        assert_eq!(Draft::of(&s).build(), s);
        assert_eq!(Draft::initial(3).build(), State::initial(3));
    }
}
