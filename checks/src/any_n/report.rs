//! The report of `check --disks any`: text for people, JSON for CI. A confirmed violation is
//! printed as the concrete counterexample (as `check` prints one); an unconfirmed one as the
//! abstraction's configuration that violates it and the chain of abstract steps that led there.

use super::views::Abstraction;
use super::{AnyFinding, AnyOutcome, AnyVerdict};
use crate::report::{format_trace, json_path, ConcretePath, JsonPath};
use livemerge_model::{
    describe_step, summarize, ConcreteStep, Config, Event, Faults, Release, State,
};
use serde::Serialize;
use std::fmt::Write;

fn verdict_words(v: &AnyVerdict) -> String {
    match v {
        AnyVerdict::HoldsForEveryN => "holds for every number of disks".into(),
        AnyVerdict::Violated { disks, .. } => format!("VIOLATED (smallest: {disks} disk(s))"),
        AnyVerdict::NotConfirmed { up_to } => {
            format!("not confirmed up to {up_to} disk(s)")
        }
        AnyVerdict::OutOfScope => "out of scope".into(),
    }
}

fn header(o: &AnyOutcome) -> String {
    let a = &o.abstraction;
    let cfg = &a.cfg;
    format!(
        "livemerge check --disks any: release {}, faults {}, {} restart(s), {} retr{}\n\
         abstraction: views of {} disk(s), configurations of up to {} disks:\n  {} views \
         ({} controllers, {} local states), {} configurations stepped, {} steps, {:.2} s",
        cfg.release,
        cfg.faults,
        cfg.restarts,
        cfg.retries,
        if cfg.retries == 1 { "y" } else { "ies" },
        a.threshold,
        a.threshold + a.witnesses,
        a.views.len(),
        a.controllers.len(),
        a.locals.len(),
        a.configuration_count(),
        a.steps,
        a.seconds,
    )
}

/// One abstract step of a derivation, in words: where, what happened, and the state it led to.
fn derivation_lines(a: &Abstraction, witness: u32) -> Vec<(State, usize, Option<Event>, String)> {
    a.derivation(witness)
        .into_iter()
        .map(|(c, next)| {
            let conf = &a.configurations[c as usize];
            let cfg = Config {
                disks: conf.n as u8,
                ..a.cfg
            };
            match next {
                Some((order, e)) => {
                    let before = conf.ordered(order);
                    let text = ConcreteStep::new(&cfg, &before, e)
                        .map(|st| describe_step(&cfg, &st))
                        .unwrap_or_else(|r| format!("(refused: {r})"));
                    (before, conf.n, Some(e), text)
                }
                None => (conf.state, conf.n, None, String::new()),
            }
        })
        .collect()
}

fn indent(out: &mut String, text: &str, by: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{by}{line}");
    }
}

pub fn text(o: &AnyOutcome) -> String {
    let mut out = header(o);
    out.push('\n');
    if !o.confirmations.is_empty() {
        let runs: Vec<String> = o
            .confirmations
            .iter()
            .map(|(n, unique, secs)| format!("{n} disk(s): {unique} states, {secs:.2} s"))
            .collect();
        let _ = writeln!(out, "concrete searches to confirm: {}", runs.join("; "));
    }
    let _ = writeln!(out, "properties:");
    // Each column as wide as its widest cell, so the table fits 100 columns.
    let words: Vec<String> = o
        .findings
        .iter()
        .map(|f| verdict_words(&f.verdict))
        .collect();
    let wide = words.iter().map(|w| w.len()).max().unwrap_or(0);
    let kinds = o.findings.iter().map(|f| f.prop.expectation.name().len());
    let kind_wide = kinds.max().unwrap_or(0);
    for (f, w) in o.findings.iter().zip(&words) {
        let _ = writeln!(
            out,
            "  {w:<wide$} {:<kind_wide$} {}",
            f.prop.expectation.name(),
            f.prop.name
        );
    }
    for f in &o.findings {
        match &f.verdict {
            AnyVerdict::Violated { disks, path } => {
                let cfg = o.concrete_config(*disks);
                let _ = writeln!(
                    out,
                    "\ncounterexample to {} \"{}\" on {disks} disk(s) ({} steps, shortest):",
                    f.prop.expectation.name(),
                    f.prop.name,
                    path.len()
                );
                match ConcretePath::rebuild(&cfg, path) {
                    Ok(trace) => out.push_str(&format_trace(&cfg, &trace)),
                    Err(e) => {
                        let _ = writeln!(out, "  (cannot show it: {e})");
                    }
                }
            }
            AnyVerdict::NotConfirmed { up_to } => unconfirmed(&mut out, o, f, *up_to),
            _ => {}
        }
    }
    out
}

