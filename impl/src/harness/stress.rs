//! `livemerge stress`: many removals on the in-memory backend (or, with `--host`, on qcow2
//! volumes or a live `qemu-storage-daemon`) with real threads and a real clock, each judged on its real database and storage by the model's properties. It measures
//! how often the race strikes: the rate of runs that end with a violated invariant, with a 95%
//! Wilson confidence interval.
//!
//! Nothing is forced: the race comes from thread timing only. The knobs that make it measurable
//! in a short run are the tick (milliseconds instead of oVirt's second) and the pool's start
//! cost (what a pool thread spends before it persists a child ACTIVE). The rate scales roughly as
//! start cost / tick for the capped backoff and start cost / (10 ticks) for the fixed one.

use super::memory::Memory;
use crate::error::{Error, Result};
use crate::session::live::LiveOptions;
use crate::session::{self, Fresh, Mode, Outcome};
use crate::settings::Settings;
use crate::storage::{Host, Storage};
use livemerge_model::races;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct StressOptions {
    pub settings: Settings,
    pub runs: u32,
    /// How long the in-memory host job takes.
    pub job_time: Duration,
    /// The host every run drives (memory unless asked), and the live backend's guest.
    pub host: Host,
    pub live: LiveOptions,
    /// Removals in each engine run, at once, sharing its pool, poller and database.
    pub vms: u32,
}

/// The figures.
#[derive(Clone, Debug, Default)]
pub struct StressReport {
    /// Removals judged (engine runs times removals per run): the rates are per removal.
    pub runs: u32,
    /// Engine runs (each with `runs / engine_runs` removals at once).
    pub engine_runs: u32,
    /// Runs that ended with some safety property violated (or data unreadable).
    pub violations: u32,
    /// Per property: how many runs violated it.
    pub by_property: Vec<(&'static str, u32)>,
    /// Runs whose removal did not end.
    pub did_not_end: u32,
    /// Runs in which the snapshot row was deleted while some disk of it was never merged on
    /// the host: bug 1280160 (the parent took a NOT_STARTED child for finished).
    pub merge_never_ran: u32,
    /// Runs in which a disk was merged but its image rows still list the merged-away top: the
    /// parent ended before that child's end-action (`syncDbRecords`) ran (the model's 3.6.1
    /// finding, which 3.6.0 has too).
    pub end_action_skipped: u32,
    /// Runs in which the engine did not conform to the model.
    pub conformance: u32,
    /// The first conformance error seen, if any.
    pub first_conformance: Option<String>,
    pub seconds: f64,
}

impl StressReport {
    pub fn rate(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            self.violations as f64 / self.runs as f64
        }
    }

    /// The 95% Wilson interval of the violation rate.
    pub fn interval(&self) -> (f64, f64) {
        wilson(self.violations as u64, self.runs as u64, Z_95)
    }

    /// The 95% Wilson interval of the rate of runs that met bug 1280160 ([`Self::merge_never_ran`]).
    pub fn merge_never_ran_interval(&self) -> (f64, f64) {
        wilson(self.merge_never_ran as u64, self.runs as u64, Z_95)
    }
}

/// The normal quantile of a two-sided 95% interval: every interval `stress` reports is at 95%.
pub const Z_95: f64 = 1.959_964;

/// The Wilson score interval for `k` successes in `n` trials.
pub fn wilson(k: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// Runs the engine `opts.runs` times, each with `opts.vms` removals at once; `each` sees every
/// removal's outcome (for progress), numbered from 0 across runs.
pub fn stress(opts: &StressOptions, mut each: impl FnMut(u32, &Outcome)) -> Result<StressReport> {
    opts.settings.validate()?;
    crate::session::fleet::check_vms(opts.vms)?;
    let t0 = Instant::now();
    let mut rep = StressReport {
        runs: opts.runs * opts.vms,
        engine_runs: opts.runs,
        ..Default::default()
    };
    let mut k = 0u32;
    // A fresh directory of a random name, created by us alone (a predictable name in /tmp could
    // be a symlink planted to make us write, and remove, elsewhere).
    let base = tempfile::Builder::new()
        .prefix("livemerge-stress-")
        .tempdir()
        .map_err(|e| Error::Storage(format!("cannot create a scratch directory: {e}")))?;
    for i in 0..opts.runs {
        let dir = base.path().join(format!("run-{i}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Storage(format!("cannot create {}: {e}", dir.display())))?;
        let mut settings = opts.settings;
        settings.seed = opts.settings.seed.wrapping_add(i as u64);
        let mode = match opts.host {
            Host::Memory => Mode::InMemory {
                settings,
                hosts: (0..opts.vms)
                    .map(|_| {
                        Arc::new(Memory::new(settings.disks as usize, opts.job_time))
                            as Arc<dyn Storage>
                    })
                    .collect(),
                gate: None,
            },
            host => Mode::Run(Fresh {
                vms: opts.vms,
                live: opts.live,
                ..Fresh::new(settings, host)
            }),
        };
        let r = session::run(&dir, mode, None);
        let _ = std::fs::remove_dir_all(&dir);
        for o in r? {
            rep.add(&o);
            each(k, &o);
            k += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    rep.seconds = t0.elapsed().as_secs_f64();
    Ok(rep)
}

impl StressReport {
    /// Counts one removal's outcome.
    fn add(&mut self, o: &Outcome) {
        let rep = &mut *self;
        if o.violated() {
            rep.violations += 1;
        }
        for (name, ok) in &o.properties {
            if !ok {
                match rep.by_property.iter_mut().find(|(n, _)| n == name) {
                    Some((_, c)) => *c += 1,
                    None => rep.by_property.push((name, 1)),
                }
            }
        }
        let (never, skipped) = classify(o);
        rep.merge_never_ran += never as u32;
        rep.end_action_skipped += skipped as u32;
        if !o.ended {
            rep.did_not_end += 1;
        }
        if !o.conformance.is_empty() {
            rep.conformance += 1;
            rep.first_conformance
                .get_or_insert_with(|| o.conformance.join("; "));
        }
    }
}

/// Which of the two known races a run shows (the model tells them apart): a disk of the
/// deleted snapshot was not merged when the snapshot row went; a merged disk's rows were never
/// synced.
pub fn classify(o: &Outcome) -> (bool, bool) {
    let cfg = o.settings.model_config();
    let never = o
        .removed_at
        .is_some_and(|r| races::removed_before_merge(&cfg, &r));
    let skipped = races::merged_but_unsynced(&cfg, &o.observed.state);
    (never, skipped)
}

#[cfg(test)]
mod tests {
    use super::{wilson, Z_95};

    #[test]
    fn wilson_matches_known_values() {
        // 10 of 100: the textbook interval is [0.0552, 0.1744].
        let (lo, hi) = wilson(10, 100, Z_95);
        assert!(
            (lo - 0.0552).abs() < 1e-3 && (hi - 0.1744).abs() < 1e-3,
            "{lo} {hi}"
        );
        // 0 of 50: the lower bound is 0 and the upper bound about 0.071.
        let (lo, hi) = wilson(0, 50, Z_95);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.0714).abs() < 1e-3, "{hi}");
    }
}
