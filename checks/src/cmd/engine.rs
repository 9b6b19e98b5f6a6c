//! `livemerge run`, `resume` and `stress`: the production engine (`livemerge-impl`) on real
//! qcow2 volumes or a live `qemu-storage-daemon` (`--host`), or many times on any of the three. Exit codes: 0 the removal ended and
//! every invariant holds on the real database and storage; 1 an invariant is violated; 2 bad
//! input; 3 the removal did not end.

use super::{usage, Fail};
use crate::bounds;
use crate::follow::{with_progress, with_progress_saying};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};
use livemerge_impl::harness::schedules::Schedule;
use livemerge_impl::harness::stress::{stress as run_stress, StressOptions};
use livemerge_impl::session::live::LiveOptions;
use livemerge_impl::session::{self, Fresh, Mode};
use livemerge_impl::settings::DEFAULT_COMMAND_LIFETIME_TICKS;
use livemerge_impl::storage::InjectedFaults;
use livemerge_impl::{report, Backoff, Error, Host, Settings};
use livemerge_model::{Config, Release};
use std::path::PathBuf;
use std::time::Duration;

/// `--host` of `run` and `replay`: a host on files, qcow2 or live (the memory host is for
/// `stress` alone). Refused as clap refuses any value not listed, naming the two it takes.
pub(crate) fn host_on_files() -> impl TypedValueParser<Value = Host> {
    PossibleValuesParser::new(
        Host::value_variants()
            .iter()
            .filter(|h| **h != Host::Memory)
            .filter_map(ValueEnum::to_possible_value),
    )
    .map(|s| <Host as ValueEnum>::from_str(&s, false).unwrap_or(Host::Qcow2))
}

/// The refusal of a host `run` and `replay` do not drive (their parser lets none through).
pub(crate) fn memory_host_refused(what: &str) -> Error {
    Error::BadInput(format!(
        "{what} drives a host on files: --host qcow2 or live"
    ))
}

/// The live host's options from `--guest-write-ms`, which only the live host takes (elsewhere no
/// guest writes, and a value given would be silently ignored).
pub(crate) fn live_options(host: Host, guest_write_ms: Option<u64>) -> Result<LiveOptions, Fail> {
    match (host, guest_write_ms) {
        (Host::Live, Some(ms)) => Ok(LiveOptions { guest_write_ms: ms }),
        (_, None) => Ok(LiveOptions::default()),
        (_, Some(_)) => Err(usage(
            "--guest-write-ms needs --host live (only there does a guest write)",
        )),
    }
}

/// Milliseconds between two writes of the live backend's guest to each disk (1 to 60000).
pub(crate) fn guest_ms(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(v) if (1..=60_000).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected milliseconds between 1 and 60000, got '{s}'"
        )),
    }
}

