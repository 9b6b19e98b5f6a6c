//! The live backend: the merge as oVirt's host does it, on a running QEMU block layer.
//!
//! One `qemu-storage-daemon` per VM ([`daemon`]) holds each disk's `base <- top` chain and
//! exports it over NBD, where a guest ([`guest`]) keeps writing. The files and their layout are
//! the qcow2 backend's (`disk-N/{base,top}.qcow2`, the `active` pointer), so `audit --dir` and a
//! restarted daemon read the same chain from them.
//!
//! - `VM.merge`: QMP `block-commit` of the active layer; the job runs while the guest writes;
//!   at `BLOCK_JOB_READY` the guest's writes to that disk are paused, `job-complete` pivots the
//!   export onto base, `BLOCK_JOB_COMPLETED` ends it and the `active` pointer is rewritten; a
//!   `BLOCK_JOB_ERROR` / `BLOCK_JOB_COMPLETED` with an error fails the job.
//! - MERGE_STATUS: the chain under the guest's export, from `query-block-exports` and
//!   `query-named-block-nodes` (what the daemon uses now, not what the files say).
//! - `deleteVolume`: `blockdev-del` of top's node, then the file.
//!
//! Faults are genuine here ([`InjectedFaults`] only says *when*): a merge job to fail gets a
//! `blkdebug` node slipped under base's qcow2 node (`blockdev-reopen`) that fails base's first
//! data write with EIO, so QEMU fails the job; a `deleteVolume` to fail finds top's file with
//! the immutable attribute (`FS_IOC_SETFLAGS`), which even root cannot unlink, so the kernel
//! refuses it.
//!
//! "Base holds top's data" is, on this backend, "the commit completed and the VM pivoted" (the
//! `active` pointer names base): a job that fails may already have copied some of top's clusters
//! into base, which the model's fact does not mean.

pub mod daemon;
pub mod files;
pub mod guest;
pub mod job;
pub mod nbd;
pub mod qmp;

use super::qcow2::{disk_dir, patterns, Qcow2};
use super::{
    Chain, DataCheck, DiskFacts, HostJob, InjectedFaults, Storage, StorageError, StorageResult,
    ThreadJob, BASE, TOP,
};
use crate::sync::lock;
use daemon::{top_node, Daemon};
use files::{read_volume, set_immutable};
use guest::{Guest, GuestVerdict, Shared};
use job::{job_prefix, watch};
use qmp::Qmp;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The setup patterns' size (base's at 0, top's at 64 KiB, as in the qcow2 backend).
const CHUNK: u32 = 64 * 1024;

/// The live host of one VM.
pub struct Live {
    dir: PathBuf,
    n: usize,
    /// The same files, read while the daemon is down.
    files: Qcow2,
    daemon: Mutex<Option<Daemon>>,
    qmp: Mutex<Option<Arc<Qmp>>>,
    guest: Mutex<Option<Guest>>,
    shared: Arc<Shared>,
    jobs: Arc<Mutex<Vec<bool>>>,
    faults: Mutex<InjectedFaults>,
    job_seq: AtomicU64,
}

impl Live {
    /// Starts the host of the engine directory `dir` (its disks already created) and its guest,
    /// which writes a block per disk every `guest_every`.
    pub fn open(dir: &Path, n: usize, guest_every: Duration) -> Result<Live, crate::Error> {
        use crate::Error;
        daemon::check_tool().map_err(Error::MissingTool)?;
        daemon::socket_paths(dir).map_err(Error::BadInput)?;
        let files = Qcow2::open(dir, n)?;
        for d in 0..n {
            // An engine killed while it made top unremovable (a planted deleteVolume failure)
            // left the attribute on: the next deletion must meet the file as it really is.
            let top = disk_dir(dir, d).join(TOP);
            if top.exists() {
                let _ = set_immutable(&top, false);
            }
        }
        let d = Daemon::start(dir, n).map_err(Error::Storage)?;
        let qmp = Arc::clone(&d.qmp);
        let shared = Arc::new(Shared::new(n));
        let guest = Guest::start(dir, d.nbd_sock.clone(), n, guest_every, Arc::clone(&shared))
            .map_err(Error::Storage)?;
        Ok(Live {
            dir: dir.to_path_buf(),
            n,
            files,
            daemon: Mutex::new(Some(d)),
            qmp: Mutex::new(Some(qmp)),
            guest: Mutex::new(Some(guest)),
            shared,
            jobs: Arc::new(Mutex::new(vec![false; n])),
            faults: Mutex::new(InjectedFaults::default()),
            job_seq: AtomicU64::new(0),
        })
    }

