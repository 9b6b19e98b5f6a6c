//! The engine on the in-memory backend with real threads and a real clock: whole removals,
//! the forced schedule of bug 1280160, faults, scripted schedules, and the rule that every
//! state change is the model's step.

mod common;

use common::*;
use livemerge_impl::harness::memory::{Memory, MemoryFaults};
use livemerge_impl::harness::schedules::{HoldUntil, Script};
use livemerge_impl::scheduler::Free;
use livemerge_model::properties::{NO_DATA_LOST, SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE};
use livemerge_model::{step, Event, Images, Release, Snapshot, State};
use std::sync::Arc;
use std::time::Duration;

fn holds(o: &livemerge_impl::Outcome, name: &str) -> bool {
    o.properties.iter().find(|(n, _)| *n == name).unwrap().1
}

#[test]
fn a_4_0_removal_merges_every_disk_and_deletes_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("trace.jsonl");
    let o = memory_run(
        tmp.path(),
        settings(3, Release::V4_0_2, 2),
        mem(3),
        Arc::new(Free),
        Some(&trace),
    );
    assert_eq!(o.exit_code(), 0, "{o:?}");
    assert!(o.ended && o.stuck.is_none());
    assert!(o.conformance.is_empty(), "{:?}", o.conformance);
    assert!(
        o.observed.rows.snapshot.is_none(),
        "the snapshot row is gone"
    );
    assert!(
        o.observed.rows.commands.is_empty(),
        "every command row is gone"
    );
    for (d, f) in o.observed.facts.iter().enumerate() {
        assert!(
            !f.top_in_chain && !f.top_exists && f.base_has_top,
            "disk {d}: {f:?}"
        );
        assert_eq!(o.observed.state.disk(d).images(), Images::Merged);
        assert!(o.data[d].all_readable());
    }
    let n = assert_log_is_model_steps(tmp.path(), State::initial(3));
    // The trace has one line per event, each the model's step of the line before.
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cfg = o.settings.model_config();
    // The first line is the header naming the configuration the events were stepped with.
    let header = lines.remove(0);
    assert_eq!(header["livemerge_trace"], 1);
    assert_eq!(header["configuration"], serde_json::to_value(cfg).unwrap());
    assert_eq!(lines.len(), n);
    let mut s = State::initial(3);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"], i as u64 + 1);
        let before: State = serde_json::from_value(l["before"].clone()).unwrap();
        let event: Event = serde_json::from_value(l["event"].clone()).unwrap();
        let after: State = serde_json::from_value(l["after"].clone()).unwrap();
        assert_eq!(before, s);
        assert_eq!(step(&cfg, &before, event).map(|(t, _)| t), Ok(after));
        assert!(l["db"]["commands"].is_array() && l["storage"]["disks"].is_array());
        s = after;
    }
    assert_eq!(s, o.state, "the engine's final state is the trace's last");
}

#[test]
fn the_3_6_0_poller_under_the_forced_schedule_deletes_the_snapshot_before_any_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let o = memory_run(
        tmp.path(),
        settings(2, Release::V3_6_0, 2),
        mem(2),
        Arc::new(HoldUntil::pool_after_parent_poll()),
        None,
    );
    assert_eq!(o.exit_code(), 1);
    assert!(o.ended);
    assert_eq!(o.observed.state.snapshot(), Snapshot::Deleted);
    assert!(
        !holds(&o, SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE),
        "the snapshot row was gone while nothing was merged"
    );
    assert!(holds(&o, NO_DATA_LOST));
    // The snapshot row went first; then the held pool threads re-created their children's rows
    // (3.6.0's execute() persists the command again) and merged, unknown to the parent.
    let db = livemerge_impl::db::Db::open_read(&tmp.path().join("engine.db")).unwrap();
    let log = db.event_log().unwrap();
    let deleted = log
        .iter()
        .position(|r| r.after.snapshot() == Snapshot::Deleted)
        .unwrap();
    let first_merge = log
        .iter()
        .position(|r| matches!(r.event, Event::MergeReachesHost(_)))
        .unwrap();
    assert!(deleted < first_merge, "{deleted} < {first_merge}");
    for f in &o.observed.facts {
        assert!(!f.top_in_chain && f.base_has_top, "{f:?}");
    }
    assert!(o.conformance.is_empty(), "{:?}", o.conformance);
    assert_log_is_model_steps(tmp.path(), State::initial(2));
}

#[test]
fn the_fixed_releases_survive_the_same_forced_schedule() {
    for rule in [Release::V3_6_1, Release::V4_0_2] {
        let tmp = tempfile::tempdir().unwrap();
        let o = memory_run(
            tmp.path(),
            settings(2, rule, 2),
            mem(2),
            Arc::new(HoldUntil::pool_after_parent_poll()),
            None,
        );
        assert!(o.ended, "{rule}: {:?}", o.stuck);
        assert_eq!(o.observed.state.snapshot(), Snapshot::Deleted, "{rule}");
        // 3.6.1 has its own race (the parent may end before a child's end-action), which the
        // forced schedule does not provoke; the merges themselves must all be done.
        for f in &o.observed.facts {
            assert!(!f.top_in_chain && f.base_has_top, "{rule}: {f:?}");
        }
        if rule == Release::V4_0_2 {
            assert_eq!(o.exit_code(), 0, "{o:?}");
        }
    }
}

