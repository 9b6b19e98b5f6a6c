//! Engine directories: setting one up (qcow2 disks with a snapshot, the database, written so
//! that an interrupted setup is redone, never half-used), its lock, and the checks that keep
//! `run` and `resume` off directories and trace files that are not theirs.

use crate::db::{vm_dir, Db, Layout, Persisted, DB_FILE};
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::storage::qcow2::{self, Qcow2};
use crate::storage::Host;
use crate::trace::Trace;
use livemerge_model::{CmdStatus, Snapshot, State};
use std::path::Path;

/// Present while `run` sets a directory up; lets a re-run redo an interrupted setup.
pub const SETUP_MARKER: &str = ".livemerge-setup";

/// An engine directory's lock: an exclusive `flock` on the directory itself, held while one
/// process sets it up or runs an engine on it (released when dropped, or when the process dies).
#[derive(Debug)]
pub struct DirLock {
    _dir: std::fs::File,
}

/// Takes `dir`'s lock, waiting at most half a second: another livemerge holding it is a one-line
/// error.
pub fn lock_dir(dir: &Path) -> Result<DirLock> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(dir)
        .map_err(|e| Error::BadInput(format!("cannot open {}: {e}", dir.display())))?;
    // A lock just released may still be held for a moment by a child process forked (for
    // qemu-img) between the holder's open and its exec, which closes the descriptor: try again
    // for a short while before calling the directory in use.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        }
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Error::Locked(format!(
                "{} is in use by another livemerge (its directory lock is held)",
                dir.display()
            ))
        } else {
            Error::BadInput(format!("cannot lock {}: {e}", dir.display()))
        });
    }
    Ok(DirLock { _dir: f })
}

/// [`check_new_dir`] before anything is opened, for a clear answer early: a directory another
/// livemerge is setting up or running on is "in use" (its lock is held), not "not empty".
///
/// A directory that does not exist yet is left to [`setup_dir`]: another `run` may create it
/// between this look and a check, and its half-written files, seen without the lock, would read
/// as a foreign directory's.
pub(crate) fn precheck_new_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Ok(m) if m.is_dir() => {
            let _lock = lock_dir(dir)?;
            check_new_dir(dir)
        }
        _ => check_new_dir(dir),
    }
}

/// Creates an engine directory: qcow2 disks with a snapshot, and the database. The directory's
/// lock is taken before anything is checked or written, and returned to be held while the
/// engine runs, so two `run`s on one new directory cannot both set it up.
pub(crate) fn setup_dir(dir: &Path, settings: &Settings) -> Result<(Layout, DirLock)> {
    setup_dir_as(dir, settings, Host::Qcow2)
}

/// [`setup_dir`] for a host on files (qcow2 or live), named in the layout.
pub(crate) fn setup_dir_as(
    dir: &Path,
    settings: &Settings,
    host: Host,
) -> Result<(Layout, DirLock)> {
    let (mut layouts, lock) = setup_vms(dir, settings, host, 1)?;
    Ok((layouts.remove(0), lock))
}

/// [`setup_dir`] for `vms` removals in one engine directory: one database for all, each
/// removal's disks in [`vm_dir`] (the directory itself for one removal).
pub(crate) fn setup_vms(
    dir: &Path,
    settings: &Settings,
    host: Host,
    vms: u32,
) -> Result<(Vec<Layout>, DirLock)> {
    if dir.exists() && !dir.is_dir() {
        check_new_dir(dir)?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::BadInput(format!("cannot create {}: {e}", dir.display())))?;
    // Checked only under the lock: a run setting the directory up holds it, and a check made
    // outside it could see that run's half-written files and call the directory foreign.
    let lock = lock_dir(dir)?;
    check_new_dir(dir)?;
    Ok((setup_checked(dir, settings, host, vms)?, lock))
}

