//! `livemerge audit TRACE [--dir DIR]`: check an engine trace against the model, step by step,
//! and with `--dir` the real world at the end (the SQLite rows and `qemu-img info`, abstracted)
//! against the trace's last state. Exit 0 conforms, 1 diverges or violates, 2 unreadable input.

use super::{usage, Fail};
use crate::args::ModelArgs;
use crate::audit::{audit_expect, Expect, Unreadable};
use clap::Args;
use livemerge_impl::abstraction::{discrepancies, observe_removal};
use std::io::BufReader;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The trace (JSON lines) written by `livemerge run --trace` / `resume --trace`.
    pub(crate) trace: PathBuf,
    /// The engine directory the trace came from: also compare its real rows and volumes with the
    /// trace's last state.
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// The configuration, for a trace that does not name one (given with a trace that does, it
    /// must agree with it).
    #[command(flatten)]
    pub(crate) model: ModelArgs,
}

pub fn run(args: AuditArgs) -> Result<u8, Fail> {
    if args.model.no_symmetry {
        return Err(usage(
            "--no-symmetry does not apply to audit: a trace is audited disk by disk",
        ));
    }
    let shown = args.trace.display().to_string();
    let meta =
        std::fs::metadata(&args.trace).map_err(|e| usage(format!("{shown}: cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(usage(format!("{shown}: cannot read: not a regular file")));
    }
    let file = std::fs::File::open(&args.trace)
        .map_err(|e| usage(format!("{shown}: cannot read: {e}")))?;
    let fallback = if args.model.any_given() {
        let mut cfg = args.model.config().map_err(usage)?;
        cfg.symmetry = false;
        Some(cfg)
    } else {
        None
    };
    // A directory of several removals: the one whose VM the trace's header names.
    let removal = match &args.dir {
        Some(d) => {
            let named = livemerge_impl::trace::Existing::read(&args.trace)
                .ok()
                .and_then(|x| x.layouts.first().cloned())
                .and_then(|l| l["vm_id"].as_str().map(str::to_string));
            let r = livemerge_impl::session::fleet::removal_named(d, named.as_deref())
                .map_err(|e| usage(format!("{}: {e}", d.display())))?;
            Some(r)
        }
        None => None,
    };
    let dir = removal
        .as_ref()
        .map(|(_, p, _)| (p.settings.model_config(), p.layout.clone()));
    let expect = Expect {
        fallback,
        disks: args.model.exact_disks().map_err(usage)?,
        release: args.model.release,
        dir,
        invariants: true,
    };
    let result = audit_expect(BufReader::new(file), &expect)
        .map_err(|Unreadable(m)| usage(format!("{shown}: {m}")))?;
    let config = result.config.to_string();
    if let Some(v) = &result.violation {
        say!("{shown}:{}: {}", v.line, v.message);
    }
    if let Some(d) = &result.divergence {
        say!("{shown}:{}: {}", d.line, d.message);
        say!(
            "diverges at line {} after {} conforming step(s)",
            d.line,
            result.steps
        );
        return Ok(1);
    }
    let mut code = 0;
    if let Some(dir) = &args.dir {
        let last = result
            .last
            .unwrap_or_else(|| livemerge_model::State::initial(result.config.n()));
        let (vm, _, disks_dir) = removal.as_ref().expect("--dir was read above");
        let observed =
            observe_removal(dir, *vm).map_err(|e| usage(format!("{}: {e}", dir.display())))?;
        // Every volume the last state says exists must be there and read as qcow2: a deleted
        // base reads as "base lacks top's data", which a state that never merged also says.
        for (d, volume) in volumes_of(&last) {
            if let Err(e) = livemerge_impl::storage::qcow2::read_volume(disks_dir, d, volume) {
                say!(
                    "{}: disk-{}'s {volume}, which the trace's last state says exists, cannot be read: {e}",
                    disks_dir.display(),
                    d + 1
                );
                return Ok(1);
            }
        }
        let diff = discrepancies(&observed.state, &last);
        if !diff.is_empty() {
            say!(
                "{}: the real world differs from the trace's last state: {}",
                dir.display(),
                diff.join("; ")
            );
            return Ok(1);
        }
    }
    if let Some(v) = &result.violation {
        // The engine did what the model says; the model's property is what broke.
        say!(
            "conforms: {} step(s) checked ({config}), but the state after line {} {}: the engine followed the model into a property violation",
            result.steps,
            v.line,
            v.message
        );
        code = 1;
    } else {
        say!(
            "conforms: {} step(s) checked ({config}){}",
            result.steps,
            if args.dir.is_some() {
                "; the real rows and volumes match the last state"
            } else {
                ""
            }
        );
    }
    Ok(code)
}

/// The volumes a state says exist, per disk (0-based): base always (nothing deletes it), top
/// while the model's `top_exists` holds.
fn volumes_of(s: &livemerge_model::State) -> Vec<(usize, &'static str)> {
    use livemerge_impl::storage::{BASE, TOP};
    (0..s.disk_count())
        .flat_map(|d| {
            let top = s.disk(d).flags().top_exists().then_some((d, TOP));
            std::iter::once((d, BASE)).chain(top)
        })
        .collect()
}
