//! The qcow2 backend: real volumes on disk, driven by `qemu-img` and `qemu-io`.
//!
//! Layout of an engine directory, per disk `disk-N/`:
//! - `base.qcow2`: 1 MiB, pattern `0xa0+i` written at offset 0 (64 KiB);
//! - `top.qcow2`: the snapshot overlay backed by base, pattern `0xb0+i` at 64 KiB (64 KiB);
//! - `active`: the VM's active (leaf) volume, `top.qcow2` until the block commit pivots it to
//!   `base.qcow2` (written to a temporary name, then renamed);
//! - `job.pid`: while a `qemu-img commit` runs, its process id. A killed engine leaves its
//!   commit running (as a host keeps its job when the engine dies): the next engine waits for it
//!   before re-issuing the merge, so two commits never fight over the same images.
//!
//! The merge is `qemu-img commit -d top.qcow2` (top's data into its backing file; `-d` keeps top
//! intact, so top holds its data until `deleteVolume`), then the pivot. Reads use `-U`
//! (force-share) so facts can be read while a job holds the images.

use super::{
    Chain, DataCheck, DiskFacts, HostJob, Storage, StorageError, StorageResult, BASE, TOP,
};
use crate::error::{one_line, Error};
use crate::sync::lock;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes written to each layer, and where.
const CHUNK: u64 = 64 * 1024;
const BASE_OFFSET: u64 = 0;
const TOP_OFFSET: u64 = 64 * 1024;
/// How long a merge waits for images locked by a killed engine's leftover commit.
const LOCK_WAIT: Duration = Duration::from_secs(30);

pub struct Qcow2 {
    dir: PathBuf,
    n: usize,
    /// Jobs this process runs, per disk.
    jobs: Arc<Mutex<Vec<bool>>>,
    faults: std::sync::Mutex<super::InjectedFaults>,
}

/// The patterns of disk `d`: (base's, top's). Distinct per disk, so a mix-up between disks shows.
pub fn patterns(d: usize) -> (u8, u8) {
    (0xa0 + d as u8, 0xb0 + d as u8)
}

/// The directory of disk `d` (0-based) under an engine directory.
pub fn disk_dir(dir: &Path, d: usize) -> PathBuf {
    dir.join(format!("disk-{}", d + 1))
}

/// Fails with a one-line message unless `qemu-img` and `qemu-io` run.
pub fn check_tools() -> Result<(), Error> {
    for tool in ["qemu-img", "qemu-io"] {
        match Command::new(tool).arg("--version").output() {
            Ok(o) if o.status.success() => {}
            _ => {
                return Err(Error::MissingTool(format!(
                    "{tool} not found or not runnable: install Debian's qemu-utils (apt-get install qemu-utils)"
                )))
            }
        }
    }
    Ok(())
}

fn run(dir: &Path, prog: &str, args: &[&str]) -> Result<Output, String> {
    Command::new(prog)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run {prog}: {e}"))
}

/// Whether `pattern` reads back at `offset` (one chunk) through `volume`'s chain, read-only and
/// without taking the image lock (a running VM or job may hold it).
fn reads_pattern(dir: &Path, volume: &str, pattern: u8, offset: u64) -> Result<bool, String> {
    let cmd = format!("read -P {pattern:#x} {offset} {CHUNK}");
    let args = ["-r", "-U", "-f", "qcow2", "-c", &cmd, volume];
    Ok(run(dir, "qemu-io", &args)?.status.success())
}

fn run_ok(dir: &Path, prog: &str, args: &[&str]) -> Result<Output, String> {
    let o = run(dir, prog, args)?;
    if o.status.success() {
        Ok(o)
    } else {
        Err(format!(
            "{prog} {} failed: {}",
            args.join(" "),
            one_line(&String::from_utf8_lossy(&o.stderr))
        ))
    }
}

/// Writes `content` to `path` through a temporary file and a rename: never half-written.
pub fn write_atomic(path: &Path, content: &str) -> std::io::Result<()> {
    crate::outfile::write_atomically(path, content.as_bytes()).map_err(std::io::Error::other)
}

/// Whether process `pid` is alive and is a qemu-img (Linux `/proc`).
fn qemu_img_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("qemu-img"))
        .unwrap_or(false)
}

