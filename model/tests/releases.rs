//! One test per rule that differs between releases (`model/src/rules.rs`), each on a hand-built
//! state, each naming the line of oVirt's code it follows; and the release-level findings the
//! issue asks to pin: what a restart inside `execute()` leaves, and what the 4.0 liveness bug needs.

mod common;
use common::*;
use livemerge_model::rules::OnChildExecutionFailed;
use livemerge_model::*;
use std::collections::HashSet;

fn all_releases() -> [Release; 11] {
    Release::ALL
}

/// A parent that executed and created one child (disk-1), the child's row as given.
fn parent_with_child(status: CmdStatus, notified: bool) -> State {
    let mut s = Draft::initial(1);
    s.parent.status = CmdStatus::Active;
    s.parent.begun = true;
    s.parent.executed = true;
    s.parent.registered = true;
    s.snapshot = Snapshot::Locked;
    let d = &mut s.disks[0];
    d.status = status;
    d.created = true;
    d.registered = !notified;
    d.notified = notified;
    s.build()
}

/// A child that executed and is at `step` with its grandchild in `task`.
fn child_at(step_: Step, task: Task) -> State {
    let mut s = Draft::of(&parent_with_child(CmdStatus::Active, false));
    let d = &mut s.disks[0];
    d.executed = true;
    d.step = step_;
    d.task = task;
    s.build()
}

// RemoveSnapshotCommandCallback.java:17-32 at ovirt-engine-3.5.0 and l.21-32 at 3.6.0 (NOT_STARTED
// falls to default: done); l.21-22 at ovirt-engine-3.5.7 (b486baa10e1) and l.23 at 3.6.1
// (16d82699a41): NOT_STARTED waits; ChildCommandsCallbackBase.java:39-43 at 4.0.0 (waits).
#[test]
fn parent_rule_not_started_child() {
    let s = parent_with_child(CmdStatus::NotStarted, false);
    for r in all_releases() {
        let want = if matches!(r, Release::V3_5_0 | Release::V3_6_0) {
            ParentDecision::Done { success: true }
        } else {
            ParentDecision::Wait { waiting_on: 0 }
        };
        assert_eq!(parent_decision(r, &s, 1), want, "{r}");
    }
}

// FAILED_RESTARTED counts as failed in 3.6 (RemoveSnapshotCommandCallback.java:26-28 at
// ovirt-engine-3.6.0 and l.28-30 at 3.6.1); EXECUTION_FAILED waits from 4.0
// (ChildCommandsCallbackBase.java:42 at ovirt-engine-4.0.0).
#[test]
fn parent_rule_execution_failed_child() {
    let s = parent_with_child(CmdStatus::ExecutionFailed, false);
    for r in all_releases() {
        let want = if r < Release::V4_0_0 {
            ParentDecision::Done { success: false }
        } else {
            ParentDecision::Wait { waiting_on: 0 }
        };
        assert_eq!(parent_decision(r, &s, 1), want, "{r}");
    }
}

// SUCCEEDED: 3.6 counts it at once (default case, RemoveSnapshotCommandCallback.java:30-31 at
// ovirt-engine-3.6.1); 4.0 waits for its end-action (ChildCommandsCallbackBase.java:55-58,
// shouldWaitForEndMethodsCompletion l.71-81, COMMAND_MANAGED: RemoveSnapshotCommand.java:247).
#[test]
fn parent_rule_succeeded_child_before_its_end_action() {
    let s = parent_with_child(CmdStatus::Succeeded, false);
    for r in all_releases() {
        let want = if r < Release::V4_0_0 {
            ParentDecision::Done { success: true }
        } else {
            ParentDecision::Wait { waiting_on: 0 }
        };
        assert_eq!(parent_decision(r, &s, 1), want, "{r}");
    }
    let ended = parent_with_child(CmdStatus::Succeeded, true);
    for r in all_releases() {
        assert_eq!(
            parent_decision(r, &ended, 1),
            ParentDecision::Done { success: true },
            "{r}"
        );
    }
}

