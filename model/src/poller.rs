//! The parent's `doPolling` rule: from its children's statuses, does it wait, or end with
//! success or failure? One function per rule oVirt shipped, each as written in its code.

use crate::config::PollerRule;
use crate::state::{CmdStatus, State};

/// What the parent's `doPolling` decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentDecision {
    /// Poll again later. `waiting_on` is the first child that made it wait.
    Wait { waiting_on: usize },
    /// All children are done: the parent's status becomes SUCCEEDED, or FAILED.
    Done { success: bool },
}

/// The parent's decision over its created children (`n` disks), under `rule`.
pub fn parent_decision(rule: PollerRule, s: &State, n: usize) -> ParentDecision {
    let mut any_failed = false;
    for (i, d) in s.disks[..n].iter().enumerate() {
        if !d.f.created() {
            continue;
        }
        let wait = ParentDecision::Wait { waiting_on: i };
        match rule {
            // RemoveSnapshotCommandCallback.doPolling before e79ef0dc7fa / 16d82699a41.
            PollerRule::V3_6_0 => match d.status {
                CmdStatus::Active => return wait,
                CmdStatus::Failed | CmdStatus::FailedRestarted | CmdStatus::NoRow => {
                    any_failed = true
                }
                CmdStatus::NotStarted | CmdStatus::Succeeded => {}
            },
            // The fix adds NOT_STARTED to the "wait" case; nothing else changed.
            PollerRule::V3_6_1 => match d.status {
                CmdStatus::Active | CmdStatus::NotStarted => return wait,
                CmdStatus::Failed | CmdStatus::FailedRestarted | CmdStatus::NoRow => {
                    any_failed = true
                }
                CmdStatus::Succeeded => {}
            },
            // ChildCommandsCallbackBase.doPolling: FAILED and FAILED_RESTARTED wait for the
            // child's end-action like SUCCEEDED does; a FAILED_RESTARTED child is never ended
            // by the poller, so it waits forever (BZ 1633777, fixed only in 67a84bfb19f).
            PollerRule::V4_0 => match d.status {
                CmdStatus::Active | CmdStatus::NotStarted => return wait,
                CmdStatus::Failed | CmdStatus::FailedRestarted => {
                    if !d.f.notified() {
                        return wait;
                    }
                    any_failed = true;
                }
                CmdStatus::NoRow => any_failed = true,
                CmdStatus::Succeeded => {
                    if !d.f.notified() {
                        return wait;
                    }
                }
            },
        }
    }
    // childCommandsExecutionEnded succeeds only if the parent itself executed; the 3.6 callback
    // only ever runs doPolling on an executed parent, so the test is the same for all rules.
    ParentDecision::Done {
        success: !any_failed && s.parent.f.executed(),
    }
}
