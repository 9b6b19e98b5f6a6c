//! The one transition function. `step` either gives the next state or refuses the event with
//! the reason; an event is enabled exactly when `step` accepts it. An event that would change
//! nothing (a poll that only waits) is refused: waiting is not a step.

use crate::config::{Config, Fault, Release};
use crate::event::Event;
use crate::rules::{
    self, OnChildExecutionFailed, OnGrandchildExecutionFailed, ParentDecision, Rules,
};
use crate::state::{CmdStatus, Disk, DiskFlags, Images, Snapshot, State, Step, Task};
use crate::transition::{ChildFailure, Ending, Transition};
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

/// Applies `event` to `s` under `cfg`: the next state and the branch that led there. Pure: no IO,
/// no clock, no randomness.
pub fn step(cfg: &Config, s: &State, event: Event) -> Result<(State, Transition), Refused> {
    let n = cfg.n();
    let r = Rules::of(cfg.release);
    let mut t = *s;
    if let Some(d) = event.disk() {
        need(d < n, "no such disk")?;
    }
    let transition = match event {
        Event::ParentBegins => {
            need(!s.parent.f.begun(), "the parent has already begun")?;
            t.parent.status = CmdStatus::Active;
            t.parent.f.set_begun(true);
            t.parent.f.set_registered(true);
            t.snapshot = Snapshot::Locked;
            Transition::ParentBegins
        }
        Event::ParentStartsChild => {
            need(
                s.parent_executing(),
                "the parent's execute() is not running",
            )?;
            let d = next_child(s, n).ok_or(Refused("every disk already has its child"))?;
            let disk = &mut t.disks[d];
            disk.status = CmdStatus::NotStarted;
            // Where the child's execute() chooses its first step, the row has none until then;
            // EXTEND stands for that (neither counts as a completed merge).
            disk.step = if r.initial_step_asks_host {
                Step::Extend
            } else {
                r.initial_step(disk.images == Images::MergedOrphan, true)
            };
            disk.f.set_created(true);
            disk.f.set_registered(true);
            disk.f.set_queued(true);
            Transition::ParentStartsChild
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
            Transition::ParentReturns
        }
        Event::PollParent => {
            need(
                s.parent.f.registered(),
                "the parent is not registered with the poller",
            )?;
            let polled = match s.parent.status {
                CmdStatus::Succeeded | CmdStatus::Failed => {
                    let success = s.parent.status == CmdStatus::Succeeded;
                    parent_end_action(&mut t, n, success);
                    return Ok((t, Transition::ParentEndAction { success }));
                }
                CmdStatus::Active => s.parent.f.executed(),
                CmdStatus::ExecutionFailed => r.polls_parent_on_execution_failed,
                _ => false,
            };
            need(
                polled,
                "the poller dispatches nothing for the parent's status",
            )?;
            match r.parent_decision(s, n) {
                ParentDecision::Wait { .. } => return Err(Refused("the parent's doPolling waits")),
                ParentDecision::Done { success } => {
                    t.parent.status = if success {
                        CmdStatus::Succeeded
                    } else {
                        CmdStatus::Failed
                    };
                    Transition::ParentDecides { success }
                }
            }
        }
        Event::Restart => {
            need(s.restarts < cfg.restarts, "no engine restart left")?;
            t = restart(cfg.release, s, n);
            need(t != *s, "a restart would change nothing")?;
            t.restarts = s.restarts + 1;
            Transition::Restart
        }
        Event::UserRetries => {
            need(s.retries < cfg.retries, "no retry left")?;
            need(
                s.removal_ended() && s.snapshot == Snapshot::Ok && s.idle(n),
                "the snapshot can be removed again only after a failed removal, with nothing running",
            )?;
            // A new parent command; whether a command ever expired is a fact of the run.
            t.parent = Default::default();
            t.parent.f.set_expired(s.parent.f.expired());
            for d in t.disks[..n].iter_mut() {
                d.status = CmdStatus::NoRow;
                d.step = Step::Extend;
                d.task = Task::None;
                for clear in [
                    DiskFlags::set_created,
                    DiskFlags::set_queued,
                    DiskFlags::set_executed,
                    DiskFlags::set_notified,
                    DiskFlags::set_registered,
                    DiskFlags::set_destroy_failed,
                ] {
                    clear(&mut d.f, false);
                }
            }
            need(
                next_child(&t, n).is_some(),
                "the snapshot has no image left to merge",
            )?;
            t.retries = s.retries + 1;
            Transition::UserRetries
        }
        Event::PoolPicksUp(d) => {
            let disk = &mut t.disks[d as usize];
            need(disk.f.queued(), "the child is not in the pool's queue")?;
            disk.f.set_queued(false);
            // The thread holds the command object; `execute()` sets it ACTIVE and persists it
            // (`CommandBase.java:1376-1384` at ovirt-engine-3.6.0), which re-creates a row that the
            // parent's end-action deleted (`CommandsCacheImpl.put`, l.61-64): the child then runs
            // its steps after the snapshot row is gone. Only 3.6.0 can get here with no row.
            disk.status = CmdStatus::Active;
            disk.f.set_notified(false);
            Transition::PoolPicksUp
        }
        Event::ChildReturns(d) | Event::ImageInfoFails(d) => {
            let disk = &mut t.disks[d as usize];
            need(
                disk.status == CmdStatus::Active && !disk.f.executed() && !disk.f.queued(),
                "no pool thread is inside the child's execute()",
            )?;
            let fails = event == Event::ImageInfoFails(d);
            if fails {
                need(
                    cfg.faults.contains(Fault::ImageInfoFails),
                    "fault image-info-fails is off",
                )?;
                need(
                    r.initial_step_asks_host,
                    "this release's child does not ask the host for top",
                )?;
                need(
                    disk.images != Images::MergedOrphan && disk.f.top_exists(),
                    "GetImageInfo is not asked (an orphan) or top is gone anyway",
                )?;
            }
            if r.initial_step_asks_host {
                let answered = disk.f.top_exists() && !fails;
                disk.step = r.initial_step(disk.images == Images::MergedOrphan, answered);
            }
            disk.f.set_executed(true);
            if fails {
                Transition::ImageInfoFails
            } else {
                Transition::ChildReturns
            }
        }
        Event::PollChild(d) => {
            need(
                t.disks[d as usize].f.registered(),
                "the child is not registered with the poller",
            )?;
            poll_child(r, &mut t.disks[d as usize])?
        }
        // Queued and executing are one phase for a grandchild with a callback other than Merge:
        // the restart rule and every poller treat them alike, so a pool thread picking it up is
        // not a step of its own. Without a callback they differ (a restart loses a queued one,
        // and from 4.0 ends an executing one with failure); a Merge is executing from the moment
        // VM.merge reached the host.
        Event::GrandchildPicksUp(d) => {
            let disk = &mut t.disks[d as usize];
            need(
                disk.task == Task::Queued
                    && !r.grandchild_has_callback(disk.step)
                    && grandchild_alive(s, d as usize),
                "no grandchild without a callback waits in the pool's queue",
            )?;
            disk.task = Task::Executing;
            Transition::GrandchildPicksUp
        }
        Event::MergeReachesHost(d) | Event::MergeRefused(d) => {
            let disk = &mut t.disks[d as usize];
            need(
                grandchild_at(s, d, Step::Merge, Task::Queued),
                "no Merge grandchild is about to call VM.merge",
            )?;
            if matches!(event, Event::MergeReachesHost(_)) {
                need(
                    disk.f.top_in_chain(),
                    "top is no longer in the host's chain",
                )?;
                disk.f.set_job_running(true);
                disk.task = Task::Executing;
                Transition::MergeReachesHost
            } else {
                need(!disk.f.top_in_chain(), "the host accepts the merge")?;
                // From 4.0 the refusal (imageErr, mergeErr) is taken for a running merge: its
                // `execute()` goes on to return, no job is found, and MERGE_STATUS reads the chain.
                disk.task = if r.refused_merge_is_verified {
                    Task::Executing
                } else {
                    Task::Failed
                };
                Transition::MergeRefused {
                    verified: r.refused_merge_is_verified,
                }
            }
        }
        Event::GrandchildReturns(d) => {
            let disk = &mut t.disks[d as usize];
            let inside = match disk.task {
                Task::Queued => r.grandchild_has_callback(disk.step) && disk.step != Step::Merge,
                Task::Executing => true,
                _ => false,
            };
            need(
                inside && grandchild_alive(s, d as usize),
                "no pool thread is inside a grandchild's execute()",
            )?;
            disk.task = Task::Running;
            Transition::GrandchildReturns
        }
        Event::TaskEnds(d) => {
            let disk = &mut t.disks[d as usize];
            if disk.task == Task::ExecutionFailed
                && r.grandchild_polled_on_execution_failed(disk.step)
                && grandchild_alive(s, d as usize)
            {
                // Its own callback polls it. MergeExtend's ends it FAILED: it never executed.
                // DestroyImage's looks at the SPM tasks the command stored, finds none running
                // and none failed, and ends it SUCCEEDED (`DestroyImageCommandCallback.java:
                // 29-59` at ovirt-engine-4.4.0): the volume was never deleted.
                if disk.step == Step::DestroyImage {
                    disk.task = Task::Succeeded;
                    return Ok((t, Transition::GrandchildEndsWithoutTask));
                }
                disk.task = Task::Failed;
                return Ok((t, Transition::GrandchildNeverExecuted));
            }
            need(
                disk.task == Task::Running && grandchild_alive(s, d as usize),
                "no grandchild is running",
            )?;
            let ending = match disk.step {
                Step::Extend => Ending::NothingToExtend,
                Step::Merge => {
                    // `MergeCommandCallback` ends the Merge once the host no longer lists its
                    // job (`MergeCommandCallback.java:26-37` at ovirt-engine-4.0.0, l.28-47 at
                    // ovirt-engine-4.5.7).
                    need(
                        !disk.f.job_running(),
                        "Merge's callback waits for the host's job",
                    )?;
                    Ending::MergeHandedOver
                }
                Step::MergeStatus => {
                    need(
                        !disk.f.job_running(),
                        "MergeStatus waits for the host's job",
                    )?;
                    if disk.f.top_in_chain() {
                        Ending::TopStillInChain
                    } else {
                        Ending::ChainMerged
                    }
                }
                // VDSM looks the volume up inside the SPM task: a volume that is gone fails the task
                // (`VolumeDoesNotExist`, `sp.py:1824-1849` at vdsm v4.16.7, l.1954-1978 at
                // v4.50.7).
                Step::DestroyImage if !disk.f.top_exists() => Ending::VolumeAlreadyGone,
                Step::DestroyImage => {
                    disk.f.set_top_exists(false);
                    Ending::VolumeDeleted
                }
                Step::ReduceImage => Ending::NothingToReduce,
                Step::DestroyImageCheck if disk.f.top_exists() => Ending::VolumeStillThere,
                Step::DestroyImageCheck => Ending::VolumeGone,
                Step::Complete => return Err(Refused("a completed child has no grandchild")),
            };
            disk.task = match ending {
                Ending::TopStillInChain | Ending::VolumeStillThere | Ending::VolumeAlreadyGone => {
                    Task::Failed
                }
                _ => Task::Succeeded,
            };
            Transition::GrandchildEnds(ending)
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
            if fails {
                Transition::HostJobFails
            } else {
                disk.f.set_base_has_top(true);
                disk.f.set_top_in_chain(false);
                Transition::HostJobEnds
            }
        }
        Event::DeleteVolumeFails(d) => {
            need(
                cfg.faults.contains(Fault::DeleteVolumeFails),
                "fault delete-volume-fails is off",
            )?;
            let disk = &mut t.disks[d as usize];
            need(
                grandchild_at(s, d, Step::DestroyImage, Task::Running),
                "no deleteVolume is running",
            )?;
            disk.task = Task::Failed;
            Transition::DeleteVolumeFails
        }
        Event::Expire => {
            need(r.commands_expire, "commands do not expire in this release")?;
            t = expire(r, s, n).ok_or(Refused("no ACTIVE command that the expiry pass reaches"))?;
            need(
                !progress_possible(cfg, s),
                "something can still happen before any command expires",
            )?;
            Transition::Expire
        }
    };
    Ok((t, transition))
}

