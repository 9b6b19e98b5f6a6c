//! `livemerge rules`: the rule table of every release, generated from `model::rules` (each
//! release is written there as an earlier one plus its differences, with the lines of oVirt's
//! code each difference was read from). `docs/releases.md` holds its output.

use super::Fail;
use clap::Args;
use livemerge_model::rules::{Rules, TABLE};
use livemerge_model::Release;

#[derive(Args, Debug)]
pub struct RulesArgs {}

/// The table in Markdown: one row per rule, one column per release; a cell that is the same as
/// in the release this one is written against says `=` and that release.
pub(crate) fn markdown() -> String {
    let mut out = String::from("| rule (`Rules` field) | decides |");
    for r in Release::ALL {
        out.push_str(&format!(" {r} |"));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(Release::ALL.len()));
    out.push('\n');
    for row in TABLE {
        out.push_str(&format!("| `{}` | {} |", row.field, row.decides));
        for r in Release::ALL {
            let rules = Rules::of(r);
            let value = (row.value)(rules);
            let cell = match rules.previous {
                Some(p) if (row.value)(Rules::of(p)) == value => format!("= {p}"),
                _ => value,
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

pub fn run(_args: RulesArgs) -> Result<u8, Fail> {
    say_raw!("{}", markdown());
    Ok(0)
}
