//! The model's output side, without threads: what a state wants, each event's actor, and when
//! nothing more can happen inside an engine. A tiny runtime built only on `wants` and `step`
//! drives whole removals here, as the engine does with threads.

use livemerge_model::races::{merged_but_unsynced, removed_before_merge};
use livemerge_model::{
    enabled, grandchild_act, grandchild_pending, properties, settled, step, successors, wants,
    Actor, ChildAct, CmdStatus, Config, Draft, Event, Faults, GrandchildAct, GrandchildEvents,
    HostCall, ParentAct, Release, State, Step, Task,
};
use std::collections::HashSet;

fn cfg(disks: u8, release: Release) -> Config {
    Config {
        disks,
        release,
        faults: Faults::NONE,
        restarts: 0,
        retries: 0,
        symmetry: false,
    }
}

fn run(cfg: &Config, events: &[Event]) -> State {
    events.iter().fold(State::initial(cfg.n()), |s, &e| {
        step(cfg, &s, e)
            .unwrap_or_else(|r| panic!("{e:?} refused: {r}"))
            .0
    })
}

/// The event a runtime feeds back for what the model wants, with no fault: the parent's thread
/// does its act, the pool runs a queued child or returns from its `execute()`, a grandchild
/// thread does its act, a watched host job ends.
fn wanted_event(cfg: &Config, s: &State) -> Option<Event> {
    let w = wants(cfg, s);
    if let Some(act) = w.parent() {
        return Some(act.event());
    }
    for (d, w) in w.disks().iter().enumerate() {
        if let Some(act) = w.child {
            return Some(act.event(d));
        }
        if let Some((_, Some(act))) = w.grandchild {
            return Some(act.events(d).on_success);
        }
        if w.host_job {
            return Some(Event::HostJobEnds(d as u8));
        }
    }
    None
}

/// Drives a removal as an engine would, one source at a time: what the model wants, and the
/// poller when nothing else moves (the poller alone tries `step`: a poll that waits is refused).
fn drive(cfg: &Config) -> (State, Vec<Event>) {
    let mut s = State::initial(cfg.n());
    let mut path = Vec::new();
    for _ in 0..500 {
        let polls =
            std::iter::once(Event::PollParent).chain((0..cfg.n() as u8).map(Event::PollChild));
        let next =
            wanted_event(cfg, &s).or_else(|| polls.into_iter().find(|&e| step(cfg, &s, e).is_ok()));
        let Some(e) = next else { break };
        s = step(cfg, &s, e)
            .unwrap_or_else(|r| panic!("{e:?}, which the model wants, refused: {r}"))
            .0;
        path.push(e);
    }
    (s, path)
}

#[test]
fn a_runtime_of_wants_and_polls_completes_every_release_removal() {
    for release in Release::ALL {
        for disks in 1..=3 {
            let cfg = cfg(disks, release);
            let (s, path) = drive(&cfg);
            assert!(s.removal_ended(), "{release:?} {disks}: {path:?}");
            // This driver polls the parent before its children, which is 3.6's end-action race:
            // the parent ends before a child's end-action synced its rows. 4.0 waits for it.
            assert!(
                release < Release::V4_0_0
                    || properties::snapshot_removed_implies_merge_done(&cfg, &s),
                "{release:?} {disks}: {path:?} {s:?}"
            );
            assert!(
                settled(&cfg, &s),
                "nothing is left for the engine's threads"
            );
            assert!(wanted_event(&cfg, &s).is_none());
        }
    }
}

#[test]
fn a_queued_child_is_wanted_by_the_pool_until_a_thread_takes_it() {
    let cfg = cfg(2, Release::V4_0_2);
    let s = run(&cfg, &[Event::ParentBegins, Event::ParentStartsChild]);
    let w = wants(&cfg, &s);
    assert_eq!(w.disks()[0].child, Some(ChildAct::PickUp));
    assert_eq!(w.disks()[1].child, None);
    assert_eq!(w.parent(), Some(ParentAct::StartChild));
    assert!(w.may_act(Actor::Parent) && w.may_act(Actor::Pool));
    assert!(!w.may_act(Actor::Host) && !w.may_act(Actor::User));
    let s = step(&cfg, &s, Event::PoolPicksUp(0)).unwrap().0;
    assert_eq!(
        wants(&cfg, &s).disks()[0].child,
        Some(ChildAct::Return),
        "the pool thread is inside the child's execute(): it returns next"
    );
    let s = step(&cfg, &s, Event::ChildReturns(0)).unwrap().0;
    assert_eq!(wants(&cfg, &s).disks()[0].child, None);
}

