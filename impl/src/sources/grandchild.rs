//! A grandchild's thread: it follows one grandchild (`MergeExtend`, `Merge`, `MergeStatus`,
//! `DestroyImage`, `DestroyImageCheck`) from its queue to its end, doing at each point what the
//! model says it does now ([`grandchild_act`]) and applying what it observed:
//!
//! | the model's act | the thread does | then applies |
//! |---|---|---|
//! | `PickUp` | a pool thread takes it | `GrandchildPicksUp` |
//! | `VmMerge` | `VM.merge` on the host: the block-commit job starts (and a watcher for it), or VDSM refuses with `mergeErr` (top is no longer in the chain) | `MergeReachesHost`, or `MergeRefused` |
//! | `Return` | its `execute()` returns | `GrandchildReturns` |
//! | `Finish(Nothing)` | nothing (EXTEND on file storage; MERGE, whose job is the host's) | `TaskEnds` |
//! | `Finish(ReadChain)` | reads the chain the VM uses | `TaskEnds`; the model's verdict is compared with what was read |
//! | `Finish(DeleteVolume)` | `deleteVolume` of top | `TaskEnds`, or `DeleteVolumeFails` |
//! | `Finish(CheckVolumeGone)` | reads whether top's volume is gone | `TaskEnds`; verdict compared |
//! | `EndByCallback` | nothing: the poller dispatched its own callback | `TaskEnds` |
//!
//! The thread acts only while the state still shows its grandchild ([`grandchild_id`]) and ends
//! when the model no longer has work for it; its mark goes then, unless a newer grandchild's
//! thread took its place.

use crate::engine::{Applies, ApplyError, Engine, Source};
use crate::storage::{HostJob, StorageError, VdsmError};
use livemerge_model::{
    grandchild_act, grandchild_id, grandchild_pending, grandchild_succeeded, Event, GrandchildAct,
    GrandchildId, HostCall, State,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// Follows disk `d`'s grandchild `id` to its end.
pub(crate) fn follow(engine: Arc<Engine>, d: usize, id: GrandchildId) {
    let cfg = *engine.config();
    let gone = |s: &State| grandchild_id(s, d) != id || !grandchild_pending(&cfg, s, d);
    while let Some(s) = engine.wait_for(|s| gone(s) || grandchild_act(&cfg, s, d).is_some()) {
        let Some(act) = grandchild_act(&cfg, &s, d).filter(|_| !gone(&s)) else {
            break;
        };
        // Refused, stopping or failed: this thread is done. A grandchild the model still wants
        // carried out is claimed again by the next step's dispatch.
        if carry_out(&engine, d, id, act).is_err() {
            break;
        }
    }
    engine.with_io(|io| io.release_grandchild(d, id));
}

/// Does `act`'s IO and applies what it observed, if the grandchild is still `id`.
fn carry_out(engine: &Arc<Engine>, d: usize, id: GrandchildId, act: GrandchildAct) -> Applies {
    let e = d as u8;
    let storage = Arc::clone(engine.storage());
    let source = match act {
        GrandchildAct::PickUp | GrandchildAct::VmMerge | GrandchildAct::Return => Source::Pool,
        GrandchildAct::EndByCallback => Source::Poller,
        GrandchildAct::Finish(_) => Source::Task,
    };
    let events: Vec<Event> = act.events().iter().map(|mk| mk(e)).collect();
    match act {
        GrandchildAct::VmMerge => vm_merge(engine, d, id, &events),
        GrandchildAct::Finish(HostCall::DeleteVolume) => engine.apply_with(
            source,
            &events,
            Some(events[0]),
            mine(d, id),
            |_| match storage.delete_top(d) {
                Ok(()) => (events[0], json!({"delete_volume": "deleted"})),
                Err(err) => (events[1], json!({"delete_volume": err.to_string()})),
            },
        ),
        GrandchildAct::Finish(HostCall::ReadChain) => {
            let chain = storage
                .read_chain(d)
                .map_err(|err| abort(engine, d, "MERGE_STATUS cannot read the chain", err))?;
            let a = apply(
                engine,
                source,
                d,
                id,
                events[0],
                json!({"chain": chain.volumes}),
            )?;
            if grandchild_succeeded(&a.after, d) == Some(chain.has_top()) {
                engine.conformance_error(format!(
                    "disk-{}: MERGE_STATUS read chain {:?} but the model's grandchild ended {}",
                    d + 1,
                    chain.volumes,
                    ended(&a.after, d)
                ));
            }
            Ok(a)
        }
        GrandchildAct::Finish(HostCall::CheckVolumeGone) => {
            let gone = storage.facts(d).map(|f| !f.top_exists).map_err(|err| {
                abort(
                    engine,
                    d,
                    "DESTROY_IMAGE_CHECK cannot read the volumes",
                    err,
                )
            })?;
            let a = apply(
                engine,
                source,
                d,
                id,
                events[0],
                json!({"top_volume_gone": gone}),
            )?;
            if grandchild_succeeded(&a.after, d) != Some(gone) {
                engine.conformance_error(format!(
                    "disk-{}: DESTROY_IMAGE_CHECK read top {} but the model's grandchild ended {}",
                    d + 1,
                    if gone { "gone" } else { "present" },
                    ended(&a.after, d)
                ));
            }
            Ok(a)
        }
        GrandchildAct::Finish(HostCall::Nothing) => {
            let what = json!({"host": "nothing to do: extension is not needed for qcow2 on file storage, and a merge's job is the host's"});
            apply(engine, source, d, id, events[0], what)
        }
        GrandchildAct::PickUp | GrandchildAct::Return => {
            apply(engine, source, d, id, events[0], Value::Null)
        }
        GrandchildAct::EndByCallback => apply(
            engine,
            source,
            d,
            id,
            events[0],
            json!({"callback": "EXECUTION_FAILED: ended FAILED"}),
        ),
    }
}

/// The state still shows the grandchild this thread follows.
fn mine(d: usize, id: GrandchildId) -> impl Fn(&State) -> bool {
    move |s| grandchild_id(s, d) == id
}

/// Applies `event` with what was observed if the thread's grandchild is still the current one.
fn apply(
    engine: &Arc<Engine>,
    source: Source,
    d: usize,
    id: GrandchildId,
    event: Event,
    observed: Value,
) -> Applies {
    engine.apply_with(source, &[event], None, mine(d, id), move |_| {
        (event, observed)
    })
}

/// How the model ended disk `d`'s grandchild, in words.
fn ended(s: &State, d: usize) -> &'static str {
    match grandchild_succeeded(s, d) {
        Some(true) => "SUCCEEDED",
        Some(false) => "FAILED",
        None => "not at all",
    }
}

