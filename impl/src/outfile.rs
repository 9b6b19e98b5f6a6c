//! Every file the tool writes goes through here (`--svg`, `--save`, `--trace`, the engine
//! directory's pointer files), so that one rule holds for all of them: a target that exists and
//! is not a regular file (a device, a FIFO, a directory, a symlink to one of those) is refused
//! and left as it is; a whole file is written to a temporary file in the same directory, synced,
//! renamed over the target, and the directory synced, so it exists only whole; a file appended to
//! (the trace) is opened without blocking and checked to be a regular file once open.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What a file type is, in words, for the refusal.
fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn refusal(path: &Path, t: std::fs::FileType) -> String {
    format!(
        "{}: refusing to write: it exists and is {} (give a regular file or a new name)",
        path.display(),
        kind(t)
    )
}

/// Refuses `path` if it exists (through symlinks) and is not a regular file; a dangling symlink
/// is refused too (writing would create a file somewhere else).
pub fn check_target(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) => Err(refusal(path, m.file_type())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                Err(format!(
                    "{}: refusing to write: a symlink to nothing",
                    path.display()
                ))
            } else {
                Ok(())
            }
        }
        Err(e) => Err(format!("{}: cannot write: {e}", path.display())),
    }
}

/// The directory `path` is in (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to `path` whole: refused if the target is not a regular file; otherwise a
/// temporary file in the same directory, fsync, rename, fsync of the directory. On any error the
/// target is unchanged and the temporary file is gone.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    check_target(path)?;
    if path.file_name().is_none() {
        return Err(format!("{}: not a file name", path.display()));
    }
    let dir = dir_of(path);
    let fail = |e: &dyn std::fmt::Display| format!("{}: cannot write: {e}", path.display());
    // Created as any new file is (0666 less the umask), not tempfile's private 0600: what the
    // rename leaves behind is the user's file, readable as their other files are.
    let mut tmp = tempfile::Builder::new()
        .prefix(".livemerge-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    tmp.write_all(bytes).map_err(|e| fail(&e))?;
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    // Checked again just before the rename: the window is the rename itself.
    check_target(path)?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    // The rename is durable only once the directory is synced.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail(&e))
}

/// Opens `path` for appending (created if missing), refusing anything but a regular file. The
/// open does not block (a FIFO with no reader is refused at once, not waited on), and the check
/// is made on the open file, so a target swapped in between cannot slip through.
pub fn open_append(path: &Path) -> Result<File, String> {
    check_target(path)?;
    // Readable too: the trace cuts a torn last line off before it appends.
    let file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENXIO) => format!(
                "{}: refusing to write: it is a FIFO or socket with no reader",
                path.display()
            ),
            _ => format!("{}: cannot open: {e}", path.display()),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(refusal(path, meta.file_type()));
    }
    if let Some(fs) = kernel_filesystem(&file) {
        return Err(format!(
            "{}: refusing to write: it is a file of {fs}, a kernel interface that takes no trace (give a file on a real filesystem)",
            path.display()
        ));
    }
    Ok(file)
}

/// The name of the kernel pseudo-filesystem `file` is on (procfs, sysfs, ...), if it is on one:
/// its files look regular and may even open for writing, but a write fails or does something
/// else than store the bytes (`/proc/self/status`), so a trace there would stop the engine at
/// its first step instead of being refused before anything starts.
fn kernel_filesystem(file: &File) -> Option<&'static str> {
    use std::os::fd::AsRawFd;
    const KERNEL: [(u64, &str); 13] = [
        (0x9fa0, "procfs"),
        (0x6265_6572, "sysfs"),
        (0x6462_6720, "debugfs"),
        (0x7472_6163, "tracefs"),
        (0x0027_e0eb, "cgroupfs"),
        (0x6367_7270, "cgroup2fs"),
        (0x7363_6673, "securityfs"),
        (0x6265_6570, "configfs"),
        (0xcafe_4a11, "bpffs"),
        (0xde5e_81e4, "efivarfs"),
        (0x6165_676c, "pstorefs"),
        (0xf97c_ff8c, "selinuxfs"),
        (0x6573_5543, "fusectl"),
    ];
    // SAFETY: fstatfs fills the zeroed struct we own from a descriptor we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    let magic = st.f_type as u64 & 0xffff_ffff;
    KERNEL
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

/// Reads at most `max` bytes of a regular file: a device, a FIFO or a giant file is refused
/// rather than read forever.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let shown = path.display();
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{shown}: cannot read: not a regular file ({})",
            kind(meta.file_type())
        ));
    }
    if meta.len() > max {
        return Err(format!(
            "{shown}: too large ({} bytes, at most {max})",
            meta.len()
        ));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if buf.len() as u64 > max {
        return Err(format!("{shown}: too large (more than {max} bytes)"));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The process's umask, read without changing it (Linux 4.7 and later).
    fn umask() -> Option<u32> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("Umask:"))?;
        u32::from_str_radix(line.split_whitespace().nth(1)?, 8).ok()
    }

    #[test]
    fn a_written_file_follows_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.svg");
        write_atomically(&target, b"<svg/>").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"<svg/>");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        if let Some(mask) = umask() {
            assert_eq!(mode, 0o666 & !mask, "mode {mode:o}, umask {mask:o}");
        }
        // Nothing but the target is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
