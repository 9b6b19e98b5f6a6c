//! The live engine directory's files, read and changed without the daemon: the view `audit --dir`
//! takes after the daemon stopped, the whole disk read back for the guest's verdict, and the
//! immutable attribute that makes a `deleteVolume` fail for real.

use crate::storage::qcow2::Qcow2;
use crate::storage::{Chain, DataCheck, DiskFacts, HostJob, Storage, StorageResult, BASE};
use serde_json::Value;
use std::path::Path;

/// A live engine directory read from its files alone, the daemon down (`audit --dir`): the
/// qcow2 backend's reads, except that "base holds top's data" means the pivot was recorded (see
/// the module's doc). It runs no job.
pub struct Files(pub Qcow2);

impl Storage for Files {
    fn host(&self) -> crate::storage::Host {
        crate::storage::Host::Live
    }
    fn disks(&self) -> usize {
        self.0.disks()
    }
    fn vm_merge(&self, _: usize) -> StorageResult<Box<dyn HostJob>> {
        Err("the host is not running (files only)".into())
    }
    fn start_merge(&self, _: usize) -> StorageResult<Box<dyn HostJob>> {
        Err("the host is not running (files only)".into())
    }
    fn read_chain(&self, d: usize) -> StorageResult<Chain> {
        self.0.read_chain(d)
    }
    fn delete_top(&self, _: usize) -> StorageResult<()> {
        Err("the host is not running (files only)".into())
    }
    fn image_info(&self, _: usize) -> StorageResult<bool> {
        Err("the host is not running (files only)".into())
    }
    fn facts(&self, d: usize) -> StorageResult<DiskFacts> {
        let mut f = self.0.facts(d)?;
        f.base_has_top = self.0.active(d)? == BASE;
        Ok(f)
    }
    fn quick_facts(&self, d: usize) -> Value {
        self.0.quick_facts(d)
    }
    fn data_check(&self, d: usize) -> StorageResult<DataCheck> {
        self.0.data_check(d)
    }
}

/// The whole disk as raw bytes, read from `volume`'s chain in `dd` (`qemu-img convert`).
pub fn read_volume(dd: &Path, volume: &str) -> Result<Vec<u8>, String> {
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
pub fn set_immutable(path: &Path, on: bool) -> Result<(), String> {
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

/// Opens `dir`'s live engine on the files alone (the daemon is not started): for audits.
pub fn open_files(dir: &std::path::Path, n: usize) -> crate::error::Result<Files> {
    Ok(Files(Qcow2::open(dir, n)?))
}
