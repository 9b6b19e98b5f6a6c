//! The effects a state asks for, carried out by workers that then apply what they observed.
//!
//! | the state shows | the worker does | then applies |
//! |---|---|---|
//! | grandchild Queued | a pool thread takes it | `GrandchildPicksUp`; at MERGE `VM.merge` starts the host's block-commit job (`MergeReachesHost`, then a watcher: `HostJobEnds` or `HostJobFails`), or the host refuses it because top is no longer in the chain (`MergeRefused`); then `GrandchildReturns` |
//! | grandchild Running at EXTEND | nothing (qcow2 on file storage needs no extension) | `TaskEnds` |
//! | grandchild Running at MERGE | nothing: the job is the host's | `TaskEnds` |
//! | grandchild Running at MERGE_STATUS | waits until no job runs, reads the chain from storage | `TaskEnds`, and checks that the model's verdict (FAILED iff top still in the chain) matches what was read |
//! | grandchild Running at DESTROY_IMAGE | `deleteVolume`: removes top's file | `TaskEnds`, or `DeleteVolumeFails` |
//! | grandchild Running at DESTROY_IMAGE_CHECK | reads whether top's file is gone | `TaskEnds`, checking the model's verdict against what was read |
//! | host job running, nobody watching (after a restart) | re-issues the commit | `HostJobEnds` or `HostJobFails` |
//!
//! Each worker clears its own IO bookkeeping in the same critical section as its last apply, so
//! the dispatch that follows a later step never sees a stale "worker busy" mark.

