//! The engine's errors, by what the user can do about them. Every error is one line: the command
//! line prints it and exits 2 (bad input, or an environment the engine cannot run in).

use std::fmt;

/// Why the engine could not start or go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// DIR is not an engine directory (no `engine.db`, or not one of ours).
    NotEngineDir(String),
    /// Another engine holds the database's lock.
    Locked(String),
    /// `qemu-img` / `qemu-io` cannot be run.
    MissingTool(String),
    /// Anything else the user asked for that cannot be done (bad DIR, bad flag value).
    BadInput(String),
    /// The database failed under us.
    Db(String),
    /// Storage failed outside of a protocol step (setup, reading facts).
    Storage(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotEngineDir(m)
            | Error::Locked(m)
            | Error::MissingTool(m)
            | Error::BadInput(m) => f.write_str(m),
            Error::Db(m) => write!(f, "database error: {m}"),
            Error::Storage(m) => write!(f, "storage error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Db(one_line(&e.to_string()))
    }
}

/// Error text from tools can span lines; the command line promises one.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub type Result<T> = std::result::Result<T, Error>;