/// Whether an event other than a restart, the user's retry or expiry is enabled: whether the
/// removal can go on by itself. Commands expire only when it cannot: their lifetime (3000 minutes)
/// is taken to be longer than any step that can still complete.
pub fn progress_possible(cfg: &Config, s: &State) -> bool {
    Event::candidates(cfg.n())
        .filter(|e| !matches!(e, Event::Restart | Event::UserRetries | Event::Expire))
        .any(|e| step(cfg, s, e).is_ok())
}

/// One pass of `markExpiredCommandsAsFailure` over a hierarchy that stopped moving, or `None` when
/// it fails nothing. For each command whose callback the poller holds, the pass fails its child
/// commands that are ACTIVE (or the command itself when it has no child); a command that is not
/// ACTIVE never expires (`tasks/CommandExecutor.java:141-170` at ovirt-engine-3.6.1,
/// `tasks/CommandsRepository.java:316-343` at ovirt-engine-4.0.0). Rows expire oldest first: the
/// parent's children were all created within its `execute()`, and each grandchild after its
/// child executed, so the children pass their lifetime together and before any grandchild; a
/// failed child then ends (its callback leaves the poller), and its grandchild is no longer
/// reached.
fn expire(r: &Rules, s: &State, n: usize) -> Option<State> {
    let mut t = *s;
    t.parent.f.set_expired(true);
    let has_children = s.disks[..n].iter().any(|d| d.status != CmdStatus::NoRow);
    if s.parent.f.registered() && has_children {
        let mut any = false;
        for d in t.disks[..n].iter_mut() {
            if d.status == CmdStatus::Active {
                d.status = CmdStatus::Failed;
                any = true;
            }
        }
        if any {
            return Some(t);
        }
    } else if s.parent.f.registered() && s.parent.status == CmdStatus::Active {
        t.parent.status = CmdStatus::Failed;
        return Some(t);
    }
    let mut any = false;
    for d in t.disks[..n].iter_mut() {
        // The child's own pass (when the poller holds it) and a grandchild's with a callback
        // reach the same row: the current grandchild, the only one that can still be ACTIVE.
        let reached =
            d.status != CmdStatus::NoRow && (d.f.registered() || r.grandchild_has_callback(d.step));
        if reached && d.task.row_active() {
            d.task = Task::Failed;
            any = true;
        }
    }
    any.then_some(t)
}

