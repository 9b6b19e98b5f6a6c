//! `livemerge audit`: real engine traces conform; hand-edited ones are reported at the right line.

mod common;

use common::{livemerge, printed as out, run_traced};
use std::path::{Path, PathBuf};

/// A real removal on qcow2 files with a trace; returns (dir, trace).
fn traced_run(name: &str, release: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    let trace = tmp.path().join("trace.jsonl");
    let o = run_traced(
        &dir,
        &trace,
        &["--disks", "2", "--poller", release, "--tick-ms", "5"],
    );
    assert!(matches!(o.status.code(), Some(0) | Some(1)), "{}", out(&o));
    (tmp, dir, trace)
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write(p: &Path, lines: &[String]) {
    std::fs::write(p, lines.join("\n") + "\n").unwrap();
}

fn audit(trace: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["audit", trace.to_str().unwrap()];
    args.extend(extra);
    let o = livemerge(&args);
    (o.status.code(), out(&o))
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn a_real_trace_conforms_and_matches_the_real_world() {
    let (_tmp, dir, trace) = traced_run("vm", "4.0");
    let n = lines(&trace).len() - 1; // the header
    let (code, text) = audit(&trace, &["--dir", dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("conforms: {n} step(s) checked")),
        "{text}"
    );
    assert!(
        text.contains("the real rows and volumes match the last state"),
        "{text}"
    );
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn the_3_6_0_bug_on_real_images_is_a_violation_at_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vm");
    let trace = tmp.path().join("t.jsonl");
    let flags = "--disks 1 --poller 3.6.0 --tick-ms 5 --schedule pool-after-parent-poll";
    let o = run_traced(&dir, &trace, &flags.split(' ').collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let (code, text) = audit(&trace, &[]);
    assert_eq!(code, Some(1), "{text}");
    // The line where onSucceeded deleted the snapshot row.
    let l = lines(&trace);
    let bad = l
        .iter()
        .position(|x| x.contains("\"after\"") && x.contains("\"snapshot\":\"Deleted\""))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!(
            ":{bad}: violates always \"snapshot removed implies merge done\""
        )),
        "line {bad}: {text}"
    );
    // The engine followed the model into the violation: that is no divergence.
    assert!(!text.contains("diverges"), "{text}");
    assert!(
        text.contains(&format!("but the state after line {bad} violates always")),
        "{text}"
    );
    // The engine's unbounded restarts read as such, not as the number standing for them.
    assert!(text.contains("unlimited restarts"), "{text}");
    assert!(!text.contains("255"), "{text}");
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn hand_edited_traces_are_reported_at_the_right_line() {
    let (tmp, _dir, trace) = traced_run("vm", "4.0");
    let good = lines(&trace);
    let edited = tmp.path().join("edited.jsonl");
    // Line numbers are 1-based and count the header (line 1).

    // A status changed: the 5th line's after-state says FAILED where the model says otherwise.
    let mut v = good.clone();
    let k = v
        .iter()
        .position(|x| x.contains("\"after\":{\"parent\":{\"status\":\"Active\""))
        .unwrap();
    v[k] = v[k].replacen(
        "\"after\":{\"parent\":{\"status\":\"Active\"",
        "\"after\":{\"parent\":{\"status\":\"Failed\"",
        1,
    );
    write(&edited, &v);
    let (code, text) = audit(&edited, &[]);
    assert_eq!(code, Some(1));
    assert!(
        text.contains(&format!(
            ":{}: the state after is not what model::step gives: parent.status",
            k + 1
        )),
        "{text}"
    );

    // A step skipped: line 6 removed; line 6 (formerly 7) no longer follows line 5.
    let mut v = good.clone();
    v.remove(5);
    write(&edited, &v);
    let (code, text) = audit(&edited, &[]);
    assert_eq!(code, Some(1));
    assert!(
        text.contains(":6: the state before differs from the previous line's state after"),
        "{text}"
    );

    // An event reordered: lines 3 and 4 swapped.
    let mut v = good.clone();
    v.swap(2, 3);
    write(&edited, &v);
    let (code, text) = audit(&edited, &[]);
    assert_eq!(code, Some(1));
    assert!(text.contains(":3: "), "{text}");

    // A line truncated in the middle.
    let mut v = good.clone();
    let half = v[7].len() / 2;
    v[7].truncate(half);
    write(&edited, &v);
    let (code, text) = audit(&edited, &[]);
    assert_eq!(
        code,
        Some(2),
        "a line that is not a record is unreadable input"
    );
    assert!(text.contains("line 8: truncated"), "{text}");

    // An event that is not enabled: the first event replaced by a child's poll.
    let mut v = good.clone();
    v[1] = v[1].replacen(
        "{\"event\":\"parent_begins\"}",
        "{\"event\":\"poll_child\",\"disk\":0}",
        1,
    );
    write(&edited, &v);
    let (code, text) = audit(&edited, &[]);
    assert_eq!(code, Some(1));
    assert!(text.contains(":2: event {\"event\":\"poll_child\",\"disk\":0} (poller: dispatch disk-1's child) is not enabled in the recorded state"), "{text}");
}

#[test]
fn unreadable_traces_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("t.jsonl");
    for (content, want) in [
        ("", "empty trace"),
        ("hello\n", "not a livemerge trace"),
        ("{\"seq\":1}\n", "names no configuration"),
        ("{\"livemerge_trace\":7,\"configuration\":{\"disks\":1,\"poller\":\"4.0\",\"faults\":[],\"restarts\":0,\"symmetry\":false}}\n", "version 7"),
    ] {
        std::fs::write(&p, content).unwrap();
        let (code, text) = audit(&p, &[]);
        assert_eq!(code, Some(2), "{content:?}: {text}");
        assert!(text.contains(want), "{content:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }
    let (code, text) = audit(&tmp.path().join("missing"), &[]);
    assert_eq!(code, Some(2));
    assert!(text.contains("cannot read"));
}
