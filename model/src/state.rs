//! The protocol's state: the parent command, one child per disk, the poller's registrations, the
//! host's merge jobs and volume chains, and the engine's database rows.
//!
//! States are small `Copy` values (a fixed array of disks, one-byte enums, bit flags) because the
//! checker stores millions of them; every field is still a named accessor.
//!
//! Fields and flag setters are `pub(crate)`: only the model (its `step`) changes a state, and the
//! compiler, not a grep, holds everyone else to that. Outside the model, states are read through
//! the getters and built from scratch through [`Draft`](crate::Draft) (hand-built states) or
//! [`State::observed`] (the engine's abstraction of its rows and storage).

use crate::config::MAX_DISKS;
use serde::{Deserialize, Serialize};

/// `command_entities.status`. `NoRow` is not stored by oVirt: the row is absent, and oVirt's
/// `getCommandStatus` then answers UNKNOWN.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[repr(u8)]
pub enum CmdStatus {
    #[default]
    NoRow,
    NotStarted,
    Active,
    Failed,
    /// A restart caught the command before its `execute()` returned: `FAILED_RESTARTED` up to
    /// 3.6, renamed `EXECUTION_FAILED` in 4.0 (see [`CmdStatus::ovirt_name_in`]).
    ExecutionFailed,
    Succeeded,
}

/// The value of `all` whose oVirt name is `name`: the names are defined once, one way.
fn by_name<T: Copy>(all: &[T], ovirt_name: fn(T) -> &'static str, name: &str) -> Option<T> {
    all.iter().copied().find(|v| ovirt_name(*v) == name)
}

impl CmdStatus {
    /// The statuses a `command_entities` row can hold (a missing row is `NoRow`, read UNKNOWN).
    pub const STORED: [CmdStatus; 5] = [
        CmdStatus::NotStarted,
        CmdStatus::Active,
        CmdStatus::Failed,
        CmdStatus::ExecutionFailed,
        CmdStatus::Succeeded,
    ];

    /// A stored status read back from its name (`UNKNOWN` is never stored).
    pub fn from_ovirt_name(name: &str) -> Option<CmdStatus> {
        if name == "FAILED_RESTARTED" {
            return Some(CmdStatus::ExecutionFailed);
        }
        by_name(&Self::STORED, Self::ovirt_name, name)
    }

    /// The status as `release` names it: `FAILED_RESTARTED` became `EXECUTION_FAILED` in 4.0.
    pub fn ovirt_name_in(self, release: crate::Release) -> &'static str {
        match self {
            CmdStatus::ExecutionFailed if release < crate::Release::V4_0_0 => "FAILED_RESTARTED",
            other => other.ovirt_name(),
        }
    }

    /// The status as oVirt's `getCommandStatus` reports it.
    pub fn ovirt_name(self) -> &'static str {
        match self {
            CmdStatus::NoRow => "UNKNOWN",
            CmdStatus::NotStarted => "NOT_STARTED",
            CmdStatus::Active => "ACTIVE",
            CmdStatus::Failed => "FAILED",
            CmdStatus::ExecutionFailed => "EXECUTION_FAILED",
            CmdStatus::Succeeded => "SUCCEEDED",
        }
    }
}

/// A child's current step (`RemoveSnapshotSingleDiskStep`), persisted in its parameters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[repr(u8)]
pub enum Step {
    #[default]
    Extend,
    Merge,
    MergeStatus,
    DestroyImage,
    /// 4.0 and 4.1 only: check that DESTROY_IMAGE really removed the volume.
    DestroyImageCheck,
    /// From 4.2: shrink base on block storage (`ReduceImageCommand`); nothing on file storage.
    ReduceImage,
    Complete,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::Extend,
        Step::Merge,
        Step::MergeStatus,
        Step::DestroyImage,
        Step::DestroyImageCheck,
        Step::ReduceImage,
        Step::Complete,
    ];

    pub fn from_ovirt_name(name: &str) -> Option<Step> {
        by_name(&Self::ALL, Self::ovirt_name, name)
    }

    pub fn ovirt_name(self) -> &'static str {
        match self {
            Step::Extend => "EXTEND",
            Step::Merge => "MERGE",
            Step::MergeStatus => "MERGE_STATUS",
            Step::DestroyImage => "DESTROY_IMAGE",
            Step::DestroyImageCheck => "DESTROY_IMAGE_CHECK",
            Step::ReduceImage => "REDUCE_IMAGE",
            Step::Complete => "COMPLETE",
        }
    }

    /// The grandchild command that carries out this step.
    pub fn grandchild_name(self) -> &'static str {
        match self {
            Step::Extend => "ExtendImageSize",
            Step::Merge => "Merge",
            Step::MergeStatus => "MergeStatus",
            Step::DestroyImage => "DestroyImage",
            Step::DestroyImageCheck => "DestroyImageCheck",
            Step::ReduceImage => "ReduceImage",
            Step::Complete => "-",
        }
    }
}

