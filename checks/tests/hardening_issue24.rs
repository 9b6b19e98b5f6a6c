//! Issue 24: defects an adversarial test found in the hardened build, one test each.
//! 1. `show` presented a path that never reaches its violation as a counterexample;
//! 2. `show` and `replay` accepted saved states that contradict the file's events;
//! 3. duplicate faults were merged silently, and `schedules --save` took a regular file;
//! 4. `audit --dir` did not read the volumes the last state says exist;
//! 5. `resume` built on rows outside oVirt's closed enums, or rows deleted;
//! 6. an engine whose `engine.db` was unlinked went on committing into the unlinked file;
//! 7. a trace target that opens but cannot be written stopped the run after its first step;
//! 8. a `resume` refused because another process holds the directory printed that process's
//!    steps as its own.

mod common;
use common::{livemerge, printed, saved_bug, stderr, stdout};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Exit 2 with one line on stderr naming `want`, nothing on stdout.
fn assert_refused(o: &Output, want: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{}", printed(o));
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("livemerge: "), "{err}");
    assert!(err.contains(want), "{err} lacks {want:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(stdout(o), "", "nothing shown when refused");
}

/// The bug 1280160 counterexample as JSON, saved in `dir`.
fn bug(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(saved_bug(&dir.join("cx"))).unwrap()).unwrap()
}

