//! `livemerge replay`: saved model counterexamples replayed step for step on the real engine
//! (SQLite, qcow2 volumes, real threads).

mod common;

use common::merged_restart::{
    assert_audits, assert_failed_then_refused, one_disk_restart, record_of,
    retry_after_a_merged_restart,
};
use common::{backing_chain_len, livemerge, printed as text};
use std::path::{Path, PathBuf};
use std::process::Command;

fn saved(dir: &Path, release: &str, disks: &str, name: &str) -> PathBuf {
    let cx = dir.join(format!("cx-{release}-{disks}"));
    let o = livemerge(&[
        "check",
        "--poller",
        release,
        "--disks",
        disks,
        "-q",
        "--save",
        cx.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    cx.join(name)
}

/// `livemerge replay FILE --dir DIR EXTRA...`.
fn replay(file: &Path, dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "replay",
        file.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend(extra);
    livemerge(&args)
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn bug_1280160_reproduced_deterministically_on_real_images() {
    let tmp = tempfile::tempdir().unwrap();
    let file = saved(
        tmp.path(),
        "3.6.0",
        "2",
        "snapshot-removed-implies-merge-done.json",
    );
    let vm = tmp.path().join("vm");
    let trace = tmp.path().join("trace.jsonl");
    let o = replay(&file, &vm, &["--trace", trace.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("the engine followed all 6 steps"), "{out}");
    // The snapshot row is deleted...
    assert!(out.contains("snapshots: no row (deleted)"), "{out}");
    // ...while both overlays are still in the real chains, and no data is lost.
    for d in ["disk-1", "disk-2"] {
        assert!(
            out.contains(&format!("{d}: active top.qcow2, chain base <- top, top volume exists, base lacks top's data; all data readable")),
            "{d}: {out}"
        );
    }
    assert!(
        out.contains("in the real world: broken: snapshot removed implies merge done"),
        "{out}"
    );
    // Check the chain with qemu-img itself, not through the tool.
    assert_eq!(
        backing_chain_len(&vm.join("disk-1").join("top.qcow2")),
        2,
        "top still backed by base"
    );
    // The replay's trace conforms to the model step for step, up to the broken invariant.
    let a = livemerge(&[
        "audit",
        trace.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
    ]);
    assert!(
        text(&a).contains(":7: violates always \"snapshot removed implies merge done\""),
        "{}",
        text(&a)
    );
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn the_fixed_poller_stops_where_it_waits() {
    let tmp = tempfile::tempdir().unwrap();
    let file = saved(
        tmp.path(),
        "3.6.0",
        "2",
        "snapshot-removed-implies-merge-done.json",
    );
    let vm = tmp.path().join("vm");
    let o = replay(&file, &vm, &["--poller", "4.0"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("replayed with release 4.0.0"), "{out}");
    assert!(
        out.contains("the engine followed 4 of 6 steps, then stopped: step 5: the engine cannot follow {\"event\":\"poll_parent\"} (poller: dispatch RemoveSnapshot): the model refuses it in the engine's real state: the parent's doPolling waits"),
        "{out}"
    );
    assert!(
        out.contains("snapshots: ") && out.contains("LOCKED"),
        "the snapshot is still there: {out}"
    );
    assert!(
        out.contains("in the real world: no invariant is broken"),
        "{out}"
    );
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn a_restart_in_the_path_is_a_real_restart() {
    let tmp = tempfile::tempdir().unwrap();
    // 4.0's real liveness counterexample: a child queued at the restart becomes EXECUTION_FAILED,
    // which nothing ever polls; the parent waits on it for ever.
    let file = saved(tmp.path(), "4.0.2", "2", "every-removal-ends.json");
    let vm = tmp.path().join("vm");
    let trace = tmp.path().join("trace.jsonl");
    let o = replay(&file, &vm, &["--trace", trace.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("the engine followed all 3 steps"), "{out}");
    assert!(
        out.contains(
            "RemoveSnapshotSingleDiskLive EXECUTION_FAILED, step EXTEND (grandchild NONE)"
        ),
        "{out}"
    );
    assert!(
        out.contains("snapshots: ") && out.contains(" OK ["),
        "compensated: {out}"
    );
    let a = livemerge(&[
        "audit",
        trace.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
    ]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn bad_input_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let o = replay(&bad, &tmp.path().join("vm"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    // A directory that already holds an engine is not overwritten.
    let file = saved(
        tmp.path(),
        "3.6.0",
        "1",
        "snapshot-removed-implies-merge-done.json",
    );
    let vm = tmp.path().join("vm2");
    assert_eq!(replay(&file, &vm, &[]).status.code(), Some(1));
    let before = std::fs::read(vm.join("engine.db")).unwrap();
    let o = replay(&file, &vm, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(std::fs::read(vm.join("engine.db")).unwrap(), before);
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn a_path_with_a_failed_merge_job_replays_on_real_images() {
    use livemerge_checks::counterexample::CounterexampleFile;
    use livemerge_checks::report::ConcretePath;
    use livemerge_model::{properties, Config, Event as E, Faults, Release};
    let cfg = Config {
        disks: 1,
        release: Release::V4_0_2,
        faults: Faults::ALL,
        restarts: 0,
        retries: 0,
        symmetry: false,
    };
    let events = [
        E::ParentBegins,
        E::ParentStartsChild,
        E::ParentReturns,
        E::PoolPicksUp(0),
        E::ChildReturns(0),
        E::PollChild(0), // EXTEND
        E::GrandchildReturns(0),
        E::TaskEnds(0),
        E::PollChild(0),         // MERGE
        E::MergeReachesHost(0),  // VM.merge: the job starts...
        E::HostJobFails(0),      // ...and fails
        E::GrandchildReturns(0), // Merge's execute() returns
        E::TaskEnds(0),
        E::PollChild(0), // MERGE_STATUS
        E::GrandchildReturns(0),
        E::TaskEnds(0),  // the chain still has top: FAILED
        E::PollChild(0), // child FAILED
        E::PollChild(0), // onFailed: top ILLEGAL
        E::PollParent,   // 4.0 counts it failed
        E::PollParent,   // onFailed: snapshot back to OK
    ];
    let trace = ConcretePath::rebuild_concrete(&cfg, &events).expect("a model path");
    let prop = properties::all(&cfg)
        .into_iter()
        .find(|p| p.name == properties::REMOVAL_FAILED_CLEANLY)
        .unwrap();
    assert!((prop.holds)(&cfg, &trace.final_state()));
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("failed-merge.json");
    CounterexampleFile::new(&cfg, &prop, &trace)
        .save(&file)
        .unwrap();
    let vm = tmp.path().join("vm");
    let o = replay(&file, &vm, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("the engine followed all 20 steps"), "{out}");
    assert!(
        out.contains("OK [disk-1]"),
        "the snapshot is back to OK: {out}"
    );
    assert!(out.contains("top ILLEGAL"), "{out}");
    assert!(
        out.contains("disk-1: active top.qcow2, chain base <- top, top volume exists, base lacks top's data; all data readable"),
        "{out}"
    );
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn a_restart_after_vm_merge_reached_the_host_replays_on_real_images() {
    // 4.0's divergence: a restart fails the Merge grandchild after VM.merge reached the host;
    // the child fails and marks the images ILLEGAL, the removal ends, and the host finishes the
    // merge: the rows list top while the real chain no longer has it.
    let tmp = tempfile::tempdir().unwrap();
    let file = saved(
        tmp.path(),
        "4.0.2",
        "1",
        "database-agrees-with-storage-when-no-command-is-running.json",
    );
    let events: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let merge = kinds
        .iter()
        .position(|k| *k == "merge_reaches_host")
        .unwrap();
    let restart = kinds.iter().position(|k| *k == "restart").unwrap();
    assert!(merge < restart, "{kinds:?}");
    let vm = tmp.path().join("vm");
    let trace = tmp.path().join("trace.jsonl");
    let o = replay(&file, &vm, &["--trace", trace.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("the engine followed all {} steps", kinds.len())),
        "{out}"
    );
    assert!(
        out.contains("top ILLEGAL"),
        "the rows keep top, marked: {out}"
    );
    assert!(
        out.contains("disk-1: active base.qcow2, chain base (merged)"),
        "the host merged for real: {out}"
    );
    assert!(
        out.contains("VIOLATED  database agrees with storage when no command is running"),
        "{out}"
    );
    assert!(
        out.contains("holds     every disagreement is marked"),
        "{out}"
    );
    // qemu-img agrees: the active volume's chain is base alone.
    let info = Command::new("qemu-img")
        .args(["info", "--backing-chain", "-U"])
        .arg(vm.join("disk-1").join("base.qcow2"))
        .output()
        .unwrap();
    assert!(info.status.success());
    let a = livemerge(&[
        "audit",
        trace.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
    ]);
    assert!(
        text(&a).contains("database agrees with storage when no command is running"),
        "{}",
        text(&a)
    );
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn from_4_0_a_retry_completes_the_merge_a_restart_caught_after_vm_merge() {
    use livemerge_model::Release;
    let (_tmp, vm, trace, out) = replay_a_merged_restart_and_its_retry(Release::V4_0_2);
    assert!(out.contains("removal ended: snapshot deleted"), "{out}");
    assert!(out.contains("snapshots: no row (deleted)"), "{out}");
    assert!(out.contains("command_entities: no rows"), "{out}");
    assert!(out.contains("images disk-1: base OK active\n"), "{out}");
    assert!(
        out.contains("disk-1: active base.qcow2, chain base (merged), top volume deleted, base holds top's data; all data readable"),
        "{out}"
    );
    let records = assert_failed_then_refused(&trace);
    // 4.0 takes the refusal for a running merge: the Merge grandchild goes on and succeeds.
    let (at, _) = record_of(&records, "merge_refused");
    assert_eq!(records[at]["after"]["disks"][0]["task"], "Executing");
    // qemu-img itself: base has no backing file, top is gone.
    let info = Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(vm.join("disk-1").join("base.qcow2"))
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(info.get("backing-filename").is_none(), "{info}");
    assert!(!vm.join("disk-1").join("top.qcow2").exists());
    // The database now agrees with storage: every safety property holds on the real end state.
    let obs = livemerge_impl::abstraction::observe_dir(&vm).unwrap();
    let cfg = one_disk_restart(Release::V4_0_2, 1);
    for p in livemerge_model::properties::all(&cfg)
        .into_iter()
        .filter(|p| p.expectation == livemerge_model::properties::Expectation::Always)
    {
        assert!((p.holds)(&cfg, &obs.state), "{}: {out}", p.name);
    }
    assert!(obs.rows.snapshot.is_none() && obs.rows.commands.is_empty());
    assert_eq!(obs.rows.images.len(), 1, "base alone");
    assert_audits(&trace, &vm, &records);
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn on_3_6_1_the_retry_of_a_merged_restart_fails_its_refused_merge_and_keeps_the_snapshot() {
    let (_tmp, vm, trace, out) =
        replay_a_merged_restart_and_its_retry(livemerge_model::Release::V3_6_1);
    assert!(
        out.contains("removal ended: it failed, the snapshot is kept"),
        "{out}"
    );
    assert!(out.contains(" OK [disk-1]"), "the snapshot is OK: {out}");
    assert!(
        out.contains("images disk-1: base OK, top ILLEGAL active"),
        "{out}"
    );
    assert!(
        out.contains("disk-1: active base.qcow2, chain base (merged), top volume exists"),
        "{out}"
    );
    let records = assert_failed_then_refused(&trace);
    // 3.6 has no catch for mergeErr: the Merge grandchild fails, and with it the retry.
    let (at, _) = record_of(&records, "merge_refused");
    assert_eq!(records[at]["after"]["disks"][0]["task"], "Failed");
    assert_eq!(records.last().unwrap()["after"]["retries"], 1);
    assert_audits(&trace, &vm, &records);
}

/// Replays on qcow2, with a trace, `release`'s path through a restart after `VM.merge` reached
/// the host and the user's retry; checks that the engine followed every step. Hands back the
/// temporary directory (kept alive), the VM directory, the trace and the report.
fn replay_a_merged_restart_and_its_retry(
    release: livemerge_model::Release,
) -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let events = retry_after_a_merged_restart(release);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("retry.json");
    common::save_path(&one_disk_restart(release, 1), &events, &file);
    let (vm, trace) = (tmp.path().join("vm"), tmp.path().join("trace.jsonl"));
    let o = replay(&file, &vm, &["--trace", trace.to_str().unwrap(), "-q"]);
    let out = text(&o);
    assert!(
        out.contains(&format!("the engine followed all {} steps", events.len())),
        "{events:?}\n{out}"
    );
    (tmp, vm, trace, out)
}

/// The model's shortest path of `cfg` through `milestones` to a state where `goal` holds, saved
/// in `dir` for `replay`.
fn save_model_path(
    cfg: &livemerge_model::Config,
    milestones: &[&common::Milestone],
    goal: impl Fn(&livemerge_model::State) -> bool,
    dir: &Path,
) -> (PathBuf, Vec<livemerge_model::Event>) {
    let events = common::path_through(cfg, milestones, goal).expect("the model has the path");
    let file = dir.join("path.json");
    common::save_path(cfg, &events, &file);
    (file, events)
}

/// 4.1.0, one disk, one restart: the restart catches the Merge grandchild before its
/// `execute()` returned, so it is EXECUTION_FAILED, which 4.1.0's child waits on and nothing
/// polls; only the expiry of the waiting child ends the removal.
fn hung_4_1_0() -> livemerge_model::Config {
    livemerge_model::Config {
        disks: 1,
        release: livemerge_model::Release::V4_1_0,
        faults: livemerge_model::Faults::NONE,
        restarts: 1,
        retries: 0,
        symmetry: false,
    }
}

/// Replays `file` into `vm` with a trace and a command lifetime of 40 ticks (200 ms at the
/// replay's 5 ms tick), so that a path's expiry comes at once.
fn replay_with_a_short_lifetime(file: &Path, vm: &Path, trace: &Path) -> std::process::Output {
    replay(
        file,
        vm,
        &[
            "--command-lifetime",
            "40",
            "--trace",
            trace.to_str().unwrap(),
            "-q",
        ],
    )
}

/// A replay that followed all `steps` with a command lifetime of `lifetime` ticks and ended the
/// removal failed, the snapshot kept (exit 0); hands back its report.
fn assert_followed_to_a_failed_end(
    o: &std::process::Output,
    steps: usize,
    lifetime: u32,
) -> String {
    let out = text(o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!("command lifetime {lifetime} ticks")),
        "{out}"
    );
    assert!(
        out.contains(&format!("the engine followed all {steps} steps")),
        "{out}"
    );
    assert!(
        out.contains("removal ended: it failed, the snapshot is kept"),
        "{out}"
    );
    out
}

/// `audit TRACE --dir VM` passes: every step conforms and the real rows and volumes match.
fn assert_audit_and_dir_clean(trace: &Path, vm: &Path) {
    let a = livemerge(&[
        "audit",
        trace.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
    ]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert!(
        text(&a).contains("the real rows and volumes match"),
        "{}",
        text(&a)
    );
}

/// The trace's Expire record: applied by the poller, at least `lifetime_ms` after the step
/// before it (the removal stood still that long), with the sticky expired flag set.
fn assert_expired_after(records: &[serde_json::Value], lifetime_ms: u64) {
    let (at, r) = record_of(records, "expire");
    assert_eq!(r["source"], "poller", "{r}");
    let waited = r["t_ms"].as_u64().unwrap() - records[at - 1]["t_ms"].as_u64().unwrap();
    assert!(waited >= lifetime_ms, "expired after {waited} ms: {r}");
    let flags = r["after"]["parent"]["f"].as_array().unwrap();
    assert!(flags.contains(&"expired".into()), "{r}");
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn a_4_1_0_removal_hung_until_expiry_ends_after_a_short_command_lifetime() {
    use livemerge_model::Event as E;
    let tmp = tempfile::tempdir().unwrap();
    let (file, events) = save_model_path(
        &hung_4_1_0(),
        &[&|e, _| e == E::Expire],
        |s| s.removal_ended(),
        tmp.path(),
    );
    let (vm, trace) = (tmp.path().join("vm"), tmp.path().join("trace.jsonl"));
    // 40 ticks of 5 ms: the removal stands still 200 ms before its child expires.
    let o = replay_with_a_short_lifetime(&file, &vm, &trace);
    let out = assert_followed_to_a_failed_end(&o, events.len(), 40);
    assert!(
        out.contains("expiry: commands passed their lifetime"),
        "{out}"
    );
    assert!(
        out.contains("images disk-1: base OK, top ILLEGAL active"),
        "{out}"
    );
    assert!(
        out.contains("in the real world: no invariant is broken"),
        "{out}"
    );
    assert_expired_after(&common::trace_records(&trace), 200);
    assert_audit_and_dir_clean(&trace, &vm);
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn a_resumed_hung_removal_expires_with_the_lifetime_it_was_set_up_with() {
    use livemerge_model::{Event as E, Step, Task};
    let tmp = tempfile::tempdir().unwrap();
    // The path up to the hang: the restart that leaves the Merge grandchild EXECUTION_FAILED.
    let (file, _) = save_model_path(
        &hung_4_1_0(),
        &[&|e, s| {
            e == E::Restart
                && s.disk(0).step() == Step::Merge
                && s.disk(0).task() == Task::ExecutionFailed
        }],
        |_| true,
        tmp.path(),
    );
    // Set up with a 40-tick lifetime: `resume` is given none, and keeps the directory's.
    let (vm, trace) = (tmp.path().join("vm"), tmp.path().join("trace.jsonl"));
    let o = replay_with_a_short_lifetime(&file, &vm, &trace);
    assert!(
        text(&o).contains("the replay stops after step"),
        "{}",
        text(&o)
    );
    let t0 = std::time::Instant::now();
    let o = livemerge(&[
        "resume",
        "--dir",
        vm.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "-q",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("removal ended: it failed, the snapshot is kept"),
        "{out}"
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(30), "{out}");
    assert_expired_after(&common::trace_records(&trace), 200);
    let a = livemerge(&[
        "audit",
        trace.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
    ]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    // With oVirt's lifetime (3000 minutes of 5 ms ticks: 15 minutes), a resume limited to 5 s
    // stops at once, saying that only expiry can end the removal, and when.
    let vm2 = tmp.path().join("vm2");
    replay(&file, &vm2, &["-q"]);
    let t0 = std::time::Instant::now();
    let o = livemerge(&[
        "resume",
        "--dir",
        vm2.to_str().unwrap(),
        "--limit-secs",
        "5",
        "-q",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("removal did not end: only the expiry of its commands can end it"),
        "{out}"
    );
    assert!(out.contains("(--command-lifetime 180000 ticks)"), "{out}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(4),
        "it did not wait: {out}"
    );
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn a_3_6_1_destroy_image_stranded_by_a_restart_is_ended_by_expiry() {
    use livemerge_model::{properties, Event as E, Task};
    let cfg = livemerge_model::Config {
        release: livemerge_model::Release::V3_6_1,
        ..hung_4_1_0()
    };
    let tmp = tempfile::tempdir().unwrap();
    let (file, events) = save_model_path(
        &cfg,
        &[
            &|e, s| e == E::Restart && s.disk(0).task() == Task::Stranded,
            &|e, _| e == E::Expire,
        ],
        |s| {
            s.removal_ended()
                && properties::db_agrees_when_idle(&cfg, s)
                && properties::every_disagreement_marked(&cfg, s)
        },
        tmp.path(),
    );
    let (vm, trace) = (tmp.path().join("vm"), tmp.path().join("trace.jsonl"));
    // No --command-lifetime: a path that expires a command gets the replay's short one.
    let o = replay(&file, &vm, &["--trace", trace.to_str().unwrap(), "-q"]);
    assert_followed_to_a_failed_end(&o, events.len(), 100);
    // The stranded DestroyImage's row, as the database held it after the restart.
    let records = common::trace_records(&trace);
    let (restart, r) = record_of(&records, "restart");
    assert_eq!(r["after"]["disks"][0]["task"], "Stranded", "{r}");
    let child = r["db"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["command_type"] == "RemoveSnapshotSingleDiskLive")
        .expect("the child's row");
    assert_eq!(child["command_params"]["grandchild"], "STRANDED", "{child}");
    assert_eq!(child["command_params"]["step"], "DESTROY_IMAGE", "{child}");
    assert!(record_of(&records, "expire").0 > restart);
    assert_expired_after(&records, 500);
    let a = livemerge(&[
        "audit",
        trace.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
    ]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
}
