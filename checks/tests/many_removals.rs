//! Many removals in one engine on real qcow2 volumes: `run --vms` traces each removal to its own
//! file, each audits against the shared directory; and the engine killed with SIGKILL while 20
//! removals are in flight resumes all of them: every removal ends or stops where the model says
//! it can, nothing written is lost, every trace conforms.

mod common;
#[path = "../../impl/tests/common/mod.rs"]
mod engine;

use common::{livemerge, printed};
use engine::assert_removal_log_is_model_steps;
use livemerge_impl::abstraction::observe_removal;
use livemerge_impl::db::Db;
use livemerge_impl::session::vm_dir;
use livemerge_model::properties::{self, Expectation};
use livemerge_model::{Event, State};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const VMS: u32 = 20;
const DISKS: usize = 2;
const KILLS: usize = 5;

/// Whether `pattern` reads back at `offset` from disk `disk` of the disks in `dir`, with qemu-io.
fn reads(dir: &Path, disk: usize, pattern: u8, offset: u64) -> bool {
    engine::reads(dir, disk, pattern, offset)
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io), over 5 s (scripts/test runs it)"]
fn every_removal_of_a_run_with_several_is_traced_and_audited_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, traces) = (tmp.path().join("vm"), tmp.path().join("traces"));
    let (d, t) = (dir.to_str().unwrap(), traces.to_str().unwrap());
    let o = livemerge(&[
        "run",
        "--dir",
        d,
        "--vms",
        "3",
        "--disks",
        "2",
        "--release",
        "4.1.0",
        "--tick-ms",
        "10",
        "--trace",
        t,
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    let out = printed(&o);
    assert!(out.contains("3 removals in one engine"), "{out}");
    for k in 1..=3 {
        assert!(
            out.contains(&format!("vm-{k}: removal ended: snapshot deleted")),
            "{out}"
        );
        let tr = traces.join(format!("vm-{k}.jsonl"));
        let a = livemerge(&["audit", tr.to_str().unwrap(), "--dir", d]);
        assert_eq!(a.status.code(), Some(0), "vm-{k}: {}", printed(&a));
        assert!(
            printed(&a).contains("the real rows and volumes match the last state"),
            "{}",
            printed(&a)
        );
    }
    // One removal's trace against another removal's disks: the header names its own VM.
    let db = Db::open_read(&dir.join("engine.db")).unwrap();
    assert_eq!(db.removals().unwrap(), 3);
    // Run again on the same directory: refused, it holds an engine.
    let o = livemerge(&["run", "--dir", d, "--vms", "3", "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", printed(&o));
    // --trace naming a file where several removals need a directory.
    let file = tmp.path().join("file.jsonl");
    std::fs::write(&file, "").unwrap();
    let o = livemerge(&[
        "run",
        "--dir",
        tmp.path().join("other").to_str().unwrap(),
        "--vms",
        "2",
        "--trace",
        file.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", printed(&o));
    assert_eq!(common::stderr(&o).lines().count(), 1, "{}", printed(&o));
    assert!(printed(&o).contains("names a directory"), "{}", printed(&o));
}

#[test]
#[ignore = "slow tier: kills and resumes an engine of 20 removals on qcow2 volumes, over 30 s (scripts/test runs it)"]
fn killed_with_twenty_removals_in_flight_every_removal_resumes_and_conforms() {
    let mut rng = fastrand::Rng::with_seed(0x20_4e70);
    let (mut removals, mut ended, mut failed, mut findings, mut stuck) = (0, 0, 0, 0, 0);
    let mut in_flight_at_kill = Vec::new();
    for kill in 0..KILLS {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, traces) = (tmp.path().join("vm"), tmp.path().join("traces"));
        let (d, t) = (dir.to_str().unwrap(), traces.to_str().unwrap());
        let vms = VMS.to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_livemerge"))
            .args([
                "run",
                "--dir",
                d,
                "--vms",
                &vms,
                "--disks",
                "2",
                "--release",
                "4.0.2",
                "--tick-ms",
                "10",
                "--start-cost-ms",
                "5",
                "--trace",
                t,
                "-q",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Once the first removal has a step in its trace (a header and a record), at a random
        // point of the removals (all of them take about a second here).
        let t0 = Instant::now();
        let first = traces.join("vm-1.jsonl");
        while std::fs::read_to_string(&first).map_or(0, |s| s.lines().count()) < 2 {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "no step after 120 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..800)));
        child.kill().unwrap();
        let _ = child.wait();
        let db = Db::open_read(&dir.join("engine.db")).unwrap();
        let killed: Vec<_> = (0..VMS).map(|vm| db.for_vm(vm).load().unwrap()).collect();
        drop(db);
        let at: Vec<u64> = killed.iter().map(|p| p.seq).collect();
        // Begun and not ended when the engine died.
        in_flight_at_kill.push(
            killed
                .iter()
                .filter(|p| p.seq > 0 && !p.state.removal_ended())
                .count(),
        );
        let o = livemerge(&["resume", "--dir", d, "--limit-secs", "60", "--trace", t]);
        let out = printed(&o);
        let code = o.status.code();
        assert!(
            matches!(code, Some(0) | Some(1) | Some(3)),
            "kill {kill}: resume exited {code:?}\n{out}"
        );
        assert!(
            out.contains(&format!("{VMS} removals in one engine")),
            "{out}"
        );
        let db = Db::open_read(&dir.join("engine.db")).unwrap();
        let cfg = db.load().unwrap().settings.model_config();
        // 4.0's known findings after a restart (docs/releases.md): a kill after VM.merge reached
        // the host leaves the host merged and the rows marked ILLEGAL.
        let known = [
            properties::DB_AGREES_WHEN_IDLE,
            properties::RETRY_CAN_COMPLETE,
        ];
        for vm in 0..VMS {
            removals += 1;
            let what = format!(
                "kill {kill}, vm-{} (killed at seq {})",
                vm + 1,
                at[vm as usize]
            );
            // Reality, not the engine's word.
            let obs = observe_removal(&dir, vm).expect("readable after resume");
            for p in properties::all(&cfg) {
                if p.expectation == Expectation::Always && !known.contains(&p.name) {
                    assert!((p.holds)(&cfg, &obs.state), "{what}: '{}'\n{out}", p.name);
                }
            }
            let disks = vm_dir(&dir, vm, VMS);
            for disk in 0..DISKS {
                assert!(
                    reads(&disks, disk, 0xa0 + disk as u8, 0),
                    "{what}: base data"
                );
                assert!(
                    reads(&disks, disk, 0xb0 + disk as u8, 65536),
                    "{what}: top data"
                );
            }
            let h = db.for_vm(vm);
            assert_removal_log_is_model_steps(&h, State::initial(DISKS));
            let restarts = h
                .event_log()
                .unwrap()
                .iter()
                .filter(|r| r.event == Event::Restart)
                .count();
            assert!(restarts <= 1, "{what}: {restarts} restarts");
            // Its trace, across the kill and the resume, conforms step for step, and the real
            // rows and volumes match its last state.
            let tr = traces.join(format!("vm-{}.jsonl", vm + 1));
            let a = livemerge(&["audit", tr.to_str().unwrap(), "--dir", d]);
            let audit = printed(&a);
            let only_known = a.status.code() == Some(1)
                && audit.contains("conforms:")
                && known
                    .iter()
                    .any(|p| audit.contains(&format!("violates always \"{p}\"")));
            assert!(
                a.status.code() == Some(0) || only_known,
                "{what}: audit: {audit}"
            );
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("vm-{}: ", vm + 1)))
                .unwrap_or_default();
            if only_known {
                findings += 1;
            } else if line.contains("snapshot deleted") {
                ended += 1;
            } else if line.contains("the snapshot is kept") {
                failed += 1;
                assert!(
                    properties::removal_failed_cleanly(&cfg, &obs.state),
                    "{what}: kept the snapshot, not cleanly\n{out}"
                );
            } else {
                stuck += 1;
                assert!(line.contains("removal did not end"), "{what}: {line}");
            }
        }
    }
    eprintln!(
        "{KILLS} kills of an engine running {VMS} removals ({removals} removals; in flight at each kill: {in_flight_at_kill:?}): {ended} resumed to the end, {failed} failed cleanly, {findings} ended in 4.0's known finding, {stuck} stopped where the model says; every trace conforms, no data lost"
    );
    assert_eq!(removals, KILLS * VMS as usize);
}

/// On the live host each VM has its own `qemu-storage-daemon` (as each oVirt VM its own QEMU).
/// One VM's daemon killed while twenty removals run: only that removal stops (its engine core
/// stops on the dead host, exit 3); the others end. `resume` restarts the dead daemon from the
/// files and finishes it; every trace conforms and no guest write is lost.
#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn one_vms_daemon_killed_under_load_stops_only_its_removal_and_resume_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, traces) = (tmp.path().join("vm"), tmp.path().join("t"));
    let (d, t) = (dir.to_str().unwrap(), traces.to_str().unwrap());
    let child = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args([
            "run",
            "--dir",
            d,
            "--vms",
            "20",
            "--host",
            "live",
            "--disks",
            "2",
            "--tick-ms",
            "10",
            "--start-cost-ms",
            "5",
            "--trace",
            t,
            "-q",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // VM 3's removal under way (a few steps in its trace), then its daemon goes.
    let third = traces.join("vm-3.jsonl");
    let t0 = Instant::now();
    while std::fs::read_to_string(&third).map_or(0, |s| s.lines().count()) < 6 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no steps after 120 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let pattern = format!("qemu-storage-daemon.*{}/", vm_dir(&dir, 2, 20).display());
    let killed = Command::new("pkill")
        .args(["-9", "-f", &pattern])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let out = printed(&o);
    if !killed.success() {
        // The removal was already over (its daemon stopped): nothing was killed.
        assert_eq!(o.status.code(), Some(0), "{out}");
        return;
    }
    let line = |out: &str, k: u32| -> String {
        out.lines()
            .find(|l| l.starts_with(&format!("vm-{k}: ")))
            .unwrap_or_default()
            .to_string()
    };
    for k in 1..=20 {
        let l = line(&out, k);
        if k == 3 && !l.contains("removal ended") {
            assert!(l.contains("the engine stopped"), "{out}");
        } else {
            assert!(l.contains("removal ended"), "vm-{k}: {out}");
        }
    }
    assert!(!out.contains("VIOLATED"), "{out}");
    let o = livemerge(&["resume", "--dir", d, "--trace", t, "--limit-secs", "60"]);
    let out = printed(&o);
    assert!(matches!(o.status.code(), Some(0) | Some(1)), "{out}");
    for k in 1..=20 {
        assert!(line(&out, k).contains("removal ended"), "vm-{k}: {out}");
        let tr = traces.join(format!("vm-{k}.jsonl"));
        let a = livemerge(&["audit", tr.to_str().unwrap(), "--dir", d]);
        let audit = printed(&a);
        // 4.0.2 after a restart may end in its known finding, which the audit names.
        assert!(
            a.status.code() == Some(0)
                || (a.status.code() == Some(1) && audit.contains("conforms:")),
            "vm-{k}: {audit}"
        );
    }
    assert!(
        !out.contains("BLOCKS LOST") && !out.contains("write is lost"),
        "{out}"
    );
}
