//! The properties the checker verifies, named in plain words. Each is a predicate on one state
//! (liveness is a predicate that must eventually hold on every path); the checker, the engine's
//! auditor and the tests all use these same functions.

use crate::config::{Config, Faults};
use crate::event::Event;
use crate::state::{Disk, Images, Snapshot, State};

/// How a property is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// Holds in every reachable state.
    Always,
    /// Holds in some reachable state (an example must exist).
    Sometimes,
    /// On every path, holds in some state (checked on the paths' last states: see `docs/model.md`).
    Eventually,
}

/// What a path to a property's witness shows (see [`Expectation::witnessed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Witness {
    /// The property is false: the path breaks an always- or eventually-property.
    Counterexample,
    /// The property is true: the path reaches a state where a sometimes-property holds.
    Example,
}

impl Expectation {
    /// Whether a state witnesses the property, given whether the property `holds` there and
    /// whether the state is `terminal` (no event enabled): for always, a state where it does not
    /// hold; for eventually, a terminal state where it does not hold (the model is acyclic and
    /// "removal ended" is stable, so that is exactly a path on which it never holds); for
    /// sometimes, a state where it holds. Every search and replay asks this.
    pub fn witnessed(self, holds: bool, terminal: bool) -> bool {
        match self {
            Expectation::Always => !holds,
            Expectation::Eventually => terminal && !holds,
            Expectation::Sometimes => holds,
        }
    }

    /// What a path to a witness shows: a counterexample, or (sometimes) an example.
    pub fn witness(self) -> Witness {
        match self {
            Expectation::Always | Expectation::Eventually => Witness::Counterexample,
            Expectation::Sometimes => Witness::Example,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Expectation::Always => "always",
            Expectation::Sometimes => "sometimes",
            Expectation::Eventually => "eventually",
        }
    }
}

/// A named property.
#[derive(Clone, Copy, Debug)]
pub struct Prop {
    pub name: &'static str,
    pub expectation: Expectation,
    pub holds: fn(&Config, &State) -> bool,
    /// Expected only when some fault is on ("removal failed cleanly" needs a removal to fail).
    pub only_with_faults: bool,
    /// For an eventually-property: a state from which every path breaks it (the model is
    /// acyclic, so every path from there ends in a terminal state where it does not hold). A
    /// search may stop at the first such state: the counterexample is then as short as the
    /// mistake, not padded with the steps that use up the retries.
    pub doomed: Option<fn(&Config, &State) -> bool>,
}

impl Prop {
    /// Whether `cfg` is expected to show this property.
    pub fn applies(&self, cfg: &Config) -> bool {
        !self.only_with_faults || !cfg.faults.is_empty()
    }

    /// Whether state `s` (terminal or not) witnesses this property: see
    /// [`Expectation::witnessed`] and [`Prop::doomed`]. Every search and replay asks this.
    pub fn witnessed(&self, cfg: &Config, s: &State, terminal: bool) -> bool {
        self.expectation.witnessed((self.holds)(cfg, s), terminal)
            || self.doomed.is_some_and(|doomed| doomed(cfg, s))
    }

    /// A URL- and file-name-friendly name: `snapshot-removed-implies-merge-done`.
    pub fn slug(&self) -> String {
        self.name.replace(' ', "-")
    }
}

pub const SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE: &str = "snapshot removed implies merge done";
pub const NO_DATA_LOST: &str = "no data lost";
pub const DB_AGREES_WHEN_IDLE: &str = "database agrees with storage when no command is running";
pub const SNAPSHOT_REMOVED: &str = "snapshot removed";
pub const REMOVAL_FAILED_CLEANLY: &str = "removal failed cleanly";
pub const ENDS_BEFORE_EXPIRY: &str = "every removal ends before any command expires";
pub const EVERY_REMOVAL_ENDS: &str = "every removal ends";
pub const EVERY_DISAGREEMENT_MARKED: &str = "every disagreement is marked";
pub const RETRY_CAN_COMPLETE: &str = "a failed removal can be retried to completion";

