//! The thread pool that runs child commands, as oVirt's `ThreadPoolUtil` does: a fixed number of
//! threads take queued children in order. A child was persisted NOT_STARTED and queued by the
//! parent (`ParentStartsChild`) before it reaches a thread, which is what opens bug 1280160's
//! window.
//!
//! A pool thread first spends the configured start cost (oVirt builds the command and its
//! context and runs `validate()` before `execute()` persists ACTIVE), then applies
//! `PoolPicksUp`. If the child's row is gone (the parent already ended), nothing runs, as in the
//! bug report; otherwise `execute()` does nothing but succeed (`ChildReturns`): the child's
//! steps are driven by its callback. From 4.5.7 it asks the host for top first (`GetImageInfo`);
//! no answer is `ImageInfoFails`.

use super::Sources;
use crate::engine::{ApplyError, Engine, Work};
use livemerge_model::{wants, ChildAct};
use std::sync::Arc;

pub(crate) fn worker(engine: Arc<Engine>, sources: Arc<Sources>) {
    while let Some(d) = sources.next_child(&engine) {
        let cost = engine.settings().start_cost();
        if !cost.is_zero() {
            std::thread::sleep(cost);
        }
        if let Ok(s) = engine.apply(ChildAct::PickUp.event(d)) {
            // The thread goes on into execute() only if the model says one is running there: a
            // thread that found no row ran nothing.
            if let Some(act) = wants(engine.config(), &s).disks()[d]
                .child
                .filter(|&a| a != ChildAct::PickUp)
            {
                // 4.5.7's execute() asks the host for top first: what the host answered (or that
                // it did not) is the event. Refused later only if a restart or the parent's
                // end-action took the row.
                let event = match act.no_answer_event(d) {
                    Some(no_answer) => engine
                        .storage()
                        .image_info(d)
                        .map(|_| act.event(d))
                        .map_err(|e| (no_answer, e)),
                    None => Ok(act.event(d)),
                };
                match event {
                    Ok(e) => {
                        let _ = engine.apply(e);
                    }
                    // No answer where the model has no such event (the fault is off): the
                    // engine cannot go on faithfully.
                    Err((e, why)) => {
                        if let Err(ApplyError::Refused(r)) = engine.apply(e) {
                            engine.abort(format!(
                                "GetImageInfo for disk {} got no answer ({why}) and the model refuses that: {r}",
                                d + 1
                            ));
                        }
                    }
                }
            }
        }
        engine.finished(Work::Child(d));
    }
}
