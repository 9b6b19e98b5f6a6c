//! Auditing an engine trace against the model. A trace (the JSON lines `livemerge run --trace`
//! writes, see `impl/src/trace.rs`) conforms when: its first state is the configuration's initial
//! state; each record's `before` is the previous record's `after`; each event is enabled in its
//! `before` state; each `after` is exactly what `model::step` gives. The first line that breaks
//! one of these is a divergence, reported with its number. Separately, the first state where an
//! always-property breaks is a violation: the engine may follow the model faithfully into one
//! (a buggy poller), so the audit goes on checking conformance after it.
//!
//! A line of the form `{"livemerge_trace": 1, "configuration": {...}}` names the configuration
//! (the engine writes one when a trace file is opened, so a `resume` adds one too; they must
//! agree). Without one, the caller supplies the configuration.

use livemerge_model::properties::{self, Expectation};
use livemerge_model::{describe_event, step, Config, Event, State};
use serde::Deserialize;
use std::io::BufRead;

/// Why an audit could not even start (exit 2), as opposed to a divergence (exit 1).
#[derive(Debug, PartialEq)]
pub struct Unreadable(pub String);

/// The first line where the trace departs from the model.
#[derive(Debug, PartialEq)]
pub struct Divergence {
    pub line: usize,
    pub message: String,
}

/// What an audit found.
#[derive(Debug, PartialEq)]
pub struct Audit {
    pub config: Config,
    /// Steps checked before the end or the divergence.
    pub steps: usize,
    pub last: Option<State>,
    pub divergence: Option<Divergence>,
    /// The first line whose state breaks an always-property (while conforming up to there).
    pub violation: Option<Divergence>,
}

#[derive(Deserialize)]
struct Header {
    livemerge_trace: u32,
    configuration: Config,
}

#[derive(Deserialize)]
struct Record {
    event: Event,
    before: State,
    after: State,
}

/// The first difference between two states, as `path: recorded vs model`.
fn state_difference(recorded: &State, model: &State) -> String {
    livemerge_impl::abstraction::discrepancies(recorded, model)
        .into_iter()
        .next()
        .map(|d| format!("{d} (trace vs model)"))
        .unwrap_or_else(|| "the states differ".to_string())
}

/// Audits trace lines from `input`. `config` is used when the trace names none.
pub fn audit(input: impl BufRead, config: Option<Config>) -> Result<Audit, Unreadable> {
    audit_with(input, config, true)
}

/// [`audit`], optionally without judging the invariants: conformance alone (an engine that
/// faithfully follows a buggy poller into a violation still conforms).
pub fn audit_with(
    input: impl BufRead,
    config: Option<Config>,
    invariants: bool,
) -> Result<Audit, Unreadable> {
    let mut cfg = config;
    let mut prev: Option<State> = None;
    let mut steps = 0usize;
    let mut seen_line = false;
    let mut props = Vec::new();
    let mut violation: Option<Divergence> = None;
    let diverge = |cfg: Config, steps, last, line, message: String, violation| {
        Ok(Audit {
            config: cfg,
            steps,
            last,
            divergence: Some(Divergence { line, message }),
            violation,
        })
    };
    for (i, line) in input.split(b'\n').enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| Unreadable(format!("cannot read the trace: {e}")))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_slice(&line) {
            Ok(v) => v,
            Err(e) if !seen_line => {
                return Err(Unreadable(format!("line {n}: not a livemerge trace ({e})")))
            }
            // A line that is not a record cannot be judged: the input is unreadable there.
            Err(e) => {
                let what = if e.is_eof() { "truncated" } else { "not JSON" };
                return Err(Unreadable(format!("line {n}: {what} ({e})")));
            }
        };
        if value.get("livemerge_trace").is_some() {
            let h: Header = serde_json::from_value(value)
                .map_err(|e| Unreadable(format!("line {n}: malformed trace header: {e}")))?;
            if h.livemerge_trace != 1 {
                return Err(Unreadable(format!(
                    "line {n}: trace format version {}, this livemerge reads version 1",
                    h.livemerge_trace
                )));
            }
            // The engine steps with unbounded restarts, so only the disk count is checked.
            if h.configuration.disks == 0 || h.configuration.n() > livemerge_model::MAX_DISKS {
                return Err(Unreadable(format!(
                    "line {n}: bad configuration: {} disks",
                    h.configuration.disks
                )));
            }
            match cfg {
                Some(c) if seen_line && c != h.configuration => {
                    return diverge(
                        c,
                        steps,
                        prev,
                        n,
                        format!(
                            "the configuration changes to ({})",
                            crate::cmd::audit::config_words(&h.configuration)
                        ),
                        violation,
                    );
                }
                _ => {
                    cfg = Some(Config {
                        symmetry: false,
                        ..h.configuration
                    })
                }
            }
            seen_line = true;
            continue;
        }
        let c = match cfg {
            Some(c) => c,
            None => {
                return Err(Unreadable(
                    "the trace names no configuration: give --poller (and --disks) for it".into(),
                ))
            }
        };
        let record: Record = match serde_json::from_value(value) {
            Ok(r) => r,
            Err(e) if !seen_line => {
                return Err(Unreadable(format!(
                    "line {n}: not a livemerge trace record ({e})"
                )))
            }
            Err(e) => return Err(Unreadable(format!("line {n}: malformed record ({e})"))),
        };
        seen_line = true;
        if props.is_empty() && invariants {
            props = properties::all(&c)
                .into_iter()
                .filter(|p| p.expectation == Expectation::Always)
                .collect();
        }
        let expected_before = prev.unwrap_or_else(|| State::initial(c.n()));
        if record.before != expected_before {
            let what = if prev.is_none() {
                "the first state is not the configuration's initial state"
            } else {
                "the state before differs from the previous line's state after"
            };
            let d = state_difference(&record.before, &expected_before);
            return diverge(c, steps, prev, n, format!("{what}: {d}"), violation);
        }
        let after = match step(&c, &record.before, record.event) {
            Ok(t) => t,
            Err(r) => {
                return diverge(
                    c,
                    steps,
                    prev,
                    n,
                    format!(
                        "event {} ({}) is not enabled in the recorded state: {r}",
                        serde_json::to_string(&record.event).unwrap_or_default(),
                        describe_event(record.event)
                    ),
                    violation,
                )
            }
        };
        if record.after != after {
            let d = state_difference(&record.after, &after);
            return diverge(
                c,
                steps,
                prev,
                n,
                format!("the state after is not what model::step gives: {d}"),
                violation,
            );
        }
        steps += 1;
        prev = Some(after);
        if violation.is_none() {
            if let Some(p) = props.iter().find(|p| !(p.holds)(&c, &after)) {
                violation = Some(Divergence {
                    line: n,
                    message: format!("violates always \"{}\"", p.name),
                });
            }
        }
    }
    match cfg {
        Some(c) if seen_line => Ok(Audit {
            config: c,
            steps,
            last: prev,
            divergence: None,
            violation,
        }),
        _ => Err(Unreadable("empty trace".into())),
    }
}
