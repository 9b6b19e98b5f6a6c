//! `run`, `resume`, `replay` and the guest's report on the live backend.
//!
//! These follow `session::run_dir` and the harness's qcow2 replay step for step; what differs
//! is the host: a [`Live`] started after the directory is set up (the daemon is this process's child),
//! and once the engine is done, [`Live::shutdown`]: the guest stops, every block is read back
//! through the export, the daemon stops, and every block is read again from the files. The
//! guest's rate is kept in `live.json` so that `resume` writes at the same pace.

use super::{drive, Outcome, DB_FILE};
use crate::db::{Db, Layout};
use crate::engine::Parts;
use crate::error::{Error, Result};
use crate::scheduler::Gate;
use crate::session;
use crate::settings::Settings;
use crate::sources::Start;
use crate::storage::live::guest::GuestVerdict;
use crate::storage::live::{daemon, Live};
use crate::storage::{Host, InjectedFaults, Storage};
use livemerge_model::State;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The live backend's knobs, kept in the engine directory.
pub const CONFIG: &str = "live.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveOptions {
    /// The guest writes one block per disk every this many milliseconds.
    pub guest_write_ms: u64,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions { guest_write_ms: 5 }
    }
}

impl LiveOptions {
    pub fn every(&self) -> Duration {
        Duration::from_millis(self.guest_write_ms.max(1))
    }
}

/// Fails unless the tools are there and `dir` is short enough for the daemon's sockets.
pub(crate) fn preflight(dir: &Path) -> Result<()> {
    crate::storage::qcow2::check_tools()?;
    daemon::check_tool().map_err(Error::MissingTool)?;
    daemon::socket_paths(dir).map_err(Error::BadInput)?;
    Ok(())
}

/// Sets up a new engine directory for the live backend: disks, database, `live.json`.
pub(crate) fn setup(
    dir: &Path,
    settings: &Settings,
    opts: LiveOptions,
) -> Result<(Layout, session::DirLock)> {
    let (layout, lock) = session::setup_dir_as(dir, settings, Host::Live)?;
    write_config(dir, opts)?;
    Ok((layout, lock))
}

/// Keeps the live knobs in `dir` (`live.json`), for `resume`.
pub(crate) fn write_config(dir: &Path, opts: LiveOptions) -> Result<()> {
    let json = serde_json::to_string(&opts).unwrap_or_default();
    crate::outfile::write_atomically(&dir.join(CONFIG), json.as_bytes()).map_err(Error::Storage)
}

/// `livemerge run --host live`: sets up `dir`, starts its host and guest, removes the snapshot.
/// `faults`: merge jobs and `deleteVolume`s to fail for real (blkdebug, an immutable top).
pub(crate) fn run_live(
    dir: &Path,
    settings: Settings,
    opts: LiveOptions,
    faults: InjectedFaults,
    gate: Arc<dyn Gate>,
    trace: Option<&Path>,
) -> Result<Outcome> {
    settings.validate()?;
    preflight(dir)?;
    session::precheck_new_dir(dir)?;
    session::refuse_used_trace(trace)?;
    let trace = session::open_trace(trace)?;
    let (layout, _lock) = setup(dir, &settings, opts)?;
    let db = Db::open_engine(&dir.join(DB_FILE))?;
    let live =
        Arc::new(Live::open(dir, settings.disks as usize, opts.every())?.with_faults(faults));
    let parts = Parts {
        settings,
        layout,
        db,
        state: State::initial(settings.disks as usize),
        seq: 0,
        storage: Arc::clone(&live) as Arc<dyn Storage>,
        gate,
        trace,
    };
    let mut o = drive(parts, Start::Fresh);
    o.guest = Some(live.shutdown());
    Ok(o)
}

/// The host of a live engine directory, for `resume`: the daemon restarted from the files.
pub fn open_for_resume(dir: &Path, n: usize) -> Result<Arc<Live>> {
    preflight(dir)?;
    let opts: LiveOptions = std::fs::read_to_string(dir.join(CONFIG))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    Ok(Arc::new(Live::open(dir, n, opts.every())?))
}

/// The guest's lines of a report.
pub fn report(g: &GuestVerdict) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "guest: {} write(s) acknowledged in all; every block read back through the export, then from the files with the daemon stopped:",
        g.acknowledged
    );
    let lost = |r: &std::result::Result<Vec<u64>, String>| match r {
        Ok(l) if l.is_empty() => "nothing lost".to_string(),
        Ok(l) => format!("{} BLOCK(S) LOST {:?}", l.len(), l),
        Err(e) => format!("not read ({e})"),
    };
    for d in 0..g.files.len() {
        let _ = writeln!(
            out,
            "  disk-{}: {} write(s) here, {} during a merge job; serving {}; export: {}; files ({}): {}",
            d + 1,
            g.writes.get(d).copied().unwrap_or(0),
            g.during_merge.get(d).copied().unwrap_or(0),
            g.serving.get(d).map_or("?", String::as_str),
            g.export.get(d).map_or("?".into(), lost),
            g.read_from.get(d).map_or("?", String::as_str),
            lost(&g.files[d]),
        );
    }
    out
}
