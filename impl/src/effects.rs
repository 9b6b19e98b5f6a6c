//! The effects a state asks for, carried out by workers that then apply what they observed.
//!
//! | the state shows | the worker does | then applies |
//! |---|---|---|
//! | grandchild Running at EXTEND | nothing (qcow2 on file storage needs no extension) | `TaskEnds` |
//! | grandchild Running at MERGE | `VM.merge`: starts the host's block-commit job | `TaskEnds`, then watches the job: `HostJobEnds` or `HostJobFails` |
//! | grandchild Running at MERGE_STATUS | waits until no job runs, reads the chain from storage | `TaskEnds`, and checks that the model's verdict (FAILED iff top still in the chain) matches what was read |
//! | grandchild Running at DESTROY_IMAGE | `deleteVolume`: removes top's file | `TaskEnds`, or `DeleteVolumeFails` |
//! | host job running, nobody watching (after a restart) | re-issues the commit | `HostJobEnds` or `HostJobFails` |
//!
//! Each worker clears its own IO bookkeeping in the same critical section as its last apply, so
//! the dispatch that follows a later step never sees a stale "worker busy" mark.

use crate::engine::{Engine, Source};
use crate::storage::HostJob;
use livemerge_model::{grandchild_can_end, step, Event, Step, Task};
use serde_json::{json, Value};
use std::sync::Arc;

/// Carries out disk `d`'s grandchild at `step`.
pub(crate) fn task(engine: Arc<Engine>, d: usize, step: Step) {
    let e = d as u8;
    match step {
        Step::Extend => {
            let _ = engine.apply_with(Source::Task, &[Event::TaskEnds(e)], None, |io| {
                io.task[d] = false;
                (
                    Event::TaskEnds(e),
                    json!({"extend": "nothing to extend: qcow2 on file storage"}),
                )
            });
        }
        Step::Merge => merge(Arc::clone(&engine), d),
        Step::MergeStatus => merge_status(Arc::clone(&engine), d),
        Step::DestroyImage => {
            let storage = Arc::clone(engine.storage());
            let _ = engine.apply_with(
                Source::Task,
                &[Event::TaskEnds(e), Event::DeleteVolumeFails(e)],
                Some(Event::TaskEnds(e)),
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
    // child's rows are gone, or the engine stops), no new grandchild can have started for this
    // disk, so clearing now cannot hide another worker.
    if let Some(s) = engine.wait_for(|_| true) {
        if !grandchild_can_end(&s, d) || engine.stopping() {
            engine.with_io(|io| io.task[d] = false);
        }
    }
}

/// MERGE: `VM.merge` starts the job (atomically with the grandchild's end), then the same
/// thread watches the job.
fn merge(engine: Arc<Engine>, d: usize) {
    let e = d as u8;
    let storage = Arc::clone(engine.storage());
    let mut job: Option<Result<Box<dyn HostJob>, String>> = None;
    let r = engine.apply_with(
        Source::Task,
        &[Event::TaskEnds(e)],
        Some(Event::TaskEnds(e)),
        |io| {
            io.task[d] = false;
            io.job[d] = true;
            let j = storage.start_merge(d);
            let obs = match &j {
                Ok(_) => json!({"vm_merge": "block commit started"}),
                Err(err) => json!({"vm_merge": err}),
            };
            job = Some(j);
            (Event::TaskEnds(e), obs)
        },
    );
    match (r, job) {
        (Ok(_), Some(j)) => watch_job(&engine, d, j),
        (Err(_), Some(j)) => {
            // Accepted by the precheck but refused after the effect: cannot happen with the
            // model as it is; if it does, say so and let the job finish.
            engine.conformance_error(format!(
                "disk-{}: VM.merge ran but the model refused its grandchild's end",
                d + 1
            ));
            let _ = j.and_then(|j| j.wait());
            engine.with_io(|io| io.job[d] = false);
        }
        (_, None) => {}
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
    let _ = engine.apply_with(Source::Host, &[event], None, |io| {
        io.job[d] = false;
        (event, obs)
    });
}

/// MERGE_STATUS: wait for the job to be gone, read the chain, let the model judge, compare.
fn merge_status(engine: Arc<Engine>, d: usize) {
    let e = d as u8;
    // Until the model would let MergeStatus end (the host's job is gone), or it never will.
    let cfg = *engine.config();
    let Some(s) =
        engine.wait_for(|s| !grandchild_can_end(s, d) || step(&cfg, s, Event::TaskEnds(e)).is_ok())
    else {
        return;
    };
    if !grandchild_can_end(&s, d) {
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
    let r = engine.apply_with(Source::Task, &[Event::TaskEnds(e)], None, |io| {
        io.task[d] = false;
        (Event::TaskEnds(e), obs)
    });
    if let Ok(a) = r {
        let model_failed = a.after.disks[d].task == Task::Failed;
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
