//! `livemerge-impl`: the production live-merge engine.
//!
//! It makes no protocol decision of its own: every state change is `livemerge_model::step` of an
//! event it observed, applied by [`Engine::apply`]. The engine's job is to produce those events
//! from real threads (the parent's `execute()`, a fixed pool running children, the callback
//! poller with oVirt's delay rules, task and host-job workers), a real clock, a real database
//! (SQLite, tables close to oVirt's) and real storage (qcow2 volumes through `qemu-img`, or an
//! in-memory backend), and to carry out the effects each new state asks for.
//!
//! - [`engine`]: `apply`, the IO bookkeeping, the dispatch of effects;
//! - [`scheduler`]: the gate in front of `apply` (free, scripted, held);
//! - [`pool`], [`poller`], [`effects`]: the event sources;
//! - [`db`]: the schema, the projection of a state onto rows, one transaction per step;
//! - [`storage`]: the backend trait, qcow2, memory and live (`qemu-storage-daemon`);
//! - [`abstraction`]: real rows + storage facts -> model state, for audits and invariants;
//! - [`trace`]: the JSON-lines trace;
//! - [`outfile`]: how every file is written (regular files only, atomically);
//! - [`session`]: run / resume a removal to its end and judge it on reality;
//! - [`replay`]: a model path replayed step for step on the real engine;
//! - [`stress`]: many runs, the violation rate and its confidence interval;
//! - [`report`]: the text report.

pub mod abstraction;
pub mod db;
pub mod effects;
pub mod engine;
pub mod error;
pub mod outfile;
pub mod poller;
pub mod pool;
pub mod replay;
pub mod report;
pub mod scheduler;
pub mod session;
pub mod settings;
pub mod storage;
pub mod stress;
pub mod trace;

pub use engine::{Applied, Engine, InFlight, Parts, Source};
pub use error::Error;
pub use livemerge_model::MAX_DISKS;
pub use session::{Outcome, Schedule, Start};
pub use settings::{Backoff, Settings};
