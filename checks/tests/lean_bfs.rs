//! The fingerprint BFS against the BFS that stores whole states (kept in `reference/` for this):
//! the same unique states, verdicts and path lengths for every poller and 1-4 disks; every path
//! it reads back from its trail replays through `step`; and its memory bound and progress lines.

mod common;
#[path = "reference/full_state_bfs.rs"]
mod full_state_bfs;

use common::{livemerge, stderr};
use livemerge_checks::search::{bfs, SearchLimits, SearchOutcome, Verdict};
use livemerge_model::properties::Expectation;
use livemerge_model::*;
use std::collections::HashSet;
use std::sync::Mutex;

fn limits(threads: usize) -> SearchLimits {
    SearchLimits {
        threads,
        max_states: None,
        timeout: None,
        max_memory_mib: None,
        progress: false,
    }
}

/// All faults and one restart; no retry, which would multiply the reference BFS's whole states
/// about eight-fold.
fn cfg(disks: u8, release: Release, symmetry: bool) -> Config {
    Config {
        disks,
        release,
        faults: Faults::ALL,
        restarts: 1,
        retries: 0,
        symmetry,
    }
}

/// Per property: its verdict and the length of its path.
fn summary(o: &SearchOutcome) -> Vec<(&'static str, Verdict, Option<usize>)> {
    o.findings
        .iter()
        .map(|f| {
            (
                f.prop.name,
                f.verdict.clone(),
                f.path.as_ref().map(Vec::len),
            )
        })
        .collect()
}

/// Every path replays from the initial state to a state that shows its finding.
fn assert_paths_replay(c: &Config, o: &SearchOutcome) {
    for f in &o.findings {
        let Some(path) = &f.path else { continue };
        let steps = concretize(c, path)
            .unwrap_or_else(|(i, r)| panic!("{c}: {}: step {} refused: {r}", f.prop.name, i + 1));
        let last = steps.last().map_or(State::initial(c.n()), |s| s.after);
        let holds = (f.prop.holds)(c, &last);
        match f.prop.expectation {
            Expectation::Sometimes => assert!(holds, "{c}: {}", f.prop.name),
            Expectation::Always => assert!(!holds, "{c}: {}", f.prop.name),
            Expectation::Eventually => {
                assert!(!holds, "{c}: {}", f.prop.name);
                let doomed = f.prop.doomed.is_some_and(|doomed| doomed(c, &last));
                assert!(
                    doomed || enabled(c, &last).is_empty(),
                    "{c}: ends in a terminal state, or one from which every end breaks it"
                );
            }
        }
    }
}

#[test]
#[ignore = "slow tier: runs two searches on many configurations, over 5 s (scripts/test runs it)"]
fn the_lean_bfs_agrees_with_the_full_state_bfs() {
    for release in Release::ALL {
        for disks in 1..=3 {
            for symmetry in [true, false] {
                if !symmetry && disks == 3 {
                    continue;
                }
                let c = cfg(disks, release, symmetry);
                let reference = full_state_bfs::run(&c, &limits(2));
                let lean = bfs::run(&c, &limits(2));
                assert!(lean.complete, "{c}");
                assert_eq!(lean.unique, reference.unique, "{c}");
                assert_eq!(lean.generated, reference.generated, "{c}");
                assert_eq!(lean.max_depth, reference.max_depth, "{c}");
                assert_eq!(summary(&lean), summary(&reference), "{c}");
                assert_paths_replay(&c, &lean);
            }
        }
    }
}

#[test]
#[ignore = "slow tier: searches several configurations with 1 to many threads, over 5 s (scripts/test runs it)"]
fn any_number_of_threads_finds_the_same() {
    let c = Config {
        retries: 1,
        ..cfg(3, Release::V4_0_2, true)
    };
    let one = bfs::run(&c, &limits(1));
    for threads in [2, 3, 8] {
        let many = bfs::run(&c, &limits(threads));
        assert_eq!(many.unique, one.unique, "{threads} threads");
        assert_eq!(many.generated, one.generated, "{threads} threads");
        assert_eq!(summary(&many), summary(&one), "{threads} threads");
        assert_paths_replay(&c, &many);
    }
}

