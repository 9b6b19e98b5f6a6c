//! Every rule that differs between oVirt releases, as data: one [`Rules`] value per release, each
//! written as the release before it plus its differences, with the tag, path and line each
//! difference was read from (`BLL` = `backend/manager/modules/bll/src/main/java/org/ovirt/engine/
//! core/bll`; read with `git show refs/tags/ovirt-engine-X.Y.Z:BLL/...` in oVirt/ovirt-engine).
//! `step` and `wants` read these fields and nothing else about releases; `docs/releases.md`
//! tabulates them (`livemerge rules` prints the table).
//!
//! The releases are not one line of features: 3.5.7 (the 3.5 branch) has the NOT_STARTED fix that
//! 3.6.0 lacks. So no rule compares releases; each reads its release's row.

use crate::config::Release;
use crate::state::{CmdStatus, State, Step};

/// How the parent's callback decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentCallback {
    /// `RemoveSnapshotCommandCallback` before the fix: ACTIVE waits; FAILED, FAILED_RESTARTED,
    /// UNKNOWN count as failed; anything else, NOT_STARTED included, as done (bug 1280160).
    /// `BLL/RemoveSnapshotCommandCallback.java:17-32` at ovirt-engine-3.5.0, l.21-32 at 3.6.0.
    IgnoresNotStarted,
    /// The same with `case NOT_STARTED:` beside ACTIVE (`16d82699a41` on master, `b486baa10e1` on
    /// the 3.5 branch): `RemoveSnapshotCommandCallback.java:21-22` at ovirt-engine-3.5.7, l.23 at
    /// ovirt-engine-3.6.1.
    WaitsOnNotStarted,
    /// `ChildCommandsCallbackBase.doPolling` (`BLL/ChildCommandsCallbackBase.java:39-61` at
    /// ovirt-engine-4.0.0; the parent's callback is `ConcurrentChildCommandsExecutionCallback`,
    /// `snapshots/RemoveSnapshotCommand.java:491-493`): NOT_STARTED, ACTIVE, EXECUTION_FAILED wait;
    /// FAILED and SUCCEEDED wait until the child's callback is notified (COMMAND_MANAGED children,
    /// `RemoveSnapshotCommand.java:247`), then count; ENDED_WITH_FAILURE and UNKNOWN fail.
    Generic,
}

/// What the child's `doPolling` makes of its current grandchild when that grandchild is
/// EXECUTION_FAILED (FAILED_RESTARTED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnGrandchildExecutionFailed {
    /// The child fails: `case FAILED: case FAILED_RESTARTED:` (`RemoveSnapshotSingleDiskLive
    /// Command.java:107-112` at ovirt-engine-3.5.0 and -3.6.1), `case EXECUTION_FAILED` (l.105-118
    /// at ovirt-engine-4.0.0; DESTROY_IMAGE moves on instead, but a DestroyImage has no callback
    /// and never becomes EXECUTION_FAILED).
    FailChild,
    /// The child waits: 4.1.0's `ChildCommandsCallbackBase.doPolling` waits on EXECUTION_FAILED
    /// children (`ChildCommandsCallbackBase.java:39-43` at ovirt-engine-4.1.0).
    Wait,
    /// The child waits only on a COMMAND_MANAGED grandchild (DestroyImage) and fails on any
    /// other (`7180d5137a9`, BZ 1633777: `ChildCommandsCallbackBase.java:51-57` at
    /// ovirt-engine-4.3.0, `shouldExecuteEndMethod`; DestroyImage's parameters are
    /// COMMAND_MANAGED, `RemoveSnapshotSingleDiskCommandBase.java:108` at ovirt-engine-4.2.0).
    FailChildUnlessDestroyImage,
}

/// What the poller and the child's callback do with a child a restart caught before its
/// `execute()` returned (EXECUTION_FAILED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnChildExecutionFailed {
    /// The poller does not dispatch it (`RemoveSnapshotSingleDiskLiveCommandCallback` keeps
    /// `pollOnExecutionFailed() == false`, 3.x and 4.0): it waits for expiry.
    NotPolled,
    /// 4.1.0: polled, its callback carries on with the steps; at the end it is FAILED, since it
    /// never executed (`ChildCommandsCallbackBase.java:28-31, 93` at ovirt-engine-4.1.0).
    CarriesOn,
    /// From 4.2.0 (4.1.1.1 on the 4.1 branch): polled, it ends FAILED at once: `childCommands
    /// ExecutionEnded` runs the next step only for an EXECUTED command (`ca16f24ba0d`;
    /// `SerialChildCommandsExecutionCallback.java:28-54`, `ChildCommandsCallbackBase.java:95-108`
    /// at ovirt-engine-4.2.0).
    EndsFailed,
}

