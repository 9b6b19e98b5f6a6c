//! The `livemerge` tool's library: the command line, the searches over the model and their
//! reports. `main.rs` only wires them to the process (arguments, output, exit code).

pub mod any_n;
pub(crate) mod args;
pub mod audit;
pub(crate) mod bounds;
pub mod cli;
pub mod cmd;
pub mod counterexample;
pub(crate) mod files;
pub(crate) mod follow;
pub mod http_front;
pub mod matrix;
pub(crate) mod progress;
pub mod report;
pub mod schedules;
pub mod search;