#[test]
fn a_failed_merge_job_ends_the_removal_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Memory::with_faults(
        2,
        Duration::from_millis(2),
        MemoryFaults {
            merge_fails: vec![1],
            delete_fails: vec![],
            image_info_fails: vec![],
            plan: None,
        },
    );
    let o = memory_run(
        tmp.path(),
        settings(2, Release::V4_0_2, 2),
        storage,
        Arc::new(Free),
        None,
    );
    assert_eq!(o.exit_code(), 0, "{o:?}");
    assert!(o.ended);
    let cfg = o.settings.model_config();
    assert!(
        livemerge_model::properties::removal_failed_cleanly(&cfg, &o.observed.state),
        "{:?}",
        o.observed.state
    );
    let snap = o
        .observed
        .rows
        .snapshot
        .as_ref()
        .expect("the snapshot is kept");
    assert_eq!(snap.status, "OK");
    assert_eq!(
        snap.disk_ids,
        vec![o.layout.disks[1].disk_id.clone()],
        "the merged disk left it"
    );
    assert_eq!(o.observed.state.disk(1).images(), Images::TopIllegal);
    assert!(o.data.iter().all(|d| d.all_readable()));
    assert_log_is_model_steps(tmp.path(), State::initial(2));
}

#[test]
fn a_failed_delete_volume_leaves_an_orphan_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Memory::with_faults(
        1,
        Duration::from_millis(1),
        MemoryFaults {
            merge_fails: vec![],
            delete_fails: vec![0],
            image_info_fails: vec![],
            plan: None,
        },
    );
    let o = memory_run(
        tmp.path(),
        settings(1, Release::V4_0_2, 2),
        storage,
        Arc::new(Free),
        None,
    );
    assert_eq!(o.exit_code(), 0, "{o:?}");
    assert_eq!(o.observed.state.disk(0).images(), Images::MergedOrphan);
    let f = o.observed.facts[0];
    assert!(!f.top_in_chain && f.top_exists && f.base_has_top, "{f:?}");
    assert!(o.data[0].all_readable());
}

#[test]
fn a_script_replays_the_model_counterexample_step_for_step() {
    // The model's 5-step counterexample for 3.6.0; what follows it is left to the threads.
    let script = Arc::new(Script::new(vec![
        Event::ParentBegins,
        Event::ParentStartsChild,
        Event::ParentReturns,
        Event::PollParent,
        Event::PollParent,
    ]));
    let tmp = tempfile::tempdir().unwrap();
    let o = memory_run(
        tmp.path(),
        settings(1, Release::V3_6_0, 2),
        mem(1),
        script.clone(),
        None,
    );
    assert_eq!(script.done(), 5);
    assert!(o.conformance.is_empty(), "{:?}", o.conformance);
    assert_eq!(o.exit_code(), 1);
    let db = livemerge_impl::db::Db::open_read(&tmp.path().join("engine.db")).unwrap();
    let log = db.event_log().unwrap();
    let first: Vec<Event> = log.iter().take(6).map(|r| r.event).collect();
    assert_eq!(
        first,
        vec![
            Event::ParentBegins,
            Event::ParentStartsChild,
            Event::ParentReturns,
            Event::PollParent,
            Event::PollParent,
            Event::PoolPicksUp(0),
        ]
    );
    assert!(
        log[5].after.disk(0).status() == livemerge_model::CmdStatus::Active,
        "the pool thread re-created the deleted row"
    );
}

#[test]
fn the_engine_changes_protocol_state_only_through_step() {
    // Runs of every poller with faults: each recorded state is step of the one before.
    for (i, rule) in [Release::V3_6_0, Release::V3_6_1, Release::V4_0_2]
        .into_iter()
        .enumerate()
    {
        let tmp = tempfile::tempdir().unwrap();
        let storage = Memory::with_faults(
            3,
            Duration::from_millis(1),
            MemoryFaults {
                merge_fails: vec![i % 3],
                delete_fails: vec![(i + 1) % 3],
                image_info_fails: vec![],
                plan: None,
            },
        );
        let o = memory_run(
            tmp.path(),
            settings(3, rule, 1),
            storage,
            Arc::new(Free),
            None,
        );
        assert!(o.conformance.is_empty(), "{rule}: {:?}", o.conformance);
        assert_log_is_model_steps(tmp.path(), State::initial(3));
    }
    // No source file can assign a protocol field by hand: `State`'s fields and flag setters are
    // `pub(crate)` in the model, so such code does not compile; the log above shows the engine's
    // states are model steps.
}

/// VDSM's `VM.merge` on the in-memory host: the first one starts the job; once the job pivoted
/// the VM to base, top is no longer in the chain and the verb is refused with `mergeErr` (code
/// 52), while the job itself can still be re-issued (after a restart) and ends at once.
#[test]
fn vm_merge_of_a_top_no_longer_in_the_chain_is_refused_with_merge_err() {
    use livemerge_impl::storage::{Storage, VdsmError};
    let m = mem(1);
    m.vm_merge(0)
        .expect("top is in the chain")
        .wait()
        .expect("merged");
    let err = m.vm_merge(0).err().expect("refused: top left the chain");
    assert_eq!(err.vdsm(), Some(VdsmError::MergeErr));
    assert_eq!(VdsmError::MergeErr.code(), 52);
    assert!(err.to_string().starts_with("mergeErr (code 52): "), "{err}");
    m.start_merge(0).unwrap().wait().expect("a re-issued job");
}
