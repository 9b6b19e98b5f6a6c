//! `livemerge show FILE [--svg OUT.svg]`: a saved counterexample as the same numbered steps as
//! `check` prints, or its sequence diagram.

use super::{usage, Fail};
use crate::counterexample::CounterexampleFile;
use crate::files::write_atomically;
use crate::report::{format_trace, ConcretePath};
use clap::Args;
use livemerge_model::{describe_event, sequence_diagram};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A counterexample written by `livemerge check --save`.
    pub(crate) file: PathBuf,
    /// Write the sequence diagram to this SVG file instead of printing the steps.
    #[arg(long, value_name = "OUT.svg")]
    pub(crate) svg: Option<PathBuf>,
}

pub fn run(args: ShowArgs) -> Result<u8, Fail> {
    let file = CounterexampleFile::load(&args.file).map_err(usage)?;
    let cfg = file.configuration;
    let prop = file.prop().map_err(usage)?;
    // Only a path the model takes, state for state, to a witness of its property is shown as
    // one: a refused step, a saved state the model does not reach, or a path that stops short
    // of the violation it names is refused (exit 2), naming the first step that is wrong.
    file.check_path(&args.file.display().to_string(), true)
        .map_err(usage)?;
    // Rebuild through the model: the descriptions come from the states before and after each step.
    let trace = ConcretePath::rebuild_concrete(&cfg, &file.events).map_err(|(i, r)| {
        usage(format!(
            "{}: step {} ({}) is refused by the model: {r}",
            args.file.display(),
            i + 1,
            describe_event(file.events[i])
        ))
    })?;
    if let Some(out) = &args.svg {
        let svg = sequence_diagram(&cfg, &trace.steps);
        write_atomically(out, svg.as_bytes()).map_err(usage)?;
        say!("wrote {}", out.display());
        return Ok(0);
    }
    say!("livemerge counterexample: {cfg}");
    say!(
        "{} \"{}\" ({} steps):",
        prop.expectation.name(),
        prop.name,
        file.events.len()
    );
    say_raw!("{}", format_trace(&cfg, &trace));
    Ok(0)
}
