//! How an engine runs: the model configuration it steps, and the real-world knobs (tick,
//! backoff, pool, costs, limits, the commands' lifetime). Persisted with the engine's state so
//! `resume` runs on with the same settings.

use livemerge_model::rules::{PollerSchedule, Rules};
use livemerge_model::{Config, Faults, Release, MAX_DISKS};
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
/// oVirt's command lifetime, `CoCoLifeInMinutes` = 3000 minutes
/// (`packaging/dbscripts/upgrade/pre_upgrade/0000_config.sql:63`), in ticks of oVirt's 1 s poller.
pub const DEFAULT_COMMAND_LIFETIME_TICKS: u64 = 3000 * 60;
/// The longest command lifetime, in ticks: ten times oVirt's default is already weeks of ticks.
pub const MAX_COMMAND_LIFETIME_TICKS: u64 = 100 * DEFAULT_COMMAND_LIFETIME_TICKS;

/// The poller's per-command delay rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    /// 3.6's poller (`3175d5a141a`): a pass every tick; each command waits 1 tick, doubled
    /// after every poll that changed nothing, capped at 10; reset to 1 when its status changed.
    Capped,
    /// 3.5's poller: it passes only every 10 ticks and polls every registered command then.
    Fixed,
}

impl Backoff {
    /// The backoff of `release`'s poller, as the model's rules say
    /// ([`Rules::poller`](livemerge_model::rules::Rules)): oVirt's own poller of that release.
    pub fn of_release(release: Release) -> Backoff {
        match Rules::of(release).poller {
            PollerSchedule::FixedDelay => Backoff::Fixed,
            PollerSchedule::CappedBackoff => Backoff::Capped,
        }
    }

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
    /// The oVirt release whose rules the engine follows (`poller` in directories of earlier versions).
    #[serde(alias = "poller")]
    pub release: Release,
    /// The poller's tick (oVirt: 1 s).
    pub tick_ms: u64,
    /// The poller's delay rule as given (`--backoff`); `None`: the release's ([`Settings::backoff`]).
    #[serde(default)]
    pub backoff: Option<Backoff>,
    /// Threads of the pool that runs child commands (oVirt: 10).
    pub pool_threads: usize,
    /// What a pool thread spends between taking a child off the queue and persisting it ACTIVE
    /// (oVirt: building the command and its context, `validate()`), in microseconds.
    pub start_cost_us: u64,
    /// Wall-clock limit of a run (or of a resume), in milliseconds.
    pub limit_ms: u64,
    /// Seed of the poller's pass order (oVirt's callback map is a hash map).
    pub seed: u64,
    /// How long a command may stay ACTIVE before the poller's expiry pass fails it, in ticks
    /// (oVirt: `CoCoLifeInMinutes`, 3000 minutes; the releases whose rules expire commands).
    /// A database written before this setting existed reads oVirt's default.
    #[serde(default = "default_command_lifetime")]
    pub command_lifetime_ticks: u64,
}

fn default_command_lifetime() -> u64 {
    DEFAULT_COMMAND_LIFETIME_TICKS
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            disks: 3,
            release: Release::V4_0_2,
            tick_ms: 1000,
            backoff: None,
            pool_threads: 10,
            start_cost_us: 0,
            limit_ms: 600_000,
            seed: 0,
            command_lifetime_ticks: DEFAULT_COMMAND_LIFETIME_TICKS,
        }
    }
}

impl Settings {
    /// The settings of an engine that follows a model path found under `cfg`: its disks and
    /// release, everything else the defaults (a replay may then speed up the clock).
    pub fn following(cfg: &Config) -> Settings {
        Settings {
            disks: cfg.disks,
            release: cfg.release,
            ..Settings::default()
        }
    }

    /// Every knob within its bounds; a bad one is a one-line error naming its flag.
    pub fn validate(&self) -> crate::error::Result<()> {
        let (d, t, c, p, l, life) = (
            self.disks,
            self.tick_ms,
            self.start_cost_us,
            self.pool_threads,
            self.limit_ms,
            self.command_lifetime_ticks,
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
        require((1..=MAX_COMMAND_LIFETIME_TICKS).contains(&life), || {
            format!(
                "--command-lifetime must be between 1 and {MAX_COMMAND_LIFETIME_TICKS} ticks, got {life}"
            )
        })?;
        Ok(())
    }

    /// The model configuration the engine steps: every fault is allowed (the engine applies
    /// what storage really did), restarts are unbounded in practice (the checker's limit of 3
    /// is for the search only), and disks are concrete (no symmetry).
    pub fn model_config(&self) -> Config {
        Config {
            disks: self.disks,
            release: self.release,
            faults: Faults::ALL,
            restarts: u8::MAX,
            retries: u8::MAX,
            symmetry: false,
        }
    }

    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }

    /// The poller's delay rule: the one given, else the release's poller (the model's rules
    /// say which: a fixed delay for 3.5.x, the capped backoff from 3.6.0).
    pub fn backoff(&self) -> Backoff {
        self.backoff
            .unwrap_or_else(|| Backoff::of_release(self.release))
    }

    /// How long a command may stay ACTIVE before it expires: the lifetime's ticks at this tick.
    pub fn command_lifetime(&self) -> Duration {
        Duration::from_millis(self.tick_ms.saturating_mul(self.command_lifetime_ticks))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_backoff_is_the_releases_poller_and_a_given_one_wins() {
        for release in Release::ALL {
            let s = Settings {
                release,
                ..Settings::default()
            };
            let want = match Rules::of(release).poller {
                PollerSchedule::FixedDelay => Backoff::Fixed,
                PollerSchedule::CappedBackoff => Backoff::Capped,
            };
            assert_eq!(s.backoff(), want, "{release}");
            for given in [Backoff::Fixed, Backoff::Capped] {
                let s = Settings {
                    backoff: Some(given),
                    ..s
                };
                assert_eq!(s.backoff(), given, "{release}");
            }
        }
        // oVirt's own releases: 3.5's fixed delay, 3.6.0's capped backoff (`3175d5a141`).
        assert_eq!(Backoff::of_release(Release::V3_5_0), Backoff::Fixed);
        assert_eq!(Backoff::of_release(Release::V3_5_7), Backoff::Fixed);
        assert_eq!(Backoff::of_release(Release::V3_6_0), Backoff::Capped);
        assert_eq!(Backoff::of_release(Release::V4_1_0), Backoff::Capped);
    }

    #[test]
    fn settings_persisted_before_the_lifetime_existed_read_ovirts_default() {
        let mut v = serde_json::to_value(Settings::default()).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("command_lifetime_ticks");
        o.insert("backoff".into(), "capped".into());
        let s: Settings = serde_json::from_value(v).unwrap();
        assert_eq!(s.command_lifetime_ticks, 180_000);
        assert_eq!(
            s.backoff,
            Some(Backoff::Capped),
            "an old run's backoff stands"
        );
        assert_eq!(
            s.command_lifetime(),
            Duration::from_secs(3000 * 60),
            "3000 minutes at oVirt's 1 s tick"
        );
        let round: Settings =
            serde_json::from_str(&serde_json::to_string(&Settings::default()).unwrap()).unwrap();
        assert_eq!(round, Settings::default());
    }

    #[test]
    fn a_lifetime_out_of_bounds_is_refused_naming_its_flag() {
        for bad in [0, MAX_COMMAND_LIFETIME_TICKS + 1] {
            let s = Settings {
                command_lifetime_ticks: bad,
                ..Settings::default()
            };
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains("--command-lifetime"), "{e}");
        }
    }
}
