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
pub mod guest;
pub mod nbd;
pub mod qmp;
pub mod session;

use super::qcow2::{disk_dir, patterns, write_atomic, Qcow2};
use super::{Chain, DataCheck, DiskFacts, HostJob, InjectedFaults, Storage, ThreadJob, BASE, TOP};
use daemon::{base_file_node, base_node, top_node, Daemon};
use guest::{Guest, GuestVerdict, Shared};
use qmp::Qmp;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a merge job may run before it is taken for hung.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);
const CHUNK: u32 = 64 * 1024;
/// How often the job's watcher looks at it, as VDSM polls libvirt's block jobs: a job that is
/// READY stays mirroring (and the guest writing into it) until the next look.
const JOB_POLL: Duration = Duration::from_millis(50);

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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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

    /// `blkdebug` under base's qcow2 node: its first data write after this fails with EIO.
    fn arm_write_error(q: &Qmp, d: usize) -> Result<(), String> {
        q.execute(
            "blockdev-add",
            json!({"driver": "blkdebug", "node-name": dbg_node(d), "image": base_file_node(d),
                   "inject-error": [{"event": "write_aio", "errno": 5, "once": true}]}),
        )?;
        q.execute(
            "blockdev-reopen",
            json!({"options": [{"driver": "qcow2", "node-name": base_node(d), "file": dbg_node(d)}]}),
        )
        .map(|_| ())
    }

    /// Takes the `blkdebug` node out again (its one error is spent, so the flush goes through).
    fn disarm(q: &Qmp, d: usize) -> Result<(), String> {
        q.execute(
            "blockdev-reopen",
            json!({"options": [{"driver": "qcow2", "node-name": base_node(d), "file": base_file_node(d)}]}),
        )?;
        q.execute("blockdev-del", json!({"node-name": dbg_node(d)}))
            .map(|_| ())
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

    fn daemon_job_running(q: &Qmp, d: usize) -> Result<bool, String> {
        let jobs = q.execute("query-block-jobs", json!({}))?;
        let prefix = job_prefix(d);
        Ok(jobs.as_array().is_some_and(|a| {
            a.iter().any(|j| {
                j["device"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(&prefix))
            })
        }))
    }

    fn offline_facts(&self, d: usize) -> Result<DiskFacts, String> {
        let mut f = self.files.facts(d)?;
        f.base_has_top = self.files.active(d)? == BASE;
        f.job_running = lock(&self.jobs)[d];
        Ok(f)
    }
}

/// A live engine directory read from its files alone, the daemon down (`audit --dir`): the
/// qcow2 backend's reads, except that "base holds top's data" means the pivot was recorded (see
/// the module's doc). It runs no job.
pub struct Files(pub Qcow2);

impl Storage for Files {
    fn kind(&self) -> &'static str {
        "live"
    }
    fn disks(&self) -> usize {
        self.0.disks()
    }
    fn start_merge(&self, _: usize) -> Result<Box<dyn HostJob>, String> {
        Err("the host is not running (files only)".into())
    }
    fn read_chain(&self, d: usize) -> Result<Chain, String> {
        self.0.read_chain(d)
    }
    fn delete_top(&self, _: usize) -> Result<(), String> {
        Err("the host is not running (files only)".into())
    }
    fn facts(&self, d: usize) -> Result<DiskFacts, String> {
        let mut f = self.0.facts(d)?;
        f.base_has_top = self.0.active(d)? == BASE;
        Ok(f)
    }
    fn quick_facts(&self, d: usize) -> Value {
        self.0.quick_facts(d)
    }
    fn data_check(&self, d: usize) -> Result<DataCheck, String> {
        self.0.data_check(d)
    }
}

fn dbg_node(d: usize) -> String {
    format!("d{}-base-blkdebug", d + 1)
}

fn job_prefix(d: usize) -> String {
    format!("commit-d{}-", d + 1)
}

