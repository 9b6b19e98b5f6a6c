//! The check's report: text for people, JSON for CI. Counterexamples are printed as numbered
//! steps in oVirt's words, mapped back from canonical to concrete disks.

use crate::search::{Finding, SearchOutcome, Verdict};
use livemerge_model::properties::Witness;
use livemerge_model::{concretize, describe_step, summarize, ConcreteStep, Config, Event, State};
use serde::Serialize;
use std::fmt::Write;

/// A path rebuilt on concrete disks, ready to print or serialize.
pub struct ConcretePath {
    pub initial: State,
    pub steps: Vec<ConcreteStep>,
}

impl ConcretePath {
    /// Rebuilds the path through the model. A path the search found is always accepted; a
    /// refusal here is a bug in the tool, reported as text rather than a panic.
    pub fn rebuild(cfg: &Config, events: &[Event]) -> Result<ConcretePath, String> {
        let steps = concretize(cfg, events)
            .map_err(|(i, r)| format!("step {} of the path is refused by the model: {r}", i + 1))?;
        Ok(ConcretePath {
            initial: State::initial(cfg.n()),
            steps,
        })
    }

    /// Rebuilds a path of concrete events (as saved in files) through `step`, without symmetry.
    pub fn rebuild_concrete(
        cfg: &Config,
        events: &[Event],
    ) -> Result<ConcretePath, (usize, livemerge_model::Refused)> {
        let concrete = Config {
            symmetry: false,
            ..*cfg
        };
        Ok(ConcretePath {
            initial: State::initial(cfg.n()),
            steps: concretize(&concrete, events)?,
        })
    }

    pub fn final_state(&self) -> State {
        self.steps.last().map_or(self.initial, |s| s.after)
    }
}

/// The word a report shows for a verdict: `holds`/`VIOLATED`, `found`/`NEVER`, `unknown`.
pub(crate) fn verdict_word(f: &Finding) -> &'static str {
    match (&f.verdict, f.prop.expectation.witness()) {
        (Verdict::Holds, Witness::Example) => "found",
        (Verdict::Holds, Witness::Counterexample) => "holds",
        (Verdict::Violated, Witness::Example) => "NEVER",
        (Verdict::Violated, Witness::Counterexample) => "VIOLATED",
        (Verdict::Unknown, _) => "unknown",
    }
}

/// The numbered steps of a trace, one per line, then the final state.
pub(crate) fn format_trace(cfg: &Config, trace: &ConcretePath) -> String {
    let mut out = String::new();
    for (i, st) in trace.steps.iter().enumerate() {
        let _ = writeln!(out, "  {:>3}. {}", i + 1, describe_step(cfg, st));
    }
    let _ = writeln!(out, "  state after step {}:", trace.steps.len());
    for line in summarize(cfg, &trace.final_state()).lines() {
        let _ = writeln!(out, "       {line}");
    }
    out
}

pub(crate) fn text(cfg: &Config, o: &SearchOutcome) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "livemerge check: {cfg}");
    let completeness = match &o.stopped_by {
        None => "complete".to_string(),
        Some(why) => format!("INCOMPLETE ({why})"),
    };
    let _ = writeln!(
        out,
        "strategy {}, {} thread(s): {completeness}",
        o.strategy, o.threads
    );
    let rate = o.generated as f64 / o.seconds.max(1e-9);
    let visited = match o.walks {
        Some(w) => format!("walks: {w}"),
        None => format!("unique states: {}", o.unique),
    };
    let memory = crate::search::peak_memory_mib()
        .map(|m| format!(", peak memory: {m:.0} MiB"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "states generated: {}, {visited}, max depth: {}, seconds: {:.2}, states/s: {:.0}{memory}",
        o.generated, o.max_depth, o.seconds, rate
    );
    if let Some(p) = o.collision_probability {
        let _ = writeln!(
            out,
            "states are stored as 64-bit fingerprints: probability that two shared one and a state was skipped: {p:.1e}"
        );
    }
    let _ = writeln!(out, "properties:");
    for f in &o.findings {
        let _ = writeln!(
            out,
            "  {:<9} {:<10} {}",
            verdict_word(f),
            f.prop.expectation.name(),
            f.prop.name
        );
    }
    for f in &o.findings {
        let (Verdict::Violated, Some(path)) = (&f.verdict, &f.path) else {
            continue;
        };
        let shortest = if o.strategy == "bfs" {
            ", shortest"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "\ncounterexample to {} \"{}\" ({} steps{shortest}):",
            f.prop.expectation.name(),
            f.prop.name,
            path.len()
        );
        match ConcretePath::rebuild(cfg, path) {
            Ok(trace) => out.push_str(&format_trace(cfg, &trace)),
            Err(e) => {
                let _ = writeln!(out, "  (cannot show it: {e})");
            }
        }
    }
    out
}

