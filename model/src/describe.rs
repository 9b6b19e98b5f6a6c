//! The protocol in oVirt's own words: what an event does in a state (which command, which
//! status, what the poller decided, which row changed) and a compact summary of a state. The
//! report, the explorer and saved counterexamples all print these.

use crate::canonical::ConcreteStep;
use crate::config::Config;
use crate::event::Event;
use crate::rules::{parent_decision, ParentDecision, Rules};
use crate::state::{CmdStatus, Disk, Images, State, Step, Task};
use crate::transition::{ChildFailure, Ending, Transition};
use std::fmt::Write;

fn disk_name(d: usize) -> String {
    format!("disk-{}", d + 1)
}

/// A short name for an event, without a state (the explorer's action list).
pub fn describe_event(e: Event) -> String {
    let d = |i: u8| disk_name(i as usize);
    match e {
        Event::ParentBegins => "RemoveSnapshot.execute() begins".into(),
        Event::ParentStartsChild => "RemoveSnapshot starts the next disk's child".into(),
        Event::ParentReturns => "RemoveSnapshot.execute() returns".into(),
        Event::PollParent => "poller: dispatch RemoveSnapshot".into(),
        Event::Restart => "engine restarts".into(),
        Event::UserRetries => "the user removes the snapshot again".into(),
        Event::GrandchildPicksUp(i) => format!("pool thread picks up {}'s grandchild", d(i)),
        Event::MergeReachesHost(i) => format!("VM.merge for {} reaches the host", d(i)),
        Event::MergeRefused(i) => format!("host refuses VM.merge for {}", d(i)),
        Event::GrandchildReturns(i) => format!("{}'s grandchild execute() returns", d(i)),
        Event::PoolPicksUp(i) => format!("pool thread picks up {}'s child", d(i)),
        Event::ChildReturns(i) => format!("{}'s child execute() returns", d(i)),
        Event::ImageInfoFails(i) => format!(
            "fault: GetImageInfo for {}'s top gets no answer in the child's execute()",
            d(i)
        ),
        Event::PollChild(i) => format!("poller: dispatch {}'s child", d(i)),
        Event::TaskEnds(i) => format!("{}'s grandchild ends", d(i)),
        Event::HostJobEnds(i) => format!("host: {}'s merge job completes", d(i)),
        Event::HostJobFails(i) => format!("fault: host's merge job for {} fails", d(i)),
        Event::DeleteVolumeFails(i) => format!("fault: deleteVolume for {} fails", d(i)),
        Event::Expire => "poller: commands pass their lifetime".into(),
    }
}

