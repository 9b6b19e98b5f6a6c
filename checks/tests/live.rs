//! The live backend (`--host live`): a running qemu-storage-daemon merges with `block-commit`
//! while a guest writes over NBD; faults are met for real (blkdebug, an immutable file); the
//! daemon and the engine are killed and the engine resumed. Every test here needs
//! qemu-storage-daemon and takes seconds: the slow tier (`scripts/test` runs it).

mod common;

use common::{livemerge, printed as text};
use livemerge_checks::counterexample::CounterexampleFile;
use livemerge_checks::report::ConcretePath;
use livemerge_model::{enabled, properties, step, Config, Event, Faults, Release, State};
use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn one_disk(faults: Faults) -> Config {
    Config {
        disks: 1,
        release: Release::V4_0_2,
        faults,
        restarts: 0,
        retries: 0,
        symmetry: false,
    }
}

/// The shortest model path of `cfg` to an ended removal that passes through `fault`.
fn path_through(cfg: &Config, fault: Event) -> Vec<Event> {
    let start = (State::initial(cfg.n()), false);
    let mut seen = HashSet::from([start]);
    let mut q = VecDeque::from([(start, Vec::new())]);
    while let Some(((s, met), path)) = q.pop_front() {
        if met && s.removal_ended() {
            return path;
        }
        for e in enabled(cfg, &s) {
            let t = step(cfg, &s, e).expect("enabled events step").0;
            let k = (t, met || e == fault);
            if seen.insert(k) {
                let mut p = path.clone();
                p.push(e);
                q.push_back((k, p));
            }
        }
    }
    panic!("no path through {fault:?}");
}

/// Saves `events` as a counterexample file (of a property that holds: replay only needs a path).
fn save(cfg: &Config, events: &[Event], file: &Path) {
    let trace = ConcretePath::rebuild_concrete(cfg, events).expect("a model path");
    let prop = properties::all(cfg)
        .into_iter()
        .find(|p| p.name == properties::REMOVAL_FAILED_CLEANLY)
        .unwrap();
    CounterexampleFile::new(cfg, &prop, &trace)
        .save(file)
        .unwrap();
}

/// The run's guest: nothing lost anywhere, every block read back both ways.
fn assert_guest_intact(out: &str, disks: usize) {
    for d in 1..=disks {
        let line = out
            .lines()
            .find(|l| {
                l.trim_start().starts_with(&format!("disk-{d}: ")) && l.contains("write(s) here")
            })
            .unwrap_or_else(|| panic!("no guest line for disk-{d}: {out}"));
        assert!(line.contains("export: nothing lost"), "{line}\n{out}");
        assert!(line.contains("): nothing lost"), "{line}\n{out}");
    }
}

fn audit(trace: &Path, dir: &Path) -> std::process::Output {
    livemerge(&[
        "audit",
        trace.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ])
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn three_disks_merge_live_while_the_guest_writes_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let vm = tmp.path().join("vm");
    let trace = tmp.path().join("trace.jsonl");
    let o = livemerge(&[
        "run",
        "--dir",
        vm.to_str().unwrap(),
        "--host",
        "live",
        "--disks",
        "3",
        "--tick-ms",
        "20",
        "--guest-write-ms",
        "2",
        "--trace",
        trace.to_str().unwrap(),
        "-q",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("storage live"), "{out}");
    assert!(out.contains("removal ended: snapshot deleted"), "{out}");
    assert_guest_intact(&out, 3);
    for d in 1..=3 {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("disk-{d}: ")) && l.contains("during a merge job"))
            .unwrap();
        // "N write(s) here, M during a merge job": the guest wrote into every merge.
        let during: u64 = line
            .split(", ")
            .nth(1)
            .and_then(|w| w.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(during > 0, "no guest write during disk-{d}'s merge: {line}");
        assert!(line.contains("serving base.qcow2;"), "{line}");
    }
    // The daemon is gone with the run: nothing holds the images.
    let pid: u32 = std::fs::read_to_string(vm.join("qsd.pid"))
        .map(|s| s.trim().parse().unwrap_or(0))
        .unwrap_or(0);
    assert!(
        pid == 0 || !Path::new(&format!("/proc/{pid}")).exists(),
        "the daemon outlived the run"
    );
    let a = audit(&trace, &vm);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert!(
        text(&a).contains("the real rows and volumes match"),
        "{}",
        text(&a)
    );
}