/// Every property, in the order reports list them: safety first, then the examples that must
/// exist, then liveness. The checker's stateright `properties()`, the searches, the auditor and
/// the reports all take them from here, so a property is named, classified and judged once.
pub const ALL: &[Prop] = &[
    Prop {
        name: SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE,
        expectation: Expectation::Always,
        holds: snapshot_removed_implies_merge_done,
        only_with_faults: false,
        doomed: None,
    },
    Prop {
        name: NO_DATA_LOST,
        expectation: Expectation::Always,
        holds: no_data_lost,
        only_with_faults: false,
        doomed: None,
    },
    Prop {
        name: DB_AGREES_WHEN_IDLE,
        expectation: Expectation::Always,
        holds: db_agrees_when_idle,
        only_with_faults: false,
        doomed: None,
    },
    Prop {
        name: EVERY_DISAGREEMENT_MARKED,
        expectation: Expectation::Always,
        holds: every_disagreement_marked,
        only_with_faults: false,
        doomed: None,
    },
    Prop {
        name: RETRY_CAN_COMPLETE,
        expectation: Expectation::Always,
        holds: retry_can_complete,
        only_with_faults: false,
        doomed: None,
    },
    Prop {
        name: SNAPSHOT_REMOVED,
        expectation: Expectation::Sometimes,
        holds: snapshot_removed,
        only_with_faults: false,
        doomed: None,
    },
    Prop {
        name: REMOVAL_FAILED_CLEANLY,
        expectation: Expectation::Sometimes,
        holds: removal_failed_cleanly,
        only_with_faults: true,
        doomed: None,
    },
    Prop {
        name: ENDS_BEFORE_EXPIRY,
        expectation: Expectation::Eventually,
        holds: ended_before_expiry,
        only_with_faults: false,
        doomed: Some(a_command_expired),
    },
    Prop {
        name: EVERY_REMOVAL_ENDS,
        expectation: Expectation::Eventually,
        holds: removal_ended,
        only_with_faults: false,
        doomed: None,
    },
];

/// The properties of a configuration: those of [`ALL`] that apply to it, in that order.
pub fn all(cfg: &Config) -> Vec<Prop> {
    ALL.iter().filter(|p| p.applies(cfg)).copied().collect()
}

/// If the snapshot row is gone, every disk (all were in the snapshot) is merged on the host and
/// the engine's image rows describe the merged chain.
pub fn snapshot_removed_implies_merge_done(cfg: &Config, s: &State) -> bool {
    s.snapshot != Snapshot::Deleted
        || s.disks[..cfg.n()]
            .iter()
            .all(|d| d.host_merged() && d.db_agrees())
}

/// When nothing is in flight, every disk whose image rows disagree with storage has them marked
/// ILLEGAL: oVirt's designed signal that the user must remove the snapshot again.
pub fn every_disagreement_marked(cfg: &Config, s: &State) -> bool {
    !s.idle(cfg.n())
        || s.disks[..cfg.n()]
            .iter()
            .all(|d| d.db_agrees() || matches!(d.images, Images::TopIllegal | Images::MergedOrphan))
}

/// After a failed removal (the snapshot back to OK, nothing in flight), removing the snapshot
/// again on a calm system (no fault, no restart) can end with the snapshot removed and merged.
///
/// A calm retry succeeds exactly when every disk's new child can succeed: the parent succeeds iff
/// all children do, and a child's course depends on its own disk only. So each disk that still
/// has an image in the snapshot is tried alone, as a one-disk removal from its current volumes
/// and rows, by an exhaustive search of that small model (tens of states). The retry is
/// hypothetical: it does not use up `--retries`.
pub fn retry_can_complete(cfg: &Config, s: &State) -> bool {
    let n = cfg.n();
    if !(s.removal_ended() && s.snapshot == Snapshot::Ok && s.idle(n)) {
        return true;
    }
    s.disks[..n]
        .iter()
        .filter(|d| d.images != Images::Merged)
        .all(|d| calm_retry_succeeds(cfg, d))
}

fn calm_retry_succeeds(cfg: &Config, d: &Disk) -> bool {
    let one = Config {
        disks: 1,
        faults: Faults::NONE,
        restarts: 0,
        retries: 1,
        symmetry: false,
        ..*cfg
    };
    let mut start = State::initial(1);
    start.disks[0] = *d;
    start.parent.f.set_notified(true);
    let Ok((start, _)) = crate::step(&one, &start, Event::UserRetries) else {
        return false;
    };
    let mut seen = std::collections::HashSet::from([start]);
    let mut todo = vec![start];
    while let Some(x) = todo.pop() {
        if x.snapshot == Snapshot::Deleted {
            if snapshot_removed_implies_merge_done(&one, &x) {
                return true;
            }
            continue;
        }
        for (_, y) in crate::successors(&one, &x) {
            if seen.insert(y) {
                todo.push(y);
            }
        }
    }
    false
}

/// No volume was deleted while it held data that no remaining volume of its chain holds.
pub fn no_data_lost(cfg: &Config, s: &State) -> bool {
    s.disks[..cfg.n()]
        .iter()
        .all(|d| d.f.top_exists() || d.f.base_has_top())
}

/// When nothing is in flight, the image rows describe the host's chains.
pub fn db_agrees_when_idle(cfg: &Config, s: &State) -> bool {
    !s.idle(cfg.n()) || s.disks[..cfg.n()].iter().all(|d| d.db_agrees())
}