/// Whether disk `d`'s grandchild can still move: the grandchildren go with their parent's rows
/// (`removeAllCommandsInHierarchy`), and one whose rows are gone never ends.
pub(crate) fn grandchild_alive(s: &State, d: usize) -> bool {
    s.disks[d].status != CmdStatus::NoRow
}

/// Whether disk `d`'s grandchild is the one of `step`, in phase `task`, with its rows in place.
fn grandchild_at(s: &State, d: u8, step: Step, task: Task) -> bool {
    let disk = &s.disks[d as usize];
    disk.step == step && disk.task == task && grandchild_alive(s, d as usize)
}

/// Whether the parent's `execute()` has returned (`executed`).
pub fn parent_returned(s: &State) -> bool {
    s.parent.f.executed()
}

/// A command the poller may hold: the parent (`None`) or disk `d`'s child (`Some(d)`). Whether
/// the poller holds its callback, and its status with whether its end-action ran (the poller's
/// delay rule compares these before and after a dispatch).
pub fn polled_command(s: &State, cmd: Option<usize>) -> (bool, CmdStatus, bool) {
    match cmd {
        None => (
            s.parent.f.registered(),
            s.parent.status,
            s.parent.f.notified(),
        ),
        Some(d) => {
            let c = &s.disks[d];
            (c.f.registered(), c.status, c.f.notified())
        }
    }
}

