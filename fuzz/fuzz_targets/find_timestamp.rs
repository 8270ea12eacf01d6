//! Fuzz target: the timestamp finder, the kubelet prefix and the RFC 3339 reader must never
//! panic, and a found span must lie on character boundaries inside the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postmortemd::normalize::time::{Finder, TimeContext, kubelet_time, parse_rfc3339, parse_window};

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let window = parse_window("2025-12-31T22:00:00Z/2026-01-01T02:00:00Z");
    let mut finder = Finder::new(TimeContext { window, ..TimeContext::default() });
    // Each line once, then again, so the remembered format and position are exercised.
    for _ in 0..2 {
        for line in text.lines() {
            if let Some(found) = finder.find(line) {
                assert!(found.span.start <= found.span.end && found.span.end <= line.len());
                assert!(line.is_char_boundary(found.span.start) && line.is_char_boundary(found.span.end));
            }
            if let Some(text_start) = kubelet_time(line.as_bytes()).and_then(|time| time.text_start) {
                assert!(text_start <= line.len() && line.is_char_boundary(text_start));
            }
            let _ = parse_rfc3339(line);
        }
    }
});
