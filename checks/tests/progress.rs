//! `run`, `resume` and `replay` say what happens as it happens: one line on stderr per event the
//! engine applies, in oVirt's words; a killed run has already said how far it got.

mod common;

use common::{livemerge, saved_bug, stderr, stdout};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The number after "N event(s) applied here" in a report.
fn applied_here(report: &str) -> usize {
    let at = report.find(" event(s) applied here").expect(report);
    let start = report[..at].rfind('(').expect(report) + 1;
    report[start..at].parse().expect(report)
}

fn step_lines<'a>(err: &'a str, what: &str) -> Vec<&'a str> {
    let prefix = format!("livemerge {what}: ");
    err.lines()
        .filter(|l| l.starts_with(&prefix) && l.contains(" s  step "))
        .collect()
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn run_prints_a_line_per_applied_event_and_quiet_prints_none() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vm");
    let o = livemerge(&[
        "run",
        "--dir",
        dir.to_str().unwrap(),
        "--disks",
        "2",
        "--tick-ms",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = stdout(&o);
    let err = stderr(&o);
    let steps = step_lines(&err, "run");
    assert_eq!(steps.len(), applied_here(&report), "{err}\n{report}");
    assert!(
        steps[0].contains("step   1 (parent): RemoveSnapshot.execute() begins"),
        "{err}"
    );
    assert!(
        steps
            .last()
            .unwrap()
            .contains("onSucceeded(RemoveSnapshot): snapshot row DELETED"),
        "{err}"
    );
    // Nothing of the temporary trace is left in the engine directory.
    assert!(!dir.join("trace.jsonl").exists());

    let quiet = tmp.path().join("quiet");
    let o = livemerge(&[
        "run",
        "-q",
        "--dir",
        quiet.to_str().unwrap(),
        "--disks",
        "1",
        "--tick-ms",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// A `run` of one disk at a slow tick, its private progress trace under `sys_tmp` (its
/// `TMPDIR`), read until the poller has acted once; returns it running, with the lines so far.
fn run_until_the_poller_acts(
    dir: &std::path::Path,
    sys_tmp: &std::path::Path,
) -> (std::process::Child, Vec<String>) {
    std::fs::create_dir_all(sys_tmp).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args([
            "run",
            "--dir",
            dir.to_str().unwrap(),
            "--disks",
            "1",
            "--tick-ms",
            "200",
        ])
        .env("TMPDIR", sys_tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        seen.push(line.clone());
        if line.contains("(poller):") {
            break;
        }
        assert!(Instant::now() < deadline, "no poller step: {seen:?}");
    }
    // Keep reading in the background, so that the run never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, seen)
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn an_interrupted_run_leaves_no_private_trace_and_resume_finishes() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, sys_tmp) = (tmp.path().join("vm"), tmp.path().join("sys-tmp"));
        let (mut child, seen) = run_until_the_poller_acts(&dir, &sys_tmp);
        assert!(
            std::fs::read_dir(&sys_tmp).unwrap().count() > 0,
            "the run keeps its progress trace there: {seen:?}"
        );
        // SAFETY: kill(2) on a child of ours that has not been waited for.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "signal {signal}");
        let left: Vec<_> = std::fs::read_dir(&sys_tmp).unwrap().collect();
        assert!(left.is_empty(), "signal {signal} left {left:?}");
        let o = livemerge(&["resume", "--dir", dir.to_str().unwrap(), "-q"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).contains("snapshot deleted"), "{}", stdout(&o));
    }
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn a_killed_run_has_already_said_how_far_it_got_and_resume_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vm");
    // A SIGKILL leaves the run's private trace in its TMPDIR: the test's own directory here.
    let (mut child, seen) = run_until_the_poller_acts(&dir, &tmp.path().join("sys-tmp"));
    child.kill().unwrap();
    child.wait().unwrap();
    let report = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    assert!(report.is_empty(), "the final report never came: {report}");
    assert!(
        seen.iter().any(|l| l.contains("step   1 (parent)")),
        "{seen:?}"
    );
    assert!(seen.last().unwrap().contains("doPolling"), "{seen:?}");

    // Resume sums up what was done before, then says what it does from the restart on.
    let o = livemerge(&["resume", "--dir", dir.to_str().unwrap()]);
    let err = stderr(&o);
    // At least what the killed run said (it may have applied a step after its last line).
    let said = seen.iter().filter(|l| l.contains(" s  step ")).count();
    let summary = err
        .strip_prefix("livemerge resume: ")
        .and_then(|r| r.split_once(" step(s) applied before the engine stopped"))
        .unwrap_or_else(|| panic!("no summary first: {err}"));
    let before: usize = summary.0.parse().unwrap();
    assert!(before >= said, "{before} < {said}: {err}");
    let steps = step_lines(&err, "resume");
    assert_eq!(
        steps.len(),
        applied_here(&stdout(&o)),
        "{err}\n{}",
        stdout(&o)
    );
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn replay_prints_each_replayed_step() {
    let tmp = tempfile::tempdir().unwrap();
    let file = saved_bug(&tmp.path().join("cx"));
    let dir = tmp.path().join("vm");
    let o = livemerge(&[
        "replay",
        file.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    let steps = step_lines(&err, "replay");
    assert_eq!(steps.len(), 5, "{err}");
    assert!(
        steps[3].contains("sees disk-1 NOT_STARTED -> parent SUCCEEDED"),
        "{err}"
    );
}