#[test]
fn the_merge_waits_for_the_hosts_job_and_merge_status_then_reads_the_chain() {
    let cfg = cfg(1, Release::V4_0_2);
    let mut s = run(
        &cfg,
        &[
            Event::ParentBegins,
            Event::ParentStartsChild,
            Event::ParentReturns,
            Event::PoolPicksUp(0),
            Event::ChildReturns(0),
            Event::PollChild(0),
        ],
    );
    // EXTEND, then MERGE: VM.merge starts the host's job.
    for e in [
        Event::GrandchildReturns(0),
        Event::TaskEnds(0),
        Event::PollChild(0),
    ] {
        s = step(&cfg, &s, e).unwrap().0;
    }
    assert_eq!(grandchild_act(&cfg, &s, 0), Some(GrandchildAct::VmMerge));
    for e in [Event::MergeReachesHost(0), Event::GrandchildReturns(0)] {
        s = step(&cfg, &s, e).unwrap().0;
    }
    let w = wants(&cfg, &s).disks()[0];
    assert!(w.host_job, "the job is to be watched");
    assert!(
        matches!(w.grandchild, Some((_, None))),
        "the Merge has a thread but nothing to do while the job runs: {w:?}"
    );
    s = step(&cfg, &s, Event::HostJobEnds(0)).unwrap().0;
    for e in [
        Event::TaskEnds(0),
        Event::PollChild(0),
        Event::GrandchildReturns(0),
    ] {
        s = step(&cfg, &s, e).unwrap().0;
    }
    assert_eq!(
        grandchild_act(&cfg, &s, 0),
        Some(GrandchildAct::Finish(HostCall::ReadChain))
    );
}

#[test]
fn every_event_has_the_actor_whose_thread_observes_it() {
    let engine_side = [
        Event::PoolPicksUp(0),
        Event::ChildReturns(0),
        Event::PollChild(0),
        Event::PollParent,
        Event::GrandchildPicksUp(0),
        Event::MergeReachesHost(0),
        Event::MergeRefused(0),
        Event::GrandchildReturns(0),
        Event::TaskEnds(0),
        Event::DeleteVolumeFails(0),
        Event::HostJobEnds(0),
        Event::HostJobFails(0),
    ];
    for e in engine_side {
        assert!(e.actor().inside_engine(), "{e:?}");
    }
    for (i, a) in Actor::ALL.iter().enumerate() {
        assert_eq!(
            *a as usize, i,
            "Wants::may_act indexes by declaration order"
        );
    }
    assert_eq!(Event::Restart.actor(), Actor::Restart);
    assert_eq!(Event::UserRetries.actor(), Actor::User);
    assert_eq!(Event::ParentStartsChild.actor(), Actor::Parent);
    assert_eq!(Event::HostJobFails(1).actor(), Actor::Host);
    for e in [Event::Restart, Event::UserRetries, Event::ParentBegins] {
        assert!(!e.actor().inside_engine(), "{e:?}");
    }
}

#[test]
fn a_restart_inside_execute_leaves_the_4_0_parent_to_the_poller() {
    // 4.0 polls an EXECUTION_FAILED parent: after the restart the engine is not settled until
    // the poller has ended the removal FAILED.
    let mut c = cfg(1, Release::V4_0_2);
    c.restarts = 1;
    let s = run(&c, &[Event::ParentBegins, Event::Restart]);
    assert!(!settled(&c, &s), "{:?}", enabled(&c, &s));
    let s = step(&c, &s, Event::PollParent).unwrap().0;
    let s = step(&c, &s, Event::PollParent).unwrap().0;
    assert!(s.removal_ended() && settled(&c, &s));
}

