//! Storage: the host side of a live merge, behind one trait with three backends.
//!
//! Each disk has a base volume and a snapshot overlay (top) backed by it; a per-disk pointer
//! names the VM's active (leaf) volume. A merge is the host's block-commit job: top's data is
//! committed into base in the background, then the VM pivots to base. `deleteVolume` removes
//! top's file. Every backend reports, per disk, the facts the model reasons about:
//! [`DiskFacts`] (top in the chain, top exists, base holds top's data, job running).
//!
//! - [`qcow2::Qcow2`]: real qcow2 files driven by `qemu-img` / `qemu-io`;
//! - `crate::harness::memory::Memory`: the same semantics in memory, for fast tests and
//!   `livemerge stress` (the harness's: no production engine runs on it);
//! - [`live::Live`]: a running `qemu-storage-daemon`, `block-commit` while a guest writes.

pub mod live;
pub mod qcow2;

use serde::{Deserialize, Serialize};

/// Which host an engine drives. Named in an engine directory's layout (and so in traces) as
/// `"memory"`, `"qcow2"` or `"live"`; on the command line by the same words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Host {
    /// In memory: no IO, thousands of runs a minute (stress, replays, tests).
    Memory,
    /// Closed qcow2 images merged offline with `qemu-img commit`.
    Qcow2,
    /// A running qemu-storage-daemon: block-commit and pivot while a guest writes over NBD.
    Live,
}

impl Host {
    pub fn name(self) -> &'static str {
        match self {
            Host::Memory => "memory",
            Host::Qcow2 => "qcow2",
            Host::Live => "live",
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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

/// What storage or the host failed to do, in one line (a tool's output, an IO error), and the
/// VDSM error it answers with where the engine's flow tells that error apart. The protocol's
/// fault events come from these when the model has one for the call (a merge job, a
/// `deleteVolume`, a `VM.merge` refused with `mergeErr`); anywhere else such an error stops the
/// engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError {
    what: String,
    vdsm: Option<VdsmError>,
}

/// An error of VDSM's `errCode` table that the engine's flow tells apart from other failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VdsmError {
    /// `mergeErr`, code 52 (`MergeFailed`, `lib/vdsm/exception.py:190-192` at VDSM v4.18.4):
    /// `VM.merge` refused. `merge()` answers it when top is not in the drive's volume chain
    /// (`vdsm/virt/vm.py:4552-4557` at v4.18.4: after a pivot, top has left the chain) and when
    /// libvirt's `blockCommit` raises (l.4602-4610).
    MergeErr,
}

impl VdsmError {
    /// Its name in VDSM's `errCode` table.
    pub fn name(self) -> &'static str {
        match self {
            VdsmError::MergeErr => "mergeErr",
        }
    }

    /// Its status code.
    pub fn code(self) -> u32 {
        match self {
            VdsmError::MergeErr => 52,
        }
    }
}

impl StorageError {
    pub fn new(what: impl Into<String>) -> StorageError {
        StorageError {
            what: crate::error::one_line(&what.into()),
            vdsm: None,
        }
    }

    /// `VM.merge` refused: VDSM's `mergeErr` (code 52), with why.
    pub fn merge_err(why: impl Into<String>) -> StorageError {
        StorageError {
            vdsm: Some(VdsmError::MergeErr),
            ..StorageError::new(why)
        }
    }