/// The current step's grandchild command (`MergeExtend`, `Merge`, `MergeStatus`, `DestroyImage`,
/// `DestroyImageCheck`), phase by phase, so that a restart can catch it in each.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[repr(u8)]
pub enum Task {
    /// No grandchild for the current step yet.
    #[default]
    None,
    /// `executeAsyncCommand`: row persisted NOT_STARTED, waiting in the pool's queue.
    Queued,
    /// A pool thread is inside its `execute()` (ACTIVE, not executed). Only for a grandchild
    /// without a callback, and for a Merge whose `VM.merge` reached the host; for the others
    /// queued and executing are one phase (a restart and every poller treat them alike).
    Executing,
    /// Its `execute()` returned (ACTIVE, executed): it waits for the host or its SPM task.
    Running,
    /// It ended with success and its end-action ran.
    Succeeded,
    /// It ended with failure (FAILED, ENDED_WITH_FAILURE) and its end-action, if any, ran.
    Failed,
    /// A restart caught it before `execute()` returned: FAILED_RESTARTED / EXECUTION_FAILED.
    ExecutionFailed,
    /// A restart lost it from the pool's queue (a command without a callback): its row stays
    /// NOT_STARTED and nothing will ever end it; not ACTIVE, it never expires either.
    Lost,
    /// A restart caught its `execute()` and left its row ACTIVE with no thread (a command
    /// without a callback, up to 3.6): nothing ends it but expiry, which fails ACTIVE rows.
    Stranded,
}

impl Task {
    pub const ALL: [Task; 9] = [
        Task::None,
        Task::Queued,
        Task::Executing,
        Task::Running,
        Task::Succeeded,
        Task::Failed,
        Task::ExecutionFailed,
        Task::Lost,
        Task::Stranded,
    ];

    /// The grandchild's phase in words close to its command row (`NONE`: not started yet).
    pub fn ovirt_name(self) -> &'static str {
        match self {
            Task::None => "NONE",
            Task::Queued => "NOT_STARTED",
            Task::Executing => "ACTIVE",
            Task::Running => "ACTIVE_EXECUTED",
            Task::Succeeded => "SUCCEEDED",
            Task::Failed => "FAILED",
            Task::ExecutionFailed => "EXECUTION_FAILED",
            Task::Lost => "LOST",
            Task::Stranded => "STRANDED",
        }
    }

    pub fn from_ovirt_name(name: &str) -> Option<Task> {
        by_name(&Self::ALL, Self::ovirt_name, name)
    }

    /// A grandchild has been started and has not ended: its command row is unfinished.
    pub fn in_flight(self) -> bool {
        matches!(
            self,
            Task::Queued
                | Task::Executing
                | Task::Running
                | Task::ExecutionFailed
                | Task::Lost
                | Task::Stranded
        )
    }

    /// Its command row is ACTIVE: the only status that expiry fails.
    pub fn row_active(self) -> bool {
        matches!(self, Task::Executing | Task::Running | Task::Stranded)
    }
}

/// One disk's rows in `images`, as the chain they describe.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[repr(u8)]
pub enum Images {
    /// Rows for base and top, both OK: the chain `base <- top`.
    #[default]
    BaseAndTop,
    /// Rows for base and top with top marked ILLEGAL (a merge failed before DESTROY_IMAGE).
    TopIllegal,
    /// `syncDbRecords` ran: base took top's place; only base's row is in the chain.
    Merged,
    /// Merged, and top's row kept as an ILLEGAL orphan (DESTROY_IMAGE failed; a retry starts there).
    MergedOrphan,
}

impl Images {
    /// Whether the database's chain for this disk still contains the top volume.
    pub fn chain_has_top(self) -> bool {
        matches!(self, Images::BaseAndTop | Images::TopIllegal)
    }

