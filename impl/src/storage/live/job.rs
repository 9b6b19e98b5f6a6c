//! The merge job on the daemon: `block-commit`'s watcher, and the `blkdebug` node that makes a
//! job fail for real.
//!
//! The watcher looks at the job every [`JOB_POLL`], as VDSM polls libvirt's block jobs, through
//! the job's QMP events since `block-commit` was sent. At `BLOCK_JOB_READY` (base in sync, every
//! new write mirrored) it takes the disk's pause lock, so the guest's writes wait while
//! `job-complete` drains and pivots the export onto base and the pivot is recorded in the
//! `active` pointer; no acknowledged write lands in a window where the files could not say which
//! volume holds it. `BLOCK_JOB_ERROR` and `BLOCK_JOB_COMPLETED` with an error fail the job.

use super::daemon::{base_file_node, base_node};
use super::guest::Shared;
use super::qmp::Qmp;
use crate::storage::qcow2::write_atomic;
use crate::storage::BASE;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// How long a merge job may run before it is taken for hung.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);
/// How often the job's watcher looks at it, as VDSM polls libvirt's block jobs: a job that is
/// READY stays mirroring (and the guest writing into it) until the next look.
const JOB_POLL: Duration = Duration::from_millis(50);

fn dbg_node(d: usize) -> String {
    format!("d{}-base-blkdebug", d + 1)
}

pub fn job_prefix(d: usize) -> String {
    format!("commit-d{}-", d + 1)
}

/// `blkdebug` under base's qcow2 node: its first data write after this fails with EIO, and QEMU
/// fails the job. Only once: a rule still armed would also fail the metadata flush that
/// [`disarm`]'s `blockdev-reopen` needs (blkdebug's rules cannot be changed by a reopen), and
/// one failed write is enough to fail the job.
pub fn arm_write_error(q: &Qmp, d: usize) -> Result<(), String> {
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
pub fn disarm(q: &Qmp, d: usize) -> Result<(), String> {
    q.execute(
        "blockdev-reopen",
        json!({"options": [{"driver": "qcow2", "node-name": base_node(d), "file": base_file_node(d)}]}),
    )?;
    q.execute("blockdev-del", json!({"node-name": dbg_node(d)}))
        .map(|_| ())
}

/// Whether the daemon runs a merge job of disk `d`.
pub fn daemon_job_running(q: &Qmp, d: usize) -> Result<bool, String> {
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

/// The body of a merge job, once `block-commit` was accepted: follow the job's events from
/// `mark`; at READY pause the guest's writes to the disk, pivot, record the pivot.
pub fn watch(
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
                let _pause = crate::sync::write(&shared.pause[d]);
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
