//! Fuzz target: `ingest::kubernetes::parse_replicasets` and `parse_deployments` must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = postmortemd::ingest::kubernetes::parse_replicasets(bytes);
    let _ = postmortemd::ingest::kubernetes::parse_deployments(bytes);
});