/// The REDUCE_IMAGE step after DESTROY_IMAGE (from 4.2.0), on file storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceImage {
    /// No such step: DESTROY_IMAGE (or DESTROY_IMAGE_CHECK) is followed by COMPLETE.
    NoStep,
    /// A `ReduceImage` grandchild without a callback, which does nothing on a file domain
    /// (`ReduceImageCommand.java:45-49` at ovirt-engine-4.2.0; started unconditionally by
    /// `RemoveSnapshotSingleDiskLiveCommand.java:135-138`).
    Grandchild,
    /// The child validates `ReduceImage` in its poll, which fails for a file domain, and ends
    /// without starting it (`c58e21d8fa2`; `RemoveSnapshotSingleDiskLiveCommand.java:136-150` at
    /// ovirt-engine-4.3.0; `shouldSkipReduceImage`, l.132-140 and 192-196 at ovirt-engine-4.5.7).
    /// The step is still REDUCE_IMAGE when the child ends.
    Skipped,
}

/// When the poller runs a registered callback again (the engine's default follows the release).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollerSchedule {
    /// Every callback on every pass, `AsyncCommandPollingRateInSeconds` (10 s) apart
    /// (`tasks/CommandExecutor.java:49-52, 58-89` at ovirt-engine-3.5.0).
    FixedDelay,
    /// A pass every `AsyncCommandPollingLoopInSeconds` (1 s); each callback's own delay doubles
    /// while its status does not change, up to `AsyncCommandPollingRateInSeconds`, and falls back
    /// to one pass when it does or when a child ends (`3175d5a141`; `tasks/CommandExecutor.java:
    /// 68-76, 85-133` at ovirt-engine-3.6.0).
    CappedBackoff,
}

/// The rules of one release. Read a field's doc for what it decides; the `RULES_*` constants
/// below give each release's values and where they were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub release: Release,
    /// The release this one is written against (`None` for the first).
    pub previous: Option<Release>,
    /// The changes from `previous` that these rules follow, each with its commit in
    /// oVirt/ovirt-engine (and bug, where it names one): what `livemerge history` says fixed or
    /// brought a finding.
    pub changes: &'static [&'static str],
    /// The parent's `doPolling`.
    pub parent_callback: ParentCallback,
    /// The poller runs the parent's `doPolling` when the parent is EXECUTION_FAILED.
    pub polls_parent_on_execution_failed: bool,
    /// What becomes of a child a restart caught inside its `execute()`.
    pub on_child_execution_failed: OnChildExecutionFailed,
    /// What the child does when its current grandchild is EXECUTION_FAILED.
    pub on_grandchild_execution_failed: OnGrandchildExecutionFailed,
    /// An EXECUTION_FAILED MergeExtend grandchild is polled by its own callback, which ends it
    /// FAILED (only MergeExtend's callback polls on EXECUTION_FAILED).
    pub extend_polled_on_execution_failed: bool,
    /// The child's first step is EXTEND (MergeExtend); without it, MERGE.
    pub extend_step: bool,
    /// DESTROY_IMAGE_CHECK follows DESTROY_IMAGE.
    pub destroy_image_check: bool,
    /// REDUCE_IMAGE follows DESTROY_IMAGE (on file storage).
    pub reduce_image: ReduceImage,
    /// A FAILED DestroyImage moves the child on to the next step (DESTROY_IMAGE_CHECK, or from
    /// 4.2 REDUCE_IMAGE: "the image may already be destroyed") instead of failing it.
    pub failed_destroy_image_moves_on: bool,
    /// The child's `doPolling` counts the statuses of all its grandchildren, not only the current
    /// step's: a failed DestroyImage, let through at DESTROY_IMAGE, fails the child once the next
    /// step is done, whatever it found.
    pub earlier_grandchild_failures_count: bool,
    /// `MergeStatusCommand` has a callback (else it is synchronous, and a restart loses a queued
    /// one or ends an executing one like any command without a callback).
    pub merge_status_has_callback: bool,
    /// `DestroyImageCommand` has a callback that polls its SPM task and is polled on
    /// EXECUTION_FAILED; one that never stored its task has none to wait for and ends SUCCEEDED.
    pub destroy_image_has_callback: bool,
    /// DestroyImage persists its placeholder task row before it calls `deleteVolume` (else only
    /// once `deleteVolume` returned a task, so a restart inside its `execute()` finds no task row).
    pub destroy_image_task_row_first: bool,
    /// The child's `execute()` chooses its first step and asks the host for top first
    /// (`GetImageInfo`): no answer (top gone, or any error) makes it start at COMPLETE, which
    /// syncs the rows as if merged. Else the first step is chosen at the child's creation.
    pub initial_step_asks_host: bool,
    /// At startup, an ACTIVE command without a callback and without a recorded host task becomes
    /// ENDED_WITH_FAILURE (else its row stays ACTIVE with nothing to end it).
    pub restart_ends_unmanaged_commands: bool,
    /// Startup compensation puts a snapshot that a restart caught inside the parent's `execute()`
    /// back to OK (else it stays LOCKED).
    pub startup_compensation_works: bool,
    /// A `VM.merge` the host refuses because top is no longer in the chain (`imageErr`,
    /// `mergeErr`) is taken for a running merge, and the flow goes on to verify the chain; else
    /// the Merge grandchild fails.
    pub refused_merge_is_verified: bool,
    /// Every poller pass fails the ACTIVE commands older than their lifetime
    /// (`markExpiredCommandsAsFailure`, `CoCoLifeInMinutes` = 3000).
    pub commands_expire: bool,
    /// When the poller runs a callback again (not a rule of the model: the engine's default).
    pub poller: PollerSchedule,
}