#[derive(Serialize)]
struct JsonStep {
    event: Event,
    description: String,
    state: State,
}

/// A path in the JSON reports (`check`'s and `check --disks any`'s): the initial state, then
/// each step's event, its description and the state it led to.
#[derive(Serialize)]
pub(crate) struct JsonPath {
    initial_state: State,
    steps: Vec<JsonStep>,
}

#[derive(Serialize)]
struct JsonProperty {
    name: &'static str,
    expectation: &'static str,
    /// `null` when the search was cut short before it could tell.
    holds: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counterexample: Option<JsonPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    example: Option<JsonPath>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    tool: &'static str,
    format_version: u32,
    configuration: &'a Config,
    strategy: &'static str,
    threads: usize,
    complete: bool,
    stopped_by: &'a Option<String>,
    states_generated: u64,
    unique_states: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    walks: Option<u64>,
    max_depth: u64,
    seconds: f64,
    states_per_second: f64,
    peak_memory_mib: Option<f64>,
    /// Searches that store fingerprints: the probability that a collision skipped a state.
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint_collision_probability: Option<f64>,
    properties: Vec<JsonProperty>,
}

/// `events` from the initial state as a [`JsonPath`] (`None` if the model refuses them).
pub(crate) fn json_path(cfg: &Config, events: &[Event]) -> Option<JsonPath> {
    let trace = ConcretePath::rebuild(cfg, events).ok()?;
    Some(JsonPath {
        initial_state: trace.initial,
        steps: trace
            .steps
            .iter()
            .map(|st| JsonStep {
                event: st.event,
                description: describe_step(cfg, st),
                state: st.after,
            })
            .collect(),
    })
}

pub(crate) fn json(cfg: &Config, o: &SearchOutcome) -> String {
    let properties = o
        .findings
        .iter()
        .map(|f| {
            let path = f.path.as_deref().and_then(|p| json_path(cfg, p));
            let (counterexample, example) = match f.prop.expectation.witness() {
                Witness::Counterexample => (path, None),
                Witness::Example => (None, path),
            };
            JsonProperty {
                name: f.prop.name,
                expectation: f.prop.expectation.name(),
                holds: match f.verdict {
                    Verdict::Holds => Some(true),
                    Verdict::Violated => Some(false),
                    Verdict::Unknown => None,
                },
                counterexample,
                example,
            }
        })
        .collect();
    let report = JsonReport {
        tool: "livemerge check",
        format_version: 1,
        configuration: cfg,
        strategy: o.strategy,
        threads: o.threads,
        complete: o.complete,
        stopped_by: &o.stopped_by,
        states_generated: o.generated,
        unique_states: o.unique,
        walks: o.walks,
        max_depth: o.max_depth,
        seconds: o.seconds,
        states_per_second: o.generated as f64 / o.seconds.max(1e-9),
        peak_memory_mib: crate::search::peak_memory_mib(),
        fingerprint_collision_probability: o.collision_probability,
        properties,
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
