//! The protocol in oVirt's own words: what an event does in a state (which command, which
//! status, what the poller decided, which row changed) and a compact summary of a state. The
//! report, the explorer and saved counterexamples all print these.

use crate::config::Config;
use crate::event::Event;
use crate::poller::{parent_decision, ParentDecision};
use crate::state::{CmdStatus, Disk, Images, State, Step, Task};
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
        Event::PoolPicksUp(i) => format!("pool thread picks up {}'s child", d(i)),
        Event::ChildReturns(i) => format!("{}'s child execute() returns", d(i)),
        Event::PollChild(i) => format!("poller: dispatch {}'s child", d(i)),
        Event::TaskEnds(i) => format!("{}'s grandchild ends", d(i)),
        Event::HostJobEnds(i) => format!("host: {}'s merge job completes", d(i)),
        Event::HostJobFails(i) => format!("fault: host's merge job for {} fails", d(i)),
        Event::DeleteVolumeFails(i) => format!("fault: deleteVolume for {} fails", d(i)),
    }
}

/// What `event` did, taking `before` to `after`, in oVirt's words.
pub fn describe_step(cfg: &Config, before: &State, event: Event, after: &State) -> String {
    let n = cfg.n();
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
        Event::PollParent => describe_parent_poll(cfg, before, after),
        Event::Restart => describe_restart(before, after, n),
        Event::PoolPicksUp(i) => {
            let i = i as usize;
            if after.disks[i].status == CmdStatus::Active {
                format!("pool thread picks up {}'s child: status ACTIVE", disk_name(i))
            } else {
                format!(
                    "pool thread picks up {}'s child but its row is gone (UNKNOWN): nothing runs",
                    disk_name(i)
                )
            }
        }
        Event::ChildReturns(i) => format!(
            "{}'s child execute() returns: executed = true (status stays ACTIVE; its callback drives the steps)",
            disk_name(i as usize)
        ),
        Event::PollChild(i) => describe_child_poll(&before.disks[i as usize], &after.disks[i as usize], i as usize),
        Event::TaskEnds(i) => {
            let (b, a) = (&before.disks[i as usize], &after.disks[i as usize]);
            let who = format!("{}'s {} grandchild", disk_name(i as usize), b.step.grandchild_name());
            match b.step {
                Step::Extend => format!("{who} ends SUCCEEDED (nothing to extend for qcow2)"),
                Step::Merge => format!("{who} ends SUCCEEDED: VM.merge accepted, the host starts a block-commit job"),
                Step::MergeStatus if a.task == Task::Succeeded => {
                    format!("{who} ends SUCCEEDED: host job gone, chain read back: top merged away")
                }
                Step::MergeStatus => format!("{who} ends FAILED: host job gone but top is still in the chain"),
                Step::DestroyImage => format!("{who} ends SUCCEEDED: deleteVolume removed top's volume"),
                Step::Complete => who,
            }
        }
        Event::HostJobEnds(i) => format!(
            "host: block-commit job for {} completes: base holds top's data, top is out of the chain",
            disk_name(i as usize)
        ),
        Event::HostJobFails(i) => format!(
            "fault: host's block-commit job for {} ends without merging; the chain is unchanged",
            disk_name(i as usize)
        ),
        Event::DeleteVolumeFails(i) => format!(
            "fault: deleteVolume of {}'s top volume fails: DestroyImage grandchild FAILED, the volume stays",
            disk_name(i as usize)
        ),
    }
}