/// The first disk the parent has not yet started a child for and that still has an image in the
/// snapshot (`getSourceImages()`: a disk whose merge was synced no longer has one): its loop goes
/// in disk order.
fn next_child(s: &State, n: usize) -> Option<usize> {
    s.disks[..n]
        .iter()
        .position(|d| !d.f.created() && d.images != Images::Merged)
}

/// The parent's end-action, then `removeAllCommandsInHierarchy`, which deletes the rows but not
/// the poller's registrations. On failure the parent drops no disk from the snapshot: its loop
/// over `getImagesParameters()` is empty on the live path (`snapshots/RemoveSnapshotCommand.java:
/// 271-291` at ovirt-engine-4.0.0); a disk leaves the snapshot in its own child's end-action.
fn parent_end_action(t: &mut State, n: usize, success: bool) {
    t.snapshot = if success {
        Snapshot::Deleted
    } else {
        Snapshot::Ok
    };
    t.parent.status = CmdStatus::NoRow;
    t.parent.f.set_notified(true);
    t.parent.f.set_registered(false);
    for d in t.disks[..n].iter_mut() {
        d.status = CmdStatus::NoRow;
    }
}

/// The poller's dispatch of a child's callback (`RemoveSnapshotSingleDiskLiveCommandCallback`).
fn poll_child(r: &Rules, d: &mut Disk) -> Result<Transition, Refused> {
    Ok(match d.status {
        CmdStatus::Succeeded => {
            // syncDbRecords(true): base takes top's place, the disk leaves the snapshot.
            d.images = Images::Merged;
            d.f.set_in_snapshot(false);
            end_child(d);
            Transition::ChildOnSucceeded
        }
        CmdStatus::Failed => {
            let merged = rules::completed_merge(d.step);
            if merged {
                d.images = Images::MergedOrphan;
                d.f.set_in_snapshot(false);
            } else if d.images != Images::MergedOrphan {
                // syncDbRecordsMergeFailure marks the chain ILLEGAL; an orphan's rows were
                // already synced by the failure that orphaned it, and stay so.
                d.images = Images::TopIllegal;
            }
            end_child(d);
            Transition::ChildOnFailed { merged }
        }
        CmdStatus::Active if d.f.executed() => proceed(r, d, CmdStatus::Succeeded)?,
        CmdStatus::ExecutionFailed => match r.on_child_execution_failed {
            // 4.1.0's callback carries on with the steps of a child a restart caught before its
            // execute() returned; at the end it is FAILED, since it never executed
            // (`ChildCommandsCallbackBase.java:93` taskGroupSuccess needs EXECUTED).
            OnChildExecutionFailed::CarriesOn => proceed(r, d, CmdStatus::Failed)?,
            // From 4.2.0 it ends FAILED at once; it has no grandchild (its callback starts none
            // before the command executed).
            OnChildExecutionFailed::EndsFailed => {
                d.status = CmdStatus::Failed;
                Transition::ChildFails(ChildFailure::NeverExecuted)
            }
            OnChildExecutionFailed::NotPolled => {
                return Err(Refused(
                    "the poller dispatches nothing for the child's status",
                ))
            }
        },
        _ => {
            return Err(Refused(
                "the poller dispatches nothing for the child's status",
            ))
        }
    })
}

