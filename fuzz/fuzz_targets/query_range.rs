//! Fuzz target: `ingest::prometheus::parse_query_range` must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = postmortemd::ingest::prometheus::parse_query_range(bytes, "up");
});