/// The whole disk as raw bytes, read from `volume`'s chain in `dd` (`qemu-img convert`).
fn read_volume(dd: &Path, volume: &str) -> Result<Vec<u8>, String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot create a scratch directory: {e}"))?;
    let raw = tmp.path().join("disk.raw");
    let o = std::process::Command::new("qemu-img")
        .args(["convert", "-U", "-f", "qcow2", "-O", "raw", volume])
        .arg(&raw)
        .current_dir(dd)
        .output()
        .map_err(|e| format!("cannot run qemu-img convert: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "qemu-img convert {volume}: {}",
            crate::error::one_line(&String::from_utf8_lossy(&o.stderr))
        ));
    }
    std::fs::read(&raw).map_err(|e| format!("cannot read {}: {e}", raw.display()))
}

/// Sets or clears the immutable attribute of `path` (ext4, xfs, btrfs...: even root cannot
/// unlink an immutable file).
fn set_immutable(path: &Path, on: bool) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS / SETFLAGS read and write one long through a valid pointer.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
    if r != 0 {
        return Err(format!(
            "FS_IOC_GETFLAGS: {}",
            std::io::Error::last_os_error()
        ));
    }
    const FS_IMMUTABLE_FL: libc::c_long = 0x10;
    flags = if on {
        flags | FS_IMMUTABLE_FL
    } else {
        flags & !FS_IMMUTABLE_FL
    };
    // SAFETY: as above.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) };
    if r != 0 {
        return Err(format!(
            "FS_IOC_SETFLAGS: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The body of a merge job, once `block-commit` was accepted: follow the job's events from
/// `mark`; at READY pause the guest's writes to the disk, pivot, record the pivot.
fn watch(
    q: &Qmp,
    job: &str,
    mark: usize,
    dd: &Path,
    shared: &Shared,
    d: usize,
) -> Result<(), String> {
    let mine = |e: &Value| {
        e["data"]["device"] == job
            && matches!(
                e["event"].as_str(),
                Some("BLOCK_JOB_READY" | "BLOCK_JOB_COMPLETED" | "BLOCK_JOB_ERROR")
            )
    };
    let mut at = mark;
    let mut io_error: Option<String> = None;
    let t0 = std::time::Instant::now();
    loop {
        std::thread::sleep(JOB_POLL);
        if t0.elapsed() > JOB_TIMEOUT {
            return Err(format!(
                "block-commit {job}: not ready after {} s",
                JOB_TIMEOUT.as_secs()
            ));
        }
        // What happened to the job since the last look.
        let mut ready = false;
        while let Ok((e, next)) = q.wait_event(at, Duration::ZERO, mine) {
            at = next;
            match e["event"].as_str() {
                Some("BLOCK_JOB_ERROR") => {
                    io_error = Some(format!(
                        "{} error ({})",
                        e["data"]["operation"].as_str().unwrap_or("I/O"),
                        e["data"]["action"].as_str().unwrap_or("?")
                    ));
                }
                Some("BLOCK_JOB_COMPLETED") => {
                    return match (e["data"]["error"].as_str(), io_error) {
                        (Some(err), _) => Err(format!("block-commit {job} failed: {err}")),
                        (None, Some(err)) => Err(format!("block-commit {job} failed: {err}")),
                        // Completed without a pivot request: QEMU ended it (cancelled, top went).
                        (None, None) => {
                            Err(format!("block-commit {job} ended before it was ready"))
                        }
                    };
                }
                _ => ready = true,
            }
        }
        if let Some(why) = q.closed_reason() {
            return Err(format!("block-commit {job}: {why}"));
        }
        match ready {
            false => continue,
            true => {
                // READY: base is in sync with top and mirrors every write. The pivot.
                let _pause = shared.pause[d].write().unwrap_or_else(|e| e.into_inner());
                q.execute("job-complete", json!({"id": job}))?;
                let (e, _) = q
                    .wait_event(at, JOB_TIMEOUT, |e| {
                        e["data"]["device"] == job && e["event"] == "BLOCK_JOB_COMPLETED"
                    })
                    .map_err(|w| format!("block-commit {job}: {w}"))?;
                if let Some(err) = e["data"]["error"].as_str() {
                    return Err(format!("block-commit {job} failed at the pivot: {err}"));
                }
                return write_atomic(&dd.join("active"), BASE)
                    .map_err(|e| format!("pivot to {BASE} done, but cannot record it: {e}"));
            }
        }
    }
}

impl Storage for Live {
    fn kind(&self) -> &'static str {
        "live"
    }

    fn disks(&self) -> usize {
        self.n
    }

    fn start_merge(&self, d: usize) -> Result<Box<dyn HostJob>, String> {
        let dd = self.dd(d)?;
        let q = self.qmp()?;
        if self.files.active(d)? == BASE {
            // Re-issued after a restart: the pivot was done and recorded.
            return Ok(Box::new(ThreadJob(std::thread::spawn(|| Ok(())))));
        }
        let fails = lock(&self.faults).take_merge_fault(d);
        if fails {
            Live::arm_write_error(&q, d).map_err(|e| format!("cannot arm blkdebug: {e}"))?;
        }
        let job = format!(
            "{}{}",
            job_prefix(d),
            self.job_seq.fetch_add(1, Ordering::SeqCst) + 1
        );
        lock(&self.jobs)[d] = true;
        self.shared.merging[d].store(true, Ordering::SeqCst);
        let mark = q.event_mark();
        let started = q.execute(
            "block-commit",
            json!({"job-id": job, "device": top_node(d)}),
        );
        let (jobs, shared) = (Arc::clone(&self.jobs), Arc::clone(&self.shared));
        let h = std::thread::spawn(move || {
            let r = started.and_then(|_| watch(&q, &job, mark, &dd, &shared, d));
            let r = if fails {
                // The next attempt must meet a healthy base (unless it is to fail too).
                match (r, Live::disarm(&q, d)) {
                    (r, Ok(())) => r,
                    (Ok(()), Err(e)) => Err(format!("cannot remove blkdebug: {e}")),
                    (Err(e), Err(e2)) => Err(format!("{e}; cannot remove blkdebug: {e2}")),
                }
            } else {
                r
            };
            shared.merging[d].store(false, Ordering::SeqCst);
            lock(&jobs)[d] = false;
            r
        });
        Ok(Box::new(ThreadJob(h)))
    }

    fn read_chain(&self, d: usize) -> Result<Chain, String> {
        self.dd(d)?;
        Live::live_chain(&*self.qmp()?, d)
    }

    fn delete_top(&self, d: usize) -> Result<(), String> {
        let top = self.dd(d)?.join(TOP);
        let fails = lock(&self.faults).take_delete_fault(d);
        let q = self.qmp()?;
        if Live::node_exists(&q, &top_node(d))? {
            // Refused by QEMU while top is in the VM's chain (the export's node is above it).
            q.execute("blockdev-del", json!({"node-name": top_node(d)}))?;
        }
        if self.files.active(d)? == TOP {
            return Err(format!("{TOP} is in use by the VM's chain"));
        }
        if fails && top.exists() {
            if let Err(e) = set_immutable(&top, true) {
                return Err(format!(
                    "deleteVolume failed (planted: this filesystem has no immutable attribute to make the failure real: {e})"
                ));
            }
            let r = std::fs::remove_file(&top);
            let _ = set_immutable(&top, false);
            if let Err(e) = r {
                return Err(format!("cannot delete {TOP}: {e}"));
            }
            return Ok(());
        }
        match std::fs::remove_file(&top) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot delete {TOP}: {e}")),
        }
    }

    fn facts(&self, d: usize) -> Result<DiskFacts, String> {
        let dd = self.dd(d)?;
        let Ok(q) = self.qmp() else {
            return self.offline_facts(d);
        };
        let top_in_chain = Live::live_chain(&q, d)?.has_top();
        Ok(DiskFacts {
            top_in_chain,
            top_exists: dd.join(TOP).exists(),
            base_has_top: self.files.active(d)? == BASE,
            job_running: lock(&self.jobs)[d] || Live::daemon_job_running(&q, d)?,
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

    fn data_check(&self, d: usize) -> Result<DataCheck, String> {
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
