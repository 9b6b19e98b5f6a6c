//! `livemerge run`, `resume` and `stress` as users run them: reports, exit codes, bad input.

mod common;

use common::{livemerge, run_traced, stderr as err, stdout as out};
use livemerge_impl::db::Db;
use std::process::{Command, Output};

/// Exit 2 with exactly one line on stderr, containing `what`.
fn bad_input(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(2), "{}{}", out(o), err(o));
    let e = err(o);
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    assert!(e.contains(what), "{e}");
    assert!(!e.contains("panicked") && !e.contains("backtrace"), "{e}");
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn run_removes_the_snapshot_and_reports_the_real_rows_and_chains() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vm");
    let d = dir.to_str().unwrap();
    let o = livemerge(&["run", "--dir", d, "--disks", "2", "--tick-ms", "10"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", err(&o));
    assert!(text.contains("removal ended: snapshot deleted"), "{text}");
    assert!(text.contains("snapshots: no row (deleted)"), "{text}");
    for disk in ["disk-1", "disk-2"] {
        assert!(
            text.contains(&format!("{disk}: active base.qcow2, chain base (merged), top volume deleted, base holds top's data; all data readable")),
            "{text}"
        );
    }
    assert!(
        text.contains("holds     snapshot removed implies merge done"),
        "{text}"
    );
    // Running again on the same directory is refused; resuming a finished removal is a no-op.
    bad_input(&livemerge(&["run", "--dir", d]), "already holds an engine");
    let o = livemerge(&["resume", "--dir", d]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("0 event(s) applied here"), "{}", out(&o));
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn the_3_6_0_poller_under_the_forced_schedule_exits_1_with_the_bug() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vm");
    let trace = tmp.path().join("t.jsonl");
    let o = run_traced(
        &dir,
        &trace,
        &[
            "--poller",
            "3.6.0",
            "--tick-ms",
            "10",
            "--schedule",
            "pool-after-parent-poll",
        ],
    );
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("VIOLATED  snapshot removed implies merge done"),
        "{text}"
    );
    // The trace shows the parent deciding while every child is still NOT_STARTED, and the
    // snapshot row deleted before any VM.merge (the pool threads then re-create their rows).
    let decided = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["event"]["event"] == "poll_parent")
        .expect("the parent was polled");
    assert_eq!(decided["after"]["parent"]["status"], "Succeeded");
    for d in decided["before"]["disks"].as_array().unwrap() {
        assert_eq!(d["status"], "NotStarted");
    }
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let deleted = events
        .iter()
        .position(|l| l["after"]["snapshot"] == "Deleted")
        .expect("the snapshot row was deleted");
    assert!(
        events[..deleted]
            .iter()
            .all(|l| l["event"]["event"] != "merge_reaches_host"),
        "no merge had started when the row went"
    );
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn bad_input_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    bad_input(
        &livemerge(&["resume", "--dir", p.join("none").to_str().unwrap()]),
        "not an engine directory",
    );
    std::fs::write(p.join("notes.txt"), "mine").unwrap();
    bad_input(
        &livemerge(&["run", "--dir", p.to_str().unwrap()]),
        "not empty",
    );
    let junk = p.join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("engine.db"), "not sqlite at all, not even close").unwrap();
    bad_input(
        &livemerge(&["resume", "--dir", junk.to_str().unwrap()]),
        "not an engine database",
    );
    bad_input(
        &livemerge(&[
            "run",
            "--dir",
            p.join("a").to_str().unwrap(),
            "--disks",
            "0",
        ]),
        "--disks",
    );
    bad_input(
        &livemerge(&["stress", "--runs", "1", "--tick-ms", "0"]),
        "--tick-ms",
    );
    bad_input(
        &livemerge(&["stress", "--runs", "1", "--pool-threads", "10000000"]),
        "--pool-threads",
    );
    bad_input(
        &livemerge(&["stress", "--runs", "1", "--start-cost-ms", "1e300"]),
        "--start-cost-ms",
    );
    // A refused run leaves no trace file behind.
    let trace = p.join("t.jsonl");
    bad_input(
        &livemerge(&[
            "run",
            "--dir",
            p.join("notes.txt").to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ]),
        "not a directory",
    );
    assert!(!trace.exists());
    // No qemu-img on the PATH.
    let o = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(["run", "--dir", p.join("b").to_str().unwrap()])
        .env("PATH", p.join("empty-path"))
        .output()
        .unwrap();
    bad_input(&o, "qemu-img not found");
    // A database held by another engine.
    let dir = p.join("vm");
    let o = livemerge(&[
        "run",
        "--dir",
        dir.to_str().unwrap(),
        "--disks",
        "1",
        "--tick-ms",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let held = Db::open_engine(&dir.join("engine.db")).unwrap();
    bad_input(
        &livemerge(&["resume", "--dir", dir.to_str().unwrap()]),
        "locked by another engine",
    );
    drop(held);
}

#[test]
fn stress_finds_the_race_for_3_6_0_and_none_for_4_0() {
    // A start cost far above the tick: the parent is polled while every child is queued.
    let o = livemerge(&[
        "stress",
        "--runs",
        "3",
        "--poller",
        "3.6.0",
        "--disks",
        "2",
        "--tick-ms",
        "2",
        "--start-cost-ms",
        "100",
        "-q",
    ]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("runs 3, violations "), "{text}");
    assert!(!text.contains("violations 0,"), "{text}");
    assert!(
        text.contains("snapshot removed implies merge done"),
        "{text}"
    );
    // The same timing cannot break 4.0.
    let o = livemerge(&[
        "stress",
        "--runs",
        "3",
        "--poller",
        "4.0",
        "--disks",
        "2",
        "--tick-ms",
        "2",
        "--start-cost-ms",
        "5",
        "-q",
    ]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("runs 3, violations 0, rate 0.0000, 95% CI [0.0000, 0.5615]"),
        "{text}"
    );
}