// tasks/CommandExecutor.java:94-107 at ovirt-engine-3.6.0 (no FAILED_RESTARTED case);
// tasks/CommandCallbacksPoller.java:116-119 at ovirt-engine-4.0.0 with
// ChildCommandsCallbackBase.pollOnExecutionFailed() == true (l.167-170).
#[test]
fn poller_dispatches_an_execution_failed_parent_from_4_0() {
    for r in all_releases() {
        let c = cfg(1, r);
        let s = run(&c, &[Event::ParentBegins, Event::Restart]);
        assert_eq!(s.parent().status(), CmdStatus::ExecutionFailed, "{r}");
        let polled = step(&c, &s, Event::PollParent);
        if r >= Release::V4_0_0 {
            let t = polled.unwrap_or_else(|e| panic!("{r}: {e}")).0;
            assert_eq!(
                t.parent().status(),
                CmdStatus::Failed,
                "{r}: never executed"
            );
        } else {
            assert!(polled.is_err(), "{r}");
            assert!(enabled(&c, &s).is_empty(), "{r}: stuck for ever");
        }
    }
}

// RemoveSnapshotSingleDiskLiveCommandCallback.java:10 extends CommandCallback at
// ovirt-engine-4.0.0 (pollOnExecutionFailed() false, CommandCallback.java:34-36), and
// SerialChildCommandsExecutionCallback at ovirt-engine-4.1.0 (22efca35358), which carries on;
// from 4.2.0 it runs the next step only for an EXECUTED command (ca16f24ba0d,
// SerialChildCommandsExecutionCallback.java:28-54 at ovirt-engine-4.2.0): FAILED at once.
#[test]
fn poller_dispatches_an_execution_failed_child_from_4_1() {
    let mut s = Draft::of(&parent_with_child(CmdStatus::ExecutionFailed, false));
    s.disks[0].registered = true;
    let s = s.build();
    for r in all_releases() {
        let c = cfg(1, r);
        let polled = step(&c, &s, Event::PollChild(0));
        let rule = Rules::of(r).on_child_execution_failed;
        assert_eq!(
            rule,
            match r {
                Release::V4_1_0 => OnChildExecutionFailed::CarriesOn,
                r if r >= Release::V4_2_0 => OnChildExecutionFailed::EndsFailed,
                _ => OnChildExecutionFailed::NotPolled,
            },
            "{r}"
        );
        match rule {
            OnChildExecutionFailed::CarriesOn => {
                let t = polled.unwrap().0;
                assert_eq!(t.disk(0).task(), Task::Queued, "it starts EXTEND");
                assert_eq!(t.disk(0).status(), CmdStatus::ExecutionFailed);
            }
            OnChildExecutionFailed::EndsFailed => {
                let t = polled.unwrap().0;
                assert_eq!(t.disk(0).task(), Task::None, "{r}: no grandchild");
                assert_eq!(t.disk(0).status(), CmdStatus::Failed, "{r}");
            }
            OnChildExecutionFailed::NotPolled => assert!(polled.is_err(), "{r}"),
        }
    }
}

// 4.1.0's child ends FAILED at COMPLETE when it never executed: ChildCommandsCallbackBase.java:93
// (taskGroupSuccess needs EXECUTED) via SerialChildCommandsExecutionCallback.
#[test]
fn an_execution_failed_child_that_carries_on_ends_failed_in_4_1() {
    let c = cfg(1, Release::V4_1_0);
    let mut s = Draft::of(&child_at(Step::DestroyImageCheck, Task::Succeeded));
    s.disks[0].status = CmdStatus::ExecutionFailed;
    s.disks[0].executed = false;
    let s = s.build();
    let t = step(&c, &s, Event::PollChild(0)).unwrap().0;
    assert_eq!(t.disk(0).step(), Step::Complete);
    assert_eq!(t.disk(0).status(), CmdStatus::Failed);
}

