//! `livemerge check`: search a configuration's state space and report each property; save the
//! counterexamples (`--save DIR`), or re-run a saved one through the model (`--replay-model`).

use super::{usage, Fail};
use crate::any_n;
use crate::args::ModelArgs;
use crate::counterexample::{replay, CounterexampleFile, Replay};
use crate::report::{self, ConcretePath};
use crate::search::{self, SearchLimits, Verdict};
use clap::{Args, ValueEnum};
use livemerge_model::properties::Prop;
use livemerge_model::{describe_event, Config, Event, LiveMerge, MODEL_VERSION};
use std::path::PathBuf;
use std::time::Duration;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Breadth-first, level by level: counterexamples are shortest.
    Bfs,
    /// stateright's depth-first checker.
    Dfs,
    /// Seeded random walks until a time bound: never complete.
    Random,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[arg(long, value_enum, default_value_t = Strategy::Bfs)]
    pub(crate) strategy: Strategy,
    /// Worker threads of bfs and dfs (default: all cores). The random strategy walks on one
    /// thread, so that a seed always gives the same walks.
    #[arg(long, value_parser = crate::bounds::threads)]
    pub(crate) threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Stop after this many seconds (the search is then incomplete: exit 3).
    #[arg(long, value_parser = crate::bounds::secs)]
    pub(crate) timeout: Option<f64>,
    /// Stop after this many states (the search is then incomplete: exit 3).
    #[arg(long, value_parser = crate::bounds::max_states)]
    pub(crate) max_states: Option<u64>,
    /// Stop before the search's data passes this size (the search is then incomplete: exit 3),
    /// rather than be killed by the operating system: `512M`, `2G`, or a number of MiB. Every
    /// search (`--strategy dfs` as a bound on generated states; `--disks any` on the
    /// abstraction). Default: nine tenths of the memory available when the search starts.
    #[arg(long, value_name = "SIZE", value_parser = crate::bounds::memory_mib)]
    pub(crate) max_memory: Option<u64>,
    /// Seed of the random strategy.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Write each violated property's counterexample to DIR/<property>.json.
    #[arg(long, value_name = "DIR")]
    pub(crate) save: Option<PathBuf>,
    /// Re-run a saved counterexample through the model instead of searching: exit 1 if it still
    /// reaches the violation, 0 if the model now refuses it or no longer violates. Model flags
    /// given with it override the file's configuration (for example `--release 4.0.2`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["save", "strategy", "max_states", "timeout", "max_memory"])]
    pub(crate) replay_model: Option<PathBuf>,
    /// With `--disks any`: views of K disks (1 to 3); higher is more precise and slower.
    #[arg(long, value_name = "K")]
    pub(crate) threshold: Option<usize>,
    /// With `--disks any`: configurations hold the view plus W more disks (the disk that moves
    /// or the one that makes a guard true) [default: 1].
    #[arg(long, value_name = "W")]
    pub(crate) witnesses: Option<usize>,
    /// With `--disks any`: confirm an abstract violation with the concrete search on 1 to N
    /// disks [default: 4].
    #[arg(long, value_name = "N", value_parser = crate::bounds::disks)]
    pub(crate) max_n: Option<u8>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

/// What `check` does, parsed once from its flags by [`Mode::parse`], the one place that says
/// which flags go with which mode; [`run`] only dispatches on it.
enum Mode {
    /// Search each configuration's state space with `--strategy`, in turn (one, or one per
    /// number of disks of `--disks 1..3`).
    Search {
        cfgs: Vec<Config>,
        search: Search,
        limits: SearchLimits,
    },
    /// `--disks any`: the abstraction's verdicts for every number of disks (see `any_n`).
    AnyN {
        cfg: Config,
        threshold: usize,
        witnesses: usize,
        max_n: u8,
        limits: SearchLimits,
    },
    /// `--replay-model FILE`: a saved counterexample through the model, no search (clap
    /// refuses the search's flags with it).
    ReplayModel(PathBuf),
}

/// A search strategy and what only it takes.
enum Search {
    /// Breadth-first (the one `--max-memory` bounds).
    Bfs,
    Dfs,
    Random {
        seed: u64,
    },
}

/// The flags `--disks any` refuses: it builds its own abstraction and search.
fn refused_with_any_n(args: &CheckArgs) -> Option<&'static str> {
    if args.replay_model.is_some() {
        Some("--replay-model")
    } else if args.strategy != Strategy::Bfs {
        Some("--strategy")
    } else if args.timeout.is_some() {
        Some("--timeout")
    } else if args.max_states.is_some() {
        Some("--max-states")
    } else if args.model.no_symmetry {
        Some("--no-symmetry")
    } else {
        None
    }
}