/// 3.5.0 (October 2014), the first release with live merge.
/// - parent: `RemoveSnapshotCommandCallback.java:17-32` at ovirt-engine-3.5.0 (NOT_STARTED falls
///   to `default`);
/// - poller: `tasks/CommandExecutor.java:49-52` (fixed delay), l.65-79 (dispatches FAILED,
///   SUCCEEDED and executed ACTIVE only), l.117-131 (restart: unexecuted callback rows become
///   FAILED_RESTARTED, unnotified ones are registered again); no expiry in that file;
/// - child: `RemoveSnapshotSingleDiskLiveCommand.java:125-149` (MERGE, MERGE_STATUS,
///   DESTROY_IMAGE, COMPLETE: no EXTEND; `getInitialMergeStepForImage` l.157-170 returns MERGE),
///   l.107-112 (a FAILED or FAILED_RESTARTED grandchild fails the child, DESTROY_IMAGE too);
/// - `MergeCommand.java:38-54`: a refused `VM.merge` fails the Merge (no catch);
/// - compensation: `RemoveSnapshotCommand` has no `(Guid)` constructor (l.59 is the only one), so
///   `CommandsFactory.createCommand(String, Guid)` returns null and nothing is compensated.
pub const RULES_3_5_0: Rules = Rules {
    release: Release::V3_5_0,
    previous: None,
    changes: &["the first release with live merge"],
    parent_callback: ParentCallback::IgnoresNotStarted,
    polls_parent_on_execution_failed: false,
    on_child_execution_failed: OnChildExecutionFailed::NotPolled,
    on_grandchild_execution_failed: OnGrandchildExecutionFailed::FailChild,
    extend_polled_on_execution_failed: false,
    extend_step: false,
    destroy_image_check: false,
    reduce_image: ReduceImage::NoStep,
    failed_destroy_image_moves_on: false,
    merge_status_has_callback: true,
    destroy_image_has_callback: false,
    destroy_image_task_row_first: true,
    initial_step_asks_host: false,
    restart_ends_unmanaged_commands: false,
    startup_compensation_works: false,
    refused_merge_is_verified: false,
    commands_expire: false,
    earlier_grandchild_failures_count: false,
    poller: PollerSchedule::FixedDelay,
};

/// 3.5.7 (December 2015), the 3.5 branch's last: 3.5.0 plus
/// - the NOT_STARTED fix, `b486baa10e1` (`RemoveSnapshotCommandCallback.java:21-22` at
///   ovirt-engine-3.5.7);
/// - the EXTEND step, `ec1a3d20df1` (`RemoveSnapshotSingleDiskLiveCommand.java:126-129, 196` at
///   ovirt-engine-3.5.7; `MergeExtendCommand.java:154` gives it a callback).
pub const RULES_3_5_7: Rules = Rules {
    release: Release::V3_5_7,
    previous: Some(Release::V3_5_0),
    changes: &[
        "b486baa10e1 (BZ 1280160): NOT_STARTED children make the parent wait",
        "ec1a3d20df1: the EXTEND step",
    ],
    parent_callback: ParentCallback::WaitsOnNotStarted,
    extend_step: true,
    ..RULES_3_5_0
};

/// 3.6.0 (November 2015): 3.5.0 plus the EXTEND step (`RemoveSnapshotSingleDiskLiveCommand.java:
/// 184-197` at ovirt-engine-3.6.0) and the capped backoff poller (`3175d5a141`,
/// `tasks/CommandExecutor.java:68-76, 126-133`). Still without the NOT_STARTED fix (l.21-32 of
/// its `RemoveSnapshotCommandCallback.java`), without expiry, and with no `(Guid)` constructor in
/// `RemoveSnapshotCommand` (l.60 is the only one): startup compensation never runs
/// (`CommandsFactory.java:102-120`, `Backend.java:394-396` logs "Failed to run compensation").
pub const RULES_3_6_0: Rules = Rules {
    release: Release::V3_6_0,
    previous: Some(Release::V3_5_0),
    changes: &["the EXTEND step", "3175d5a141: the capped-backoff poller"],
    extend_step: true,
    poller: PollerSchedule::CappedBackoff,
    ..RULES_3_5_0
};

/// 3.6.1 (December 2015): 3.6.0 plus
/// - the NOT_STARTED fix, `16d82699a41` (`RemoveSnapshotCommandCallback.java:23`);
/// - expiry: every pass runs `markExpiredCommandsAsFailure` (`tasks/CommandExecutor.java:136-170`
///   at ovirt-engine-3.6.1);
/// - a `RemoveSnapshotCommand(Guid)` constructor (`e9eab6655df`, `RemoveSnapshotCommand.java:
///   69-71`), so startup compensation runs (`CommandBase.java:436-496`) and puts the snapshot
///   back to OK.
pub const RULES_3_6_1: Rules = Rules {
    release: Release::V3_6_1,
    previous: Some(Release::V3_6_0),
    changes: &[
        "16d82699a41 (BZ 1280160): NOT_STARTED children make the parent wait",
        "markExpiredCommandsAsFailure: commands expire",
        "e9eab6655df: startup compensation runs",
    ],
    parent_callback: ParentCallback::WaitsOnNotStarted,
    commands_expire: true,
    startup_compensation_works: true,
    ..RULES_3_6_0
};

