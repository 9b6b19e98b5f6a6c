//! `check --disks any`: the abstraction covers every concrete reachable state (soundness), its
//! verdicts agree with the concrete search's (precision), and its explanations are real steps.

use livemerge_checks::any_n::views::{controller, Abstraction};
use livemerge_checks::any_n::{self, AnyVerdict};
use livemerge_checks::search::{bfs, SearchLimits, Verdict};
use livemerge_model::properties::{self, Expectation};
use livemerge_model::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// All faults and one restart. No retry: a retry multiplies the concrete states by 6 to 60 at
/// 4 disks, so the tests with one (the default configuration) stop a disk earlier.
fn cfg(release: Release, disks: u8) -> Config {
    Config {
        disks,
        release,
        faults: Faults::ALL,
        restarts: 1,
        retries: 0,
        symmetry: true,
    }
}

fn limits() -> SearchLimits {
    SearchLimits {
        threads: 2,
        max_states: None,
        timeout: None,
        max_memory_mib: None,
        progress: false,
    }
}

/// What one exhaustive concrete search of a configuration found, and whether the abstraction
/// covers every state it reached.
struct Concrete {
    cfg: Config,
    unique: u64,
    seconds: f64,
    /// Each always- and eventually-property's concrete verdict: does it hold?
    holds: HashMap<&'static str, bool>,
    /// Reached states of which some view is not in the abstraction (one shown twice counts
    /// twice), and one of them.
    missed: u64,
    first_missed: Option<State>,
}

/// Runs the lean BFS over `cfg` (exhaustive, shortest paths) and asks `a` whether it covers each
/// state the search expands: every reachable state, in the search's own lean memory.
fn search(a: &Abstraction, cfg: &Config) -> Concrete {
    let n = cfg.n();
    let missed = AtomicU64::new(0);
    let first = Mutex::new(None);
    let o = bfs::run_observing(cfg, &limits(), &|s| {
        if !a.covers(s, n) {
            missed.fetch_add(1, Relaxed);
            first.lock().unwrap().get_or_insert(*s);
        }
    });
    assert!(o.complete, "{cfg}: the concrete search stopped early");
    let holds = o
        .findings
        .iter()
        .filter(|f| f.prop.expectation != Expectation::Sometimes)
        .map(|f| (f.prop.name, f.verdict == Verdict::Holds))
        .collect();
    Concrete {
        cfg: *cfg,
        unique: o.unique,
        seconds: o.seconds,
        holds,
        missed: missed.into_inner(),
        first_missed: first.into_inner().unwrap(),
    }
}

/// Soundness: every view of every reachable state of `c` is in the abstraction.
fn assert_covered(a: &Abstraction, c: &Concrete) {
    if let Some(s) = &c.first_missed {
        panic!(
            "{}, threshold {}: the abstraction misses a view of {} reachable state(s), e.g.:\n{}",
            c.cfg,
            a.threshold,
            c.missed,
            summarize(&c.cfg, s)
        );
    }
}

fn assert_covers_cfg(a: &Abstraction, base: &Config, max_n: u8) {
    for n in 1..=max_n {
        assert_covered(a, &search(a, &Config { disks: n, ..*base }));
    }
}

/// Precision: a property the abstraction proves holds on every concrete N; one it finds
/// violated on its smallest N is violated there and holds below it.
fn assert_agrees_with(out: &any_n::AnyOutcome, c: &Concrete) {
    let n = c.cfg.disks;
    let release = c.cfg.release;
    for f in &out.findings {
        if f.prop.expectation == Expectation::Sometimes {
            assert_eq!(f.verdict, AnyVerdict::OutOfScope, "{}", f.prop.name);
            continue;
        }
        let holds = c.holds[f.prop.name];
        match &f.verdict {
            AnyVerdict::HoldsForEveryN => assert!(
                holds,
                "{release} {n} disk(s): \"{}\" is violated but the abstraction proved it",
                f.prop.name
            ),
            AnyVerdict::Violated { disks, path } => {
                assert_eq!(
                    holds,
                    n < *disks,
                    "{release} {n} disk(s): \"{}\"",
                    f.prop.name
                );
                assert!(!path.is_empty());
            }
            other => panic!("{release}: \"{}\" got {other:?}", f.prop.name),
        }
    }
}

/// For every release over `base`'s faults, restarts and retries, and each N of `ns`: one
/// exhaustive concrete search shows both that the threshold-1 abstraction covers every reachable
/// state (soundness) and that its verdicts agree with the concrete ones (precision). Prints a
/// line per search, which `scripts/any-n-precision` collects.
fn assert_sound_and_precise(base: &Config, ns: std::ops::RangeInclusive<u8>) {
    assert_sound_and_precise_for(&Release::ALL, base, ns)
}

