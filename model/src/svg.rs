//! A picture of a path: a sequence diagram with one lane per actor (the parent, each disk's
//! child, the poller, the host, the database) and one row per step, the arrow going from the
//! actor that acted to the one it acted on. Steps that broke an always-property are drawn on a
//! red band. The web explorer shows it for every state; `livemerge show --svg` writes it.

use crate::config::Config;
use crate::event::Event;
use crate::properties::{self, Expectation};
use crate::state::{CmdStatus, State, Step, Task};
use std::fmt::Write;

const LANE_W: usize = 150;
const ROW_H: usize = 34;
const TOP: usize = 60;
const LEFT: usize = 40;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    Parent,
    Child(usize),
    Poller,
    Host,
    Db,
}

/// Which actor acted, on which, and a short label.
struct Arrow {
    from: Lane,
    to: Lane,
    label: String,
    fault: bool,
}

fn lane_x(lane: Lane, n: usize) -> usize {
    let i = match lane {
        Lane::Parent => 0,
        Lane::Child(d) => 1 + d,
        Lane::Poller => 1 + n,
        Lane::Host => 2 + n,
        Lane::Db => 3 + n,
    };
    LEFT + i * LANE_W + LANE_W / 2
}

fn arrow(cfg: &Config, before: &State, e: Event, after: &State) -> Arrow {
    let a = |from, to, label: &str| Arrow {
        from,
        to,
        label: label.to_string(),
        fault: false,
    };
    match e {
        Event::ParentBegins => a(Lane::Parent, Lane::Db, "execute(): ACTIVE, snapshot LOCKED"),
        Event::ParentStartsChild => {
            let d = (0..cfg.n())
                .find(|&i| !before.disks[i].f.created() && after.disks[i].f.created())
                .unwrap_or(0);
            a(
                Lane::Parent,
                Lane::Child(d),
                "executeAsyncCommand: NOT_STARTED",
            )
        }
        Event::ParentReturns => a(Lane::Parent, Lane::Parent, "execute() returns"),
        Event::PollParent => {
            let label = match before.parent.status {
                CmdStatus::Succeeded => "onSucceeded: snapshot DELETED, rows deleted".to_string(),
                CmdStatus::Failed => "onFailed: snapshot OK, rows deleted".to_string(),
                _ => {
                    let seen: Vec<_> = (0..cfg.n())
                        .filter(|&i| before.disks[i].f.created())
                        .map(|i| before.disks[i].status.ovirt_name_in(cfg.release))
                        .collect();
                    format!(
                        "doPolling sees {} -> {}",
                        seen.join(", "),
                        after.parent.status.ovirt_name()
                    )
                }
            };
            a(Lane::Poller, Lane::Parent, &label)
        }
        Event::Restart => a(Lane::Parent, Lane::Db, "ENGINE RESTART"),
        Event::UserRetries => a(Lane::Parent, Lane::Db, "user removes the snapshot again"),
        Event::GrandchildPicksUp(d) => a(
            Lane::Child(d as usize),
            Lane::Child(d as usize),
            "pool thread: grandchild ACTIVE",
        ),
        Event::MergeReachesHost(d) => a(Lane::Child(d as usize), Lane::Host, "VM.merge"),
        Event::MergeRefused(d) => a(
            Lane::Host,
            Lane::Child(d as usize),
            "VM.merge fails: top not in chain",
        ),
        Event::GrandchildReturns(d) => a(
            Lane::Child(d as usize),
            Lane::Child(d as usize),
            "grandchild execute() returns",
        ),
        Event::PoolPicksUp(d) => a(
            Lane::Child(d as usize),
            Lane::Child(d as usize),
            "pool thread: ACTIVE",
        ),
        Event::ChildReturns(d) => a(
            Lane::Child(d as usize),
            Lane::Child(d as usize),
            "execute() returns",
        ),
        Event::PollChild(d) => {
            let (b, t) = (&before.disks[d as usize], &after.disks[d as usize]);
            let label = match b.status {
                CmdStatus::Succeeded => "onSucceeded: syncDbRecords".to_string(),
                CmdStatus::Failed => "onFailed: images ILLEGAL".to_string(),
                _ if t.status != b.status => format!("doPolling -> {}", t.status.ovirt_name()),
                _ => format!("doPolling: {}", t.step.ovirt_name()),
            };
            a(Lane::Poller, Lane::Child(d as usize), &label)
        }
        Event::TaskEnds(d) => {
            let (b, t) = (&before.disks[d as usize], &after.disks[d as usize]);
            let c = Lane::Child(d as usize);
            match b.step {
                Step::Merge => a(c, Lane::Host, "VM.merge: block commit starts"),
                Step::MergeStatus if t.task == Task::Failed => {
                    a(Lane::Host, c, "chain read: top still there")
                }
                Step::MergeStatus => a(Lane::Host, c, "chain read: merged"),
                Step::DestroyImage => a(c, Lane::Host, "deleteVolume(top)"),
                _ => a(c, c, "extend: nothing to do"),
            }
        }
        Event::HostJobEnds(d) => a(Lane::Host, Lane::Host, &format!("disk-{} merged", d + 1)),
        Event::HostJobFails(d) => Arrow {
            fault: true,
            ..a(
                Lane::Host,
                Lane::Host,
                &format!("disk-{} merge job FAILS", d + 1),
            )
        },
        Event::DeleteVolumeFails(d) => Arrow {
            fault: true,
            ..a(Lane::Host, Lane::Child(d as usize), "deleteVolume FAILS")
        },
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The always-properties that hold in `before` and not in `after`.
fn broken(cfg: &Config, before: &State, after: &State) -> Vec<&'static str> {
    properties::all(cfg)
        .into_iter()
        .filter(|p| p.expectation == Expectation::Always)
        .filter(|p| (p.holds)(cfg, before) && !(p.holds)(cfg, after))
        .map(|p| p.name)
        .collect()
}

/// The sequence diagram of the path `initial -> steps`, as a standalone SVG document.
pub fn sequence_diagram(cfg: &Config, initial: &State, steps: &[(Event, State)]) -> String {
    let n = cfg.n();
    let lanes = n + 4;
    let width = LEFT * 2 + lanes * LANE_W + 220;
    let height = TOP + (steps.len() + 1) * ROW_H;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    s.push_str(r##"<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>"##);
    let _ = write!(
        s,
        r##"<rect width="{width}" height="{height}" fill="#fff"/>"##
    );
    let mut names = vec!["RemoveSnapshot".to_string()];
    names.extend((0..n).map(|d| format!("disk-{} child", d + 1)));
    names.extend([
        "poller".to_string(),
        "host".to_string(),
        "database".to_string(),
    ]);
    let lane_of = |i: usize| match i {
        0 => Lane::Parent,
        i if i <= n => Lane::Child(i - 1),
        i if i == n + 1 => Lane::Poller,
        i if i == n + 2 => Lane::Host,
        _ => Lane::Db,
    };
    // Red bands first, so lanes and arrows are drawn over them.
    let mut prev = *initial;
    let mut notes = Vec::new();
    for (i, (_, after)) in steps.iter().enumerate() {
        let b = broken(cfg, &prev, after);
        if !b.is_empty() {
            let y = TOP + (i + 1) * ROW_H;
            let _ = write!(
                s,
                r##"<rect class="violation" x="0" y="{}" width="{width}" height="{ROW_H}" fill="#fdd"/>"##,
                y - ROW_H / 2 - 6
            );
            notes.push((y, b.join("; ")));
        }
        prev = *after;
    }
    for (i, name) in names.iter().enumerate() {
        let x = lane_x(lane_of(i), n);
        let _ = write!(
            s,
            r##"<text x="{x}" y="30" text-anchor="middle" font-weight="bold">{}</text><line x1="{x}" y1="40" x2="{x}" y2="{}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
            esc(name),
            height - 10
        );
    }
    let mut before = *initial;
    for (i, (e, after)) in steps.iter().enumerate() {
        let y = TOP + (i + 1) * ROW_H;
        let ar = arrow(cfg, &before, *e, after);
        let color = if ar.fault { "#c00" } else { "#333" };
        let (x1, x2) = (lane_x(ar.from, n), lane_x(ar.to, n));
        let _ = write!(
            s,
            r##"<text x="6" y="{}" fill="#888">{}</text>"##,
            y + 4,
            i + 1
        );
        if *e == Event::Restart {
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="#c60" stroke-width="2" stroke-dasharray="8 4"/><text x="{}" y="{}" fill="#c60">{}</text>"##,
                LEFT + lanes * LANE_W,
                LEFT + 4,
                y - 4,
                esc(&ar.label)
            );
        } else if x1 == x2 {
            let _ = write!(
                s,
                r##"<circle cx="{x1}" cy="{y}" r="4" fill="{color}"/><text x="{}" y="{}" fill="{color}">{}</text>"##,
                x1 + 8,
                y + 4,
                esc(&ar.label)
            );
        } else {
            let _ = write!(
                s,
                r##"<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{color}" stroke-width="1.5" marker-end="url(#arrow)"/><text x="{}" y="{}" text-anchor="middle" fill="{color}">{}</text>"##,
                (x1 + x2) / 2,
                y - 4,
                esc(&ar.label)
            );
        }
        before = *after;
    }
    for (y, text) in notes {
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" fill="#c00" font-weight="bold">broken: {}</text>"##,
            LEFT + lanes * LANE_W + 4,
            y + 4,
            esc(&text)
        );
    }
    s.push_str("</svg>");
    s
}