/// What a step did, in oVirt's words.
pub fn describe_step(cfg: &Config, st: &ConcreteStep) -> String {
    let n = cfg.n();
    let (before, event, after) = (&st.before, st.event, &st.after);
    match event {
        Event::ParentBegins => {
            "RemoveSnapshot.execute() begins: parent ACTIVE, its callback registered; snapshot row LOCKED"
                .into()
        }
        Event::ParentStartsChild => {
            let d = (0..n)
                .find(|&i| !before.disks[i].f.created() && after.disks[i].f.created())
                .unwrap_or(0);
            format!(
                "RemoveSnapshot.executeAsyncCommand for {}: RemoveSnapshotSingleDiskLive row persisted NOT_STARTED, callback registered, submitted to the pool",
                disk_name(d)
            )
        }
        Event::ParentReturns => "RemoveSnapshot.execute() returns: parent executed = true".into(),
        Event::PollParent => describe_parent_poll(cfg, before, st.transition, after),
        Event::Restart => describe_restart(cfg, before, after, n),
        Event::UserRetries => {
            let left: Vec<_> = (0..n)
                .filter(|&i| before.disks[i].images != Images::Merged)
                .map(disk_name)
                .collect();
            format!(
                "the user removes the snapshot again (retry {}): a new RemoveSnapshot for {}",
                after.retries,
                left.join(", ")
            )
        }
        Event::PoolPicksUp(i) => {
            let i = i as usize;
            if before.disks[i].status == CmdStatus::NoRow {
                format!(
                    "pool thread picks up {}'s child; its row was deleted, and execute() persists it again: status ACTIVE",
                    disk_name(i)
                )
            } else {
                format!("pool thread picks up {}'s child: status ACTIVE", disk_name(i))
            }
        }
        Event::GrandchildPicksUp(i) => format!(
            "pool thread picks up {}: status ACTIVE",
            grandchild_of(before, i)
        ),
        Event::ChildReturns(i) if Rules::of(cfg.release).initial_step_asks_host => {
            let (b, a) = (&before.disks[i as usize], &after.disks[i as usize]);
            let asked = if b.images == Images::MergedOrphan {
                "the image is an orphan".to_string()
            } else {
                let top = if b.f.top_exists() { "there" } else { "gone" };
                format!("GetImageInfo finds top {top}")
            };
            format!(
                "{}'s child execute() returns: {asked}, first step {}; executed = true",
                disk_name(i as usize),
                a.step.ovirt_name()
            )
        }
        Event::ImageInfoFails(i) => format!(
            "fault: {}'s child execute() asks GetImageInfo for top, which is there, and gets no answer: first step COMPLETE, as if merged; executed = true",
            disk_name(i as usize)
        ),
        Event::MergeRefused(i) if st.transition == (Transition::MergeRefused { verified: true }) => format!(
            "{}'s Merge grandchild calls VM.merge, which fails (imageErr/mergeErr): top is no longer in the host's chain; taken for a running merge, the chain will be verified",
            disk_name(i as usize)
        ),
        Event::Expire => describe_expiry(cfg, before, after),
        Event::MergeReachesHost(i)
        | Event::MergeRefused(i)
        | Event::ChildReturns(i)
        | Event::HostJobEnds(i)
        | Event::HostJobFails(i)
        | Event::DeleteVolumeFails(i) => fixed_text(event).replacen("{}", &disk_name(i as usize), 1),
        Event::GrandchildReturns(i) => format!(
            "{} execute() returns: executed = true",
            grandchild_of(before, i)
        ),
        Event::PollChild(i) => describe_child_poll(
            cfg,
            &before.disks[i as usize],
            st.transition,
            &after.disks[i as usize],
            i as usize,
        ),
        Event::TaskEnds(i) => {
            let who = grandchild_of(before, i);
            match st.transition {
                Transition::GrandchildEnds(ending) => match ending {
                    Ending::NothingToExtend => format!("{who} ends SUCCEEDED (nothing to extend for qcow2)"),
                    Ending::MergeHandedOver => format!("{who} ends SUCCEEDED: VM.merge accepted, the job is the host's now"),
                    Ending::ChainMerged => format!("{who} ends SUCCEEDED: host job gone, chain read back: top merged away"),
                    Ending::TopStillInChain => format!("{who} ends FAILED: host job gone but top is still in the chain"),
                    Ending::VolumeDeleted => format!("{who} ends SUCCEEDED: deleteVolume removed top's volume"),
                    Ending::VolumeAlreadyGone => format!("{who} ends FAILED: deleteVolume's task fails, top's volume is gone already (VolumeDoesNotExist)"),
                    Ending::NothingToReduce => format!("{who} ends SUCCEEDED (nothing to reduce on file storage)"),
                    Ending::VolumeGone => format!("{who} ends SUCCEEDED: top's volume is gone"),
                    Ending::VolumeStillThere => format!("{who} ends FAILED: top's volume is still there"),
                },
                Transition::GrandchildEndsWithoutTask => format!("poller: doPolling({who}, EXECUTION_FAILED): no SPM task stored, none running, none failed -> SUCCEEDED; the volume was not deleted"),
                _ => format!("poller: doPolling({who}, EXECUTION_FAILED): never executed -> FAILED; its end-action runs"),
            }
        }
    }
}

/// What one expiry pass failed.
fn describe_expiry(cfg: &Config, before: &State, after: &State) -> String {
    let r = cfg.release;
    let mut failed = Vec::new();
    if before.parent.status != after.parent.status {
        failed.push("RemoveSnapshot".to_string());
    }
    for i in 0..cfg.n() {
        let (b, a) = (&before.disks[i], &after.disks[i]);
        if b.status != a.status {
            failed.push(format!("{}'s child", disk_name(i)));
        }
        if b.task != a.task {
            failed.push(format!(
                "{} ({})",
                grandchild_of(before, i as u8),
                b.task.ovirt_name()
            ));
        }
    }
    format!(
        "{} minutes later, markExpiredCommandsAsFailure ({r}): ACTIVE and past its lifetime -> FAILED: {}",
        3000,
        failed.join(", ")
    )
}

