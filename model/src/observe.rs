//! The engine's abstraction in the model's terms: what it observed in its database rows and on
//! storage ([`Observation`]), laid over the state it last persisted ([`State::observed`]).
//!
//! The engine parses rows and asks storage; which fields of a state those observations decide,
//! and which stay as the engine remembers them, is decided here, once, next to the state. oVirt
//! keeps some facts only in memory (`begun`, `registered`, `queued`, `created`, the restart and
//! retry counters), and a deleted row takes its `executed`/`callbackNotified`/step with it: those
//! come from the persisted state.

use crate::config::MAX_DISKS;
use crate::draft::Draft;
use crate::state::{CmdStatus, Images, Snapshot, State, Step, Task};

/// What the engine observed in its rows and on storage, in the model's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The parent's row in `command_entities` (`None`: no row).
    pub parent: Option<CommandRow>,
    /// The `snapshots` row's status (`Deleted`: no row).
    pub snapshot: Snapshot,
    /// One per disk of the layout, in disk order.
    pub disks: Vec<DiskObservation>,
}

/// A command's row in `command_entities`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandRow {
    /// A stored status (never `NoRow`: that is a missing row).
    pub status: CmdStatus,
    /// `command_entities.executed`.
    pub executed: bool,
    /// `callbackNotified`: its end-action ran.
    pub notified: bool,
}

/// A child's row in `command_entities`, with what its `command_params` persist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildRow {
    pub row: CommandRow,
    pub step: Step,
    /// The current step's grandchild.
    pub task: Task,
}

/// One disk: its child's row, its place in the snapshot, its image rows, and storage's facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskObservation {
    /// The child's row (`None`: no row).
    pub child: Option<ChildRow>,
    /// Whether the snapshot row's `disk_ids` lists the disk; `None` exactly when the snapshot has
    /// no row (then the persisted state's value stands: there is nothing left to read it from).
    pub in_snapshot: Option<bool>,
    /// The chain the disk's rows in `images` describe.
    pub images: Images,
    /// Storage: the host's chain still has top above base.
    pub top_in_chain: bool,
    /// Storage: top's volume exists.
    pub top_exists: bool,
    /// Storage: base holds everything top held.
    pub base_has_top: bool,
    /// Storage: a block-commit job runs for the disk.
    pub job_running: bool,
}

impl State {
    /// The abstract state of what the engine observed: `memory` (the state the engine last
    /// persisted) with every field that `o` decides replaced by the observation. A missing row
    /// sets its command's status to `NoRow` and keeps the rest of what `memory` says of it.
    ///
    /// Errors when the observation contradicts itself: more than [`MAX_DISKS`] disks, a row
    /// whose status is `NoRow`, or a snapshot row's disk list given without a row (or missing
    /// with one).
    pub fn observed(memory: &State, o: &Observation) -> Result<State, String> {
        if o.disks.len() > MAX_DISKS {
            return Err(format!(
                "a state holds at most {MAX_DISKS} disks, this observation {}",
                o.disks.len()
            ));
        }
        let mut s = Draft::of(memory);
        match o.parent {
            Some(r) => {
                s.parent.status = stored(r.status, "the parent's")?;
                s.parent.executed = r.executed;
                s.parent.notified = r.notified;
            }
            None => s.parent.status = CmdStatus::NoRow,
        }
        s.snapshot = o.snapshot;
        for (i, (d, ob)) in s.disks.iter_mut().zip(&o.disks).enumerate() {
            match ob.child {
                Some(c) => {
                    d.status = stored(c.row.status, &format!("disk-{}'s child's", i + 1))?;
                    d.executed = c.row.executed;
                    d.notified = c.row.notified;
                    d.step = c.step;
                    d.task = c.task;
                }
                None => d.status = CmdStatus::NoRow,
            }
            match (ob.in_snapshot, o.snapshot) {
                (None, Snapshot::Deleted) => {}
                (Some(listed), Snapshot::Ok | Snapshot::Locked) => d.in_snapshot = listed,
                (None, _) => {
                    return Err(format!(
                        "disk-{}: the snapshot has a row but no disk list was read",
                        i + 1
                    ))
                }
                (Some(_), Snapshot::Deleted) => {
                    return Err(format!(
                        "disk-{}: a disk list was read for a deleted snapshot",
                        i + 1
                    ))
                }
            }
            d.images = ob.images;
            d.top_in_chain = ob.top_in_chain;
            d.top_exists = ob.top_exists;
            d.base_has_top = ob.base_has_top;
            d.job_running = ob.job_running;
        }
        Ok(s.build())
    }
}

/// `status` as a row's: `NoRow` is what a missing row reads, never a row's own status.
fn stored(status: CmdStatus, whose: &str) -> Result<CmdStatus, String> {
    if status == CmdStatus::NoRow {
        return Err(format!("{whose} row has no status"));
    }
    Ok(status)
}
