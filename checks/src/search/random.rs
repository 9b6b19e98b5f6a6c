//! Random walks: from the initial state, pick a uniformly random enabled event until none is
//! left, over and over, until a bound. Seeded, so a run can be repeated. Never complete.
//!
//! A walk needs only `successors`, so this does not go through stateright's simulation checker,
//! whose recorded paths and time bound we could not rely on (see the stateright notes).

use super::{verdict, Finding, Limits, Outcome, Verdict};
use crate::progress::Progress;
use livemerge_model::properties::{self, Expectation};
use livemerge_model::{successors, Config, Event, LiveMerge, State};
use std::time::{Duration, Instant};

/// A small, good-enough PRNG (SplitMix64): reproducible walks need no cryptographic quality.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Runs walks until `limits.timeout` (default 10 s) or `limits.max_states` states.
pub fn run(cfg: &Config, limits: &Limits, seed: u64) -> Outcome {
    let start = Instant::now();
    let model = LiveMerge::new(*cfg);
    let props = properties::all(cfg);
    let timeout = limits.timeout.unwrap_or(Duration::from_secs(10));
    let mut rng = SplitMix::new(seed);
    let mut witness: Vec<Option<Vec<Event>>> = vec![None; props.len()];
    let (mut generated, mut walks, mut max_depth) = (0u64, 0u64, 0u64);
    let mut progress = Progress::new(limits.progress, start);
    let stopped_by = loop {
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
                let holds = (p.holds)(cfg, &s);
                let hit = match p.expectation {
                    Expectation::Always => !holds,
                    Expectation::Sometimes => holds,
                    Expectation::Eventually => next.is_empty() && !holds,
                };
                if hit {
                    witness[k] = Some(path.clone());
                }
            }
            if next.is_empty() {
                break;
            }
            let (e, t) = next[rng.below(next.len())];
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
        .map(|(p, w)| {
            let mut v = verdict(p.expectation, w.is_some(), false);
            if p.expectation == Expectation::Sometimes && w.is_none() {
                v = Verdict::Unknown;
            }
            Finding {
                prop: *p,
                verdict: v,
                path: w,
            }
        })
        .collect();
    Outcome {
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
    }
}
