//! The host's merge jobs: a watcher per job waits for it to end and applies `HostJobEnds` or
//! `HostJobFails`. After a restart the state may say a job runs that nobody watches: it is
//! started again (redoing the commit of the same top into the same base is safe) and watched.

use super::StartedJob;
use crate::engine::{Deed, Engine, Work};
use livemerge_model::Event;
use serde_json::json;
use std::sync::Arc;

/// Re-issues disk `d`'s job, whose watcher died with the old engine, and watches it.
pub(crate) fn rewatch(engine: Arc<Engine>, d: usize) {
    let j = engine.storage().start_merge(d);
    watch(&engine, d, j);
}

/// Waits for disk `d`'s job to end and applies what it did; the watcher's mark is cleared in
/// the same critical section.
pub(crate) fn watch(engine: &Arc<Engine>, d: usize, job: StartedJob) {
    let e = d as u8;
    let result = job.and_then(|j| j.wait());
    let (event, obs) = match &result {
        Ok(()) => (
            Event::HostJobEnds(e),
            json!({"host_job": "merged, pivoted to base"}),
        ),
        Err(err) => (Event::HostJobFails(e), json!({"host_job": err.to_string()})),
    };
    let _ = engine.apply_deed(Deed::observed(event, obs).ending(Work::HostJob(d)));
}
