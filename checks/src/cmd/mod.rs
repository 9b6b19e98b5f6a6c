//! One module per subcommand. Each returns the process's exit code, or a [`Fail`] to print as
//! one line on stderr.

/// `println!` that does not panic when stdout is closed (`livemerge check | head`): a reader
/// that has seen enough is not an error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
/// `print!` that does not panic when stdout is closed.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub mod audit;
pub mod check;
pub mod engine;
pub mod explore;
pub mod history;
pub mod matrix;
pub mod replay;
pub mod rules;
pub mod schedules;
pub mod show;

/// An error to show as one line before exiting with `code`.
#[derive(Debug)]
pub struct Fail {
    pub code: u8,
    pub message: String,
}

/// Bad usage or input: exit 2.
pub(crate) fn usage(message: impl Into<String>) -> Fail {
    Fail {
        code: 2,
        message: message.into(),
    }
}
