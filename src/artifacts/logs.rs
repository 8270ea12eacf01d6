//! Log files as line streams: `kubectl logs --timestamps` with or without `--prefix`
//! (`[pod/NAME/CONTAINER] ` before the kubelet time), and plain application logs. Lines
//! are handed out one at a time from a reused buffer; nothing is held.

use std::io::{self, BufRead, BufReader, Read};

use crate::normalize::time::kubelet_time;
use crate::record::Instant;

/// One line of a log file, borrowed for the duration of the callback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogLine<'a> {
    /// `pod/NAME/CONTAINER` from kubectl's `--prefix`.
    pub stream: Option<&'a str>,
    /// The kubelet (CRI) time, when the line has one.
    pub transport: Option<Instant>,
    /// The rest of the line, without the prefixes and the line end.
    pub text: &'a str,
}

/// Splits kubectl's prefixes off a line.
pub fn parse_line(line: &str) -> LogLine<'_> {
    let mut rest = line;
    let mut stream = None;
    if let Some(inner) = rest.strip_prefix('[')
        && let Some(close) = inner.find("] ")
        && inner[..close].split('/').count() == 3
    {
        stream = Some(&inner[..close]);
        rest = &inner[close + 2..];
    }
    // The kubelet writes a space after its time, even before an empty line.
    match kubelet_time(rest.as_bytes()).and_then(|time| Some((time.instant, time.text_start?))) {
        Some((instant, text_start)) => LogLine { stream, transport: Some(instant), text: &rest[text_start..] },
        None => LogLine { stream, transport: None, text: rest },
    }
}

/// Calls `each` for every line of `reader` (CRLF or LF; invalid UTF-8 replaced) and
/// returns the number of lines.
pub fn read_lines(reader: impl Read, mut each: impl FnMut(LogLine<'_>)) -> io::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut buffer = Vec::with_capacity(4096);
    let mut n_lines = 0;
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer)? == 0 {
            return Ok(n_lines);
        }
        n_lines += 1;
        let mut end = buffer.len();
        while end > 0 && matches!(buffer[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        match std::str::from_utf8(&buffer[..end]) {
            Ok(line) => each(parse_line(line)),
            Err(_) => each(parse_line(&String::from_utf8_lossy(&buffer[..end]))),
        }
    }
}

/// The first and last line times of a log text (kubelet times, else `embedded` ones), for
/// sizing a window before the file is read in full.
pub fn span_of(
    head: &str,
    tail: &str,
    mut embedded: impl FnMut(&str) -> Option<Instant>,
) -> Option<(Instant, Instant)> {
    let mut time_of = |line: &str| {
        let line = parse_line(line);
        line.transport.or_else(|| embedded(line.text))
    };
    let first = head.lines().find_map(&mut time_of)?;
    // The tail's first line may be cut in the middle: skip it unless it is the whole tail.
    let mut tail_lines: Vec<&str> = tail.lines().collect();
    if tail_lines.len() > 1 {
        tail_lines.remove(0);
    }
    let last = tail_lines.iter().rev().find_map(|line| time_of(line)).unwrap_or(first);
    Some((first, last.max(first)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(line: &str, stream: Option<&str>, transport: Option<&str>, text: &str) {
        let parsed = parse_line(line);
        assert_eq!(parsed.stream, stream, "{line}");
        assert_eq!(parsed.transport, transport.map(|time| time.parse().unwrap()), "{line}");
        assert_eq!(parsed.text, text, "{line}");
    }

    #[test]
    fn kubectl_prefixes() {
        check(
            "[pod/api-7d9f8b6c5-x2kqp/nginx] 2025-02-09T10:05:23.123456789Z GET / 200",
            Some("pod/api-7d9f8b6c5-x2kqp/nginx"),
            Some("2025-02-09T10:05:23.123456789Z"),
            "GET / 200",
        );
        check("2025-02-09T19:05:23.123456789+09:00 hello", None, Some("2025-02-09T10:05:23.123456789Z"), "hello");
        check("[not a prefix] hello", None, None, "[not a prefix] hello");
        check("plain line", None, None, "plain line");
        check("2025-02-09T10:05:23.123456789Z ", None, Some("2025-02-09T10:05:23.123456789Z"), "");
    }

    #[test]
    fn reads_crlf_and_invalid_utf8() {
        let input = b"2025-02-09T10:05:23.000000000Z a\r\n\xff\xfe b\nlast";
        let mut seen = Vec::new();
        let n_lines = read_lines(&input[..], |line| seen.push(line.text.to_owned())).unwrap();
        assert_eq!(n_lines, 3);
        assert_eq!(seen, vec!["a".to_owned(), "\u{fffd}\u{fffd} b".to_owned(), "last".to_owned()]);
    }
}