// RemoveSnapshotSingleDiskLiveCommand.java:107-112 at ovirt-engine-3.6.1 (FAILED_RESTARTED fails
// the child); l.105-118 at ovirt-engine-4.0.0 (EXECUTION_FAILED fails it); 4.1.0's and 4.2.0's
// ChildCommandsCallbackBase.java:39-43 (l.44-48 at 4.2.0) wait; from 4.3.0 (7180d5137a9,
// l.51-57) a PARENT_MANAGED grandchild fails it and the COMMAND_MANAGED DestroyImage is waited on.
#[test]
fn child_rule_execution_failed_grandchild() {
    let merge = child_at(Step::Merge, Task::ExecutionFailed);
    let destroy = child_at(Step::DestroyImage, Task::ExecutionFailed);
    for r in all_releases() {
        let c = cfg(1, r);
        let polled = step(&c, &merge, Event::PollChild(0));
        if r == Release::V4_1_0 || r == Release::V4_2_0 {
            assert!(polled.is_err(), "{r}: waits");
        } else {
            assert_eq!(polled.unwrap().0.disk(0).status(), CmdStatus::Failed, "{r}");
        }
        let polled = step(&c, &destroy, Event::PollChild(0));
        assert_eq!(polled.is_err(), r >= Release::V4_1_0, "{r}");
    }
}

// MergeExtendCommand.java:111-113 at ovirt-engine-4.1.0: its callback is a
// ConcurrentChildCommandsExecutionCallback, polled on EXECUTION_FAILED; MergeCommandCallback
// (l.17) is not.
#[test]
fn grandchild_callback_ends_an_execution_failed_merge_extend_in_4_1() {
    for r in all_releases() {
        let c = cfg(1, r);
        let extend = step(
            &c,
            &child_at(Step::Extend, Task::ExecutionFailed),
            Event::TaskEnds(0),
        );
        let merge = step(
            &c,
            &child_at(Step::Merge, Task::ExecutionFailed),
            Event::TaskEnds(0),
        );
        assert!(merge.is_err(), "{r}");
        if r >= Release::V4_1_0 {
            assert_eq!(extend.unwrap().0.disk(0).task(), Task::Failed);
        } else {
            assert!(extend.is_err(), "{r}");
        }
    }
}

// RemoveSnapshotSingleDiskLiveCommand.java:139-151 at ovirt-engine-3.6.1 (DESTROY_IMAGE ->
// COMPLETE); l.145-161 at ovirt-engine-4.0.0 (DESTROY_IMAGE -> DESTROY_IMAGE_CHECK); l.124-138
// at ovirt-engine-4.2.0 (-> REDUCE_IMAGE, a ReduceImage grandchild); l.136-150 at
// ovirt-engine-4.3.0 (REDUCE_IMAGE starts nothing on file storage: the child ends there).
#[test]
fn child_steps_after_destroy_image() {
    let s = child_at(Step::DestroyImage, Task::Succeeded);
    for r in all_releases() {
        let t = step(&cfg(1, r), &s, Event::PollChild(0)).unwrap().0;
        if r >= Release::V4_3_0 {
            assert_eq!(
                (t.disk(0).step(), t.disk(0).task(), t.disk(0).status()),
                (Step::ReduceImage, Task::None, CmdStatus::Succeeded),
                "{r}"
            );
        } else if r == Release::V4_2_0 {
            assert_eq!(
                (t.disk(0).step(), t.disk(0).task()),
                (Step::ReduceImage, Task::Queued)
            );
        } else if r >= Release::V4_0_0 {
            assert_eq!(
                (t.disk(0).step(), t.disk(0).task()),
                (Step::DestroyImageCheck, Task::Queued)
            );
        } else {
            assert_eq!(
                (t.disk(0).step(), t.disk(0).status()),
                (Step::Complete, CmdStatus::Succeeded)
            );
        }
    }
}

// A failed DestroyImage: RemoveSnapshotSingleDiskLiveCommand.java:107-112 at ovirt-engine-3.6.1
// (child FAILED); l.105-112 at ovirt-engine-4.0.0 ("the image may already be destroyed": on to
// DESTROY_IMAGE_CHECK).
#[test]
fn a_failed_destroy_image_is_checked_from_4_0() {
    let s = child_at(Step::DestroyImage, Task::Failed);
    for r in all_releases() {
        let t = step(&cfg(1, r), &s, Event::PollChild(0)).unwrap().0;
        if r >= Release::V4_3_0 {
            // On to REDUCE_IMAGE, which starts nothing; the failure still counts: FAILED at a
            // step completedMerge() does not list (l.198-201 at ovirt-engine-4.5.7).
            assert_eq!(t.disk(0).step(), Step::ReduceImage, "{r}");
            assert_eq!(t.disk(0).status(), CmdStatus::Failed, "{r}");
        } else if r == Release::V4_2_0 {
            assert_eq!(t.disk(0).step(), Step::ReduceImage, "{r}");
            assert_eq!(t.disk(0).status(), CmdStatus::Active, "{r}");
        } else if r >= Release::V4_0_0 {
            assert_eq!(t.disk(0).step(), Step::DestroyImageCheck, "{r}");
            assert_eq!(t.disk(0).status(), CmdStatus::Active, "{r}");
        } else {
            assert_eq!(t.disk(0).status(), CmdStatus::Failed, "{r}");
        }
    }
}

