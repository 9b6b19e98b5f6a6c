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
    /// The parent's `doPolling`.
    pub parent_callback: ParentCallback,
    /// The poller runs the parent's `doPolling` when the parent is EXECUTION_FAILED.
    pub polls_parent_on_execution_failed: bool,
    /// The poller runs the child's `doPolling` when the child is EXECUTION_FAILED, and the child
    /// then carries on with its steps, ending FAILED (it never executed).
    pub polls_child_on_execution_failed: bool,
    /// What the child does when its current grandchild is EXECUTION_FAILED.
    pub on_grandchild_execution_failed: OnGrandchildExecutionFailed,
    /// An EXECUTION_FAILED MergeExtend grandchild is polled by its own callback, which ends it
    /// FAILED (only MergeExtend's callback polls on EXECUTION_FAILED).
    pub extend_polled_on_execution_failed: bool,
    /// The child's first step is EXTEND (MergeExtend); without it, MERGE.
    pub extend_step: bool,
    /// DESTROY_IMAGE_CHECK follows DESTROY_IMAGE.
    pub destroy_image_check: bool,
    /// A FAILED DestroyImage moves the child on to DESTROY_IMAGE_CHECK ("the image may already be
    /// destroyed") instead of failing it.
    pub failed_destroy_image_is_checked: bool,
    /// The child's `doPolling` counts the statuses of all its grandchildren, not only the current
    /// step's: a failed DestroyImage, let through at DESTROY_IMAGE, fails the child once
    /// DESTROY_IMAGE_CHECK is done, whatever the check found.
    pub earlier_grandchild_failures_count: bool,
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
    parent_callback: ParentCallback::IgnoresNotStarted,
    polls_parent_on_execution_failed: false,
    polls_child_on_execution_failed: false,
    on_grandchild_execution_failed: OnGrandchildExecutionFailed::FailChild,
    extend_polled_on_execution_failed: false,
    extend_step: false,
    destroy_image_check: false,
    failed_destroy_image_is_checked: false,
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
    parent_callback: ParentCallback::Generic,
    polls_parent_on_execution_failed: true,
    destroy_image_check: true,
    failed_destroy_image_is_checked: true,
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
    earlier_grandchild_failures_count: true,
    polls_child_on_execution_failed: true,
    on_grandchild_execution_failed: OnGrandchildExecutionFailed::Wait,
    extend_polled_on_execution_failed: true,
    ..RULES_4_0_2
};

impl Rules {
    /// Every release's rules, in `Release::ALL`'s order.
    pub const ALL: [Rules; 7] = [
        RULES_3_5_0,
        RULES_3_5_7,
        RULES_3_6_0,
        RULES_3_6_1,
        RULES_4_0_0,
        RULES_4_0_2,
        RULES_4_1_0,
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
    pub fn next_step(&self, step: Step) -> Step {
        match step {
            Step::Extend => Step::Merge,
            Step::Merge => Step::MergeStatus,
            Step::MergeStatus => Step::DestroyImage,
            Step::DestroyImage if self.destroy_image_check => Step::DestroyImageCheck,
            Step::DestroyImage | Step::DestroyImageCheck | Step::Complete => Step::Complete,
        }
    }

    /// The step a child starts at: `getInitialMergeStepForImage` (`RemoveSnapshotSingleDiskLive
    /// Command.java:157-170` at ovirt-engine-3.5.0, l.184-197 at ovirt-engine-3.6.1, l.194-207 at
    /// ovirt-engine-4.0.0): an ILLEGAL image with no parent and no children (the orphan left by a
    /// merge whose volume removal failed) starts at DESTROY_IMAGE; anything else at the first
    /// step, EXTEND where the release has it, else MERGE.
    pub fn initial_step(&self, orphaned: bool) -> Step {
        if orphaned {
            Step::DestroyImage
        } else if self.extend_step {
            Step::Extend
        } else {
            Step::Merge
        }
    }

    /// Whether an EXECUTION_FAILED grandchild of `step` is polled by its own callback.
    pub fn grandchild_polled_on_execution_failed(&self, step: Step) -> bool {
        self.extend_polled_on_execution_failed && step == Step::Extend
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

/// Whether the merge of this child counts as completed for its `onFailed`: from DESTROY_IMAGE on
/// (`completedMerge()`, `RemoveSnapshotSingleDiskLiveCommand.java:172-175` at ovirt-engine-3.5.0,
/// l.199-202 at ovirt-engine-3.6.1, l.209-213 with DESTROY_IMAGE_CHECK at ovirt-engine-4.0.0).
/// Then `onFailed` runs `syncDbRecords(false)`, which also drops the disk from the snapshot's
/// configuration (`updateVmConfigurationForImageRemoval`, l.431 and l.340 at 3.6.1, l.446-447 at
/// 4.0.0); otherwise `syncDbRecordsMergeFailure` marks the images ILLEGAL (l.415 at 3.6.1, l.435
/// at 4.0.0). The same in every release modelled.
pub fn completed_merge(step: Step) -> bool {
    step >= Step::DestroyImage
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
        field: "polls_child_on_execution_failed",
        decides: "the poller polls an EXECUTION_FAILED child, which carries on and ends FAILED",
        value: |r| yes_no(r.polls_child_on_execution_failed),
    },
    RuleRow {
        field: "on_grandchild_execution_failed",
        decides: "the child on an EXECUTION_FAILED grandchild",
        value: |r| {
            match r.on_grandchild_execution_failed {
                OnGrandchildExecutionFailed::FailChild => "fails",
                OnGrandchildExecutionFailed::Wait => "waits",
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
        field: "failed_destroy_image_is_checked",
        decides: "a failed DestroyImage moves on to DESTROY_IMAGE_CHECK (else fails the child)",
        value: |r| yes_no(r.failed_destroy_image_is_checked),
    },
    RuleRow {
        field: "earlier_grandchild_failures_count",
        decides: "that failed DestroyImage still fails the child after the check",
        value: |r| yes_no(r.earlier_grandchild_failures_count),
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
