//! Fuzzes the trace auditor: any bytes give a verdict or an "unreadable" error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livemerge_checks::audit::audit;

fuzz_target!(|data: &[u8]| {
    let _ = audit(data, None);
    let _ = audit(data, Some(livemerge_model::Config::default()));
});