// 4.1.0's child polls every grandchild (ChildCommandsCallbackBase.java:36-61 at
// ovirt-engine-4.1.0) and ignores a failure only at DESTROY_IMAGE
// (RemoveSnapshotSingleDiskLiveCommand.java:56-65; SerialChildCommandsExecutionCallback.java:
// 26-45): after a failed DestroyImage the child ends FAILED even when DESTROY_IMAGE_CHECK finds
// the volume gone. 4.0.x looks at the current step's grandchild only
// (RemoveSnapshotSingleDiskLiveCommand.java:79-125 at ovirt-engine-4.0.0) and completes.
#[test]
fn a_failed_destroy_image_still_fails_the_4_1_child_after_the_check() {
    let s = child_at(Step::DestroyImage, Task::Failed);
    for r in [Release::V4_0_0, Release::V4_0_2, Release::V4_1_0] {
        let c = cfg(1, r);
        let mut t = Draft::of(&step(&c, &s, Event::PollChild(0)).unwrap().0);
        assert_eq!(t.disks[0].step, Step::DestroyImageCheck, "{r}");
        t.disks[0].task = Task::Succeeded;
        t.disks[0].top_exists = false;
        let t = step(&c, &t.build(), Event::PollChild(0)).unwrap().0;
        let want = if Rules::of(r).earlier_grandchild_failures_count {
            CmdStatus::Failed
        } else {
            CmdStatus::Succeeded
        };
        assert_eq!(t.disk(0).status(), want, "{r}");
        assert_eq!(r == Release::V4_1_0, want == CmdStatus::Failed);
    }
}

// tasks/CommandsRepository.java:83-97 at ovirt-engine-4.0.0: an ACTIVE command without a callback
// that no async-task row names becomes ENDED_WITH_FAILURE at startup (a DestroyImage's placeholder
// row, DestroyImageCommand.java:35, names it from its first line); 3.x has no such pass
// (tasks/CommandExecutor.java:117-131 at ovirt-engine-3.5.0, l.162-176 at 3.6.0 look at callback
// rows only): its row stays ACTIVE with no thread (Stranded), which only expiry can end.
#[test]
fn restart_of_an_executing_destroy_image() {
    let s = child_at(Step::DestroyImage, Task::Executing);
    for r in all_releases() {
        let t = step(&cfg(1, r), &s, Event::Restart).unwrap().0;
        // Until 4.1 its placeholder task row shields it from handleUnmanagedCommands: ACTIVE, no
        // thread. 4.2 and 4.3 write the row after deleteVolume returned (DestroyImageCommand.
        // java:53-69 at ovirt-engine-4.2.0): ended with failure. From 4.4 it has a callback:
        // EXECUTION_FAILED.
        let want = match r {
            r if r >= Release::V4_4_0 => Task::ExecutionFailed,
            r if r >= Release::V4_2_0 => Task::Failed,
            _ => Task::Stranded,
        };
        assert_eq!(t.disk(0).task(), want, "{r}");
        // A DestroyImageCheck records no task: from 4.0 it ends with failure.
        let check = step(
            &cfg(1, r),
            &child_at(Step::DestroyImageCheck, Task::Executing),
            Event::Restart,
        )
        .unwrap()
        .0;
        let want = if r >= Release::V4_0_0 {
            Task::Failed
        } else {
            Task::Stranded
        };
        assert_eq!(check.disk(0).task(), want, "{r}");
        // A queued one is lost until 4.4: no callback, its row stays NOT_STARTED.
        let q = step(
            &cfg(1, r),
            &child_at(Step::DestroyImage, Task::Queued),
            Event::Restart,
        );
        let want = if r >= Release::V4_4_0 {
            Task::ExecutionFailed
        } else {
            Task::Lost
        };
        assert_eq!(q.unwrap().0.disk(0).task(), want, "{r}");
        // A queued Merge has a callback: FAILED_RESTARTED / EXECUTION_FAILED.
        let m = step(
            &cfg(1, r),
            &child_at(Step::Merge, Task::Queued),
            Event::Restart,
        );
        assert_eq!(m.unwrap().0.disk(0).task(), Task::ExecutionFailed, "{r}");
    }
}

