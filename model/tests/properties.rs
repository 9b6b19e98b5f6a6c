//! Each property on hand-built states: one that violates it, one that satisfies it.

mod common;
use common::*;
use livemerge_model::properties::*;
use livemerge_model::*;

fn c1() -> Config {
    cfg(1, Release::V4_0_2)
}

fn merged_disk() -> DiskDraft {
    let mut d = DiskDraft::initial();
    d.top_in_chain = false;
    d.base_has_top = true;
    d.top_exists = false;
    d.images = Images::Merged;
    d
}

#[test]
fn snapshot_removed_implies_merge_done_on_hand_built_states() {
    let c = c1();
    let mut s = Draft::initial(1);
    s.snapshot = Snapshot::Deleted;
    assert!(
        !snapshot_removed_implies_merge_done(&c, &s.build()),
        "deleted, nothing merged"
    );
    s.disks[0] = merged_disk();
    assert!(snapshot_removed_implies_merge_done(&c, &s.build()));
    s.disks[0].images = Images::BaseAndTop;
    assert!(
        !snapshot_removed_implies_merge_done(&c, &s.build()),
        "host merged, rows not synced"
    );
    s.snapshot = Snapshot::Locked;
    assert!(
        snapshot_removed_implies_merge_done(&c, &s.build()),
        "snapshot still there"
    );
}

#[test]
fn no_data_lost_on_hand_built_states() {
    let c = c1();
    let mut s = Draft::initial(1);
    assert!(no_data_lost(&c, &s.build()));
    s.disks[0].top_exists = false;
    assert!(
        !no_data_lost(&c, &s.build()),
        "top deleted before its data reached base"
    );
    s.disks[0].base_has_top = true;
    assert!(no_data_lost(&c, &s.build()));
}

#[test]
fn db_agrees_when_idle_on_hand_built_states() {
    let c = c1();
    let mut s = Draft::initial(1);
    s.disks[0] = merged_disk();
    s.disks[0].images = Images::BaseAndTop;
    assert!(
        !db_agrees_when_idle(&c, &s.build()),
        "idle, rows say base <- top, host merged"
    );
    s.disks[0].job_running = true;
    assert!(
        db_agrees_when_idle(&c, &s.build()),
        "a host job is running: not idle"
    );
    s.disks[0].job_running = false;
    s.disks[0].images = Images::MergedOrphan;
    assert!(db_agrees_when_idle(&c, &s.build()));
}

#[test]
fn snapshot_removed_on_hand_built_states() {
    let c = c1();
    let mut s = Draft::initial(1);
    assert!(!snapshot_removed(&c, &s.build()));
    s.snapshot = Snapshot::Deleted;
    assert!(snapshot_removed(&c, &s.build()));
}

#[test]
fn removal_failed_cleanly_on_hand_built_states() {
    let c = cfg(2, Release::V4_0_2);
    let mut s = Draft::initial(2);
    s.parent.begun = true;
    s.parent.notified = true;
    s.disks[0].images = Images::TopIllegal;
    s.disks[1] = merged_disk();
    s.disks[1].in_snapshot = false;
    assert!(removal_failed_cleanly(&c, &s.build()));
    s.disks[1].in_snapshot = true;
    assert!(
        !removal_failed_cleanly(&c, &s.build()),
        "a merged disk still in the snapshot"
    );
    s.disks[1].in_snapshot = false;
    s.snapshot = Snapshot::Locked;
    assert!(
        !removal_failed_cleanly(&c, &s.build()),
        "snapshot still locked"
    );
}

#[test]
fn removal_ended_on_hand_built_states() {
    let c = c1();
    let mut s = Draft::initial(1);
    assert!(!removal_ended(&c, &s.build()));
    s.parent.notified = true;
    assert!(removal_ended(&c, &s.build()));
}