    pub fn ovirt_words(self) -> &'static str {
        match self {
            Images::BaseAndTop => "base <- top",
            Images::TopIllegal => "base <- top(ILLEGAL)",
            Images::Merged => "base (merged)",
            Images::MergedOrphan => "base (merged) + orphan top(ILLEGAL)",
        }
    }
}

/// The snapshot's row in `snapshots`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[repr(u8)]
pub enum Snapshot {
    #[default]
    Ok,
    Locked,
    Deleted,
}

impl Snapshot {
    /// A `snapshots` row's status read back (a deleted snapshot has no row to read).
    pub fn from_ovirt_name(name: &str) -> Option<Snapshot> {
        by_name(&[Snapshot::Ok, Snapshot::Locked], Self::ovirt_name, name)
    }

    pub fn ovirt_name(self) -> &'static str {
        match self {
            Snapshot::Ok => "OK",
            Snapshot::Locked => "LOCKED",
            Snapshot::Deleted => "deleted",
        }
    }
}

macro_rules! flags {
    ($(#[$m:meta])* $name:ident: $t:ty { $($(#[$fm:meta])* $flag:ident = $bit:expr => $get:ident, $set:ident;)* }) => {
        $(#[$m])*
        ///
        /// Serialized as the list of the names of the flags that are set.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name { pub(crate) flags: $t }
        #[allow(dead_code)]
        impl $name {
            $(const $flag: $t = 1 << $bit;
            $(#[$fm])*
            #[inline] pub fn $get(&self) -> bool { self.flags & Self::$flag != 0 }
            #[inline] pub(crate) fn $set(&mut self, on: bool) {
                if on { self.flags |= Self::$flag } else { self.flags &= !Self::$flag }
            })*
            pub(crate) const NAMES: &'static [(&'static str, $t)] = &[$((stringify!($get), Self::$flag)),*];
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(Self::NAMES.iter().filter(|(_, b)| self.flags & b != 0).map(|(n, _)| n))
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let names = Vec::<String>::deserialize(d)?;
                let mut flags = 0;
                for n in names {
                    let (_, b) = Self::NAMES.iter().find(|(k, _)| *k == n).ok_or_else(|| {
                        serde::de::Error::custom(format!("unknown flag '{n}'"))
                    })?;
                    flags |= b;
                }
                Ok($name { flags })
            }
        }
    };
}

flags! {
    /// The parent command, `RemoveSnapshotCommand`: its row, its registration, its progress.
    ParentFlags: u8 {
        /// The user's request reached `execute()`.
        BEGUN = 0 => begun, set_begun;
        /// `execute()` returned (`command_entities.executed`).
        EXECUTED = 1 => executed, set_executed;
        /// Its end-action ran (`callbackNotified`).
        NOTIFIED = 2 => notified, set_notified;
        /// The poller holds its callback.
        REGISTERED = 3 => registered, set_registered;
        /// A command expired on the way here (the clock passed its lifetime); kept across retries,
        /// as a fact of the run rather than of one parent command.
        EXPIRED = 4 => expired, set_expired;
    }
}

/// The parent command.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Parent {
    pub(crate) status: CmdStatus,
    pub(crate) f: ParentFlags,
}

impl Parent {
    /// The parent's row status (`NoRow`: no row).
    pub fn status(&self) -> CmdStatus {
        self.status
    }

    pub fn flags(&self) -> ParentFlags {
        self.f
    }
}

flags! {
    /// A disk's boolean facts: its child command, its host job and volumes, its place in the snapshot.
    DiskFlags: u16 {
        /// The parent created this disk's child (`executeAsyncCommand`).
        CREATED = 0 => created, set_created;
        /// The child waits in the thread pool's queue (lost on restart).
        QUEUED = 1 => queued, set_queued;
        /// The child's `execute()` returned.
        EXECUTED = 2 => executed, set_executed;
        /// The child's end-action ran.
        NOTIFIED = 3 => notified, set_notified;
        /// The poller holds the child's callback.
        REGISTERED = 4 => registered, set_registered;
        /// The snapshot's configuration still lists this disk.
        IN_SNAPSHOT = 5 => in_snapshot, set_in_snapshot;
        /// The host runs a block-commit job for this disk.
        JOB_RUNNING = 6 => job_running, set_job_running;
        /// The host's chain still has top above base.
        TOP_IN_CHAIN = 7 => top_in_chain, set_top_in_chain;
        /// Top's volume exists on storage.
        TOP_EXISTS = 8 => top_exists, set_top_exists;
        /// Base holds everything top held (the commit completed).
        BASE_HAS_TOP = 9 => base_has_top, set_base_has_top;
        /// A failed DestroyImage is among the child's commands and still counts (4.1.0).
        DESTROY_FAILED = 10 => destroy_failed, set_destroy_failed;
    }
}