// 3.5.x and 3.6.0: RemoveSnapshotCommand has no (Guid) constructor (RemoveSnapshotCommand.java:59
// at ovirt-engine-3.5.0, l.56 at 3.5.7, l.60 at 3.6.0), CommandsFactory.createCommand(String,
// Guid) returns null (CommandsFactory.java:102-120 at 3.6.0) and nothing is compensated
// (Backend.java:394-396 logs it). 3.6.1 has one (l.69-71, e9eab6655df) and compensates. 4.0.0's
// CommandBase(Guid) builds no compensation context (CommandBase.java:515, 947f05986f1): it
// throws; 4.0.2 fixes that (CommandBase.java:180-185, cf6d79838f0).
#[test]
fn startup_compensation_unlocks_the_snapshot_in_3_6_1_and_from_4_0_2() {
    for r in all_releases() {
        let s = run(&cfg(1, r), &[Event::ParentBegins, Event::Restart]);
        let want = if r == Release::V3_6_1 || r >= Release::V4_0_2 {
            Snapshot::Ok
        } else {
            Snapshot::Locked
        };
        assert_eq!(s.snapshot(), want, "{r}");
    }
}

// The case: on 4.0.2 a restart inside execute() with no child created ends the removal
// FAILED with the snapshot OK.
#[test]
fn a_restart_inside_execute_with_no_child_ends_failed_with_the_snapshot_ok_on_4_0_2() {
    let c = cfg(2, Release::V4_0_2);
    let s = run(
        &c,
        &[
            Event::ParentBegins,
            Event::Restart,
            Event::PollParent, // doPolling on EXECUTION_FAILED: no child waits -> FAILED
            Event::PollParent, // onFailed -> endVmCommand
        ],
    );
    assert!(s.removal_ended());
    assert_eq!(s.snapshot(), Snapshot::Ok);
    assert!(s
        .disks(2)
        .iter()
        .all(|d| d.flags().top_in_chain() && d.db_agrees()));
    assert!(enabled(&c, &s).iter().all(|e| *e == Event::UserRetries));
}

// completedMerge() (RemoveSnapshotSingleDiskLiveCommand.java:199-202 at ovirt-engine-3.6.1,
// l.209-213 at ovirt-engine-4.0.0) decides onFailed: syncDbRecords(false), which drops the disk
// from the snapshot (l.431, l.340 at 3.6.1; l.446-447 at 4.0.0), or syncDbRecordsMergeFailure.
#[test]
fn child_on_failed_after_and_before_a_completed_merge() {
    for r in all_releases() {
        let c = cfg(1, r);
        let last = if r >= Release::V4_0_0 {
            Step::DestroyImageCheck
        } else {
            Step::DestroyImage
        };
        let mut s = Draft::of(&child_at(last, Task::Failed));
        s.disks[0].status = CmdStatus::Failed;
        let s = s.build();
        let t = step(&c, &s, Event::PollChild(0)).unwrap().0;
        assert_eq!(t.disk(0).images(), Images::MergedOrphan, "{r}");
        assert!(!t.disk(0).flags().in_snapshot(), "{r}");
        let mut s = Draft::of(&child_at(Step::MergeStatus, Task::Failed));
        s.disks[0].status = CmdStatus::Failed;
        let s = s.build();
        let t = step(&c, &s, Event::PollChild(0)).unwrap().0;
        assert_eq!(t.disk(0).images(), Images::TopIllegal, "{r}");
        assert!(t.disk(0).flags().in_snapshot(), "{r}");
    }
}

