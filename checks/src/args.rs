//! The flags that select a model configuration, shared by the subcommands that need one
//! (`check`, `explore`, `audit`). They live apart from `cli` so that `cli` can name the
//! subcommands and the subcommands these flags, without either module importing the other.

use clap::Args;
use livemerge_model::{Config, Faults, Release};

/// The flags that select a configuration of the model. Each is optional so that a command that
/// also reads a configuration from a file can tell which ones the user gave.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ModelArgs {
    /// Number of disks in the snapshot, one child command each [default: 3]. `check` also takes
    /// a range or list (`1..3`, `1,3`: one search each, in turn) and `any` (every property's
    /// verdict for every number of disks, from an abstraction).
    #[arg(long, value_parser = parse_disks)]
    pub(crate) disks: Option<DiskCount>,
    /// The oVirt release whose rules to follow: 3.5.0 (bug 1280160, fixed-delay poller), 3.5.7
    /// (its fix on the 3.5 branch), 3.6.0 (bug 1280160), 3.6.1 (its fix), 4.0.0, 4.0.2, 4.1.0,
    /// 4.2.0, 4.3.0, 4.4.0, 4.5.7 (the release people run today; see docs/releases.md)
    /// [default: 4.0.2]. `--poller` is an alias; its `4.0` means 4.0.0.
    #[arg(long, alias = "poller")]
    pub(crate) release: Option<Release>,
    /// Faults to inject: none, all, or a comma-separated list of merge-job-fails,
    /// delete-volume-fails, image-info-fails (4.5.7's GetImageInfo) [default: all].
    #[arg(long)]
    pub(crate) faults: Option<Faults>,
    /// How many engine restarts may happen [default: 1].
    #[arg(long)]
    pub(crate) restarts: Option<u8>,
    /// How many times the user may remove the snapshot again after a failed removal [default: 1].
    #[arg(long)]
    pub(crate) retries: Option<u8>,
    /// Explore every permutation of disks instead of one canonical representative.
    #[arg(long)]
    pub(crate) no_symmetry: bool,
}

/// `--disks N`, or (only `check` accepts them) `--disks 1..3` / `1,3` and `--disks any`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DiskCount {
    Exactly(u8),
    /// More than one number of disks, in the order given, without repeats.
    Several(Vec<u8>),
    Any,
}

impl ModelArgs {
    /// Whether `--disks any` was given.
    pub(crate) fn any_disks(&self) -> bool {
        self.disks == Some(DiskCount::Any)
    }

    /// `--disks N` as given (`None` without `--disks`); `--disks any` and a range are refused:
    /// only `check` takes them, and it asks [`ModelArgs::any_disks`] and
    /// [`ModelArgs::disk_list`] first.
    pub(crate) fn exact_disks(&self) -> Result<Option<u8>, String> {
        match &self.disks {
            None => Ok(None),
            Some(DiskCount::Exactly(n)) => Ok(Some(*n)),
            Some(DiskCount::Several(_)) => Err(
                "--disks takes one number here (a range or a list is for `livemerge check` and `livemerge matrix`)"
                    .to_string(),
            ),
            Some(DiskCount::Any) => Err("--disks any is only for `livemerge check`".to_string()),
        }
    }

    /// The numbers of disks of `--disks 1..3` or `1,3`; `None` for one number, `any`, or none.
    pub(crate) fn disk_list(&self) -> Option<&[u8]> {
        match &self.disks {
            Some(DiskCount::Several(list)) => Some(list),
            _ => None,
        }
    }

    /// The configuration these flags select, over the defaults.
    pub(crate) fn config(&self) -> Result<Config, String> {
        self.config_over(Config::default())
    }

    /// The configuration these flags select, over `base` (flags not given keep `base`'s values).
    pub(crate) fn config_over(&self, base: Config) -> Result<Config, String> {
        let cfg = Config {
            disks: self.exact_disks()?.unwrap_or(base.disks),
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
    pub(crate) fn any_given(&self) -> bool {
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
    if s.contains("..") || s.contains(',') {
        let list = crate::matrix::axes::parse_disks(s)
            .map_err(|e| format!("expected a number of disks, a range like 1..3, or `any`: {e}"))?;
        return Ok(match list[..] {
            [n] => DiskCount::Exactly(n),
            _ => DiskCount::Several(list),
        });
    }
    crate::bounds::disks(s)
        .map(DiskCount::Exactly)
        .map_err(|e| format!("expected a number of disks, a range like 1..3, or `any`: {e}"))
}
