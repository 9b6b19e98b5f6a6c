//! The engine on real qcow2 volumes (qemu-img from Debian's qemu-utils), checked with qemu-img
//! and qemu-io directly, not through the engine's own storage code.

mod common;

use common::{qcow2_run, resume};
use common::{reads, settings};
use livemerge_impl::db::Db;
use livemerge_impl::session::DB_FILE;
use livemerge_impl::Error;
use livemerge_impl::Schedule;
use livemerge_model::{Release, State};
use std::path::Path;
use std::process::Command;

/// The chain of a disk as `qemu-img info --backing-chain` reports it from the active volume.
fn chain(dir: &Path, disk: usize) -> Vec<String> {
    let dd = dir.join(format!("disk-{}", disk + 1));
    let active = std::fs::read_to_string(dd.join("active")).unwrap();
    let o = Command::new("qemu-img")
        .args([
            "info",
            "--backing-chain",
            "--output=json",
            "-U",
            active.trim(),
        ])
        .current_dir(&dd)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["filename"].as_str().unwrap().to_string())
        .collect()
}

fn snapshot_rows(dir: &Path) -> usize {
    let db = Db::open_read(&dir.join(DB_FILE)).unwrap();
    let rows = db.read_rows().unwrap();
    rows.snapshot.iter().count()
}

#[test]
#[ignore = "slow tier: needs qemu-img and qemu-io (scripts/test runs it)"]
fn a_4_0_removal_on_three_qcow2_disks_merges_and_keeps_every_block() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vm");
    let trace = tmp.path().join("trace.jsonl");
    let o = qcow2_run(
        &dir,
        settings(3, Release::V4_0_2, 10),
        Schedule::Free,
        Some(&trace),
    )
    .expect("the run starts");
    assert_eq!(
        o.exit_code(),
        0,
        "{}",
        livemerge_impl::report::text(&o, "run", Some(&dir))
    );
    assert_eq!(snapshot_rows(&dir), 0, "the snapshot row is gone");
    for d in 0..3 {
        assert_eq!(
            chain(&dir, d),
            vec!["base.qcow2"],
            "disk {d} is one merged volume"
        );
        assert!(!dir.join(format!("disk-{}/top.qcow2", d + 1)).exists());
        assert!(reads(&dir, d, 0xa0 + d as u8, 0), "base's data, disk {d}");
        assert!(
            reads(&dir, d, 0xb0 + d as u8, 65536),
            "top's data, disk {d}"
        );
        assert!(!reads(&dir, d, 0xb0 + d as u8, 0), "the check can fail");
    }
    common::assert_log_is_model_steps(&dir, State::initial(3));
    assert!(std::fs::read_to_string(&trace).unwrap().lines().count() > 20);
}

#[test]
#[ignore = "slow tier: needs qemu-img and qemu-io (scripts/test runs it)"]
fn the_3_6_0_poller_under_the_forced_schedule_deletes_the_snapshot_before_merging() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vm");
    let o = qcow2_run(
        &dir,
        settings(3, Release::V3_6_0, 10),
        Schedule::PoolAfterParentPoll,
        None,
    )
    .expect("the run starts");
    assert_eq!(o.exit_code(), 1, "the bug is an invariant violation");
    assert_eq!(snapshot_rows(&dir), 0, "the snapshot row is gone");
    // When the row went, no merge had started; the held pool threads then re-created their
    // children's rows (3.6.0's execute() persists the command again) and merged for real.
    let db = livemerge_impl::db::Db::open_read(&dir.join("engine.db")).unwrap();
    let log = db.event_log().unwrap();
    let deleted = log
        .iter()
        .position(|r| r.after.snapshot() == livemerge_model::Snapshot::Deleted)
        .unwrap();
    assert!(log[..deleted].iter().all(|r| r
        .after
        .disks(3)
        .iter()
        .all(|d| d.flags().top_in_chain() && !d.flags().job_running())));
    for d in 0..3 {
        assert_eq!(chain(&dir, d), vec!["base.qcow2"], "disk {d}: merged later");
        assert!(reads(&dir, d, 0xb0 + d as u8, 65536));
    }
    assert!(o.conformance.is_empty(), "{:?}", o.conformance);
}