#[test]
fn the_races_are_told_apart_on_the_bug_1280160_path() {
    // 3.6.0: the poller finds the child NOT_STARTED, takes it for finished and deletes the
    // snapshot row before any merge.
    let c = cfg(1, Release::V3_6_0);
    let s = run(
        &c,
        &[
            Event::ParentBegins,
            Event::ParentStartsChild,
            Event::ParentReturns,
            Event::PollParent,
            Event::PollParent,
        ],
    );
    assert!(s.removal_ended(), "{s:?}");
    assert!(removed_before_merge(&c, &s));
    assert!(!merged_but_unsynced(&c, &s), "nothing was merged at all");
    let fixed = cfg(1, Release::V4_0_2);
    let (done, _) = drive(&fixed);
    assert!(!removed_before_merge(&fixed, &done) && !merged_but_unsynced(&fixed, &done));
}

// A grandchild has work for a thread only while it is queued, executing or executed with its
// rows in place (or EXECUTION_FAILED under a callback that polls it): one that ended, was lost,
// is stranded, or whose rows went with its parent's has none.
#[test]
fn only_a_live_unfinished_grandchild_is_pending() {
    let c = cfg(1, Release::V3_6_1);
    let with = |task: Task, status: CmdStatus| {
        let mut s = Draft::initial(1);
        s.parent.begun = true;
        s.parent.executed = true;
        s.parent.status = CmdStatus::Active;
        s.disks[0].created = true;
        s.disks[0].executed = true;
        s.disks[0].status = status;
        s.disks[0].step = Step::DestroyImage;
        s.disks[0].task = task;
        s.build()
    };
    for task in [Task::Queued, Task::Executing, Task::Running] {
        assert!(
            grandchild_pending(&c, &with(task, CmdStatus::Active), 0),
            "{task:?}"
        );
        assert!(
            !grandchild_pending(&c, &with(task, CmdStatus::NoRow), 0),
            "{task:?} without rows"
        );
        assert!(wants(&c, &with(task, CmdStatus::Active)).disks()[0]
            .grandchild
            .is_some());
    }
    for task in [
        Task::None,
        Task::Succeeded,
        Task::Failed,
        Task::Lost,
        Task::Stranded,
        Task::ExecutionFailed,
    ] {
        assert!(
            !grandchild_pending(&c, &with(task, CmdStatus::Active), 0),
            "{task:?}"
        );
        assert_eq!(
            wants(&c, &with(task, CmdStatus::Active)).disks()[0].grandchild,
            None
        );
    }
}

#[test]
fn grandchild_succeeded_reads_how_it_ended() {
    let mut s = Draft::initial(1);
    for (task, want) in [
        (Task::Succeeded, Some(true)),
        (Task::Failed, Some(false)),
        (Task::Running, None),
        (Task::None, None),
        (Task::Lost, None),
    ] {
        s.disks[0].task = task;
        assert_eq!(
            livemerge_model::grandchild_succeeded(&s.build(), 0),
            want,
            "{task:?}"
        );
    }
}

// What a grandchild's thread is asked to do: its host call by step, and, for 4.1.0's
// MergeExtend caught by a restart, its own callback ending it (MergeExtendCommand.java:111-113
// at ovirt-engine-4.1.0); 4.0.2's is never polled in that status.
#[test]
fn each_grandchild_is_asked_for_its_own_act() {
    let at = |release: Release, step_: Step, task: Task| {
        let mut s = Draft::initial(1);
        s.parent.begun = true;
        s.parent.executed = true;
        s.parent.status = CmdStatus::Active;
        s.disks[0].created = true;
        s.disks[0].executed = true;
        s.disks[0].status = CmdStatus::Active;
        s.disks[0].step = step_;
        s.disks[0].task = task;
        s.disks[0].top_in_chain = false;
        s.disks[0].base_has_top = true;
        (cfg(1, release), s.build())
    };
    for (step_, call) in [
        (Step::DestroyImage, HostCall::DeleteVolume),
        (Step::DestroyImageCheck, HostCall::CheckVolumeGone),
        (Step::MergeStatus, HostCall::ReadChain),
        (Step::Extend, HostCall::Nothing),
    ] {
        let (c, s) = at(Release::V4_0_2, step_, Task::Running);
        assert_eq!(
            grandchild_act(&c, &s, 0),
            Some(GrandchildAct::Finish(call)),
            "{step_:?}"
        );
    }
    let (c, s) = at(Release::V4_1_0, Step::Extend, Task::ExecutionFailed);
    assert!(grandchild_pending(&c, &s, 0));
    assert_eq!(
        grandchild_act(&c, &s, 0),
        Some(GrandchildAct::EndByCallback)
    );
    let (c, s) = at(Release::V4_0_2, Step::Extend, Task::ExecutionFailed);
    assert!(!grandchild_pending(&c, &s, 0));
    assert_eq!(grandchild_act(&c, &s, 0), None);
}

