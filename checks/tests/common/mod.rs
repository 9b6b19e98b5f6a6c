//! Helpers shared by the tests that run the `livemerge` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `livemerge` with `args` and waits for it.
pub fn livemerge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(args)
        .output()
        .expect("runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Everything it printed, stdout then stderr.
pub fn printed(o: &Output) -> String {
    stdout(o) + &stderr(o)
}

/// The file `check --save` writes bug 1280160's counterexample to.
pub const BUG: &str = "snapshot-removed-implies-merge-done.json";

/// `livemerge check` on the configuration that shows bug 1280160 (3.6.0, one disk), quiet.
pub const CHECK_BUG: [&str; 6] = ["check", "--poller", "3.6.0", "--disks", "1", "-q"];

/// [`CHECK_BUG`] with `--save DIR`: saves the bug's counterexample in `dir`; returns its path.
pub fn saved_bug(dir: &Path) -> PathBuf {
    let o = livemerge(&[&CHECK_BUG[..], &["--save", dir.to_str().unwrap()]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", printed(&o));
    dir.join(BUG)
}

/// `livemerge run --dir DIR --trace TRACE FLAGS...`: a real removal on qcow2 volumes, traced.
pub fn run_traced(dir: &Path, trace: &Path, flags: &[&str]) -> Output {
    let (dir, trace) = (dir.to_str().unwrap(), trace.to_str().unwrap());
    livemerge(&[&["run", "--dir", dir, "--trace", trace], flags].concat())
}
