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

#[cfg(test)]
mod tests {
    use super::*;

    /// What the engine would read back from the rows and storage that `s` stands for.
    fn observation_of(s: &State, n: usize) -> Observation {
        let row = |status, f: (bool, bool)| {
            (status != CmdStatus::NoRow).then_some(CommandRow {
                status,
                executed: f.0,
                notified: f.1,
            })
        };
        Observation {
            parent: row(
                s.parent.status,
                (s.parent.f.executed(), s.parent.f.notified()),
            ),
            snapshot: s.snapshot,
            disks: s.disks[..n]
                .iter()
                .map(|d| DiskObservation {
                    child: row(d.status, (d.f.executed(), d.f.notified())).map(|row| ChildRow {
                        row,
                        step: d.step,
                        task: d.task,
                    }),
                    in_snapshot: (s.snapshot != Snapshot::Deleted).then_some(d.f.in_snapshot()),
                    images: d.images,
                    top_in_chain: d.f.top_in_chain(),
                    top_exists: d.f.top_exists(),
                    base_has_top: d.f.base_has_top(),
                    job_running: d.f.job_running(),
                })
                .collect(),
        }
    }

    #[test]
    fn observing_a_states_own_rows_gives_it_back() {
        let mut s = State::initial(2);
        s.parent.status = CmdStatus::Active;
        s.parent.f.set_executed(true);
        s.disks[0].status = CmdStatus::Succeeded;
        s.disks[0].step = Step::Complete;
        s.disks[0].f.set_notified(true);
        s.disks[1].f.set_job_running(true);
        assert_eq!(State::observed(&s, &observation_of(&s, 2)), Ok(s));
    }

    #[test]
    fn a_missing_row_keeps_what_memory_says_of_it() {
        let mut memory = State::initial(1);
        memory.parent.f.set_executed(true);
        memory.parent.status = CmdStatus::Succeeded;
        memory.disks[0].status = CmdStatus::Succeeded;
        memory.disks[0].step = Step::Complete;
        memory.disks[0].f.set_in_snapshot(false);
        let mut o = observation_of(&memory, 1);
        o.parent = None;
        o.disks[0].child = None;
        o.snapshot = Snapshot::Deleted;
        o.disks[0].in_snapshot = None;
        let s = State::observed(&memory, &o).unwrap();
        assert_eq!(s.parent.status, CmdStatus::NoRow);
        assert!(
            s.parent.f.executed(),
            "the flag went with the row: memory's stands"
        );
        assert_eq!(s.disks[0].status, CmdStatus::NoRow);
        assert_eq!(s.disks[0].step, Step::Complete);
        assert!(
            !s.disks[0].f.in_snapshot(),
            "no snapshot row: memory's stands"
        );
    }

    #[test]
    fn a_contradictory_observation_is_refused() {
        let s = State::initial(1);
        let mut o = observation_of(&s, 1);
        o.disks[0].in_snapshot = None;
        assert!(
            State::observed(&s, &o).is_err(),
            "a snapshot row without its disk list"
        );
        let mut o = observation_of(&s, 1);
        o.snapshot = Snapshot::Deleted;
        assert!(
            State::observed(&s, &o).is_err(),
            "a disk list without a row"
        );
        let mut o = observation_of(&s, 1);
        o.parent = Some(CommandRow {
            status: CmdStatus::NoRow,
            executed: false,
            notified: false,
        });
        assert!(
            State::observed(&s, &o).is_err(),
            "a row whose status is NoRow"
        );
        let o = Observation {
            disks: vec![o.disks[0]; MAX_DISKS + 1],
            ..o
        };
        assert!(State::observed(&s, &o).is_err(), "too many disks");
    }
}
