//! Many removals in one engine process, as oVirt runs them: one poller, one pool of
//! `pool_threads` threads, one database, and a core per removal whose state only `step` changes
//! (`crate::sources::Fleet`). Each removal is judged on its own rows and volumes, and traced to
//! its own file, so each is audited on its own.
//!
//! An engine directory with several removals keeps one `engine.db` (a `vm` column names each
//! row's removal) and each removal's disks under `vm-K/` ([`super::vm_dir`]); its traces are the
//! files `vm-K.jsonl` of one trace directory. One removal is the plain engine directory.

use super::dir::{check_trace_belongs, open_trace, refuse_used_trace, setup_vms};
use super::live::LiveOptions;
use super::{check_counts, drive_all, Outcome};
use crate::db::{db_path, vm_dir, Db, Layout, DB_FILE};
use crate::engine::Parts;
use crate::error::{Error, Result};
use crate::scheduler::Free;
use crate::settings::Settings;
use crate::sources::Start;
use crate::storage::live::Live;
use crate::storage::qcow2::{self, Qcow2};
use crate::storage::{Host, Storage};
use crate::trace::Trace;
use livemerge_model::State;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Refuses a number of removals outside 1..=[`crate::MAX_VMS`].
pub fn check_vms(vms: u32) -> Result<()> {
    if (1..=crate::MAX_VMS).contains(&vms) {
        Ok(())
    } else {
        Err(Error::BadInput(format!(
            "--vms {vms}: expected 1 to {} removals",
            crate::MAX_VMS
        )))
    }
}

/// The trace file of removal `vm` of `vms`: `trace` itself for one removal, the file
/// `vm-K.jsonl` of the directory `trace` for several.
pub fn trace_of(trace: &Path, vm: u32, vms: u32) -> PathBuf {
    if vms <= 1 {
        trace.to_path_buf()
    } else {
        trace.join(format!("vm-{}.jsonl", vm + 1))
    }
}

/// A directory for the traces of several removals: created if missing; refused if it is not a
/// directory.
fn trace_dir(trace: &Path) -> Result<()> {
    if trace.exists() && !trace.is_dir() {
        return Err(Error::BadInput(format!(
            "--trace {}: with several removals, --trace names a directory (one vm-K.jsonl per removal)",
            trace.display()
        )));
    }
    std::fs::create_dir_all(trace)
        .map_err(|e| Error::BadInput(format!("--trace {}: cannot create: {e}", trace.display())))
}

/// Each removal's trace, opened (none without `--trace`).
fn open_traces(trace: Option<&Path>, vms: u32, fresh: bool) -> Result<Vec<Option<Trace>>> {
    let Some(t) = trace else {
        return Ok((0..vms).map(|_| None).collect());
    };
    if vms > 1 {
        trace_dir(t)?;
    }
    let paths: Vec<PathBuf> = (0..vms).map(|vm| trace_of(t, vm, vms)).collect();
    if fresh {
        for p in &paths {
            refuse_used_trace(Some(p))?;
        }
    }
    paths.iter().map(|p| open_trace(Some(p))).collect()
}

/// The parts of `vms` removals that have applied nothing yet, on one database.
fn fresh_parts(
    settings: Settings,
    layouts: Vec<Layout>,
    db: &Db,
    storages: Vec<Arc<dyn Storage>>,
    traces: Vec<Option<Trace>>,
) -> Vec<Parts> {
    layouts
        .into_iter()
        .zip(storages)
        .zip(traces)
        .enumerate()
        .map(|(vm, ((layout, storage), trace))| Parts {
            settings,
            layout,
            db: db.for_vm(vm as u32),
            state: State::initial(settings.disks as usize),
            seq: 0,
            storage,
            gate: Arc::new(Free),
            trace,
        })
        .collect()
}

