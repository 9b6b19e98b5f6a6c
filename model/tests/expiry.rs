//! Command expiry (`markExpiredCommandsAsFailure`), the 4.0 catch of a refused `VM.merge`, and the
//! 3.5 releases: each rule on hand-built states, citing the line it follows.

mod common;
use common::*;
use livemerge_model::properties::{ended_before_expiry, removal_ended};
use livemerge_model::rules;
use livemerge_model::*;

fn releases_with_expiry() -> impl Iterator<Item = Release> {
    Release::ALL
        .into_iter()
        .filter(|r| Rules::of(*r).commands_expire)
}

// markExpiredCommandsAsFailure runs on every pass from 3.6.1 (tasks/CommandExecutor.java:136-138,
// 141-170 at ovirt-engine-3.6.1; tasks/CommandsRepository.java:316-343 at 4.0.0); 3.5.0, 3.5.7 and
// 3.6.0 have no such method (tasks/CommandExecutor.java at those tags).
#[test]
fn commands_expire_from_3_6_1() {
    let s = hung(Step::DestroyImage, Task::Lost).build();
    for r in Release::ALL {
        let expires = step(&cfg(1, r), &s, Event::Expire).is_ok();
        let want = !matches!(r, Release::V3_5_0 | Release::V3_5_7 | Release::V3_6_0);
        assert_eq!(expires, want, "{r}");
    }
}

// The parent's pass reaches its ACTIVE children (getChildCommandIds non-empty,
// CommandExecutor.java:143-150 at 3.6.1): the child waiting on a lost DestroyImage (row
// NOT_STARTED, never ACTIVE) fails, the grandchild is left as it is.
#[test]
fn a_child_waiting_on_a_lost_grandchild_expires() {
    let s = hung(Step::DestroyImage, Task::Lost).build();
    for r in releases_with_expiry() {
        let c = cfg(1, r);
        assert_eq!(enabled(&c, &s), vec![Event::Expire], "{r}");
        let t = step(&c, &s, Event::Expire).unwrap().0;
        assert_eq!(t.disk(0).status(), CmdStatus::Failed, "{r}");
        assert_eq!(t.disk(0).task(), Task::Lost, "{r}");
        assert!(t.parent().flags().expired());
        assert!(!s.parent().flags().expired());
    }
}

// Expiry fails ACTIVE rows only (`cmdEntity.getCommandStatus() == CommandStatus.ACTIVE`,
// CommandExecutor.java:156 at 3.6.1, CommandsRepository.java:329 at 4.0.0): an EXECUTION_FAILED
// child that the 4.0 poller never dispatches hangs for ever.
#[test]
fn an_execution_failed_child_never_expires() {
    let mut s = hung(Step::Extend, Task::None);
    s.disks[0].status = CmdStatus::ExecutionFailed;
    s.disks[0].executed = false;
    s.parent.status = CmdStatus::ExecutionFailed;
    s.parent.executed = false;
    let s = s.build();
    for r in [Release::V4_0_0, Release::V4_0_2] {
        let c = cfg(1, r);
        assert_eq!(
            step(&c, &s, Event::Expire),
            Err(Refused("no ACTIVE command that the expiry pass reaches")),
            "{r}"
        );
    }
}

// Oldest first: in 3.6.1 a restart strands an executing DestroyImage with its row ACTIVE
// (CommandExecutor.java:197-210 looks at callback rows only). Its child, created before it,
// passes its lifetime first; once it failed and ended, the poller no longer holds it and the
// grandchild is not reached. With the child ended, the grandchild's own row is reached only through
// a registered child.
#[test]
fn the_child_expires_before_its_stranded_grandchild() {
    let s = hung(Step::DestroyImage, Task::Stranded).build();
    let c = cfg(1, Release::V3_6_1);
    let t = step(&c, &s, Event::Expire).unwrap().0;
    assert_eq!(t.disk(0).status(), CmdStatus::Failed);
    assert_eq!(t.disk(0).task(), Task::Stranded);
    // Without the parent's pass (a parent that ended), the child's own pass fails it.
    let mut d = Draft::of(&s);
    d.parent.registered = false;
    let t = step(&c, &d.build(), Event::Expire).unwrap().0;
    assert_eq!(t.disk(0).status(), CmdStatus::Active);
    assert_eq!(t.disk(0).task(), Task::Failed);
}

// Expiry is the clock passing 3000 minutes (CoCoLifeInMinutes, packaging/dbscripts/upgrade/
// pre_upgrade/0000_config.sql:63): the model lets it happen only once nothing else can.
#[test]
fn nothing_expires_while_the_removal_can_go_on() {
    let s = hung(Step::Merge, Task::Running).build();
    let c = cfg(1, Release::V4_0_2);
    assert!(step(&c, &s, Event::TaskEnds(0)).is_ok());
    assert_eq!(
        step(&c, &s, Event::Expire),
        Err(Refused(
            "something can still happen before any command expires"
        ))
    );
}

