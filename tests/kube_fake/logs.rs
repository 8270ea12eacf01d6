//! Container logs as the kubelet keeps and serves them.
//!
//! Lines are bytes (a container may write invalid UTF-8) with the runtime's receive time. A request
//! is answered the kubelet's way: `tailLines` picks the last lines of the file, then `sinceTime`
//! (already truncated to the second by the apiserver) or `sinceSeconds` drops older lines, then
//! `timestamps` prefixes each line with RFC 3339 and nine fraction digits, and `limitBytes` cuts the
//! output, prefix included, wherever it falls.

use std::sync::Arc;

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

/// Lines `step` apart from `start`, one per text: `lines_every(t, SignedDuration::from_millis(10), texts)`.
pub fn lines_every<T: Into<Vec<u8>>>(
    start: Timestamp,
    step: jiff::SignedDuration,
    texts: impl IntoIterator<Item = T>,
) -> Vec<LogLine> {
    let mut time = start;
    texts
        .into_iter()
        .map(|text| {
            let line = LogLine::new(time, text);
            time = time.checked_add(step).unwrap_or(time);
            line
        })
        .collect()
}

/// The current instance's lines and the last terminated instance's (`previous=true`), shared with the
/// streams reading them (an append while a stream runs copies on write).
#[derive(Clone, Debug, Default)]
pub struct ContainerLogs {
    pub current: Arc<Vec<LogLine>>,
    pub previous: Arc<Vec<LogLine>>,
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

/// Produces the body the kubelet would stream for these lines and options, a chunk at a time, so a
/// large log is never held whole and no lock is held while it is written out.
#[derive(Debug)]
pub struct Render {
    lines: Arc<Vec<LogLine>>,
    next: usize,
    options: LogOptions,
    offset: Option<Offset>,
    written: u64,
    done: bool,
    /// The last whole second stamped and its text up to the fraction: lines share seconds, and
    /// formatting each stamp from scratch is what a large log would spend its time on.
    stamp_second: Option<i64>,
    stamp_prefix: String,
    stamp_zone: String,
}

impl Render {
    pub fn new(lines: Arc<Vec<LogLine>>, options: LogOptions, offset: Option<Offset>) -> Render {
        let next = match options.tail_lines {
            Some(tail) => lines.len().saturating_sub(usize::try_from(tail).unwrap_or(usize::MAX)),
            None => 0,
        };
        let stamp_zone = match offset {
            Some(offset) => {
                let seconds = offset.seconds();
                let sign = if seconds < 0 { '-' } else { '+' };
                format!("{sign}{:02}:{:02}", seconds.abs() / 3600, seconds.abs() % 3600 / 60)
            }
            None => "Z".to_owned(),
        };
        Render {
            lines,
            next,
            options,
            offset,
            written: 0,
            done: false,
            stamp_second: None,
            stamp_prefix: String::new(),
            stamp_zone,
        }
    }

    /// Appends `kubelet_time(time, offset)` to `out`.
    fn stamp(&mut self, time: Timestamp, out: &mut Vec<u8>) {
        let nanos = time.subsec_nanosecond();
        let second = time.as_second() - i64::from(nanos < 0);
        let nanos = if nanos < 0 { nanos + 1_000_000_000 } else { nanos };
        if self.stamp_second != Some(second) {
            let local = Timestamp::from_second(second).unwrap_or(time);
            self.stamp_prefix = match self.offset {
                Some(offset) => {
                    local.to_zoned_datetime(TimeZone::fixed(offset)).strftime("%Y-%m-%dT%H:%M:%S").to_string()
                }
                None => local.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            };
            self.stamp_second = Some(second);
        }
        out.extend_from_slice(self.stamp_prefix.as_bytes());
        out.extend_from_slice(format!(".{nanos:09}").as_bytes());
        out.extend_from_slice(self.stamp_zone.as_bytes());
    }

