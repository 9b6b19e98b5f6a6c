//! Depth-first search with stateright's own checker (`spawn_dfs`) over the model. Paths it
//! reports are not the shortest; its `eventually` check can miss a violation reached again
//! through an already-visited state (stateright's documented limit).

use super::{verdict, Finding, SearchLimits, SearchOutcome};
use livemerge_model::properties;
use livemerge_model::LiveMerge;
use stateright::{Checker, Model};
use std::time::Instant;

pub(crate) fn run(model: LiveMerge, limits: &SearchLimits) -> SearchOutcome {
    let start = Instant::now();
    let cfg = model.cfg;
    // stateright enforces a timeout only when a thread shares work (job_market.rs), which never
    // happens with one thread: a timed search gets two.
    let threads = if limits.timeout.is_some() {
        limits.threads.max(2)
    } else {
        limits.threads.max(1)
    };
    let mut builder = model.checker().threads(threads);
    if let Some(n) = limits.max_states {
        builder = builder.target_state_count(n as usize);
    }
    if let Some(t) = limits.timeout {
        builder = builder.timeout(t);
    }
    let checker = builder.spawn_dfs().join();
    let seconds = start.elapsed().as_secs_f64();
    // join() returns normally whether or not a bound fired: find out which.
    let stopped_by = match (limits.max_states, limits.timeout) {
        (Some(n), _) if checker.unique_state_count() as u64 >= n => {
            Some(format!("--max-states {n} reached"))
        }
        (_, Some(t)) if start.elapsed() >= t => {
            Some(format!("--timeout {}s reached", t.as_secs_f64()))
        }
        _ => None,
    };
    let complete = stopped_by.is_none();
    let findings = properties::all(&cfg)
        .into_iter()
        .map(|p| {
            let path = checker.discovery(p.name).map(|path| path.into_actions());
            Finding {
                prop: p,
                verdict: verdict(p.expectation, path.is_some(), complete),
                path,
            }
        })
        .collect();
    SearchOutcome {
        strategy: "dfs",
        threads,
        generated: checker.state_count() as u64,
        unique: checker.unique_state_count() as u64,
        walks: None,
        max_depth: checker.max_depth() as u64,
        seconds,
        complete,
        stopped_by,
        findings,
        collision_probability: None,
    }
}