/// [`assert_sound_and_precise`] for some releases only.
fn assert_sound_and_precise_for(
    releases: &[Release],
    base: &Config,
    ns: std::ops::RangeInclusive<u8>,
) {
    for &release in releases {
        let base = Config { release, ..*base };
        let out = any_n::check(&base, 1, 1, *ns.end(), &limits()).unwrap();
        for n in ns.clone() {
            let c = search(&out.abstraction, &Config { disks: n, ..base });
            assert_covered(&out.abstraction, &c);
            assert_agrees_with(&out, &c);
            eprintln!(
                "any-n: release {release}, faults {}, restarts {}, retries {}, {n} disk(s): \
                 {} states in {:.1} s, every one covered, verdicts agree",
                base.faults, base.restarts, base.retries, c.unique, c.seconds
            );
        }
    }
}

#[test]
fn every_reachable_state_of_1_to_3_disks_is_covered_and_the_verdicts_agree() {
    assert_sound_and_precise(&cfg(Release::V4_0_2, 1), 1..=3);
}

#[test]
#[ignore = "slow tier: exhaustive concrete searches of 4 disks for every release, 20 million states (scripts/test runs it)"]
fn every_reachable_state_of_4_disks_is_covered_and_the_verdicts_agree() {
    assert_sound_and_precise(&cfg(Release::V4_0_2, 1), 4..=4);
}

#[test]
#[ignore = "slow tier: exhaustive concrete searches with one retry for every release, 1 to 3 disks, 12 million states (scripts/test runs it)"]
fn with_a_retry_every_reachable_state_of_1_to_3_disks_is_covered_and_the_verdicts_agree() {
    let base = Config {
        retries: 1,
        ..cfg(Release::V4_0_2, 1)
    };
    assert_sound_and_precise(&base, 1..=3);
}

#[test]
fn other_faults_and_restarts_are_covered_and_agree_too() {
    for (faults, restarts) in [(Faults::NONE, 0), (Faults::ALL, 2)] {
        let base = Config {
            faults,
            restarts,
            ..cfg(Release::V4_0_2, 1)
        };
        assert_sound_and_precise(&base, 1..=2);
    }
}

#[test]
#[ignore = "slow tier: builds the threshold-2 abstraction for every release, over 10 s (scripts/test runs it)"]
fn pairs_of_disks_are_covered_too_with_threshold_2() {
    for release in Release::ALL {
        let a = Abstraction::build(&cfg(release, 1), 2, 1).unwrap();
        assert_covers_cfg(&a, &cfg(release, 1), 3);
    }
}

#[test]
fn a_state_outside_the_abstraction_is_not_covered() {
    // `covers` must be able to say no: a disk whose top volume is gone while its base never
    // received the data is unreachable under the fixed rules (it would be data loss).
    let a = Abstraction::build(&cfg(Release::V4_0_2, 1), 1, 1).unwrap();
    let mut s = Draft::initial(2);
    s.disks[1].top_exists = false;
    assert!(a.covers(&State::initial(2), 2));
    assert!(!a.covers(&s.build(), 2));
}

#[test]
fn the_soundness_check_can_fail() {
    // The abstraction of a run without restarts does not cover a run with one (a restart makes
    // rows EXECUTION_FAILED, a local state no run without one reaches): the check must say so.
    let calm = Config {
        restarts: 0,
        ..cfg(Release::V4_0_2, 1)
    };
    let a = Abstraction::build(&calm, 1, 1).unwrap();
    let c = search(&a, &cfg(Release::V4_0_2, 2));
    assert!(c.missed > 0 && c.first_missed.is_some());
    assert_eq!(search(&a, &Config { disks: 2, ..calm }).missed, 0);
}

#[test]
#[ignore = "slow tier: builds abstractions with one and two witnesses for every release, over 5 s (scripts/test runs it)"]
fn one_witness_is_enough_for_this_model() {
    // The soundness argument needs configurations of K + W disks where W bounds the disks an
    // event reads besides the view; adding a second witness must find no new view.
    for release in Release::ALL {
        let one = Abstraction::build(&cfg(release, 1), 1, 1).unwrap();
        let two = Abstraction::build(&cfg(release, 1), 1, 2).unwrap();
        assert_eq!(one.views.len(), two.views.len(), "release {release}");
        assert!(two.configuration_count() > one.configuration_count());
    }
}