fn unconfirmed(out: &mut String, o: &AnyOutcome, f: &AnyFinding, up_to: u8) {
    let a = &o.abstraction;
    let Some(w) = f.abstract_witness else { return };
    let conf = &a.configurations[w as usize];
    let cfg = Config {
        disks: conf.n as u8,
        ..a.cfg
    };
    let _ = writeln!(
        out,
        "\nabstract counterexample to {} \"{}\", not found by the concrete search for 1 to {up_to} disk(s) \
         (possibly spurious: raise --threshold, or --max-n to look further):",
        f.prop.expectation.name(),
        f.prop.name
    );
    let _ = writeln!(
        out,
        "  a configuration of the abstraction ({} disk(s)) that violates it:",
        conf.n
    );
    indent(out, &summarize(&cfg, &conf.state), "       ");
    let _ = writeln!(
        out,
        "  how the abstraction reached it (each step is taken in a small configuration of the \
         abstraction: disk numbers are its positions, and its other disks come from other \
         abstract paths):"
    );
    for (i, (before, n, _, text)) in derivation_lines(a, w).iter().enumerate() {
        if text.is_empty() {
            continue;
        }
        let cfg = Config {
            disks: *n as u8,
            ..a.cfg
        };
        let _ = writeln!(out, "  {:>3}. in: {}", i + 1, one_line(&cfg, before));
        let _ = writeln!(out, "       {text}");
    }
}

fn one_line(cfg: &Config, s: &State) -> String {
    summarize(cfg, s)
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" | ")
}

#[derive(Serialize)]
struct JsonConfiguration {
    release: Release,
    faults: Faults,
    restarts: u8,
    retries: u8,
}

#[derive(Serialize)]
struct JsonCounterexample {
    disks: u8,
    #[serde(flatten)]
    path: JsonPath,
}

#[derive(Serialize)]
struct JsonAbstractStep {
    /// The configuration of the abstraction the event was taken in (its disks only).
    state: State,
    event: Event,
    description: String,
}

#[derive(Serialize)]
struct JsonAbstractWitness {
    state: State,
    derivation: Vec<JsonAbstractStep>,
}

#[derive(Serialize)]
struct JsonProperty {
    name: &'static str,
    expectation: &'static str,
    /// `holds for every number of disks`, `violated`, `not confirmed`, `out of scope`.
    verdict: &'static str,
    /// `null` when not proved either way.
    holds: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_confirmed_up_to: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counterexample: Option<JsonCounterexample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    abstract_counterexample: Option<JsonAbstractWitness>,
}

#[derive(Serialize)]
struct JsonReport {
    tool: &'static str,
    format_version: u32,
    configuration: JsonConfiguration,
    disks: &'static str,
    threshold: usize,
    witnesses: usize,
    abstract_states: usize,
    controllers: usize,
    local_states: usize,
    configurations: usize,
    steps: u64,
    seconds: f64,
    max_n: u8,
    /// Concrete searches run to confirm abstract violations: disks, unique states, seconds.
    confirmations: Vec<(u8, u64, f64)>,
    peak_memory_mib: Option<f64>,
    properties: Vec<JsonProperty>,
}

fn json_property(o: &AnyOutcome, f: &AnyFinding) -> JsonProperty {
    let a = &o.abstraction;
    let (verdict, holds) = match f.verdict {
        AnyVerdict::HoldsForEveryN => ("holds for every number of disks", Some(true)),
        AnyVerdict::Violated { .. } => ("violated", Some(false)),
        AnyVerdict::NotConfirmed { .. } => ("not confirmed", None),
        AnyVerdict::OutOfScope => ("out of scope", None),
    };
    let counterexample = match &f.verdict {
        AnyVerdict::Violated { disks, path } => {
            json_path(&o.concrete_config(*disks), path).map(|path| JsonCounterexample {
                disks: *disks,
                path,
            })
        }
        _ => None,
    };
    let abstract_counterexample = match (&f.verdict, f.abstract_witness) {
        (AnyVerdict::NotConfirmed { .. }, Some(w)) => Some(JsonAbstractWitness {
            state: a.configurations[w as usize].state,
            derivation: derivation_lines(a, w)
                .into_iter()
                .filter_map(|(state, _, e, description)| {
                    e.map(|event| JsonAbstractStep {
                        state,
                        event,
                        description,
                    })
                })
                .collect(),
        }),
        _ => None,
    };
    JsonProperty {
        name: f.prop.name,
        expectation: f.prop.expectation.name(),
        verdict,
        holds,
        not_confirmed_up_to: match f.verdict {
            AnyVerdict::NotConfirmed { up_to } => Some(up_to),
            _ => None,
        },
        counterexample,
        abstract_counterexample,
    }
}

pub fn json(o: &AnyOutcome) -> String {
    let a = &o.abstraction;
    let report = JsonReport {
        tool: "livemerge check",
        format_version: 1,
        configuration: JsonConfiguration {
            release: a.cfg.release,
            faults: a.cfg.faults,
            restarts: a.cfg.restarts,
            retries: a.cfg.retries,
        },
        disks: "any",
        threshold: a.threshold,
        witnesses: a.witnesses,
        abstract_states: a.views.len(),
        controllers: a.controllers.len(),
        local_states: a.locals.len(),
        configurations: a.configuration_count(),
        steps: a.steps,
        seconds: a.seconds,
        max_n: o.max_n,
        confirmations: o.confirmations.clone(),
        peak_memory_mib: crate::search::peak_memory_mib(),
        properties: o.findings.iter().map(|f| json_property(o, f)).collect(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
