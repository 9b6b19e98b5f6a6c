//! The baseline of the matrix: `findings.json`, checked into the repository, one entry per
//! configuration and property with the verdict and the length of the shortest path that shows it.
//! The matrix passes when a run agrees with it; a change of verdict or length is a difference.
//!
//! Format version 1:
//! ```json
//! {
//!   "format": "livemerge-findings",
//!   "version": 1,
//!   "model_version": 1,
//!   "configurations": [
//!     {"configuration": "release 3.6.0, 1 disk(s), faults none, 0 restart(s), 1 retry",
//!      "properties": [
//!        {"property": "snapshot removed implies merge done", "verdict": "violated", "length": 5},
//!        {"property": "no data lost", "verdict": "holds", "length": null}, ...]}, ...]
//! }
//! ```
//! `verdict` is `holds` or `violated` (always, eventually), `found` or `never` (sometimes);
//! `length` counts the steps of the shortest counterexample (violated) or example (found), and is
//! `null` for the other two.

use super::axes::config_name;
use super::{MatrixCell, Row};
use crate::files::{read_regular_file, write_atomically, Versioned};
use livemerge_model::MODEL_VERSION;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;

pub(crate) const FORMAT: &str = "livemerge-findings";
pub(crate) const VERSION: u32 = 1;

const KIND: Versioned = Versioned {
    format: FORMAT,
    version: VERSION,
    kind: "findings",
};
const MAX_FILE_BYTES: u64 = 16 << 20;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Baseline {
    pub(crate) format: String,
    pub(crate) version: u32,
    pub(crate) model_version: u32,
    pub(crate) configurations: Vec<ConfigEntry>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigEntry {
    pub(crate) configuration: String,
    pub(crate) properties: Vec<PropEntry>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct PropEntry {
    pub(crate) property: String,
    pub(crate) verdict: String,
    pub(crate) length: Option<usize>,
}

/// One way a run departs from the baseline. `old` is `None` for a configuration or property the
/// baseline lacks, `new` is `None` for one the run checked no longer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Difference {
    pub(crate) configuration: String,
    pub(crate) property: String,
    pub(crate) old: Option<MatrixCell>,
    pub(crate) new: Option<MatrixCell>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |o: &Option<MatrixCell>| match o {
            Some(o) => o.to_string(),
            None => "not checked".to_string(),
        };
        write!(
            f,
            "{}: \"{}\": {} -> {}",
            self.configuration,
            self.property,
            show(&self.old),
            show(&self.new)
        )
    }
}

impl Baseline {
    /// The baseline a run would write.
    pub(crate) fn from_rows(rows: &[Row]) -> Baseline {
        Baseline {
            format: FORMAT.to_string(),
            version: VERSION,
            model_version: MODEL_VERSION,
            configurations: rows
                .iter()
                .map(|r| ConfigEntry {
                    configuration: config_name(&r.cfg),
                    properties: r
                        .observed()
                        .into_iter()
                        .map(|(name, o)| PropEntry {
                            property: name.to_string(),
                            verdict: o.verdict,
                            length: o.length,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Reads and validates a baseline: a one-line error for anything malformed or foreign.
    pub(crate) fn load(path: &Path) -> Result<Baseline, String> {
        if !path.exists() && path.is_relative() && path.components().count() == 1 {
            // The default, `findings.json`, is the repository's: say where it is looked for.
            return Err(format!(
                "{}: no such file here: run from the repository's root, or give --baseline FILE",
                path.display()
            ));
        }
        let text = read_regular_file(path, MAX_FILE_BYTES)?;
        Self::parse(&text, &path.display().to_string())
    }

    pub(crate) fn parse(text: &[u8], shown: &str) -> Result<Baseline, String> {
        let value = KIND.parse(text, shown)?;
        let b: Baseline =
            serde_json::from_value(value).map_err(|e| format!("{shown}: malformed: {e}"))?;
        let mut configs = HashSet::new();
        for c in &b.configurations {
            if !configs.insert(&c.configuration) {
                return Err(format!(
                    "{shown}: configuration \"{}\" is listed twice",
                    c.configuration
                ));
            }
            let mut props = HashSet::new();
            for p in &c.properties {
                let at = format!("{shown}: \"{}\", \"{}\"", c.configuration, p.property);
                if !props.insert(&p.property) {
                    return Err(format!("{at}: listed twice"));
                }
                let needs_length = match p.verdict.as_str() {
                    "violated" | "found" => true,
                    "holds" | "never" => false,
                    v => {
                        return Err(format!(
                            "{at}: unknown verdict '{v}' (expected holds, violated, found or never)"
                        ))
                    }
                };
                match (needs_length, p.length) {
                    (true, None) => {
                        return Err(format!("{at}: a {} verdict needs a length", p.verdict))
                    }
                    (false, Some(_)) => {
                        return Err(format!("{at}: a {} verdict has no length", p.verdict))
                    }
                    _ => {}
                }
            }
        }
        Ok(b)
    }

    /// Writes the baseline through a temporary file, fsync and rename: a crash leaves the old
    /// file or the new one, never half of one.
    pub(crate) fn save(&self, path: &Path) -> Result<(), String> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        text.push('\n');
        write_atomically(path, text.as_bytes())
    }

    /// How `run` departs from this baseline, in the run's order. Only the configurations the run
    /// checked are compared: a run over fewer axes than the baseline's is not a difference.
    pub(crate) fn compare(&self, run: &Baseline) -> Vec<Difference> {
        let old: HashMap<&str, &ConfigEntry> = self
            .configurations
            .iter()
            .map(|c| (c.configuration.as_str(), c))
            .collect();
        let observed = |p: &PropEntry| MatrixCell {
            verdict: p.verdict.clone(),
            length: p.length,
        };
        let mut diffs = Vec::new();
        for c in &run.configurations {
            let before = old.get(c.configuration.as_str());
            for p in &c.properties {
                let was =
                    before.and_then(|b| b.properties.iter().find(|q| q.property == p.property));
                let now = Some(observed(p));
                let was = was.map(observed);
                if was != now {
                    diffs.push(Difference {
                        configuration: c.configuration.clone(),
                        property: p.property.clone(),
                        old: was,
                        new: now,
                    });
                }
            }
            for q in before.map_or(&[][..], |b| &b.properties[..]) {
                if !c.properties.iter().any(|p| p.property == q.property) {
                    diffs.push(Difference {
                        configuration: c.configuration.clone(),
                        property: q.property.clone(),
                        old: Some(observed(q)),
                        new: None,
                    });
                }
            }
        }
        diffs
    }
}
