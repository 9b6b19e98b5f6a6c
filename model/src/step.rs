//! The one transition function. `step` either gives the next state or refuses the event with
//! the reason; an event is enabled exactly when `step` accepts it. An event that would change
//! nothing (a poll that only waits) is refused: waiting is not a step.

use crate::config::{Config, Fault};
use crate::event::Event;
use crate::poller::{parent_decision, ParentDecision};
use crate::state::{CmdStatus, Disk, Images, Snapshot, State, Step, Task};
use std::fmt;

/// Why `step` refused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused(pub &'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refused {}

fn need(cond: bool, why: &'static str) -> Result<(), Refused> {
    if cond {
        Ok(())
    } else {
        Err(Refused(why))
    }
}

/// Applies `event` to `s` under `cfg`. Pure: no IO, no clock, no randomness.
pub fn step(cfg: &Config, s: &State, event: Event) -> Result<State, Refused> {
    let n = cfg.n();
    let mut t = *s;
    if let Some(d) = event.disk() {
        need(d < n, "no such disk")?;
    }
    match event {
        Event::ParentBegins => {
            need(!s.parent.f.begun(), "the parent has already begun")?;
            t.parent.status = CmdStatus::Active;
            t.parent.f.set_begun(true);
            t.parent.f.set_registered(true);
            t.snapshot = Snapshot::Locked;
        }
        Event::ParentStartsChild => {
            need(
                s.parent_executing(),
                "the parent's execute() is not running",
            )?;
            let d = next_child(s, n).ok_or(Refused("every disk already has its child"))?;
            let disk = &mut t.disks[d];
            disk.status = CmdStatus::NotStarted;
            disk.f.set_created(true);
            disk.f.set_registered(true);
            disk.f.set_queued(true);
        }
        Event::ParentReturns => {
            need(
                s.parent_executing(),
                "the parent's execute() is not running",
            )?;
            need(
                next_child(s, n).is_none(),
                "the parent has children left to start",
            )?;
            t.parent.f.set_executed(true);
        }
        Event::PollParent => {
            need(
                s.parent.f.registered(),
                "the parent is not registered with the poller",
            )?;
            match s.parent.status {
                CmdStatus::Succeeded => parent_end_action(&mut t, n, true),
                CmdStatus::Failed => parent_end_action(&mut t, n, false),
                CmdStatus::Active if s.parent.f.executed() => {
                    match parent_decision(cfg.poller, s, n) {
                        ParentDecision::Wait { .. } => {
                            return Err(Refused("the parent's doPolling waits"))
                        }
                        ParentDecision::Done { success } => {
                            t.parent.status = if success {
                                CmdStatus::Succeeded
                            } else {
                                CmdStatus::Failed
                            };
                        }
                    }
                }
                _ => {
                    return Err(Refused(
                        "the poller dispatches nothing for the parent's status",
                    ))
                }
            }
        }
        Event::Restart => {
            need(s.restarts < cfg.restarts, "no engine restart left")?;
            t = restart(s, n);
            need(t != *s, "a restart would change nothing")?;
            t.restarts = s.restarts + 1;
        }
        Event::PoolPicksUp(d) => {
            let disk = &mut t.disks[d as usize];
            need(disk.f.queued(), "the child is not in the pool's queue")?;
            disk.f.set_queued(false);
            // A thread that finds no row cannot load the command and runs nothing; this is how
            // bug 1280160's children were "bypassed" (no VDSM verb was ever called).
            if disk.status == CmdStatus::NotStarted {
                disk.status = CmdStatus::Active;
            }
        }
        Event::ChildReturns(d) => {
            let disk = &mut t.disks[d as usize];
            need(
                disk.status == CmdStatus::Active && !disk.f.executed(),
                "no pool thread is inside the child's execute()",
            )?;
            disk.f.set_executed(true);
        }
        Event::PollChild(d) => {
            need(
                t.disks[d as usize].f.registered(),
                "the child is not registered with the poller",
            )?;
            poll_child(&mut t.disks[d as usize])?;
        }
        Event::TaskEnds(d) => {
            need(
                s.disks[d as usize].task == Task::Running,
                "no grandchild is running",
            )?;
            need(
                grandchild_can_end(s, d as usize),
                "the child's rows are gone",
            )?;
            let disk = &mut t.disks[d as usize];
            match disk.step {
                Step::Extend => disk.task = Task::Succeeded,
                Step::Merge => {
                    // VM.merge accepted: the host now runs the block-commit job.
                    disk.f.set_job_running(true);
                    disk.task = Task::Succeeded;
                }
                Step::MergeStatus => {
                    need(
                        !disk.f.job_running(),
                        "MergeStatus waits for the host's job",
                    )?;
                    disk.task = if disk.f.top_in_chain() {
                        Task::Failed
                    } else {
                        Task::Succeeded
                    };
                }
                Step::DestroyImage => {
                    disk.f.set_top_exists(false);
                    disk.task = Task::Succeeded;
                }
                Step::Complete => return Err(Refused("a completed child has no grandchild")),
            }
        }
        Event::HostJobEnds(d) | Event::HostJobFails(d) => {
            let fails = matches!(event, Event::HostJobFails(_));
            need(
                !fails || cfg.faults.contains(Fault::MergeJobFails),
                "fault merge-job-fails is off",
            )?;
            let disk = &mut t.disks[d as usize];
            need(
                disk.f.job_running(),
                "the host runs no merge job for this disk",
            )?;
            disk.f.set_job_running(false);
            // A failed job leaves the chain as it was; a completed one has committed and pivoted.
            if !fails {
                disk.f.set_base_has_top(true);
                disk.f.set_top_in_chain(false);
            }
        }
        Event::DeleteVolumeFails(d) => {
            need(
                cfg.faults.contains(Fault::DeleteVolumeFails),
                "fault delete-volume-fails is off",
            )?;
            let disk = &mut t.disks[d as usize];
            need(
                disk.step == Step::DestroyImage && disk.task == Task::Running,
                "no deleteVolume is running",
            )?;
            need(
                grandchild_can_end(s, d as usize),
                "the child's rows are gone",
            )?;
            disk.task = Task::Failed;
        }
    }
    Ok(t)
}

