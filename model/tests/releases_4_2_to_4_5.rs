//! The rule differences of 4.2.0, 4.3.0, 4.4.0 and 4.5.7, each on hand-built states, with the
//! lines of oVirt's code they follow (`BLL` = backend/manager/modules/bll/src/main/java/org/
//! ovirt/engine/core/bll, at `refs/tags/ovirt-engine-X.Y.Z`).

mod common;

use common::{cfg, hung as child_at};
use livemerge_model::rules::ReduceImage;
use livemerge_model::*;

fn after(r: Release, s: &Draft, e: Event) -> Result<(State, Transition), Refused> {
    step(&cfg(1, r), &s.build(), e)
}

// 418c18cdede: MergeStatusCommand has no getCallback from 4.2.0 (BLL/MergeStatusCommand.java at
// ovirt-engine-4.2.0; MergeStatusCommandCallback.java, l.10, is gone). Without a callback a restart
// loses a queued one (its row stays NOT_STARTED) and handleUnmanagedCommands ends an executing one
// with failure (tasks/CommandsRepository.java:84-97 at ovirt-engine-4.5.7).
#[test]
fn merge_status_without_a_callback_from_4_2() {
    for r in Release::ALL {
        let has = r < Release::V4_2_0;
        assert_eq!(
            Rules::of(r).grandchild_has_callback(Step::MergeStatus),
            has,
            "{r}"
        );
        let queued = after(
            r,
            &child_at(Step::MergeStatus, Task::Queued),
            Event::Restart,
        )
        .unwrap()
        .0;
        let executing = after(
            r,
            &child_at(Step::MergeStatus, Task::Executing),
            Event::Restart,
        )
        .unwrap()
        .0;
        if has {
            assert_eq!(queued.disk(0).task(), Task::ExecutionFailed, "{r}");
            assert_eq!(executing.disk(0).task(), Task::ExecutionFailed, "{r}");
        } else {
            assert_eq!(queued.disk(0).task(), Task::Lost, "{r}");
            assert_eq!(executing.disk(0).task(), Task::Failed, "{r}");
            // A pool thread picks it up first: it is queued and executing apart.
            assert!(after(
                r,
                &child_at(Step::MergeStatus, Task::Queued),
                Event::GrandchildPicksUp(0)
            )
            .is_ok());
        }
    }
}

// cf9f3043cc5 (BZ 1727025): DestroyImageCommandCallback.java:29-66 at ovirt-engine-4.4.0 is polled
// on EXECUTION_FAILED (l.63-66) and, with no task stored, finds none running and none failed:
// SUCCEEDED (l.41-52). The volume is not deleted.
#[test]
fn an_execution_failed_destroy_image_ends_succeeded_by_its_callback_from_4_4() {
    for r in Release::ALL {
        let mut s = child_at(Step::DestroyImage, Task::ExecutionFailed);
        s.disks[0].top_in_chain = false;
        s.disks[0].base_has_top = true;
        let ended = after(r, &s, Event::TaskEnds(0));
        if Rules::of(r).destroy_image_has_callback {
            assert!(r >= Release::V4_4_0);
            let (t, tr) = ended.unwrap();
            assert_eq!(tr, Transition::GrandchildEndsWithoutTask);
            assert_eq!(t.disk(0).task(), Task::Succeeded);
            assert!(t.disk(0).flags().top_exists(), "{r}: nothing deleted");
        } else {
            assert!(ended.is_err(), "{r}");
        }
    }
}

// 7b10ce7376c: REDUCE_IMAGE after DESTROY_IMAGE starts a ReduceImage (RSSDL:135-138 at
// ovirt-engine-4.2.0), which does nothing on file storage (ReduceImageCommand.java:45-49); it has
// no callback, so a restart loses it queued or ends it executing with failure; the child then
// fails at a step completedMerge() does not list (RSSDL:168-171): images ILLEGAL.
#[test]
fn a_4_2_reduce_image_is_a_grandchild_without_a_callback() {
    let r = Release::V4_2_0;
    assert_eq!(Rules::of(r).reduce_image, ReduceImage::Grandchild);
    let s = child_at(Step::ReduceImage, Task::Running);
    let (t, tr) = after(r, &s, Event::TaskEnds(0)).unwrap();
    assert_eq!(tr, Transition::GrandchildEnds(Ending::NothingToReduce));
    assert_eq!(t.disk(0).task(), Task::Succeeded);
    let lost = after(
        r,
        &child_at(Step::ReduceImage, Task::Queued),
        Event::Restart,
    )
    .unwrap()
    .0;
    assert_eq!(lost.disk(0).task(), Task::Lost);
    let mut failed = Draft::of(
        &after(
            r,
            &child_at(Step::ReduceImage, Task::Executing),
            Event::Restart,
        )
        .unwrap()
        .0,
    );
    assert_eq!(failed.disks[0].task, Task::Failed);
    failed.disks[0].top_in_chain = false;
    failed.disks[0].base_has_top = true;
    failed.disks[0].top_exists = false;
    let t = step(&cfg(1, r), &failed.build(), Event::PollChild(0))
        .unwrap()
        .0;
    assert_eq!(t.disk(0).status(), CmdStatus::Failed);
    let (t, tr) = step(&cfg(1, r), &t, Event::PollChild(0)).unwrap();
    assert_eq!(tr, Transition::ChildOnFailed { merged: false });
    assert_eq!(t.disk(0).images(), Images::TopIllegal);
    assert!(!rules::completed_merge(Step::ReduceImage));
}