/// The words for a step that say the same whatever the state, with `{}` for the disk.
fn fixed_text(e: Event) -> &'static str {
    match e {
        Event::MergeReachesHost(_) => "{}'s Merge grandchild calls VM.merge: the host starts a block-commit job",
        Event::MergeRefused(_) => "{}'s Merge grandchild calls VM.merge, which fails: top is no longer in the host's chain; Merge FAILED",
        Event::ChildReturns(_) => "{}'s child execute() returns: executed = true (status stays ACTIVE; its callback drives the steps)",
        Event::HostJobEnds(_) => "host: block-commit job for {} completes: base holds top's data, top is out of the chain",
        Event::HostJobFails(_) => "fault: host's block-commit job for {} ends without merging; the chain is unchanged",
        Event::DeleteVolumeFails(_) => "fault: deleteVolume of {}'s top volume fails: DestroyImage grandchild FAILED, the volume stays",
        _ => "{}",
    }
}

/// "disk-N's Step grandchild", for disk `i` in `s`.
fn grandchild_of(s: &State, i: u8) -> String {
    let d = i as usize;
    format!(
        "{}'s {} grandchild",
        disk_name(d),
        s.disks[d].step.grandchild_name()
    )
}

fn describe_parent_poll(cfg: &Config, before: &State, t: Transition, after: &State) -> String {
    let n = cfg.n();
    match t {
        Transition::ParentEndAction { success } => {
            let mut s = if success {
                "poller: onSucceeded(RemoveSnapshot): snapshot row DELETED".to_string()
            } else {
                "poller: onFailed(RemoveSnapshot): snapshot row back to OK".to_string()
            };
            let rows = 1
                + (0..n)
                    .filter(|&i| before.disks[i].status != CmdStatus::NoRow)
                    .count();
            let _ = write!(
                s,
                "; removeAllCommandsInHierarchy deletes {rows} command row(s), children now read UNKNOWN"
            );
            s
        }
        _ => {
            let seen: Vec<_> = (0..n)
                .filter(|&i| before.disks[i].f.created())
                .map(|i| {
                    let d = &before.disks[i];
                    let notified = if d.f.notified() { " (ended)" } else { "" };
                    format!(
                        "{} {}{}",
                        disk_name(i),
                        d.status.ovirt_name_in(cfg.release),
                        notified
                    )
                })
                .collect();
            let decision = format!("parent {}", after.parent.status.ovirt_name());
            let own = if before.parent.status == CmdStatus::ExecutionFailed {
                ", itself EXECUTION_FAILED,"
            } else {
                ","
            };
            format!(
                "poller: doPolling(RemoveSnapshot{own} rule {}) sees {} -> {}",
                cfg.release,
                if seen.is_empty() {
                    "no child".to_string()
                } else {
                    seen.join(", ")
                },
                decision
            )
        }
    }
}

