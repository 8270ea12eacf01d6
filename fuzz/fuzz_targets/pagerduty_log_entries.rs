//! Fuzz target: `ingest::pagerduty::parse_log_entries` must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = postmortemd::ingest::pagerduty::parse_log_entries(bytes);
});