// RemoveSnapshotCommand.java:271-291 at ovirt-engine-4.0.0: the parent's failure path loops over
// getImagesParameters(), empty on the live path; it drops no disk.
#[test]
fn the_parent_failure_path_drops_no_disk() {
    for r in all_releases() {
        let mut s = Draft::of(&parent_with_child(CmdStatus::Succeeded, true));
        s.parent.status = CmdStatus::Failed;
        s.disks[0].images = Images::TopIllegal;
        let s = s.build();
        let t = step(&cfg(1, r), &s, Event::PollParent).unwrap().0;
        assert_eq!(t.snapshot(), Snapshot::Ok);
        assert!(t.disk(0).flags().in_snapshot(), "{r}");
    }
}

// getInitialMergeStepForImage (RemoveSnapshotSingleDiskLiveCommand.java:184-197 at
// ovirt-engine-3.6.1, l.194-207 at ovirt-engine-4.0.0): an orphaned ILLEGAL image starts at
// DESTROY_IMAGE; a retry of a merged disk whose rows still list top starts at EXTEND and its
// VM.merge fails.
#[test]
fn a_retry_starts_where_get_initial_merge_step_says() {
    for r in all_releases() {
        let c = cfg(2, r);
        let mut s = Draft::initial(2);
        s.parent.begun = true;
        s.parent.notified = true;
        s.disks[0].images = Images::MergedOrphan;
        s.disks[0].in_snapshot = false;
        s.disks[0].top_in_chain = false;
        s.disks[0].base_has_top = true;
        s.disks[1].images = Images::TopIllegal;
        s.disks[1].top_in_chain = false;
        s.disks[1].base_has_top = true;
        let t = run_from(
            &c,
            s.build(),
            &[
                Event::UserRetries,
                Event::ParentBegins,
                Event::ParentStartsChild,
                Event::ParentStartsChild,
            ],
        );
        assert_eq!(t.retries(), 1);
        // From 4.5.3 the child's execute() chooses the first step (disk-2's is EXTEND either
        // way: its top is there).
        let t = if Rules::of(r).initial_step_asks_host {
            run_from(&c, t, &[Event::PoolPicksUp(0), Event::ChildReturns(0)])
        } else {
            t
        };
        assert_eq!(t.disk(0).step(), Step::DestroyImage, "{r}");
        if !Rules::of(r).extend_step {
            // 3.5.0 starts at MERGE (RemoveSnapshotSingleDiskLiveCommand.java:169 at 3.5.0).
            assert_eq!(t.disk(1).step(), Step::Merge, "{r}");
            continue;
        }
        assert_eq!(t.disk(1).step(), Step::Extend, "{r}");
        let t = run_from(
            &c,
            t,
            &[
                Event::PoolPicksUp(1),
                Event::ChildReturns(1),
                Event::PollChild(1),
                Event::GrandchildReturns(1),
                Event::TaskEnds(1),
                Event::PollChild(1),
            ],
        );
        assert_eq!(
            step(&c, &t, Event::MergeReachesHost(1)).err(),
            Some(Refused("top is no longer in the host's chain"))
        );
        let t = step(&c, &t, Event::MergeRefused(1)).unwrap().0;
        // MergeCommand.java:37-53 at ovirt-engine-3.6.1 has no catch: the Merge fails. From
        // 4.0.0 (l.58-72, 06dde159b35) imageErr/mergeErr count as a running merge.
        let want = if r >= Release::V4_0_0 {
            Task::Executing
        } else {
            Task::Failed
        };
        assert_eq!(t.disk(1).task(), want, "{r}");
    }
}

// 3.6.0 only: a pool thread whose child row the parent's end-action deleted re-creates it
// (CommandBase.java:1376-1384 at ovirt-engine-3.6.0, CommandsCacheImpl.java:61-64).
#[test]
fn a_3_6_0_pool_thread_recreates_a_deleted_row() {
    let c = cfg(1, Release::V3_6_0);
    let mut events = parent_polls_before_pickup();
    events.push(Event::PollParent);
    let s = run(&c, &events);
    assert_eq!(s.disk(0).status(), CmdStatus::NoRow);
    let t = step(&c, &s, Event::PoolPicksUp(0)).unwrap().0;
    assert_eq!(t.disk(0).status(), CmdStatus::Active);
    // In the fixed releases the parent never ends while a child is queued.
    for r in [
        Release::V3_5_7,
        Release::V3_6_1,
        Release::V4_0_0,
        Release::V4_0_2,
        Release::V4_1_0,
    ] {
        let c = cfg(1, r);
        let s = run(&c, &events[..3]);
        assert!(step(&c, &s, Event::PollParent).is_err(), "{r}");
    }
}

