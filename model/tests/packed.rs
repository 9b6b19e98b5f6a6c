//! `State::packed`, which the checker's fingerprints hash: distinct states pack to distinct bytes.

use livemerge_model::*;
use std::collections::{HashMap, HashSet};

#[test]
fn every_reachable_state_packs_to_its_own_bytes() {
    for release in Release::ALL {
        // No symmetry, so that states differing only in the order of their disks occur too.
        let cfg = Config {
            disks: 2,
            release,
            faults: Faults::ALL,
            restarts: 1,
            retries: 1,
            symmetry: false,
        };
        let init = State::initial(2);
        let mut seen = HashSet::from([init]);
        let mut todo = vec![init];
        let mut by_bytes: HashMap<[u8; PACKED_LEN], State> = HashMap::new();
        while let Some(s) = todo.pop() {
            if let Some(other) = by_bytes.insert(s.packed(), s) {
                panic!("{release}: two states pack alike:\n{other:?}\n{s:?}");
            }
            for (_, t) in successors(&cfg, &s) {
                if seen.insert(t) {
                    todo.push(t);
                }
            }
        }
        assert_eq!(by_bytes.len(), seen.len());
        assert!(seen.len() > 1000, "{release}: {} states", seen.len());
    }
}

#[test]
fn each_field_changes_the_bytes() {
    // Hand-built states that differ from the initial one in a single field each, the disk
    // fields on the last disk a state holds.
    let base = Draft::initial(MAX_DISKS);
    let changes: [fn(&mut Draft); 10] = [
        |d| d.snapshot = Snapshot::Locked,
        |d| d.restarts = 1,
        |d| d.retries = 1,
        |d| d.parent.status = CmdStatus::Active,
        |d| d.parent.begun = true,
        |d| d.disks[MAX_DISKS - 1].status = CmdStatus::Failed,
        |d| d.disks[MAX_DISKS - 1].step = Step::Complete,
        |d| d.disks[MAX_DISKS - 1].task = Task::Lost,
        |d| d.disks[MAX_DISKS - 1].images = Images::MergedOrphan,
        |d| d.disks[MAX_DISKS - 1].base_has_top = true,
    ];
    let variants = changes.map(|change| {
        let mut d = base;
        change(&mut d);
        d
    });
    let mut bytes = HashSet::from([base.build().packed()]);
    for v in variants {
        assert!(bytes.insert(v.build().packed()), "{:?}", v.build());
    }
}