    /// The same host, with the faults to meet (tests, replays).
    pub fn with_faults(self, faults: InjectedFaults) -> Live {
        *lock(&self.faults) = faults;
        self
    }

    /// The daemon's process id, while it runs.
    pub fn daemon_pid(&self) -> Option<u32> {
        lock(&self.daemon).as_ref().map(Daemon::pid)
    }

    fn qmp(&self) -> Result<Arc<Qmp>, String> {
        let q = lock(&self.qmp)
            .clone()
            .ok_or("the host's qemu-storage-daemon is stopped")?;
        match q.closed_reason() {
            Some(why) => Err(format!("the host is down: {why}")),
            None => Ok(q),
        }
    }

    fn dd(&self, d: usize) -> Result<PathBuf, String> {
        if d < self.n {
            Ok(disk_dir(&self.dir, d))
        } else {
            Err(format!("no disk {d}"))
        }
    }

    /// Stops the guest, reads every block back through the export, stops the daemon, and reads
    /// every block again from the active volume's files.
    pub fn shutdown(&self) -> GuestVerdict {
        if let Some(mut g) = lock(&self.guest).take() {
            g.stop();
        }
        let mut v = GuestVerdict {
            writes: self
                .shared
                .writes
                .iter()
                .map(|a| a.load(Ordering::SeqCst))
                .collect(),
            during_merge: self
                .shared
                .during_merge
                .iter()
                .map(|a| a.load(Ordering::SeqCst))
                .collect(),
            ..GuestVerdict::default()
        };
        v.serving = (0..self.n)
            .map(|d| match self.qmp().and_then(|q| Live::live_chain(&q, d)) {
                Ok(c) => c.volumes.join(" -> "),
                Err(_) => "nothing (the daemon is down)".into(),
            })
            .collect();
        let exp = guest::expectations(&self.dir, self.n);
        let sock = lock(&self.daemon).as_ref().map(|d| d.nbd_sock.clone());
        for d in 0..self.n {
            let r = match (&exp, &sock, self.qmp()) {
                (Err(e), _, _) => Err(e.clone()),
                (_, _, Err(e)) => Err(e),
                (_, None, _) => Err("the daemon is stopped".to_string()),
                (Ok((e, _)), Some(s), Ok(_)) => {
                    nbd::Nbd::connect(s, &daemon::export(d)).and_then(|mut c| {
                        guest::lost_blocks(&e[d], d, |b| {
                            c.read(guest::FIRST + b * guest::BLOCK, guest::BLOCK as u32)
                        })
                    })
                }
            };
            v.export.push(r);
        }
        *lock(&self.qmp) = None;
        if let Some(mut d) = lock(&self.daemon).take() {
            d.stop();
        }
        v.acknowledged = std::fs::read_to_string(self.dir.join(guest::LOG))
            .map(|t| t.lines().filter(|l| l.starts_with("a ")).count() as u64)
            .unwrap_or(0);
        for d in 0..self.n {
            let active = self.files.active(d).unwrap_or_else(|e| e);
            v.read_from.push(active.clone());
            let r = match &exp {
                Err(e) => Err(e.clone()),
                Ok((e, _)) => read_volume(&disk_dir(&self.dir, d), &active).and_then(|raw| {
                    guest::lost_blocks(&e[d], d, |b| {
                        let at = (guest::FIRST + b * guest::BLOCK) as usize;
                        raw.get(at..at + guest::BLOCK as usize)
                            .map(<[u8]>::to_vec)
                            .ok_or_else(|| format!("{active} is shorter than the disk"))
                    })
                }),
            };
            v.files.push(r);
        }
        v
    }

