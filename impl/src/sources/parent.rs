//! The parent command's `execute()` thread, and the user who removes the snapshot again after
//! a failed removal (each retry is a new parent command, whose `execute()` the model then wants).

use crate::engine::{Engine, Work};
use livemerge_model::Event;
use std::sync::Arc;

/// `RemoveSnapshotCommand.execute()`: what the model wants of the parent's thread, until it
/// wants nothing more: begin, start a child for each disk that still needs one, return.
pub(crate) fn execute(engine: Arc<Engine>) {
    while let Some(act) = engine.wants().parent() {
        if engine.apply(act.event()).is_err() {
            break;
        }
    }
    engine.finished(Work::Parent);
}

/// The user removes the snapshot again `times` times, each time once the model lets them (after
/// a failed removal): the engine then launches the new parent command's `execute()` thread.
pub(crate) fn user(engine: Arc<Engine>, times: usize) {
    for _ in 0..times {
        if engine.apply(Event::UserRetries).is_err() {
            break;
        }
    }
}