fn describe_parent_poll(cfg: &Config, before: &State, after: &State) -> String {
    let n = cfg.n();
    match before.parent.status {
        CmdStatus::Succeeded | CmdStatus::Failed => {
            let ok = before.parent.status == CmdStatus::Succeeded;
            let mut s = if ok {
                "poller: onSucceeded(RemoveSnapshot): snapshot row DELETED".to_string()
            } else {
                let dropped: Vec<_> = (0..n)
                    .filter(|&i| before.disks[i].f.in_snapshot() && !after.disks[i].f.in_snapshot())
                    .map(disk_name)
                    .collect();
                let mut s = "poller: onFailed(RemoveSnapshot): snapshot row back to OK".to_string();
                if !dropped.is_empty() {
                    let _ = write!(s, ", merged disks dropped from it: {}", dropped.join(", "));
                }
                s
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
                    format!("{} {}{}", disk_name(i), d.status.ovirt_name(), notified)
                })
                .collect();
            let decision = match parent_decision(cfg.poller, before, n) {
                ParentDecision::Wait { .. } => "waits".to_string(),
                ParentDecision::Done { .. } => {
                    format!("parent {}", after.parent.status.ovirt_name())
                }
            };
            format!(
                "poller: doPolling(RemoveSnapshot, rule {}) sees {} -> {}",
                cfg.poller,
                seen.join(", "),
                decision
            )
        }
    }
}

fn describe_child_poll(b: &Disk, a: &Disk, i: usize) -> String {
    let who = format!("{}'s child", disk_name(i));
    match b.status {
        CmdStatus::Succeeded => format!(
            "poller: onSucceeded({who}): syncDbRecords, images now {}",
            a.images.ovirt_words()
        ),
        CmdStatus::Failed => format!(
            "poller: onFailed({who}) at step {}: images now {}",
            b.step.ovirt_name(),
            a.images.ovirt_words()
        ),
        _ => match b.task {
            Task::None => format!(
                "poller: doPolling({who}): step {} starts grandchild {}",
                a.step.ovirt_name(),
                a.step.grandchild_name()
            ),
            Task::Succeeded if a.step == Step::Complete => {
                format!(
                    "poller: doPolling({who}): step {} done -> COMPLETE, child SUCCEEDED",
                    b.step.ovirt_name()
                )
            }
            Task::Succeeded => format!(
                "poller: doPolling({who}): step {} done -> {}, starts grandchild {}",
                b.step.ovirt_name(),
                a.step.ovirt_name(),
                a.step.grandchild_name()
            ),
            _ => format!(
                "poller: doPolling({who}): grandchild {} FAILED -> child FAILED",
                b.step.grandchild_name()
            ),
        },
    }
}

fn describe_restart(before: &State, after: &State, n: usize) -> String {
    let mut failed = Vec::new();
    if before.parent.status != CmdStatus::FailedRestarted
        && after.parent.status == CmdStatus::FailedRestarted
    {
        failed.push("RemoveSnapshot".to_string());
    }
    for i in 0..n {
        if before.disks[i].status != CmdStatus::FailedRestarted
            && after.disks[i].status == CmdStatus::FailedRestarted
        {
            failed.push(format!("{}'s child", disk_name(i)));
        }
    }
    let registered = after.parent.f.registered() as usize
        + after.disks[..n].iter().filter(|d| d.f.registered()).count();
    let mut s = "engine restarts: threads and queued work lost".to_string();
    if !failed.is_empty() {
        let _ = write!(s, "; FAILED_RESTARTED: {}", failed.join(", "));
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
    if !s.parent.f.begun() {
        return "the parent never began".into();
    }
    if s.parent.status == CmdStatus::FailedRestarted {
        return "the parent RemoveSnapshot is FAILED_RESTARTED (a restart hit its execute()), and the poller never dispatches a FAILED_RESTARTED command: the snapshot stays LOCKED".into();
    }
    if s.parent.status == CmdStatus::Active && s.parent.f.executed() {
        if let ParentDecision::Wait { waiting_on } = parent_decision(cfg.poller, s, n) {
            let d = &s.disks[waiting_on];
            let bz = if d.status == CmdStatus::FailedRestarted {
                ", which the poller never dispatches (BZ 1633777)"
            } else {
                ", which nothing can change any more"
            };
            return format!(
                "the parent's doPolling (rule {}) waits for {}'s child, {}{bz}",
                cfg.poller,
                disk_name(waiting_on),
                d.status.ovirt_name()
            );
        }
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
        "parent RemoveSnapshot: {pstatus}{} | snapshot {} | restarts {}",
        if p.f.registered() { ", polled" } else { "" },
        s.snapshot.ovirt_name(),
        s.restarts
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
                Task::Running => " running",
                Task::Succeeded => " done",
                Task::Failed => " FAILED",
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