/// Every reachable state of `c` (no symmetry: concrete disks), skipping the events `skip` refuses.
fn reachable(c: &Config, skip: impl Fn(&State, Event) -> bool) -> HashSet<State> {
    let init = State::initial(c.n());
    let mut seen = HashSet::from([init]);
    let mut todo = vec![init];
    while let Some(s) = todo.pop() {
        for (e, t) in successors(c, &s) {
            if !skip(&s, e) && seen.insert(t) {
                todo.push(t);
            }
        }
    }
    seen
}

/// A removal that can go no further (nothing but perhaps a retry is enabled) and has not ended.
fn stuck(c: &Config, s: &State) -> bool {
    !s.removal_ended() && enabled(c, s).is_empty()
}

fn child_not_executed(s: &State, n: usize) -> bool {
    s.disks(n).iter().any(|d| {
        matches!(d.status(), CmdStatus::NotStarted | CmdStatus::Active) && !d.flags().executed()
    })
}

fn queued_grandchild_without_callback(r: Release, s: &State, n: usize) -> bool {
    let rules = Rules::of(r);
    s.disks(n).iter().any(|d| {
        !rules.grandchild_has_callback(d.step())
            && (d.task() == Task::Queued
                || d.task() == Task::Executing && rules.grandchild_records_a_task(d.step()))
    })
}

// The real 4.0 liveness bug: a child queued (or inside its execute()) at the restart becomes
// EXECUTION_FAILED, its callback is never polled in that status, and the parent waits on it for
// ever: an EXECUTION_FAILED row is never ACTIVE, so expiry never reaches it
// (tasks/CommandsRepository.java:327-329 at ovirt-engine-4.0.0). The model finds a second way in
// the same release: a queued DestroyImage or DestroyImageCheck has no callback, so a restart loses
// it with its row NOT_STARTED (or strands an executing DestroyImage, ACTIVE with no thread) and
// its child waits on it; that child is ACTIVE, and expiry fails it after CoCoLifeInMinutes: a
// hang of 50 hours, not for ever. Without a restart that catches
// one of these two, every removal ends before any command expires.
#[test]
fn the_4_0_liveness_bug_needs_a_child_caught_before_it_executed() {
    for r in [Release::V4_0_0, Release::V4_0_2] {
        for n in 1..=2u8 {
            let c = Config {
                retries: 0,
                ..cfg(n, r)
            };
            let all = reachable(&c, |_, _| false);
            let stuck_states: Vec<_> = all.iter().filter(|s| stuck(&c, s)).collect();
            let by_child = |s: &State| {
                s.disks(c.n())
                    .iter()
                    .any(|d| d.status() == CmdStatus::ExecutionFailed)
            };
            let by_grandchild = |s: &State| s.disks(c.n()).iter().any(|d| d.task() == Task::Lost);
            assert!(stuck_states.iter().any(|s| by_child(s)), "{r}, {n} disks");
            for s in &stuck_states {
                assert!(by_child(s), "{r}: stuck otherwise: {s:?}");
            }
            // The lost grandchild's hang ends by expiry.
            let expiring: Vec<_> = all
                .iter()
                .filter(|s| by_grandchild(s) && step(&c, s, Event::Expire).is_ok())
                .collect();
            assert!(!expiring.is_empty(), "{r}, {n} disks");
            assert!(all
                .iter()
                .any(|s| s.parent().flags().expired() && s.removal_ended()));
            // The shortest stuck path is the queued child's: begin, start a child, restart.
            let three = run(&c, &[Event::ParentBegins, Event::ParentStartsChild]);
            let three = step(&c, &three, Event::Restart).unwrap().0;
            assert!(n > 1 || stuck(&c, &three), "{r}");
            let calm = reachable(&c, |s, e| {
                e == Event::Restart
                    && (child_not_executed(s, c.n())
                        || queued_grandchild_without_callback(r, s, c.n()))
            });
            assert!(
                !calm
                    .iter()
                    .any(|s| stuck(&c, s) || step(&c, s, Event::Expire).is_ok()),
                "{r}, {n} disks: stuck although no restart caught an unexecuted child"
            );
        }
    }
}
