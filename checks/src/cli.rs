//! The command line: the subcommands, and the flags that select a model configuration
//! (shared by every subcommand that needs one). Each subcommand's own flags live with it in `cmd/`.

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use livemerge_model::{Config, Faults, Release};
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
    Audit(crate::cmd::audit::AuditArgs),
}

/// The flags that select a configuration of the model. Each is optional so that a command that
/// also reads a configuration from a file can tell which ones the user gave.
#[derive(Args, Debug, Clone, Default)]
pub struct ModelArgs {
    /// Number of disks in the snapshot, one child command each [default: 3]; `check` also takes
    /// `any`: safety properties proved for every number of disks.
    #[arg(long, value_parser = parse_disks)]
    pub disks: Option<DiskCount>,
    /// The oVirt release whose rules to follow: 3.6.0 (bug 1280160), 3.6.1 (its fix), 4.0.0,
    /// 4.0.2, 4.1.0 (see docs/releases.md) [default: 4.0.2]. `--poller` is an alias; its `4.0`
    /// means 4.0.0.
    #[arg(long, alias = "poller", value_parser = parse_release)]
    pub release: Option<Release>,
    /// Faults to inject: none, all, or a comma-separated list of merge-job-fails,
    /// delete-volume-fails [default: all].
    #[arg(long, value_parser = parse_faults)]
    pub faults: Option<Faults>,
    /// How many engine restarts may happen [default: 1].
    #[arg(long)]
    pub restarts: Option<u8>,
    /// How many times the user may remove the snapshot again after a failed removal [default: 1].
    #[arg(long)]
    pub retries: Option<u8>,
    /// Explore every permutation of disks instead of one canonical representative.
    #[arg(long)]
    pub no_symmetry: bool,
}

/// `--disks N`, or `--disks any` (only `check` accepts it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskCount {
    Exactly(u8),
    Any,
}

impl ModelArgs {
    /// Whether `--disks any` was given.
    pub fn any_disks(&self) -> bool {
        self.disks == Some(DiskCount::Any)
    }

    /// The configuration these flags select, over the defaults.
    pub fn config(&self) -> Result<Config, String> {
        self.config_over(Config::default())
    }

    /// The configuration these flags select, over `base` (flags not given keep `base`'s values).
    pub fn config_over(&self, base: Config) -> Result<Config, String> {
        let disks = match self.disks {
            None => base.disks,
            Some(DiskCount::Exactly(n)) => n,
            Some(DiskCount::Any) => {
                return Err("--disks any is only for `livemerge check`".to_string())
            }
        };
        let cfg = Config {
            disks,
            release: self.release.unwrap_or(base.release),
            faults: self.faults.unwrap_or(base.faults),
            restarts: self.restarts.unwrap_or(base.restarts),
            retries: self.retries.unwrap_or(base.retries),
            symmetry: base.symmetry && !self.no_symmetry,
        };
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    /// Whether the user gave any flag that selects a configuration.
    pub fn any_given(&self) -> bool {
        self.disks.is_some()
            || self.release.is_some()
            || self.faults.is_some()
            || self.restarts.is_some()
            || self.retries.is_some()
            || self.no_symmetry
    }
}

fn parse_disks(s: &str) -> Result<DiskCount, String> {
    if s == "any" {
        return Ok(DiskCount::Any);
    }
    crate::bounds::disks(s)
        .map(DiskCount::Exactly)
        .map_err(|e| format!("expected a number of disks or `any`: {e}"))
}

fn parse_release(s: &str) -> Result<Release, String> {
    s.parse()
        .map_err(|e: livemerge_model::ConfigError| e.to_string())
}

fn parse_faults(s: &str) -> Result<Faults, String> {
    s.parse()
        .map_err(|e: livemerge_model::ConfigError| e.to_string())
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
pub fn short_usage() -> String {
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