/// The replay's files and what it printed; the files live as long as `tmp`.
struct FaultReplay {
    tmp: tempfile::TempDir,
    vm: std::path::PathBuf,
    trace: std::path::PathBuf,
    out: String,
}

/// Replays, on the live host of a 1-disk VM, the model's path through `fault` to a removal that
/// fails; checks the engine followed it all and the removal failed with the snapshot kept.
fn replay_one_fault(fault: Event) -> FaultReplay {
    let cfg = one_disk(Faults::ALL);
    let events = path_through(&cfg, fault);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("failed.json");
    save(&cfg, &events, &file);
    let (vm, trace) = (tmp.path().join("vm"), tmp.path().join("trace.jsonl"));
    let o = livemerge(&[
        "replay",
        file.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
        "--host",
        "live",
        "--trace",
        trace.to_str().unwrap(),
        "-q",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!("the engine followed all {} steps", events.len())),
        "{out}"
    );
    assert!(
        out.contains("removal ended: it failed, the snapshot is kept"),
        "{out}"
    );
    FaultReplay {
        tmp,
        vm,
        trace,
        out,
    }
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn blkdebug_fails_the_merge_job_and_the_model_takes_its_fault_path() {
    let FaultReplay {
        tmp: _tmp,
        vm,
        trace,
        out,
    } = replay_one_fault(Event::HostJobFails(0));
    assert!(out.contains("top ILLEGAL"), "{out}");
    assert!(out.contains("serving top.qcow2 -> base.qcow2"), "{out}");
    assert_guest_intact(&out, 1);
    // QEMU's own error, through the job's events, is what the engine observed.
    let t = std::fs::read_to_string(&trace).unwrap();
    assert!(t.contains("Input/output error"), "{t}");
    let a = audit(&trace, &vm);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn a_run_meets_the_faults_it_is_asked_for_and_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let vm = tmp.path().join("vm");
    let trace = tmp.path().join("trace.jsonl");
    let o = livemerge(&[
        "run",
        "--dir",
        vm.to_str().unwrap(),
        "--host",
        "live",
        "--tick-ms",
        "20",
        "--fail-merge",
        "2",
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
    assert!(out.contains("images disk-2: base OK, top ILLEGAL"), "{out}");
    assert!(
        out.contains("disk-2: active top.qcow2, chain base <- top"),
        "{out}"
    );
    assert_guest_intact(&out, 3);
    // QEMU's own error is what the engine observed, and the model took its fault path.
    let t = std::fs::read_to_string(&trace).unwrap();
    assert!(t.contains("Input/output error"), "{t}");
    assert!(t.contains("\"host_job_fails\""), "{t}");
    let a = audit(&trace, &vm);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
}

#[test]
fn faults_are_asked_for_on_the_live_host_only() {
    let tmp = tempfile::tempdir().unwrap();
    let vm = tmp.path().join("vm");
    for args in [
        vec!["--fail-merge", "1"],
        vec!["--host", "live", "--disks", "2", "--fail-delete", "3"],
    ] {
        let o = livemerge(&[&["run", "--dir", vm.to_str().unwrap(), "-q"][..], &args[..]].concat());
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert_eq!(out.trim().lines().count(), 1, "{out}");
        assert!(out.contains("--fail-"), "{out}");
        assert!(!vm.exists(), "nothing is set up for a refused run");
    }
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn an_unremovable_top_fails_delete_volume_cleanly() {
    let FaultReplay {
        tmp: _tmp,
        vm,
        trace,
        out,
    } = replay_one_fault(Event::DeleteVolumeFails(0));
    assert!(out.contains("top ILLEGAL orphan"), "{out}");
    assert!(
        out.contains("serving base.qcow2"),
        "merged and pivoted: {out}"
    );
    assert!(
        out.contains("top volume exists"),
        "the file could not go: {out}"
    );
    assert!(
        out.contains("in the real world: no invariant is broken"),
        "{out}"
    );
    assert_guest_intact(&out, 1);
    // The kernel's refusal (EPERM on an immutable file), not a message of ours.
    let t = std::fs::read_to_string(&trace).unwrap();
    assert!(t.contains("Operation not permitted"), "{t}");
    assert_conforms(&trace, &vm);
    // The attribute is off again: the file can go (and the temporary directory with it).
    std::fs::remove_file(vm.join("disk-1").join("top.qcow2")).unwrap();
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn bug_1280160_replayed_live_deletes_the_snapshot_while_the_daemon_serves_top() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = tmp.path().join("cx");
    let o = livemerge(&[
        "check",
        "--poller",
        "3.6.0",
        "--disks",
        "2",
        "-q",
        "--save",
        cx.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let file = cx.join("snapshot-removed-implies-merge-done.json");
    let vm = tmp.path().join("vm");
    let o = livemerge(&[
        "replay",
        file.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
        "--host",
        "live",
        "-q",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("the engine followed all 6 steps"), "{out}");
    assert!(out.contains("snapshots: no row (deleted)"), "{out}");
    for d in ["disk-1", "disk-2"] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("{d}: ")) && l.contains("serving"))
            .unwrap();
        assert!(line.contains("serving top.qcow2 -> base.qcow2"), "{line}");
    }
    assert_guest_intact(&out, 2);
    assert!(
        out.contains("in the real world: broken: snapshot removed implies merge done"),
        "{out}"
    );
}

/// Starts `livemerge run --host live` on `vm` in the background.
fn spawn_run(vm: &Path, trace: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(["run", "--dir", vm.to_str().unwrap(), "--host", "live"])
        .args(["--disks", "3", "--tick-ms", "20", "--guest-write-ms", "2"])
        .args([
            "--limit-secs",
            "60",
            "--trace",
            trace.to_str().unwrap(),
            "-q",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn resume(vm: &Path, trace: &Path) -> std::process::Output {
    livemerge(&[
        "resume",
        "--dir",
        vm.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "-q",
    ])
}

fn daemon_pid(vm: &Path) -> Option<i32> {
    std::fs::read_to_string(vm.join("qsd.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn the_host_killed_mid_job_then_the_engine_resumed_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let vm = tmp.path().join("vm");
    let trace = tmp.path().join("trace.jsonl");
    let child = spawn_run(&vm, &trace);
    // Wait until a merge job runs on the host, then kill the host with SIGKILL.
    let t0 = Instant::now();
    loop {
        let t = std::fs::read_to_string(&trace).unwrap_or_default();
        if t.contains("merge_reaches_host") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no merge reached the host"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = daemon_pid(&vm).expect("the daemon wrote its pid");
    // SAFETY: a signal to the daemon this test's engine started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let killed = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&killed.stdout);
    // The engine stops as a killed one would (exit 3, the removal did not end), saying why; its
    // memory is behind reality until resume, which is not a departure from the model.
    assert_eq!(killed.status.code(), Some(3), "{report}");
    assert!(report.contains("the engine stopped"), "{report}");
    assert!(!report.contains("CONFORMANCE ERROR"), "{report}");
    let o = resume(&vm, &trace);
    let out = text(&o);
    assert_resumed(&o, &out);
    assert_guest_intact(&out, 3);
    // The chain the restarted daemon serves is the one the files (and the report) show.
    for d in 1..=3 {
        let active = std::fs::read_to_string(vm.join(format!("disk-{d}/active"))).unwrap();
        let line = out
            .lines()
            .find(|l| l.contains(&format!("disk-{d}: ")) && l.contains("serving"))
            .unwrap();
        assert!(
            line.contains(&format!("serving {}", active.trim())),
            "{line}"
        );
    }
    assert_conforms(&trace, &vm);
}

/// A resumed removal ended (exit 0), or ended in a violation the model predicts for 4.0.2 with
/// faults and restarts (exit 1: a host that died failed some merge jobs, a restarted one
/// finished another; `findings.json` lists "database agrees with storage when no command is
/// running" as violated there), or stuck where the model says so (exit 3: 4.0's liveness
/// finding: a child caught before it executed hangs for ever, "nothing more can happen"; a kill
/// while a DestroyImage grandchild waited in the pool's queue loses it, and then only the
/// expiry of the waiting child, 3000 minutes on, can end the removal), never with the engine
/// disagreeing with reality.
fn assert_resumed(o: &std::process::Output, out: &str) {
    let code = o.status.code();
    let stuck_as_the_model_says = out.contains("removal did not end: nothing more can happen")
        || out.contains("removal did not end: only the expiry of its commands can end it");
    assert!(
        matches!(code, Some(0 | 1)) || (code == Some(3) && stuck_as_the_model_says),
        "{out}"
    );
    assert!(!out.contains("CONFORMANCE ERROR"), "{out}");
    assert!(!out.contains("DATA LOST"), "{out}");
}

/// Every step of the trace (run and resume) is the model's, and the real directory matches.
fn assert_conforms(trace: &Path, vm: &Path) {
    let a = audit(trace, vm);
    let at = text(&a);
    assert!(at.contains("conforms:"), "{at}");
    assert!(!at.contains("the real world differs"), "{at}");
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn the_engine_killed_at_random_points_resumes_live_without_loss() {
    let mut rng = fastrand::Rng::with_seed(0x1280160);
    for round in 0..4 {
        let tmp = tempfile::tempdir().unwrap();
        let vm = tmp.path().join("vm");
        let trace = tmp.path().join("trace.jsonl");
        let mut child = spawn_run(&vm, &trace);
        let wait = Duration::from_millis(rng.u64(150..900));
        let t0 = Instant::now();
        while t0.elapsed() < wait && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill();
        let _ = child.wait();
        if !vm.join("engine.db").exists() {
            continue; // killed during setup: nothing to resume
        }
        // The daemon died with its engine (it is the engine's child).
        if let Some(pid) = daemon_pid(&vm) {
            let t0 = Instant::now();
            while Path::new(&format!("/proc/{pid}/cmdline")).exists()
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("qemu-storage"))
            {
                assert!(
                    t0.elapsed() < Duration::from_secs(5),
                    "the daemon outlived its engine"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let o = resume(&vm, &trace);
        let out = text(&o);
        eprintln!(
            "round {round}: killed after {wait:?}, resume exit {:?}",
            o.status.code()
        );
        assert_resumed(&o, &out);
        assert_guest_intact(&out, 3);
        assert_conforms(&trace, &vm);
    }
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn a_directory_too_long_for_a_socket_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let long = tmp.path().join("x".repeat(120));
    let o = livemerge(&["run", "--dir", long.to_str().unwrap(), "--host", "live"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = common::stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("too long for the daemon's unix sockets"),
        "{err}"
    );
    assert!(!long.exists(), "nothing was created");
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn a_daemon_that_cannot_start_or_is_missing_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let vm = tmp.path().join("vm");
    let d = vm.to_str().unwrap();
    let o = livemerge(&["run", "--dir", d, "--host", "live", "--tick-ms", "20", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A base that is no qcow2 image any more: the restarted daemon cannot open the chain.
    std::fs::write(vm.join("disk-2").join("base.qcow2"), b"not an image").unwrap();
    let o = livemerge(&["resume", "--dir", vm.to_str().unwrap(), "-q"]);
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("disk-2: blockdev-add"), "{err}");
    // No qemu-storage-daemon on PATH (qemu-img and qemu-io are there).
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for t in ["qemu-img", "qemu-io"] {
        let real =
            String::from_utf8(Command::new("which").arg(t).output().unwrap().stdout).unwrap();
        std::os::unix::fs::symlink(real.trim(), bin.join(t)).unwrap();
    }
    let o = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args([
            "run",
            "--dir",
            tmp.path().join("vm2").to_str().unwrap(),
            "--host",
            "live",
        ])
        .env("PATH", &bin)
        .output()
        .unwrap();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("qemu-storage-daemon not found"), "{err}");
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn ctrl_c_stops_the_daemon_with_the_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let vm = tmp.path().join("vm");
    // A 1 s tick: the removal takes many seconds, the signal lands in the middle.
    let mut child = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(["run", "--dir", vm.to_str().unwrap(), "--host", "live", "-q"])
        .args(["--tick-ms", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let pid = loop {
        if let Some(p) = daemon_pid(&vm) {
            break p;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no daemon started");
        std::thread::sleep(Duration::from_millis(5));
    };
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: a signal to the engine this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
    let t0 = Instant::now();
    while std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("qemu-storage"))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the daemon outlived Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Replays, on the live host, the model's path where a restart caught a Merge grandchild whose
/// block-commit the daemon had completed (pivot included), and the user's retry; returns what it
/// printed and the trace's records.
fn replay_merged_restart_live(
    release: livemerge_model::Release,
    tmp: &Path,
) -> (
    String,
    Vec<serde_json::Value>,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    use common::merged_restart::{
        assert_failed_then_refused, one_disk_restart, retry_after_a_merged_restart,
    };
    let events = retry_after_a_merged_restart(release);
    let file = tmp.join("retry.json");
    common::save_path(&one_disk_restart(release, 1), &events, &file);
    let (vm, trace) = (tmp.join("vm"), tmp.join("trace.jsonl"));
    let o = livemerge(&[
        "replay",
        file.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
        "--host",
        "live",
        "--trace",
        trace.to_str().unwrap(),
        "-q",
    ]);
    let out = text(&o);
    assert!(
        out.contains(&format!("the engine followed all {} steps", events.len())),
        "{events:?}\n{out}"
    );
    assert!(out.contains("storage live"), "{out}");
    assert_guest_intact(&out, 1);
    // The daemon serves base alone: the block-commit pivoted before the restart.
    assert!(out.contains("serving base.qcow2;"), "{out}");
    let records = assert_failed_then_refused(&trace);
    (out, records, vm, trace)
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn live_from_4_0_a_retry_completes_the_merge_a_restart_caught_after_vm_merge() {
    use livemerge_model::Release;
    let tmp = tempfile::tempdir().unwrap();
    let (out, records, vm, trace) = replay_merged_restart_live(Release::V4_0_2, tmp.path());
    assert!(out.contains("removal ended: snapshot deleted"), "{out}");
    assert!(out.contains("snapshots: no row (deleted)"), "{out}");
    assert!(out.contains("command_entities: no rows"), "{out}");
    assert!(out.contains("images disk-1: base OK active\n"), "{out}");
    assert!(
        out.contains("disk-1: active base.qcow2, chain base (merged), top volume deleted, base holds top's data; all data readable"),
        "{out}"
    );
    let (at, _) = common::merged_restart::record_of(&records, "merge_refused");
    assert_eq!(records[at]["after"]["disks"][0]["task"], "Executing");
    let info = Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(vm.join("disk-1").join("base.qcow2"))
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(info.get("backing-filename").is_none(), "{info}");
    assert!(!vm.join("disk-1").join("top.qcow2").exists());
    common::merged_restart::assert_audits(&trace, &vm, &records);
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn live_on_3_6_1_the_retry_of_a_merged_restart_fails_its_refused_merge() {
    use livemerge_model::Release;
    let tmp = tempfile::tempdir().unwrap();
    let (out, records, vm, trace) = replay_merged_restart_live(Release::V3_6_1, tmp.path());
    assert!(
        out.contains("removal ended: it failed, the snapshot is kept"),
        "{out}"
    );
    assert!(out.contains(" OK [disk-1]"), "{out}");
    assert!(
        out.contains("images disk-1: base OK, top ILLEGAL active"),
        "{out}"
    );
    let (at, _) = common::merged_restart::record_of(&records, "merge_refused");
    assert_eq!(records[at]["after"]["disks"][0]["task"], "Failed");
    common::merged_restart::assert_audits(&trace, &vm, &records);
}
