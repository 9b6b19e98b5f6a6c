//! Storage: the host side of a live merge, behind one trait with two backends.
//!
//! Each disk has a base volume and a snapshot overlay (top) backed by it; a per-disk pointer
//! names the VM's active (leaf) volume. A merge is the host's block-commit job: top's data is
//! committed into base in the background, then the VM pivots to base. `deleteVolume` removes
//! top's file. Both backends report, per disk, the facts the model reasons about:
//! [`DiskFacts`] (top in the chain, top exists, base holds top's data, job running).
//!
//! - [`qcow2::Qcow2`]: real qcow2 files driven by `qemu-img` / `qemu-io`;
//! - [`memory::Memory`]: the same semantics in memory, for fast tests and `livemerge stress`.

pub mod memory;
pub mod qcow2;

use serde::{Deserialize, Serialize};

/// File names of the two volumes of every disk (both backends use them).
pub const BASE: &str = "base.qcow2";
pub const TOP: &str = "top.qcow2";

/// What storage says about one disk, in the model's terms (see `livemerge_model::Disk`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskFacts {
    /// The VM's chain, read from its active volume, still has top above base.
    pub top_in_chain: bool,
    /// Top's volume exists.
    pub top_exists: bool,
    /// Base holds the data written to top (the commit completed).
    pub base_has_top: bool,
    /// A block-commit job runs for this disk.
    pub job_running: bool,
}

/// A disk's chain as read from its active volume: leaf first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Chain {
    pub volumes: Vec<String>,
}

impl Chain {
    pub fn has_top(&self) -> bool {
        self.volumes.iter().any(|v| v == TOP)
    }
}

/// Whether the data written to each layer reads back from the disk's active volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DataCheck {
    pub base_data: bool,
    pub top_data: bool,
}

impl DataCheck {
    pub fn all_readable(&self) -> bool {
        self.base_data && self.top_data
    }
}

/// A running host job. `wait` blocks until it ends: `Ok` merged and pivoted, `Err` failed.
pub trait HostJob: Send {
    fn wait(self: Box<Self>) -> Result<(), String>;
}

/// A host job backed by a thread.
pub struct ThreadJob(pub std::thread::JoinHandle<Result<(), String>>);

impl HostJob for ThreadJob {
    fn wait(self: Box<Self>) -> Result<(), String> {
        self.0
            .join()
            .unwrap_or_else(|_| Err("the job's thread panicked".into()))
    }
}

/// The host and its storage, as the engine drives them. Disk numbers are 0-based.
pub trait Storage: Send + Sync {
    /// `"qcow2"` or `"memory"`.
    fn kind(&self) -> &'static str;
    fn disks(&self) -> usize;
    /// `VM.merge`: start committing top into base in the background; the job pivots the VM to
    /// base when the commit is done. Redoing it after a restart is safe.
    fn start_merge(&self, d: usize) -> Result<Box<dyn HostJob>, String>;
    /// The chain as the host reports it (MERGE_STATUS reads it).
    fn read_chain(&self, d: usize) -> Result<Chain, String>;
    /// `deleteVolume` of top. Refused while top is in the VM's chain; a top already gone counts
    /// as deleted (a task re-executed after a restart).
    fn delete_top(&self, d: usize) -> Result<(), String>;
    /// The facts, read from storage itself (for qcow2: `qemu-img info`, `qemu-io`).
    fn facts(&self, d: usize) -> Result<DiskFacts, String>;
    /// Cheap facts for the trace (no external process): pointer, file existence, jobs.
    fn quick_facts(&self, d: usize) -> serde_json::Value;
    /// Reads back the patterns written to base and top from the active volume.
    fn data_check(&self, d: usize) -> Result<DataCheck, String>;
}

/// Faults a backend injects, by disk: the host's merge job fails (nothing is committed), or
/// `deleteVolume` fails (nothing is deleted). For tests and for replaying a counterexample that
/// contains a fault; production storage has none.
#[derive(Clone, Debug, Default)]
pub struct InjectedFaults {
    pub merge_fails: Vec<usize>,
    pub delete_fails: Vec<usize>,
}

impl InjectedFaults {
    /// The faults a path of events contains.
    pub fn of_path(events: &[livemerge_model::Event]) -> InjectedFaults {
        let mut f = InjectedFaults::default();
        for e in events {
            match *e {
                livemerge_model::Event::HostJobFails(d) => f.merge_fails.push(d as usize),
                livemerge_model::Event::DeleteVolumeFails(d) => f.delete_fails.push(d as usize),
                _ => {}
            }
        }
        f
    }
}
