//! 4.5.7, the release people run today, answered: every property with faults and a restart, at 1
//! and 2 disks and for every N, and its one new finding (BZ 1948599's `GetImageInfo` taking no
//! answer for "top is gone") replayed on real qcow2 volumes and on the live host.

mod common;

use common::{backing_chain_len, livemerge, printed as text};
use std::path::{Path, PathBuf};

const P1: &str = "snapshot removed implies merge done";

fn save(dir: &Path, extra: &[&str]) -> PathBuf {
    let cx = dir.join("cx");
    let mut args = vec![
        "check",
        "--release",
        "4.5.7",
        "--disks",
        "1",
        "-q",
        "--save",
    ];
    args.push(cx.to_str().unwrap());
    args.extend(extra);
    let o = livemerge(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    cx.join("snapshot-removed-implies-merge-done.json")
}

#[test]
fn only_an_unanswered_get_image_info_removes_the_snapshot_unmerged() {
    for disks in ["1", "2"] {
        // Every fault: the finding, in 9 steps on one disk.
        let o = livemerge(&["check", "--release", "4.5.7", "--disks", disks, "-q"]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(out.contains(&format!("VIOLATED  always     {P1}")), "{out}");
        assert!(
            out.contains("asks GetImageInfo for top, which is there, and gets no answer"),
            "{out}"
        );
        // Every other fault, and a restart: it holds.
        let o = livemerge(&[
            "check",
            "--release",
            "4.5.7",
            "--disks",
            disks,
            "--faults",
            "merge-job-fails,delete-volume-fails",
            "-q",
        ]);
        let out = text(&o);
        assert!(out.contains(&format!("holds     always     {P1}")), "{out}");
        assert!(out.contains("holds     always     no data lost"), "{out}");
    }
    let o = livemerge(&["check", "--release", "4.5.7", "--disks", "1", "-q"]);
    assert!(text(&o).contains(&format!(
        "counterexample to always \"{P1}\" (9 steps, shortest)"
    )));
}

#[test]
fn for_every_number_of_disks() {
    let o = livemerge(&[
        "check",
        "--disks",
        "any",
        "--release",
        "4.5.7",
        "--restarts",
        "0",
        "-q",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("VIOLATED (smallest: 1 disk(s))  always     {P1}")),
        "{out}"
    );
    assert!(
        out.contains("holds for every number of disks eventually every removal ends"),
        "{out}"
    );
    let o = livemerge(&[
        "check",
        "--disks",
        "any",
        "--release",
        "4.5.7",
        "--faults",
        "merge-job-fails,delete-volume-fails",
        "--restarts",
        "0",
        "-q",
    ]);
    let out = text(&o);
    assert!(
        out.contains(&format!("holds for every number of disks always     {P1}")),
        "{out}"
    );
    // A failed deleteVolume still ends the child at REDUCE_IMAGE with the rows marked ILLEGAL
    // although the host merged (4.2.0 on): a disagreement, and a marked one.
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("VIOLATED (smallest: 1 disk(s))  always     database agrees with storage"),
        "{out}"
    );
    assert!(
        out.contains("holds for every number of disks always     every disagreement is marked"),
        "{out}"
    );
}

#[test]
#[ignore = "slow tier: replays on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn the_finding_replays_on_real_qcow2_volumes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = save(tmp.path(), &[]);
    let vm = tmp.path().join("vm");
    let trace = tmp.path().join("trace.jsonl");
    let o = livemerge(&[
        "replay",
        file.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(out.contains("snapshots: no row (deleted)"), "{out}");
    assert!(
        out.contains(
            "disk-1: active top.qcow2, chain base <- top, top volume exists, base lacks top's data"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!("in the real world: broken: {P1}")),
        "{out}"
    );
    // The database says base is the active volume; qemu-img says top still is, backed by base.
    assert_eq!(
        backing_chain_len(&vm.join("disk-1").join("top.qcow2")),
        2,
        "top still backed by base"
    );
    // The trace names the fault as the pool's event, and audits up to the broken invariant.
    let t = std::fs::read_to_string(&trace).unwrap();
    assert!(t.contains("\"image_info_fails\""), "{t}");
    let a = livemerge(&[
        "audit",
        trace.to_str().unwrap(),
        "--dir",
        vm.to_str().unwrap(),
    ]);
    assert!(
        text(&a).contains(&format!("violates always \"{P1}\"")),
        "{}",
        text(&a)
    );
}

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn the_finding_replays_on_the_live_host_while_the_guest_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = save(tmp.path(), &[]);
    let vm = tmp.path().join("vm");
    let o = livemerge(&[
        "replay",
        file.to_str().unwrap(),
        "--host",
        "live",
        "--dir",
        vm.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert!(out.contains("images disk-1: base OK active"), "{out}");
    assert!(out.contains("serving top.qcow2 -> base.qcow2"), "{out}");
    assert!(out.contains("nothing lost"), "{out}");
    assert!(
        out.contains(&format!("in the real world: broken: {P1}")),
        "{out}"
    );
}