fn describe_child_poll(cfg: &Config, b: &Disk, t: Transition, a: &Disk, i: usize) -> String {
    let who = format!("{}'s child", disk_name(i));
    let own = if b.status == CmdStatus::ExecutionFailed {
        ", EXECUTION_FAILED"
    } else {
        ""
    };
    let grandchild = || format!("{} {}", b.step.grandchild_name(), b.task.ovirt_name());
    match t {
        Transition::ChildOnSucceeded => format!(
            "poller: onSucceeded({who}): syncDbRecords, images now {}; the disk leaves the snapshot",
            a.images.ovirt_words()
        ),
        Transition::ChildOnFailed { merged } => format!(
            "poller: onFailed({who}) at step {}: images now {}{}",
            b.step.ovirt_name(),
            a.images.ovirt_words(),
            if merged && b.f.in_snapshot() {
                "; merge completed, so the disk leaves the snapshot"
            } else {
                ""
            }
        ),
        Transition::ChildFails(ChildFailure::EarlierDestroyFailed) => format!(
            "poller: doPolling({who}{own}): grandchild {}, but the failed DestroyImage still counts -> child FAILED",
            grandchild()
        ),
        Transition::ChildFails(_) => format!(
            "poller: doPolling({who}{own}): grandchild {} -> child FAILED",
            grandchild()
        ),
        Transition::ChildCompletes if b.task == Task::None => format!(
            "poller: doPolling({who}{own}): first step {}: nothing to start -> child {}",
            b.step.ovirt_name(),
            a.status.ovirt_name_in(cfg.release)
        ),
        Transition::ChildCompletes if a.step == Step::ReduceImage => format!(
            "poller: doPolling({who}{own}): step {} done -> REDUCE_IMAGE, nothing to reduce on file storage -> child {}",
            b.step.ovirt_name(),
            a.status.ovirt_name_in(cfg.release)
        ),
        Transition::ChildCompletes => format!(
            "poller: doPolling({who}{own}): step {} done -> COMPLETE, child {}",
            b.step.ovirt_name(),
            a.status.ovirt_name_in(cfg.release)
        ),
        Transition::ChildStartsGrandchild => format!(
            "poller: doPolling({who}{own}): step {} starts grandchild {} (row NOT_STARTED, queued)",
            a.step.ovirt_name(),
            a.step.grandchild_name()
        ),
        _ => format!(
            "poller: doPolling({who}{own}): step {} {} -> {}, starts grandchild {}",
            b.step.ovirt_name(),
            if t == (Transition::ChildNextStep { past_failure: true }) {
                "FAILED (the image may be gone already)"
            } else {
                "done"
            },
            a.step.ovirt_name(),
            a.step.grandchild_name()
        ),
    }
}

fn describe_restart(cfg: &Config, before: &State, after: &State, n: usize) -> String {
    let failed_name = CmdStatus::ExecutionFailed.ovirt_name_in(cfg.release);
    let mut failed = Vec::new();
    let mut lost = Vec::new();
    if before.parent.status != after.parent.status {
        failed.push("RemoveSnapshot".to_string());
    }
    for i in 0..n {
        let (b, a) = (&before.disks[i], &after.disks[i]);
        if b.status != a.status {
            failed.push(format!("{}'s child", disk_name(i)));
        }
        match (b.task, a.task) {
            (x, Task::ExecutionFailed) if x != Task::ExecutionFailed => {
                failed.push(format!("{}'s {}", disk_name(i), b.step.grandchild_name()))
            }
            (Task::Executing, Task::Failed) => lost.push(format!(
                "{}'s {} ENDED_WITH_FAILURE (no callback, no task row)",
                disk_name(i),
                b.step.grandchild_name()
            )),
            (x, Task::Lost) if x != Task::Lost => lost.push(format!(
                "{}'s {} lost from the queue (no callback: its row stays NOT_STARTED)",
                disk_name(i),
                b.step.grandchild_name(),
            )),
            (x, Task::Stranded) if x != Task::Stranded => lost.push(format!(
                "{}'s {} stranded (no callback: its row stays ACTIVE with no thread; only expiry ends it)",
                disk_name(i),
                b.step.grandchild_name(),
            )),
            _ => {}
        }
    }
    let registered = after.parent.f.registered() as usize
        + after.disks[..n].iter().filter(|d| d.f.registered()).count();
    let mut s = "engine restarts: threads and queued work lost".to_string();
    if !failed.is_empty() {
        let _ = write!(s, "; {failed_name}: {}", failed.join(", "));
    }
    if !lost.is_empty() {
        let _ = write!(s, "; {}", lost.join(", "));
    }
    if before.snapshot != after.snapshot {
        let _ = write!(
            s,
            "; startup compensation puts the snapshot back to {}",
            after.snapshot.ovirt_name()
        );
    }
    let _ = write!(
        s,
        "; {registered} callback(s) registered again from the rows"
    );
    s
}

