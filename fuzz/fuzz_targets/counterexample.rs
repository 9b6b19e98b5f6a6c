//! Fuzzes the counterexample reader: any bytes give a file or a one-line error, never a panic;
//! a file that parses also replays through the model without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livemerge_checks::counterexample::{replay, CounterexampleFile};

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = CounterexampleFile::parse(data, "fuzz") {
        if let Ok(prop) = file.prop() {
            let _ = replay(&file, &file.configuration, &prop);
        }
    }
});