    /// The VDSM error this is, if the host answered with one the flow tells apart.
    pub fn vdsm(&self) -> Option<VdsmError> {
        self.vdsm
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.vdsm {
            Some(v) => write!(f, "{} (code {}): {}", v.name(), v.code(), self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<String> for StorageError {
    fn from(s: String) -> StorageError {
        StorageError::new(s)
    }
}

impl From<&str> for StorageError {
    fn from(s: &str) -> StorageError {
        StorageError::new(s)
    }
}

impl From<StorageError> for crate::error::Error {
    fn from(e: StorageError) -> crate::error::Error {
        crate::error::Error::Storage(e.to_string())
    }
}

/// What a storage call returns.
pub type StorageResult<T> = Result<T, StorageError>;

/// A running host job. `wait` blocks until it ends: `Ok` merged and pivoted, `Err` failed.
pub trait HostJob: Send {
    fn wait(self: Box<Self>) -> StorageResult<()>;
    /// A job whose start the engine did not record (its step was refused, or the engine
    /// stopped first): one already running on the host is waited for; one that has not yet
    /// touched the host (qcow2's, which starts when waited for) never does.
    fn abandon(self: Box<Self>) {
        let _ = self.wait();
    }
}

/// A host job backed by a thread.
pub struct ThreadJob(pub std::thread::JoinHandle<StorageResult<()>>);

impl HostJob for ThreadJob {
    fn wait(self: Box<Self>) -> StorageResult<()> {
        self.0
            .join()
            .unwrap_or_else(|_| Err("the job's thread panicked".into()))
    }
}

/// The host and its storage, as the engine drives them. Disk numbers are 0-based.
pub trait Storage: Send + Sync {
    /// Which host this is.
    fn host(&self) -> Host;
    fn disks(&self) -> usize;
    /// `VM.merge`, as VDSM answers it: refused with `mergeErr` ([`StorageError::merge_err`])
    /// when top is not in the VM's chain of the disk (or the host refuses the block commit),
    /// else the block-commit job is started ([`Storage::start_merge`]).
    fn vm_merge(&self, d: usize) -> StorageResult<Box<dyn HostJob>>;
    /// The host's block-commit job: commit top into base in the background; the job pivots the
    /// VM to base when the commit is done. Re-issued for a job whose watcher died with a
    /// restarted engine: redoing it is safe, and a job whose pivot is done ends at once.
    fn start_merge(&self, d: usize) -> StorageResult<Box<dyn HostJob>>;
    /// The chain as the host reports it (MERGE_STATUS reads it).
    fn read_chain(&self, d: usize) -> StorageResult<Chain>;
    /// `deleteVolume` of top. Refused while top is in the VM's chain. A top already gone is not
    /// an error here: VDSM's task fails then (`VolumeDoesNotExist`), and the model reads that
    /// from its own state (`task_ends` at DESTROY_IMAGE with top gone).
    fn delete_top(&self, d: usize) -> StorageResult<()>;
    /// `GetImageInfo` for top (a 4.5.7 child asks it in its `execute()`): whether top's volume
    /// exists; an error when the host gives no answer (an injected fault).
    fn image_info(&self, d: usize) -> StorageResult<bool>;
    /// The facts, read from storage itself (for qcow2: `qemu-img info`, `qemu-io`).
    fn facts(&self, d: usize) -> StorageResult<DiskFacts>;
    /// Cheap facts for the trace (no external process): pointer, file existence, jobs.
    fn quick_facts(&self, d: usize) -> serde_json::Value;
    /// Reads back the patterns written to base and top from the active volume.
    fn data_check(&self, d: usize) -> StorageResult<DataCheck>;
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
    pub image_info_fails: Vec<usize>,
    pub plan: Option<FaultPlan>,
}

/// Per disk, the outcome of each merge job, each `deleteVolume` and each `GetImageInfo` in order:
/// `true` fails.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    pub merge: Vec<std::collections::VecDeque<bool>>,
    pub delete: Vec<std::collections::VecDeque<bool>>,
    pub image_info: Vec<std::collections::VecDeque<bool>>,
}

impl InjectedFaults {
    /// No fault to inject.
    pub fn is_empty(&self) -> bool {
        self.merge_fails.is_empty()
            && self.delete_fails.is_empty()
            && self.image_info_fails.is_empty()
            && self.plan.is_none()
    }

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

    /// Uses up the outcome of disk `d`'s next `GetImageInfo`: true if it is to get no answer.
    pub fn take_image_info_fault(&mut self, d: usize) -> bool {
        match &mut self.plan {
            Some(p) => p.image_info.get_mut(d).and_then(|q| q.pop_front()) == Some(true),
            None => take(&mut self.image_info_fails, d),
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
