//! `step` names the branch it took: each [`Transition`] fits its event, has a label of its own,
//! and is reached by some release; the readers (the diagram's arrows, the poller's delay rule)
//! go by it rather than by comparing states.

mod common;

use common::cfg;
use livemerge_model::{
    polled_command, sequence_diagram, step, successors, ConcreteStep, Ending, Event, Release,
    State, Step, Task, Transition,
};
use std::collections::{HashMap, HashSet};

/// Every transition any release takes on one disk (two restarts, so that a restart can catch a
/// grandchild that a first restart's recovery started), with the events that took it.
fn reached() -> HashMap<Transition, HashSet<String>> {
    let mut seen: HashMap<Transition, HashSet<String>> = HashMap::new();
    for r in Release::ALL {
        let mut c = cfg(1, r);
        c.restarts = 2;
        let start = State::initial(1);
        let mut visited = HashSet::from([start]);
        let mut todo = vec![start];
        while let Some(s) = todo.pop() {
            for (e, _) in successors(&c, &s) {
                let (t, transition) = step(&c, &s, e).unwrap();
                seen.entry(transition).or_default().insert(format!("{e:?}"));
                assert!(transition.fits(e), "{r}: {e:?} took {transition:?}");
                // What the poller's delay rule reads from the transition is what the states say.
                let polled = match e {
                    Event::PollParent => Some(None),
                    Event::PollChild(d) => Some(Some(d as usize)),
                    _ => None,
                };
                if let Some(cmd) = polled {
                    let (_, sb, nb) = polled_command(&s, cmd);
                    let (_, sa, na) = polled_command(&t, cmd);
                    let ended = na && !nb;
                    assert_eq!(transition.ends_a_command(), ended, "{r}: {e:?}");
                    assert_eq!(
                        transition.changes_a_status(),
                        sa != sb && !ended,
                        "{r}: {e:?} {transition:?}"
                    );
                } else {
                    assert!(!transition.ends_a_command() && !transition.changes_a_status());
                }
                // deleteVolume runs on the host exactly when a DestroyImage's task ends.
                let deleting = e == Event::TaskEnds(0)
                    && s.disk(0).step() == Step::DestroyImage
                    && s.disk(0).task() == Task::Running;
                assert_eq!(transition.called_delete_volume(), deleting, "{r}: {e:?}");
                // Only a deletion removes top's volume (a second one finds it gone and succeeds).
                let removed = s.disk(0).flags().top_exists() && !t.disk(0).flags().top_exists();
                if removed || transition.deleted_a_volume() {
                    assert!(transition.deleted_a_volume(), "{r}: {e:?}");
                    assert!(!t.disk(0).flags().top_exists(), "{r}: {e:?}");
                }
                if visited.insert(t) {
                    todo.push(t);
                }
            }
        }
    }
    seen
}

#[test]
fn every_transition_is_reached_and_fits_its_event() {
    let seen = reached();
    let missing: Vec<_> = Transition::ALL
        .iter()
        .filter(|t| !seen.contains_key(t))
        .collect();
    assert!(missing.is_empty(), "never taken: {missing:?}");
    assert_eq!(seen.len(), Transition::ALL.len(), "ALL lists each once");
    // Each transition fits exactly the events that took it.
    for t in Transition::ALL {
        for e in Event::candidates(1) {
            assert_eq!(
                t.fits(e),
                seen[&t].contains(&format!("{e:?}")),
                "{t:?} and {e:?}"
            );
        }
    }
}

#[test]
fn every_transition_has_its_own_label() {
    let mut by_label: HashMap<&str, Transition> = HashMap::new();
    for t in Transition::ALL {
        if let Some(other) = by_label.insert(t.label(), t) {
            panic!("{t:?} and {other:?} share the label {:?}", t.label());
        }
    }
}

#[test]
fn the_diagram_draws_each_step_by_its_transition() {
    // The Merge grandchild ending is not drawn as the block commit starting (that arrow belongs
    // to VM.merge reaching the host), and a DestroyImageCheck is not an extend.
    let c = cfg(1, Release::V4_0_2);
    let mut s = State::initial(1);
    let mut steps = Vec::new();
    // Follow one successful removal: always the first enabled event that is not a fault or a
    // restart.
    loop {
        let next = successors(&c, &s).map(|(e, _)| e).find(|e| {
            !matches!(
                e,
                Event::Restart | Event::HostJobFails(_) | Event::DeleteVolumeFails(_)
            )
        });
        let Some(e) = next else { break };
        let st = ConcreteStep::new(&c, &s, e).unwrap();
        s = st.after;
        steps.push(st);
    }
    let svg = sequence_diagram(&c, &steps);
    let merge_end = Transition::GrandchildEnds(Ending::MergeHandedOver);
    assert!(steps.iter().any(|st| st.transition == merge_end));
    assert_eq!(svg.matches(Transition::MergeReachesHost.label()).count(), 1);
    for st in &steps {
        assert!(
            svg.contains(&st.transition.label().replace('>', "&gt;")),
            "{:?} is not drawn with its label",
            st.transition
        );
    }
}
