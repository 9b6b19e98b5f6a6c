//! The live host (a running qemu-storage-daemon) as the engine's storage, driven directly:
//! `VM.merge` refused the way VDSM refuses it. Needs qemu-storage-daemon: the slow tier.

use livemerge_impl::storage::live::Live;
use livemerge_impl::storage::qcow2::Qcow2;
use livemerge_impl::storage::{Storage, VdsmError};
use std::time::Duration;

#[test]
#[ignore = "slow tier: needs qemu-storage-daemon (scripts/test runs it)"]
fn vm_merge_is_refused_with_merge_err_when_top_left_the_chain_or_the_daemon_refuses_the_commit() {
    // The daemon's own refusal needs the second VM.merge to land while the first job still
    // mirrors (its watcher pivots at its first look, 50 ms on): on a loaded machine that window
    // can be missed, so a fresh VM is tried again, a few times at most.
    let mut daemon_refused = false;
    for _ in 0..3 {
        let tmp = tempfile::tempdir().unwrap();
        Qcow2::create(tmp.path(), 1).unwrap();
        let live = Live::open(tmp.path(), 1, Duration::from_millis(5)).unwrap();
        let first = live.vm_merge(0).expect("block-commit starts");
        // A second VM.merge of the same disk asks the daemon for a second block-commit, which
        // it refuses (the node is busy with the first job); VDSM answers libvirt's refusal of
        // blockCommit with mergeErr.
        let second = live.vm_merge(0).err().expect("a second merge is refused");
        assert_eq!(second.vdsm(), Some(VdsmError::MergeErr), "{second}");
        daemon_refused = second
            .to_string()
            .contains("block-commit of d1-top refused");
        first.wait().expect("the first job pivots");
        assert_eq!(live.read_chain(0).unwrap().volumes, vec!["base.qcow2"]);
        // Top has left the chain the export serves: refused before anything reaches the daemon.
        let gone = live.vm_merge(0).err().expect("top is not in the chain");
        assert_eq!(gone.vdsm(), Some(VdsmError::MergeErr), "{gone}");
        assert!(
            gone.to_string()
                .contains("mergeErr (code 52): merge: top volume top.qcow2 not found"),
            "{gone}"
        );
        assert!(!live.facts(0).unwrap().job_running);
        let g = live.shutdown();
        assert!(g.intact(), "the guest lost nothing: {g:?}");
        if daemon_refused {
            break;
        }
    }
    assert!(
        daemon_refused,
        "the daemon never refused a second block-commit"
    );
}