/// `scripts/any-n-precision` runs this one (about 63 minutes and 13 GiB on this machine) and keeps
/// its lines. It belongs to no test tier: `scripts/test` runs the ignored tests too, and this one
/// then returns at once unless `LIVEMERGE_ANY_N_PRECISION` is set. `LIVEMERGE_ANY_N_ROWS` (a
/// comma-separated list of `restart`, `default`, `calm`, `restart6`; all by default) picks rows.
///
/// Each configuration goes as far as an exhaustive search on a 2-core, 24 GiB machine goes: the
/// default one (one retry) multiplies the states about twenty-fold per disk.
#[test]
#[ignore = "precision run, no test tier: scripts/any-n-precision runs it (minutes, gigabytes)"]
fn the_largest_exhaustive_comparison_this_machine_reaches() {
    if std::env::var_os("LIVEMERGE_ANY_N_PRECISION").is_none() {
        eprintln!("skipped: scripts/any-n-precision (LIVEMERGE_ANY_N_PRECISION=1) runs it");
        return;
    }
    let rows = std::env::var("LIVEMERGE_ANY_N_ROWS").unwrap_or_default();
    let row = |name: &str| rows.is_empty() || rows.split(',').any(|r| r == name);
    // All faults and one restart: the slow tier does 1 to 4 disks.
    let restart = cfg(Release::V4_0_2, 1);
    if row("restart") {
        assert_sound_and_precise(&restart, 5..=5);
    }
    // The default configuration (one retry): the slow tier does 1 to 3 disks.
    let default = Config {
        retries: 1,
        ..restart
    };
    if row("default") {
        assert_sound_and_precise(&default, 4..=4);
    }
    // All faults, no restart and no retry, which no tier runs.
    let calm = Config {
        restarts: 0,
        ..restart
    };
    if row("calm") {
        assert_sound_and_precise(&calm, 1..=6);
    }
    // Six disks with a restart, last (the largest searches: a run cut short has the other
    // lines), and only where they fit in 24 GiB: a sixth disk multiplies the states by about 10
    // to 12, so 4.1.0 (128 million at 5 disks) would need 1.5 billion; 3.6.0 (62 million at 5),
    // the largest that fits, comes last.
    let fit = [
        Release::V3_5_7,
        Release::V3_6_1,
        Release::V4_0_0,
        Release::V4_0_2,
        Release::V4_2_0,
        Release::V4_3_0,
        Release::V4_4_0,
        Release::V4_5_7,
        Release::V3_5_0,
        Release::V3_6_0,
    ];
    if row("restart6") {
        assert_sound_and_precise_for(&fit, &restart, 6..=6);
    }
}

#[test]
fn the_bug_is_found_on_one_disk_and_the_fixed_rules_are_proved() {
    let bug = any_n::check(&cfg(Release::V3_6_0, 1), 1, 1, 4, &limits()).unwrap();
    let f = bug
        .findings
        .iter()
        .find(|f| f.prop.name == properties::SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE)
        .unwrap();
    let AnyVerdict::Violated { disks: 1, path } = &f.verdict else {
        panic!("expected a 1-disk counterexample, got {:?}", f.verdict)
    };
    // The counterexample is a real run of the model on one disk that ends in the violation.
    let steps = concretize(&bug.concrete_config(1), path).unwrap();
    let last = steps.last().unwrap().after;
    assert!(!(f.prop.holds)(&bug.concrete_config(1), &last));

    let fixed = any_n::check(&cfg(Release::V4_0_2, 1), 1, 1, 4, &limits()).unwrap();
    for name in [
        properties::SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE,
        properties::NO_DATA_LOST,
    ] {
        let f = fixed.findings.iter().find(|f| f.prop.name == name).unwrap();
        assert_eq!(f.verdict, AnyVerdict::HoldsForEveryN, "{name}");
    }
    // 4.0's divergence (a restart after VM.merge reached the host) is real on one disk.
    let db = fixed
        .findings
        .iter()
        .find(|f| f.prop.name == properties::DB_AGREES_WHEN_IDLE)
        .unwrap();
    assert!(matches!(db.verdict, AnyVerdict::Violated { disks: 1, .. }));
}