// The two liveness grades: a removal that ends only through expiry holds "every removal ends"
// and breaks "every removal ends before any command expires"; a retry keeps the fact.
#[test]
fn the_two_liveness_grades() {
    let c = Config {
        retries: 1,
        ..cfg(1, Release::V4_1_0)
    };
    let s = hung(Step::DestroyImage, Task::Lost).build();
    let t = run_from(
        &c,
        s,
        &[Event::Expire, Event::PollChild(0), Event::PollParent],
    );
    assert_eq!(t.parent().status(), CmdStatus::Failed);
    let t = run_from(&c, t, &[Event::PollParent]);
    assert!(removal_ended(&c, &t));
    assert!(!ended_before_expiry(&c, &t));
    let u = run_from(&c, t, &[Event::UserRetries]);
    assert!(u.parent().flags().expired());
    let mut calm = Draft::of(&t);
    calm.parent.expired = false;
    assert!(ended_before_expiry(&c, &calm.build()));
}

// MergeCommand.executeCommand at ovirt-engine-4.0.0 (MergeCommand.java:58-72): imageErr/mergeErr
// -> mergeRunning -> setSucceeded(true); MergeCommandCallback.doPolling (l.24-42) finds no job for
// the null job id and ends SUCCEEDED; MergeStatus then reads the chain {base}: the retry of a
// disk the host merged already completes. 3.6.1's MergeCommand.java:37-53 has no catch.
#[test]
fn a_refused_merge_is_verified_from_4_0_and_fails_before() {
    for r in Release::ALL {
        let c = cfg(1, r);
        let mut s = hung(Step::Merge, Task::Queued);
        s.disks[0].top_in_chain = false;
        s.disks[0].base_has_top = true;
        s.disks[0].images = Images::TopIllegal;
        let s = s.build();
        let t = step(&c, &s, Event::MergeRefused(0)).unwrap().0;
        if !Rules::of(r).refused_merge_is_verified {
            assert_eq!(t.disk(0).task(), Task::Failed, "{r}");
            continue;
        }
        assert!(r >= Release::V4_0_0);
        let t = run_from(
            &c,
            t,
            &[
                Event::GrandchildReturns(0),
                Event::TaskEnds(0),
                Event::PollChild(0),
            ],
        );
        // MergeStatus without a callback (4.2 on) is picked up by a pool thread first.
        let t = if Rules::of(r).grandchild_has_callback(Step::MergeStatus) {
            t
        } else {
            run_from(&c, t, &[Event::GrandchildPicksUp(0)])
        };
        let t = run_from(&c, t, &[Event::GrandchildReturns(0), Event::TaskEnds(0)]);
        assert_eq!(t.disk(0).step(), Step::MergeStatus, "{r}");
        assert_eq!(t.disk(0).task(), Task::Succeeded, "{r}");
        // A restart while the refused Merge's execute() is still running: EXECUTION_FAILED.
        let mid = step(&c, &s, Event::MergeRefused(0)).unwrap().0;
        let after = step(&c, &mid, Event::Restart).unwrap().0;
        assert_eq!(after.disk(0).task(), Task::ExecutionFailed, "{r}");
    }
}

// 3.5.0's child has no EXTEND (RemoveSnapshotSingleDiskLiveCommand.java:125-149, 169 at
// ovirt-engine-3.5.0); 3.5.7 has it (ec1a3d20df1, l.126-129, 196).
#[test]
fn the_3_5_0_child_starts_at_merge() {
    for (r, first) in [
        (Release::V3_5_0, Step::Merge),
        (Release::V3_5_7, Step::Extend),
        (Release::V3_6_0, Step::Extend),
    ] {
        let c = cfg(1, r);
        let s = run(&c, &[Event::ParentBegins, Event::ParentStartsChild]);
        assert_eq!(s.disk(0).step(), first, "{r}");
        assert_eq!(Rules::of(r).initial_step(true, true), Step::DestroyImage);
    }
}

