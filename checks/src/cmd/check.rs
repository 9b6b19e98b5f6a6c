//! `livemerge check`: search a configuration's state space and report each property.

use super::{usage, Fail};
use crate::cli::ModelArgs;
use crate::report;
use crate::search::{self, Limits};
use clap::{Args, ValueEnum};
use livemerge_model::LiveMerge;
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
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Stop after this many seconds (the search is then incomplete: exit 3).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Stop after this many states (the search is then incomplete: exit 3).
    #[arg(long)]
    pub max_states: Option<u64>,
    /// Seed of the random strategy.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: CheckArgs) -> Result<u8, Fail> {
    let cfg = args.model.config().map_err(usage)?;
    let threads = match args.threads {
        Some(0) => return Err(usage("--threads must be at least 1")),
        Some(t) => t,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let timeout = match args.timeout {
        Some(t) if !(t > 0.0 && t.is_finite()) => {
            return Err(usage("--timeout must be a positive number of seconds"))
        }
        t => t.map(Duration::from_secs_f64),
    };
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
        Format::Text => print!("{}", report::text(&cfg, &outcome)),
        Format::Json => println!("{}", report::json(&cfg, &outcome)),
    }
    Ok(if outcome.any_violated() {
        1
    } else if !outcome.complete {
        3
    } else {
        0
    })
}
