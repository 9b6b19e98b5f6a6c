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

use livemerge_model::{step, Config, Event, State, Step};
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
/// `deleteVolume` fails (nothing is deleted). Each listed entry is one failure: a disk listed
/// twice fails twice, and its next attempt goes through. A replay instead gives the outcome of
/// every attempt in order (`plan`, from the path), so that the failure lands on the attempt the
/// path fails (a retry's deletion may be the one that fails, not the first). For tests and
/// replays; production storage has none.
#[derive(Clone, Debug, Default)]
pub struct InjectedFaults {
    pub merge_fails: Vec<usize>,
    pub delete_fails: Vec<usize>,
    pub plan: Option<FaultPlan>,
}

/// Per disk, the outcome of each merge job and each `deleteVolume` in order: `true` fails.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    pub merge: Vec<std::collections::VecDeque<bool>>,
    pub delete: Vec<std::collections::VecDeque<bool>>,
}

impl InjectedFaults {
    /// Uses up the outcome of disk `d`'s next merge job: true if it is to fail.
    pub fn take_merge_fault(&mut self, d: usize) -> bool {
        match &mut self.plan {
            Some(p) => p.merge.get_mut(d).and_then(|q| q.pop_front()) == Some(true),
            None => take(&mut self.merge_fails, d),
        }
    }

    /// Uses up the outcome of disk `d`'s next `deleteVolume`: true if it is to fail.
    pub fn take_delete_fault(&mut self, d: usize) -> bool {
        match &mut self.plan {
            Some(p) => p.delete.get_mut(d).and_then(|q| q.pop_front()) == Some(true),
            None => take(&mut self.delete_fails, d),
        }
    }

    /// The outcomes a path of events gives each disk's merge jobs and deletions, in order (the
    /// model says which `TaskEnds` is a deletion).
    pub fn of_path(cfg: &Config, events: &[Event]) -> InjectedFaults {
        let n = cfg.n();
        let mut plan = FaultPlan {
            merge: vec![Default::default(); n],
            delete: vec![Default::default(); n],
        };
        let mut s = State::initial(n);
        for &e in events {
            match e {
                Event::HostJobEnds(d) => plan.merge[d as usize].push_back(false),
                Event::HostJobFails(d) => plan.merge[d as usize].push_back(true),
                Event::DeleteVolumeFails(d) => plan.delete[d as usize].push_back(true),
                Event::TaskEnds(d) if s.disk(d as usize).step() == Step::DestroyImage => {
                    plan.delete[d as usize].push_back(false)
                }
                _ => {}
            }
            match step(cfg, &s, e) {
                Ok(t) => s = t,
                Err(_) => break,
            }
        }
        InjectedFaults {
            plan: Some(plan),
            ..InjectedFaults::default()
        }
    }
}

fn take(list: &mut Vec<usize>, d: usize) -> bool {
    match list.iter().position(|&x| x == d) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}
