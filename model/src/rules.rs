//! Every rule that differs between oVirt releases, one function per rule, each with the tag, path
//! and line it was read from (`BLL` = `backend/manager/modules/bll/src/main/java/org/ovirt/engine/
//! core/bll`; read with `git show refs/tags/ovirt-engine-X.Y.Z:BLL/...` in oVirt/ovirt-engine).
//! `step` asks these functions and nothing else about releases; `docs/releases.md` tabulates them.

use crate::config::Release;
use crate::state::{CmdStatus, State, Step};

/// What the parent's `doPolling` decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentDecision {
    /// Poll again later. `waiting_on` is the first child that made it wait.
    Wait { waiting_on: usize },
    /// All children are done: the parent's status becomes SUCCEEDED, or FAILED.
    Done { success: bool },
}

/// The parent's `doPolling` over its created children (`n` disks) under `release`.
///
/// - 3.6.0: `BLL/RemoveSnapshotCommandCallback.java:21-32` at ovirt-engine-3.6.0: ACTIVE waits;
///   FAILED, FAILED_RESTARTED, UNKNOWN count as failed; anything else (NOT_STARTED!) as done.
/// - 3.6.1: the same file at ovirt-engine-3.6.1, l.23: NOT_STARTED waits too (`16d82699a41`).
/// - 4.0.0 on: `BLL/ChildCommandsCallbackBase.java:39-61` at ovirt-engine-4.0.0 (the parent's
///   callback is `ConcurrentChildCommandsExecutionCallback`, `RemoveSnapshotCommand.java:491-493`):
///   NOT_STARTED, ACTIVE, EXECUTION_FAILED wait; FAILED and SUCCEEDED wait until the child's
///   callback is notified (COMMAND_MANAGED children, `RemoveSnapshotCommand.java:247`), then
///   count; ENDED_WITH_FAILURE and UNKNOWN count as failed.
/// - All: success only if no child failed and the parent itself executed
///   (`ChildCommandsCallbackBase.java:93` at 4.0.0; the 3.6 poller only ever polls an executed
///   parent, `tasks/CommandExecutor.java:101-104` at 3.6.0).
pub fn parent_decision(release: Release, s: &State, n: usize) -> ParentDecision {
    let mut any_failed = false;
    for (i, d) in s.disks[..n].iter().enumerate() {
        if !d.f.created() {
            continue;
        }
        let wait = ParentDecision::Wait { waiting_on: i };
        if release >= Release::V4_0_0 {
            match d.status {
                CmdStatus::NotStarted | CmdStatus::Active | CmdStatus::ExecutionFailed => {
                    return wait
                }
                CmdStatus::Failed | CmdStatus::Succeeded if !d.f.notified() => return wait,
                CmdStatus::Failed | CmdStatus::NoRow => any_failed = true,
                CmdStatus::Succeeded => {}
            }
        } else {
            match d.status {
                CmdStatus::Active => return wait,
                CmdStatus::NotStarted if release == Release::V3_6_1 => return wait,
                CmdStatus::Failed | CmdStatus::ExecutionFailed | CmdStatus::NoRow => {
                    any_failed = true
                }
                CmdStatus::NotStarted | CmdStatus::Succeeded => {}
            }
        }
    }
    ParentDecision::Done {
        success: !any_failed && s.parent.f.executed(),
    }
}

/// Whether the poller runs the parent's `doPolling` when the parent is EXECUTION_FAILED.
/// 3.6: never (`tasks/CommandExecutor.java:94-107` at ovirt-engine-3.6.0 dispatches only FAILED,
/// SUCCEEDED and executed ACTIVE). 4.0 on: when `callback.pollOnExecutionFailed()`
/// (`tasks/CommandCallbacksPoller.java:116-119` at ovirt-engine-4.0.0), which is true for the
/// parent's `ChildCommandsCallbackBase` (`ChildCommandsCallbackBase.java:167-170`).
pub fn polls_parent_on_execution_failed(release: Release) -> bool {
    release >= Release::V4_0_0
}

/// Whether the poller runs the child's `doPolling` when the child is EXECUTION_FAILED.
/// Up to 4.0.x the child's callback is a plain `CommandCallback`
/// (`snapshots/RemoveSnapshotSingleDiskLiveCommandCallback.java:10` at ovirt-engine-4.0.0), whose
/// `pollOnExecutionFailed()` is false (`tasks/interfaces/CommandCallback.java:34-36`). From 4.1.0
/// it extends `SerialChildCommandsExecutionCallback` (same file, l.10 at ovirt-engine-4.1.0,
/// `22efca35358`), a `ChildCommandsCallbackBase`: polled, and it then carries on with its steps
/// (`ChildCommandsCallbackBase.java:28-31`: only an ACTIVE, unexecuted command returns early).
pub fn polls_child_on_execution_failed(release: Release) -> bool {
    release >= Release::V4_1_0
}

/// What the child's `doPolling` makes of its current grandchild when that grandchild is
/// EXECUTION_FAILED (FAILED_RESTARTED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnGrandchildExecutionFailed {
    /// The child fails: 3.6 (`RemoveSnapshotSingleDiskLiveCommand.java:107-112` at
    /// ovirt-engine-3.6.1, `case FAILED: case FAILED_RESTARTED:`) and 4.0.x (same file, l.105-118
    /// at ovirt-engine-4.0.0, `case EXECUTION_FAILED`; DESTROY_IMAGE moves on instead, but a
    /// DestroyImage has no callback and never becomes EXECUTION_FAILED).
    FailChild,
    /// The child waits: 4.1.0's `ChildCommandsCallbackBase.doPolling` waits on EXECUTION_FAILED
    /// children (`ChildCommandsCallbackBase.java:39-43` at ovirt-engine-4.1.0).
    Wait,
}

