//! The number of unique states of a few small configurations, pinned, as stateright's own
//! examples do: a change to the model's meaning (a new field, a rule that lets one more event
//! through, a transition that forgets a flag) shows up here as a number in a diff. When a change
//! is meant to alter the state space, update the numbers deliberately, in the same commit, and
//! say why in its message; when it is not (a refactoring), they must not move.
//!
//! Every count is of the whole reachable space: stateright stops a check early once every
//! property has a discovery, so the checker here is told never to stop early.

use livemerge_model::*;
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeSet;

/// (release, disks, symmetry, unique states), every other setting at its default (every fault,
/// one restart, one retry). Each runs well under a second in release mode.
const PINNED: &[(Release, u8, bool, usize)] = &[
    (Release::V3_6_0, 1, true, 1705),
    (Release::V3_6_1, 1, true, 845),
    (Release::V4_0_0, 1, true, 796),
    (Release::V4_0_2, 1, true, 796),
    (Release::V4_1_0, 1, true, 894),
    (Release::V3_6_1, 2, true, 44875),
    (Release::V4_0_2, 2, true, 32714),
    (Release::V4_0_2, 2, false, 57684),
];

fn unique_states(c: Config) -> usize {
    let checker = LiveMerge::new(c)
        .checker()
        .threads(1)
        // No property set is ever complete: explore everything.
        .finish_when(HasDiscoveries::AnyOf(BTreeSet::new()))
        .spawn_bfs()
        .join();
    assert!(checker.is_done(), "{c}");
    checker.unique_state_count()
}

#[test]
fn unique_state_counts_are_pinned() {
    let mut moved = Vec::new();
    for &(release, disks, symmetry, want) in PINNED {
        let c = Config {
            release,
            disks,
            symmetry,
            ..Config::default()
        };
        let got = unique_states(c);
        if got != want {
            moved.push(format!("{c}: pinned {want}, now {got}"));
        }
    }
    // All of them at once, so that one run gives every number to update.
    assert!(
        moved.is_empty(),
        "the state space changed:\n{}",
        moved.join("\n")
    );
}

/// Symmetry only merges states that differ by the order of their disks: with one disk there is
/// nothing to merge.
#[test]
fn symmetry_changes_nothing_with_one_disk() {
    for release in Release::ALL {
        let c = Config {
            release,
            disks: 1,
            ..Config::default()
        };
        assert_eq!(
            unique_states(c),
            unique_states(Config {
                symmetry: false,
                ..c
            }),
            "{release}"
        );
    }
}