/// `livemerge run --vms N`: sets up `dir` with `vms` VMs, each with its snapshot, and removes
/// every snapshot at once in one engine, on a host on files: qcow2, or live (each VM its own
/// `qemu-storage-daemon` and guest, as each oVirt VM has its own QEMU).
pub(crate) fn run_vms_on(
    dir: &Path,
    settings: Settings,
    vms: u32,
    host: Host,
    live: LiveOptions,
    trace: Option<&Path>,
) -> Result<Vec<Outcome>> {
    settings.validate()?;
    check_vms(vms)?;
    match host {
        Host::Qcow2 => qcow2::check_tools()?,
        Host::Live => super::live::preflight(&vm_dir(dir, vms - 1, vms))?,
        Host::Memory => {
            return Err(Error::BadInput(
                "run drives a host on files: --host qcow2 or live".into(),
            ))
        }
    }
    super::precheck_new_dir(dir)?;
    let traces = open_traces(trace, vms, true)?;
    let (layouts, _lock) = setup_vms(dir, &settings, host, vms)?;
    let db = Db::open_engine(&dir.join(DB_FILE))?;
    let hosts = (0..vms)
        .map(|vm| {
            let vd = vm_dir(dir, vm, vms);
            if host == Host::Live {
                super::live::write_config(&vd, live)?;
            }
            open_host(&vd, host, settings.disks as usize)
        })
        .collect::<Result<Vec<_>>>()?;
    let storages = hosts.iter().map(|(s, _)| Arc::clone(s)).collect();
    let parts = fresh_parts(settings, layouts, &db, storages, traces);
    Ok(with_guests(drive_all(parts, Start::Fresh), &hosts))
}

/// A removal's host on the files of `vd` (the daemon of a live one started, or restarted).
type Opened = (Arc<dyn Storage>, Option<Arc<Live>>);

fn open_host(vd: &Path, host: Host, n: usize) -> Result<Opened> {
    match host {
        Host::Live => {
            let l = super::live::open_for_resume(vd, n)?;
            Ok((Arc::clone(&l) as Arc<dyn Storage>, Some(l)))
        }
        _ => Ok((Arc::new(Qcow2::open(vd, n)?) as Arc<dyn Storage>, None)),
    }
}

/// Each live removal's guest verdict, once its engine is done (its daemon stopped).
fn with_guests(mut all: Vec<Outcome>, hosts: &[Opened]) -> Vec<Outcome> {
    for (o, (_, live)) in all.iter_mut().zip(hosts) {
        if let Some(l) = live {
            o.guest = Some(l.shutdown());
        }
    }
    all
}

/// One removal per host of `storages` (a host the harness holds in memory: each its own), one
/// database in `db_dir` (stress and tests: `crate::harness::memory`).
pub(crate) fn run_vms_memory(
    db_dir: &Path,
    settings: Settings,
    storages: Vec<Arc<dyn Storage>>,
    trace: Option<&Path>,
) -> Result<Vec<Outcome>> {
    settings.validate()?;
    let vms = storages.len() as u32;
    check_vms(vms)?;
    let layouts: Vec<Layout> = (0..vms)
        .map(|vm| {
            Layout::new(
                Host::Memory,
                settings.disks as usize,
                settings.seed ^ u64::from(vm).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )
        })
        .collect();
    super::dir::create_db_all(db_dir, &settings, &layouts)?;
    let db = Db::open_engine(&db_dir.join(DB_FILE))?;
    let traces = open_traces(trace, vms, true)?;
    let parts = fresh_parts(settings, layouts, &db, storages, traces);
    Ok(drive_all(parts, Start::Fresh))
}

