//! The searches: shortest counterexamples, symmetry that loses nothing, and agreement with
//! stateright's own checker on the same model.

use livemerge_checks::search::{bfs, SearchLimits, SearchOutcome, Verdict};
use livemerge_model::properties::SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE;
use livemerge_model::*;
use stateright::{Checker, Model};

fn limits() -> SearchLimits {
    SearchLimits {
        threads: 2,
        max_states: None,
        timeout: None,
        max_memory_mib: None,
        progress: false,
    }
}

/// All faults and one restart; no retry, so that the unreduced searches stay small enough for a
/// test (a retry multiplies the states by about eight).
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

#[test]
fn bug_1280160_counterexample_is_the_shortest_one() {
    let o = bfs::run(&cfg(1, Release::V3_6_0, true), &limits());
    assert!(o.complete);
    let f = o
        .findings
        .iter()
        .find(|f| f.prop.name == SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE)
        .unwrap();
    assert_eq!(f.verdict, Verdict::Violated);
    // begin, start the child, return, doPolling sees NOT_STARTED, onSucceeded deletes the row:
    // no shorter path can delete the snapshot row.
    assert_eq!(
        f.path.as_deref().unwrap(),
        &[
            Event::ParentBegins,
            Event::ParentStartsChild,
            Event::ParentReturns,
            Event::PollParent,
            Event::PollParent
        ]
    );
}

#[test]
fn symmetry_reduction_finds_the_same_violations() {
    for release in Release::ALL {
        for disks in 1..=2 {
            let reduced = bfs::run(&cfg(disks, release, true), &limits());
            let full = bfs::run(&cfg(disks, release, false), &limits());
            assert!(reduced.complete && full.complete);
            assert_eq!(
                summary(&reduced),
                summary(&full),
                "{release}, {disks} disks"
            );
            if disks > 1 {
                assert!(
                    reduced.unique < full.unique,
                    "{release}, {disks} disks: no reduction"
                );
            }
            // Every reduced counterexample replays on concrete disks to a violating state.
            for f in &reduced.findings {
                let Some(path) = &f.path else { continue };
                let c = cfg(disks, release, true);
                let steps = concretize(&c, path).expect("replays");
                let last = steps.last().map_or(State::initial(c.n()), |s| s.after);
                let plain = Config {
                    symmetry: false,
                    ..c
                };
                let again = steps.iter().fold(State::initial(c.n()), |s, st| {
                    step(&plain, &s, st.event)
                        .expect("concrete events replay without symmetry")
                        .0
                });
                assert_eq!(again, last);
                let holds = (f.prop.holds)(&c, &last);
                match f.prop.expectation {
                    properties::Expectation::Sometimes => assert!(holds),
                    _ => assert!(!holds, "{}", f.prop.name),
                }
            }
        }
    }
}

#[test]
fn our_bfs_visits_what_staterights_bfs_visits() {
    for release in Release::ALL {
        for disks in 1..=2 {
            for symmetry in [false, true] {
                let c = cfg(disks, release, symmetry);
                let ours = bfs::run(&c, &limits());
                let theirs = LiveMerge::new(c).checker().threads(1).spawn_bfs().join();
                assert_eq!(ours.unique as usize, theirs.unique_state_count(), "{c}");
                for f in &ours.findings {
                    let found = theirs.discovery(f.prop.name).is_some();
                    let ours_found = f.path.is_some();
                    assert_eq!(ours_found, found, "{c}: {}", f.prop.name);
                    // Ours is shortest; stateright's is not always.
                    if let (Some(p), Some(q)) = (&f.path, theirs.discovery(f.prop.name)) {
                        assert!(p.len() <= q.into_actions().len());
                    }
                }
            }
        }
    }
}

#[test]
fn stateright_dfs_on_canonical_states_visits_what_our_bfs_visits() {
    // Symmetry through canonical states works in stateright's DFS too, not only in ours.
    let c = cfg(2, Release::V4_0_2, false);
    let reduced = bfs::run(
        &Config {
            symmetry: true,
            ..c
        },
        &limits(),
    );
    let dfs = LiveMerge::new(Config {
        symmetry: true,
        ..c
    })
    .checker()
    .threads(1)
    .spawn_dfs()
    .join();
    assert_eq!(dfs.unique_state_count() as u64, reduced.unique);
}

#[test]
fn a_bound_makes_the_search_incomplete() {
    let o = bfs::run(
        &cfg(3, Release::V4_0_2, true),
        &SearchLimits {
            max_states: Some(50),
            ..limits()
        },
    );
    assert!(!o.complete);
    assert!(o.stopped_by.as_deref().unwrap().contains("max-states"));
    assert!(o.findings.iter().any(|f| f.verdict == Verdict::Unknown));
}