impl Qcow2 {
    fn faults(&self) -> std::sync::MutexGuard<'_, super::InjectedFaults> {
        lock(&self.faults)
    }

    /// Creates `n` disks under `dir`, each `base <- top` with its patterns written.
    pub fn create(dir: &Path, n: usize) -> Result<Qcow2, Error> {
        check_tools()?;
        for d in 0..n {
            let dd = disk_dir(dir, d);
            std::fs::create_dir_all(&dd)
                .map_err(|e| Error::Storage(format!("cannot create {}: {e}", dd.display())))?;
            let (pb, pt) = patterns(d);
            let (write_base, write_top) = (
                format!("write -P {pb:#x} {BASE_OFFSET} {CHUNK}"),
                format!("write -P {pt:#x} {TOP_OFFSET} {CHUNK}"),
            );
            let steps: [(&str, &[&str]); 4] = [
                ("qemu-img", &["create", "-q", "-f", "qcow2", BASE, "1M"]),
                ("qemu-io", &["-f", "qcow2", "-c", &write_base, BASE]),
                (
                    "qemu-img",
                    &[
                        "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", BASE, TOP,
                    ],
                ),
                ("qemu-io", &["-f", "qcow2", "-c", &write_top, TOP]),
            ];
            for (prog, args) in steps {
                run_ok(&dd, prog, args).map_err(Error::Storage)?;
            }
            write_atomic(&dd.join("active"), TOP)
                .map_err(|e| Error::Storage(format!("cannot write the active pointer: {e}")))?;
        }
        Ok(Qcow2::attach(dir, n))
    }

    /// The same disks, with faults to inject (tests, replays of paths with faults).
    pub fn with_faults(self, faults: super::InjectedFaults) -> Qcow2 {
        Qcow2 {
            faults: std::sync::Mutex::new(faults),
            ..self
        }
    }

    /// Opens the disks of an existing engine directory.
    pub fn open(dir: &Path, n: usize) -> Result<Qcow2, Error> {
        check_tools()?;
        for d in 0..n {
            let p = disk_dir(dir, d).join("active");
            if !p.is_file() {
                return Err(Error::NotEngineDir(format!(
                    "{} is not an engine directory: {} is missing",
                    dir.display(),
                    p.display()
                )));
            }
        }
        Ok(Qcow2::attach(dir, n))
    }

    fn attach(dir: &Path, n: usize) -> Qcow2 {
        Qcow2 {
            dir: dir.to_path_buf(),
            n,
            jobs: Arc::new(Mutex::new(vec![false; n])),
            faults: Default::default(),
        }
    }

    fn dd(&self, d: usize) -> Result<PathBuf, String> {
        if d < self.n {
            Ok(disk_dir(&self.dir, d))
        } else {
            Err(format!("no disk {d}"))
        }
    }

    /// The VM's active volume of disk `d`, from its pointer file.
    pub fn active(&self, d: usize) -> Result<String, String> {
        let p = self.dd(d)?.join("active");
        let s =
            std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let s = s.trim().to_string();
        if s == TOP || s == BASE {
            Ok(s)
        } else {
            Err(format!("{} names an unknown volume '{s}'", p.display()))
        }
    }

    /// A commit left running by a killed engine, if any.
    fn orphan(dd: &Path) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(dd.join("job.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        qemu_img_alive(pid).then_some(pid)
    }
}

/// VDSM's answer to a `VM.merge` whose top is not in the chain the VM uses (after a pivot):
/// `mergeErr` (`vdsm/virt/vm.py:4552-4557` at v4.18.4, "merge: top volume ... not found").
pub(crate) fn refused_top(chain: &Chain) -> StorageError {
    StorageError::merge_err(format!(
        "merge: top volume {TOP} not found in the VM's chain ({})",
        chain.volumes.join(" <- ")
    ))
}

/// The body of a merge job: wait out a leftover commit, commit, pivot.
fn merge_job(dd: &Path) -> StorageResult<()> {
    let deadline = Instant::now() + LOCK_WAIT;
    while Qcow2::orphan(dd).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    loop {
        let child = Command::new("qemu-img")
            .args(["commit", "-q", "-d", "-f", "qcow2", TOP])
            .current_dir(dd)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run qemu-img commit: {e}"))?;
        let _ = write_atomic(&dd.join("job.pid"), &child.id().to_string());
        let out = child
            .wait_with_output()
            .map_err(|e| format!("qemu-img commit: {e}"))?;
        let _ = std::fs::remove_file(dd.join("job.pid"));
        if out.status.success() {
            break;
        }
        let err = one_line(&String::from_utf8_lossy(&out.stderr));
        // A commit started by a killed engine before it could record its pid holds the lock.
        if err.contains("lock") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        return Err(format!("qemu-img commit failed: {err}").into());
    }
    write_atomic(&dd.join("active"), BASE)
        .map_err(|e| format!("pivot to {BASE} failed: {e}").into())
}

/// A started merge whose `qemu-img commit` runs when the job is waited for: in the watcher that
/// the engine launches once the step recording `VM.merge` is committed. An engine killed between
/// the host call and that commit then leaves no commit behind that its database does not know
/// of (a spawned one would have outlived it and written top's data into base, where the state
/// says no merge ever reached the host); one killed after it leaves a job that `resume` re-issues.
struct CommitJob {
    dd: PathBuf,
    d: usize,
    jobs: Arc<Mutex<Vec<bool>>>,
    fails: bool,
}

