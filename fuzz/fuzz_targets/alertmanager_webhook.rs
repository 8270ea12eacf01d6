//! Fuzz target: `ingest::alertmanager::parse_webhook` must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = postmortemd::ingest::alertmanager::parse_webhook(bytes);
});
