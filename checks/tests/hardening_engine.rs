//! Hardening of the engine's files, classes 5 to 8: a database rolled back behind its trace
//! (a damaged WAL after a SIGKILL) and a damaged database file are refused before the engine
//! starts or writes (exit 2, files unchanged); two `run`s on one new directory cannot both set
//! it up; a trace that is a FIFO or a device is refused at once; and the misleading successes:
//! another run's trace, a path the model refuses, a newer model version, data gone behind the
//! engine's back.

mod common;
use common::{livemerge, printed, saved_bug, stderr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_args<'a>(dir: &'a str, trace: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--dir",
        dir,
        "--disks",
        "3",
        "--poller",
        "4.0",
        "--tick-ms",
        "10",
        "--start-cost-ms",
        "20",
        "--trace",
        trace,
    ]
}

/// Starts a removal and SIGKILLs it once its trace has `lines` lines; returns (dir, trace).
fn killed_run(root: &Path, lines: usize) -> (PathBuf, PathBuf) {
    let dir = root.join("vm");
    let trace = root.join("trace.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(run_args(dir.to_str().unwrap(), trace.to_str().unwrap()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        let n = std::fs::read_to_string(&trace).map_or(0, |t| t.lines().count());
        if n >= lines {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_micros(300));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    (dir, trace)
}

fn completed_run(root: &Path, name: &str) -> (PathBuf, PathBuf) {
    let dir = root.join(name);
    let trace = root.join(format!("{name}.jsonl"));
    let o = livemerge(&run_args(dir.to_str().unwrap(), trace.to_str().unwrap()));
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    (dir, trace)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

fn assert_refused(o: &std::process::Output, want: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{}", printed(o));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(want), "{err} lacks {want}");
    assert_eq!(common::stdout(o), "", "no report when refused");
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn class5_a_database_behind_its_trace_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, trace) = killed_run(tmp.path(), 32);
    let wal = dir.join("engine.db-wal");
    let mut bytes = read(&wal);
    assert!(bytes.len() > 64 * 1024, "the WAL holds the run's commits");
    let mid = bytes.len() / 2;
    bytes[mid..mid + 8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef]);
    std::fs::write(&wal, &bytes).unwrap();
    let (trace_before, wal_before) = (read(&trace), read(&wal));
    let o = livemerge(&[
        "resume",
        "--dir",
        dir.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_refused(&o, "the database is behind the trace");
    let err = stderr(&o);
    assert!(
        err.contains("its last step is seq") && err.contains("records seq"),
        "{err}"
    );
    assert!(read(&trace) == trace_before, "the trace is unchanged");
    assert!(read(&wal) == wal_before, "what the WAL still holds is kept");
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn class6_a_damaged_database_is_refused_before_the_engine_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _trace) = completed_run(tmp.path(), "vm");
    let db = dir.join("engine.db");
    assert!(!dir.join("engine.db-wal").exists(), "checkpointed at exit");
    let good = read(&db);
    let pages = good.len() / 4096;
    assert!(pages >= 7, "{pages} pages");
    let mut refused = 0;
    for page in 2..=7usize {
        let mut bad = good.clone();
        bad[(page - 1) * 4096..page * 4096].fill(0);
        std::fs::write(&db, &bad).unwrap();
        let o = livemerge(&["resume", "--dir", dir.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "page {page}: {}", printed(&o));
        assert_eq!(err.lines().count(), 1, "page {page}: {err}");
        assert!(
            err.contains("damaged") || err.contains("malformed"),
            "page {page}: {err}"
        );
        assert!(read(&db) == bad, "page {page}: the file is left as it was");
        refused += 1;
    }
    assert_eq!(refused, 6);
    std::fs::write(&db, &good).unwrap();
    let o = livemerge(&["resume", "--dir", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io), over 5 s (scripts/test runs it)"]
fn class7_two_runs_on_one_new_directory_and_traces_that_would_hang() {
    for round in 0..4 {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vm");
        let spawn = |t: &str| {
            Command::new(env!("CARGO_BIN_EXE_livemerge"))
                .args(run_args(
                    dir.to_str().unwrap(),
                    tmp.path().join(t).to_str().unwrap(),
                ))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("a.jsonl"), spawn("b.jsonl"));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let mut codes = [a.status.code(), b.status.code()];
        codes.sort();
        assert_eq!(
            codes,
            [Some(0), Some(2)],
            "round {round}: {} / {}",
            printed(&a),
            printed(&b)
        );
        let loser = if a.status.code() == Some(2) { &a } else { &b };
        let err = stderr(loser);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("in use by another livemerge") || err.contains("already holds an engine"),
            "{err}"
        );
        // The winner's directory is whole: its trace audits against it.
        let winner = if a.status.code() == Some(0) {
            "a.jsonl"
        } else {
            "b.jsonl"
        };
        let o = livemerge(&[
            "audit",
            tmp.path().join(winner).to_str().unwrap(),
            "--dir",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    }
    // A FIFO nobody reads and /dev/zero: refused at once, nothing set up.
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // /dev/zero only through a symlink of ours: a build that clobbered its target would replace
    // the symlink, never the device.
    let devzero = tmp.path().join("devzero");
    std::os::unix::fs::symlink("/dev/zero", &devzero).unwrap();
    for t in [fifo.as_path(), devzero.as_path()] {
        let dir = tmp.path().join("vm");
        let t0 = Instant::now();
        let o = livemerge(&run_args(dir.to_str().unwrap(), t.to_str().unwrap()));
        assert!(t0.elapsed() < Duration::from_secs(10), "did not hang");
        assert_refused(&o, "refusing");
        assert!(!dir.exists(), "nothing set up");
    }
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn class8_successes_that_were_misleading() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, trace_a) = completed_run(tmp.path(), "a");
    let (dir_b, _) = completed_run(tmp.path(), "b");

    // resume --trace with another run's trace: refused, the trace unchanged.
    let before = read(&trace_a);
    let o = livemerge(&[
        "resume",
        "--dir",
        dir_b.to_str().unwrap(),
        "--trace",
        trace_a.to_str().unwrap(),
    ]);
    assert_refused(&o, "the trace of another engine");
    assert!(read(&trace_a) == before);
    // run/replay with a trace that already holds one: refused too.
    let o = livemerge(&run_args(
        tmp.path().join("c").to_str().unwrap(),
        trace_a.to_str().unwrap(),
    ));
    assert_refused(&o, "already holds a trace");
    assert!(read(&trace_a) == before);

    // A volume deleted behind the engine's back: no property is claimed to hold.
    std::fs::remove_file(dir_a.join("disk-1").join("base.qcow2")).unwrap();
    let o = livemerge(&["resume", "--dir", dir_a.to_str().unwrap()]);
    let text = printed(&o);
    assert_ne!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("DATA LOST"), "{text}");
    assert!(!text.contains("holds     no data lost"), "{text}");
    assert!(text.contains("VIOLATED  every block reads back"), "{text}");

    // Counterexample files: a newer model version, and a path whose first step the model
    // refuses, are refused by every reader.
    let cx = saved_bug(&tmp.path().join("cx"));
    let mut v: serde_json::Value = serde_json::from_slice(&read(&cx)).unwrap();
    let future = tmp.path().join("future.json");
    v["model_version"] = serde_json::json!(99);
    std::fs::write(&future, v.to_string()).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&read(&cx)).unwrap();
    let refused = tmp.path().join("refused.json");
    v["events"][0] = serde_json::json!({"event": "poll_child", "disk": 0});
    std::fs::write(&refused, v.to_string()).unwrap();
    for (file, want) in [(&future, "model version 99"), (&refused, "step 1")] {
        let f = file.to_str().unwrap();
        let replay_dir = tmp.path().join("replayed");
        for args in [
            vec!["show", f],
            vec!["check", "--replay-model", f],
            vec!["replay", f, "--dir", replay_dir.to_str().unwrap()],
        ] {
            if args[0] == "check" && want == "step 1" {
                // --replay-model's answer to a refused step is its purpose (exit 0, says so).
                continue;
            }
            let o = livemerge(&args);
            assert_refused(&o, want);
            assert!(!replay_dir.exists(), "{args:?} set up a directory");
        }
    }
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn class5_a_record_torn_by_the_kill_is_cut_and_backfilled() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, trace) = killed_run(tmp.path(), 20);
    // Linux may stop a killed process's write at a page boundary: the last record torn.
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.pop().unwrap();
    let torn = format!("{}\n{}", lines.join("\n"), &last[..last.len() / 2]);
    std::fs::write(&trace, torn).unwrap();
    let (d, t) = (dir.to_str().unwrap(), trace.to_str().unwrap());
    let o = livemerge(&["resume", "--dir", d, "--trace", t]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    let o = livemerge(&["audit", t, "--dir", d]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    assert!(printed(&o).contains("conforms"), "{}", printed(&o));
}
