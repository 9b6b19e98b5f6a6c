//! `livemerge`: the command-line tool. Exit codes: 0 every property holds and the search was
//! complete; 1 a property is violated; 2 bad usage or input; 3 the search stopped early.

use clap::Parser;
use livemerge_checks::cli::{self, Cli, Command};
use livemerge_checks::cmd;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cli::usage_error(e),
    };
    let result = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Matrix(args) => cmd::matrix::run(args),
        Command::Show(args) => cmd::show::run(args),
        Command::Explore(args) => cmd::explore::run(args),
        Command::Run(args) => cmd::engine::run(args),
        Command::Resume(args) => cmd::engine::resume(args),
        Command::Stress(args) => cmd::engine::stress(args),
        Command::Audit(args) => cmd::audit::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Schedules(args) => cmd::schedules::run(args),
        Command::Rules(args) => cmd::rules::run(args),
        Command::History(args) => cmd::history::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("livemerge: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
