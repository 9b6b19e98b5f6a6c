//! `livemerge history`: the history of each finding across the releases, from the checker's
//! verdicts in `findings.json` (the main job's baseline): where each property's violation began
//! and where it was fixed, with the commits of the releases that did it. `docs/releases.md` holds
//! its output (`scripts/releases`, checked in CI).

use super::{usage, Fail};
use crate::matrix::baseline::Baseline;
use crate::matrix::history::{histories, markdown};
use clap::Args;
use livemerge_model::Release;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The verdicts to read: the matrix's baseline
    #[arg(long, default_value = "findings.json")]
    pub baseline: PathBuf,
}

pub fn run(args: HistoryArgs) -> Result<u8, Fail> {
    let b = Baseline::load(&args.baseline).map_err(usage)?;
    let h = histories(&b);
    let latest = Release::ALL.into_iter().next_back();
    say_raw!("{}", markdown(&h, latest));
    Ok(0)
}
