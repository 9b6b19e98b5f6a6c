//! Many removals in one engine process on the in-memory backend: one database holds every
//! removal's rows and log, each removal's log is its own model steps, and one pool serves them
//! all.

mod common;

use common::*;
use livemerge_impl::db::Db;
use livemerge_impl::session::DB_FILE;
use livemerge_model::{Release, State};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[test]
fn every_removal_of_one_engine_ends_on_its_own_rows_and_its_log_is_model_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let all = memory_vms(
        tmp.path(),
        settings(2, Release::V4_0_2, 2),
        8,
        Duration::from_millis(2),
    )
    .unwrap();
    assert_eq!(all.len(), 8);
    for (vm, o) in all.iter().enumerate() {
        assert_eq!(o.exit_code(), 0, "vm {vm}: {o:?}");
        assert!(o.ended && o.conformance.is_empty(), "vm {vm}: {o:?}");
        assert!(o.observed.rows.snapshot.is_none(), "vm {vm}: snapshot gone");
        assert!(
            o.observed.rows.commands.is_empty(),
            "vm {vm}: no command rows"
        );
    }
    // Each removal its own VM, snapshot and commands.
    let vms: HashSet<_> = all.iter().map(|o| o.layout.vm_id.clone()).collect();
    let parents: HashSet<_> = all
        .iter()
        .map(|o| o.layout.parent_command_id.clone())
        .collect();
    assert_eq!((vms.len(), parents.len()), (8, 8));
    // One database, eight removals, each log the model's steps from the initial state.
    let db = Db::open_read(&tmp.path().join(DB_FILE)).unwrap();
    assert_eq!(db.removals().unwrap(), 8);
    for vm in 0..8 {
        let h = db.for_vm(vm);
        let n = assert_removal_log_is_model_steps(&h, State::initial(2));
        assert_eq!(n as u64, all[vm as usize].events_total, "vm {vm}");
        assert_eq!(h.load().unwrap().layout, all[vm as usize].layout);
    }
}

/// With one pool thread for all, every child of every removal waits for the same thread: ten
/// children that each spend 20 ms before they start take at least 200 ms in all (a pool per
/// removal would start them five at a time).
#[test]
fn one_pool_serves_every_removal() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(2, Release::V4_0_2, 2);
    s.pool_threads = 1;
    s.start_cost_us = 20_000;
    let t0 = Instant::now();
    let all = memory_vms(tmp.path(), s, 5, Duration::from_millis(1)).unwrap();
    let took = t0.elapsed();
    assert!(all.iter().all(|o| o.exit_code() == 0), "{all:?}");
    assert!(took >= Duration::from_millis(200), "took {took:?}");
    // Every child of every removal was picked up by the pool, once.
    let db = Db::open_read(&tmp.path().join(DB_FILE)).unwrap();
    for vm in 0..5 {
        let picked = db
            .for_vm(vm)
            .event_log()
            .unwrap()
            .iter()
            .filter(|r| matches!(r.event, livemerge_model::Event::PoolPicksUp(_)))
            .count();
        assert_eq!(picked, 2, "vm {vm}");
    }
}

#[test]
fn the_number_of_removals_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let s = settings(1, Release::V4_0_2, 2);
    for vms in [0, livemerge_impl::MAX_VMS + 1] {
        let e = memory_vms(tmp.path(), s, vms, Duration::from_millis(1)).unwrap_err();
        assert!(e.to_string().contains("--vms"), "{e}");
    }
}

/// A row that belongs to no removal, or removals numbered other than 0..n, is not a database
/// this engine wrote: refused, as are the rows of a database without removal numbers.
#[test]
fn rows_outside_the_removals_are_refused() {
    let tamper = |sql: &str| {
        let tmp = tempfile::tempdir().unwrap();
        memory_vms(
            tmp.path(),
            settings(1, Release::V4_0_2, 1),
            2,
            Duration::from_millis(1),
        )
        .unwrap();
        let path = tmp.path().join(DB_FILE);
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        Db::open_read(&path)
            .unwrap()
            .removals()
            .map_err(|e| e.to_string())
    };
    assert_eq!(tamper("SELECT 1"), Ok(2));
    let stray = tamper("UPDATE event_log SET vm = 7 WHERE seq = 1 AND vm = 1").unwrap_err();
    assert!(
        stray.contains("of event_log belong to no removal"),
        "{stray}"
    );
    let stray = tamper("INSERT INTO images SELECT -1, 'x', disk_id, parent_id, image_status, active FROM images LIMIT 1").unwrap_err();
    assert!(stray.contains("of images belong to no removal"), "{stray}");
    let gap = tamper("UPDATE engine_state SET vm = -1 WHERE vm = 0").unwrap_err();
    assert!(gap.contains("not numbered 0..2"), "{gap}");
    let old = tamper("ALTER TABLE snapshots DROP COLUMN vm").unwrap_err();
    assert!(old.contains("no removal numbers"), "{old}");
}
