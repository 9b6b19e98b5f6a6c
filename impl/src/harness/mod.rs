//! The harness around the engine: what drives it for checking rather than in production.
//! Nothing outside this module depends on it (`scripts/modgraph` checks that no module depends
//! back on one that depends on it).
//!
//! - [`replay`]: a model path followed step for step on the engine (`livemerge replay`);
//! - [`stress`]: many runs with real timing, and the race's rate (`livemerge stress`);
//! - [`schedules`]: the gates that order the engine's sources (a path, a forced schedule);
//! - [`memory`]: the in-memory host, for fast tests and stress;
//! - [`faults`]: the fault plan of a path, for a replay's host.
//!
//! The live host's guest stays with the live backend (`crate::storage::live::guest`): the host
//! starts it as a VM's QEMU serves its guest, and the verdict on its writes is the host's.

pub mod faults;
pub mod memory;
pub mod replay;
pub mod schedules;
pub mod stress;
