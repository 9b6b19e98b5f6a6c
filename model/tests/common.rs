//! Helpers shared by the model's tests: configurations and a path runner.

#![allow(dead_code)]

use livemerge_model::{step, Config, Event, Faults, Release, State};

pub fn cfg(disks: u8, release: Release) -> Config {
    Config {
        disks,
        release,
        faults: Faults::ALL,
        restarts: 1,
        retries: 1,
        symmetry: false,
    }
}

/// Runs `events` from the initial state; panics with the step's index if one is refused.
pub fn run(cfg: &Config, events: &[Event]) -> State {
    run_from(cfg, State::initial(cfg.n()), events)
}

/// Runs `events` from `s`; panics with the step's index if one is refused.
pub fn run_from(cfg: &Config, mut s: State, events: &[Event]) -> State {
    for (i, e) in events.iter().enumerate() {
        s = step(cfg, &s, *e)
            .unwrap_or_else(|r| panic!("step {i} ({e:?}) refused: {r}"))
            .0;
    }
    s
}

/// The bug 1280160 interleaving on one disk under `rule`, up to the parent's decision.
pub fn parent_polls_before_pickup() -> Vec<Event> {
    vec![
        Event::ParentBegins,
        Event::ParentStartsChild,
        Event::ParentReturns,
        Event::PollParent,
    ]
}

/// The events of one grandchild from its queue to its end, at `step` (0-based step index:
/// EXTEND, MERGE, MERGE_STATUS, DESTROY_IMAGE, DESTROY_IMAGE_CHECK).
fn grandchild(d: u8, step: usize) -> Vec<Event> {
    match step {
        0 => vec![Event::GrandchildReturns(d), Event::TaskEnds(d)],
        1 => vec![
            Event::MergeReachesHost(d),
            Event::GrandchildReturns(d),
            Event::TaskEnds(d),
        ],
        2 => vec![
            Event::GrandchildReturns(d),
            Event::HostJobEnds(d),
            Event::TaskEnds(d),
        ],
        _ => vec![
            Event::GrandchildPicksUp(d),
            Event::GrandchildReturns(d),
            Event::TaskEnds(d),
        ],
    }
}

/// A whole successful merge of disk `d` after it was started, up to its end-action, under
/// `release` (4.0 adds DESTROY_IMAGE_CHECK).
pub fn merge_disk(d: u8, release: Release) -> Vec<Event> {
    let steps = if release >= Release::V4_0_0 { 5 } else { 4 };
    let mut v = vec![Event::PoolPicksUp(d), Event::ChildReturns(d)];
    for i in 0..steps {
        v.push(Event::PollChild(d)); // starts the step's grandchild
        v.extend(grandchild(d, i));
    }
    v.push(Event::PollChild(d)); // -> COMPLETE, SUCCEEDED
    v.push(Event::PollChild(d)); // onSucceeded
    v
}
