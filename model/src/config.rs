//! What a check is about: how many disks, which oVirt release, which faults, how many engine
//! restarts and retries. A configuration selects a finite model; nothing here is protocol logic.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The largest number of disks a state can hold; states are fixed-size arrays.
pub const MAX_DISKS: usize = 8;

/// An oVirt engine release. A release selects every rule that differs between releases (the
/// parent's polling rule, which statuses the poller dispatches, the restart rules, startup
/// compensation, the child's steps and failure handling); `crate::rules` holds each rule with the
/// tag, path and line it was read from, and `docs/releases.md` tabulates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Release {
    /// `ovirt-engine-3.5.0`: the first release with live merge; bug 1280160 with a fixed-delay
    /// poller (the bug report's "about 1 in 5000").
    #[serde(rename = "3.5.0")]
    V3_5_0,
    /// `ovirt-engine-3.5.7`: the NOT_STARTED fix on the 3.5 branch (`b486baa10e1`), and EXTEND.
    #[serde(rename = "3.5.7")]
    V3_5_7,
    /// `ovirt-engine-3.6.0`: bug 1280160 (the parent's doPolling ignores NOT_STARTED children).
    #[serde(rename = "3.6.0")]
    V3_6_0,
    /// `ovirt-engine-3.6.1`: the one-line fix (`16d82699a41`): NOT_STARTED children make it wait.
    #[serde(rename = "3.6.1")]
    V3_6_1,
    /// `ovirt-engine-4.0.0`: `ChildCommandsCallbackBase` (`5cad3aa44c2`), EXECUTION_FAILED,
    /// DESTROY_IMAGE_CHECK.
    #[serde(rename = "4.0.0", alias = "4.0")]
    V4_0_0,
    /// `ovirt-engine-4.0.2`: startup compensation works (`cf6d79838f0`, BZ 1350399).
    #[serde(rename = "4.0.2")]
    V4_0_2,
    /// `ovirt-engine-4.1.0`: the child's callback becomes a `SerialChildCommandsExecutionCallback`
    /// and polls on EXECUTION_FAILED (`22efca35358`).
    #[serde(rename = "4.1.0")]
    V4_1_0,
    /// `ovirt-engine-4.2.0`: REDUCE_IMAGE instead of DESTROY_IMAGE_CHECK, MergeStatus without a
    /// callback, an EXECUTION_FAILED child ends FAILED at once.
    #[serde(rename = "4.2.0")]
    V4_2_0,
    /// `ovirt-engine-4.3.0`: an EXECUTION_FAILED grandchild fails the child (`7180d5137a9`,
    /// BZ 1633777); REDUCE_IMAGE skipped on file storage.
    #[serde(rename = "4.3.0")]
    V4_3_0,
    /// `ovirt-engine-4.4.0`: DestroyImage gets a callback that polls its SPM task
    /// (`db8f54618b8`, `cf9f3043cc5`).
    #[serde(rename = "4.4.0")]
    V4_4_0,
    /// `ovirt-engine-4.5.7` (December 2025), the release people run today: a child whose top
    /// volume the host does not report starts at COMPLETE (`9c7e00cbfca`, BZ 1948599).
    #[serde(rename = "4.5.7")]
    V4_5_7,
}

impl Release {
    pub const ALL: [Release; 11] = [
        Release::V3_5_0,
        Release::V3_5_7,
        Release::V3_6_0,
        Release::V3_6_1,
        Release::V4_0_0,
        Release::V4_0_2,
        Release::V4_1_0,
        Release::V4_2_0,
        Release::V4_3_0,
        Release::V4_4_0,
        Release::V4_5_7,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Release::V3_5_0 => "3.5.0",
            Release::V3_5_7 => "3.5.7",
            Release::V3_6_0 => "3.6.0",
            Release::V3_6_1 => "3.6.1",
            Release::V4_0_0 => "4.0.0",
            Release::V4_0_2 => "4.0.2",
            Release::V4_1_0 => "4.1.0",
            Release::V4_2_0 => "4.2.0",
            Release::V4_3_0 => "4.3.0",
            Release::V4_4_0 => "4.4.0",
            Release::V4_5_7 => "4.5.7",
        }
    }

    /// The release's git tag in oVirt's repository.
    pub fn tag(self) -> String {
        format!("ovirt-engine-{}", self.name())
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Release {
    type Err = ConfigError;
    /// A release name; `4.0` (the first version's `--poller 4.0`) means 4.0.0. Every command
    /// line's `--release` (and the matrix's list of them) is parsed here, so it has one wording
    /// for a name it does not know.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = if s == "4.0" { "4.0.0" } else { s };
        Release::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Release::ALL.iter().map(|r| r.name()).collect();
                let (last, rest) = names.split_last().expect("there are releases");
                ConfigError(format!(
                    "unknown release '{s}' (expected {} or {last})",
                    rest.join(", ")
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
    /// `GetImageInfo` on top, which a 4.5.7 child asks in its `execute()`, gets no answer (an SPM
    /// error, a network error) although top is there.
    ImageInfoFails,
}

impl Fault {
    pub const ALL: [Fault; 3] = [
        Fault::MergeJobFails,
        Fault::DeleteVolumeFails,
        Fault::ImageInfoFails,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::MergeJobFails => "merge-job-fails",
            Fault::DeleteVolumeFails => "delete-volume-fails",
            Fault::ImageInfoFails => "image-info-fails",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Fault::MergeJobFails => 1,
            Fault::DeleteVolumeFails => 2,
            Fault::ImageInfoFails => 4,
        }
    }
}

/// A set of faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Faults(u8);

impl Faults {
    pub const NONE: Faults = Faults(0);
    pub const ALL: Faults = Faults(7);

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
            // A list names each fault once: a repeat is a typo or a misunderstanding (the
            // faults are a set, not a count of failures), not something to merge silently.
            if set.contains(fault) {
                return Err(ConfigError(format!(
                    "fault '{name}' is listed twice (a fault is on or off; list each at most once)"
                )));
            }
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
    /// The oVirt release whose rules the model follows (`poller` in files of model version 1).
    #[serde(alias = "poller")]
    pub release: Release,
    pub faults: Faults,
    pub restarts: u8,
    /// How many times the user may remove the snapshot again after a failed removal.
    #[serde(default)]
    pub retries: u8,
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
    /// oVirt 4.0.2 (the generic child-commands callback, working startup compensation), 3 disks,
    /// every fault, one engine restart, one retry of a failed removal.
    fn default() -> Self {
        Config {
            disks: 3,
            release: Release::V4_0_2,
            faults: Faults::ALL,
            restarts: 1,
            retries: 1,
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
        if self.retries > 3 {
            return Err(ConfigError(format!(
                "--retries must be between 0 and 3, got {}",
                self.retries
            )));
        }
        Ok(())
    }

    pub fn n(&self) -> usize {
        self.disks as usize
    }
}

impl fmt::Display for Config {
    /// `u8::MAX` restarts or retries is how the engine says "no bound": it reads "unlimited".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let restarts = match self.restarts {
            u8::MAX => "unlimited restarts".to_string(),
            k => format!("{k} restart(s)"),
        };
        let retries = match self.retries {
            u8::MAX => "unlimited retries".to_string(),
            1 => "1 retry".to_string(),
            k => format!("{k} retries"),
        };
        write!(
            f,
            "release {}, {} disk(s), faults {}, {restarts}, {retries}, symmetry {}",
            self.release,
            self.disks,
            self.faults,
            if self.symmetry { "on" } else { "off" }
        )
    }
}