/// 4.0.0 (June 2016): 3.6.1 plus
/// - the generic parent callback (`5cad3aa44c2`; `ChildCommandsCallbackBase.java:39-61`), which the
///   poller also polls in EXECUTION_FAILED (`tasks/CommandCallbacksPoller.java:116-119`,
///   `ChildCommandsCallbackBase.java:167-170`);
/// - DESTROY_IMAGE_CHECK (`snapshots/RemoveSnapshotSingleDiskLiveCommand.java:145-161`), which a
///   FAILED DestroyImage moves on to (l.105-112);
/// - `CommandsRepository.handleUnmanagedCommands` (`tasks/CommandsRepository.java:83-97`);
/// - `MergeCommand.executeCommand`'s catch of `imageErr`/`mergeErr` (`MergeCommand.java:58-72`,
///   `06dde159b35`, BZ 1301083): "we consider the merge to be running";
/// - startup compensation throws again: `CommandBase(Guid)` builds no compensation context
///   (`CommandBase.java:515`, `947f05986f1`), the error is logged and the snapshot stays LOCKED.
pub const RULES_4_0_0: Rules = Rules {
    release: Release::V4_0_0,
    previous: Some(Release::V3_6_1),
    changes: &[
        "5cad3aa44c2: the generic parent callback, polled on EXECUTION_FAILED",
        "DESTROY_IMAGE_CHECK",
        "handleUnmanagedCommands",
        "06dde159b35 (BZ 1301083): a refused VM.merge is verified",
        "947f05986f1: startup compensation throws",
    ],
    parent_callback: ParentCallback::Generic,
    polls_parent_on_execution_failed: true,
    destroy_image_check: true,
    failed_destroy_image_moves_on: true,
    restart_ends_unmanaged_commands: true,
    refused_merge_is_verified: true,
    startup_compensation_works: false,
    ..RULES_3_6_1
};

/// 4.0.2 (August 2016): 4.0.0 plus working startup compensation (`cf6d79838f0`, BZ 1350399:
/// `CommandBase.java:180-185` at ovirt-engine-4.0.2 gives the command a compensation context).
pub const RULES_4_0_2: Rules = Rules {
    release: Release::V4_0_2,
    previous: Some(Release::V4_0_0),
    changes: &["cf6d79838f0 (BZ 1350399): startup compensation works"],
    startup_compensation_works: true,
    ..RULES_4_0_0
};

/// 4.1.0 (February 2017): 4.0.2 plus the child's callback as a
/// `SerialChildCommandsExecutionCallback` (`22efca35358`;
/// `snapshots/RemoveSnapshotSingleDiskLiveCommandCallback.java:10` at ovirt-engine-4.1.0), which
/// the poller polls in EXECUTION_FAILED and which then carries on (`ChildCommandsCallbackBase.java:
/// 28-31`) and waits on an EXECUTION_FAILED grandchild (l.39-43); MergeExtend's callback becomes a
/// `ConcurrentChildCommandsExecutionCallback` (`MergeExtendCommand.java:111-113`), polled in
/// EXECUTION_FAILED, while `MergeCommandCallback` (l.17) and `MergeStatusCommandCallback` (l.10)
/// keep `pollOnExecutionFailed() == false`. That `doPolling` loops over every child command of
/// the child (`ChildCommandsCallbackBase.java:36-61`), and `SerialChildCommandsExecutionCallback.
/// java:26-45` ignores a failure only while the step is DESTROY_IMAGE
/// (`RemoveSnapshotSingleDiskLiveCommand.java:56-65`): the failed DestroyImage fails the child at
/// the poll after DESTROY_IMAGE_CHECK.
pub const RULES_4_1_0: Rules = Rules {
    release: Release::V4_1_0,
    previous: Some(Release::V4_0_2),
    changes: &["22efca35358: the child's SerialChildCommandsExecutionCallback (polled on EXECUTION_FAILED, counts every grandchild)"],
    earlier_grandchild_failures_count: true,
    on_child_execution_failed: OnChildExecutionFailed::CarriesOn,
    on_grandchild_execution_failed: OnGrandchildExecutionFailed::Wait,
    extend_polled_on_execution_failed: true,
    ..RULES_4_0_2
};