/// Whether disk `d`'s grandchild is running and can still end: the grandchildren go with their
/// parent's rows (`removeAllCommandsInHierarchy`), and one whose rows are gone never ends. The
/// engine asks this to know whether a task worker should keep waiting.
pub fn grandchild_can_end(s: &State, d: usize) -> bool {
    let disk = &s.disks[d];
    disk.task == Task::Running && disk.status != CmdStatus::NoRow
}

/// The first disk the parent has not yet started a child for: its loop goes in disk order.
fn next_child(s: &State, n: usize) -> Option<usize> {
    s.disks[..n].iter().position(|d| !d.f.created())
}

/// The parent's end-action (`RemoveSnapshotCommandCallback.endAction`), then
/// `removeAllCommandsInHierarchy`, which deletes the rows but not the poller's registrations.
fn parent_end_action(t: &mut State, n: usize, success: bool) {
    if success {
        t.snapshot = Snapshot::Deleted;
    } else {
        // endWithFailure: keep the snapshot, drop the disks whose merge succeeded, back to OK.
        for d in t.disks[..n].iter_mut() {
            if d.status == CmdStatus::Succeeded {
                d.f.set_in_snapshot(false);
            }
        }
        t.snapshot = Snapshot::Ok;
    }
    t.parent.status = CmdStatus::NoRow;
    t.parent.f.set_notified(true);
    t.parent.f.set_registered(false);
    for d in t.disks[..n].iter_mut() {
        d.status = CmdStatus::NoRow;
    }
}

/// The poller's dispatch of a child's callback (`RemoveSnapshotSingleDiskLiveCommandCallback`).
fn poll_child(d: &mut Disk) -> Result<(), Refused> {
    match d.status {
        CmdStatus::Succeeded => {
            // syncDbRecords: base takes top's place, top's row is deleted.
            d.images = Images::Merged;
            end_child(d);
        }
        CmdStatus::Failed => {
            d.images = if d.step < Step::DestroyImage {
                Images::TopIllegal
            } else {
                Images::MergedOrphan
            };
            end_child(d);
        }
        CmdStatus::Active if d.f.executed() => match d.task {
            // proceedCommandExecution: one step per poll.
            Task::None => d.task = Task::Running,
            Task::Running => return Err(Refused("the child's doPolling waits for its grandchild")),
            Task::Succeeded => {
                d.step = d.step.next();
                if d.step == Step::Complete {
                    d.task = Task::None;
                    d.status = CmdStatus::Succeeded;
                } else {
                    d.task = Task::Running;
                }
            }
            Task::Failed => d.status = CmdStatus::Failed,
        },
        _ => {
            return Err(Refused(
                "the poller dispatches nothing for the child's status",
            ))
        }
    }
    Ok(())
}

fn end_child(d: &mut Disk) {
    d.f.set_notified(true);
    d.f.set_registered(false);
}

/// The 2015 restart rules (`c01ac673388`), without counting the restart: threads and queued work
/// are lost; every row not executed and not already failed becomes FAILED_RESTARTED; every row
/// whose callback has not been notified is registered again, and only those.
pub fn restart(s: &State, n: usize) -> State {
    let mut t = *s;
    let p = &mut t.parent;
    if matches!(p.status, CmdStatus::NotStarted | CmdStatus::Active) && !p.f.executed() {
        p.status = CmdStatus::FailedRestarted;
    }
    p.f.set_registered(p.status != CmdStatus::NoRow && !p.f.notified());
    for d in t.disks[..n].iter_mut() {
        d.f.set_queued(false);
        if matches!(d.status, CmdStatus::NotStarted | CmdStatus::Active) && !d.f.executed() {
            d.status = CmdStatus::FailedRestarted;
        }
        d.f.set_registered(d.status != CmdStatus::NoRow && !d.f.notified());
    }
    t
}

/// The events `step` accepts in `s`, in a fixed order.
pub fn enabled(cfg: &Config, s: &State) -> Vec<Event> {
    successors(cfg, s).map(|(e, _)| e).collect()
}

/// Every enabled event with the state it leads to, in a fixed order.
pub fn successors<'a>(cfg: &'a Config, s: &'a State) -> impl Iterator<Item = (Event, State)> + 'a {
    Event::candidates(cfg.n()).filter_map(move |e| step(cfg, s, e).ok().map(|t| (e, t)))
}
