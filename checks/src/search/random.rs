//! Random walks: from the initial state, pick a uniformly random enabled event until none is
//! left, over and over, until a bound. Seeded, so a run can be repeated. Never complete.
//!
//! A walk needs only `successors`, so this does not go through stateright's simulation checker,
//! whose recorded paths and time bound we could not rely on (see the stateright notes).

use super::{verdict, Finding, SearchLimits, SearchOutcome};
use crate::progress::Progress;
use livemerge_model::properties;
use livemerge_model::{successors, Config, Event, LiveMerge, State};
use std::time::{Duration, Instant};

/// Runs walks until `limits.timeout` (default 10 s) or `limits.max_states` states.
pub(crate) fn run(cfg: &Config, limits: &SearchLimits, seed: u64) -> SearchOutcome {
    let start = Instant::now();
    let model = LiveMerge::new(*cfg);
    let props = properties::all(cfg);
    let timeout = limits.timeout.unwrap_or(Duration::from_secs(10));
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut witness: Vec<Option<Vec<Event>>> = vec![None; props.len()];
    let (mut generated, mut walks, mut max_depth) = (0u64, 0u64, 0u64);
    let mut progress = Progress::new(limits.progress, start);
    // Walks keep only the witnesses they found: this bound is for the odd walk that is long.
    let budget = limits.max_memory_mib.map(super::memory::Budget::new);
    let stopped_by = loop {
        if let Some(b) = budget.filter(|b| b.exceeded()) {
            break b.reason();
        }
        if start.elapsed() >= timeout {
            break format!("random walks for {}s", timeout.as_secs_f64());
        }
        if let Some(max) = limits.max_states {
            if generated >= max {
                break format!("--max-states {max} reached");
            }
        }
        walks += 1;
        let mut s = model.representative(State::initial(cfg.n()));
        let mut path = Vec::new();
        loop {
            let next: Vec<(Event, State)> = successors(cfg, &s).collect();
            for (k, p) in props.iter().enumerate() {
                if witness[k].is_some() {
                    continue;
                }
                if p.witnessed(cfg, &s, next.is_empty()) {
                    witness[k] = Some(path.clone());
                }
            }
            if next.is_empty() {
                break;
            }
            let (e, t) = next[rng.usize(..next.len())];
            path.push(e);
            s = model.representative(t);
            generated += 1;
        }
        max_depth = max_depth.max(path.len() as u64);
        progress.tick(max_depth, walks, generated);
    };
    progress.done();
    let findings = props
        .iter()
        .zip(witness)
        .map(|(p, w)| Finding {
            prop: *p,
            // Walks never cover every state: what they did not find stays unknown.
            verdict: verdict(p.expectation, w.is_some(), false),
            path: w,
        })
        .collect();
    SearchOutcome {
        strategy: "random",
        threads: 1,
        generated,
        unique: 0,
        walks: Some(walks),
        max_depth,
        seconds: start.elapsed().as_secs_f64(),
        complete: false,
        stopped_by: Some(stopped_by),
        findings,
        collision_probability: None,
    }
}