/// Why a removal that can go no further has not ended, in oVirt's words (for a state where no
/// event but perhaps a restart is enabled and the parent's end-action has not run).
pub fn why_stuck(cfg: &Config, s: &State) -> String {
    let n = cfg.n();
    let r = cfg.release;
    if !s.parent.f.begun() {
        return "the parent never began".into();
    }
    let status = |st: CmdStatus| st.ovirt_name_in(r);
    if s.parent.status == CmdStatus::ExecutionFailed
        && !crate::rules::Rules::of(r).polls_parent_on_execution_failed
    {
        return format!(
            "the parent RemoveSnapshot is {} (a restart hit its execute()), and the {r} poller never dispatches it: the snapshot stays {}",
            status(CmdStatus::ExecutionFailed),
            s.snapshot.ovirt_name()
        );
    }
    if let ParentDecision::Wait { waiting_on } = parent_decision(r, s, n) {
        let d = &s.disks[waiting_on];
        let why = if d.status == CmdStatus::ExecutionFailed {
            format!(", which the {r} poller never dispatches (BZ 1633777)")
        } else if matches!(d.task, Task::Lost | Task::ExecutionFailed | Task::Stranded) {
            format!(
                ", whose {} grandchild is {} and never ends",
                d.step.grandchild_name(),
                d.task.ovirt_name()
            )
        } else {
            ", which nothing can change any more".to_string()
        };
        return format!(
            "the parent's doPolling ({r}) waits for {}'s child, {}{why}; the snapshot stays {}",
            disk_name(waiting_on),
            status(d.status),
            s.snapshot.ovirt_name()
        );
    }
    "no event is enabled but the parent's end-action has not run".into()
}

/// A compact, readable summary of a state: the parent, each disk (child, step, host chain,
/// image rows), the snapshot row. One line per actor.
pub fn summarize(cfg: &Config, s: &State) -> String {
    summarize_n(s, cfg.n())
}

pub(crate) fn summarize_n(s: &State, n: usize) -> String {
    let mut out = String::new();
    let p = &s.parent;
    let pstatus = if !p.f.begun() {
        "not begun".to_string()
    } else if p.f.notified() {
        "ended (rows deleted)".to_string()
    } else {
        let mut v = p.status.ovirt_name().to_string();
        if p.f.executed() {
            v.push_str(" executed");
        } else if s.parent_executing() {
            v.push_str(" executing");
        }
        v
    };
    let _ = writeln!(
        out,
        "parent RemoveSnapshot: {pstatus}{} | snapshot {} | restarts {}{}{}",
        if p.f.registered() { ", polled" } else { "" },
        s.snapshot.ovirt_name(),
        s.restarts,
        if s.retries > 0 {
            format!(" | retry {}", s.retries)
        } else {
            String::new()
        },
        if p.f.expired() {
            " | a command expired"
        } else {
            ""
        }
    );
    for (i, d) in s.disks[..n].iter().enumerate() {
        let _ = writeln!(out, "{}: {}", disk_name(i), summarize_disk(d));
    }
    out.truncate(out.trim_end().len());
    out
}

fn summarize_disk(d: &Disk) -> String {
    let child = if !d.f.created() {
        "no child".to_string()
    } else {
        let mut v = format!("child {}", d.status.ovirt_name());
        if d.f.queued() {
            v.push_str(" queued");
        }
        if d.f.executed() {
            v.push_str(" executed");
        }
        if d.f.notified() {
            v.push_str(" ended");
        }
        if d.f.registered() {
            v.push_str(", polled");
        }
        if d.step != Step::Extend || d.task != Task::None {
            let task = match d.task {
                Task::None => "",
                Task::Queued => " queued",
                Task::Executing => " executing",
                Task::Running => " running",
                Task::Succeeded => " done",
                Task::Failed => " FAILED",
                Task::ExecutionFailed => " EXECUTION_FAILED",
                Task::Lost => " LOST",
                Task::Stranded => " STRANDED",
            };
            let _ = write!(v, ", step {}{}", d.step.ovirt_name(), task);
        }
        v
    };
    let host = match (d.f.top_in_chain(), d.f.base_has_top(), d.f.top_exists()) {
        (true, _, _) => "base <- top",
        (false, true, true) => "base (merged), top volume left over",
        (false, true, false) => "base (merged)",
        (false, false, _) => "base (top gone, unmerged)",
    };
    let host = match (d.f.top_exists(), d.f.top_in_chain(), d.f.base_has_top()) {
        (false, true, false) => "base <- top (top volume DELETED, data lost)",
        _ => host,
    };
    let job = if d.f.job_running() {
        ", merge job running"
    } else {
        ""
    };
    let snap = if d.f.in_snapshot() {
        ""
    } else {
        " | not in snapshot"
    };
    let images = match d.images {
        Images::BaseAndTop => "base <- top",
        other => other.ovirt_words(),
    };
    format!("{child} | host: {host}{job} | db: {images}{snap}")
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&summarize_n(self, self.disk_count()))
    }
}
