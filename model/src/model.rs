//! The stateright `Model` over the state machine: `actions` lists the enabled events,
//! `next_state` is [`step`] (made canonical when symmetry is on), and the properties are those of
//! [`crate::properties`]. The checker, the DFS and random searches and the web explorer use it.

use crate::canonical::{canonical, concretize, ConcreteStep};
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
            .map(|(s, _)| self.representative(s))
    }

    fn format_action(&self, action: &Event) -> String {
        describe_event(*action)
    }

    fn format_step(&self, last: &State, action: Event) -> Option<String> {
        // The explorer shows this rather than the state unless "Complete State?" is ticked:
        // what happened, then where it led.
        let st = ConcreteStep::new(&self.cfg, last, action).ok()?;
        Some(format!(
            "{}\n\n{}",
            describe_step(&self.cfg, &st),
            summarize(&self.cfg, &self.representative(st.after))
        ))
    }

    fn as_svg(&self, path: stateright::Path<State, Event>) -> Option<String> {
        // The path's events name canonical disk positions when symmetry is on: replayed on the
        // concrete disks, each lane stays one disk from top to bottom.
        let events: Vec<Event> = path.into_vec().into_iter().filter_map(|(_, e)| e).collect();
        let steps = concretize(&self.cfg, &events).ok()?;
        Some(sequence_diagram(&self.cfg, &steps))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::ALL
            .iter()
            .zip(CONDITIONS)
            .filter(|(p, _)| p.applies(&self.cfg))
            .map(|(p, condition)| match p.expectation {
                Expectation::Always => Property::always(p.name, condition),
                Expectation::Sometimes => Property::sometimes(p.name, condition),
                Expectation::Eventually => Property::eventually(p.name, condition),
            })
            .collect()
    }
}

/// stateright takes a property's condition as a plain `fn(&LiveMerge, &State)`, which cannot
/// carry the predicate it adapts: `condition::<I>` is the adapter of `properties::ALL[I]`.
fn condition<const I: usize>(m: &LiveMerge, s: &State) -> bool {
    (properties::ALL[I].holds)(&m.cfg, s)
}

/// One adapter per entry of `properties::ALL`, in its order: the array's length is that list's,
/// so a property added there without its adapter here does not compile.
const CONDITIONS: [fn(&LiveMerge, &State) -> bool; properties::ALL.len()] = [
    condition::<0>,
    condition::<1>,
    condition::<2>,
    condition::<3>,
    condition::<4>,
    condition::<5>,
    condition::<6>,
    condition::<7>,
    condition::<8>,
];
