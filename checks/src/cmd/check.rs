//! `livemerge check`: search a configuration's state space and report each property; save the
//! counterexamples (`--save DIR`), or re-run a saved one through the model (`--replay-model`).

use super::{usage, Fail};
use crate::cli::ModelArgs;
use crate::counterexample::{replay, CounterexampleFile, Replay};
use crate::report::{self, Trace};
use crate::search::{self, Limits, Verdict};
use clap::{Args, ValueEnum};
use livemerge_model::{describe_event, LiveMerge, MODEL_VERSION};
use std::path::PathBuf;
use std::time::Duration;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Breadth-first, level by level: counterexamples are shortest.
    Bfs,
    /// stateright's depth-first checker.
    Dfs,
    /// Seeded random walks until a time bound: never complete.
    Random,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, value_enum, default_value_t = Strategy::Bfs)]
    pub strategy: Strategy,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = crate::bounds::threads)]
    pub threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Stop after this many seconds (the search is then incomplete: exit 3).
    #[arg(long, value_parser = crate::bounds::secs)]
    pub timeout: Option<f64>,
    /// Stop after this many states (the search is then incomplete: exit 3).
    #[arg(long, value_parser = crate::bounds::max_states)]
    pub max_states: Option<u64>,
    /// Seed of the random strategy.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write each violated property's counterexample to DIR/<property>.json.
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Re-run a saved counterexample through the model instead of searching: exit 1 if it still
    /// reaches the violation, 0 if the model now refuses it or no longer violates. Model flags
    /// given with it override the file's configuration (for example `--poller 4.0`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["save", "strategy", "max_states", "timeout"])]
    pub replay_model: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: CheckArgs) -> Result<u8, Fail> {
    if let Some(file) = &args.replay_model {
        return replay_model(file, &args.model);
    }
    let cfg = args.model.config().map_err(usage)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let timeout = args.timeout.map(Duration::from_secs_f64);
    if let Some(dir) = &args.save {
        prepare_dir(dir)?;
    }
    let limits = Limits {
        threads,
        max_states: args.max_states,
        timeout,
        progress: !args.quiet,
    };
    let outcome = match args.strategy {
        Strategy::Bfs => search::bfs::run(&cfg, &limits),
        Strategy::Dfs => search::dfs::run(LiveMerge::new(cfg), &limits),
        Strategy::Random => search::random::run(&cfg, &limits, args.seed),
    };
    match args.format {
        Format::Text => say_raw!("{}", report::text(&cfg, &outcome)),
        Format::Json => say!("{}", report::json(&cfg, &outcome)),
    }
    if let Some(dir) = &args.save {
        for f in &outcome.findings {
            let (Verdict::Violated, Some(path)) = (&f.verdict, &f.path) else {
                continue;
            };
            let trace = Trace::rebuild(&cfg, path).map_err(usage)?;
            let file = dir.join(format!("{}.json", f.prop.slug()));
            CounterexampleFile::new(&cfg, &f.prop, &trace)
                .save(&file)
                .map_err(usage)?;
            if !args.quiet {
                eprintln!("livemerge: saved {}", file.display());
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

fn prepare_dir(dir: &std::path::Path) -> Result<(), Fail> {
    if dir.exists() && !dir.is_dir() {
        return Err(usage(format!("--save {}: not a directory", dir.display())));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| usage(format!("--save {}: cannot create: {e}", dir.display())))
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