/// Refuses a directory `run` must not touch: one that holds an engine, is not a directory, or
/// holds anything else than an interrupted setup of ours.
pub(crate) fn check_new_dir(dir: &Path) -> Result<()> {
    if dir.join(DB_FILE).exists() {
        return Err(Error::BadInput(format!(
            "{} already holds an engine: use `livemerge resume --dir {}`",
            dir.display(),
            dir.display()
        )));
    }
    if dir.exists() {
        if !dir.is_dir() {
            return Err(Error::BadInput(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| Error::BadInput(format!("cannot read {}: {e}", dir.display())))?;
        if entries.next().is_some() && !dir.join(SETUP_MARKER).exists() {
            return Err(Error::BadInput(format!(
                "{} is not empty and not an engine directory: give an empty or new directory",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Continues [`setup_dir`] once the directory is known to be usable.
fn setup_checked(dir: &Path, settings: &Settings, host: Host, vms: u32) -> Result<Vec<Layout>> {
    let io = |e: std::io::Error| Error::Storage(format!("{}: {e}", dir.display()));
    // Through the one writer of files: a marker planted as a FIFO or device is refused, not
    // waited on or written through.
    crate::outfile::write_atomically(&dir.join(SETUP_MARKER), b"setup in progress\n")
        .map_err(Error::BadInput)?;
    // Leftovers of an interrupted setup (only ours: the marker says the directory is ours).
    for d in 0..crate::MAX_DISKS {
        let dd = qcow2::disk_dir(dir, d);
        if dd.exists() {
            std::fs::remove_dir_all(&dd).map_err(io)?;
        }
    }
    for vm in 0..crate::MAX_VMS {
        let vd = vm_dir(dir, vm, crate::MAX_VMS);
        if vd.exists() {
            std::fs::remove_dir_all(&vd).map_err(io)?;
        }
    }
    let seed = seed_from_clock(settings.seed);
    let mut layouts = Vec::new();
    for vm in 0..vms {
        Qcow2::create(&vm_dir(dir, vm, vms), settings.disks as usize)?;
        // Each removal its own ids (its VM, snapshot, disks, commands), as oVirt's VMs have.
        let vm_seed = seed ^ u64::from(vm).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        layouts.push(Layout::new(host, settings.disks as usize, vm_seed));
    }
    create_db_all(dir, settings, &layouts)?;
    std::fs::remove_file(dir.join(SETUP_MARKER)).map_err(io)?;
    Ok(layouts)
}

/// Writes the database under a temporary name and renames it: `engine.db` exists only whole.
pub(crate) fn create_db(dir: &Path, settings: &Settings, layout: &Layout) -> Result<()> {
    create_db_all(dir, settings, std::slice::from_ref(layout))
}

/// [`create_db`] with one removal per layout, all at the initial state.
pub(crate) fn create_db_all(dir: &Path, settings: &Settings, layouts: &[Layout]) -> Result<()> {
    let tmp = dir.join(format!("{DB_FILE}.tmp"));
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
    }
    let initial = State::initial(settings.disks as usize);
    let removals: Vec<_> = layouts
        .iter()
        .map(|l| (*settings, l.clone(), initial))
        .collect();
    Db::create_all(&tmp, &removals)?;
    std::fs::rename(&tmp, dir.join(DB_FILE))
        .map_err(|e| Error::Db(format!("cannot install {DB_FILE}: {e}")))
}

fn seed_from_clock(seed: u64) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    seed ^ t ^ ((std::process::id() as u64) << 32)
}

/// A new engine's trace must be a new (or empty) file: appending to another run's trace would
/// make one file tell two stories.
pub(crate) fn refuse_used_trace(trace: Option<&Path>) -> Result<()> {
    let Some(p) = trace else { return Ok(()) };
    crate::outfile::check_target(p).map_err(|e| Error::BadInput(format!("--trace {e}")))?;
    match std::fs::metadata(p) {
        Ok(m) if m.len() > 0 => Err(Error::BadInput(format!(
            "--trace {}: already holds a trace (of another run): give a new file",
            p.display()
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn open_trace(trace: Option<&Path>) -> Result<Option<Trace>> {
    trace
        .map(|p| {
            // The error names the path already.
            Trace::open(p).map_err(|e| Error::BadInput(format!("--trace {e}")))
        })
        .transpose()
}

/// Refuses a `resume --trace` file that is not this directory's trace (another engine's, or one
/// without a header naming its directory), or that is ahead of the database (the database lost
/// committed steps: a damaged WAL or file rolled it back). Returns the trace's last `seq`.
pub(crate) fn check_trace_belongs(tp: &Path, dir: &Path, p: &Persisted) -> Result<u64> {
    let x = crate::trace::Existing::read(tp)
        .map_err(|e| Error::BadInput(format!("--trace {}: cannot read: {e}", tp.display())))?;
    let mine = serde_json::to_value(&p.layout).unwrap_or_default();
    let vm = |l: &serde_json::Value| l["vm_id"].as_str().unwrap_or("none").to_string();
    if let Some(other) = x.layouts.iter().find(|l| **l != mine) {
        return Err(Error::BadInput(format!(
            "--trace {}: the trace of another engine (its header names VM {}, {}'s database VM {}): give this directory's trace or a new file",
            tp.display(),
            vm(other),
            dir.display(),
            p.layout.vm_id
        )));
    }
    if x.records > 0 && x.layouts.is_empty() {
        return Err(Error::BadInput(format!(
            "--trace {}: holds records but no header naming its engine directory: give a new file",
            tp.display()
        )));
    }
    if x.last_seq > p.seq {
        return Err(Error::BadInput(format!(
            "{}: the database is behind the trace: its last step is seq {}, the trace {} records seq {}; committed steps were lost (a damaged WAL or database file?): refusing to resume",
            dir.display(),
            p.seq,
            tp.display(),
            x.last_seq
        )));
    }
    Ok(x.last_seq)
}

/// Refuses a database whose oVirt rows are not the ones its engine committed: every step
/// commits the rows of its state with the state in one transaction, so the rows are always
/// `project(state)`. A status outside oVirt's closed enums (as the model reads them), a row
/// deleted or added, or a field changed is corruption, and `resume` must not build on it. Run
/// before the engine writes anything. The error is one line naming the first problem.
pub(crate) fn check_rows(path: &Path, db: &Db, p: &Persisted) -> Result<()> {
    let rows = db.read_rows()?;
    let corrupt = |what: String| {
        Error::BadInput(format!(
            "{} is corrupt: {what}: its rows are not the ones its engine committed (seq {}); refusing to resume (nothing was changed)",
            path.display(),
            p.seq
        ))
    };
    let who = |id: &str| -> String {
        if id == p.layout.parent_command_id {
            return "the parent's (RemoveSnapshot)".into();
        }
        match p.layout.disks.iter().position(|d| d.child_command_id == id) {
            Some(i) => format!("disk-{}'s child's", i + 1),
            None => format!("command {id}'s"),
        }
    };
    // oVirt's enums are closed: a value outside them is named as such.
    for c in &rows.commands {
        if CmdStatus::from_ovirt_name(&c.status).is_none() {
            return Err(corrupt(format!(
                "{} row in command_entities has status '{}', which is not an oVirt command status",
                who(&c.command_id),
                c.status
            )));
        }
    }
    if let Some(s) = &rows.snapshot {
        if Snapshot::from_ovirt_name(&s.status).is_none() {
            return Err(corrupt(format!(
                "the snapshots row has status '{}', which is not an oVirt snapshot status",
                s.status
            )));
        }
    }
    for i in &rows.images {
        if !IMAGE_STATUSES.contains(&i.image_status.as_str()) {
            return Err(corrupt(format!(
                "image {} has status '{}', which is not an oVirt image status",
                i.image_guid, i.image_status
            )));
        }
    }
    let want = crate::db::project(&p.state, &p.layout);
    if rows == want {
        return Ok(());
    }
    for w in &want.commands {
        match rows.commands.iter().find(|c| c.command_id == w.command_id) {
            None => {
                return Err(corrupt(format!(
                    "{} row in command_entities is missing",
                    who(&w.command_id)
                )))
            }
            Some(c) if c != w => {
                return Err(corrupt(format!(
                    "{} row in command_entities differs (status {}, committed {})",
                    who(&w.command_id),
                    c.status,
                    w.status
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(c) = rows.commands.iter().find(|c| !want.commands.contains(c)) {
        return Err(corrupt(format!(
            "command_entities holds a row the engine did not commit ({} row, status {})",
            who(&c.command_id),
            c.status
        )));
    }
    match (&rows.snapshot, &want.snapshot) {
        (None, Some(_)) => return Err(corrupt("the snapshots row is missing".into())),
        (Some(_), None) => {
            return Err(corrupt(
                "a snapshots row is there that the engine deleted".into(),
            ))
        }
        (Some(r), Some(w)) if r != w => {
            return Err(corrupt(format!(
                "the snapshots row differs (status {}, committed {})",
                r.status, w.status
            )))
        }
        _ => {}
    }
    Err(corrupt(
        "the images rows differ from the ones committed".into(),
    ))
}

/// oVirt's `ImageStatus` values a row may hold.
const IMAGE_STATUSES: [&str; 3] = ["OK", "LOCKED", "ILLEGAL"];
