//! Container logs as the kubelet keeps and serves them.
//!
//! Lines are bytes (a container may write invalid UTF-8) with the runtime's receive time. A request
//! is answered the kubelet's way: `tailLines` picks the last lines of the file, then `sinceTime`
//! (already truncated to the second by the apiserver) or `sinceSeconds` drops older lines, then
//! `timestamps` prefixes each line with RFC 3339 and nine fraction digits, and `limitBytes` cuts the
//! output, prefix included, wherever it falls.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

/// One line as the runtime stored it.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub time: Timestamp,
    pub bytes: Vec<u8>,
}

impl LogLine {
    pub fn new(time: Timestamp, bytes: impl Into<Vec<u8>>) -> LogLine {
        LogLine { time, bytes: bytes.into() }
    }
}

/// The current instance's lines and the last terminated instance's (`previous=true`).
#[derive(Clone, Debug, Default)]
pub struct ContainerLogs {
    pub current: Vec<LogLine>,
    pub previous: Vec<LogLine>,
}

/// The `pods/log` parameters the fake honours.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub previous: bool,
    pub timestamps: bool,
    pub since: Option<Timestamp>,
    pub tail_lines: Option<u64>,
    pub limit_bytes: Option<u64>,
}

/// Go's `strconv.ParseBool`, which the apiserver uses for boolean query parameters.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The runtime's timestamp prefix: RFC 3339, exactly nine fraction digits, `Z` or the node's offset.
pub fn kubelet_time(time: Timestamp, offset: Option<Offset>) -> String {
    match offset {
        None => time.strftime("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
        Some(offset) => {
            time.to_zoned_datetime(TimeZone::fixed(offset)).strftime("%Y-%m-%dT%H:%M:%S%.9f%:z").to_string()
        }
    }
}

/// The body the kubelet would stream for these lines and options.
pub fn render(lines: &[LogLine], options: &LogOptions, offset: Option<Offset>) -> Vec<u8> {
    let start = match options.tail_lines {
        Some(tail) => lines.len().saturating_sub(usize::try_from(tail).unwrap_or(usize::MAX)),
        None => 0,
    };
    let mut body = Vec::new();
    for line in &lines[start..] {
        if options.since.is_some_and(|since| line.time < since) {
            continue;
        }
        if options.timestamps {
            body.extend_from_slice(kubelet_time(line.time, offset).as_bytes());
            body.push(b' ');
        }
        body.extend_from_slice(&line.bytes);
        body.push(b'\n');
        if options.limit_bytes.is_some_and(|limit| body.len() as u64 >= limit) {
            break;
        }
    }
    if let Some(limit) = options.limit_bytes {
        body.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn kubelet_time_has_nine_digits_and_keeps_the_node_offset() {
        let time = at("2025-02-09T10:05:23.5Z");
        assert_eq!(kubelet_time(time, None), "2025-02-09T10:05:23.500000000Z");
        assert_eq!(kubelet_time(time, Some(Offset::constant(2))), "2025-02-09T12:05:23.500000000+02:00");
    }

    #[test]
    fn tail_then_since_then_limit() {
        let lines: Vec<LogLine> = (0..5)
            .map(|index| {
                LogLine::new(at("2025-02-09T10:00:00Z") + jiff::SignedDuration::from_secs(index), format!("l{index}"))
            })
            .collect();
        let options =
            LogOptions { tail_lines: Some(3), since: Some(at("2025-02-09T10:00:01Z")), ..LogOptions::default() };
        assert_eq!(render(&lines, &options, None), b"l2\nl3\nl4\n");
        let options = LogOptions { timestamps: true, limit_bytes: Some(35), ..LogOptions::default() };
        assert_eq!(render(&lines, &options, None), b"2025-02-09T10:00:00.000000000Z l0\n2");
    }
}
