//! `livemerge replay FILE --dir DIR`: a saved counterexample replayed step for step on the real
//! engine (SQLite, qcow2 volumes, its own threads), its event sources released in the
//! counterexample's order by a deterministic scheduler. Reports the real outcome where the
//! replay ends, or the step the engine could not follow and why.
//! Exit codes: 1 an invariant is broken in the real world; 0 none is (the engine could not
//! follow the path, or followed it without harm); 2 bad input.

use super::{usage, Fail};
use crate::counterexample::CounterexampleFile;
use crate::follow::with_progress;
use clap::Args;
use livemerge_impl::harness::replay::{replay, ReplayOn};
use livemerge_impl::settings::DEFAULT_COMMAND_LIFETIME_TICKS;
use livemerge_impl::{report, Host, Settings};
use livemerge_model::Release;
use std::path::PathBuf;

/// The command lifetime of a replayed path that expires a command, unless `--command-lifetime`
/// says otherwise: 100 ticks, half a second at the replay's default tick.
pub(crate) const REPLAY_EXPIRY_TICKS: u64 = 100;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A counterexample written by `livemerge check --save` (or by the random-schedule tests).
    pub(crate) file: PathBuf,
    /// The engine directory to create (new or empty).
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// The host: qcow2 (faults planted) or live (a running qemu-storage-daemon, faults met for
    /// real: blkdebug fails the merge job, an immutable file fails deleteVolume).
    #[arg(long, value_parser = crate::cmd::engine::host_on_files(), default_value_t = Host::Qcow2)]
    pub(crate) host: Host,
    /// Live host: the guest writes a block to each disk every this many milliseconds
    /// [default: 5].
    #[arg(long, value_parser = crate::cmd::engine::guest_ms)]
    pub(crate) guest_write_ms: Option<u64>,
    /// Run the engine with this release's rules instead of the counterexample's (`--poller` is
    /// an alias).
    #[arg(long = "release", alias = "poller", value_name = "RELEASE")]
    pub(crate) release: Option<Release>,
    /// The poller's tick in milliseconds (the script, not the clock, decides the order).
    #[arg(long, default_value_t = 5, value_parser = crate::bounds::tick_ms)]
    pub(crate) tick_ms: u64,
    /// Ticks a command may stay ACTIVE before the poller's expiry pass fails it, counted from
    /// when the removal stopped moving: a path's `Expire` step waits that long [default:
    /// 100 for a path that expires a command (a replay's clock is compressed
    /// like its tick), else oVirt's 3000 minutes at its 1 s tick].
    #[arg(long = "command-lifetime", value_name = "TICKS", value_parser = crate::bounds::lifetime_ticks)]
    pub(crate) command_lifetime: Option<u64>,
    /// Write one JSON line per applied event to this file.
    #[arg(long)]
    pub(crate) trace: Option<PathBuf>,
    /// No progress line per step on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

pub fn run(args: ReplayArgs) -> Result<u8, Fail> {
    let file = CounterexampleFile::load(&args.file).map_err(usage)?;
    let cfg = file.configuration;
    // Like `show`: a path the model itself refuses under the file's own configuration, or
    // whose saved states are not the ones its events reach, is bad input, not an engine that
    // "followed 0 steps". (With `--release`, the engine stopping where the other rule refuses is
    // the answer asked for.) A path that stops short of its witness is replayed as it is.
    file.check_path(&args.file.display().to_string(), false)
        .map_err(usage)?;
    let release = args.release.unwrap_or(cfg.release);
    let lifetime =
        args.command_lifetime
            .unwrap_or(if file.events.contains(&livemerge_model::Event::Expire) {
                REPLAY_EXPIRY_TICKS
            } else {
                DEFAULT_COMMAND_LIFETIME_TICKS
            });
    // No backoff given: the engine's poller is the release's (a script orders the events anyway).
    let settings = Settings {
        release,
        tick_ms: args.tick_ms,
        command_lifetime_ticks: lifetime,
        ..Settings::following(&cfg)
    };
    settings.validate().map_err(|e| usage(e.to_string()))?;
    let live = crate::cmd::engine::live_options(args.host, args.guest_write_ms)?;
    let r = with_progress(
        args.trace.as_deref(),
        args.quiet,
        "replay",
        Some(settings.model_config()),
        |trace| {
            let on = match args.host {
                Host::Qcow2 => ReplayOn::Qcow2,
                Host::Memory => return Err(crate::cmd::engine::memory_host_refused("replay")),
                Host::Live => ReplayOn::Live(live),
            };
            replay(&args.dir, on, settings, &file.events, trace)
        },
    )
    .map_err(|e| usage(e.to_string()))?;
    say!(
        "livemerge replay: {} \"{}\" ({} steps), found for release {}, replayed with release {release}{}",
        file.property.expectation,
        file.property.name,
        file.events.len(),
        cfg.release,
        if file.events.contains(&livemerge_model::Event::Expire) {
            format!(", command lifetime {lifetime} ticks")
        } else {
            String::new()
        }
    );
    match &r.stopped {
        Some(why) => say!(
            "the engine followed {} of {} steps, then stopped: {why}",
            r.followed,
            r.total
        ),
        None => say!("the engine followed all {} steps", r.total),
    }
    say_raw!("{}", report::text(&r.outcome, "replay", Some(&args.dir)));
    let broken: Vec<_> = r
        .outcome
        .properties
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
    if broken.is_empty() && !r.outcome.violated() {
        say!("in the real world: no invariant is broken");
        Ok(0)
    } else {
        if !broken.is_empty() {
            say!("in the real world: broken: {}", broken.join("; "));
        }
        Ok(1)
    }
}
