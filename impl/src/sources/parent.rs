//! The parent command's `execute()` thread, and the user who removes the snapshot again after
//! a failed removal (each retry is a new parent `execute()`).

use crate::engine::{Engine, Source};
use livemerge_model::{step, Event};
use std::sync::Arc;

/// Starts `RemoveSnapshotCommand.execute()` on its own thread.
pub(crate) fn spawn_execute(engine: &Arc<Engine>) {
    engine.with_io(|io| io.parent = true);
    let me = Arc::clone(engine);
    engine.spawn(move || execute(me));
}

/// `RemoveSnapshotCommand.execute()`: begin, start a child for each disk the model says still
/// needs one, return.
fn execute(engine: Arc<Engine>) {
    let cfg = *engine.config();
    let more = |e: &Arc<Engine>| step(&cfg, &e.state(), Event::ParentStartsChild).is_ok();
    let mut ok = engine.apply(Source::Parent, Event::ParentBegins).is_ok();
    while ok && more(&engine) {
        ok = engine
            .apply(Source::Parent, Event::ParentStartsChild)
            .is_ok();
    }
    if ok {
        let _ = engine.apply(Source::Parent, Event::ParentReturns);
    }
    engine.with_io(|io| io.parent = false);
}

/// The user removes the snapshot again `times` times, each time once the model lets them (after
/// a failed removal): each retry runs a new parent command's `execute()` on this thread.
pub(crate) fn user(engine: Arc<Engine>, times: usize) {
    for _ in 0..times {
        if engine.apply(Source::User, Event::UserRetries).is_err() {
            break;
        }
        engine.with_io(|io| io.parent = true);
        execute(Arc::clone(&engine));
    }
}