/// The child's `proceedCommandExecution` (4.1: `performNextOperation`): one step per poll;
/// `done` is the status it takes at COMPLETE.
fn proceed(r: &Rules, d: &mut Disk, done: CmdStatus) -> Result<Transition, Refused> {
    Ok(match d.task {
        Task::None => match start_step(r, d, done) {
            Transition::ChildNextStep { .. } => Transition::ChildStartsGrandchild,
            other => other,
        },
        Task::Queued | Task::Executing | Task::Running | Task::Lost | Task::Stranded => {
            return Err(Refused("the child's doPolling waits for its grandchild"))
        }
        Task::ExecutionFailed => match r.on_grandchild_execution_failed {
            OnGrandchildExecutionFailed::Wait => {
                return Err(Refused(
                    "the child's doPolling waits for its EXECUTION_FAILED grandchild",
                ))
            }
            OnGrandchildExecutionFailed::FailChildUnlessDestroyImage
                if d.step == Step::DestroyImage =>
            {
                return Err(Refused(
                    "the child's doPolling waits for its EXECUTION_FAILED DestroyImage",
                ))
            }
            OnGrandchildExecutionFailed::FailChild
            | OnGrandchildExecutionFailed::FailChildUnlessDestroyImage => {
                d.status = CmdStatus::Failed;
                Transition::ChildFails(ChildFailure::GrandchildExecutionFailed)
            }
        },
        // 4.1.0 looks at every grandchild: the DestroyImage it let through still counts.
        Task::Succeeded if d.f.destroy_failed() => {
            d.status = CmdStatus::Failed;
            Transition::ChildFails(ChildFailure::EarlierDestroyFailed)
        }
        Task::Succeeded => {
            d.step = r.next_step(d.step);
            start_step(r, d, done)
        }
        Task::Failed if d.step == Step::DestroyImage && r.failed_destroy_image_moves_on => {
            d.f.set_destroy_failed(r.earlier_grandchild_failures_count);
            d.step = r.next_step(d.step);
            match start_step(r, d, done) {
                Transition::ChildNextStep { .. } => {
                    Transition::ChildNextStep { past_failure: true }
                }
                other => other,
            }
        }
        Task::Failed => {
            d.status = CmdStatus::Failed;
            Transition::ChildFails(ChildFailure::GrandchildFailed)
        }
    })
}

