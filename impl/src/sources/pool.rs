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

//!
//! The pool is shared by every removal of one engine process ([`super::Fleet`]): a thread takes
//! whichever removal's child is next in the queue.

use super::Pool;
use crate::engine::{ApplyError, Deed, Engine, Work};
use livemerge_model::{wants, ChildAct, Event};
use serde_json::json;
use std::sync::Arc;

pub(crate) fn worker(pool: Arc<Pool>) {
    while let Some((engine, d)) = pool.next_child() {
        if engine.stopping() {
            engine.finished(Work::Child(d));
            continue;
        }
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
                match act.no_answer_event(d) {
                    // Refused only if a restart or the parent's end-action took the row.
                    None => {
                        let _ = engine.apply(act.event(d));
                    }
                    // 4.5.7's execute() asks the host for top first: what the host answered (or
                    // that it did not) is the event. The call is made under the engine's lock,
                    // once the model accepts one of the two (a scripted schedule may restart
                    // the engine first).
                    Some(no_answer) => answer_image_info(&engine, d, act.event(d), no_answer),
                }
            }
        }
        engine.finished(Work::Child(d));
    }
}

/// The child's `GetImageInfo` for top, and the event it makes: `answered` if the host answered
/// (top there or gone), `no_answer` if it did not. A `no_answer` the model refuses (the fault is
/// off) stops the engine: it cannot go on faithfully.
fn answer_image_info(engine: &Arc<Engine>, d: usize, answered: Event, no_answer: Event) {
    let storage = Arc::clone(engine.storage());
    let mut unanswered = false;
    let r = engine.apply_deed(Deed::io([answered, no_answer], || {
        match storage.image_info(d) {
            Ok(exists) => (
                answered,
                json!({"get_image_info": if exists { "top there" } else { "top gone" }}),
            ),
            Err(e) => {
                unanswered = true;
                (no_answer, json!({"get_image_info": e.to_string()}))
            }
        }
    }));
    // Refused before the call: a restart or the parent's end-action took the row. Refused after
    // a call that got no answer: the model has no such event here.
    if let (Err(ApplyError::Refused(r)), true) = (r, unanswered) {
        engine.abort(format!(
            "disk-{}: GetImageInfo got no answer and the model refuses that: {r}",
            d + 1
        ));
    }
}