    /// The chain under disk `d`'s export, leaf first, from the daemon.
    fn live_chain(q: &Qmp, d: usize) -> Result<Chain, String> {
        let exports = q.execute("query-block-exports", json!({}))?;
        let leaf = exports
            .as_array()
            .and_then(|a| a.iter().find(|e| e["id"] == daemon::export(d).as_str()))
            .and_then(|e| e["node-name"].as_str())
            .ok_or("the disk's export is gone")?
            .to_string();
        // Not flat: each node's image then carries its backing chain.
        let nodes = q.execute("query-named-block-nodes", json!({"flat": false}))?;
        let node = nodes
            .as_array()
            .and_then(|a| a.iter().find(|n| n["node-name"] == leaf.as_str()))
            .ok_or_else(|| format!("node {leaf} is not in the daemon"))?;
        let mut volumes = Vec::new();
        let mut img = Some(&node["image"]);
        while let Some(i) = img.filter(|i| i.is_object()) {
            let f = i["filename"].as_str().unwrap_or("?");
            // A blkdebug node shows as a json: filename that names the file inside.
            volumes.push(if f.contains(TOP) {
                TOP.to_string()
            } else if f.contains(BASE) {
                BASE.to_string()
            } else {
                f.to_string()
            });
            img = i.get("backing-image");
        }
        Ok(Chain { volumes })
    }

    fn node_exists(q: &Qmp, name: &str) -> Result<bool, String> {
        let nodes = q.execute("query-named-block-nodes", json!({"flat": true}))?;
        Ok(nodes
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n["node-name"] == name)))
    }

    /// `block-commit` of disk `d`'s active layer, and the job that follows it to its pivot. As
    /// `VM.merge` (`verb`), a commit the daemon refuses is VDSM's `mergeErr`: `merge()` answers a
    /// `blockCommit` that libvirt refuses so (`vdsm/virt/vm.py:4602-4610` at v4.18.4). Re-issued
    /// after a restart, a refusal is the job's failure, which its watcher observes.
    fn commit(&self, d: usize, verb: bool) -> StorageResult<Box<dyn HostJob>> {
        let dd = self.dd(d)?;
        let q = self.qmp()?;
        if self.files.active(d)? == BASE {
            // Re-issued after a restart: the pivot was done and recorded.
            return Ok(Box::new(ThreadJob(std::thread::spawn(|| Ok(())))));
        }
        let fails = lock(&self.faults).take_merge_fault(d);
        if fails {
            job::arm_write_error(&q, d).map_err(|e| format!("cannot arm blkdebug: {e}"))?;
        }
        let job = format!(
            "{}{}",
            job_prefix(d),
            self.job_seq.fetch_add(1, Ordering::SeqCst) + 1
        );
        let mark = q.event_mark();
        let started = q.execute(
            "block-commit",
            json!({"job-id": job, "device": top_node(d)}),
        );
        if let (true, Err(refused)) = (verb, &started) {
            if fails {
                let _ = job::disarm(&q, d);
            }
            return Err(StorageError::merge_err(format!(
                "block-commit of {} refused: {refused}",
                top_node(d)
            )));
        }
        lock(&self.jobs)[d] = true;
        self.shared.merging[d].store(true, Ordering::SeqCst);
        let (jobs, shared) = (Arc::clone(&self.jobs), Arc::clone(&self.shared));
        let h = std::thread::spawn(move || {
            let r = started.and_then(|_| watch(&q, &job, mark, &dd, &shared, d));
            let r = if fails {
                // The next attempt must meet a healthy base (unless it is to fail too).
                match (r, job::disarm(&q, d)) {
                    (r, Ok(())) => r,
                    (Ok(()), Err(e)) => Err(format!("cannot remove blkdebug: {e}")),
                    (Err(e), Err(e2)) => Err(format!("{e}; cannot remove blkdebug: {e2}")),
                }
            } else {
                r
            };
            shared.merging[d].store(false, Ordering::SeqCst);
            lock(&jobs)[d] = false;
            r.map_err(StorageError::from)
        });
        Ok(Box::new(ThreadJob(h)))
    }

    fn offline_facts(&self, d: usize) -> StorageResult<DiskFacts> {
        let mut f = self.files.facts(d)?;
        f.base_has_top = self.files.active(d)? == BASE;
        f.job_running = lock(&self.jobs)[d];
        Ok(f)
    }
}