pub fn snapshot_removed(_cfg: &Config, s: &State) -> bool {
    s.snapshot == Snapshot::Deleted
}

/// The removal ended in failure and left everything consistent: the snapshot is back to OK,
/// nothing is in flight, no data is lost, the rows agree with storage, the disks still in the
/// snapshot are unmerged and the disks dropped from it are merged.
pub fn removal_failed_cleanly(cfg: &Config, s: &State) -> bool {
    let n = cfg.n();
    s.removal_ended()
        && s.snapshot == Snapshot::Ok
        && s.idle(n)
        && no_data_lost(cfg, s)
        && s.disks[..n].iter().all(|d| {
            d.db_agrees()
                && if d.f.in_snapshot() {
                    d.f.top_in_chain()
                } else {
                    d.host_merged()
                }
        })
}

/// The parent's end-action has run (the snapshot is deleted, or back to OK). As a liveness
/// property, expiry allowed: only a removal that no pass of `markExpiredCommandsAsFailure` can
/// end either hangs for ever.
pub fn removal_ended(_cfg: &Config, s: &State) -> bool {
    s.removal_ended()
}

/// The removal ended and no command expired on the way: a snapshot LOCKED for the 50 hours of
/// `CoCoLifeInMinutes` is what users see of a removal that needs expiry to end.
pub fn ended_before_expiry(_cfg: &Config, s: &State) -> bool {
    s.removal_ended() && !s.parent.f.expired()
}

/// A command expired on the way to `s`: the fact is kept for the rest of the run, so
/// [`ended_before_expiry`] cannot hold at any end reached from here.
pub fn a_command_expired(_cfg: &Config, s: &State) -> bool {
    s.parent.f.expired()
}

/// Why state `s` breaks the always-property named `name`, in one line that names the disks
/// concerned: what a report prints beside `VIOLATED` when the state it shows does not make it
/// plain (a 3.6.0 child merges after the snapshot row is gone, so the end looks merged).
/// `None` when `s` does not break it, or `name` is not an always-property.
pub fn why_violated(cfg: &Config, name: &str, s: &State) -> Option<String> {
    let prop = ALL
        .iter()
        .find(|p| p.name == name && p.expectation == Expectation::Always)?;
    if (prop.holds)(cfg, s) {
        return None;
    }
    let disks = &s.disks[..cfg.n()];
    let named = |pick: &dyn Fn(&Disk) -> Option<&'static str>| -> String {
        disks
            .iter()
            .enumerate()
            .filter_map(|(i, d)| pick(d).map(|why| format!("disk-{} {why}", i + 1)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    Some(match name {
        SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE => format!(
            "the snapshot row is deleted while {}",
            named(&|d| {
                if d.f.top_in_chain() {
                    Some("is not merged: top is still in its chain on the host")
                } else if !d.f.base_has_top() {
                    Some("is not merged: base lacks top's data")
                } else {
                    rows_disagree(d)
                }
            })
        ),
        NO_DATA_LOST => format!(
            "a volume holding data no other volume holds was deleted: {}",
            named(&|d| {
                (!d.f.top_exists() && !d.f.base_has_top())
                    .then_some("lost top, deleted before base held its data")
            })
        ),
        DB_AGREES_WHEN_IDLE => format!(
            "no command is running, and the rows disagree with storage: {}",
            named(&rows_disagree)
        ),
        EVERY_DISAGREEMENT_MARKED => format!(
            "no command is running, and rows that disagree with storage are not marked ILLEGAL: {}",
            named(&|d| {
                (!d.db_agrees() && !matches!(d.images, Images::TopIllegal | Images::MergedOrphan))
                    .then(|| rows_disagree(d))
                    .flatten()
            })
        ),
        RETRY_CAN_COMPLETE => format!(
            "the removal failed, and removing the snapshot again on a calm system cannot complete it: {}",
            named(&|d| {
                (d.images != Images::Merged && !calm_retry_succeeds(cfg, d))
                    .then_some("cannot be merged by a retry")
            })
        ),
        _ => return None,
    })
}

/// How a disk's image rows disagree with its chain on the host, if they do.
fn rows_disagree(d: &Disk) -> Option<&'static str> {
    let rows_top = d.images.chain_has_top();
    if rows_top && !d.f.top_in_chain() {
        Some("has rows that still list top, which the host merged away")
    } else if !rows_top && d.f.top_in_chain() {
        Some("has rows that say merged while top is still in the host's chain")
    } else if rows_top && !d.f.top_exists() {
        Some("has rows that list top, whose volume is deleted")
    } else {
        None
    }
}