/// Starts the current step's grandchild (`executeAsyncCommand`: row NOT_STARTED, queued), or at
/// COMPLETE (or a REDUCE_IMAGE with nothing to start) ends the child: `done`, unless a failed
/// DestroyImage it let through still counts.
fn start_step(r: &Rules, d: &mut Disk, done: CmdStatus) -> Transition {
    if !r.step_starts_a_grandchild(d.step) {
        d.task = Task::None;
        if d.f.destroy_failed() {
            d.status = CmdStatus::Failed;
            return Transition::ChildFails(ChildFailure::EarlierDestroyFailed);
        }
        d.status = done;
        Transition::ChildCompletes
    } else {
        d.task = Task::Queued;
        Transition::ChildNextStep {
            past_failure: false,
        }
    }
}

fn end_child(d: &mut Disk) {
    d.f.set_notified(true);
    d.f.set_registered(false);
}

/// The restart rules, without counting the restart: threads and queued work are lost; every row
/// not executed and not already failed becomes FAILED_RESTARTED/EXECUTION_FAILED; every row whose
/// callback has not been notified is registered again (`tasks/CommandExecutor.java:117-131` at
/// ovirt-engine-3.5.0, l.162-176 at 3.6.0, `c01ac673388`; `tasks/CommandCallbacksPoller.java:
/// 181-194` at ovirt-engine-4.0.0). These cover grandchildren too: one with a callback becomes
/// EXECUTION_FAILED; one without is lost from the queue (NOT_STARTED), or, caught in `execute()`,
/// left ACTIVE with no thread (Stranded), except that from 4.0 `handleUnmanagedCommands` ends it
/// with failure when no async task names it, which is DestroyImageCheck's case; a DestroyImage's
/// placeholder task names it from its first line until 4.1 (see
/// [`Rules::grandchild_records_a_task`]).
pub fn restart(release: Release, s: &State, n: usize) -> State {
    let r = Rules::of(release);
    let mut t = *s;
    let p = &mut t.parent;
    if matches!(p.status, CmdStatus::NotStarted | CmdStatus::Active) && !p.f.executed() {
        p.status = CmdStatus::ExecutionFailed;
        if r.startup_compensation_works && t.snapshot == Snapshot::Locked {
            t.snapshot = Snapshot::Ok;
        }
    }
    let p = &mut t.parent;
    p.f.set_registered(p.status != CmdStatus::NoRow && !p.f.notified());
    for d in t.disks[..n].iter_mut() {
        d.f.set_queued(false);
        if matches!(d.status, CmdStatus::NotStarted | CmdStatus::Active) && !d.f.executed() {
            d.status = CmdStatus::ExecutionFailed;
        }
        d.f.set_registered(d.status != CmdStatus::NoRow && !d.f.notified());
        if d.status == CmdStatus::NoRow {
            continue;
        }
        d.task = match d.task {
            Task::Queued | Task::Executing if r.grandchild_has_callback(d.step) => {
                Task::ExecutionFailed
            }
            Task::Executing
                if r.restart_ends_unmanaged_commands && !r.grandchild_records_a_task(d.step) =>
            {
                Task::Failed
            }
            Task::Executing => Task::Stranded,
            Task::Queued => Task::Lost,
            other => other,
        };
    }
    t
}

/// The events `step` accepts in `s`, in a fixed order.
pub fn enabled(cfg: &Config, s: &State) -> Vec<Event> {
    successors(cfg, s).map(|(e, _)| e).collect()
}

/// Every enabled event with the state it leads to, in a fixed order.
pub fn successors<'a>(cfg: &'a Config, s: &'a State) -> impl Iterator<Item = (Event, State)> + 'a {
    Event::candidates(cfg.n()).filter_map(move |e| step(cfg, s, e).ok().map(|(t, _)| (e, t)))
}