use crate::engine::{Engine, Source};
use crate::storage::HostJob;
use livemerge_model::{
    grandchild_active, grandchild_can_end, grandchild_id, step, Event, State, Step, Task,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// A pool thread runs disk `d`'s queued grandchild (`id`: its removal and step) through its `execute()`, then
/// carries it out as [`task`] does.
pub(crate) fn grandchild(engine: Arc<Engine>, d: usize, id: Id) {
    let (e, step) = (d as u8, id.1);
    // Only a grandchild without a callback has a phase between its queue and VM.merge/returning.
    if !step.grandchild_has_callback()
        && apply_mine(&engine, Source::Pool, d, id, Event::GrandchildPicksUp(e)).is_err()
    {
        engine.with_io(|io| io.task[d] = false);
        return;
    }
    if step == Step::Merge && !vm_merge(&engine, d, id) {
        engine.with_io(|io| io.task[d] = false);
        return;
    }
    if apply_mine(&engine, Source::Pool, d, id, Event::GrandchildReturns(e)).is_err() {
        engine.with_io(|io| io.task[d] = false);
        return;
    }
    task(engine, d, id);
}

/// Applies the end of disk `d`'s grandchild with what the worker observed, if it is still the
/// worker's grandchild; the worker's mark is cleared in the same critical section.
fn end_task(
    engine: &Arc<Engine>,
    d: usize,
    id: Id,
    observed: Value,
) -> Result<crate::engine::Applied, livemerge_model::Refused> {
    let e = d as u8;
    engine.apply_with(
        Source::Task,
        &[Event::TaskEnds(e)],
        None,
        mine(d, id),
        |io| {
            io.task[d] = false;
            (Event::TaskEnds(e), observed)
        },
    )
}

/// Which grandchild a worker was started for (see [`grandchild_id`]).
pub(crate) type Id = (u8, Step);

/// The state still shows the grandchild this worker was started for.
fn mine(d: usize, id: Id) -> impl Fn(&State) -> bool {
    move |s| grandchild_id(s, d) == id
}

/// Applies `event` if the worker's grandchild is still the current one.
fn apply_mine(
    engine: &Arc<Engine>,
    source: Source,
    d: usize,
    id: Id,
    event: Event,
) -> Result<crate::engine::Applied, livemerge_model::Refused> {
    engine.apply_with(source, &[event], None, mine(d, id), move |_| {
        (event, Value::Null)
    })
}

/// The poller dispatches an EXECUTION_FAILED grandchild's own callback, which ends it FAILED.
pub(crate) fn end_by_callback(engine: Arc<Engine>, d: usize) {
    let e = d as u8;
    let _ = engine.apply_with(
        Source::Poller,
        &[Event::TaskEnds(e)],
        Some(Event::TaskEnds(e)),
        |_| true,
        |io| {
            io.task[d] = false;
            (
                Event::TaskEnds(e),
                json!({"callback": "EXECUTION_FAILED: ended FAILED"}),
            )
        },
    );
    engine.with_io(|io| io.task[d] = false);
}

/// `VM.merge`: starts the host's block-commit job and a watcher for it, or observes the host's
/// refusal. True if the Merge grandchild goes on to return.
fn vm_merge(engine: &Arc<Engine>, d: usize, id: Id) -> bool {
    let e = d as u8;
    let storage = Arc::clone(engine.storage());
    let mut job: Option<Result<Box<dyn HostJob>, String>> = None;
    let r = engine.apply_with(
        Source::Pool,
        &[Event::MergeReachesHost(e), Event::MergeRefused(e)],
        Some(Event::MergeReachesHost(e)),
        mine(d, id),
        |io| match storage.read_chain(d) {
            Ok(chain) if !chain.has_top() => (
                Event::MergeRefused(e),
                json!({"vm_merge": "refused: top is not in the chain"}),
            ),
            _ => {
                io.job[d] = true;
                let j = storage.start_merge(d);
                let obs = match &j {
                    Ok(_) => json!({"vm_merge": "block commit started"}),
                    Err(err) => json!({"vm_merge": err}),
                };
                job = Some(j);
                (Event::MergeReachesHost(e), obs)
            }
        },
    );
    match (r, job) {
        (Ok(a), Some(j)) => {
            let me = Arc::clone(engine);
            engine.spawn(move || watch_job(&me, d, j));
            a.after.disk(d).task() == Task::Executing
        }
        (Err(_), Some(j)) => {
            engine.conformance_error(format!(
                "disk-{}: VM.merge ran but the model refused it",
                d + 1
            ));
            let _ = j.and_then(|j| j.wait());
            engine.with_io(|io| io.job[d] = false);
            false
        }
        _ => false,
    }
}

/// Carries out disk `d`'s grandchild (its step is `id.1`) once its `execute()` returned.
pub(crate) fn task(engine: Arc<Engine>, d: usize, id: Id) {
    let (e, step) = (d as u8, id.1);
    match step {
        Step::Extend | Step::Merge => {
            let what = if step == Step::Extend {
                json!({"extend": "nothing to extend: qcow2 on file storage"})
            } else {
                json!({"merge": "VM.merge accepted; the job is the host's"})
            };
            let _ = end_task(&engine, d, id, what);
        }
        Step::DestroyImageCheck => destroy_image_check(&engine, d, id),
        Step::MergeStatus => merge_status(Arc::clone(&engine), d, id),
        Step::DestroyImage => {
            let storage = Arc::clone(engine.storage());
            let _ = engine.apply_with(
                Source::Task,
                &[Event::TaskEnds(e), Event::DeleteVolumeFails(e)],
                Some(Event::TaskEnds(e)),
                mine(d, id),
                |io| {
                    io.task[d] = false;
                    match storage.delete_top(d) {
                        Ok(()) => (Event::TaskEnds(e), json!({"delete_volume": "deleted"})),
                        Err(err) => (Event::DeleteVolumeFails(e), json!({"delete_volume": err})),
                    }
                },
            );
        }
        Step::Complete => {}
    }
    // Every path above cleared the mark under the lock if its effect ran. If it did not (the
    // child's rows are gone, or the engine stops), clear it now, unless a grandchild is active
    // again: then the next step's worker owns the mark.
    if let Some(s) = engine.wait_for(|_| true) {
        if !grandchild_active(&s, d) || engine.stopping() {
            engine.with_io(|io| io.task[d] = false);
        }
    }
}

/// After a restart the state says a job runs that nobody watches: redo it.
pub(crate) fn reissue_job(engine: Arc<Engine>, d: usize) {
    let j = engine.storage().start_merge(d);
    watch_job(&engine, d, j);
}

fn watch_job(engine: &Arc<Engine>, d: usize, job: Result<Box<dyn HostJob>, String>) {
    let e = d as u8;
    let result = job.and_then(|j| j.wait());
    let (event, obs) = match &result {
        Ok(()) => (
            Event::HostJobEnds(e),
            json!({"host_job": "merged, pivoted to base"}),
        ),
        Err(err) => (Event::HostJobFails(e), json!({"host_job": err})),
    };
    let _ = engine.apply_with(
        Source::Host,
        &[event],
        None,
        |_| true,
        |io| {
            io.job[d] = false;
            (event, obs)
        },
    );
}

/// MERGE_STATUS: wait for the job to be gone, read the chain, let the model judge, compare.
fn merge_status(engine: Arc<Engine>, d: usize, id: Id) {
    let e = d as u8;
    // Until the model would let MergeStatus end (the host's job is gone), or it never will.
    let cfg = *engine.config();
    let gone = |s: &State| !grandchild_can_end(s, d) || !mine(d, id)(s);
    let Some(s) = engine.wait_for(|s| gone(s) || step(&cfg, s, Event::TaskEnds(e)).is_ok()) else {
        return;
    };
    if gone(&s) {
        return;
    }
    let chain = match engine.storage().read_chain(d) {
        Ok(c) => c,
        Err(err) => {
            engine.abort(format!(
                "disk-{}: MERGE_STATUS cannot read the chain: {err}",
                d + 1
            ));
            return;
        }
    };
    let obs: Value = json!({"chain": chain.volumes});
    let r = end_task(&engine, d, id, obs);
    if let Ok(a) = r {
        let model_failed = a.after.disk(d).task() == Task::Failed;
        if model_failed != chain.has_top() {
            engine.conformance_error(format!(
                "disk-{}: MERGE_STATUS read chain {:?} but the model's grandchild ended {}",
                d + 1,
                chain.volumes,
                if model_failed { "FAILED" } else { "SUCCEEDED" }
            ));
        }
    }
}

/// DESTROY_IMAGE_CHECK: read whether top's volume is gone, let the model judge, compare.
fn destroy_image_check(engine: &Arc<Engine>, d: usize, id: Id) {
    let gone = match engine.storage().facts(d) {
        Ok(f) => !f.top_exists,
        Err(err) => {
            engine.abort(format!(
                "disk-{}: DESTROY_IMAGE_CHECK cannot read the volumes: {err}",
                d + 1
            ));
            return;
        }
    };
    let r = end_task(engine, d, id, json!({"top_volume_gone": gone}));
    if let Ok(a) = r {
        let model_ok = a.after.disk(d).task() == Task::Succeeded;
        if model_ok != gone {
            engine.conformance_error(format!(
                "disk-{}: DESTROY_IMAGE_CHECK read top {} but the model's grandchild ended {}",
                d + 1,
                if gone { "gone" } else { "present" },
                if model_ok { "SUCCEEDED" } else { "FAILED" }
            ));
        }
    }
}
