//! The matrix as one table for people: a row per configuration, a column per property, with
//! the states and seconds of each search; changed cells are starred.

use super::axes::{config_name, fault_set_name};
use super::baseline::Difference;
use super::Row;
use std::fmt::Write;

/// A cell: `ok` (holds, or a `sometimes` example found), `VIOL n` (violated, shortest
/// counterexample n steps), `NEVER` (no example exists), `?` (unknown), `-` (not a property of
/// this configuration); `*` marks a cell that differs from the baseline.
fn cell(verdict: &str, length: Option<usize>) -> String {
    match (verdict, length) {
        ("holds" | "found", _) => "ok".to_string(),
        ("violated", Some(n)) => format!("VIOL {n}"),
        ("violated", None) => "VIOL".to_string(),
        ("never", _) => "NEVER".to_string(),
        _ => "?".to_string(),
    }
}

/// The legend, the table, and nothing else (differences are listed by the caller).
pub(crate) fn render(rows: &[Row], diffs: &[Difference]) -> String {
    // Columns: every property of any configuration, in the model's order of first appearance.
    let mut props: Vec<(&'static str, &'static str)> = Vec::new();
    // A property new to the list goes right after the one before it in its own configuration.
    for r in rows {
        let mut at = 0;
        for f in &r.outcome.findings {
            match props.iter().position(|(n, _)| *n == f.prop.name) {
                Some(i) => at = i + 1,
                None => {
                    props.insert(at, (f.prop.name, f.prop.expectation.name()));
                    at += 1;
                }
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "properties:");
    for (i, (name, exp)) in props.iter().enumerate() {
        let _ = writeln!(out, "  P{:<2} {exp:<10} {name}", i + 1);
    }
    let _ = writeln!(
        out,
        "cells: ok = holds (or an example exists); VIOL n = violated, shortest counterexample n steps;\n       NEVER = no example exists; - = not a property of that configuration; * = differs from the baseline\n"
    );
    let width = 8;
    let mut header = format!(
        "{:<7} {:>5} {:<6} {:>8} {:>7} ",
        "release", "disks", "faults", "restarts", "retries"
    );
    for i in 0..props.len() {
        let _ = write!(header, " {:<width$}", format!("P{}", i + 1));
    }
    let _ = write!(header, " {:>9} {:>7}", "states", "seconds");
    let _ = writeln!(out, "{header}");
    for r in rows {
        let name = config_name(&r.cfg);
        let observed = r.observed();
        let mut line = format!(
            "{:<7} {:>5} {:<6} {:>8} {:>7} ",
            r.cfg.release.to_string(),
            r.cfg.disks,
            fault_set_name(r.cfg.faults),
            r.cfg.restarts,
            r.cfg.retries
        );
        for (pname, _) in &props {
            let text = match observed.iter().find(|(n, _)| n == pname) {
                Some((_, o)) => {
                    let changed = diffs
                        .iter()
                        .any(|d| d.configuration == name && d.property == *pname);
                    let star = if changed { "*" } else { "" };
                    format!("{}{star}", cell(&o.verdict, o.length))
                }
                None => "-".to_string(),
            };
            let _ = write!(line, " {text:<width$}");
        }
        let _ = write!(line, " {:>9} {:>7.2}", r.outcome.unique, r.outcome.seconds);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}
