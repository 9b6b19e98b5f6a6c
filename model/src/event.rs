//! Everything that can happen in a live merge, as plain values. Disk numbers are 0-based
//! indices; they are shown to people as `disk-1`, `disk-2`, ...

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "event", content = "disk", rename_all = "snake_case")]
pub enum Event {
    /// The user's request enters `RemoveSnapshotCommand.execute()`: ACTIVE, snapshot LOCKED,
    /// callback registered.
    ParentBegins,
    /// `executeAsyncCommand` for the next disk: child row persisted NOT_STARTED, its callback
    /// registered, the command submitted to the thread pool.
    ParentStartsChild,
    /// The parent's `execute()` returns: `executed = true`.
    ParentReturns,
    /// The poller dispatches the parent's callback (doPolling / onSucceeded / onFailed).
    PollParent,
    /// The engine restarts: threads and queued work lost, rows kept, restart rules applied.
    Restart,
    /// After a failed removal, the user removes the snapshot again (a new parent command).
    UserRetries,
    /// A pool thread picks up this disk's queued child and enters `execute()`.
    PoolPicksUp(u8),
    /// The child's `execute()` returns (from 4.5.3 having chosen its first step, asking the host
    /// for top).
    ChildReturns(u8),
    /// Fault: the child's `execute()` returns, its `GetImageInfo` for top having got no answer
    /// although top is there (4.5.7): it starts at COMPLETE.
    ImageInfoFails(u8),
    /// The poller dispatches the child's callback (doPolling advances a step / end-action).
    PollChild(u8),
    /// A pool thread picks up the child's queued grandchild and enters its `execute()`.
    GrandchildPicksUp(u8),
    /// The Merge grandchild's `execute()` calls `VM.merge`: the host starts a block-commit job.
    MergeReachesHost(u8),
    /// The Merge grandchild's `VM.merge` fails because top is no longer in the host's chain
    /// (a retry of a disk the host merged already): the grandchild fails.
    MergeRefused(u8),
    /// The grandchild's `execute()` returns: executed = true.
    GrandchildReturns(u8),
    /// The child's current grandchild command ends (its own end-action has run).
    TaskEnds(u8),
    /// The host's block-commit job for this disk completes: top merged into base, pivoted.
    HostJobEnds(u8),
    /// Fault: the host's block-commit job ends without merging.
    HostJobFails(u8),
    /// Fault: the DESTROY_IMAGE grandchild's `deleteVolume` fails.
    DeleteVolumeFails(u8),
    /// The clock passes the lifetime of the commands of a removal that stopped moving: the
    /// poller's `markExpiredCommandsAsFailure` fails the ACTIVE ones it reaches (from 3.6.1).
    Expire,
}

impl Event {
    /// The disk this event concerns, if any.
    pub fn disk(self) -> Option<usize> {
        match self {
            Event::PoolPicksUp(d)
            | Event::GrandchildPicksUp(d)
            | Event::MergeReachesHost(d)
            | Event::MergeRefused(d)
            | Event::GrandchildReturns(d)
            | Event::ChildReturns(d)
            | Event::ImageInfoFails(d)
            | Event::PollChild(d)
            | Event::TaskEnds(d)
            | Event::HostJobEnds(d)
            | Event::HostJobFails(d)
            | Event::DeleteVolumeFails(d) => Some(d as usize),
            _ => None,
        }
    }

    /// The same event on another disk.
    pub fn with_disk(self, disk: usize) -> Event {
        let d = disk as u8;
        match self {
            Event::PoolPicksUp(_) => Event::PoolPicksUp(d),
            Event::GrandchildPicksUp(_) => Event::GrandchildPicksUp(d),
            Event::MergeReachesHost(_) => Event::MergeReachesHost(d),
            Event::MergeRefused(_) => Event::MergeRefused(d),
            Event::GrandchildReturns(_) => Event::GrandchildReturns(d),
            Event::ChildReturns(_) => Event::ChildReturns(d),
            Event::ImageInfoFails(_) => Event::ImageInfoFails(d),
            Event::PollChild(_) => Event::PollChild(d),
            Event::TaskEnds(_) => Event::TaskEnds(d),
            Event::HostJobEnds(_) => Event::HostJobEnds(d),
            Event::HostJobFails(_) => Event::HostJobFails(d),
            Event::DeleteVolumeFails(_) => Event::DeleteVolumeFails(d),
            other => other,
        }
    }

    /// Every event a configuration with `n` disks can name, in a fixed order.
    pub fn candidates(n: usize) -> impl Iterator<Item = Event> {
        const GLOBAL: [Event; 7] = [
            Event::ParentBegins,
            Event::ParentStartsChild,
            Event::ParentReturns,
            Event::PollParent,
            Event::Restart,
            Event::UserRetries,
            Event::Expire,
        ];
        const PER_DISK: [fn(u8) -> Event; 12] = [
            Event::PoolPicksUp,
            Event::ChildReturns,
            Event::ImageInfoFails,
            Event::PollChild,
            Event::GrandchildPicksUp,
            Event::MergeReachesHost,
            Event::MergeRefused,
            Event::GrandchildReturns,
            Event::TaskEnds,
            Event::HostJobEnds,
            Event::HostJobFails,
            Event::DeleteVolumeFails,
        ];
        GLOBAL
            .into_iter()
            .chain((0..n as u8).flat_map(|d| PER_DISK.into_iter().map(move |mk| mk(d))))
    }
}
