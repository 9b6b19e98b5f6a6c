//! Helpers shared by the tests that run the `livemerge` binary.

#![allow(dead_code)]

pub mod manual;
pub mod merged_restart;

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

/// A step of a path a test asks for: the event taken and the state it led to.
pub type Milestone = dyn Fn(livemerge_model::Event, &livemerge_model::State) -> bool;

/// The shortest path of `cfg`'s model that passes `milestones` in that order (a step each, other
/// steps between them) and ends in a state where `goal` holds; `None` if there is none.
pub fn path_through(
    cfg: &livemerge_model::Config,
    milestones: &[&Milestone],
    goal: impl Fn(&livemerge_model::State) -> bool,
) -> Option<Vec<livemerge_model::Event>> {
    use livemerge_model::{successors, State};
    use std::collections::{HashMap, VecDeque};
    type Key = (State, usize);
    let start: Key = (State::initial(cfg.n()), 0);
    let mut came: HashMap<Key, Option<(Key, livemerge_model::Event)>> =
        HashMap::from([(start, None)]);
    let mut q = VecDeque::from([start]);
    while let Some(k @ (s, met)) = q.pop_front() {
        if met == milestones.len() && goal(&s) {
            let mut path = Vec::new();
            let mut at = k;
            while let Some(Some((prev, e))) = came.get(&at) {
                path.push(*e);
                at = *prev;
            }
            path.reverse();
            return Some(path);
        }
        for (e, t) in successors(cfg, &s) {
            let passed = milestones.get(met).is_some_and(|m| m(e, &t));
            let next = (t, met + usize::from(passed));
            if let std::collections::hash_map::Entry::Vacant(v) = came.entry(next) {
                v.insert(Some((k, e)));
                q.push_back(next);
            }
        }
    }
    None
}

/// Saves `events` as a counterexample file `livemerge replay` reads (of a property that need
/// not fail on it: a replay only needs a path of the model).
pub fn save_path(cfg: &livemerge_model::Config, events: &[livemerge_model::Event], file: &Path) {
    use livemerge_checks::counterexample::CounterexampleFile;
    use livemerge_checks::report::ConcretePath;
    let trace = ConcretePath::rebuild_concrete(cfg, events).expect("a model path");
    let prop = livemerge_model::properties::all(cfg)
        .into_iter()
        .find(|p| p.name == livemerge_model::properties::EVERY_REMOVAL_ENDS)
        .expect("every configuration has the liveness property");
    CounterexampleFile::new(cfg, &prop, &trace)
        .save(file)
        .expect("the path is saved");
}

/// The records of a trace file (its header lines left out), as JSON.
pub fn trace_records(trace: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(trace)
        .expect("the trace reads")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .filter(|v| v.get("livemerge_trace").is_none())
        .collect()
}

/// The number of volumes in `image`'s backing chain, as `qemu-img info --backing-chain` reads it
/// (not through the tool).
pub fn backing_chain_len(image: &Path) -> usize {
    let info = std::process::Command::new("qemu-img")
        .args(["info", "--backing-chain", "--output=json"])
        .arg(image)
        .output()
        .unwrap();
    let chain: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    chain.as_array().unwrap().len()
}
