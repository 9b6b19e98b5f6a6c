//! `livemerge check --disks any`: always- and eventually-properties for every number of disks.
//!
//! [`views`] builds the abstraction (every reachable view of K disks, for every N, from the
//! model's own `step`); this module turns it into verdicts: an always-property that no
//! configuration of the abstraction violates holds for every number of disks; one that some
//! configuration violates is looked for with the concrete search on N = 1, 2, ... up to a bound,
//! and reported violated on the smallest N, or not confirmed (possibly spurious). Sometimes and
//! eventually properties are out of scope. [`report`] prints the result.

pub mod report;
pub mod views;

use crate::search::{bfs, SearchLimits, Verdict};
use livemerge_model::properties::{Expectation, Prop};
use livemerge_model::{properties, Config, Event};
use views::{Abstraction, BuildError};

/// What `--disks any` concludes about one property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyVerdict {
    /// No configuration of the abstraction violates it.
    HoldsForEveryN,
    /// The concrete search found a violation; `disks` is the smallest number that has one and
    /// `path` the shortest counterexample there (canonical events, as the search reports them).
    Violated { disks: u8, path: Vec<Event> },
    /// The abstraction has a violation the concrete search did not find for 1..=`up_to` disks.
    NotConfirmed { up_to: u8 },
    /// Sometimes and eventually properties: the abstraction says nothing about them.
    OutOfScope,
}

#[derive(Clone, Debug)]
pub struct AnyFinding {
    pub prop: Prop,
    pub verdict: AnyVerdict,
    /// The abstraction's configuration that violates the property, when one does.
    pub abstract_witness: Option<u32>,
}

/// The whole result: the abstraction, and per property its verdict.
pub struct AnyOutcome {
    pub abstraction: Abstraction,
    pub findings: Vec<AnyFinding>,
    /// The concrete searches run to confirm violations: (disks, unique states, seconds).
    pub(crate) confirmations: Vec<(u8, u64, f64)>,
    pub(crate) max_n: u8,
}

impl AnyOutcome {
    pub(crate) fn any_violated(&self) -> bool {
        self.findings
            .iter()
            .any(|f| matches!(f.verdict, AnyVerdict::Violated { .. }))
    }

    pub(crate) fn any_unconfirmed(&self) -> bool {
        self.findings
            .iter()
            .any(|f| matches!(f.verdict, AnyVerdict::NotConfirmed { .. }))
    }

    /// The configuration a verdict with `disks` disks was found on.
    pub fn concrete_config(&self, disks: u8) -> Config {
        Config {
            disks,
            symmetry: true,
            ..self.abstraction.cfg
        }
    }
}

/// Builds the abstraction of `cfg` (its `disks` ignored) and gives every property its verdict,
/// confirming abstract violations with the concrete search for 1..=`max_n` disks.
pub fn check(
    cfg: &Config,
    threshold: usize,
    witnesses: usize,
    max_n: u8,
    limits: &SearchLimits,
) -> Result<AnyOutcome, BuildError> {
    let abstraction = Abstraction::build_within(cfg, threshold, witnesses, limits.max_memory_mib)?;
    let mut findings: Vec<AnyFinding> = properties::all(cfg)
        .into_iter()
        .zip(&abstraction.violations)
        .map(|(prop, v)| {
            let verdict = match (prop.expectation, v) {
                (Expectation::Always | Expectation::Eventually, None) => AnyVerdict::HoldsForEveryN,
                (Expectation::Always | Expectation::Eventually, Some(_)) => {
                    AnyVerdict::NotConfirmed { up_to: 0 }
                }
                (Expectation::Sometimes, _) => AnyVerdict::OutOfScope,
            };
            AnyFinding {
                prop,
                verdict,
                abstract_witness: v.as_ref().map(|v| v.configuration),
            }
        })
        .collect();
    let mut confirmations = Vec::new();
    for disks in 1..=max_n {
        if !findings
            .iter()
            .any(|f| matches!(f.verdict, AnyVerdict::NotConfirmed { .. }))
        {
            break;
        }
        let concrete = Config {
            disks,
            symmetry: true,
            ..*cfg
        };
        let outcome = bfs::run(&concrete, limits);
        confirmations.push((disks, outcome.unique, outcome.seconds));
        for f in findings.iter_mut() {
            if !matches!(f.verdict, AnyVerdict::NotConfirmed { .. }) {
                continue;
            }
            let found = outcome.findings.iter().find(|c| c.prop.name == f.prop.name);
            f.verdict = match found {
                Some(c) if c.verdict == Verdict::Violated => AnyVerdict::Violated {
                    disks,
                    path: c.path.clone().unwrap_or_default(),
                },
                _ => AnyVerdict::NotConfirmed { up_to: disks },
            };
        }
    }
    Ok(AnyOutcome {
        abstraction,
        findings,
        confirmations,
        max_n,
    })
}
