//! Fuzz target: `ingest::kubernetes::parse_events` (and every kind via `parse_objects`) must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = postmortemd::ingest::kubernetes::parse_events(bytes);
    let _ = postmortemd::ingest::kubernetes::parse_objects(bytes);
});
