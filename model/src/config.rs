//! What a check is about: how many disks, which parent polling rule, which faults, how many
//! engine restarts. A configuration selects a finite model; nothing here is protocol logic.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The largest number of disks a state can hold; states are fixed-size arrays.
pub const MAX_DISKS: usize = 8;

/// The parent's `doPolling` rule, as oVirt shipped it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PollerRule {
    /// `RemoveSnapshotCommandCallback` before the fix: only ACTIVE children make it wait.
    #[serde(rename = "3.6.0")]
    V3_6_0,
    /// The one-line fix (`16d82699a41`): NOT_STARTED children make it wait too.
    #[serde(rename = "3.6.1")]
    V3_6_1,
    /// `ChildCommandsCallbackBase` (`5cad3aa44c2`, 2016): waits for each child's end-action.
    #[serde(rename = "4.0")]
    V4_0,
}

impl PollerRule {
    pub const ALL: [PollerRule; 3] = [PollerRule::V3_6_0, PollerRule::V3_6_1, PollerRule::V4_0];

    pub fn name(self) -> &'static str {
        match self {
            PollerRule::V3_6_0 => "3.6.0",
            PollerRule::V3_6_1 => "3.6.1",
            PollerRule::V4_0 => "4.0",
        }
    }
}

impl fmt::Display for PollerRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PollerRule {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PollerRule::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                ConfigError(format!(
                    "unknown poller '{s}' (expected 3.6.0, 3.6.1 or 4.0)"
                ))
            })
    }
}

/// A fault the checker may inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The host's block-commit job ends without merging.
    MergeJobFails,
    /// `deleteVolume` (the DESTROY_IMAGE step's task) fails; the volume stays.
    DeleteVolumeFails,
}

impl Fault {
    pub const ALL: [Fault; 2] = [Fault::MergeJobFails, Fault::DeleteVolumeFails];

    pub fn name(self) -> &'static str {
        match self {
            Fault::MergeJobFails => "merge-job-fails",
            Fault::DeleteVolumeFails => "delete-volume-fails",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Fault::MergeJobFails => 1,
            Fault::DeleteVolumeFails => 2,
        }
    }
}

/// A set of faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Faults(u8);

impl Faults {
    pub const NONE: Faults = Faults(0);
    pub const ALL: Faults = Faults(3);

    pub fn contains(self, f: Fault) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn with(self, f: Fault) -> Faults {
        Faults(self.0 | f.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Fault> {
        Fault::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<_> = self.iter().map(Fault::name).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Faults {
    type Err = ConfigError;
    /// `none`, `all`, or a comma-separated list of fault names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => return Ok(Faults::NONE),
            "all" => return Ok(Faults::ALL),
            _ => {}
        }
        let mut set = Faults::NONE;
        for name in s.split(',') {
            let fault = Fault::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
                ConfigError(format!(
                    "unknown fault '{name}' (expected none, all, or a list of: merge-job-fails, delete-volume-fails)"
                ))
            })?;
            set = set.with(fault);
        }
        Ok(set)
    }
}

impl Serialize for Faults {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Faults {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Fault>::deserialize(d)?;
        Ok(list.into_iter().fold(Faults::NONE, Faults::with))
    }
}

/// A configuration of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Config {
    pub disks: u8,
    pub poller: PollerRule,
    pub faults: Faults,
    pub restarts: u8,
    /// Hand the checker canonical states (disks sorted), so interchangeable disks are explored once.
    pub symmetry: bool,
}

/// A configuration that cannot be checked, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Default for Config {
    /// What oVirt ships today: the generic child-commands callback, 3 disks, every fault, one restart.
    fn default() -> Self {
        Config {
            disks: 3,
            poller: PollerRule::V4_0,
            faults: Faults::ALL,
            restarts: 1,
            symmetry: true,
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.disks == 0 || self.disks as usize > MAX_DISKS {
            return Err(ConfigError(format!(
                "--disks must be between 1 and {MAX_DISKS}, got {}",
                self.disks
            )));
        }
        if self.restarts > 3 {
            return Err(ConfigError(format!(
                "--restarts must be between 0 and 3, got {}",
                self.restarts
            )));
        }
        Ok(())
    }

    pub fn n(&self) -> usize {
        self.disks as usize
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "poller {}, {} disk(s), faults {}, {} restart(s), symmetry {}",
            self.poller,
            self.disks,
            self.faults,
            self.restarts,
            if self.symmetry { "on" } else { "off" }
        )
    }
}