/// `livemerge resume` on a directory of several removals (its lock held by the caller): every
/// removal is checked as a single one is (its counts, its rows, its trace), then all restart in
/// one engine and go on to their ends.
pub(crate) fn resume_vms(
    dir: &Path,
    db: Db,
    vms: u32,
    trace: Option<&Path>,
    last_traced: &[u64],
    limit_ms: Option<u64>,
) -> Result<Vec<Outcome>> {
    // Everything that can be refused (settings, hosts, trace files) is opened for every removal
    // before any trace is written to: a refusal then leaves every trace as it was.
    let mut opened = Vec::new();
    let mut hosts = Vec::new();
    for vm in 0..vms {
        let h = db.for_vm(vm);
        let p = h.load()?;
        let mut settings = p.settings;
        if let Some(l) = limit_ms {
            settings.limit_ms = l;
        }
        settings.validate()?;
        if p.layout.host == Host::Memory {
            return Err(Error::BadInput(format!(
                "{} holds a {} engine, which cannot be resumed",
                dir.display(),
                p.layout.host
            )));
        }
        let host = open_host(&vm_dir(dir, vm, vms), p.layout.host, p.layout.disks.len())?;
        let storage = Arc::clone(&host.0);
        hosts.push(host);
        let t = match trace {
            Some(t) => open_trace(Some(&trace_of(t, vm, vms)))?,
            None => None,
        };
        opened.push((vm, h, p, settings, storage, t));
    }
    let mut parts = Vec::new();
    for (vm, h, p, settings, storage, mut t) in opened {
        if let Some(t) = t.as_mut() {
            let missing: Vec<_> = h
                .event_log()?
                .into_iter()
                .filter(|r| r.seq > last_traced[vm as usize])
                .collect();
            t.backfill(&settings.model_config(), &p.layout, &missing)
                .map_err(|e| Error::BadInput(format!("cannot write the trace: {e}")))?;
        }
        parts.push(Parts {
            settings,
            layout: p.layout,
            db: h,
            state: p.state,
            seq: p.seq,
            storage,
            gate: Arc::new(Free),
            trace: t,
        });
    }
    Ok(with_guests(drive_all(parts, Start::Restart), &hosts))
}

/// What `resume` checks of every removal before anything is written: counts, rows, and the
/// trace (`trace_of` its directory); the last traced `seq` of each.
pub(crate) fn check_all(
    path: &Path,
    dir: &Path,
    db: &Db,
    trace: Option<&Path>,
) -> Result<(u32, Vec<u64>)> {
    let vms = db.removals()?;
    if vms > 1 {
        if let Some(t) = trace {
            if !t.is_dir() {
                return Err(Error::BadInput(format!(
                    "--trace {}: {} holds {vms} removals: --trace names their trace directory (one vm-K.jsonl each)",
                    t.display(),
                    dir.display()
                )));
            }
        }
    }
    let mut last = Vec::new();
    for vm in 0..vms {
        let h = db.for_vm(vm);
        let p = h.load()?;
        check_counts(path, &p)?;
        super::dir::check_rows(path, &h, &p)?;
        last.push(match trace {
            Some(t) => {
                let tp = trace_of(t, vm, vms);
                crate::outfile::check_target(&tp)
                    .map_err(|e| Error::BadInput(format!("--trace {e}")))?;
                check_trace_belongs(&tp, dir, &p)?
            }
            None => 0,
        });
    }
    Ok((vms, last))
}

/// Whether the engine directory `dir` is laid out for several removals (its first removal's
/// disks under `vm-1/`). A look at the files only: opening the database would change them (a
/// reader's close checkpoints the WAL), and `resume` must find a damaged WAL as it was; the
/// database's rows decide what is resumed.
pub fn laid_out_for_several(dir: &Path) -> bool {
    vm_dir(dir, 0, 2).is_dir()
}

/// The removal of the engine directory `dir` whose VM is `vm_id` (what a trace's header names),
/// its persisted settings, ids and state, and where its disks are; for a directory of one
/// removal, that one whatever the id (the auditor then compares the ids itself).
pub fn removal_named(
    dir: &Path,
    vm_id: Option<&str>,
) -> Result<(u32, crate::db::Persisted, PathBuf)> {
    let all = Db::open_read(&db_path(dir)?)?;
    let vms = all.removals()?;
    if vms == 1 {
        return Ok((0, all.load()?, dir.to_path_buf()));
    }
    for vm in 0..vms {
        let p = all.for_vm(vm).load()?;
        if Some(p.layout.vm_id.as_str()) == vm_id {
            return Ok((vm, p, vm_dir(dir, vm, vms)));
        }
    }
    Err(Error::BadInput(format!(
        "holds {vms} removals and none is the trace's (its header names VM {})",
        vm_id.unwrap_or("none")
    )))
}
