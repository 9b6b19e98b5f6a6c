//! Random schedules: the real engine (in-memory storage, its real threads) driven through many
//! seeded random paths of the model, each trace audited against the model and the real end
//! state compared with the path's. A path is a random walk over the model's enabled events (the
//! deterministic scheduler picking among them at random), replayed on the engine with
//! [`livemerge_impl::harness::replay`]. A failing schedule is cut down to its shortest failing prefix and
//! can be saved as a counterexample file that `show`, `check --replay-model` and `replay` read.
//!
//! A `Restart` in a path is a real restart of the engine (a new engine on the same database
//! and the same in-memory storage, which plays the host that outlives the engine).

use crate::audit::audit_with;
use crate::counterexample::{engine_conforms, CounterexampleFile};
use crate::report::ConcretePath;
use livemerge_impl::harness::replay::{replay, ReplayOn};
use livemerge_impl::Settings;
use livemerge_model::{successors, Config, Event, Faults, Release, State};
use std::path::Path;
use std::time::Duration;

/// The configuration a seed selects: the poller, the number of disks and whether one engine
/// restart may happen vary with it (one seed in four; a restart is enabled almost everywhere, so
/// walks that may take one mostly end early).
pub fn config_for(seed: u64, disks: Option<u8>, release: Option<Release>) -> Config {
    Config {
        disks: disks.unwrap_or(1 + ((seed / 3) % 3) as u8),
        release: release.unwrap_or(Release::ALL[(seed % Release::ALL.len() as u64) as usize]),
        faults: Faults::ALL,
        restarts: u8::from(seed % 4 == 3),
        retries: 1,
        symmetry: false,
    }
}

/// A seeded random walk over the model from the initial state to a terminal state.
pub fn random_path(cfg: &Config, seed: u64) -> Vec<Event> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut s = State::initial(cfg.n());
    let mut path = Vec::new();
    loop {
        let next: Vec<(Event, State)> = successors(cfg, &s).collect();
        if next.is_empty() {
            return path;
        }
        let (e, t) = next[rng.usize(..next.len())];
        path.push(e);
        s = t;
    }
}

/// Runs `events` on a fresh in-memory engine in `dir`; `Err` says how the engine departed from
/// the model.
pub fn run_on_engine(cfg: &Config, events: &[Event], dir: &Path) -> Result<(), String> {
    // A fast clock and a small pool: the script, not the timing, orders the events. A short
    // command lifetime: a path's expiry comes 20 ticks after its removal stopped moving.
    let settings = Settings {
        tick_ms: 1,
        pool_threads: 4,
        limit_ms: 60_000,
        command_lifetime_ticks: 20,
        ..Settings::following(cfg)
    };
    let trace = dir.join("trace.jsonl");
    let on = ReplayOn::Memory {
        job_time: Duration::from_micros(500),
    };
    let r = replay(dir, on, settings, events, Some(&trace))
        .map_err(|e| format!("the engine did not start: {e}"))?;
    if let Some(why) = r.stopped {
        return Err(why);
    }
    if !r.outcome.conformance.is_empty() {
        return Err(r.outcome.conformance.join("; "));
    }
    let file = std::fs::File::open(&trace).map_err(|e| format!("no trace: {e}"))?;
    let a = audit_with(std::io::BufReader::new(file), None, false)
        .map_err(|e| format!("the trace is unreadable: {}", e.0))?;
    if let Some(d) = a.divergence {
        return Err(format!("trace line {}: {}", d.line, d.message));
    }
    if a.steps != events.len() {
        return Err(format!(
            "the trace holds {} steps, the schedule {}",
            a.steps,
            events.len()
        ));
    }
    let expected = ConcretePath::rebuild_concrete(cfg, events)
        .map_err(|(i, r)| format!("step {} refused by the model: {r}", i + 1))?
        .final_state();
    if r.outcome.observed.state != expected {
        let d = livemerge_impl::abstraction::discrepancies(&r.outcome.observed.state, &expected);
        return Err(format!(
            "the real end state is not the path's: {}",
            d.join("; ")
        ));
    }
    Ok(())
}

/// A schedule the engine failed, cut down to its shortest failing prefix.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub config: Config,
    pub events: Vec<Event>,
    pub reason: String,
}

/// Runs schedule `seed`; on failure, finds the shortest prefix of its path that still fails the
/// same way (with the same reason: a prefix cut while a host job runs can differ from the model
/// for that reason alone, which is not the failure being shrunk).
pub fn check_seed(
    seed: u64,
    disks: Option<u8>,
    release: Option<Release>,
    scratch: &Path,
) -> Result<usize, Failure> {
    let cfg = config_for(seed, disks, release);
    let path = random_path(&cfg, seed);
    let attempt = |events: &[Event], k: usize| {
        let dir = scratch.join(format!("s{seed}-{k}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let r = run_on_engine(&cfg, events, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        r
    };
    match attempt(&path, path.len()) {
        Ok(()) => Ok(path.len()),
        Err(reason) => {
            let mut shortest = (path.clone(), reason);
            for k in 1..path.len() {
                if let Err(r) = attempt(&path[..k], k) {
                    if r == shortest.1 {
                        shortest = (path[..k].to_vec(), r);
                        break;
                    }
                }
            }
            Err(Failure {
                seed,
                config: cfg,
                events: shortest.0,
                reason: shortest.1,
            })
        }
    }
}

/// Saves a failure as a counterexample file (`DIR/schedule-<seed>.json`).
pub fn save_failure(f: &Failure, dir: &Path) -> Result<std::path::PathBuf, String> {
    let trace = ConcretePath::rebuild_concrete(&f.config, &f.events)
        .map_err(|(i, r)| format!("step {} refused by the model: {r}", i + 1))?;
    let path = dir.join(format!("schedule-{}.json", f.seed));
    CounterexampleFile::new(&f.config, &engine_conforms(), &trace).save(&path)?;
    Ok(path)
}
