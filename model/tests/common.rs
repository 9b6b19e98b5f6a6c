//! Helpers shared by the model's tests: configurations and a path runner.

#![allow(dead_code)]

use livemerge_model::{step, Config, Event, Faults, PollerRule, State};

pub fn cfg(disks: u8, poller: PollerRule) -> Config {
    Config {
        disks,
        poller,
        faults: Faults::ALL,
        restarts: 1,
        symmetry: false,
    }
}

/// Runs `events` from the initial state; panics with the step's index if one is refused.
pub fn run(cfg: &Config, events: &[Event]) -> State {
    let mut s = State::initial(cfg.n());
    for (i, e) in events.iter().enumerate() {
        s = step(cfg, &s, *e).unwrap_or_else(|r| panic!("step {i} ({e:?}) refused: {r}"));
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

/// A whole successful merge of disk `d` after it was started, up to its end-action.
pub fn merge_disk(d: u8) -> Vec<Event> {
    vec![
        Event::PoolPicksUp(d),
        Event::ChildReturns(d),
        Event::PollChild(d), // EXTEND starts
        Event::TaskEnds(d),
        Event::PollChild(d), // -> MERGE
        Event::TaskEnds(d),  // host job starts
        Event::PollChild(d), // -> MERGE_STATUS
        Event::HostJobEnds(d),
        Event::TaskEnds(d),  // chain read: merged
        Event::PollChild(d), // -> DESTROY_IMAGE
        Event::TaskEnds(d),  // top deleted
        Event::PollChild(d), // -> COMPLETE, SUCCEEDED
        Event::PollChild(d), // onSucceeded
    ]
}