/// One disk: its child command `RemoveSnapshotSingleDiskLiveCommand`, the host's view of its
/// volumes, and its `images` rows.
///
/// Field order matters: the derived `Ord` is the canonical order of disks under symmetry.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Disk {
    pub(crate) status: CmdStatus,
    pub(crate) step: Step,
    pub(crate) task: Task,
    pub(crate) images: Images,
    pub(crate) f: DiskFlags,
}

impl Disk {
    /// The child's row status (`NoRow`: no row).
    pub fn status(&self) -> CmdStatus {
        self.status
    }

    /// The child's current step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The current step's grandchild.
    pub fn task(&self) -> Task {
        self.task
    }

    /// The disk's rows in `images`.
    pub fn images(&self) -> Images {
        self.images
    }

    pub fn flags(&self) -> DiskFlags {
        self.f
    }

    /// A disk of a VM with a snapshot: chain `base <- top`, nothing started.
    pub fn initial() -> Disk {
        let mut d = Disk::default();
        d.f.set_in_snapshot(true);
        d.f.set_top_in_chain(true);
        d.f.set_top_exists(true);
        d
    }

    /// The host's chain as the database should describe it: does it still contain top?
    pub fn host_chain_has_top(&self) -> bool {
        self.f.top_in_chain()
    }

    /// The database's image rows describe the host's chain, and every volume they chain exists.
    pub fn db_agrees(&self) -> bool {
        self.images.chain_has_top() == self.f.top_in_chain()
            && (!self.images.chain_has_top() || self.f.top_exists())
    }

    /// Merged on the host: top is out of the chain and base holds its data.
    pub fn host_merged(&self) -> bool {
        !self.f.top_in_chain() && self.f.base_has_top()
    }

    /// A command row exists that has not finished (its end-action has not run).
    pub fn child_unfinished(&self) -> bool {
        self.status != CmdStatus::NoRow && !self.f.notified()
    }
}

/// The whole protocol state. Disks beyond the configuration's count stay at their initial value
/// and are left out when serialized. `Debug` prints the readable summary (the web explorer shows
/// states through `Debug`; it lives with the other descriptions in `describe.rs`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "StateRepr", try_from = "StateRepr")]
pub struct State {
    pub(crate) parent: Parent,
    pub(crate) snapshot: Snapshot,
    /// Engine restarts so far.
    pub(crate) restarts: u8,
    /// Removals of the snapshot the user started again after a failed one.
    pub(crate) retries: u8,
    pub(crate) disks: [Disk; MAX_DISKS],
}

impl State {
    /// A running VM with a snapshot over `n` disks; the user has just asked to remove it.
    pub fn initial(n: usize) -> State {
        // Disks beyond `n` stay all-zero: a configured disk never is (its chain has top, or base
        // holds top's data), which is how `disk_count` tells them apart.
        let mut disks = [Disk::default(); MAX_DISKS];
        for d in disks.iter_mut().take(n) {
            *d = Disk::initial();
        }
        State {
            parent: Parent::default(),
            snapshot: Snapshot::Ok,
            restarts: 0,
            retries: 0,
            disks,
        }
    }

    pub fn parent(&self) -> &Parent {
        &self.parent
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
    }

    /// Engine restarts so far.
    pub fn restarts(&self) -> u8 {
        self.restarts
    }

    /// Removals of the snapshot the user started again after a failed one.
    pub fn retries(&self) -> u8 {
        self.retries
    }

    /// Disk `d` (0-based). Panics when `d >= MAX_DISKS`.
    pub fn disk(&self, d: usize) -> &Disk {
        &self.disks[d]
    }

    /// The first `n` disks: the configured ones when `n` is the configuration's disk count.
    /// Panics when `n > MAX_DISKS`.
    pub fn disks(&self, n: usize) -> &[Disk] {
        &self.disks[..n]
    }