impl HostJob for CommitJob {
    fn wait(self: Box<Self>) -> StorageResult<()> {
        if self.fails {
            return Err("block commit failed (injected fault)".into());
        }
        merge_job(&self.dd)
    }

    fn abandon(self: Box<Self>) {}
}

impl Drop for CommitJob {
    fn drop(&mut self) {
        lock(&self.jobs)[self.d] = false;
    }
}

impl Storage for Qcow2 {
    fn host(&self) -> super::Host {
        super::Host::Qcow2
    }

    fn disks(&self) -> usize {
        self.n
    }

    fn vm_merge(&self, d: usize) -> StorageResult<Box<dyn HostJob>> {
        let chain = self.read_chain(d)?;
        if !chain.has_top() {
            return Err(refused_top(&chain));
        }
        self.start_merge(d)
    }

    fn start_merge(&self, d: usize) -> StorageResult<Box<dyn HostJob>> {
        let dd = self.dd(d)?;
        lock(&self.jobs)[d] = true;
        Ok(Box::new(CommitJob {
            dd,
            d,
            jobs: Arc::clone(&self.jobs),
            fails: self.faults().take_merge_fault(d),
        }))
    }

    fn read_chain(&self, d: usize) -> StorageResult<Chain> {
        let dd = self.dd(d)?;
        let active = self.active(d)?;
        let o = run_ok(
            &dd,
            "qemu-img",
            &["info", "--backing-chain", "--output=json", "-U", &active],
        )?;
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .map_err(|e| format!("qemu-img info printed no JSON: {e}"))?;
        let volumes = v
            .as_array()
            .ok_or("qemu-img info --backing-chain did not print a list")?
            .iter()
            .filter_map(|img| img["filename"].as_str())
            .map(|f| {
                Path::new(f)
                    .file_name()
                    .map_or(f.to_string(), |n| n.to_string_lossy().into_owned())
            })
            .collect();
        Ok(Chain { volumes })
    }

    fn delete_top(&self, d: usize) -> StorageResult<()> {
        let dd = self.dd(d)?;
        if self.faults().take_delete_fault(d) {
            return Err("deleteVolume failed (injected fault)".into());
        }
        if self.active(d)? == TOP {
            return Err(format!("{TOP} is in use by the VM's chain").into());
        }
        match std::fs::remove_file(dd.join(TOP)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot delete {TOP}: {e}").into()),
        }
    }

    fn image_info(&self, d: usize) -> StorageResult<bool> {
        let dd = self.dd(d)?;
        if self.faults().take_image_info_fault(d) {
            return Err("GetImageInfo got no answer (injected fault)".into());
        }
        Ok(dd.join(TOP).exists())
    }

    fn facts(&self, d: usize) -> StorageResult<DiskFacts> {
        let dd = self.dd(d)?;
        let top_exists = dd.join(TOP).exists();
        let top_in_chain = match self.read_chain(d) {
            Ok(c) => c.has_top(),
            // An active volume that cannot be opened: the VM still points at it.
            Err(_) => self.active(d)? == TOP,
        };
        let (_, pt) = patterns(d);
        let base_has_top = reads_pattern(&dd, BASE, pt, TOP_OFFSET)?;
        let job_running = lock(&self.jobs)[d] || Qcow2::orphan(&dd).is_some();
        Ok(DiskFacts {
            top_in_chain,
            top_exists,
            base_has_top,
            job_running,
        })
    }

    fn quick_facts(&self, d: usize) -> serde_json::Value {
        let Ok(dd) = self.dd(d) else {
            return json!({ "error": "no such disk" });
        };
        json!({
            "active": self.active(d).unwrap_or_else(|e| e),
            "top_exists": dd.join(TOP).exists(),
            "job_running": lock(&self.jobs)[d],
        })
    }

    fn data_check(&self, d: usize) -> StorageResult<DataCheck> {
        let dd = self.dd(d)?;
        let active = self.active(d)?;
        let (pb, pt) = patterns(d);
        Ok(DataCheck {
            base_data: reads_pattern(&dd, &active, pb, BASE_OFFSET)?,
            top_data: reads_pattern(&dd, &active, pt, TOP_OFFSET)?,
        })
    }
}

/// Reads `volume` of disk `d` (0-based) under the engine directory `dir` as a qcow2 image
/// (`qemu-img info`, without taking its lock): a one-line error when it is missing or is not a
/// readable qcow2 image. `audit --dir` asks this of every volume the trace's last state says
/// exists (the facts alone cannot tell a deleted base from one that never held top's data).
pub fn read_volume(dir: &Path, d: usize, volume: &str) -> Result<(), String> {
    let dd = disk_dir(dir, d);
    let path = dd.join(volume);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(format!("{} is not a regular file", path.display())),
        Err(e) => return Err(format!("{} is missing ({e})", path.display())),
    }
    run_ok(
        &dd,
        "qemu-img",
        &["info", "-U", "-f", "qcow2", "--output=json", volume],
    )
    .map(|_| ())
}