/// 4.2.0 (December 2017): 4.1.0 plus
/// - an EXECUTION_FAILED child ends FAILED at its first poll (`ca16f24ba0d`;
///   `SerialChildCommandsExecutionCallback.java:28-54`, `ChildCommandsCallbackBase.java:95-108`);
/// - no DESTROY_IMAGE_CHECK; REDUCE_IMAGE after DESTROY_IMAGE, a `ReduceImage` grandchild with no
///   callback that does nothing on file storage (`27e8aed32a0`, `7b10ce7376c`;
///   `snapshots/RemoveSnapshotSingleDiskLiveCommand.java:124-142`, `ReduceImageCommand.java:
///   45-49`); a failed DestroyImage still moves on (`ignoreChildCommandFailure`, l.73-80), now to
///   REDUCE_IMAGE, which `completedMerge()` does not count (l.168-171);
/// - `MergeStatusCommand` without a callback (`418c18cdede`: no `getCallback` in
///   `MergeStatusCommand.java`);
/// - DestroyImage calls `deleteVolume` first and persists its task row only when a task came
///   back (`8a03855c271`; `storage/disk/image/DestroyImageCommand.java:53-69`).
pub const RULES_4_2_0: Rules = Rules {
    release: Release::V4_2_0,
    previous: Some(Release::V4_1_0),
    changes: &[
        "ca16f24ba0d: an EXECUTION_FAILED child ends FAILED at once",
        "27e8aed32a0, 7b10ce7376c (BZ 1168327): REDUCE_IMAGE instead of DESTROY_IMAGE_CHECK",
        "418c18cdede: MergeStatus without a callback",
        "8a03855c271 (BZ 1383301): DestroyImage writes its task row after deleteVolume",
    ],
    on_child_execution_failed: OnChildExecutionFailed::EndsFailed,
    destroy_image_check: false,
    reduce_image: ReduceImage::Grandchild,
    merge_status_has_callback: false,
    destroy_image_task_row_first: false,
    ..RULES_4_1_0
};

/// 4.3.0 (February 2019): 4.2.0 plus
/// - BZ 1633777 (`7180d5137a9`): an EXECUTION_FAILED PARENT_MANAGED grandchild (MergeExtend,
///   Merge, MergeStatus, ReduceImage) fails the child; the COMMAND_MANAGED DestroyImage is still
///   waited on (`ChildCommandsCallbackBase.java:51-57` at ovirt-engine-4.3.0);
/// - REDUCE_IMAGE validated in the poll: on file storage no grandchild (`c58e21d8fa2`;
///   `RemoveSnapshotSingleDiskLiveCommand.java:136-150`, `ReduceImageCommand.java:82-98`).
pub const RULES_4_3_0: Rules = Rules {
    release: Release::V4_3_0,
    previous: Some(Release::V4_2_0),
    changes: &[
        "7180d5137a9 (BZ 1633777): an EXECUTION_FAILED grandchild fails the child",
        "c58e21d8fa2: REDUCE_IMAGE skipped on file storage",
    ],
    on_grandchild_execution_failed: OnGrandchildExecutionFailed::FailChildUnlessDestroyImage,
    reduce_image: ReduceImage::Skipped,
    ..RULES_4_2_0
};

/// 4.4.0 (May 2020): 4.3.0 plus DestroyImage's own callback (`db8f54618b8`, BZ 1637172;
/// `cf9f3043cc5`, BZ 1727025): `storage/disk/image/DestroyImageCommand.java:118-120` and
/// `DestroyImageCommandCallback.java:29-66` at ovirt-engine-4.4.0: it waits while the command's
/// SPM tasks run, ends SUCCEEDED if none failed (with no task at all, too) and is polled on
/// EXECUTION_FAILED. The explicit skip of REDUCE_IMAGE on file storage (`34d5b1c3f71`) keeps
/// 4.3.0's behaviour.
pub const RULES_4_4_0: Rules = Rules {
    release: Release::V4_4_0,
    previous: Some(Release::V4_3_0),
    changes: &["db8f54618b8 (BZ 1637172), cf9f3043cc5 (BZ 1727025): DestroyImage's own callback"],
    destroy_image_has_callback: true,
    ..RULES_4_3_0
};

/// 4.5.7 (December 2025): 4.4.0 plus BZ 1948599 (`9c7e00cbfca`, first in 4.5.2.2): after the
/// orphan test, `getInitialMergeStepForImage` asks `GetImageInfo` for top and starts at COMPLETE
/// when it gets nothing (`snapshots/RemoveSnapshotSingleDiskLiveCommand.java:171-190` at
/// ovirt-engine-4.5.7; `getImageInfoFromVdsm` returns null unless an image came back, and on any
/// `EngineException`, `RemoveSnapshotSingleDiskCommandBase.java:85-100`; the nested
/// `GetVolumeInfo` catches its own errors, so none is retried or failed over,
/// `VB/irsbroker/GetImageInfoVDSCommand.java:19-30` and `VB/VDSCommandBase.java:55-69`, `VB` =
/// `backend/manager/modules/vdsbroker/src/main/java/org/ovirt/engine/core/vdsbroker`);
/// since `fb7f1eb744b` (4.5.3) the child's `execute()` does it (l.58-66).
pub const RULES_4_5_7: Rules = Rules {
    release: Release::V4_5_7,
    previous: Some(Release::V4_4_0),
    changes: &["9c7e00cbfca (BZ 1948599): a child whose top GetImageInfo does not answer starts at COMPLETE"],
    initial_step_asks_host: true,
    ..RULES_4_4_0
};

