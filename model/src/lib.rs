//! oVirt's live merge (snapshot removal while the VM runs) as a pure, sans-IO state machine.
//!
//! Everything that decides a protocol question lives here, once:
//! - [`State`]: the parent command, one child per disk, the poller's registrations, the host
//!   (merge jobs, volume chains) and the engine's database; read-only outside this crate, built
//!   by hand through a [`Draft`] and from the engine's rows and storage through
//!   [`State::observed`];
//! - [`Event`]: everything that can happen, as a plain value;
//! - [`step`]: the one transition function, giving the next state and the [`Transition`] (the
//!   branch it took), and [`enabled`]: the events it accepts in a state;
//! - [`wants`]: what a state asks the world to do (the output side), and each event's [`Actor`];
//! - [`properties`]: the invariants, named in plain words;
//! - `LiveMerge` (feature `checker`): a stateright `Model` over all of it, for the checker and the
//!   web explorer, with the sequence diagrams it draws; the engine builds without it.
//!
//! The engine in `impl/` and the tools in `checks/` call these functions; they never interpret a
//! status themselves. See `docs/releases.md` and `docs/outcomes.md` for the oVirt code this follows
//! and `docs/model.md` for what is simplified.

mod canonical;
mod config;
mod describe;
mod draft;
mod event;
#[cfg(feature = "checker")]
mod model;
mod observe;
pub mod properties;
pub mod races;
pub mod rules;
mod state;
mod step;
#[cfg(feature = "checker")]
mod svg;
mod transition;
mod wants;

pub use canonical::{canonical, canonicalize, concretize, ConcreteStep, Permutation};
pub use config::{Config, ConfigError, Fault, Faults, Release, MAX_DISKS};
pub use describe::{describe_event, describe_step, summarize, why_stuck};
pub use draft::{DiskDraft, Draft, ParentDraft};
pub use event::Event;
#[cfg(feature = "checker")]
pub use model::LiveMerge;
pub use observe::{ChildRow, CommandRow, DiskObservation, Observation};
pub use rules::{parent_decision, ParentDecision, Rules};
pub use state::{
    CmdStatus, Disk, DiskFlags, Images, Parent, ParentFlags, Snapshot, State, Step, Task,
    PACKED_LEN,
};
pub use step::{enabled, parent_returned, polled_command, restart, step, successors, Refused};
#[cfg(feature = "checker")]
pub use svg::{sequence_diagram, text_width, FONT_SIZE as SVG_FONT_SIZE};
pub use transition::{ChildFailure, Ending, Transition};
pub use wants::{
    grandchild_act, grandchild_id, grandchild_pending, grandchild_succeeded, settled, wants, Actor,
    ChildAct, DiskWants, GrandchildAct, GrandchildEvents, GrandchildId, HostCall, ParentAct, Wants,
};

/// The model's semantic version: bumped whenever `step` or the state changes meaning, so that a
/// saved counterexample can say which model it was found on.
pub const MODEL_VERSION: u32 = 4;
