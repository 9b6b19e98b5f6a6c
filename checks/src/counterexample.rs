//! Counterexamples as files: a documented, versioned JSON format that `check --save` writes and
//! `show`, `check --replay-model` (and the engine's `replay`) read.
//!
//! Format version 1:
//! ```json
//! {
//!   "format": "livemerge-counterexample",
//!   "version": 1,
//!   "model_version": 1,
//!   "configuration": {"disks": 1, "poller": "3.6.0", "faults": [...], "restarts": 1, "symmetry": true},
//!   "property": {"name": "snapshot removed implies merge done", "expectation": "always"},
//!   "events": [{"event": "parent_begins"}, {"event": "poll_child", "disk": 0}, ...],
//!   "states": [initial state, state after event 1, ...],
//!   "steps": ["1. RemoveSnapshot.execute() begins: ...", ...]
//! }
//! ```
//! Events name concrete disks (0-based; `disk-1` is 0). `states` has one more entry than
//! `events`. `steps` is for people reading the file and is ignored on input.

use crate::files::{read_regular_file, write_atomically, Versioned};
use crate::report::ConcretePath;
use livemerge_model::properties::{self, Expectation, Prop, Witness};
use livemerge_model::{describe_event, describe_step, step, Config, Event, State, MODEL_VERSION};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub(crate) const FORMAT: &str = "livemerge-counterexample";
/// The pseudo-property of a schedule on which the real engine departed from the model.
pub(crate) const ENGINE_CONFORMS: &str = "the engine follows the model";

/// [`ENGINE_CONFORMS`] as a property: the model cannot judge it (every state "holds"); replaying
/// the file on the engine can.
pub(crate) fn engine_conforms() -> Prop {
    Prop {
        name: ENGINE_CONFORMS,
        expectation: Expectation::Always,
        holds: |_, _| true,
        only_with_faults: false,
        doomed: None,
    }
}
pub(crate) const VERSION: u32 = 1;

const KIND: Versioned = Versioned {
    format: FORMAT,
    version: VERSION,
    kind: "counterexample",
};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct PropertyRef {
    pub(crate) name: String,
    pub(crate) expectation: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CounterexampleFile {
    pub(crate) format: String,
    pub(crate) version: u32,
    pub(crate) model_version: u32,
    pub configuration: Config,
    pub(crate) property: PropertyRef,
    pub(crate) events: Vec<Event>,
    pub(crate) states: Vec<State>,
    #[serde(default)]
    pub(crate) steps: Vec<String>,
}

impl CounterexampleFile {
    pub fn new(cfg: &Config, prop: &Prop, trace: &ConcretePath) -> CounterexampleFile {
        let mut states = vec![trace.initial];
        states.extend(trace.steps.iter().map(|s| s.after));
        CounterexampleFile {
            format: FORMAT.to_string(),
            version: VERSION,
            model_version: MODEL_VERSION,
            configuration: *cfg,
            property: PropertyRef {
                name: prop.name.to_string(),
                expectation: prop.expectation.name().to_string(),
            },
            events: trace.steps.iter().map(|s| s.event).collect(),
            states,
            steps: trace
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}. {}", i + 1, describe_step(cfg, s)))
                .collect(),
        }
    }

    /// The property this counterexample is about, as the current model names it (or the
    /// engine's conformance, for a schedule the engine failed to follow).
    pub fn prop(&self) -> Result<Prop, String> {
        if self.property.name == ENGINE_CONFORMS {
            return Ok(engine_conforms());
        }
        properties::all(&self.configuration)
            .into_iter()
            .find(|p| p.name == self.property.name)
            .ok_or_else(|| {
                format!(
                    "property \"{}\" is unknown to this model",
                    self.property.name
                )
            })
    }

    /// Writes the file atomically: a temporary file in the same directory, then a rename.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        write_atomically(path, text.as_bytes())
    }

    /// Reads and validates a file: one-line errors for anything malformed, truncated or foreign.
    pub(crate) fn load(path: &Path) -> Result<CounterexampleFile, String> {
        let text = read_regular_file(path, MAX_FILE_BYTES)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Validates the bytes of a counterexample file; `shown` names it in errors.
    pub fn parse(text: &[u8], shown: &str) -> Result<CounterexampleFile, String> {
        let value = KIND.parse(text, shown)?;
        let file: CounterexampleFile = serde_json::from_value(value)
            .map_err(|e| format!("{shown}: malformed counterexample: {e}"))?;
        // An older model's file may still replay (its events are re-checked step by step); a
        // newer model's cannot be understood by this one, and version 0 never existed.
        if file.model_version == 0 || file.model_version > MODEL_VERSION {
            return Err(format!(
                "{shown}: saved by model version {}, this livemerge has model version {MODEL_VERSION} and reads versions 1 to {MODEL_VERSION}",
                file.model_version
            ));
        }
        file.configuration
            .validate()
            .map_err(|e| format!("{shown}: bad configuration: {e}"))?;
        if file.states.len() != file.events.len() + 1 {
            return Err(format!(
                "{shown}: malformed counterexample: {} events but {} states (expected one more state than events)",
                file.events.len(),
                file.states.len()
            ));
        }
        if let Some(e) = file
            .events
            .iter()
            .find(|e| e.disk().is_some_and(|d| d >= file.configuration.n()))
        {
            return Err(format!(
                "{shown}: event {e:?} names a disk outside the configuration's {} disk(s)",
                file.configuration.disks
            ));
        }
        Ok(file)
    }
}