/// The knobs shared by `run` and `stress`.
#[derive(Args, Debug, Clone)]
pub(crate) struct EngineArgs {
    /// Number of disks in the snapshot (one child command each).
    #[arg(long, default_value_t = 3, value_parser = bounds::disks)]
    pub(crate) disks: u8,
    /// The oVirt release whose rules the engine follows: 3.5.0, 3.5.7, 3.6.0, 3.6.1, 4.0.0,
    /// 4.0.2, 4.1.0, 4.2.0, 4.3.0, 4.4.0, 4.5.7 (`--poller` is an alias; its `4.0` means 4.0.0).
    #[arg(long = "release", alias = "poller", value_name = "RELEASE", default_value_t = Config::default().release)]
    pub(crate) release: Release,
    /// The poller's delay rule [default: the release's own poller, as the model's rules say:
    /// fixed for 3.5.0 and 3.5.7, capped from 3.6.0].
    #[arg(long, value_enum)]
    pub(crate) backoff: Option<Backoff>,
    /// How many ticks a command may stay ACTIVE before the poller's expiry pass
    /// (markExpiredCommandsAsFailure, from 3.6.1) fails it, counted from when the removal
    /// stopped moving (oVirt: CoCoLifeInMinutes, 3000 minutes at its 1 s tick).
    #[arg(long = "command-lifetime", value_name = "TICKS", default_value_t = DEFAULT_COMMAND_LIFETIME_TICKS, value_parser = bounds::lifetime_ticks)]
    pub(crate) command_lifetime: u64,
    /// Threads of the pool that runs child commands (oVirt: 10).
    #[arg(long, default_value_t = 10, value_parser = bounds::threads)]
    pub(crate) pool_threads: usize,
    /// Seed of the poller's pass order.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The engine directory to create (new or empty): disks, snapshot, database.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// The host: qcow2 (offline `qemu-img commit`) or live (a running qemu-storage-daemon).
    #[arg(long, value_parser = host_on_files(), default_value_t = Host::Qcow2)]
    pub(crate) host: Host,
    /// Live host: the guest writes a block to each disk every this many milliseconds
    /// [default: 5].
    #[arg(long, value_parser = guest_ms)]
    pub(crate) guest_write_ms: Option<u64>,
    /// Live host: disk N's next merge job fails for real (blkdebug injects an I/O error into
    /// base's writes). Repeat for more failures: each one fails one attempt.
    #[arg(long, value_name = "N", value_parser = bounds::disks)]
    pub(crate) fail_merge: Vec<u8>,
    /// Live host: disk N's next `deleteVolume` fails for real (top is made immutable). Repeat
    /// for more failures.
    #[arg(long, value_name = "N", value_parser = bounds::disks)]
    pub(crate) fail_delete: Vec<u8>,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    /// The poller's tick in milliseconds (oVirt: 1000; 1 to 60000).
    #[arg(long, default_value_t = 1000, value_parser = bounds::tick_ms)]
    pub(crate) tick_ms: u64,
    /// Milliseconds a pool thread spends before it persists a child ACTIVE.
    #[arg(long, default_value_t = 0.0, value_parser = bounds::cost_ms)]
    pub(crate) start_cost_ms: f64,
    /// Give up (exit 3) if the removal has not ended after this many seconds.
    #[arg(long, default_value_t = 600.0, value_parser = bounds::secs)]
    pub(crate) limit_secs: f64,
    /// Force an interleaving through the engine's scheduler hook.
    #[arg(long, value_enum, default_value_t = Schedule::Free)]
    pub(crate) schedule: Schedule,
    /// Write one JSON line per applied event to this file (with --vms, to the file vm-K.jsonl
    /// of this directory for each removal).
    #[arg(long)]
    pub(crate) trace: Option<PathBuf>,
    /// Remove this many VMs' snapshots at once in one engine (one poller, one pool, one
    /// database), each VM with its own disks under DIR/vm-K (and, on the live host, its own
    /// daemon and guest); 1 to 100.
    #[arg(long, default_value_t = 1, value_parser = bounds::vms)]
    pub(crate) vms: u32,
    /// No progress line per step on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The engine directory of a killed engine.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Give up (exit 3) after this many seconds [default: the run's limit].
    #[arg(long, value_parser = bounds::secs)]
    pub(crate) limit_secs: Option<f64>,
    /// Append one JSON line per applied event to this file (the directory of the vm-K.jsonl
    /// traces when DIR holds several removals).
    #[arg(long)]
    pub(crate) trace: Option<PathBuf>,
    /// No progress line per step on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

#[derive(Args, Debug)]
pub struct StressArgs {
    /// How many times to run the engine (each run removes --vms snapshots at once).
    #[arg(long, default_value_t = 200, value_parser = bounds::runs_u32)]
    pub(crate) runs: u32,
    /// Removals in each engine run, at once, sharing its poller, pool and database (1 to 100).
    /// Rates are per removal.
    #[arg(long, default_value_t = 1, value_parser = bounds::vms)]
    pub(crate) vms: u32,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    /// The poller's tick in milliseconds (1 to 60000).
    #[arg(long, default_value_t = 10, value_parser = bounds::tick_ms)]
    pub(crate) tick_ms: u64,
    /// Milliseconds a pool thread spends before it persists a child ACTIVE.
    #[arg(long, default_value_t = 2.0, value_parser = bounds::cost_ms)]
    pub(crate) start_cost_ms: f64,
    /// Milliseconds the in-memory host merge job takes.
    #[arg(long, default_value_t = 2.0, value_parser = bounds::cost_ms)]
    pub(crate) job_ms: f64,
    /// The host every run drives: memory, qcow2 or live.
    #[arg(long, value_enum, default_value_t = Host::Memory)]
    pub(crate) host: Host,
    /// Live host: the guest writes a block to each disk every this many milliseconds
    /// [default: 5].
    #[arg(long, value_parser = guest_ms)]
    pub(crate) guest_write_ms: Option<u64>,
    /// Per-run limit in seconds (a run past it counts as "did not end").
    #[arg(long, default_value_t = 60.0, value_parser = bounds::secs)]
    pub(crate) limit_secs: f64,
    /// No progress line per run on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

/// A duration in milliseconds (already bounded by [`bounds::cost_ms`]).
fn millis(v: f64) -> Duration {
    Duration::from_secs_f64(v / 1000.0)
}

/// A limit in seconds (already bounded by [`bounds::secs`]), in milliseconds.
fn limit(v: f64) -> u64 {
    (v * 1000.0).ceil() as u64
}

impl EngineArgs {
    /// The engine's settings: these knobs, and the timing ones whose defaults differ between
    /// `run` and `stress`.
    fn settings(
        &self,
        tick_ms: u64,
        start_cost_ms: f64,
        limit_secs: f64,
    ) -> Result<Settings, Fail> {
        let s = Settings {
            disks: self.disks,
            release: self.release,
            tick_ms,
            backoff: self.backoff,
            pool_threads: self.pool_threads,
            start_cost_us: millis(start_cost_ms).as_micros() as u64,
            limit_ms: limit(limit_secs),
            seed: self.seed,
            command_lifetime_ticks: self.command_lifetime,
        };
        s.validate().map_err(|e| usage(e.to_string()))?;
        Ok(s)
    }
}

fn fail(e: Error) -> Fail {
    usage(e.to_string())
}

pub fn run(args: RunArgs) -> Result<u8, Fail> {
    let s = args
        .engine
        .settings(args.tick_ms, args.start_cost_ms, args.limit_secs)?;
    let faults = run_faults(&args)?;
    if args.vms > 1 && !faults.is_empty() {
        return Err(usage(
            "--vms: --fail-merge and --fail-delete name one removal's disks; give them without --vms",
        ));
    }
    if args.vms > 1 && args.schedule != Schedule::Free {
        return Err(usage(
            "--vms: a forced --schedule holds one removal's pool; several removals run free",
        ));
    }
    let live = live_options(args.host, args.guest_write_ms)?;
    let fresh = || Fresh {
        vms: args.vms,
        live,
        faults: faults.clone(),
        gate: (args.schedule != Schedule::Free).then(|| args.schedule.gate()),
        ..Fresh::new(s, args.host)
    };
    if args.vms > 1 {
        // The steps of many removals interleave: a line each at the end, no per-step progress.
        if !args.quiet {
            eprintln!("{}", report::starting(&s, "run"));
        }
        let all =
            session::run(&args.dir, Mode::Run(fresh()), args.trace.as_deref()).map_err(fail)?;
        say_raw!("{}", report::fleet_text(&all, "run"));
        return Ok(report::fleet_exit_code(&all));
    }
    let o = with_progress_saying(
        args.trace.as_deref(),
        args.quiet,
        "run",
        Some(s.model_config()),
        Some(report::starting(&s, "run")),
        |trace| session::run(&args.dir, Mode::Run(fresh()), trace).map(|mut all| all.remove(0)),
    )
    .map_err(fail)?;
    say_raw!("{}", report::text(&o, "run", Some(&args.dir)));
    Ok(o.exit_code())
}

/// The faults `run` asks the live host to meet (disk numbers 1-based on the command line).
fn run_faults(args: &RunArgs) -> Result<InjectedFaults, Fail> {
    let asked = !(args.fail_merge.is_empty() && args.fail_delete.is_empty());
    if asked && args.host != Host::Live {
        return Err(usage(
            "--fail-merge and --fail-delete need --host live (only there is a fault met for real)",
        ));
    }
    let disks = args.engine.disks;
    let index = |v: &[u8]| -> Result<Vec<usize>, Fail> {
        v.iter()
            .map(|&d| {
                if d > disks {
                    Err(usage(format!(
                        "--fail-merge/--fail-delete {d}: the VM has {disks} disk(s)"
                    )))
                } else {
                    Ok(d as usize - 1)
                }
            })
            .collect()
    };
    Ok(InjectedFaults {
        merge_fails: index(&args.fail_merge)?,
        delete_fails: index(&args.fail_delete)?,
        image_info_fails: Vec::new(),
        plan: None,
    })
}

pub fn resume(args: ResumeArgs) -> Result<u8, Fail> {
    let limit_ms = args.limit_secs.map(limit);
    // The lock before the progress lines start: another process's steps in a shared trace
    // must not be printed as ours before we find the directory in use.
    let lock = session::lock_engine_dir(&args.dir).map_err(fail)?;
    // Several removals interleave their steps: a line each at the end, no progress follower.
    let several = session::fleet::laid_out_for_several(&args.dir);
    let mode = Mode::Resume { lock, limit_ms };
    if several {
        let all = session::run(&args.dir, mode, args.trace.as_deref()).map_err(fail)?;
        say_raw!("{}", report::fleet_text(&all, "resume"));
        return Ok(report::fleet_exit_code(&all));
    }
    let mut all = with_progress(args.trace.as_deref(), args.quiet, "resume", None, |trace| {
        session::run(&args.dir, mode, trace)
    })
    .map_err(fail)?;
    if all.len() != 1 {
        say_raw!("{}", report::fleet_text(&all, "resume"));
        return Ok(report::fleet_exit_code(&all));
    }
    let o = all.remove(0);
    say_raw!("{}", report::text(&o, "resume", Some(&args.dir)));
    Ok(o.exit_code())
}

pub fn stress(args: StressArgs) -> Result<u8, Fail> {
    let s = args
        .engine
        .settings(args.tick_ms, args.start_cost_ms, args.limit_secs)?;
    let opts = StressOptions {
        settings: s,
        runs: args.runs,
        job_time: millis(args.job_ms),
        host: args.host,
        live: live_options(args.host, args.guest_write_ms)?,
        vms: args.vms,
    };
    let quiet = args.quiet;
    let rep = run_stress(&opts, |i, o| {
        if !quiet {
            let what = if o.violated() {
                "VIOLATED"
            } else if o.stuck.is_some() {
                "did not end"
            } else {
                "ok"
            };
            eprintln!(
                "removal {}/{}: {what} ({:.2} s)",
                i + 1,
                opts.runs * opts.vms,
                o.seconds
            );
        }
    })
    .map_err(fail)?;
    let (lo, hi) = rep.interval();
    say!(
        "livemerge stress: {}release {}, {} disk(s), backoff {}, tick {} ms, pool {} thread(s), start cost {} ms, {}",
        if opts.vms > 1 {
            format!(
                "{} engine runs of {} removals at once, ",
                rep.engine_runs, opts.vms
            )
        } else {
            String::new()
        },
        s.release,
        s.disks,
        s.backoff().name(),
        s.tick_ms,
        s.pool_threads,
        args.start_cost_ms,
        match opts.host {
            Host::Memory => format!("host job {} ms, memory storage", args.job_ms),
            Host::Qcow2 => "qcow2 storage (qemu-img commit)".to_string(),
            Host::Live => format!(
                "live storage (qemu-storage-daemon, guest write every {} ms)",
                opts.live.guest_write_ms
            ),
        }
    );
    say!(
        "{} {}, violations {}, rate {:.4}, 95% CI [{:.4}, {:.4}] (Wilson), did not end {}, seconds {:.1}",
        if opts.vms > 1 { "removals" } else { "runs" },
        rep.runs,
        rep.violations,
        rep.rate(),
        lo,
        hi,
        rep.did_not_end,
        rep.seconds
    );
    let (blo, bhi) = rep.merge_never_ran_interval();
    say!(
        "  bug 1280160 (snapshot deleted, a disk never merged: a NOT_STARTED child taken for finished): {} run(s), rate {:.4}, 95% CI [{blo:.4}, {bhi:.4}]",
        rep.merge_never_ran,
        rep.merge_never_ran as f64 / rep.runs as f64
    );
    say!(
        "  parent ended before a child's end-action (merged, rows not synced): {} run(s)",
        rep.end_action_skipped
    );
    for (name, count) in &rep.by_property {
        say!("  violated in {count} run(s): {name}");
    }
    if let Some(c) = &rep.first_conformance {
        say!(
            "  CONFORMANCE ERRORS in {} run(s), first: {c}",
            rep.conformance
        );
    }
    Ok(if rep.violations > 0 || rep.conformance > 0 {
        1
    } else if rep.did_not_end > 0 {
        3
    } else {
        0
    })
}
