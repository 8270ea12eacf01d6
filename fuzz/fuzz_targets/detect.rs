//! Fuzz target: `artifacts::files::detect` (the JSON prefix scanner and the log checks) and
//! `detect_and_read` must never panic, whatever the bytes.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use postmortemd::artifacts::files::{Queries, detect, detect_and_read};

fuzz_target!(|bytes: &[u8]| {
    let _ = detect(Path::new("artifact.json"), bytes);
    let _ = detect_and_read(Path::new("artifact.json"), bytes, &Queries::default());
});
