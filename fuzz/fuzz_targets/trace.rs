//! Fuzzes the trace auditor: any bytes give a verdict or an "unreadable" error, never a panic.
//! Every field check runs: with a fallback configuration, with `--release`/`--disks` given (the
//! header-agreement check), and tied to an engine directory's configuration and layout (the
//! `--dir` checks: header configuration and layout, `db` as the exact projection of `after`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use livemerge_checks::audit::{audit, audit_expect, Expect};
use livemerge_impl::db::Layout;
use livemerge_impl::Host;
use livemerge_model::{Config, Release};

fuzz_target!(|data: &[u8]| {
    let _ = audit(data, None);
    let _ = audit(data, Some(Config::default()));
    let engine = Config {
        symmetry: false,
        restarts: u8::MAX,
        ..Config::default()
    };
    for disks in 1..=3u8 {
        let cfg = Config { disks, ..engine };
        let _ = audit_expect(
            data,
            &Expect {
                fallback: Some(cfg),
                disks: Some(disks),
                release: Some(Release::V4_0_2),
                dir: Some((cfg, Layout::new(Host::Qcow2, disks as usize, 7))),
                invariants: true,
            },
        );
    }
});
