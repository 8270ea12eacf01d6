//! Fuzz target: `ingest::pagerduty::parse_webhook_event` and `parse_events` must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = postmortemd::ingest::pagerduty::parse_webhook_event(bytes);
    let _ = postmortemd::ingest::pagerduty::parse_events(bytes);
});
