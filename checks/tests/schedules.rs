//! Random schedules on the real engine (in-memory storage): every schedule's trace conforms to
//! the model; a schedule the engine cannot follow is caught, and saved as a file `show` reads.
//! `LIVEMERGE_SCHEDULES` sets how many (default 200; `livemerge schedules --runs 1000` for more).

use livemerge_checks::schedules::{
    check_seed, config_for, random_path, run_on_engine, save_failure, Failure,
};
use livemerge_model::{Config, Event, Faults, Release};

#[test]
#[ignore = "slow tier: runs the engine under hundreds of schedules, over 30 s (scripts/test runs it)"]
fn random_schedules_conform_to_the_model() {
    let n: u64 = std::env::var("LIVEMERGE_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let scratch = tempfile::tempdir().unwrap();
    let mut steps = 0;
    let mut releases = std::collections::HashSet::new();
    let mut restarted = 0;
    for seed in 0..n {
        if random_path(&config_for(seed, None, None), seed).contains(&Event::Restart) {
            restarted += 1;
        }
        match check_seed(seed, None, None, scratch.path()) {
            Ok(k) => steps += k,
            Err(f) => panic!(
                "seed {}: {} ({}, shortest schedule {:?})",
                f.seed, f.reason, f.config, f.events
            ),
        }
        releases.insert(seed % Release::ALL.len() as u64);
    }
    assert!(
        steps as u64 > 10 * n,
        "the schedules are real removals: {steps} steps"
    );
    assert_eq!(releases.len(), Release::ALL.len().min(n as usize));
    assert!(n < 20 || restarted > 0, "some schedules restart the engine");
    eprintln!("{n} schedules, {steps} steps, {restarted} with an engine restart");
}

fn cfg(release: Release) -> Config {
    Config {
        disks: 1,
        release,
        faults: Faults::ALL,
        restarts: 0,
        retries: 0,
        symmetry: false,
    }
}

#[test]
fn a_schedule_the_engine_cannot_follow_is_caught_and_saved() {
    // The bug 1280160 path of 3.6.0, forced on an engine running 4.0's poller.
    let path = vec![
        Event::ParentBegins,
        Event::ParentStartsChild,
        Event::ParentReturns,
        Event::PollParent,
        Event::PollParent,
    ];
    let scratch = tempfile::tempdir().unwrap();
    let why = run_on_engine(&cfg(Release::V4_0_2), &path, scratch.path()).unwrap_err();
    assert!(
        why.contains("step 4") && why.contains("the parent's doPolling waits"),
        "{why}"
    );

    // Saved, it is a counterexample file like any other.
    let f = Failure {
        seed: 7,
        config: cfg(Release::V3_6_0),
        events: path,
        reason: why,
    };
    let file = save_failure(&f, scratch.path()).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_livemerge"))
        .args(["show", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("\"the engine follows the model\" (5 steps)"),
        "{out}"
    );
    assert!(
        out.contains("sees disk-1 NOT_STARTED -> parent SUCCEEDED"),
        "{out}"
    );
}

#[test]
fn a_seed_always_gives_the_same_schedule() {
    let c = cfg(Release::V3_6_1);
    assert_eq!(random_path(&c, 42), random_path(&c, 42));
    let distinct: std::collections::HashSet<_> = (0..20).map(|s| random_path(&c, s)).collect();
    assert!(distinct.len() > 5, "seeds explore different interleavings");
}
