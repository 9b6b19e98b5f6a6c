//! The stateright `Model` over the state machine: `actions` lists the enabled events,
//! `next_state` is [`step`] (made canonical when symmetry is on), and the properties are those of
//! [`crate::properties`]. The checker, the DFS and random searches and the web explorer use it.

use crate::canonical::canonical;
use crate::config::Config;
use crate::describe::{describe_event, describe_step, summarize};
use crate::event::Event;
use crate::properties::{self, Expectation};
use crate::state::State;
use crate::step::{step, successors};
use crate::svg::sequence_diagram;
use stateright::{Model, Property};

/// The live-merge model of one configuration.
#[derive(Clone, Debug)]
pub struct LiveMerge {
    pub cfg: Config,
}

impl LiveMerge {
    pub fn new(cfg: Config) -> LiveMerge {
        LiveMerge { cfg }
    }

    /// The state handed to the checker: canonical under symmetry.
    pub fn representative(&self, s: State) -> State {
        if self.cfg.symmetry {
            canonical(s, self.cfg.n())
        } else {
            s
        }
    }
}

impl Model for LiveMerge {
    type State = State;
    type Action = Event;

    fn init_states(&self) -> Vec<State> {
        vec![State::initial(self.cfg.n())]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Event>) {
        // Only events `step` accepts: stateright's simulation records an index even when
        // `next_state` refuses, so refused events must never be offered.
        actions.extend(successors(&self.cfg, state).map(|(e, _)| e));
    }

    fn next_state(&self, last: &State, action: Event) -> Option<State> {
        step(&self.cfg, last, action)
            .ok()
            .map(|s| self.representative(s))
    }

    fn format_action(&self, action: &Event) -> String {
        describe_event(*action)
    }

    fn format_step(&self, last: &State, action: Event) -> Option<String> {
        // The explorer shows this rather than the state unless "Complete State?" is ticked:
        // what happened, then where it led.
        let next = step(&self.cfg, last, action).ok()?;
        Some(format!(
            "{}\n\n{}",
            describe_step(&self.cfg, last, action, &next),
            summarize(&self.cfg, &self.representative(next))
        ))
    }

    fn as_svg(&self, path: stateright::Path<State, Event>) -> Option<String> {
        let mut v = path.into_vec();
        let initial = v.first()?.0;
        // (state, action taken from it): shift to (action, state it led to).
        let steps: Vec<(Event, State)> = v
            .windows(2)
            .filter_map(|w| w[0].1.map(|e| (e, w[1].0)))
            .collect();
        v.clear();
        Some(sequence_diagram(&self.cfg, &initial, &steps))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all(&self.cfg)
            .into_iter()
            .map(|p| {
                let f = property_fn(p.name);
                match p.expectation {
                    Expectation::Always => Property::always(p.name, f),
                    Expectation::Sometimes => Property::sometimes(p.name, f),
                    Expectation::Eventually => Property::eventually(p.name, f),
                }
            })
            .collect()
    }
}

/// stateright wants `fn(&Model, &State)`: one adapter per named property.
fn property_fn(name: &str) -> fn(&LiveMerge, &State) -> bool {
    use properties::*;
    match name {
        SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE => {
            |m, s| snapshot_removed_implies_merge_done(&m.cfg, s)
        }
        NO_DATA_LOST => |m, s| no_data_lost(&m.cfg, s),
        DB_AGREES_WHEN_IDLE => |m, s| db_agrees_when_idle(&m.cfg, s),
        SNAPSHOT_REMOVED => |m, s| snapshot_removed(&m.cfg, s),
        REMOVAL_FAILED_CLEANLY => |m, s| removal_failed_cleanly(&m.cfg, s),
        EVERY_REMOVAL_ENDS => |m, s| removal_ended(&m.cfg, s),
        EVERY_DISAGREEMENT_MARKED => |m, s| every_disagreement_marked(&m.cfg, s),
        RETRY_CAN_COMPLETE => |m, s| retry_can_complete(&m.cfg, s),
        // `properties::all` names only the properties above; a test holds the two lists together.
        _ => |_, _| false,
    }
}
