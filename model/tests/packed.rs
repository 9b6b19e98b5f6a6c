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
    let mut variants = Vec::new();
    let mut d = base.clone();
    d.snapshot = Snapshot::Locked;
    variants.push(d);
    let mut d = base.clone();
    d.restarts = 1;
    variants.push(d);
    let mut d = base.clone();
    d.retries = 1;
    variants.push(d);
    let mut d = base.clone();
    d.parent.status = CmdStatus::Active;
    variants.push(d);
    let mut d = base.clone();
    d.parent.begun = true;
    variants.push(d);
    let last = MAX_DISKS - 1;
    let mut d = base.clone();
    d.disks[last].status = CmdStatus::Failed;
    variants.push(d);
    let mut d = base.clone();
    d.disks[last].step = Step::Complete;
    variants.push(d);
    let mut d = base.clone();
    d.disks[last].task = Task::Lost;
    variants.push(d);
    let mut d = base.clone();
    d.disks[last].images = Images::MergedOrphan;
    variants.push(d);
    let mut d = base.clone();
    d.disks[last].base_has_top = true;
    variants.push(d);
    let mut bytes = HashSet::from([base.build().packed()]);
    for v in variants {
        assert!(bytes.insert(v.build().packed()), "{:?}", v.build());
    }
}
