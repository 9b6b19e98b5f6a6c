//! `livemerge-impl`: the production live-merge engine.
//!
//! It makes no protocol decision of its own: every state change is `livemerge_model::step` of an
//! event it observed, applied by [`Engine::apply`]. The engine's job is to produce those events
//! from real threads (the parent's `execute()`, a fixed pool running children, the callback
//! poller with oVirt's delay rules, task and host-job workers), a real clock, a real database
//! (SQLite, tables close to oVirt's) and real storage (qcow2 volumes through `qemu-img`, or an
//! in-memory backend), and to carry out the effects each new state asks for.
//!
//! By what each part is (`docs/architecture.md` draws the graph; no module depends
//! on one that depends back on it):
//! - the engine core, [`engine`]: `apply` (the one path to a new state), the IO in flight and
//!   its diff against what the model wants; [`scheduler`]: the gate in front of `apply`;
//! - the event sources, [`sources`]: the parent's thread, the pool, the poller, grandchild and
//!   host-job threads, and the one way to start an engine;
//! - persistence: [`db`] (the schema, the projection of a state onto rows, one transaction per
//!   step), [`abstraction`] (real rows + storage facts -> model state), [`trace`] (the JSON-lines
//!   trace), [`outfile`] (how every file is written: regular files only, atomically);
//! - storage, [`storage`]: the backend trait, qcow2 and live (`qemu-storage-daemon`);
//! - the run modes: [`session`] (set up, run and resume removals, judge them on reality),
//!   [`report`];
//! - the harness, [`harness`]: what drives the engine for checking (replay, stress, scripted
//!   schedules, the in-memory host, fault plans); nothing else depends on it;
//! - shared: [`settings`], [`error`].

pub mod abstraction;
pub mod db;
pub mod engine;
pub mod error;
pub mod harness;
pub mod outfile;
pub mod report;
pub mod scheduler;
pub mod session;
pub mod settings;
pub mod sources;
pub mod storage;
pub mod sync;
pub mod trace;

pub use engine::{Applied, ApplyError, Engine, InFlight, Parts, Work};
pub use error::Error;
pub use livemerge_model::MAX_DISKS;

/// The most removals one engine process runs at once (`run --vms`, `stress --vms`).
pub const MAX_VMS: u32 = 100;
pub use harness::schedules::Schedule;
pub use session::Outcome;
pub use settings::{Backoff, Settings};
pub use sources::{start, Fleet, Start};
pub use storage::Host;