// Each release is written as an earlier one plus its differences; the table is in release order.
#[test]
fn every_release_has_its_rules_in_order() {
    for (rules, r) in Rules::ALL.iter().zip(Release::ALL) {
        assert_eq!(rules.release, r);
        assert_eq!(Rules::of(r).release, r);
        if let Some(p) = rules.previous {
            assert!(p < r, "{r} is written against a later release");
            assert_ne!(Rules::of(p), rules, "{r} differs from {p} in nothing");
            // Each release names its own changes (`livemerge history` quotes them).
            assert_ne!(
                rules.changes,
                Rules::of(p).changes,
                "{r} repeats {p}'s changes"
            );
        }
    }
    assert_eq!(Rules::ALL[0].previous, None);
    assert!(Rules::ALL.iter().all(|r| !r.changes.is_empty()));
    // The releases each is written against, as docs/releases.md's table says.
    let written_against: Vec<_> = Rules::ALL
        .iter()
        .map(|r| r.previous.map(|p| p.name()))
        .collect();
    assert_eq!(
        written_against,
        [
            None,
            Some("3.5.0"),
            Some("3.5.0"),
            Some("3.6.0"),
            Some("3.6.1"),
            Some("4.0.0"),
            Some("4.0.2"),
            Some("4.1.0"),
            Some("4.2.0"),
            Some("4.3.0"),
            Some("4.4.0")
        ]
    );
}

// The generated rule table (`livemerge rules`, docs/releases.md) has a row for every field of
// `Rules` but the release's own name and the one it is written against.
#[test]
fn the_rule_table_has_a_row_for_every_rule() {
    let debug = format!("{:?}", Rules::of(Release::V4_1_0));
    let fields: Vec<_> = debug
        .split(['{', ','])
        .filter_map(|part| part.split(':').next())
        .map(str::trim)
        .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .filter(|f| !matches!(*f, "release" | "previous" | "changes"))
        .collect();
    let rows: Vec<_> = livemerge_model::rules::TABLE
        .iter()
        .map(|r| r.field)
        .collect();
    assert_eq!(rows, fields);
    // Every row tells at least two releases apart: a rule that never changes is not a release's.
    for row in livemerge_model::rules::TABLE {
        let values: std::collections::BTreeSet<_> =
            Rules::ALL.iter().map(|r| (row.value)(r)).collect();
        assert!(
            values.len() > 1,
            "{} is the same in every release",
            row.field
        );
    }
}

// A state where a command expired already witnesses grade 1 (every end reached from it breaks
// it), and never grade 2; a terminal state witnesses each where it does not hold.
#[test]
fn an_expired_command_dooms_only_the_first_grade() {
    use livemerge_model::properties::{ALL, ENDS_BEFORE_EXPIRY, EVERY_REMOVAL_ENDS};
    let c = cfg(1, Release::V4_1_0);
    let grade = |name| ALL.iter().find(|p| p.name == name).unwrap();
    let s = hung(Step::DestroyImage, Task::Lost).build();
    let t = step(&c, &s, Event::Expire).unwrap().0;
    assert!(!grade(ENDS_BEFORE_EXPIRY).witnessed(&c, &s, false));
    assert!(grade(ENDS_BEFORE_EXPIRY).witnessed(&c, &t, false));
    assert!(!grade(EVERY_REMOVAL_ENDS).witnessed(&c, &t, false));
    assert!(grade(EVERY_REMOVAL_ENDS).witnessed(&c, &s, true));
}

// The seed's releases: bug 1280160 (the snapshot row deleted while a disk is not merged) is in
// 3.5.0 as in 3.6.0, and gone in 3.5.7 as in 3.6.1 (b486baa10e1, 16d82699a41). What 3.5.7 still
// breaks "snapshot removed implies merge done" with is the other race, the parent ending before
// a merged child synced its rows: its callback counts SUCCEEDED at once, as 3.6.1's does.
#[test]
fn bug_1280160_lives_in_3_5_0_and_not_in_3_5_7() {
    use livemerge_model::races::{merged_but_unsynced, removed_before_merge};
    use std::collections::HashSet;
    for r in [
        Release::V3_5_0,
        Release::V3_5_7,
        Release::V3_6_0,
        Release::V3_6_1,
    ] {
        for n in 1..=2u8 {
            let c = Config {
                faults: Faults::NONE,
                restarts: 0,
                ..cfg(n, r)
            };
            let init = State::initial(c.n());
            let mut seen = HashSet::from([init]);
            let mut todo = vec![init];
            let (mut bug, mut other) = (false, false);
            while let Some(s) = todo.pop() {
                for (_, t) in successors(&c, &s) {
                    if s.snapshot() != Snapshot::Deleted && t.snapshot() == Snapshot::Deleted {
                        bug |= removed_before_merge(&c, &t);
                    }
                    other |= merged_but_unsynced(&c, &t) && t.snapshot() == Snapshot::Deleted;
                    if seen.insert(t) {
                        todo.push(t);
                    }
                }
            }
            let fixed = Rules::of(r).parent_callback == rules::ParentCallback::WaitsOnNotStarted;
            assert_eq!(bug, !fixed, "{r}, {n} disk(s)");
            assert!(other, "{r}, {n} disk(s)");
        }
    }
}