#[test]
#[ignore = "slow tier: needs qemu-img and qemu-io (scripts/test runs it)"]
fn bad_directories_and_a_second_engine_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(resume(tmp.path()), Err(Error::NotEngineDir(_))));
    std::fs::write(tmp.path().join("file"), "x").unwrap();
    assert!(matches!(
        qcow2_run(
            tmp.path(),
            settings(1, Release::V4_0_2, 10),
            Schedule::Free,
            None
        ),
        Err(Error::BadInput(_))
    ));
    let dir = tmp.path().join("vm");
    qcow2_run(&dir, settings(1, Release::V4_0_2, 5), Schedule::Free, None).unwrap();
    let held = Db::open_engine(&dir.join(DB_FILE)).expect("the first engine opens");
    match resume(&dir) {
        Err(Error::Locked(m)) => assert!(m.contains("locked by another engine"), "{m}"),
        other => panic!(
            "expected a locked database, got {:?}",
            other.map(|o| o.exit_code())
        ),
    }
    drop(held);
    // Resuming a removal that already ended changes nothing and reports it.
    let o = resume(&dir).unwrap();
    assert_eq!(o.exit_code(), 0);
    assert_eq!(o.events_here, 0);
}

/// VDSM's `VM.merge` on real qcow2 volumes: it starts `qemu-img commit` and the pivot; asked
/// again once top has left the VM's chain (qemu-img shows base alone), the host refuses with
/// `mergeErr` (code 52) and starts nothing.
#[test]
#[ignore = "slow tier: needs qemu-img and qemu-io (scripts/test runs it)"]
fn vm_merge_of_a_merged_top_is_refused_with_merge_err() {
    use livemerge_impl::storage::qcow2::Qcow2;
    use livemerge_impl::storage::{Storage, VdsmError};
    let tmp = tempfile::tempdir().unwrap();
    let q = Qcow2::create(tmp.path(), 1).unwrap();
    q.vm_merge(0)
        .unwrap()
        .wait()
        .expect("committed and pivoted");
    assert_eq!(chain(tmp.path(), 0), vec!["base.qcow2"]);
    let err = q.vm_merge(0).err().expect("top is not in the chain");
    assert_eq!(err.vdsm(), Some(VdsmError::MergeErr), "{err}");
    assert!(err.to_string().contains("mergeErr (code 52)"), "{err}");
    assert!(!q.facts(0).unwrap().job_running, "no job was started");
    assert!(reads(tmp.path(), 0, 0xb0, 65536), "top's data is in base");
}

/// A merge reaches the volumes only once the engine has recorded it: qcow2's block-commit job
/// starts when its watcher (launched after the step's commit) waits for it, so an engine killed
/// between the host call and that commit leaves no `qemu-img commit` running behind it, and an
/// abandoned job (its step refused) never touches the volumes.
#[test]
#[ignore = "slow tier: needs qemu-img and qemu-io (scripts/test runs it)"]
fn a_merge_job_touches_the_volumes_only_when_waited_for() {
    use livemerge_impl::storage::qcow2::Qcow2;
    use livemerge_impl::storage::Storage;
    let tmp = tempfile::tempdir().unwrap();
    let q = Qcow2::create(tmp.path(), 1).unwrap();
    let job = q.vm_merge(0).unwrap();
    assert!(q.facts(0).unwrap().job_running);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let f = q.facts(0).unwrap();
    assert!(
        !f.base_has_top && f.top_in_chain,
        "committed before waited for: {f:?}"
    );
    job.abandon();
    let f = q.facts(0).unwrap();
    assert!(!f.job_running && !f.base_has_top && f.top_in_chain, "{f:?}");
    q.vm_merge(0).unwrap().wait().unwrap();
    let f = q.facts(0).unwrap();
    assert!(f.base_has_top && !f.top_in_chain && !f.job_running, "{f:?}");
}