/// Every state reachable in `cfg`.
fn reachable(cfg: &Config) -> Vec<State> {
    let first = State::initial(cfg.n());
    let mut seen = HashSet::from([first]);
    let mut todo = vec![first];
    let mut all = Vec::new();
    while let Some(s) = todo.pop() {
        all.push(s);
        for (_, t) in successors(cfg, &s) {
            if seen.insert(t) {
                todo.push(t);
            }
        }
    }
    all
}

/// Configurations whose every reachable state the tests below visit: one disk under every
/// release with every fault, a restart and a retry; two disks (which child is whose) without.
fn explored() -> Vec<Config> {
    let mut v: Vec<Config> = Release::ALL
        .into_iter()
        .map(|release| Config {
            disks: 1,
            release,
            ..Config::default()
        })
        .collect();
    v.push(Config {
        restarts: 0,
        retries: 0,
        ..cfg(2, Release::V4_1_0)
    });
    v
}

/// `wants` covers every thread of a running engine but the poller's: in every reachable state,
/// an event of the parent, the pool, a grandchild or the host is accepted exactly when the model
/// wants the act that feeds it back. A runtime then never tries `step` to decide what to do.
#[test]
fn wants_names_exactly_the_events_step_accepts_for_every_thread_but_the_pollers() {
    for c in explored() {
        let states = reachable(&c);
        assert!(states.len() > 100, "{c}: {} states", states.len());
        for s in states {
            let w = wants(&c, &s);
            let accepted: Vec<Event> = enabled(&c, &s);
            let parent = w.parent().map(ParentAct::event);
            let child = |d: usize| w.disks()[d].child.map(|a| a.event(d));
            let no_answer = |d: usize| w.disks()[d].child.and_then(|a| a.no_answer_event(d));
            let grandchild = |d: usize| match w.disks()[d].grandchild {
                Some((_, Some(act))) => act.events(d).all().collect(),
                _ => Vec::new(),
            };
            for &e in &accepted {
                let d = e.disk().unwrap_or(0);
                let wanted = match e.actor() {
                    Actor::Parent => parent == Some(e),
                    Actor::Pool => child(d) == Some(e) || no_answer(d) == Some(e),
                    Actor::Grandchild => grandchild(d).contains(&e),
                    Actor::Host => w.disks()[d].host_job,
                    Actor::Poller | Actor::User | Actor::Restart => continue,
                };
                assert!(wanted, "{c}: {e:?} accepted but not wanted: {w:?} in {s:?}");
            }
            if let Some(e) = parent {
                assert!(accepted.contains(&e), "{c}: {e:?} wanted, refused: {s:?}");
            }
            for d in 0..c.n() {
                if let Some(e) = child(d) {
                    assert!(accepted.contains(&e), "{c}: {e:?} wanted, refused: {s:?}");
                }
                let g = grandchild(d);
                assert!(
                    g.is_empty() || g.iter().any(|e| accepted.contains(e)),
                    "{c}: {g:?} wanted, all refused: {s:?}"
                );
                if w.disks()[d].host_job {
                    assert!(
                        accepted.contains(&Event::HostJobEnds(d as u8)),
                        "{c}: {s:?}"
                    );
                }
            }
            for a in Actor::ALL {
                assert_eq!(
                    w.may_act(a),
                    accepted.iter().any(|e| e.actor() == a),
                    "{c}: {a:?} in {s:?}"
                );
            }
        }
    }
}

