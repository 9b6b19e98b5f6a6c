//! One module per subcommand. Each returns the process's exit code, or a [`Fail`] to print as
//! one line on stderr.

pub mod check;
pub mod explore;
pub mod show;

/// An error to show as one line before exiting with `code`.
#[derive(Debug)]
pub struct Fail {
    pub code: u8,
    pub message: String,
}

/// Bad usage or input: exit 2.
pub fn usage(message: impl Into<String>) -> Fail {
    Fail {
        code: 2,
        message: message.into(),
    }
}
