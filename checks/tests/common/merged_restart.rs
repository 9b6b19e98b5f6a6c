//! The model's path through a restart that caught a Merge grandchild whose `VM.merge` the host
//! had already carried out to the end, and the user's retry; what its replay on a host shows.

use super::{livemerge, printed as text, trace_records};
use std::path::Path;

/// One disk, no fault, one restart, `retries` retries, under `release`.
pub fn one_disk_restart(release: livemerge_model::Release, retries: u8) -> livemerge_model::Config {
    livemerge_model::Config {
        disks: 1,
        release,
        faults: livemerge_model::Faults::NONE,
        restarts: 1,
        retries,
        symmetry: false,
    }
}

/// The model's path where VM.merge reached the host, the host's job completed, and then the
/// engine restarted while the Merge grandchild's `execute()` had not returned (it becomes
/// EXECUTION_FAILED, the child fails, the removal ends failed with top ILLEGAL in the rows while
/// the host has merged), then the user removes the snapshot again, to the end of that retry.
pub fn retry_after_a_merged_restart(
    release: livemerge_model::Release,
) -> Vec<livemerge_model::Event> {
    use livemerge_model::{Event as E, Images, Step, Task};
    let cfg = one_disk_restart(release, 1);
    super::path_through(
        &cfg,
        &[
            &|e, _| e == E::MergeReachesHost(0),
            &|e, _| e == E::HostJobEnds(0),
            &|e, s| {
                e == E::Restart
                    && s.disk(0).step() == Step::Merge
                    && s.disk(0).task() == Task::ExecutionFailed
            },
            &|e, s| e == E::UserRetries && s.disk(0).images() == Images::TopIllegal,
        ],
        |s| s.removal_ended(),
    )
    .expect("the model has the path")
}

/// The record of the trace that applied `event` (the first one).
pub fn record_of<'a>(
    records: &'a [serde_json::Value],
    event: &str,
) -> (usize, &'a serde_json::Value) {
    records
        .iter()
        .enumerate()
        .find(|(_, r)| r["event"]["event"] == event)
        .unwrap_or_else(|| panic!("no {event} in the trace"))
}

/// What the replay of [`retry_after_a_merged_restart`] on `host` shows up to the retry, whatever
/// the release: the removal ended failed with top ILLEGAL in the rows while the host had merged
/// (the record before the retry), and the retry's VM.merge met the host's mergeErr.
pub fn assert_failed_then_refused(trace: &Path) -> Vec<serde_json::Value> {
    let records = trace_records(trace);
    let (retry, _) = record_of(&records, "user_retries");
    let before = &records[retry - 1];
    let after = &before["after"];
    assert_eq!(after["snapshot"], "Ok", "{before}");
    assert_eq!(after["disks"][0]["images"], "TopIllegal", "{before}");
    let f = after["disks"][0]["f"].as_array().unwrap();
    assert!(
        !f.contains(&"top_in_chain".into()),
        "the host has merged: {before}"
    );
    let top = before["db"]["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["parent_id"].is_string())
        .expect("the rows keep top");
    assert_eq!(top["image_status"], "ILLEGAL", "{before}");
    assert_eq!(
        before["storage"]["disks"][0]["active"], "base.qcow2",
        "{before}"
    );
    let (refused_at, refused) = record_of(&records, "merge_refused");
    assert!(refused_at > retry, "the retry's VM.merge is refused");
    assert!(
        refused["storage"]["observed"]["vm_merge"]
            .as_str()
            .unwrap()
            .starts_with("mergeErr (code 52): merge: top volume top.qcow2 not found"),
        "{refused}"
    );
    records
}

/// `audit TRACE --dir VM`: every step conforms and the real rows and volumes match the last
/// state; the one property the run breaks is 4.0's known finding, in the failed removal's state
/// before the retry (the rows list top, ILLEGAL, the chain has merged it away), which the
/// engine follows the model into.
pub fn assert_audits(trace: &Path, vm: &Path, records: &[serde_json::Value]) {
    let a = livemerge(&[
        "audit",
        trace.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
    ]);
    let out = text(&a);
    assert!(
        out.contains(&format!("conforms: {} step(s) checked", records.len())),
        "{out}"
    );
    assert!(
        !out.contains("diverges") && !out.contains("differs"),
        "{out}"
    );
    assert!(
        out.contains("violates always \"database agrees with storage when no command is running\""),
        "{out}"
    );
}
