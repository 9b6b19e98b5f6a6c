//! `livemerge`: the command-line tool. Exit codes: 0 every property holds and the search was
//! complete; 1 a property is violated; 2 bad usage or input; 3 the search stopped early.

use clap::Parser;
use livemerge_checks::cli::{CheckArgs, Cli, Command, Format, Strategy};
use livemerge_checks::report;
use livemerge_checks::search::{self, Limits};
use livemerge_model::LiveMerge;
use std::process::ExitCode;
use std::time::Duration;

/// An error to show as one line before exiting with `code`.
struct Fail {
    code: u8,
    message: String,
}

fn usage(message: impl Into<String>) -> Fail {
    Fail {
        code: 2,
        message: message.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("livemerge: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn check(args: CheckArgs) -> Result<u8, Fail> {
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