/// Each act feeds back its own event, on the disk it is for.
#[test]
fn each_act_names_its_event() {
    assert_eq!(ParentAct::Begin.event(), Event::ParentBegins);
    assert_eq!(ParentAct::StartChild.event(), Event::ParentStartsChild);
    assert_eq!(ParentAct::Return.event(), Event::ParentReturns);
    assert_eq!(ChildAct::PickUp.event(2), Event::PoolPicksUp(2));
    assert_eq!(ChildAct::Return.event(1), Event::ChildReturns(1));
    let named = |act: GrandchildAct| act.events(1);
    let only = |e: Event| GrandchildEvents {
        on_success: e,
        on_failure: None,
    };
    assert_eq!(
        named(GrandchildAct::VmMerge),
        GrandchildEvents {
            on_success: Event::MergeReachesHost(1),
            on_failure: Some(Event::MergeRefused(1)),
        }
    );
    assert_eq!(
        named(GrandchildAct::Finish(HostCall::DeleteVolume)),
        GrandchildEvents {
            on_success: Event::TaskEnds(1),
            on_failure: Some(Event::DeleteVolumeFails(1)),
        }
    );
    assert_eq!(
        named(GrandchildAct::PickUp),
        only(Event::GrandchildPicksUp(1))
    );
    assert_eq!(
        named(GrandchildAct::Return),
        only(Event::GrandchildReturns(1))
    );
    for call in [
        HostCall::Nothing,
        HostCall::ReadChain,
        HostCall::CheckVolumeGone,
    ] {
        assert_eq!(named(GrandchildAct::Finish(call)), only(Event::TaskEnds(1)));
    }
    assert_eq!(
        named(GrandchildAct::EndByCallback),
        only(Event::TaskEnds(1))
    );
    assert_eq!(
        named(GrandchildAct::VmMerge).all().collect::<Vec<_>>(),
        [Event::MergeReachesHost(1), Event::MergeRefused(1)]
    );
    assert_eq!(
        named(GrandchildAct::Return).all().collect::<Vec<_>>(),
        [Event::GrandchildReturns(1)]
    );
}

/// The parent's thread, from the user's request to its return, is what `wants` says it is.
#[test]
fn the_parents_thread_begins_starts_each_child_and_returns() {
    let c = cfg(2, Release::V4_0_2);
    let mut s = State::initial(c.n());
    let mut acts = Vec::new();
    while let Some(act) = wants(&c, &s).parent() {
        acts.push(act);
        s = step(&c, &s, act.event()).unwrap().0;
    }
    assert_eq!(
        acts,
        [
            ParentAct::Begin,
            ParentAct::StartChild,
            ParentAct::StartChild,
            ParentAct::Return
        ]
    );
}

/// A trace and an event log name each actor; an older engine's names are still read.
#[test]
fn actors_have_names_that_read_back() {
    let names: HashSet<&str> = Actor::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(names.len(), Actor::ALL.len(), "one name each");
    for a in Actor::ALL {
        assert_eq!(Actor::from_name(a.name()), Some(a));
        assert_eq!(a.to_string(), a.name());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, format!("\"{}\"", a.name()));
        assert_eq!(serde_json::from_str::<Actor>(&json).unwrap(), a);
    }
    assert_eq!(Actor::Grandchild.name(), "grandchild");
    assert_eq!(Actor::Restart.name(), "restart");
    for (old, a) in [("task", Actor::Grandchild), ("resume", Actor::Restart)] {
        assert_eq!(Actor::from_name(old), Some(a));
        assert_eq!(
            serde_json::from_str::<Actor>(&format!("\"{old}\"")).unwrap(),
            a
        );
    }
    assert_eq!(Actor::from_name("martian"), None);
    assert_eq!(Actor::from_name("event_log"), None);
}
