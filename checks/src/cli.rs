//! The command line: the subcommands, and how a refused command line is reported. Each
//! subcommand's own flags live with it in `cmd/`; the flags several share, in [`crate::args`].

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "livemerge",
    version,
    about = "Model-check oVirt's live-merge protocol (BZ 1280160)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check every interleaving of a configuration against the protocol's properties.
    Check(crate::cmd::check::CheckArgs),
    /// Check every release x disks x faults x restarts x retries and compare the verdicts with findings.json.
    Matrix(crate::cmd::matrix::MatrixArgs),
    /// Print a saved counterexample as numbered steps, or write its sequence diagram.
    Show(crate::cmd::show::ShowArgs),
    /// Serve stateright's web explorer for a configuration.
    // The explorer shows every permutation of disks, and one number of them: its help says so.
    #[command(
        mut_arg("no_symmetry", |a| a.hide(true)),
        mut_arg("disks", |a| a.help("Number of disks in the snapshot, one child command each [default: 3]"))
    )]
    Explore(crate::cmd::explore::ExploreArgs),
    /// Remove a snapshot live with the production engine, on real qcow2 volumes in DIR (or, with
    /// `--host live`, on a running qemu-storage-daemon while a guest writes).
    Run(crate::cmd::engine::RunArgs),
    /// Restart a killed engine on its DIR through the model's restart rules, and finish.
    Resume(crate::cmd::engine::ResumeArgs),
    /// Run many removals (in memory, or `--host qcow2|live`) and measure how often an invariant breaks.
    Stress(crate::cmd::engine::StressArgs),
    /// Replay a saved counterexample step for step on the real engine (SQLite, qcow2 volumes).
    Replay(crate::cmd::replay::ReplayArgs),
    /// Run the engine under many seeded random schedules of the model and audit every trace.
    Schedules(crate::cmd::schedules::SchedulesArgs),
    /// Check an engine trace against the model, step by step (and the real world at its end).
    // The trace names its configuration: the model flags are for one that does not.
    #[command(
        mut_arg("no_symmetry", |a| a.hide(true)),
        mut_arg("disks", |a| a.help("For a trace that names no configuration: its number of disks")),
        mut_arg("release", |a| a.help("For a trace that names no configuration: its release")),
        mut_arg("faults", |a| a.help("For a trace that names no configuration: its faults")),
        mut_arg("restarts", |a| a.help("For a trace that names no configuration: its restarts")),
        mut_arg("retries", |a| a.help("For a trace that names no configuration: its retries"))
    )]
    Audit(crate::cmd::audit::AuditArgs),
    /// Print the rules of every release as a Markdown table (from the model's release table).
    Rules(crate::cmd::rules::RulesArgs),
    /// Print the history of each finding across the releases (from findings.json's verdicts).
    History(crate::cmd::history::HistoryArgs),
}

/// What a command line clap refused becomes: `--help` and `--version` print as clap prints them
/// (exit 0); a bare `livemerge` gets a one-line usage; every other error is its first line,
/// `livemerge: ...`, on stderr with exit 2 (clap's usage block and "For more information" hint
/// are dropped: `livemerge COMMAND --help` has them).
pub fn usage_error(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand
            if std::env::args_os().len() <= 1 =>
        {
            eprintln!("livemerge: {}", short_usage());
            ExitCode::from(2)
        }
        _ => {
            eprintln!("livemerge: {}", first_line(&e.render().to_string()));
            ExitCode::from(2)
        }
    }
}

/// `usage: livemerge COMMAND [FLAGS]` with the commands' names, on one line.
pub(crate) fn short_usage() -> String {
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    format!(
        "usage: livemerge <{}> [FLAGS] (livemerge --help for more)",
        names.join("|")
    )
}

/// clap's message as one line, without its `error: ` prefix: its first paragraph (a line that
/// ends with `:` is followed by the list it introduces, e.g. the missing arguments), joined.
fn first_line(msg: &str) -> String {
    let para: Vec<&str> = msg
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    let line = para.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    if line.is_empty() {
        "bad command line".to_string()
    } else {
        line.to_string()
    }
}
