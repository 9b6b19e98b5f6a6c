//! The model's output side: what a state asks the world to do, and who may act next.
//!
//! `step` is the input side (an observed event in, the next state out); [`wants`] is the output
//! side, as in a sans-IO protocol core: a runtime asks it which work to start (a child to hand to
//! the pool, a grandchild to carry out and how, a host job to watch), does that IO, and feeds
//! what it observed back through `step`. The runtime then never reads a status to decide
//! anything: it diffs what the model wants against what it has in flight.
//!
//! Each [`Event`] knows its [`Actor`]: the kind of thread or process that observes it. That is
//! what tells a runtime when nothing more can happen on its own ([`settled`]).

use crate::config::{Config, MAX_DISKS};
use crate::event::Event;
use crate::rules;
use crate::state::{State, Step, Task};
use crate::step::{enabled, grandchild_alive, step};

/// Who observes an event: each is one kind of thread (or process) of a runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The user, removing the snapshot again after a failed removal.
    User,
    /// The parent command's `execute()` thread.
    Parent,
    /// A pool thread running a child command's `execute()`.
    Pool,
    /// A thread carrying out a child's current grandchild (its `execute()` on a pool thread,
    /// then its work on the host: `VM.merge`, MERGE_STATUS, `deleteVolume`, ...).
    Grandchild,
    /// The callback poller.
    Poller,
    /// The host, whose merge job ends or fails.
    Host,
    /// The engine process itself, restarting.
    Restart,
}

impl Actor {
    pub const ALL: [Actor; 7] = [
        Actor::User,
        Actor::Parent,
        Actor::Pool,
        Actor::Grandchild,
        Actor::Poller,
        Actor::Host,
        Actor::Restart,
    ];

    /// Whether a running engine's own threads produce this actor's events. The others need
    /// something from outside: a new process (a restart), the user, or the user's request
    /// entering a new parent `execute()` thread.
    pub fn inside_engine(self) -> bool {
        matches!(
            self,
            Actor::Pool | Actor::Grandchild | Actor::Poller | Actor::Host
        )
    }
}

impl Event {
    /// The actor that observes this event.
    pub fn actor(self) -> Actor {
        match self {
            Event::ParentBegins | Event::ParentStartsChild | Event::ParentReturns => Actor::Parent,
            Event::PollParent | Event::PollChild(_) | Event::Expire => Actor::Poller,
            Event::Restart => Actor::Restart,
            Event::UserRetries => Actor::User,
            Event::PoolPicksUp(_) | Event::ChildReturns(_) | Event::ImageInfoFails(_) => {
                Actor::Pool
            }
            Event::GrandchildPicksUp(_)
            | Event::MergeReachesHost(_)
            | Event::MergeRefused(_)
            | Event::GrandchildReturns(_)
            | Event::TaskEnds(_)
            | Event::DeleteVolumeFails(_) => Actor::Grandchild,
            Event::HostJobEnds(_) | Event::HostJobFails(_) => Actor::Host,
        }
    }
}

/// Which grandchild a disk is on: the removal it belongs to (0 first, then each retry) and its
/// step. A thread that carries out a grandchild acts only while this is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GrandchildId {
    pub removal: u8,
    pub step: Step,
}

/// What the host is asked for when a grandchild's `execute()` has returned, before the
/// grandchild ends (`TaskEnds`, or the fault `DeleteVolumeFails`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCall {
    /// Nothing: EXTEND on file storage, and MERGE, whose job is the host's from `VM.merge` on.
    Nothing,
    /// MERGE_STATUS: read the chain the VM uses now (the model judges: top still there fails).
    ReadChain,
    /// DESTROY_IMAGE: `deleteVolume` of top.
    DeleteVolume,
    /// DESTROY_IMAGE_CHECK: read whether top's volume is gone (the model judges).
    CheckVolumeGone,
}

/// The next thing a grandchild's thread does, and the event it then feeds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrandchildAct {
    /// A pool thread takes it from the queue (no IO): `GrandchildPicksUp`.
    PickUp,
    /// `VM.merge`: read the host's chain; with top in it, start the block-commit job
    /// (`MergeReachesHost`, then a watcher for the job), else the host refuses (`MergeRefused`).
    VmMerge,
    /// Its `execute()` returns: `GrandchildReturns`.
    Return,
    /// Its work on the host, then `TaskEnds` (or `DeleteVolumeFails`).
    Finish(HostCall),
    /// Its own callback, polled in EXECUTION_FAILED, ends it FAILED (no IO): `TaskEnds`.
    EndByCallback,
}

impl GrandchildAct {
    /// The events the act may feed back, the first being the one expected without a fault.
    pub fn events(self) -> &'static [fn(u8) -> Event] {
        match self {
            GrandchildAct::PickUp => &[Event::GrandchildPicksUp],
            GrandchildAct::VmMerge => &[Event::MergeReachesHost, Event::MergeRefused],
            GrandchildAct::Return => &[Event::GrandchildReturns],
            GrandchildAct::Finish(HostCall::DeleteVolume) => {
                &[Event::TaskEnds, Event::DeleteVolumeFails]
            }
            GrandchildAct::Finish(_) | GrandchildAct::EndByCallback => &[Event::TaskEnds],
        }
    }
}