/// Storage failed in a way the protocol has no event for: the engine stops.
fn abort(engine: &Engine, d: usize, what: &str, err: StorageError) -> ApplyError {
    let why = format!("disk-{}: {what}: {err}", d + 1);
    engine.abort(why.clone());
    ApplyError::Fatal(why)
}

/// `VM.merge`: the host starts its block-commit job (then watched), or refuses the verb with
/// VDSM's `mergeErr` (code 52), which is fed to the model as `MergeRefused`: whether that fails
/// the Merge grandchild (3.x) or is taken for a running merge whose chain is then verified (from
/// 4.0) is the model's business. Any other failure to start is the job's failure, observed by its
/// watcher (`HostJobFails`).
fn vm_merge(engine: &Arc<Engine>, d: usize, id: GrandchildId, events: &[Event]) -> Applies {
    let (reaches, refused) = (events[0], events[1]);
    let storage = Arc::clone(engine.storage());
    let mut job: Option<Result<Box<dyn HostJob>, StorageError>> = None;
    let mut refusal: Option<StorageError> = None;
    let r = engine.apply_with(
        Source::Pool,
        events,
        Some(reaches),
        mine(d, id),
        |io| match storage.vm_merge(d) {
            Err(err) if err.vdsm() == Some(VdsmError::MergeErr) => {
                let obs = json!({"vm_merge": err.to_string()});
                refusal = Some(err);
                (refused, obs)
            }
            j => {
                io.job[d] = true;
                let obs = match &j {
                    Ok(_) => json!({"vm_merge": "block commit started"}),
                    Err(err) => json!({"vm_merge": err.to_string()}),
                };
                job = Some(j);
                (reaches, obs)
            }
        },
    );
    match (&r, job, refusal) {
        (Ok(_), Some(j), _) => {
            let me = Arc::clone(engine);
            engine.spawn(move || super::host::watch(&me, d, j));
        }
        (Err(_), Some(j), _) => {
            engine.conformance_error(format!(
                "disk-{}: VM.merge ran but the model refused it",
                d + 1
            ));
            let _ = j.and_then(|j| j.wait());
            engine.with_io(|io| io.job[d] = false);
        }
        // The host refused a merge whose top the model still has in the chain (the verb's own
        // failure, BZ 1301083): the model has no event for it, so the engine stops.
        (Err(ApplyError::Refused(_)), None, Some(err)) => {
            return Err(abort(
                engine,
                d,
                "VM.merge refused while top is in the chain (the model has no event for it)",
                err,
            ));
        }
        _ => {}
    }
    r
}
