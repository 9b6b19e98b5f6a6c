//! The outcome of a run as people read it: the rows, each disk's real chain and data, the
//! invariants judged on reality, and why a removal did not end.

use crate::session::Outcome;
use crate::storage::qcow2::disk_dir;
use std::fmt::Write;
use std::path::Path;

/// What `run` says on stderr as it starts: the settings that decide how long it takes, the
/// tick first among them (oVirt's 1 s makes a removal take tens of seconds).
pub fn starting(s: &crate::settings::Settings, what: &str) -> String {
    let hint = if s.tick_ms >= 1000 {
        " (oVirt's poller interval: a removal takes tens of seconds; --tick-ms 20 is quicker)"
    } else {
        ""
    };
    format!(
        "livemerge {what}: release {}, {} disk(s), backoff {}, tick {} ms{hint}: starting",
        s.release,
        s.disks,
        s.backoff().name(),
        s.tick_ms
    )
}

/// The text report of `run` / `resume`. `dir` is given for qcow2 runs (chains are read there).
pub fn text(o: &Outcome, what: &str, dir: Option<&Path>) -> String {
    let s = &o.settings;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "livemerge {what}: release {}, {} disk(s), backoff {}, tick {} ms, storage {}",
        s.release,
        s.disks,
        s.backoff().name(),
        s.tick_ms,
        o.layout.host
    );
    let verdict = match (&o.stuck, o.observed.rows.snapshot.is_none()) {
        (Some(why), _) => why.clone(),
        (None, true) => "removal ended: snapshot deleted".into(),
        (None, false) => "removal ended: it failed, the snapshot is kept".into(),
    };
    let _ = writeln!(
        out,
        "{verdict} ({} event(s) applied here, {} in all, {:.2} s)",
        o.events_here, o.events_total, o.seconds
    );
    if o.state.parent().flags().expired() {
        let _ = writeln!(
            out,
            "expiry: commands passed their lifetime on the way (markExpiredCommandsAsFailure failed them, {} ticks after the removal stopped moving)",
            s.command_lifetime_ticks
        );
    }
    let rows = &o.observed.rows;
    let _ = writeln!(out, "database:");
    match &rows.snapshot {
        None => {
            let _ = writeln!(out, "  snapshots: no row (deleted)");
        }
        Some(r) => {
            let disks: Vec<String> = r.disk_ids.iter().map(|id| disk_name(o, id)).collect();
            let _ = writeln!(
                out,
                "  snapshots: {} {} [{}]",
                short(&r.snapshot_id),
                r.status,
                disks.join(", ")
            );
        }
    }
    if rows.commands.is_empty() {
        let _ = writeln!(out, "  command_entities: no rows");
    }
    for c in &rows.commands {
        let step = c.command_params["step"]
            .as_str()
            .map(|st| {
                format!(
                    ", step {st} (grandchild {})",
                    c.command_params["grandchild"].as_str().unwrap_or("?")
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  command_entities: {} {} {}{}{}{}",
            short(&c.command_id),
            c.command_type,
            c.status,
            if c.executed { " executed" } else { "" },
            if c.callback_notified { " notified" } else { "" },
            step
        );
    }
    for (i, ids) in o.layout.disks.iter().enumerate() {
        let imgs: Vec<String> = rows
            .images
            .iter()
            .filter(|r| r.disk_id == ids.disk_id)
            .map(|r| {
                let name = if r.image_guid == ids.base_image {
                    "base"
                } else {
                    "top"
                };
                format!(
                    "{name} {}{}{}",
                    r.image_status,
                    if r.active { " active" } else { "" },
                    if name == "top" && r.parent_id.is_none() {
                        " orphan"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let _ = writeln!(out, "  images disk-{}: {}", i + 1, imgs.join(", "));
    }
    let _ = writeln!(out, "storage:");
    for (i, f) in o.observed.facts.iter().enumerate() {
        let chain = dir
            .map(|d| {
                let dd = disk_dir(d, i);
                std::fs::read_to_string(dd.join("active"))
                    .map(|a| a.trim().to_string())
                    .unwrap_or_else(|_| "?".into())
            })
            .map(|a| format!("active {a}, "))
            .unwrap_or_default();
        let data = o.data.get(i).map_or("?".to_string(), |d| {
            if d.all_readable() {
                "all data readable".into()
            } else {
                format!(
                    "DATA LOST (base's data {}, top's data {})",
                    if d.base_data {
                        "readable"
                    } else {
                        "unreadable"
                    },
                    if d.top_data { "readable" } else { "unreadable" }
                )
            }
        });
        let _ = writeln!(
            out,
            "  disk-{}: {chain}chain {}, top volume {}, base {} top's data{}; {data}",
            i + 1,
            if f.top_in_chain {
                "base <- top"
            } else {
                "base (merged)"
            },
            if f.top_exists { "exists" } else { "deleted" },
            if f.base_has_top { "holds" } else { "lacks" },
            if f.job_running {
                ", merge job running"
            } else {
                ""
            },
        );
    }
    if let Some(g) = &o.guest {
        out.push_str(&crate::session::live::report(g));
    }
    let _ = writeln!(
        out,
        "invariants (the model's properties on the real database and storage):"
    );
    // Data that does not read back is a real world the model's abstraction cannot describe
    // (a volume gone behind the engine's back): its verdicts on that abstraction would be
    // guesses, so they are not given.
    let lost: Vec<String> = o
        .data
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.all_readable())
        .map(|(i, _)| format!("disk-{}", i + 1))
        .collect();
    if !lost.is_empty() {
        let _ = writeln!(
            out,
            "  VIOLATED  every block reads back from the active volume (DATA LOST on {})",
            lost.join(", ")
        );
    }
    for (name, ok) in &o.properties {
        let verdict = match (ok, lost.is_empty()) {
            (false, _) => "VIOLATED",
            (true, true) => "holds   ",
            (true, false) => "unknown ",
        };
        let _ = writeln!(out, "  {verdict}  {name}");
        if let Some((_, why)) = o.why.iter().find(|(n, _)| n == name).filter(|_| !ok) {
            let _ = writeln!(out, "            why: {why}");
        }
    }
    if !lost.is_empty() {
        let _ = writeln!(
            out,
            "  (unknown: the storage is outside what the model describes, so a property it finds holding is not claimed to hold)"
        );
    }
    if let Some(g) = o.guest.as_ref().filter(|g| !g.intact()) {
        let _ = writeln!(
            out,
            "  VIOLATED  no acknowledged guest write is lost ({} disk(s) lose blocks or cannot be read)",
            g.files.iter().zip(&g.export).filter(|(f, e)| !f.as_ref().is_ok_and(|l| l.is_empty()) || e.as_ref().is_ok_and(|l| !l.is_empty())).count()
        );
    }
    for c in &o.conformance {
        let _ = writeln!(out, "  CONFORMANCE ERROR: {c}");
    }
    out
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn disk_name(o: &Outcome, id: &str) -> String {
    o.layout
        .disks
        .iter()
        .position(|d| d.disk_id == id)
        .map_or_else(|| id.to_string(), |i| format!("disk-{}", i + 1))
}

/// The text report of `run --vms N` / `resume` of several removals in one engine: a line per
/// removal (its verdict, and each property it broke), then the count of each kind.
pub fn fleet_text(outcomes: &[Outcome], what: &str) -> String {
    let mut out = String::new();
    let Some(first) = outcomes.first() else {
        return out;
    };
    let s = &first.settings;
    let _ = writeln!(
        out,
        "livemerge {what}: {} removals in one engine (one poller, one pool of {} thread(s), one database), release {}, {} disk(s) each, backoff {}, tick {} ms, storage {}",
        outcomes.len(),
        s.pool_threads,
        s.release,
        s.disks,
        s.backoff().name(),
        s.tick_ms,
        first.layout.host
    );
    let (mut ended, mut violated, mut stuck) = (0, 0, 0);
    for (vm, o) in outcomes.iter().enumerate() {
        let verdict = match (&o.stuck, o.observed.rows.snapshot.is_none()) {
            (Some(why), _) => why.clone(),
            (None, true) => "removal ended: snapshot deleted".into(),
            (None, false) => "removal ended: it failed, the snapshot is kept".into(),
        };
        let _ = writeln!(
            out,
            "vm-{}: {verdict} ({} event(s) applied here, {} in all)",
            vm + 1,
            o.events_here,
            o.events_total
        );
        for (name, ok) in &o.properties {
            if !ok {
                let why = o
                    .why
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(String::new(), |(_, w)| format!(": {w}"));
                let _ = writeln!(out, "  VIOLATED  {name}{why}");
            }
        }
        for (d, c) in o.data.iter().enumerate() {
            if !c.all_readable() {
                let _ = writeln!(out, "  VIOLATED  disk-{}: DATA LOST", d + 1);
            }
        }
        if let Some(g) = &o.guest {
            let _ = writeln!(
                out,
                "  guest: {} write(s) acknowledged; {}",
                g.acknowledged,
                if g.intact() {
                    "every block read back, nothing lost"
                } else {
                    "VIOLATED  an acknowledged guest write is lost or unreadable"
                }
            );
        }
        for c in &o.conformance {
            let _ = writeln!(out, "  CONFORMANCE  {c}");
        }
        match o.exit_code() {
            1 => violated += 1,
            3 => stuck += 1,
            _ => ended += 1,
        }
    }
    let secs = outcomes.iter().map(|o| o.seconds).fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "{} removals: {ended} ended with every invariant holding, {violated} violated, {stuck} did not end ({secs:.2} s)",
        outcomes.len()
    );
    out
}

/// The exit code of several removals: 1 if any violated, else 3 if any did not end, else 0.
pub fn fleet_exit_code(outcomes: &[Outcome]) -> u8 {
    let codes: Vec<u8> = outcomes.iter().map(Outcome::exit_code).collect();
    if codes.contains(&1) {
        1
    } else if codes.contains(&3) {
        3
    } else {
        0
    }
}