impl Rules {
    /// Every release's rules, in `Release::ALL`'s order.
    pub const ALL: [Rules; 11] = [
        RULES_3_5_0,
        RULES_3_5_7,
        RULES_3_6_0,
        RULES_3_6_1,
        RULES_4_0_0,
        RULES_4_0_2,
        RULES_4_1_0,
        RULES_4_2_0,
        RULES_4_3_0,
        RULES_4_4_0,
        RULES_4_5_7,
    ];

    /// The rules of `release`.
    pub fn of(release: Release) -> &'static Rules {
        Self::ALL
            .iter()
            .find(|r| r.release == release)
            .expect("every release has its rules")
    }

    /// The step after `step` in this release's child: DESTROY_IMAGE_CHECK after DESTROY_IMAGE
    /// where the release has it (`RemoveSnapshotSingleDiskLiveCommand.java:145-161` at
    /// ovirt-engine-4.0.0; l.139-151 at ovirt-engine-3.6.1 goes straight to COMPLETE).
    /// REDUCE_IMAGE after DESTROY_IMAGE from 4.2.0 (l.124-142 at ovirt-engine-4.2.0).
    pub fn next_step(&self, step: Step) -> Step {
        match step {
            Step::Extend => Step::Merge,
            Step::Merge => Step::MergeStatus,
            Step::MergeStatus => Step::DestroyImage,
            Step::DestroyImage if self.destroy_image_check => Step::DestroyImageCheck,
            Step::DestroyImage if self.reduce_image != ReduceImage::NoStep => Step::ReduceImage,
            Step::DestroyImage | Step::DestroyImageCheck | Step::ReduceImage | Step::Complete => {
                Step::Complete
            }
        }
    }

    /// Whether the step starts a grandchild (REDUCE_IMAGE on file storage from 4.3.0 does not).
    pub fn step_starts_a_grandchild(&self, step: Step) -> bool {
        match step {
            Step::Complete => false,
            Step::ReduceImage => self.reduce_image == ReduceImage::Grandchild,
            _ => true,
        }
    }

    /// The step a child starts at: `getInitialMergeStepForImage` (`RemoveSnapshotSingleDiskLive
    /// Command.java:157-170` at ovirt-engine-3.5.0, l.184-197 at ovirt-engine-3.6.1, l.194-207 at
    /// ovirt-engine-4.0.0): an ILLEGAL image with no parent and no children (the orphan left by a
    /// merge whose volume removal failed) starts at DESTROY_IMAGE; anything else at the first
    /// step, EXTEND where the release has it, else MERGE.
    ///
    /// From 4.5.2.2 a child that is not an orphan asks the host for top first and starts at
    /// COMPLETE when the host has none (`top_answered` false: gone, or no answer); see
    /// [`Rules::initial_step_asks_host`].
    pub fn initial_step(&self, orphaned: bool, top_answered: bool) -> Step {
        if orphaned {
            Step::DestroyImage
        } else if self.initial_step_asks_host && !top_answered {
            Step::Complete
        } else if self.extend_step {
            Step::Extend
        } else {
            Step::Merge
        }
    }

    /// Whether an EXECUTION_FAILED grandchild of `step` is polled by its own callback, which
    /// ends it: MergeExtend's (4.1 on), DestroyImage's (4.4 on).
    pub fn grandchild_polled_on_execution_failed(&self, step: Step) -> bool {
        match step {
            Step::Extend => self.extend_polled_on_execution_failed,
            Step::DestroyImage => self.destroy_image_has_callback,
            _ => false,
        }
    }

    /// The grandchild of this step has a callback, so the poller drives it and a restart before
    /// its `execute()` returned marks it FAILED_RESTARTED/EXECUTION_FAILED. `MergeExtendCommand`
    /// and `MergeCommand` override `getCallback()` in every release; `MergeStatusCommand` until
    /// 4.1 ([`Rules::merge_status_has_callback`]); `DestroyImageCommand` from 4.4
    /// ([`Rules::destroy_image_has_callback`]); `DestroyImageCheckCommand` never (read at
    /// ovirt-engine-3.6.0 and -4.0.0; `27e8aed32a0` removed it before 4.2.0) and
    /// `ReduceImageCommand` never (read at ovirt-engine-4.2.0 and -4.4.0), both under `BLL/`.
    pub fn grandchild_has_callback(&self, step: Step) -> bool {
        match step {
            Step::Extend | Step::Merge => true,
            Step::MergeStatus => self.merge_status_has_callback,
            Step::DestroyImage => self.destroy_image_has_callback,
            Step::DestroyImageCheck | Step::ReduceImage | Step::Complete => false,
        }
    }

    /// The grandchild persists an async-task row before anything else in its `execute()`:
    /// DestroyImage's `persistAsyncTaskPlaceHolder` until 4.1 (`storage/disk/image/
    /// DestroyImageCommand.java:35` at ovirt-engine-4.0.0, l.37 at ovirt-engine-3.6.1), committed
    /// in its own transaction (`CommandBase.java:1613-1630` at 4.0.0) with `vdsm_task_id` =
    /// `Guid.Empty` (`AsyncTaskCreationInfo.java:20-22`). That row is not null, so 4.0's
    /// `handleUnmanagedCommands` (`tasks/CommandsRepository.java:84-96`) leaves the command
    /// ACTIVE; and the async-task manager does not recover the task of a command that never
    /// executed (`isPartiallyExecutedTask`, `tasks/AsyncTaskManager.java:128, 255-257`).
    /// DestroyImageCheck only queries (`DestroyImageCheckCommand.java:27-53`: `SPMGetVolumeInfo`);
    /// MergeStatus reads the chain; ReduceImage does nothing on file storage.
    pub fn grandchild_records_a_task(&self, step: Step) -> bool {
        step == Step::DestroyImage && self.destroy_image_task_row_first
    }

    /// The parent's `doPolling` over its created children (`n` disks). Success needs, besides no
    /// failed child, that the parent itself executed (`ChildCommandsCallbackBase.java:93` at
    /// ovirt-engine-4.0.0; the 3.x poller only ever polls an executed parent,
    /// `tasks/CommandExecutor.java:101-104` at ovirt-engine-3.6.0).
    pub fn parent_decision(&self, s: &State, n: usize) -> ParentDecision {
        let mut any_failed = false;
        for (i, d) in s.disks[..n].iter().enumerate() {
            if !d.f.created() {
                continue;
            }
            let wait = ParentDecision::Wait { waiting_on: i };
            match self.parent_callback {
                ParentCallback::Generic => match d.status {
                    CmdStatus::NotStarted | CmdStatus::Active | CmdStatus::ExecutionFailed => {
                        return wait
                    }
                    CmdStatus::Failed | CmdStatus::Succeeded if !d.f.notified() => return wait,
                    CmdStatus::Failed | CmdStatus::NoRow => any_failed = true,
                    CmdStatus::Succeeded => {}
                },
                ParentCallback::IgnoresNotStarted | ParentCallback::WaitsOnNotStarted => {
                    match d.status {
                        CmdStatus::Active => return wait,
                        CmdStatus::NotStarted
                            if self.parent_callback == ParentCallback::WaitsOnNotStarted =>
                        {
                            return wait
                        }
                        CmdStatus::Failed | CmdStatus::ExecutionFailed | CmdStatus::NoRow => {
                            any_failed = true
                        }
                        CmdStatus::NotStarted | CmdStatus::Succeeded => {}
                    }
                }
            }
        }
        ParentDecision::Done {
            success: !any_failed && s.parent.f.executed(),
        }
    }
}

