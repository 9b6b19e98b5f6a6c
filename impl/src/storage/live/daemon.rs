//! The host: one `qemu-storage-daemon` per VM, a child process of the engine.
//!
//! It runs in the engine directory (so block nodes name their files relatively) with its QMP
//! monitor on `qmp.sock` and its NBD server on `nbd.sock` there. Each disk's chain is added as
//! named nodes, opened from what the files say (the `active` pointer):
//!
//! - `dN-base-file` (file) <- `dN-base` (qcow2), and while top is active
//!   `dN-top` (qcow2, its file inline) backed by `dN-base`;
//! - export `disk-N` (writable) on the active node: the guest's disk; QEMU moves it to base at
//!   the pivot; export `disk-N-base` (read-only) on base.
//!
//! The daemon is killed with its parent (`PR_SET_PDEATHSIG`), so an engine killed with SIGKILL,
//! or stopped by Ctrl-C, takes its host down as well instead of leaking it; a normal stop is
//! QMP `quit`, then SIGKILL if the daemon does not go.

use super::qmp::Qmp;
use crate::storage::qcow2::disk_dir;
use crate::storage::{BASE, TOP};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const QMP_SOCK: &str = "qmp.sock";
pub const NBD_SOCK: &str = "nbd.sock";
pub const PID_FILE: &str = "qsd.pid";
pub const LOG_FILE: &str = "qsd.log";
/// The longest path a unix socket address holds (`sun_path`, with its terminating NUL).
const SUN_PATH_MAX: usize = 107;
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Node names of disk `d` (0-based).
pub fn base_file_node(d: usize) -> String {
    format!("d{}-base-file", d + 1)
}
pub fn base_node(d: usize) -> String {
    format!("d{}-base", d + 1)
}
pub fn top_node(d: usize) -> String {
    format!("d{}-top", d + 1)
}
pub fn export(d: usize) -> String {
    format!("disk-{}", d + 1)
}
pub fn base_export(d: usize) -> String {
    format!("disk-{}-base", d + 1)
}

/// The socket paths under `dir`, or a one-line error if they do not fit a unix socket address.
pub fn socket_paths(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let abs = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (q, n) = (abs.join(QMP_SOCK), abs.join(NBD_SOCK));
    for p in [&q, &n] {
        if p.as_os_str().len() > SUN_PATH_MAX {
            return Err(format!(
                "{}: the directory's path is too long for the daemon's unix sockets ({} bytes; a socket path holds at most {SUN_PATH_MAX}): give a shorter --dir",
                dir.display(),
                p.as_os_str().len()
            ));
        }
    }
    Ok((q, n))
}

/// Fails with a one-line message unless `qemu-storage-daemon` runs.
pub fn check_tool() -> Result<(), String> {
    match Command::new("qemu-storage-daemon").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("qemu-storage-daemon not found or not runnable: install Debian's qemu-utils (apt-get install qemu-utils)".into()),
    }
}

/// A running daemon and its monitor.
pub struct Daemon {
    child: Child,
    pub qmp: std::sync::Arc<Qmp>,
    pub nbd_sock: PathBuf,
}

impl Daemon {
    /// Starts the daemon in `dir` and adds the chains of `n` disks as the files describe them.
    pub fn start(dir: &Path, n: usize) -> Result<Daemon, String> {
        let (qmp_sock, nbd_sock) = socket_paths(dir)?;
        for p in [&qmp_sock, &nbd_sock] {
            let _ = std::fs::remove_file(p);
        }
        let log = std::fs::File::create(dir.join(LOG_FILE))
            .map_err(|e| format!("cannot create {}: {e}", dir.join(LOG_FILE).display()))?;
        let mut cmd = Command::new("qemu-storage-daemon");
        cmd.current_dir(dir)
            .arg("--chardev")
            .arg(format!(
                "socket,id=qmp,path={},server=on,wait=off",
                qmp_sock.display()
            ))
            .args(["--monitor", "chardev=qmp"])
            .arg("--nbd-server")
            .arg(format!("addr.type=unix,addr.path={}", nbd_sock.display()))
            .args(["--pidfile", PID_FILE])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // SAFETY: prctl with constant arguments between fork and exec: async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start qemu-storage-daemon: {e}"))?;
        let t0 = Instant::now();
        let qmp = loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Err(format!(
                    "qemu-storage-daemon exited at start ({st}): {}",
                    last_log_line(dir)
                ));
            }
            if qmp_sock.exists() {
                if let Ok(q) = Qmp::connect(&qmp_sock) {
                    break q;
                }
            }
            if t0.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "qemu-storage-daemon did not open its QMP socket in {} s: {}",
                    START_TIMEOUT.as_secs(),
                    last_log_line(dir)
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut daemon = Daemon {
            child,
            qmp: std::sync::Arc::new(qmp),
            nbd_sock,
        };
        for d in 0..n {
            if let Err(e) = daemon.add_disk(dir, d) {
                daemon.stop();
                return Err(format!("disk-{}: {e}", d + 1));
            }
        }
        Ok(daemon)
    }

    /// Adds disk `d`'s chain from its files: top above base while the pointer names top.
    fn add_disk(&self, dir: &Path, d: usize) -> Result<(), String> {
        let dd = disk_dir(dir, d);
        let rel = |f: &str| format!("disk-{}/{f}", d + 1);
        let active = std::fs::read_to_string(dd.join("active"))
            .map_err(|e| format!("cannot read the active pointer: {e}"))?;
        let q = &self.qmp;
        q.execute(
            "blockdev-add",
            json!({"driver": "file", "node-name": base_file_node(d), "filename": rel(BASE)}),
        )?;
        q.execute(
            "blockdev-add",
            json!({"driver": "qcow2", "node-name": base_node(d), "file": base_file_node(d)}),
        )?;
        let leaf = if active.trim() == TOP {
            q.execute(
                "blockdev-add",
                json!({"driver": "qcow2", "node-name": top_node(d),
                       "file": {"driver": "file", "filename": rel(TOP)},
                       "backing": base_node(d)}),
            )?;
            top_node(d)
        } else {
            base_node(d)
        };
        q.execute(
            "block-export-add",
            json!({"type": "nbd", "id": export(d), "name": export(d), "node-name": leaf, "writable": true}),
        )?;
        q.execute(
            "block-export-add",
            json!({"type": "nbd", "id": base_export(d), "name": base_export(d), "node-name": base_node(d), "writable": false}),
        )?;
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still there.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the daemon: `quit` (it flushes and closes the images), SIGKILL if it lingers.
    pub fn stop(&mut self) {
        if self.alive() {
            let _ = self.qmp.execute("quit", json!({}));
            let t0 = Instant::now();
            while self.alive() && t0.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

fn last_log_line(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(LOG_FILE))
        .ok()
        .and_then(|s| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "no message".into())
}