    /// This state's controller (parent, snapshot, counters) over `disks` instead of its own; the
    /// slots beyond them are blank. `--disks any` builds its representative states this way
    /// (controller and disks are tracked apart there). Panics when `disks.len() > MAX_DISKS`.
    pub fn with_disks(&self, disks: &[Disk]) -> State {
        assert!(
            disks.len() <= MAX_DISKS,
            "a state holds at most {MAX_DISKS} disks, not {}",
            disks.len()
        );
        let mut s = *self;
        s.disks = [Disk::default(); MAX_DISKS];
        s.disks[..disks.len()].copy_from_slice(disks);
        s
    }

    /// The state as a fixed string of bytes, one per enum and counter, one or two per flag set,
    /// distinct for distinct states: what the checker hashes into a state's fingerprint, in one
    /// call rather than a call per field. Every field is destructured below, so a field added to
    /// the state without its place here does not compile.
    pub fn packed(&self) -> [u8; PACKED_LEN] {
        let State {
            parent: Parent { status, f },
            snapshot,
            restarts,
            retries,
            disks,
        } = *self;
        let mut out = [0u8; PACKED_LEN];
        out[0] = status as u8;
        out[1] = f.flags;
        out[2] = snapshot as u8;
        out[3] = restarts;
        out[4] = retries;
        for (i, d) in disks.iter().enumerate() {
            let Disk {
                status,
                step,
                task,
                images,
                f,
            } = *d;
            let [lo, hi] = f.flags.to_le_bytes();
            let at = 5 + 6 * i;
            out[at] = status as u8;
            out[at + 1] = step as u8;
            out[at + 2] = task as u8;
            out[at + 3] = images as u8;
            out[at + 4] = lo;
            out[at + 5] = hi;
        }
        out
    }

    /// The parent's `execute()` is running on a thread (begun, not returned, not failed by a restart).
    pub fn parent_executing(&self) -> bool {
        self.parent.f.begun()
            && !self.parent.f.executed()
            && self.parent.status == CmdStatus::Active
    }

    /// How many disks the configuration has: the disks beyond it are all-zero and never touched.
    pub fn disk_count(&self) -> usize {
        self.disks
            .iter()
            .rposition(|d| *d != Disk::default())
            .map_or(0, |i| i + 1)
    }

    /// The removal has ended: the parent's end-action ran.
    pub fn removal_ended(&self) -> bool {
        self.parent.f.notified()
    }

    /// Nothing is in flight: no unfinished command row, no queued work, no parent thread, no host job.
    pub fn idle(&self, n: usize) -> bool {
        let parent_unfinished = self.parent.status != CmdStatus::NoRow && !self.parent.f.notified();
        !parent_unfinished
            && !self.parent_executing()
            && self.disks[..n].iter().all(|d| {
                let grandchild_unfinished = d.task.in_flight() && d.status != CmdStatus::NoRow;
                !(d.child_unfinished()
                    || d.f.queued()
                    || d.f.job_running()
                    || grandchild_unfinished)
            })
    }
}

/// The length of [`State::packed`]: five bytes of controller, six per disk.
pub const PACKED_LEN: usize = 5 + 6 * MAX_DISKS;

/// The serialized form of a [`State`]: only the configured disks.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateRepr {
    parent: Parent,
    snapshot: Snapshot,
    restarts: u8,
    #[serde(default)]
    retries: u8,
    disks: Vec<Disk>,
}

impl From<State> for StateRepr {
    fn from(s: State) -> StateRepr {
        let n = s.disk_count();
        StateRepr {
            parent: s.parent,
            snapshot: s.snapshot,
            restarts: s.restarts,
            retries: s.retries,
            disks: s.disks[..n].to_vec(),
        }
    }
}

impl TryFrom<StateRepr> for State {
    type Error = String;
    fn try_from(r: StateRepr) -> Result<State, String> {
        if r.disks.len() > MAX_DISKS {
            return Err(format!(
                "a state holds at most {MAX_DISKS} disks, this one {}",
                r.disks.len()
            ));
        }
        let mut s = State::initial(0);
        s.parent = r.parent;
        s.snapshot = r.snapshot;
        s.restarts = r.restarts;
        s.retries = r.retries;
        s.disks[..r.disks.len()].copy_from_slice(&r.disks);
        Ok(s)
    }
}