pub fn on_grandchild_execution_failed(release: Release) -> OnGrandchildExecutionFailed {
    if release >= Release::V4_1_0 {
        OnGrandchildExecutionFailed::Wait
    } else {
        OnGrandchildExecutionFailed::FailChild
    }
}

/// Whether an EXECUTION_FAILED grandchild of `step` is polled by its own callback, which then
/// ends it FAILED. Only from 4.1.0, and only `MergeExtendCommand`, whose callback becomes a
/// `ConcurrentChildCommandsExecutionCallback` (`MergeExtendCommand.java:111-113` at
/// ovirt-engine-4.1.0); `MergeCommandCallback` and `MergeStatusCommandCallback` implement
/// `CommandCallback` with the default `pollOnExecutionFailed() == false` (their l.17 and l.10).
pub fn grandchild_polled_on_execution_failed(release: Release, step: Step) -> bool {
    release >= Release::V4_1_0 && step == Step::Extend
}

/// The step after `step` in `release`'s child. 4.0 adds DESTROY_IMAGE_CHECK after DESTROY_IMAGE
/// (`snapshots/RemoveSnapshotSingleDiskLiveCommand.java:145-161` at ovirt-engine-4.0.0); 3.6 goes
/// from DESTROY_IMAGE to COMPLETE (`RemoveSnapshotSingleDiskLiveCommand.java:139-151` at
/// ovirt-engine-3.6.1).
pub fn next_step(release: Release, step: Step) -> Step {
    match step {
        Step::Extend => Step::Merge,
        Step::Merge => Step::MergeStatus,
        Step::MergeStatus => Step::DestroyImage,
        Step::DestroyImage if release >= Release::V4_0_0 => Step::DestroyImageCheck,
        Step::DestroyImage | Step::DestroyImageCheck | Step::Complete => Step::Complete,
    }
}

/// Whether a FAILED DestroyImage grandchild moves the child on to DESTROY_IMAGE_CHECK ("the image
/// may already be destroyed", `RemoveSnapshotSingleDiskLiveCommand.java:105-112` at
/// ovirt-engine-4.0.0) instead of failing the child (3.6: l.107-112 at ovirt-engine-3.6.1).
pub fn failed_destroy_image_is_checked(release: Release) -> bool {
    release >= Release::V4_0_0
}

/// Whether the merge of this child counts as completed for its `onFailed`: from DESTROY_IMAGE on
/// (`completedMerge()`, `RemoveSnapshotSingleDiskLiveCommand.java:199-202` at ovirt-engine-3.6.1,
/// l.209-213 with DESTROY_IMAGE_CHECK at ovirt-engine-4.0.0). Then `onFailed` runs
/// `syncDbRecords(false)`, which also drops the disk from the snapshot's configuration
/// (`updateVmConfigurationForImageRemoval`, l.431 and l.340 at 3.6.1, l.446-447 at 4.0.0);
/// otherwise `syncDbRecordsMergeFailure` marks the images ILLEGAL (l.415 at 3.6.1, l.435 at 4.0.0).
pub fn completed_merge(step: Step) -> bool {
    step >= Step::DestroyImage
}

/// What a restart does to a grandchild that a pool thread was running (`execute()` entered, not
/// returned) and that has no callback (DestroyImage, DestroyImageCheck).
/// 4.0 on: `CommandsRepository.handleUnmanagedCommands` (`tasks/CommandsRepository.java:83-97` at
/// ovirt-engine-4.0.0) turns an ACTIVE command without a callback and without a recorded host task
/// into ENDED_WITH_FAILURE, which fails the step. 3.6 has no such pass
/// (`tasks/CommandExecutor.java:162-176` at ovirt-engine-3.6.0 looks only at callback-enabled
/// rows): the row stays ACTIVE and the child waits on it for ever.
pub fn restart_ends_unmanaged_commands(release: Release) -> bool {
    release >= Release::V4_0_0
}

/// Whether startup compensation puts a snapshot that `RemoveSnapshotCommand.execute()` locked back
/// to OK when a restart hit that `execute()`. The snapshot is locked with compensation data
/// (`snapshots/RemoveSnapshotCommand.java:227-234` at ovirt-engine-4.0.0), removed only after
/// `executeCommand` returns (`CommandBase.java:1343`), and `Backend.initialize()` compensates
/// every command that has such data (`Backend.java:234-235, 387-398`). Up to 4.0.1 the command
/// built for that has no compensation context (`CommandBase(Guid)`, `CommandBase.java:214-217` at
/// ovirt-engine-3.6.0, l.184-188 at ovirt-engine-4.0.0), so `compensate()` throws and is logged;
/// 4.0.2 gives it one (`CommandBase.java:180-185` at ovirt-engine-4.0.2, `cf6d79838f0`).
pub fn startup_compensation_works(release: Release) -> bool {
    release >= Release::V4_0_2
}

/// The step a child starts at: `getInitialMergeStepForImage` (`RemoveSnapshotSingleDiskLiveCommand
/// .java:184-197` at ovirt-engine-3.6.1, l.194-207 at ovirt-engine-4.0.0): an ILLEGAL image with no
/// parent and no children (the orphan left by a merge whose volume removal failed) starts at
/// DESTROY_IMAGE; anything else at EXTEND. The same in every release modelled.
pub fn initial_step(orphaned: bool) -> Step {
    if orphaned {
        Step::DestroyImage
    } else {
        Step::Extend
    }
}