/// What the parent's `doPolling` decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentDecision {
    /// Poll again later. `waiting_on` is the first child that made it wait.
    Wait { waiting_on: usize },
    /// All children are done: the parent's status becomes SUCCEEDED, or FAILED.
    Done { success: bool },
}

/// The parent's `doPolling` under `release` (see [`Rules::parent_decision`]).
pub fn parent_decision(release: Release, s: &State, n: usize) -> ParentDecision {
    Rules::of(release).parent_decision(s, n)
}

/// Whether the merge of this child counts as completed for its `onFailed`: at DESTROY_IMAGE,
/// DESTROY_IMAGE_CHECK and COMPLETE (`completedMerge()`, `RemoveSnapshotSingleDiskLiveCommand.
/// java:172-175` at ovirt-engine-3.5.0, l.199-202 at ovirt-engine-3.6.1, l.209-213 with
/// DESTROY_IMAGE_CHECK at ovirt-engine-4.0.0; l.168-171 at ovirt-engine-4.2.0 and l.198-201 at
/// ovirt-engine-4.5.7 list DESTROY_IMAGE and COMPLETE, not REDUCE_IMAGE). Then `onFailed` runs
/// `syncDbRecords(false)`, which also drops the disk from the snapshot's configuration
/// (`updateVmConfigurationForImageRemoval`, l.431 and l.340 at 3.6.1, l.446-447 at 4.0.0);
/// otherwise `syncDbRecordsMergeFailure` marks the images ILLEGAL (l.415 at 3.6.1, l.435 at
/// 4.0.0). The same function in every release: each has only the steps it lists.
pub fn completed_merge(step: Step) -> bool {
    matches!(
        step,
        Step::DestroyImage | Step::DestroyImageCheck | Step::Complete
    )
}

