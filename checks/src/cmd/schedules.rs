//! `livemerge schedules`: the real engine under many seeded random schedules (in-memory
//! storage), every trace audited against the model. Exit 0 every schedule conforms; 1 one did
//! not (its seed and shortest failing schedule are printed, and saved with `--save`).

use super::{usage, Fail};
use crate::report::{format_trace, ConcretePath};
use crate::schedules::{check_seed, save_failure};
use clap::Args;
use livemerge_model::Release;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct SchedulesArgs {
    /// How many schedules (seeds SEED, SEED+1, ...).
    #[arg(long, default_value_t = 1000, value_parser = crate::bounds::runs)]
    pub(crate) runs: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Disks in every schedule [default: 1 to 3, varying with the seed].
    #[arg(long, value_parser = crate::bounds::disks)]
    pub(crate) disks: Option<u8>,
    /// The release of every schedule [default: varying with the seed]. `--poller` is an alias.
    #[arg(long = "release", alias = "poller", value_name = "RELEASE")]
    pub(crate) release: Option<Release>,
    /// Save a failing schedule as a counterexample file in DIR.
    #[arg(long, value_name = "DIR")]
    pub(crate) save: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

pub fn run(args: SchedulesArgs) -> Result<u8, Fail> {
    // Seeds SEED..=SEED+RUNS-1 must all exist: past 2^64-1 there are fewer than asked for, and
    // a report of RUNS conforming schedules would count some that never ran.
    let last = args.seed.checked_add(args.runs - 1).ok_or_else(|| {
        usage(format!(
            "--seed {} with --runs {}: only {} seed(s) are left before {}",
            args.seed,
            args.runs,
            u64::MAX - args.seed + 1,
            u64::MAX
        ))
    })?;
    // Like `check --save`: a target that is not a directory is refused before anything runs.
    if let Some(dir) = &args.save {
        crate::files::prepare_save_dir(dir).map_err(usage)?;
    }
    // A fresh directory of a random name, created by us alone (a predictable name in /tmp could
    // be a symlink planted to make us write, and remove, elsewhere); removed when dropped.
    let scratch_dir = tempfile::Builder::new()
        .prefix("livemerge-schedules-")
        .tempdir()
        .map_err(|e| usage(format!("cannot create a scratch directory: {e}")))?;
    let scratch = scratch_dir.path().to_path_buf();
    let t0 = Instant::now();
    let mut steps = 0usize;
    for (i, seed) in (args.seed..=last).enumerate() {
        match check_seed(seed, args.disks, args.release, &scratch) {
            Ok(n) => steps += n,
            Err(f) => {
                say!(
                    "schedule {} (seed {}) FAILED after {} conforming schedule(s): {}",
                    i + 1,
                    f.seed,
                    i,
                    f.reason
                );
                say!(
                    "shortest failing schedule ({}), {} steps:",
                    f.config,
                    f.events.len()
                );
                if let Ok(t) = ConcretePath::rebuild_concrete(&f.config, &f.events) {
                    say_raw!("{}", format_trace(&f.config, &t));
                }
                if let Some(dir) = &args.save {
                    crate::files::prepare_save_dir(dir).map_err(usage)?;
                    let p = save_failure(&f, dir).map_err(usage)?;
                    say!("saved {}", p.display());
                }
                return Ok(1);
            }
        }
        if !args.quiet && (i + 1) % 100 == 0 {
            eprintln!(
                "livemerge: {} schedules conform ({:.0} s)",
                i + 1,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    say!(
        "{} schedule(s) (seeds {} to {}) conform: {} steps replayed on the engine and audited, {:.1} s",
        args.runs,
        args.seed,
        last,
        steps,
        t0.elapsed().as_secs_f64()
    );
    Ok(0)
}
