//! Searches over the model's state space and what they find. Every search answers the same
//! [`SearchOutcome`]: counts, time, completeness, and for each property its verdict and the path that
//! shows it (as events from the initial state, naming canonical disks under symmetry).

pub mod bfs;
pub(crate) mod dfs;
mod fingerprint;
pub(crate) mod memory;
pub(crate) mod random;
mod visited;

use livemerge_model::properties::{Expectation, Prop, Witness};
use livemerge_model::Event;
use std::time::Duration;

/// Bounds and knobs common to every strategy.
#[derive(Clone, Debug)]
pub struct SearchLimits {
    pub threads: usize,
    /// Stop after this many unique states (the search is then incomplete).
    pub max_states: Option<u64>,
    /// Stop after this long (the search is then incomplete).
    pub timeout: Option<Duration>,
    /// Stop before the search's own data would pass this many MiB (the search is then
    /// incomplete). Breadth-first search only.
    pub max_memory_mib: Option<u64>,
    /// Print progress on stderr, at most once a second, once a search runs longer than that.
    pub progress: bool,
}

/// What a search concluded about one property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Always/eventually: no violation in the (complete) search. Sometimes: an example exists.
    Holds,
    /// Always/eventually: a violation exists. Sometimes: no example in the complete search.
    Violated,
    /// The search was cut short before it could tell.
    Unknown,
}

/// One property's result, with the path that shows it: a counterexample for a violated
/// always/eventually property, an example for a sometimes property that holds.
#[derive(Clone, Debug)]
pub struct Finding {
    pub prop: Prop,
    pub verdict: Verdict,
    pub path: Option<Vec<Event>>,
}

/// The result of a search.
#[derive(Clone, Debug)]
pub struct SearchOutcome {
    pub strategy: &'static str,
    pub threads: usize,
    pub generated: u64,
    /// Unique states visited (exhaustive strategies); 0 for random walks.
    pub unique: u64,
    /// Walks run (random strategy only).
    pub walks: Option<u64>,
    pub max_depth: u64,
    pub seconds: f64,
    /// Every reachable state was visited.
    pub complete: bool,
    /// Why the search stopped early, when it did.
    pub stopped_by: Option<String>,
    pub findings: Vec<Finding>,
    /// A search that stores fingerprints instead of states: the probability that two states
    /// shared one, so that the search skipped a state (and whatever only it leads to).
    pub collision_probability: Option<f64>,
}

/// The process's peak resident memory so far, in MiB (Linux; `None` elsewhere).
pub(crate) fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

impl SearchOutcome {
    pub(crate) fn any_violated(&self) -> bool {
        self.findings.iter().any(|f| f.verdict == Verdict::Violated)
    }
}

/// The one classification of a search's result for a property: whether it `found` a witness
/// (see [`Expectation::witnessed`]) and whether the search was `complete`. A witness decides
/// at once (a counterexample: violated; an example: holds); no witness decides only a complete
/// search (no counterexample: holds; no example: violated); an incomplete one cannot tell.
pub fn verdict(expectation: Expectation, found: bool, complete: bool) -> Verdict {
    match (found, complete, expectation.witness()) {
        (true, _, Witness::Counterexample) | (false, true, Witness::Example) => Verdict::Violated,
        (true, _, Witness::Example) | (false, true, Witness::Counterexample) => Verdict::Holds,
        (false, false, _) => Verdict::Unknown,
    }
}
