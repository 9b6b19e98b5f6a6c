//! Fuzzes the explorer's HTTP front's request parsing: any bytes, cut anywhere, give a request,
//! "incomplete", or a refusal status (400, 413, 431), never a panic; a complete head never
//! exceeds the bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livemerge_checks::http_front::parse_head;

fuzz_target!(|data: &[u8]| {
    for max in [64usize, 8 * 1024] {
        match parse_head(data, max) {
            Ok(Some(r)) => assert!(r.method.len() + r.path.len() <= data.len()),
            Ok(None) => assert!(data.len() < max),
            Err(s) => assert!(matches!(s, 400 | 413 | 431), "{s}"),
        }
        // Every prefix, as the front sees it while reading.
        let _ = parse_head(&data[..data.len() / 2], max);
    }
});