impl Mode {
    fn parse(args: &CheckArgs) -> Result<Mode, Fail> {
        if args.model.any_disks() {
            if let Some(flag) = refused_with_any_n(args) {
                return Err(usage(format!(
                    "{flag} does not apply to --disks any (it builds its own abstraction)"
                )));
            }
            let cfg = ModelArgs {
                disks: None,
                ..args.model.clone()
            }
            .config()
            .map_err(usage)?;
            return Ok(Mode::AnyN {
                cfg,
                threshold: args.threshold.unwrap_or(1),
                witnesses: args.witnesses.unwrap_or(1),
                max_n: args.max_n.unwrap_or(4),
                limits: SearchLimits {
                    threads: threads(args),
                    max_states: None,
                    timeout: None,
                    progress: !args.quiet,
                    max_memory_mib: max_memory(args),
                },
            });
        }
        if args.threshold.is_some() || args.witnesses.is_some() || args.max_n.is_some() {
            return Err(usage(
                "--threshold, --witnesses and --max-n go with --disks any",
            ));
        }
        if let Some(file) = &args.replay_model {
            return Ok(Mode::ReplayModel(file.clone()));
        }
        let cfgs = match args.model.disk_list() {
            None => vec![args.model.config().map_err(usage)?],
            Some(list) => {
                if args.save.is_some() {
                    return Err(usage(
                        "--save takes one number of disks (its files are named by property alone)",
                    ));
                }
                list.iter()
                    .map(|&n| {
                        ModelArgs {
                            disks: Some(crate::args::DiskCount::Exactly(n)),
                            ..args.model.clone()
                        }
                        .config()
                        .map_err(usage)
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let search = match args.strategy {
            Strategy::Bfs => Search::Bfs,
            Strategy::Dfs => Search::Dfs,
            Strategy::Random => Search::Random { seed: args.seed },
        };
        Ok(Mode::Search {
            cfgs,
            search,
            limits: SearchLimits {
                threads: threads(args),
                max_states: args.max_states,
                timeout: args.timeout.map(Duration::from_secs_f64),
                max_memory_mib: max_memory(args),
                progress: !args.quiet,
            },
        })
    }
}

pub fn run(args: CheckArgs) -> Result<u8, Fail> {
    match Mode::parse(&args)? {
        Mode::ReplayModel(file) => replay_model(&file, &args.model),
        Mode::Search {
            cfgs,
            search,
            limits,
        } => run_searches(&args, &cfgs, &search, &limits),
        Mode::AnyN {
            cfg,
            threshold,
            witnesses,
            max_n,
            limits,
        } => run_any(&args, &cfg, threshold, witnesses, max_n, &limits),
    }
}

/// `--max-memory`, or the default: most of the memory available now.
fn max_memory(args: &CheckArgs) -> Option<u64> {
    args.max_memory
        .or_else(crate::search::memory::default_limit_mib)
}

/// `--threads` (bounded by its parser), or every core.
fn threads(args: &CheckArgs) -> usize {
    args.threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The searches of `--disks 1..3`, one report after another (`--format json`: one array), and
/// the exit code of them all: 1 if any found a violation, else 3 if any stopped, else 0.
fn run_searches(
    args: &CheckArgs,
    cfgs: &[Config],
    strategy: &Search,
    limits: &SearchLimits,
) -> Result<u8, Fail> {
    if let [cfg] = cfgs {
        return run_search(args, cfg, strategy, limits, false);
    }
    let json = args.format == Format::Json;
    if json {
        say_raw!("[");
    }
    let mut codes = Vec::new();
    for (i, cfg) in cfgs.iter().enumerate() {
        if i > 0 {
            say_raw!("{}", if json { ",\n" } else { "\n" });
        }
        codes.push(run_search(args, cfg, strategy, limits, true)?);
    }
    if json {
        say_raw!("\n]\n");
    }
    Ok(worst(&codes))
}

/// One exit code for several searches, by the documented order: 1 (a violation), then 3
/// (incomplete), then 0.
fn worst(codes: &[u8]) -> u8 {
    [1, 3].into_iter().find(|c| codes.contains(c)).unwrap_or(0)
}

/// A search of one configuration: its report, `--save`, and the exit code. `in_array`: a JSON
/// report is one element of the caller's array, so it ends without a newline.
fn run_search(
    args: &CheckArgs,
    cfg: &Config,
    strategy: &Search,
    limits: &SearchLimits,
    in_array: bool,
) -> Result<u8, Fail> {
    if let Some(dir) = &args.save {
        prepare_dir(dir)?;
    }
    let outcome = match strategy {
        Search::Bfs => search::bfs::run(cfg, limits),
        Search::Dfs => search::dfs::run(LiveMerge::new(*cfg), limits),
        Search::Random { seed } => search::random::run(cfg, limits, *seed),
    };
    match (args.format, in_array) {
        (Format::Text, _) => say_raw!("{}", report::text(cfg, &outcome)),
        (Format::Json, false) => say!("{}", report::json(cfg, &outcome)),
        (Format::Json, true) => say_raw!("{}", report::json(cfg, &outcome)),
    }
    if let Some(dir) = &args.save {
        for f in &outcome.findings {
            if let (Verdict::Violated, Some(path)) = (&f.verdict, &f.path) {
                save(dir, cfg, &f.prop, path, args.quiet)?;
            }
        }
    }
    Ok(if outcome.any_violated() {
        1
    } else if !outcome.complete {
        3
    } else {
        0
    })
}

/// `check --disks any`: the abstraction's verdicts for every number of disks (see `any_n`).
fn run_any(
    args: &CheckArgs,
    cfg: &Config,
    threshold: usize,
    witnesses: usize,
    max_n: u8,
    limits: &SearchLimits,
) -> Result<u8, Fail> {
    if let Some(dir) = &args.save {
        prepare_dir(dir)?;
    }
    let outcome = match any_n::check(cfg, threshold, witnesses, max_n, limits) {
        Ok(o) => o,
        Err(any_n::views::BuildError::Refused(e)) => return Err(usage(e.to_string())),
        Err(any_n::views::BuildError::Incomplete(why)) => {
            say!(
                "livemerge check --disks any: release {}, faults {}, {} restart(s), {} retries: stopped: {why}",
                cfg.release, cfg.faults, cfg.restarts, cfg.retries
            );
            return Ok(3);
        }
    };
    match args.format {
        Format::Text => say_raw!("{}", any_n::report::text(&outcome)),
        Format::Json => say!("{}", any_n::report::json(&outcome)),
    }
    if let Some(dir) = &args.save {
        for f in &outcome.findings {
            if let any_n::AnyVerdict::Violated { disks, path } = &f.verdict {
                let concrete = outcome.concrete_config(*disks);
                save(dir, &concrete, &f.prop, path, args.quiet)?;
            }
        }
    }
    Ok(if outcome.any_violated() {
        1
    } else if outcome.any_unconfirmed() {
        3
    } else {
        0
    })
}

/// `--save DIR`: writes the counterexample `path` to `prop` as DIR/<property>.json.
fn save(
    dir: &std::path::Path,
    cfg: &Config,
    prop: &Prop,
    path: &[Event],
    quiet: bool,
) -> Result<(), Fail> {
    let trace = ConcretePath::rebuild(cfg, path).map_err(usage)?;
    let file = dir.join(format!("{}.json", prop.slug()));
    CounterexampleFile::new(cfg, prop, &trace)
        .save(&file)
        .map_err(usage)?;
    if !quiet {
        eprintln!("livemerge: saved {}", file.display());
    }
    Ok(())
}

fn prepare_dir(dir: &std::path::Path) -> Result<(), Fail> {
    crate::files::prepare_save_dir(dir).map_err(usage)
}

fn replay_model(path: &std::path::Path, flags: &ModelArgs) -> Result<u8, Fail> {
    let file = CounterexampleFile::load(path).map_err(usage)?;
    let saved = file.configuration;
    let cfg = flags.config_over(saved).map_err(usage)?;
    let prop = file.prop().map_err(usage)?;
    say!(
        "replaying {} ({} steps) on the model: {cfg}",
        path.display(),
        file.events.len()
    );
    if cfg != saved {
        say!("note: the counterexample was found for another configuration: {saved}");
    }
    if file.model_version != MODEL_VERSION {
        say!(
            "note: saved by model version {}, this is model version {MODEL_VERSION}",
            file.model_version
        );
    }
    match replay(&file, &cfg, &prop) {
        Replay::Refused {
            index,
            event,
            reason,
        } => {
            say!(
                "the model now refuses step {} ({}): {reason}; the counterexample no longer applies",
                index + 1,
                describe_event(event)
            );
            Ok(0)
        }
        Replay::Accepted {
            violates, diverged, ..
        } => {
            if let Some(i) = diverged {
                say!("note: the model's state after step {i} differs from the saved one");
            }
            if violates {
                say!(
                    "still violates {} \"{}\" after {} steps",
                    prop.expectation.name(),
                    prop.name,
                    file.events.len()
                );
                Ok(1)
            } else {
                say!(
                    "every step is accepted but the last state no longer violates \"{}\"",
                    prop.name
                );
                Ok(0)
            }
        }
    }
}