/// One row of the rule table: a field of [`Rules`], what it decides, and its value in a release
/// in words.
pub struct RuleRow {
    pub field: &'static str,
    pub decides: &'static str,
    pub value: fn(&Rules) -> String,
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// The rule table, field by field, in the order of [`Rules`]' fields: `livemerge rules` prints it
/// and `docs/releases.md` holds it (generated by `scripts/releases`, checked in CI).
pub const TABLE: &[RuleRow] = &[
    RuleRow {
        field: "parent_callback",
        decides: "the parent's doPolling",
        value: |r| {
            match r.parent_callback {
                ParentCallback::IgnoresNotStarted => "ACTIVE waits; NOT_STARTED and SUCCEEDED count as done; FAILED, FAILED_RESTARTED, UNKNOWN as failed",
                ParentCallback::WaitsOnNotStarted => "NOT_STARTED and ACTIVE wait; SUCCEEDED done; FAILED, FAILED_RESTARTED, UNKNOWN failed",
                ParentCallback::Generic => "NOT_STARTED, ACTIVE, EXECUTION_FAILED wait; FAILED/SUCCEEDED wait for the child's end-action, then count; UNKNOWN failed",
            }
            .to_string()
        },
    },
    RuleRow {
        field: "polls_parent_on_execution_failed",
        decides: "the poller polls an EXECUTION_FAILED parent",
        value: |r| yes_no(r.polls_parent_on_execution_failed),
    },
    RuleRow {
        field: "on_child_execution_failed",
        decides: "a child a restart caught inside its execute() (EXECUTION_FAILED)",
        value: |r| {
            match r.on_child_execution_failed {
                OnChildExecutionFailed::NotPolled => "not polled: waits for expiry",
                OnChildExecutionFailed::CarriesOn => "polled: carries on with its steps, ends FAILED",
                OnChildExecutionFailed::EndsFailed => "polled: ends FAILED at once",
            }
            .to_string()
        },
    },
    RuleRow {
        field: "on_grandchild_execution_failed",
        decides: "the child on an EXECUTION_FAILED grandchild",
        value: |r| {
            match r.on_grandchild_execution_failed {
                OnGrandchildExecutionFailed::FailChild => "fails",
                OnGrandchildExecutionFailed::Wait => "waits",
                OnGrandchildExecutionFailed::FailChildUnlessDestroyImage => {
                    "fails (waits on a DestroyImage)"
                }
            }
            .to_string()
        },
    },
    RuleRow {
        field: "extend_polled_on_execution_failed",
        decides: "an EXECUTION_FAILED MergeExtend is ended FAILED by its own callback",
        value: |r| yes_no(r.extend_polled_on_execution_failed),
    },
    RuleRow {
        field: "extend_step",
        decides: "the child's first step is EXTEND (else MERGE)",
        value: |r| yes_no(r.extend_step),
    },
    RuleRow {
        field: "destroy_image_check",
        decides: "DESTROY_IMAGE_CHECK follows DESTROY_IMAGE",
        value: |r| yes_no(r.destroy_image_check),
    },
    RuleRow {
        field: "reduce_image",
        decides: "REDUCE_IMAGE after DESTROY_IMAGE, on file storage",
        value: |r| {
            match r.reduce_image {
                ReduceImage::NoStep => "no such step",
                ReduceImage::Grandchild => "a ReduceImage grandchild that does nothing",
                ReduceImage::Skipped => "skipped in the child's poll",
            }
            .to_string()
        },
    },
    RuleRow {
        field: "failed_destroy_image_moves_on",
        decides: "a failed DestroyImage moves the child on to the next step (else fails it)",
        value: |r| yes_no(r.failed_destroy_image_moves_on),
    },
    RuleRow {
        field: "earlier_grandchild_failures_count",
        decides: "that failed DestroyImage still fails the child after the next step",
        value: |r| yes_no(r.earlier_grandchild_failures_count),
    },
    RuleRow {
        field: "merge_status_has_callback",
        decides: "MergeStatus has a callback (else a restart loses or ends it like DestroyImageCheck)",
        value: |r| yes_no(r.merge_status_has_callback),
    },
    RuleRow {
        field: "destroy_image_has_callback",
        decides: "DestroyImage has a callback, polled on EXECUTION_FAILED, which then ends it SUCCEEDED (no task to wait for)",
        value: |r| yes_no(r.destroy_image_has_callback),
    },
    RuleRow {
        field: "destroy_image_task_row_first",
        decides: "DestroyImage writes its placeholder task row before deleteVolume (a restart inside it then leaves it ACTIVE)",
        value: |r| yes_no(r.destroy_image_task_row_first),
    },
    RuleRow {
        field: "initial_step_asks_host",
        decides: "the child's execute() asks GetImageInfo for top and starts at COMPLETE without an answer",
        value: |r| yes_no(r.initial_step_asks_host),
    },
    RuleRow {
        field: "restart_ends_unmanaged_commands",
        decides: "a restart ends an executing command with no callback and no task row ENDED_WITH_FAILURE (DestroyImageCheck; a DestroyImage's placeholder task shields it)",
        value: |r| yes_no(r.restart_ends_unmanaged_commands),
    },
    RuleRow {
        field: "startup_compensation_works",
        decides: "a restart inside the parent's execute() puts the snapshot back to OK (else LOCKED)",
        value: |r| yes_no(r.startup_compensation_works),
    },
    RuleRow {
        field: "refused_merge_is_verified",
        decides: "a VM.merge refused because top left the chain is taken for a running merge (else the Merge fails)",
        value: |r| yes_no(r.refused_merge_is_verified),
    },
    RuleRow {
        field: "commands_expire",
        decides: "ACTIVE commands fail after CoCoLifeInMinutes (3000)",
        value: |r| yes_no(r.commands_expire),
    },
    RuleRow {
        field: "poller",
        decides: "the poller's schedule (the engine's default backoff)",
        value: |r| {
            match r.poller {
                PollerSchedule::FixedDelay => "fixed 10 s passes",
                PollerSchedule::CappedBackoff => "1 s passes, capped backoff",
            }
            .to_string()
        },
    },
];
