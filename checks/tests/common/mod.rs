//! Helpers shared by the tests that run the `livemerge` binary.

#![allow(dead_code)]

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