impl CounterexampleFile {
    /// Whether the file is what it says, judged by the model under the file's own configuration:
    /// every event is accepted, every saved state is the one `step` reaches, and (with
    /// `witness`) the last state witnesses the file's property (`Prop::witnessed`: a
    /// counterexample ends in a violation, an example in the property holding). A schedule the
    /// engine failed to follow ([`ENGINE_CONFORMS`]) has no witness the model can judge. The
    /// error is one line naming the file as `shown` and the first step that is wrong.
    pub(crate) fn check_path(&self, shown: &str, witness: bool) -> Result<(), String> {
        let cfg = self.configuration;
        let prop = self.prop().map_err(|e| format!("{shown}: {e}"))?;
        match replay(self, &cfg, &prop) {
            Replay::Refused {
                index,
                event,
                reason,
            } => Err(format!(
                "{shown}: step {} ({}) is refused by the model: {reason}",
                index + 1,
                describe_event(event)
            )),
            Replay::Accepted {
                diverged: Some(i), ..
            } => {
                let model = model_states(&cfg, &self.events);
                let diff = livemerge_impl::abstraction::discrepancies(&self.states[i], &model[i]);
                let first = diff.first().map_or(String::new(), |d| {
                    format!(" (first difference, saved vs the model's: {d})")
                });
                Err(if i == 0 {
                    format!(
                        "{shown}: the saved initial state is not the model's{first}: the file's states contradict its events"
                    )
                } else {
                    format!(
                        "{shown}: the states diverge at step {i} ({}): the saved state after it is not the one the model reaches{first}: the file's states contradict its events",
                        describe_event(self.events[i - 1])
                    )
                })
            }
            Replay::Accepted {
                violates: false, ..
            } if witness && prop.name != ENGINE_CONFORMS => {
                let (reach, what) = match prop.expectation.witness() {
                    Witness::Counterexample => ("a violation", "a counterexample"),
                    Witness::Example => ("an example", "an example"),
                };
                Err(format!(
                    "{shown}: its {} step(s) do not reach {reach} of {} \"{}\" (the model's last state does not witness it): not {what}",
                    self.events.len(),
                    prop.expectation.name(),
                    prop.name
                ))
            }
            Replay::Accepted { .. } => Ok(()),
        }
    }
}

/// The initial state of `cfg`, then the state after each of `events` (as far as `step` accepts
/// them).
fn model_states(cfg: &Config, events: &[Event]) -> Vec<State> {
    let mut states = vec![State::initial(cfg.n())];
    for &e in events {
        match step(cfg, states.last().expect("one state at least"), e) {
            Ok((t, _)) => states.push(t),
            Err(_) => break,
        }
    }
    states
}

/// Where a replay of the events through the current model ends.
#[derive(Debug, PartialEq)]
pub enum Replay {
    /// Every event was accepted; `violates` tells whether the last state still shows the property's
    /// violation; `diverged` is the first step whose state differs from the file's.
    Accepted {
        violates: bool,
        diverged: Option<usize>,
    },
    /// The model refuses step `index` (0-based) with `reason`.
    Refused {
        index: usize,
        event: Event,
        reason: String,
    },
}

/// Re-runs the file's events through `step` from the initial state of `cfg` (the file's own
/// configuration, or another one to ask "what would this interleaving do under rule X?").
pub fn replay(file: &CounterexampleFile, cfg: &Config, prop: &Prop) -> Replay {
    let mut s = State::initial(cfg.n());
    let mut diverged = (file.states[0] != s).then_some(0);
    for (i, &e) in file.events.iter().enumerate() {
        match step(cfg, &s, e) {
            Ok((t, _)) => s = t,
            Err(r) => {
                return Replay::Refused {
                    index: i,
                    event: e,
                    reason: r.to_string(),
                }
            }
        }
        if diverged.is_none() && file.states.get(i + 1) != Some(&s) {
            diverged = Some(i + 1);
        }
    }
    let terminal = livemerge_model::enabled(cfg, &s).is_empty();
    let violates = prop.witnessed(cfg, &s, terminal);
    Replay::Accepted { violates, diverged }
}

/// The largest counterexample file read: far above any real one (a few hundred KiB).
const MAX_FILE_BYTES: u64 = 64 << 20;