/// What one disk asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskWants {
    /// Its child waits in the pool's queue: a pool thread is to run it.
    pub child: bool,
    /// Its grandchild has work left for a thread: which grandchild, and what to do now (`None`
    /// while it only waits, e.g. MERGE_STATUS for the host's job).
    pub grandchild: Option<(GrandchildId, Option<GrandchildAct>)>,
    /// The host runs a merge job for it: someone is to watch it end.
    pub host_job: bool,
}

/// What a state asks for, disk by disk, and which actors may act next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wants {
    n: usize,
    disks: [DiskWants; MAX_DISKS],
    /// Per actor (in [`Actor::ALL`]'s order): some event of it is enabled.
    may_act: [bool; Actor::ALL.len()],
}

impl Wants {
    /// The configured disks' wants, in disk order.
    pub fn disks(&self) -> &[DiskWants] {
        &self.disks[..self.n]
    }

    /// Whether `actor` has an event the model accepts now.
    pub fn may_act(&self, actor: Actor) -> bool {
        self.may_act[actor as usize]
    }
}

/// What `s` asks the world to do.
pub fn wants(cfg: &Config, s: &State) -> Wants {
    let n = cfg.n();
    let mut w = Wants {
        n,
        disks: [DiskWants::default(); MAX_DISKS],
        may_act: [false; Actor::ALL.len()],
    };
    for e in enabled(cfg, s) {
        w.may_act[e.actor() as usize] = true;
    }
    for (d, dw) in w.disks[..n].iter_mut().enumerate() {
        let disk = &s.disks[d];
        dw.child = disk.f.queued();
        dw.host_job = disk.f.job_running();
        if grandchild_pending(cfg, s, d) {
            dw.grandchild = Some((grandchild_id(s, d), grandchild_act(cfg, s, d)));
        }
    }
    w
}

/// Which grandchild disk `d` is on (see [`GrandchildId`]).
pub fn grandchild_id(s: &State, d: usize) -> GrandchildId {
    GrandchildId {
        removal: s.retries,
        step: s.disks[d].step,
    }
}

/// Whether disk `d`'s grandchild still has work for a thread: queued, executing or executed with
/// its rows in place, or EXECUTION_FAILED with a callback that polls it in that status.
pub fn grandchild_pending(cfg: &Config, s: &State, d: usize) -> bool {
    let disk = &s.disks[d];
    grandchild_alive(s, d)
        && match disk.task {
            Task::Queued | Task::Executing | Task::Running => true,
            Task::ExecutionFailed => {
                rules::Rules::of(cfg.release).grandchild_polled_on_execution_failed(disk.step)
            }
            _ => false,
        }
}

/// What disk `d`'s grandchild thread does now; `None` if it has nothing to do yet (or at all).
pub fn grandchild_act(cfg: &Config, s: &State, d: usize) -> Option<GrandchildAct> {
    if !grandchild_pending(cfg, s, d) {
        return None;
    }
    let disk = &s.disks[d];
    let e = d as u8;
    let accepts = |ev: Event| step(cfg, s, ev).is_ok();
    let act = match disk.task {
        Task::ExecutionFailed => GrandchildAct::EndByCallback,
        Task::Queued if disk.step == Step::Merge => GrandchildAct::VmMerge,
        Task::Queued if !rules::Rules::of(cfg.release).grandchild_has_callback(disk.step) => {
            GrandchildAct::PickUp
        }
        Task::Queued | Task::Executing => GrandchildAct::Return,
        _ => GrandchildAct::Finish(match disk.step {
            Step::MergeStatus => HostCall::ReadChain,
            Step::DestroyImage => HostCall::DeleteVolume,
            Step::DestroyImageCheck => HostCall::CheckVolumeGone,
            _ => HostCall::Nothing,
        }),
    };
    // Only an act whose event the model accepts now: MERGE_STATUS waits for the host's job.
    act.events().iter().any(|mk| accepts(mk(e))).then_some(act)
}

/// Nothing can happen any more that a running engine's own threads would observe: every event
/// the model accepts needs a restart, the user, or a new parent `execute()`.
pub fn settled(cfg: &Config, s: &State) -> bool {
    let w = wants(cfg, s);
    !Actor::ALL
        .iter()
        .any(|&a| a.inside_engine() && w.may_act(a))
}

/// How disk `d`'s grandchild ended: `Some(true)` succeeded, `Some(false)` failed, `None` not
/// ended. The engine compares it with what it read on the host (MERGE_STATUS, DESTROY_IMAGE_CHECK).
pub fn grandchild_succeeded(s: &State, d: usize) -> Option<bool> {
    match s.disks[d].task {
        Task::Succeeded => Some(true),
        Task::Failed => Some(false),
        _ => None,
    }
}
