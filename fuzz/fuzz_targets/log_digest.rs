//! Fuzz target: a log file's lines through `artifacts::logs` and a `LogDigest` (structured
//! line reading, access lines, shapes, request ids), then the whole timeline, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postmortemd::artifacts::logs::read_lines;
use postmortemd::normalize::time::{TimeContext, parse_rfc3339};
use postmortemd::record::{Source, SourceKind, Stream};
use postmortemd::timeline::digest::DEFAULT_REQUEST_ID_FIELDS;
use postmortemd::timeline::{self, DigestConfig, Evidence, LogDigest, Options, Window};

fuzz_target!(|bytes: &[u8]| {
    let (Some(start), Some(baseline_end), Some(end)) = (
        parse_rfc3339("2025-02-09T09:46:15Z"),
        parse_rfc3339("2025-02-09T10:01:15Z"),
        parse_rfc3339("2025-02-09T10:45:00Z"),
    ) else {
        return;
    };
    let window = Window { start, end, baseline_end };
    let config = DigestConfig {
        window,
        time_context: TimeContext { window: Some((start, end)), ..TimeContext::default() },
        offset_hint_nanos: 0,
        request_id_fields: DEFAULT_REQUEST_ID_FIELDS.iter().map(|field| (*field).to_owned()).collect(),
    };
    let source =
        Source { kind: SourceKind::Logs, stream: Stream::File("fuzz".to_owned()), node: Some("node-1".to_owned()) };
    let mut digest = LogDigest::new(source, config);
    let _ = read_lines(bytes, |line| digest.push(line.transport, line.text));
    let evidence = Evidence {
        title: "fuzz".to_owned(),
        window,
        records: Vec::new(),
        digests: vec![digest],
        coverage: Vec::new(),
        written_by: None,
    };
    let _ = timeline::build(evidence, &Options::default());
});