#[test]
fn the_stateright_model_names_the_same_properties() {
    use stateright::Model;
    for faults in [Faults::NONE, Faults::ALL] {
        let c = Config { faults, ..c1() };
        let ours: Vec<_> = all(&c).iter().map(|p| p.name).collect();
        let theirs: Vec<_> = LiveMerge::new(c)
            .properties()
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(ours, theirs);
        // The adapters call the right predicates: compare on a violating state.
        let mut s = Draft::initial(1);
        s.snapshot = Snapshot::Deleted;
        let m = LiveMerge::new(c);
        for (p, q) in all(&c).iter().zip(m.properties()) {
            assert_eq!(
                (p.holds)(&c, &s.build()),
                (q.condition)(&m, &s.build()),
                "{}",
                p.name
            );
        }
    }
}

#[test]
fn every_disagreement_is_marked_on_hand_built_states() {
    let c = c1();
    let mut s = Draft::initial(1);
    s.disks[0] = merged_disk();
    s.disks[0].images = Images::BaseAndTop;
    assert!(
        !every_disagreement_marked(&c, &s.build()),
        "host merged, rows say base <- top and nothing marks them"
    );
    s.disks[0].images = Images::TopIllegal;
    assert!(
        every_disagreement_marked(&c, &s.build()),
        "the same disagreement, marked ILLEGAL"
    );
    s.disks[0].job_running = true;
    s.disks[0].images = Images::BaseAndTop;
    assert!(every_disagreement_marked(&c, &s.build()), "not idle");
}

#[test]
fn a_failed_removal_can_be_retried_on_hand_built_states() {
    let c = c1();
    // A failed removal that left the disk untouched but marked: a calm retry merges it.
    let mut s = Draft::initial(1);
    s.parent.begun = true;
    s.parent.notified = true;
    s.disks[0].images = Images::TopIllegal;
    assert!(retry_can_complete(&c, &s.build()));
    // The host merged while the rows still list top (a restart failed the Merge after VM.merge
    // reached the host): the retry starts at EXTEND, and VM.merge of a top the chain no longer
    // holds is refused, every time. Up to 3.6 that fails the Merge (MergeCommand.java:37-53 at
    // ovirt-engine-3.6.1); from 4.0 the refusal is taken for a running merge and the chain is
    // verified (MergeCommand.java:58-72 at ovirt-engine-4.0.0): the retry completes.
    s.disks[0].top_in_chain = false;
    s.disks[0].base_has_top = true;
    let c361 = Config {
        release: Release::V3_6_1,
        ..c
    };
    assert!(!retry_can_complete(&c361, &s.build()));
    let c402 = Config {
        release: Release::V4_0_2,
        ..c
    };
    assert!(retry_can_complete(&c402, &s.build()));
    // A merged disk whose volume removal failed: the retry starts at DESTROY_IMAGE and finishes.
    s.disks[0].images = Images::MergedOrphan;
    s.disks[0].in_snapshot = false;
    assert!(retry_can_complete(&c, &s.build()));
    // Not a failed removal (still running): nothing to say.
    s.parent.notified = false;
    s.parent.status = CmdStatus::Active;
    s.disks[0].images = Images::BaseAndTop;
    assert!(retry_can_complete(&c, &s.build()));
}

/// Every state of small configurations of every release: `why_violated` explains exactly the
/// always-properties a state breaks, naming at least one disk.
#[test]
fn why_violated_explains_exactly_the_violations() {
    for release in Release::ALL {
        for disks in 1..=2 {
            let c = cfg(disks, release);
            let mut seen = std::collections::HashSet::from([State::initial(c.n())]);
            let mut todo: Vec<State> = seen.iter().copied().collect();
            while let Some(s) = todo.pop() {
                for p in all(&c) {
                    let why = why_violated(&c, p.name, &s);
                    if p.expectation != Expectation::Always {
                        assert!(why.is_none(), "{}", p.name);
                        continue;
                    }
                    assert_eq!(why.is_some(), !(p.holds)(&c, &s), "{}: {s:?}", p.name);
                    if let Some(w) = why {
                        assert!(w.contains("disk-"), "{}: {w}", p.name);
                    }
                }
                for (_, t) in successors(&c, &s) {
                    if seen.insert(t) {
                        todo.push(t);
                    }
                }
            }
        }
    }
}