    /// The next piece of the body, about `max_bytes` long (whole lines, except where `limitBytes` cuts).
    pub fn next_chunk(&mut self, max_bytes: usize) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut chunk = Vec::with_capacity(max_bytes.min(64 * 1024));
        let lines = Arc::clone(&self.lines);
        while chunk.len() < max_bytes && self.next < lines.len() {
            let line = &lines[self.next];
            self.next += 1;
            if self.options.since.is_some_and(|since| line.time < since) {
                continue;
            }
            if self.options.timestamps {
                self.stamp(line.time, &mut chunk);
                chunk.push(b' ');
            }
            chunk.extend_from_slice(&line.bytes);
            chunk.push(b'\n');
        }
        if self.next >= self.lines.len() {
            self.done = true;
        }
        if let Some(limit) = self.options.limit_bytes {
            let remaining = limit.saturating_sub(self.written);
            if chunk.len() as u64 >= remaining {
                chunk.truncate(usize::try_from(remaining).unwrap_or(usize::MAX));
                self.done = true;
            }
        }
        self.written += chunk.len() as u64;
        if chunk.is_empty() { None } else { Some(chunk) }
    }
}

/// The whole body at once.
pub fn render(lines: &[LogLine], options: &LogOptions, offset: Option<Offset>) -> Vec<u8> {
    let mut render = Render::new(Arc::new(lines.to_vec()), options.clone(), offset);
    let mut body = Vec::new();
    while let Some(chunk) = render.next_chunk(100) {
        body.extend_from_slice(&chunk);
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

    #[test]
    fn lines_every_spaces_lines_by_step() {
        let lines = lines_every(at("2025-02-09T10:00:00Z"), jiff::SignedDuration::from_millis(250), ["a", "b", "c"]);
        let times: Vec<String> = lines.iter().map(|line| kubelet_time(line.time, None)).collect();
        assert_eq!(
            times,
            ["2025-02-09T10:00:00.000000000Z", "2025-02-09T10:00:00.250000000Z", "2025-02-09T10:00:00.500000000Z"]
        );
        assert_eq!(lines[2].bytes, b"c");
    }

    #[test]
    fn cached_stamps_equal_formatted_ones() {
        let times = [
            "2025-02-09T10:00:00.999999999Z",
            "2025-02-09T10:00:01Z",
            "2025-02-09T10:00:01.000000001Z",
            "2025-12-31T23:59:59.5Z",
            "2026-01-01T00:00:00.25Z",
        ];
        let lines: Vec<LogLine> = times.iter().map(|time| LogLine::new(at(time), "x")).collect();
        for offset in [None, Some(Offset::constant(2)), Some(Offset::from_seconds(-(3 * 3600 + 1800)).unwrap())] {
            let expected: String =
                lines.iter().map(|line| format!("{} x\n", kubelet_time(line.time, offset))).collect();
            let options = LogOptions { timestamps: true, ..LogOptions::default() };
            assert_eq!(String::from_utf8(render(&lines, &options, offset)).unwrap(), expected);
        }
    }

    #[test]
    fn chunks_of_any_size_make_the_same_body() {
        let lines: Arc<Vec<LogLine>> = Arc::new(
            (0..50)
                .map(|index| {
                    LogLine::new(
                        at("2025-02-09T10:00:00Z") + jiff::SignedDuration::from_millis(index * 90),
                        format!("line {index}"),
                    )
                })
                .collect(),
        );
        for limit_bytes in [None, Some(1), Some(333), Some(10_000)] {
            let options = LogOptions {
                timestamps: true,
                since: Some(at("2025-02-09T10:00:01Z")),
                limit_bytes,
                ..LogOptions::default()
            };
            let whole = Render::new(lines.clone(), options.clone(), None).next_chunk(usize::MAX).unwrap_or_default();
            assert_eq!(whole.len(), limit_bytes.map_or(38 * 39, |limit| limit.min(38 * 39) as usize));
            for max_bytes in [1, 7, 64, 1_000] {
                let mut render = Render::new(lines.clone(), options.clone(), None);
                let mut body = Vec::new();
                while let Some(chunk) = render.next_chunk(max_bytes) {
                    body.extend_from_slice(&chunk);
                }
                assert_eq!(body, whole, "{max_bytes} bytes a chunk, limit {limit_bytes:?}");
            }
        }
    }
}
