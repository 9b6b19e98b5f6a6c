//! How an engine runs: the model configuration it steps, and the real-world knobs (tick,
//! backoff, pool, costs, limits). Persisted with the engine's state so `resume` runs on with
//! the same settings.

use livemerge_model::{Config, Faults, PollerRule, MAX_DISKS};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest tick: past a minute a tick is a typo, and a longer one overflows the poller's
/// arithmetic in nanoseconds.
pub const MAX_TICK_MS: u64 = 60_000;
/// The longest simulated cost (a pool thread's start, a host job), in milliseconds.
pub const MAX_COST_MS: u64 = 60_000;
/// The longest wall-clock limit of a run: a year.
pub const MAX_LIMIT_SECS: u64 = 365 * 86_400;
/// A thread per pool slot: more than this only exhausts the machine.
pub const MAX_POOL_THREADS: usize = 256;

/// The poller's per-command delay rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    /// 3.6 (`3175d5a141a`): a pass every tick; each command waits 1 tick, doubled after every
    /// poll that changed nothing, capped at 10; reset to 1 when its status changed.
    Capped,
    /// 3.5: the poller passes only every 10 ticks and polls every registered command then.
    Fixed,
}

impl Backoff {
    pub fn name(self) -> &'static str {
        match self {
            Backoff::Capped => "capped",
            Backoff::Fixed => "fixed",
        }
    }
}

impl std::str::FromStr for Backoff {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "capped" => Ok(Backoff::Capped),
            "fixed" => Ok(Backoff::Fixed),
            _ => Err(format!("unknown backoff '{s}' (expected capped or fixed)")),
        }
    }
}

/// Everything that shapes a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub disks: u8,
    pub poller: PollerRule,
    /// The poller's tick (oVirt: 1 s).
    pub tick_ms: u64,
    pub backoff: Backoff,
    /// Threads of the pool that runs child commands (oVirt: 10).
    pub pool_threads: usize,
    /// What a pool thread spends between taking a child off the queue and persisting it ACTIVE
    /// (oVirt: building the command and its context, `validate()`), in microseconds.
    pub start_cost_us: u64,
    /// Wall-clock limit of a run (or of a resume), in milliseconds.
    pub limit_ms: u64,
    /// Seed of the poller's pass order (oVirt's callback map is a hash map).
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            disks: 3,
            poller: PollerRule::V4_0_2,
            tick_ms: 1000,
            backoff: Backoff::Capped,
            pool_threads: 10,
            start_cost_us: 0,
            limit_ms: 600_000,
            seed: 0,
        }
    }
}

impl Settings {
    /// The settings of an engine that follows a model path found under `cfg`: its disks and
    /// release, everything else the defaults (a replay may then speed up the clock).
    pub fn following(cfg: &Config) -> Settings {
        Settings {
            disks: cfg.disks,
            poller: cfg.release,
            ..Settings::default()
        }
    }

    /// Every knob within its bounds; a bad one is a one-line error naming its flag.
    pub fn validate(&self) -> crate::error::Result<()> {
        let (d, t, c, p, l) = (
            self.disks,
            self.tick_ms,
            self.start_cost_us,
            self.pool_threads,
            self.limit_ms,
        );
        require(d >= 1 && d as usize <= MAX_DISKS, || {
            format!("--disks must be between 1 and {MAX_DISKS}, got {d}")
        })?;
        require((1..=MAX_TICK_MS).contains(&t), || {
            format!("--tick-ms must be between 1 and {MAX_TICK_MS}, got {t}")
        })?;
        require(c <= MAX_COST_MS * 1000, || {
            format!("--start-cost-ms must be at most {MAX_COST_MS}, got {c} us")
        })?;
        require((1..=MAX_POOL_THREADS).contains(&p), || {
            format!("--pool-threads must be between 1 and {MAX_POOL_THREADS}, got {p}")
        })?;
        require(l > 0 && l <= MAX_LIMIT_SECS * 1000, || {
            format!("--limit-secs must be more than 0 and at most {MAX_LIMIT_SECS}, got {l} ms")
        })?;
        Ok(())
    }

    /// The model configuration the engine steps: every fault is allowed (the engine applies
    /// what storage really did), restarts are unbounded in practice (the checker's limit of 3
    /// is for the search only), and disks are concrete (no symmetry).
    pub fn model_config(&self) -> Config {
        Config {
            disks: self.disks,
            release: self.poller,
            faults: Faults::ALL,
            restarts: u8::MAX,
            retries: u8::MAX,
            symmetry: false,
        }
    }

    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }

    pub fn start_cost(&self) -> Duration {
        Duration::from_micros(self.start_cost_us)
    }

    pub fn limit(&self) -> Duration {
        Duration::from_millis(self.limit_ms)
    }
}

/// `Ok` if `ok`, else the message as bad input.
fn require(ok: bool, why: impl FnOnce() -> String) -> crate::error::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(crate::error::Error::BadInput(why()))
    }
}
