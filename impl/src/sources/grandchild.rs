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

use super::Started;
use crate::engine::{Applies, ApplyError, Deed, Engine, Work};
use crate::storage::{StorageError, VdsmError};
use livemerge_model::{
    grandchild_act, grandchild_id, grandchild_pending, grandchild_succeeded, Event, GrandchildAct,
    GrandchildId, HostCall, State,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// Follows disk `d`'s grandchild `id` to its end. A host job its `VM.merge` starts is left in
/// `started` for the watcher the step's dispatch launches.
pub(crate) fn follow(engine: Arc<Engine>, d: usize, id: GrandchildId, started: Arc<Started>) {
    let cfg = *engine.config();
    let gone = |s: &State| grandchild_id(s, d) != id || !grandchild_pending(&cfg, s, d);
    while let Some(s) = engine.wait_for(|s| gone(s) || grandchild_act(&cfg, s, d).is_some()) {
        let Some(act) = grandchild_act(&cfg, &s, d).filter(|_| !gone(&s)) else {
            break;
        };
        // Refused, stopping or failed: this thread is done. A grandchild the model still wants
        // carried out is claimed again by the next step's dispatch.
        if carry_out(&engine, d, id, act, &started).is_err() {
            break;
        }
    }
    engine.finished(Work::Grandchild(d, id));
}

/// Does `act`'s IO and applies what it observed, if the grandchild is still `id`.
fn carry_out(
    engine: &Arc<Engine>,
    d: usize,
    id: GrandchildId,
    act: GrandchildAct,
    started: &Started,
) -> Applies {
    let storage = Arc::clone(engine.storage());
    let events = act.events(d);
    // What the act observed, fed back as its expected event.
    let seen = |observed: Value| {
        engine.apply_deed(Deed::observed(events.on_success, observed).of_grandchild(d, id))
    };
    match (act, events.on_failure) {
        (GrandchildAct::VmMerge, Some(refused)) => {
            vm_merge(engine, d, id, events.on_success, refused, started)
        }
        (GrandchildAct::Finish(HostCall::DeleteVolume), Some(failed)) => engine.apply_deed(
            Deed::io(events.all(), || match storage.delete_top(d) {
                Ok(()) => (events.on_success, json!({"delete_volume": "deleted"})),
                Err(err) => (failed, json!({"delete_volume": err.to_string()})),
            })
            .of_grandchild(d, id),
        ),
        (GrandchildAct::VmMerge | GrandchildAct::Finish(HostCall::DeleteVolume), None) => {
            let why = format!(
                "disk-{}: the model names no event for a failure of {act:?}",
                d + 1
            );
            engine.abort(why.clone());
            Err(ApplyError::Fatal(why))
        }
        (GrandchildAct::Finish(HostCall::ReadChain), _) => {
            let chain = storage
                .read_chain(d)
                .map_err(|err| abort(engine, d, "MERGE_STATUS cannot read the chain", err))?;
            let a = seen(json!({"chain": chain.volumes}))?;
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
        (GrandchildAct::Finish(HostCall::CheckVolumeGone), _) => {
            let gone = storage.facts(d).map(|f| !f.top_exists).map_err(|err| {
                abort(
                    engine,
                    d,
                    "DESTROY_IMAGE_CHECK cannot read the volumes",
                    err,
                )
            })?;
            let a = seen(json!({"top_volume_gone": gone}))?;
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
        (GrandchildAct::Finish(HostCall::Nothing), _) => seen(
            json!({"host": "nothing to do: extension is not needed for qcow2 on file storage, and a merge's job is the host's"}),
        ),
        (GrandchildAct::PickUp | GrandchildAct::Return, _) => seen(Value::Null),
        (GrandchildAct::EndByCallback, _) => {
            seen(json!({"callback": "EXECUTION_FAILED: ended FAILED"}))
        }
    }
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

/// `VM.merge`: the host starts its block-commit job (`reaches`; the job is left in `started`,
/// for the watcher the step's dispatch launches), or refuses the verb with VDSM's `mergeErr`
/// (code 52), which is fed to the model as `refused`: whether that fails the Merge grandchild
/// (3.x) or is taken for a running merge whose chain is then verified (from 4.0) is the model's
/// business. Any other failure to start is the job's failure, observed by its watcher
/// (`HostJobFails`).
fn vm_merge(
    engine: &Arc<Engine>,
    d: usize,
    id: GrandchildId,
    reaches: Event,
    refused: Event,
    started: &Started,
) -> Applies {
    let storage = Arc::clone(engine.storage());
    let mut refusal: Option<StorageError> = None;
    let r = engine.apply_deed(
        Deed::io([reaches, refused], || match storage.vm_merge(d) {
            Err(err) if err.vdsm() == Some(VdsmError::MergeErr) => {
                let obs = json!({"vm_merge": err.to_string()});
                refusal = Some(err);
                (refused, obs)
            }
            j => {
                let obs = match &j {
                    Ok(_) => json!({"vm_merge": "block commit started"}),
                    Err(err) => json!({"vm_merge": err.to_string()}),
                };
                started.put(d, j);
                (reaches, obs)
            }
        })
        .of_grandchild(d, id),
    );
    // A job no watcher took (the model refused the step, or the engine stops) is abandoned
    // here, while this thread's mark keeps the engine from being idle: waited for if it already
    // runs on the host, never started if it does not.
    if let Some(j) = started.take(d) {
        if r.is_err() {
            engine.conformance_error(format!(
                "disk-{}: VM.merge ran but the model refused it",
                d + 1
            ));
        }
        if let Ok(j) = j {
            j.abandon();
        }
    }
    // The host refused a merge whose top the model still has in the chain (the verb's own
    // failure, BZ 1301083): the model has no event for it, so the engine stops.
    if let (Err(ApplyError::Refused(_)), Some(err)) = (&r, refusal) {
        return Err(abort(
            engine,
            d,
            "VM.merge refused while top is in the chain (the model has no event for it)",
            err,
        ));
    }
    r
}