impl Storage for Live {
    fn host(&self) -> crate::storage::Host {
        crate::storage::Host::Live
    }

    fn disks(&self) -> usize {
        self.n
    }

    fn vm_merge(&self, d: usize) -> StorageResult<Box<dyn HostJob>> {
        self.dd(d)?;
        // VDSM looks top up in the drive's chain first (`vdsm/virt/vm.py:4552-4557` at v4.18.4):
        // here the chain under the guest's export, what the daemon serves now.
        let chain = Live::live_chain(&*self.qmp()?, d)?;
        if !chain.has_top() {
            return Err(super::qcow2::refused_top(&chain));
        }
        self.commit(d, true)
    }

    fn start_merge(&self, d: usize) -> StorageResult<Box<dyn HostJob>> {
        self.commit(d, false)
    }

    fn read_chain(&self, d: usize) -> StorageResult<Chain> {
        self.dd(d)?;
        Ok(Live::live_chain(&*self.qmp()?, d)?)
    }

    fn delete_top(&self, d: usize) -> StorageResult<()> {
        let top = self.dd(d)?.join(TOP);
        let fails = lock(&self.faults).take_delete_fault(d);
        let q = self.qmp()?;
        if Live::node_exists(&q, &top_node(d))? {
            // Refused by QEMU while top is in the VM's chain (the export's node is above it).
            q.execute("blockdev-del", json!({"node-name": top_node(d)}))?;
        }
        if self.files.active(d)? == TOP {
            return Err(format!("{TOP} is in use by the VM's chain").into());
        }
        if fails && top.exists() {
            if let Err(e) = set_immutable(&top, true) {
                return Err(format!(
                    "deleteVolume failed (planted: this filesystem has no immutable attribute to make the failure real: {e})"
                ).into());
            }
            let r = std::fs::remove_file(&top);
            let _ = set_immutable(&top, false);
            if let Err(e) = r {
                return Err(format!("cannot delete {TOP}: {e}").into());
            }
            return Ok(());
        }
        match std::fs::remove_file(&top) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot delete {TOP}: {e}").into()),
        }
    }

    fn image_info(&self, d: usize) -> StorageResult<bool> {
        let top = self.dd(d)?.join(TOP);
        if lock(&self.faults).take_image_info_fault(d) {
            return Err("GetImageInfo got no answer (injected fault)".into());
        }
        Ok(top.exists())
    }

    fn facts(&self, d: usize) -> StorageResult<DiskFacts> {
        let dd = self.dd(d)?;
        let Ok(q) = self.qmp() else {
            return self.offline_facts(d);
        };
        let top_in_chain = Live::live_chain(&q, d)?.has_top();
        Ok(DiskFacts {
            top_in_chain,
            top_exists: dd.join(TOP).exists(),
            base_has_top: self.files.active(d)? == BASE,
            job_running: lock(&self.jobs)[d] || job::daemon_job_running(&q, d)?,
        })
    }

    fn quick_facts(&self, d: usize) -> Value {
        let Ok(dd) = self.dd(d) else {
            return json!({ "error": "no such disk" });
        };
        json!({
            "active": self.files.active(d).unwrap_or_else(|e| e),
            "top_exists": dd.join(TOP).exists(),
            "job_running": lock(&self.jobs)[d],
            "guest_writes": self.shared.writes[d].load(Ordering::SeqCst),
        })
    }

    fn data_check(&self, d: usize) -> StorageResult<DataCheck> {
        let Ok(_) = self.qmp() else {
            return self.files.data_check(d);
        };
        let sock = lock(&self.daemon)
            .as_ref()
            .map(|x| x.nbd_sock.clone())
            .ok_or("the daemon is stopped")?;
        let mut c = nbd::Nbd::connect(&sock, &daemon::export(d))?;
        let (pb, pt) = patterns(d);
        let base = c.read(0, CHUNK)?;
        let top = c.read(u64::from(CHUNK), CHUNK)?;
        Ok(DataCheck {
            base_data: base.iter().all(|&x| x == pb),
            top_data: top.iter().all(|&x| x == pt),
        })
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(mut g) = lock(&self.guest).take() {
            g.stop();
        }
        if let Some(mut d) = lock(&self.daemon).take() {
            d.stop();
        }
    }
}