#[test]
fn the_observer_is_shown_exactly_the_reachable_states() {
    // `run_observing` is how the `--disks any` tests see every reachable state: it must show
    // each one (as the representative) and nothing else.
    for release in Release::ALL {
        let c = Config {
            retries: 1,
            ..cfg(2, release, true)
        };
        let n = c.n();
        let init = canonical(State::initial(n), n);
        let mut reachable = HashSet::from([init]);
        let mut todo = vec![init];
        while let Some(s) = todo.pop() {
            for (_, t) in successors(&c, &s) {
                let t = canonical(t, n);
                if reachable.insert(t) {
                    todo.push(t);
                }
            }
        }
        for threads in [1, 2] {
            let shown = Mutex::new(HashSet::new());
            let o = bfs::run_observing(&c, &limits(threads), &|s| {
                shown.lock().unwrap().insert(*s);
            });
            let shown = shown.into_inner().unwrap();
            assert_eq!(shown.len() as u64, o.unique, "{c}");
            assert!(shown == reachable, "{c}, {threads} thread(s)");
        }
    }
}

#[test]
fn the_report_bounds_the_fingerprint_collision_risk() {
    let o = bfs::run(&cfg(3, Release::V4_0_2, true), &limits(2));
    let p = o.collision_probability.expect("the lean BFS reports it");
    assert!(p > 0.0 && p < 1e-9, "{p}");
}

#[test]
fn a_memory_bound_stops_the_search_with_what_it_found() {
    let c = cfg(6, Release::V3_6_0, true);
    let o = bfs::run(
        &c,
        &SearchLimits {
            max_memory_mib: Some(4),
            ..limits(2)
        },
    );
    assert!(!o.complete);
    assert!(o
        .stopped_by
        .as_deref()
        .unwrap()
        .contains("--max-memory 4 MiB"));
    assert!(
        o.unique > 10_000,
        "it explored until the bound: {}",
        o.unique
    );
    // The bug is found early; the properties it cannot tell about are unknown.
    let bug = o
        .findings
        .iter()
        .find(|f| f.prop.name == properties::SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE)
        .unwrap();
    assert_eq!(bug.verdict, Verdict::Violated);
    assert!(o.findings.iter().any(|f| f.verdict == Verdict::Unknown));
    assert_paths_replay(&c, &o);
}

#[test]
fn a_memory_bound_exits_3_and_a_loose_one_changes_nothing() {
    // Without restarts the shipped poller holds everything: only the bound can make it exit non-zero.
    let o = livemerge(&[
        "check",
        "--disks",
        "3",
        "--restarts",
        "0",
        "--max-memory",
        "2",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("INCOMPLETE (--max-memory 2 MiB reached)"),
        "{out}"
    );
    let o = livemerge(&[
        "check",
        "--disks",
        "3",
        "--restarts",
        "0",
        "--max-memory",
        "4096",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for bad in [
        vec!["check", "--max-memory", "0"],
        vec!["check", "--max-memory", "lots"],
        vec!["check", "--max-memory", "2Q"],
        vec!["check", "--max-memory", "-1G"],
    ] {
        let o = livemerge(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(!stderr(&o).contains("panicked"), "{bad:?}");
    }
}

#[test]
fn every_search_takes_a_memory_bound_in_the_units_people_type() {
    // Depth-first: stateright's checker bounded through the states it generates.
    let o = livemerge(&[
        "check",
        "--strategy",
        "dfs",
        "--disks",
        "5",
        "--faults",
        "none",
        "--restarts",
        "0",
        "--max-memory",
        "1M",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("INCOMPLETE (--max-memory 1 MiB reached"),
        "{out}"
    );
    // --disks any: the abstraction stops, with no verdict.
    let o = livemerge(&["check", "--disks", "any", "--max-memory", "1M", "-q"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("stopped: --max-memory 1 MiB reached"), "{out}");
    assert!(
        out.contains("the abstraction is incomplete, no verdict"),
        "{out}"
    );
    // A loose bound, in GiB, changes nothing.
    let o = livemerge(&[
        "check",
        "--disks",
        "any",
        "--max-memory",
        "2G",
        "--restarts",
        "0",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("holds for every number of disks"));
}

#[test]
#[ignore = "slow tier: runs an 8-disk search to its 1.8 s timeout (scripts/test runs it)"]
fn progress_goes_to_stderr_once_a_second_and_never_into_json() {
    let args = [
        "check",
        "--disks",
        "8",
        "--restarts",
        "0",
        "--timeout",
        "1.8",
        "--format",
        "json",
    ];
    let o = livemerge(&args);
    assert_eq!(o.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(report["complete"], false);
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("states/s")).collect();
    assert!(!lines.is_empty(), "{err}");
    assert!(lines.len() <= 2, "at most one a second: {err}");
    assert!(
        lines[0].contains("depth") && lines[0].contains("MiB"),
        "{err}"
    );
    let mut quiet = args.to_vec();
    quiet.push("-q");
    assert!(livemerge(&quiet).stderr.is_empty(), "-q prints nothing");
}