fn write_json(p: &Path, v: &Value) -> String {
    std::fs::write(p, v.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

/// The file cut to its first `n` events (and the states they reach, so they stay consistent).
fn prefix(v: &Value, n: usize) -> Value {
    let mut p = v.clone();
    p["events"] = json!(v["events"].as_array().unwrap()[..n]);
    p["states"] = json!(v["states"].as_array().unwrap()[..n + 1]);
    p["steps"] = json!(v["steps"].as_array().unwrap()[..n]);
    p
}

#[test]
fn defect1_show_refuses_a_path_that_reaches_no_witness() {
    let tmp = tempfile::tempdir().unwrap();
    let good = bug(tmp.path());
    assert_eq!(good["events"].as_array().unwrap().len(), 5);
    for n in [0, 3, 4] {
        let f = write_json(
            &tmp.path().join(format!("prefix{n}.json")),
            &prefix(&good, n),
        );
        let o = livemerge(&["show", &f]);
        assert_refused(
            &o,
            &format!(
                "its {n} step(s) do not reach a violation of always \"snapshot removed implies merge done\""
            ),
        );
        // The diagram is not drawn for it either.
        let svg = tmp.path().join("p.svg");
        let o = livemerge(&["show", &f, "--svg", svg.to_str().unwrap()]);
        assert_refused(&o, "not a counterexample");
        assert!(!svg.exists());
    }
    // The whole path still is one.
    let f = write_json(&tmp.path().join("whole.json"), &good);
    let o = livemerge(&["show", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    assert!(stdout(&o).contains("(5 steps):"), "{}", stdout(&o));
    // A schedule the engine failed to follow names no property the model can witness: shown.
    let mut sched = prefix(&good, 3);
    sched["property"]["name"] = json!("the engine follows the model");
    let f = write_json(&tmp.path().join("schedule.json"), &sched);
    let o = livemerge(&["show", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
}

#[test]
fn defect2_states_that_contradict_the_events_are_refused_by_show_and_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let good = bug(tmp.path());
    // The state after step 2 replaced by the one after step 4; the initial state by the last.
    let mut mid = good.clone();
    mid["states"][2] = good["states"][4].clone();
    let mut first = good.clone();
    first["states"][0] = good["states"][5].clone();
    // Only the last state changed: the path still "reaches" a violation, but not this one.
    let mut last = good.clone();
    last["states"][5] = good["states"][4].clone();
    for (name, v, want) in [
        ("mid", &mid, "the states diverge at step 2 ("),
        (
            "first",
            &first,
            "the saved initial state is not the model's",
        ),
        ("last", &last, "the states diverge at step 5 ("),
    ] {
        let f = write_json(&tmp.path().join(format!("{name}.json")), v);
        let o = livemerge(&["show", &f]);
        assert_refused(&o, want);
        assert!(stderr(&o).contains("the file's states contradict its events"));
        let dir = tmp.path().join(format!("replayed-{name}"));
        let o = livemerge(&["replay", &f, "--dir", dir.to_str().unwrap(), "-q"]);
        assert_refused(&o, want);
        assert!(!dir.exists(), "{name}: nothing set up");
    }
}

#[test]
fn defect3_duplicate_faults_and_a_save_target_that_is_a_file_are_refused() {
    for faults in [
        "merge-job-fails,merge-job-fails",
        "delete-volume-fails,merge-job-fails,delete-volume-fails",
    ] {
        let o = livemerge(&["check", "--disks", "1", "--faults", faults, "-q"]);
        assert_refused(&o, "is listed twice");
    }
    // Each once is still fine.
    let o = livemerge(&[
        "check",
        "--disks",
        "1",
        "--release",
        "4.0.2",
        "--faults",
        "merge-job-fails,delete-volume-fails",
        "--restarts",
        "0",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    // `schedules --save` refuses a regular file as `check --save` does, before running.
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    std::fs::write(&plain, "x").unwrap();
    for args in [
        vec!["schedules", "--runs", "1", "-q", "--save"],
        vec![
            "check",
            "--disks",
            "1",
            "--release",
            "3.6.0",
            "-q",
            "--save",
        ],
    ] {
        let mut args = args.clone();
        args.push(plain.to_str().unwrap());
        let o = livemerge(&args);
        assert_refused(&o, &format!("--save {}: not a directory", plain.display()));
        assert_eq!(std::fs::read_to_string(&plain).unwrap(), "x");
    }
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn defect4_audit_dir_reads_every_volume_the_last_state_says_exists() {
    let tmp = tempfile::tempdir().unwrap();
    // Three steps of the 3.6.0 path: nothing merged yet, no property broken; the last state
    // says base and top exist and base lacks top's data.
    let f = write_json(&tmp.path().join("p.json"), &prefix(&bug(tmp.path()), 3));
    let dir = tmp.path().join("vm");
    let trace = tmp.path().join("vm.jsonl");
    let (d, t) = (dir.to_str().unwrap(), trace.to_str().unwrap());
    let o = livemerge(&["replay", &f, "--dir", d, "--trace", t, "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    let o = livemerge(&["audit", t, "--dir", d]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    assert!(stdout(&o).contains("the real rows and volumes match the last state"));
    let copy = |name: &str| {
        let to = tmp.path().join(name);
        assert!(Command::new("cp")
            .args(["-a", d, to.to_str().unwrap()])
            .status()
            .unwrap()
            .success());
        to
    };
    // Base deleted: it "lacks top's data" as it did, but it is gone.
    let no_base = copy("no-base");
    std::fs::remove_file(no_base.join("disk-1/base.qcow2")).unwrap();
    // Top is not a volume any more (its name exists, so "top exists" still reads true).
    let bad_top = copy("bad-top");
    std::fs::write(bad_top.join("disk-1/top.qcow2"), b"").unwrap();
    for (dir, want) in [
        (
            &no_base,
            "disk-1's base.qcow2, which the trace's last state says exists, cannot be read",
        ),
        (
            &bad_top,
            "disk-1's top.qcow2, which the trace's last state says exists, cannot be read",
        ),
    ] {
        let o = livemerge(&["audit", t, "--dir", dir.to_str().unwrap()]);
        let text = printed(&o);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(text.contains(want), "{text}");
        assert!(!text.contains("match the last state"), "{text}");
    }
}

fn run_args<'a>(dir: &'a str, trace: &'a str, tick: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--dir",
        dir,
        "--disks",
        "3",
        "--tick-ms",
        tick,
        "--start-cost-ms",
        "20",
        "--trace",
        trace,
    ]
}

fn trace_lines(trace: &Path) -> usize {
    std::fs::read_to_string(trace).map_or(0, |t| t.lines().count())
}

/// Starts a removal in `root/name` and waits until its trace has `lines` lines; returns the
/// running process, the directory and the trace.
fn started_run(
    root: &Path,
    name: &str,
    tick: &str,
    lines: usize,
) -> (std::process::Child, PathBuf, PathBuf) {
    let dir = root.join(name);
    let trace = root.join(format!("{name}.jsonl"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(run_args(
            dir.to_str().unwrap(),
            trace.to_str().unwrap(),
            tick,
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while trace_lines(&trace) < lines {
        assert!(child.try_wait().unwrap().is_none(), "ended too early");
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_micros(300));
    }
    (child, dir, trace)
}

/// Every file of `dir` (not its subdirectories) and its bytes.
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn defect5_resume_refuses_rows_outside_ovirts_enums_and_deleted_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, dir, _trace) = started_run(tmp.path(), "vm", "10", 14);
    child.kill().unwrap();
    child.wait().unwrap();
    let edits: [(&str, &str, &str); 4] = [
        (
            "bogus-snapshot",
            "UPDATE snapshots SET status = 'BOGUS'",
            "the snapshots row has status 'BOGUS', which is not an oVirt snapshot status",
        ),
        (
            "no-commands",
            "DELETE FROM command_entities",
            "row in command_entities is missing",
        ),
        (
            "zzz",
            "UPDATE command_entities SET status = 'ZZZ' WHERE command_type = 'RemoveSnapshotSingleDiskLive'",
            "child's row in command_entities has status 'ZZZ', which is not an oVirt command status",
        ),
        (
            "no-snapshot",
            "DELETE FROM snapshots",
            "the snapshots row is missing",
        ),
    ];
    let copy = |name: &str| {
        let to = tmp.path().join(name);
        assert!(Command::new("cp")
            .args(["-a", dir.to_str().unwrap(), to.to_str().unwrap()])
            .status()
            .unwrap()
            .success());
        to
    };
    let untouched = copy("untouched");
    for (name, sql, want) in edits {
        let d = copy(name);
        let conn = rusqlite::Connection::open(d.join("engine.db")).unwrap();
        assert!(
            conn.execute(sql, []).unwrap() > 0,
            "{name}: {sql} changed a row"
        );
        conn.close().unwrap();
        let before = files_of(&d);
        let o = livemerge(&["resume", "--dir", d.to_str().unwrap()]);
        assert_refused(&o, want);
        assert!(stderr(&o).contains("is corrupt"), "{}", stderr(&o));
        assert!(files_of(&d) == before, "{name}: nothing on disk changed");
    }
    // The same directory untouched resumes (the check refuses corruption, not a killed engine).
    let o = livemerge(&["resume", "--dir", untouched.to_str().unwrap(), "-q"]);
    assert_ne!(o.status.code(), Some(2), "{}", printed(&o));
    assert!(stdout(&o).contains("removal ended"), "{}", printed(&o));
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn defect6_an_engine_whose_database_is_unlinked_or_replaced_stops() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, want) in [
        ("unlinked", "engine.db was unlinked while the engine ran"),
        (
            "replaced",
            "engine.db was replaced by another file while the engine ran",
        ),
    ] {
        // A slow tick: the removal is far from its end when the file goes.
        let (child, dir, trace) = started_run(tmp.path(), name, "50", 8);
        let db = dir.join("engine.db");
        if name == "unlinked" {
            std::fs::remove_file(&db).unwrap();
        } else {
            let other = dir.join("other.db");
            std::fs::copy(&db, &other).unwrap();
            std::fs::rename(&other, &db).unwrap();
        }
        let gone_at = trace_lines(&trace);
        let o = child.wait_with_output().unwrap();
        let text = printed(&o);
        assert_eq!(o.status.code(), Some(3), "{text}");
        assert!(
            stdout(&o).contains("the engine stopped: cannot commit"),
            "{text}"
        );
        assert!(stdout(&o).contains(want), "{text}");
        assert!(!text.contains("removal ended"), "{text}");
        // It stopped at once: at most the step in flight went into the trace after the removal.
        assert!(trace_lines(&trace) <= gone_at + 2, "{text}");
        if name == "unlinked" {
            let o = livemerge(&["resume", "--dir", dir.to_str().unwrap()]);
            assert_refused(
                &o,
                "no engine.db, but its write-ahead log engine.db-wal is there",
            );
        }
    }
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn defect7_a_trace_that_cannot_be_written_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = saved_bug(&tmp.path().join("cx"));
    let before = std::fs::read("/proc/self/status").is_ok();
    assert!(before, "/proc is mounted");
    for (i, target) in ["/proc/self/status", "/proc/self/comm"].iter().enumerate() {
        let dir = tmp.path().join(format!("vm{i}"));
        let d = dir.to_str().unwrap();
        for args in [
            vec!["run", "--dir", d, "--disks", "1", "--tick-ms", "10"],
            vec!["replay", cx.to_str().unwrap(), "--dir", d],
        ] {
            let mut args = args.clone();
            args.extend(["--trace", target]);
            let o = livemerge(&args);
            assert_refused(&o, target);
            assert!(!dir.exists(), "{args:?}: nothing set up");
        }
    }
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn defect8_a_resume_refused_for_a_held_directory_prints_nothing_of_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, dir, trace) = started_run(tmp.path(), "vm", "50", 3);
    let (d, t) = (dir.to_str().unwrap(), trace.to_str().unwrap());
    // Not quiet: the progress lines would come from the shared trace.
    let o = livemerge(&["resume", "--dir", d, "--trace", t]);
    assert_refused(&o, "is in use by another livemerge");
    assert!(!stderr(&o).contains(" step "), "{}", stderr(&o));
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
}
