//! The verdict on a run: its outcome judged on the REAL database and storage, not on what the
//! engine believes, with every safety property checked in every state the engine went through.

use crate::abstraction::{self, Observed};
use crate::db::Layout;
use crate::engine::Engine;
use crate::settings::Settings;
use crate::storage::DataCheck;
use livemerge_model::properties::{self, Expectation};
use livemerge_model::{summarize, why_stuck, State};
use std::sync::Arc;

/// How a run ended, judged on the real database and storage.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub settings: Settings,
    pub layout: Layout,
    /// The engine's final model state (what it believes).
    pub state: State,
    /// The real rows and facts, and their abstraction (what is).
    pub observed: Observed,
    /// The data written to each disk's layers, read back from its active volume.
    pub data: Vec<DataCheck>,
    /// The safety properties ("always") evaluated on `observed.state`: name, holds.
    pub properties: Vec<(&'static str, bool)>,
    /// For a property that broke: why, in one line (the model's `why_violated`), and at which
    /// step, since the end may no longer show it.
    pub why: Vec<(&'static str, String)>,
    /// The first state the engine went through with the snapshot row deleted, if any (a 3.6.0
    /// child may merge after it, so the end alone cannot tell what the deletion left behind).
    pub removed_at: Option<State>,
    /// The parent's end-action ran.
    pub ended: bool,
    /// Why the removal did not end, if it did not.
    pub stuck: Option<String>,
    /// Disagreements between the model and reality (a MERGE_STATUS verdict, the final state vs
    /// the abstraction, a schedule the run departed from).
    pub conformance: Vec<String>,
    /// Events applied by this process, and in the whole directory.
    pub events_here: u64,
    pub events_total: u64,
    /// From the start of the engine process to this removal being judged over (a removal of
    /// several is judged as soon as it is over, not when the last one is).
    pub seconds: f64,
    /// The live backend's guest: its writes read back (None on the other backends).
    pub guest: Option<crate::storage::live::guest::GuestVerdict>,
}

impl Outcome {
    /// Some safety property fails on reality, data is unreadable, or the engine did not conform.
    pub fn violated(&self) -> bool {
        self.properties.iter().any(|(_, ok)| !ok)
            || self.data.iter().any(|d| !d.all_readable())
            || !self.conformance.is_empty()
            || self.guest.as_ref().is_some_and(|g| !g.intact())
    }

    /// 0 ended and everything holds; 1 something is violated; 3 the removal did not end.
    pub fn exit_code(&self) -> u8 {
        if self.violated() {
            1
        } else if self.stuck.is_some() {
            3
        } else {
            0
        }
    }
}

pub(crate) fn finish(engine: &Arc<Engine>, quiescent: bool, seq0: u64, seconds: f64) -> Outcome {
    let cfg = *engine.config();
    let state = engine.state();
    let storage = Arc::clone(engine.storage());
    let layout = engine.layout().clone();
    let mut conformance = engine.conformance_errors();
    let fatal = engine.fatal();
    let observed = engine.with_db(|db| abstraction::observe(db, storage.as_ref(), &layout));
    let observed = match observed {
        Ok(o) => o,
        Err(e) => {
            // Reality could not be read: judge the engine's own state and say so.
            conformance.push(format!("cannot read the real database and storage: {e}"));
            Observed {
                rows: crate::db::project(&state, &layout),
                facts: Vec::new(),
                persisted: state,
                state,
            }
        }
    };
    // An engine that stopped on a fatal error (its database, its trace, or a host that died
    // under it) is behind reality as a killed one is, and `resume` reconciles the two: that is
    // said with why it stopped, not judged as a departure from the model.
    let diffs = abstraction::discrepancies(&state, &observed.state);
    if !diffs.is_empty() && fatal.is_none() {
        conformance.push(format!(
            "the engine's state differs from the real database and storage: {}",
            diffs.join("; ")
        ));
    }
    let data = (0..cfg.n())
        .map(|d| {
            storage.data_check(d).unwrap_or_else(|e| {
                conformance.push(format!("disk-{}: cannot read data back: {e}", d + 1));
                DataCheck {
                    base_data: false,
                    top_data: false,
                }
            })
        })
        .collect();
    // An invariant must hold in every state the engine went through, not only at the end: a
    // 3.6.0 child whose row was deleted re-creates it and merges after the snapshot row is gone,
    // so the end can look right after the snapshot was removed with nothing merged.
    let log = engine.with_db(|db| db.event_log()).unwrap_or_else(|e| {
        conformance.push(format!("cannot read the event log: {e}"));
        Vec::new()
    });
    let log_seqs: Vec<u64> = log.iter().map(|r| r.seq).collect();
    let went_through: Vec<State> = log.into_iter().map(|r| r.after).collect();
    let removed_at = went_through
        .iter()
        .find(|s| properties::snapshot_removed(&cfg, s))
        .copied();
    let mut why = Vec::new();
    let props = properties::all(&cfg)
        .into_iter()
        .filter(|p| p.expectation == Expectation::Always)
        .map(|p| {
            let first = went_through.iter().position(|s| !(p.holds)(&cfg, s));
            let at_end = (p.holds)(&cfg, &observed.state);
            // Why it broke, in the model's words: at the first step that broke it (the end may
            // no longer show it), else in the real rows and storage at the end.
            let reason = match first {
                Some(i) => properties::why_violated(&cfg, p.name, &went_through[i]).map(|w| {
                    let seq = log_seqs.get(i).copied().unwrap_or(i as u64 + 1);
                    let later = if at_end {
                        "; the end no longer shows it"
                    } else {
                        ""
                    };
                    format!("after step {seq}, {w}{later}")
                }),
                None => properties::why_violated(&cfg, p.name, &observed.state)
                    .map(|w| format!("in the real rows and storage at the end, {w}")),
            };
            if let Some(r) = reason {
                why.push((p.name, r));
            }
            (p.name, first.is_none() && at_end)
        })
        .collect();
    let ended = observed.state.removal_ended();
    let stuck = if let Some(f) = fatal {
        Some(if diffs.is_empty() {
            format!("the engine stopped: {f}")
        } else {
            format!(
                "the engine stopped: {f}; `resume` takes it on from the real database and storage ({})",
                diffs.join("; ")
            )
        })
    } else if ended {
        None
    } else if quiescent {
        Some(format!(
            "removal did not end: nothing more can happen ({})",
            why_stuck(&cfg, &state)
        ))
    } else if let Some(left) = engine.awaits_expiry() {
        let s = engine.settings();
        Some(format!(
            "removal did not end: only the expiry of its commands can end it ({}); markExpiredCommandsAsFailure fails them {:.1} s after the removal stopped moving (--command-lifetime {} ticks), {:.1} s from now, past the limit of {:.0} s",
            why_stuck(&cfg, &state),
            s.command_lifetime().as_secs_f64(),
            s.command_lifetime_ticks,
            left.as_secs_f64(),
            s.limit().as_secs_f64()
        ))
    } else {
        Some(format!(
            "removal did not end within {:.0} s: {}",
            engine.settings().limit().as_secs_f64(),
            summarize(&cfg, &state).replace('\n', "; ")
        ))
    };
    let events_total = engine.seq();
    Outcome {
        settings: *engine.settings(),
        layout,
        state,
        observed,
        data,
        properties: props,
        why,
        removed_at,
        ended,
        stuck,
        conformance,
        events_here: events_total - seq0,
        events_total,
        seconds,
        guest: None,
    }
}
