//! Depth-first search with stateright's own checker (`spawn_dfs`) over the model. Paths it
//! reports are not the shortest; its `eventually` check can miss a violation reached again
//! through an already-visited state (stateright's documented limit).

use super::{verdict, Finding, SearchLimits, SearchOutcome};
use livemerge_model::properties;
use livemerge_model::LiveMerge;
use stateright::{Checker, Model};
use std::time::Instant;

/// stateright's checker has no memory bound, only a bound on the states it generates: a memory
/// bound becomes one at this many bytes per generated state. Measured (4 disks, 20 million
/// generated): 19 bytes per unique state, 4.5 per generated one; twice that, for margin.
const DFS_BYTES_PER_GENERATED_STATE: u64 = 8;

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
    let by_memory = limits
        .max_memory_mib
        .map(|mib| ((mib << 20) / DFS_BYTES_PER_GENERATED_STATE).max(1));
    let bound = match (limits.max_states, by_memory) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(n) = bound {
        builder = builder.target_state_count(n as usize);
    }
    if let Some(t) = limits.timeout {
        builder = builder.timeout(t);
    }
    let checker = builder.spawn_dfs().join();
    let seconds = start.elapsed().as_secs_f64();
    // join() returns normally whether or not a bound fired: find out which.
    let generated = checker.state_count() as u64;
    let stopped_by = match (bound, limits.timeout) {
        (Some(n), _) if generated >= n && Some(n) == limits.max_states => {
            Some(format!("--max-states {n} reached"))
        }
        (Some(n), _) if generated >= n => Some(format!(
            "--max-memory {} MiB reached (as a bound of {n} generated states)",
            limits.max_memory_mib.unwrap_or(0)
        )),
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
