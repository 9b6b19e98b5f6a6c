//! The verdict matrix: every configuration of a set of axes checked by the same BFS as
//! `livemerge check`, each property's verdict and shortest path length compared with a baseline
//! (`findings.json`), printed as one table and, for CI systems, as JUnit XML.

pub mod axes;
pub(crate) mod baseline;
pub(crate) mod history;
pub(crate) mod junit;
pub(crate) mod table;

use crate::report::verdict_word;
use crate::search::{self, SearchLimits, SearchOutcome};
use livemerge_model::Config;

/// One configuration's search.
pub(crate) struct Row {
    pub(crate) cfg: Config,
    pub(crate) outcome: SearchOutcome,
}

/// What the matrix records of one property: its verdict, and the length of the path that shows
/// it (the shortest counterexample of a violated property, the shortest example of a `sometimes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MatrixCell {
    pub(crate) verdict: String,
    pub(crate) length: Option<usize>,
}

impl std::fmt::Display for MatrixCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.length {
            Some(n) => write!(f, "{} ({n} steps)", self.verdict),
            None => f.write_str(&self.verdict),
        }
    }
}

impl Row {
    /// Each property's name and what was observed of it, in the model's order.
    pub(crate) fn observed(&self) -> Vec<(&'static str, MatrixCell)> {
        self.outcome
            .findings
            .iter()
            .map(|f| {
                (
                    f.prop.name,
                    MatrixCell {
                        verdict: verdict_word(f).to_ascii_lowercase(),
                        length: f.path.as_ref().map(Vec::len),
                    },
                )
            })
            .collect()
    }
}

/// Checks every configuration with our BFS (the search `livemerge check` runs by default), with
/// `threads` threads in all. Small configurations gain nothing from a parallel search, so the
/// configurations are spread over the threads and each search gets its share of them; `done`
/// is called as each one finishes (for progress lines), from the thread that ran it.
pub(crate) fn run(configs: &[Config], threads: usize, done: &(dyn Fn(&Row) + Sync)) -> Vec<Row> {
    let workers = threads.clamp(1, configs.len().max(1));
    let limits = SearchLimits {
        threads: (threads / workers).max(1),
        max_states: None,
        timeout: None,
        progress: false,
        max_memory_mib: None,
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut rows: Vec<(usize, Row)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(cfg) = configs.get(i) else { break };
                        let row = Row {
                            cfg: *cfg,
                            outcome: search::bfs::run(cfg, &limits),
                        };
                        done(&row);
                        mine.push((i, row));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("matrix worker panicked"))
            .collect()
    });
    rows.sort_by_key(|(i, _)| *i);
    rows.into_iter().map(|(_, r)| r).collect()
}
