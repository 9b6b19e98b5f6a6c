//! Helpers shared by the model's tests: configurations and a path runner.

#![allow(dead_code)]

use livemerge_model::{
    step, CmdStatus, Config, Draft, Event, Faults, Release, Rules, Snapshot, State, Step, Task,
};

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

/// The events of one grandchild from its queue to its end, at `step` under `rules`: one without
/// a callback is picked up by a pool thread first; the Merge's callback waits for the host's job.
fn grandchild(d: u8, step: Step, rules: &Rules) -> Vec<Event> {
    let mut v = Vec::new();
    if step == Step::Merge {
        v.push(Event::MergeReachesHost(d));
    } else if !rules.grandchild_has_callback(step) {
        v.push(Event::GrandchildPicksUp(d));
    }
    v.push(Event::GrandchildReturns(d));
    if step == Step::Merge {
        v.push(Event::HostJobEnds(d));
    }
    v.push(Event::TaskEnds(d));
    v
}

/// A whole successful merge of disk `d` after it was started, up to its end-action, under
/// `release` (its steps, as its rules have them).
pub fn merge_disk(d: u8, release: Release) -> Vec<Event> {
    let rules = Rules::of(release);
    let mut v = vec![Event::PoolPicksUp(d), Event::ChildReturns(d)];
    let mut step = rules.initial_step(false, true);
    while rules.step_starts_a_grandchild(step) {
        v.push(Event::PollChild(d)); // starts the step's grandchild
        v.extend(grandchild(d, step, rules));
        step = rules.next_step(step);
    }
    v.push(Event::PollChild(d)); // -> COMPLETE (or REDUCE_IMAGE with nothing to start), SUCCEEDED
    v.push(Event::PollChild(d)); // onSucceeded
    v
}

/// An executed parent (ACTIVE, polled) with one executed, ACTIVE child at `step_` whose current
/// grandchild is in `task`.
pub fn hung(step_: Step, task: Task) -> Draft {
    let mut s = Draft::initial(1);
    s.parent.status = CmdStatus::Active;
    s.parent.begun = true;
    s.parent.executed = true;
    s.parent.registered = true;
    s.snapshot = Snapshot::Locked;
    let d = &mut s.disks[0];
    d.status = CmdStatus::Active;
    d.created = true;
    d.executed = true;
    d.registered = true;
    d.step = step_;
    d.task = task;
    s
}
