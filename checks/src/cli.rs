//! The command line: the subcommands, and the flags that select a model configuration
//! (shared by every subcommand that needs one). Each subcommand's own flags live with it in `cmd/`.

use clap::{Args, Parser, Subcommand};
use livemerge_model::{Config, Faults, PollerRule};

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
}

/// The flags that select a configuration of the model.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Number of disks in the snapshot (one child command each).
    #[arg(long, default_value_t = 3)]
    pub disks: u8,
    /// The parent's polling rule: 3.6.0 (the bug), 3.6.1 (the fix), 4.0 (shipped today).
    #[arg(long, default_value = "4.0", value_parser = parse_poller)]
    pub poller: PollerRule,
    /// Faults to inject: none, all, or a comma-separated list (merge-job-fails,delete-volume-fails).
    #[arg(long, default_value = "all", value_parser = parse_faults)]
    pub faults: Faults,
    /// How many engine restarts may happen.
    #[arg(long, default_value_t = 1)]
    pub restarts: u8,
    /// Explore every permutation of disks instead of one canonical representative.
    #[arg(long)]
    pub no_symmetry: bool,
}

impl ModelArgs {
    pub fn config(&self) -> Result<Config, String> {
        let cfg = Config {
            disks: self.disks,
            poller: self.poller,
            faults: self.faults,
            restarts: self.restarts,
            symmetry: !self.no_symmetry,
        };
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }
}

fn parse_poller(s: &str) -> Result<PollerRule, String> {
    s.parse()
        .map_err(|e: livemerge_model::ConfigError| e.to_string())
}

fn parse_faults(s: &str) -> Result<Faults, String> {
    s.parse()
        .map_err(|e: livemerge_model::ConfigError| e.to_string())
}