#[test]
fn every_removal_ends_for_every_n_without_a_restart_and_not_with_one() {
    // The eventually-properties are judged on the abstraction's terminal configurations.
    let ends = |restarts: u8| {
        let c = Config {
            restarts,
            retries: 1,
            ..cfg(Release::V4_0_2, 1)
        };
        let out = any_n::check(&c, 1, 1, 3, &limits()).unwrap();
        let verdict = |name| {
            out.findings
                .iter()
                .find(|f| f.prop.name == name)
                .unwrap()
                .verdict
                .clone()
        };
        (
            verdict(properties::EVERY_REMOVAL_ENDS),
            verdict(properties::ENDS_BEFORE_EXPIRY),
        )
    };
    assert_eq!(
        ends(0),
        (AnyVerdict::HoldsForEveryN, AnyVerdict::HoldsForEveryN)
    );
    let (every, before_expiry) = ends(1);
    assert!(
        matches!(every, AnyVerdict::Violated { disks: 1, .. }),
        "{every:?}"
    );
    assert!(
        matches!(before_expiry, AnyVerdict::Violated { disks: 1, .. }),
        "{before_expiry:?}"
    );
}

#[test]
fn a_terminal_configuration_that_has_not_ended_is_a_liveness_violation() {
    // Under 4.0.0 a restart before the parent returned leaves it EXECUTION_FAILED, which its
    // poller never dispatches: the abstraction must find a terminal configuration for it.
    let a = Abstraction::build(&cfg(Release::V4_0_0, 1), 1, 1).unwrap();
    let props = properties::all(&a.cfg);
    let k = props
        .iter()
        .position(|p| p.name == properties::EVERY_REMOVAL_ENDS)
        .unwrap();
    let w = a.violations[k].as_ref().expect("a terminal violation");
    let conf = &a.configurations[w.configuration as usize];
    let small = Config {
        disks: conf.n as u8,
        ..a.cfg
    };
    assert!(enabled(&small, &conf.state).is_empty());
    assert!(!conf.state.removal_ended());
}

#[test]
fn a_derivation_is_a_chain_of_real_steps() {
    let a = Abstraction::build(&cfg(Release::V3_6_0, 1), 1, 1).unwrap();
    let witness = a.violations[0]
        .as_ref()
        .expect("3.6.0 violates the first property");
    let chain = a.derivation(witness.configuration);
    assert!(chain.len() > 1);
    assert_eq!(chain.last().unwrap().0, witness.configuration);
    // The first configuration is made of initial views.
    let first = &a.configurations[chain[0].0 as usize];
    assert!(a.origins[first.trigger as usize].is_none());
    assert_eq!(controller(&first.state), controller(&State::initial(1)));
    for w in chain.windows(2) {
        let (c, Some((order, e))) = w[0] else {
            panic!("only the last link has no event")
        };
        let conf = &a.configurations[c as usize];
        let small = Config {
            disks: conf.n as u8,
            ..a.cfg
        };
        let after = step(&small, &conf.ordered(order), e)
            .expect("a derivation step is a step")
            .0;
        // The next configuration's trigger view is one of the successor's views.
        let next = &a.configurations[w[1].0 as usize];
        let trigger = a.views[next.trigger as usize];
        assert_eq!(controller(&after), a.controllers[trigger.ctrl as usize]);
        for &l in trigger.locals() {
            assert!(after.disks(conf.n).contains(&a.locals[l as usize]));
        }
    }
}

#[test]
fn an_unconfirmed_violation_is_reported_with_its_abstract_derivation() {
    // 3.6.0's violations are all confirmed on one disk; to see how an unconfirmed one is
    // reported, pretend the concrete search had not found it.
    let mut out = any_n::check(&cfg(Release::V3_6_0, 1), 1, 1, 1, &limits()).unwrap();
    let f = &mut out.findings[0];
    assert!(matches!(f.verdict, AnyVerdict::Violated { disks: 1, .. }));
    f.verdict = AnyVerdict::NotConfirmed { up_to: 1 };
    let chain = out.abstraction.derivation(f.abstract_witness.unwrap());
    let name = f.prop.name;
    let text = any_n::report::text(&out);
    assert!(text.contains(&format!(
        "abstract counterexample to always \"{name}\", not found by the concrete search for 1 to 1 disk(s)"
    )), "{text}");
    assert!(text.contains("raise --threshold"), "{text}");
    // One numbered step per link of the derivation that has an event, none refused.
    assert!(
        text.contains(&format!("{:>3}. in: ", chain.len() - 1)),
        "{text}"
    );
    assert!(!text.contains("refused"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&any_n::report::json(&out)).unwrap();
    let p = &json["properties"][0];
    assert_eq!(p["verdict"], "not confirmed");
    assert!(p["holds"].is_null());
    assert_eq!(p["not_confirmed_up_to"], 1);
    assert_eq!(
        p["abstract_counterexample"]["derivation"]
            .as_array()
            .unwrap()
            .len(),
        chain.len() - 1
    );
}