// An orphan's rows were synced by the failure that orphaned it: a later failure before a completed
// merge (syncDbRecordsMergeFailure, RSSDL:243-249, 265-278 at ovirt-engine-4.5.7) leaves them an
// orphan's.
#[test]
fn an_orphan_that_fails_again_stays_an_orphan() {
    let mut s = child_at(Step::ReduceImage, Task::None);
    s.disks[0].status = CmdStatus::Failed;
    s.disks[0].images = Images::MergedOrphan;
    s.disks[0].in_snapshot = false;
    let t = after(Release::V4_2_0, &s, Event::PollChild(0)).unwrap().0;
    assert_eq!(t.disk(0).images(), Images::MergedOrphan);
}

// VDSM looks the volume up inside deleteVolume's SPM task (sp.py:1824-1849 at v4.16.7, l.1954-1978
// at v4.50.7): a volume that is gone fails the task, in every release.
#[test]
fn a_delete_volume_of_a_volume_that_is_gone_fails() {
    for r in Release::ALL {
        let mut s = child_at(Step::DestroyImage, Task::Running);
        s.disks[0].top_in_chain = false;
        s.disks[0].base_has_top = true;
        s.disks[0].top_exists = false;
        let (t, tr) = after(r, &s, Event::TaskEnds(0)).unwrap();
        assert_eq!(
            tr,
            Transition::GrandchildEnds(Ending::VolumeAlreadyGone),
            "{r}"
        );
        assert_eq!(t.disk(0).task(), Task::Failed, "{r}");
    }
}

// 9c7e00cbfca (BZ 1948599), fb7f1eb744b: the child's executeCommand (RSSDL:58-66 at
// ovirt-engine-4.5.7) sets the first step: after the orphan test (l.172-181), GetImageInfo for top
// (l.182-188); null, on any EngineException (RemoveSnapshotSingleDiskCommandBase.java:85-100),
// gives COMPLETE.
#[test]
fn a_4_5_7_child_asks_the_host_for_top_in_its_execute() {
    let inside = |top_exists: bool, orphan: bool| {
        let mut s = child_at(Step::Extend, Task::None);
        s.disks[0].executed = false;
        s.disks[0].top_exists = top_exists;
        if orphan {
            s.disks[0].images = Images::MergedOrphan;
            s.disks[0].in_snapshot = false;
        }
        s
    };
    for r in Release::ALL {
        let asks = Rules::of(r).initial_step_asks_host;
        assert_eq!(asks, r == Release::V4_5_7, "{r}");
        let answered = after(r, &inside(true, false), Event::ChildReturns(0))
            .unwrap()
            .0;
        assert_eq!(answered.disk(0).step(), Step::Extend, "{r}");
        let gone = after(r, &inside(false, false), Event::ChildReturns(0))
            .unwrap()
            .0;
        let no_answer = after(r, &inside(true, false), Event::ImageInfoFails(0));
        if asks {
            assert_eq!(gone.disk(0).step(), Step::Complete);
            assert_eq!(no_answer.unwrap().0.disk(0).step(), Step::Complete);
            // The orphan test comes first; and a top that is gone gets an answer.
            let orphan = after(r, &inside(true, true), Event::ChildReturns(0))
                .unwrap()
                .0;
            assert_eq!(orphan.disk(0).step(), Step::DestroyImage);
            assert!(after(r, &inside(true, true), Event::ImageInfoFails(0)).is_err());
            assert!(after(r, &inside(false, false), Event::ImageInfoFails(0)).is_err());
        } else {
            assert_eq!(
                gone.disk(0).step(),
                Step::Extend,
                "{r}: chosen before, at creation"
            );
            assert!(no_answer.is_err(), "{r}");
        }
        // Only with the fault on.
        let calm = Config {
            faults: Faults::NONE,
            ..cfg(1, r)
        };
        assert!(step(
            &calm,
            &inside(true, false).build(),
            Event::ImageInfoFails(0)
        )
        .is_err());
    }
}
