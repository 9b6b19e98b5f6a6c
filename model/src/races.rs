//! The two known ways a removal goes wrong, told apart on a state, for the engine's statistics
//! (`livemerge stress` counts each race separately; the properties only say that one happened).

use crate::config::Config;
use crate::state::State;

/// Bug 1280160: the snapshot row is gone while a disk is not merged on the host. Judge it on the
/// state in which the row went: a 3.6.0 child may re-create its row and merge later, unknown to
/// the parent, so the end can look merged.
pub fn removed_before_merge(cfg: &Config, removed_at: &State) -> bool {
    removed_at.disks[..cfg.n()].iter().any(|d| !d.host_merged())
}

/// The end-action race: the removal ended with a disk merged on the host whose image rows still
/// list top (its `syncDbRecords` never ran).
pub fn merged_but_unsynced(cfg: &Config, s: &State) -> bool {
    s.removal_ended()
        && s.disks[..cfg.n()]
            .iter()
            .any(|d| d.host_merged() && d.images.chain_has_top())
}
