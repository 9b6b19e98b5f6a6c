//! The model's output side: what a state asks the world to do, and who may act next.
//!
//! `step` is the input side (an observed event in, the next state out); [`wants`] is the output
//! side, as in a sans-IO protocol core: a runtime asks it which work to start and what each
//! thread does next (the parent's `execute()` thread, a child to hand to the pool and its return,
//! a grandchild to carry out and how, a host job to watch), does that IO, and feeds what it
//! observed back through `step`. The runtime then never reads a status, nor tries `step`, to
//! decide anything: it diffs what the model wants against what it has in flight.
//!
//! Each [`Event`] knows its [`Actor`]: the kind of thread or process that observes it. That is
//! what tells a runtime when nothing more can happen on its own ([`settled`]).

use crate::config::{Config, MAX_DISKS};
use crate::event::Event;
use crate::rules;
use crate::state::{State, Step, Task};
use crate::step::{enabled, grandchild_alive, step};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who observes an event: each is one kind of thread (or process) of a runtime. A runtime's
/// trace and event log name each event's actor ([`Actor::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The user, removing the snapshot again after a failed removal.
    User,
    /// The parent command's `execute()` thread.
    Parent,
    /// A pool thread running a child command's `execute()`.
    Pool,
    /// A thread carrying out a child's current grandchild (its `execute()` on a pool thread,
    /// then its work on the host: `VM.merge`, MERGE_STATUS, `deleteVolume`, ...).
    #[serde(alias = "task")]
    Grandchild,
    /// The callback poller.
    Poller,
    /// The host, whose merge job ends or fails.
    Host,
    /// The engine process itself, restarting.
    #[serde(alias = "resume")]
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

    /// Its name in a trace and an event log (what serde writes).
    pub fn name(self) -> &'static str {
        match self {
            Actor::User => "user",
            Actor::Parent => "parent",
            Actor::Pool => "pool",
            Actor::Grandchild => "grandchild",
            Actor::Poller => "poller",
            Actor::Host => "host",
            Actor::Restart => "restart",
        }
    }

    /// The actor a trace or an event log names: its [`name`](Actor::name), or the name an engine
    /// gave it before the actors were one vocabulary (`task` for a grandchild's worker, `resume`
    /// for the restart), as serde reads them too.
    pub fn from_name(name: &str) -> Option<Actor> {
        match name {
            "task" => Some(Actor::Grandchild),
            "resume" => Some(Actor::Restart),
            _ => Actor::ALL.into_iter().find(|a| a.name() == name),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
    /// The events the act may feed back for disk `disk`.
    pub fn events(self, disk: usize) -> GrandchildEvents {
        let d = disk as u8;
        let (on_success, on_failure) = match self {
            GrandchildAct::PickUp => (Event::GrandchildPicksUp(d), None),
            GrandchildAct::VmMerge => (Event::MergeReachesHost(d), Some(Event::MergeRefused(d))),
            GrandchildAct::Return => (Event::GrandchildReturns(d), None),
            GrandchildAct::Finish(HostCall::DeleteVolume) => {
                (Event::TaskEnds(d), Some(Event::DeleteVolumeFails(d)))
            }
            GrandchildAct::Finish(_) | GrandchildAct::EndByCallback => (Event::TaskEnds(d), None),
        };
        GrandchildEvents {
            on_success,
            on_failure,
        }
    }
}

/// The events a grandchild's act may feed back, by what its IO did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrandchildEvents {
    /// The host did what the act asks (for a read, whatever it read: the model judges it), or
    /// the act has no IO: the event expected without a fault.
    pub on_success: Event,
    /// The host refused or failed the call, where the model has an event for it: `VM.merge`
    /// refused (`MergeRefused`), `deleteVolume` failed (`DeleteVolumeFails`).
    pub on_failure: Option<Event>,
}

impl GrandchildEvents {
    /// Both, the expected one first.
    pub fn all(self) -> impl Iterator<Item = Event> {
        std::iter::once(self.on_success).chain(self.on_failure)
    }
}

/// What the parent's `execute()` thread does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentAct {
    /// The user's request enters `execute()`: `ParentBegins`.
    Begin,
    /// It starts the next disk's child: `ParentStartsChild`.
    StartChild,
    /// It returns, every child started: `ParentReturns`.
    Return,
}

impl ParentAct {
    /// The event it feeds back.
    pub fn event(self) -> Event {
        match self {
            ParentAct::Begin => Event::ParentBegins,
            ParentAct::StartChild => Event::ParentStartsChild,
            ParentAct::Return => Event::ParentReturns,
        }
    }
}

/// What the pool does next with a disk's child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildAct {
    /// A pool thread takes it from the queue and enters its `execute()`: `PoolPicksUp`.
    PickUp,
    /// The pool thread inside its `execute()` returns: `ChildReturns`.
    Return,
    /// The same, having asked the host for top first (`GetImageInfo`, 4.5.7): `ChildReturns` if
    /// the host answered (top there or gone), `ImageInfoFails` if it did not.
    ReturnAskingHost,
}

impl ChildAct {
    /// The event it feeds back for disk `disk`.
    pub fn event(self, disk: usize) -> Event {
        let d = disk as u8;
        match self {
            ChildAct::PickUp => Event::PoolPicksUp(d),
            ChildAct::Return | ChildAct::ReturnAskingHost => Event::ChildReturns(d),
        }
    }

    /// The event for a `GetImageInfo` that got no answer (only for [`ChildAct::ReturnAskingHost`]).
    pub fn no_answer_event(self, disk: usize) -> Option<Event> {
        (self == ChildAct::ReturnAskingHost).then_some(Event::ImageInfoFails(disk as u8))
    }
}

/// What one disk asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskWants {
    /// What the pool is to do with its child: run it (it waits in the pool's queue), or return
    /// from its `execute()`; `None` when the pool has nothing to do for it.
    pub child: Option<ChildAct>,
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
    /// What the parent's `execute()` thread is to do (`None`: it has nothing to do).
    parent: Option<ParentAct>,
    /// Per actor (in [`Actor::ALL`]'s order): some event of it is enabled.
    may_act: [bool; Actor::ALL.len()],
}

impl Wants {
    /// The configured disks' wants, in disk order.
    pub fn disks(&self) -> &[DiskWants] {
        &self.disks[..self.n]
    }

    /// What the parent's `execute()` thread is to do now: begin (a new request enters it), start
    /// the next child, or return; `None` when no parent thread has anything to do.
    pub fn parent(&self) -> Option<ParentAct> {
        self.parent
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
        parent: None,
        may_act: [false; Actor::ALL.len()],
    };
    // The parent's and the pool's acts are exactly their events that `step` accepts (at most
    // one each: the parent begins before it executes, and a child is queued or executing).
    for e in enabled(cfg, s) {
        w.may_act[e.actor() as usize] = true;
        match e {
            Event::ParentBegins => w.parent = Some(ParentAct::Begin),
            Event::ParentStartsChild => w.parent = Some(ParentAct::StartChild),
            Event::ParentReturns => w.parent = Some(ParentAct::Return),
            Event::PoolPicksUp(d) => w.disks[d as usize].child = Some(ChildAct::PickUp),
            Event::ChildReturns(d) => {
                w.disks[d as usize].child =
                    Some(if rules::Rules::of(cfg.release).initial_step_asks_host {
                        ChildAct::ReturnAskingHost
                    } else {
                        ChildAct::Return
                    })
            }
            _ => {}
        }
    }
    for (d, dw) in w.disks[..n].iter_mut().enumerate() {
        let disk = &s.disks[d];
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
    act.events(d).all().any(accepts).then_some(act)
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
