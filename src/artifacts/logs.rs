//! Log files as line streams: `kubectl logs --timestamps` with or without `--prefix`
//! (`[pod/NAME/CONTAINER] ` before the kubelet time), and plain application logs. Lines
//! are handed out one at a time from a reused buffer; nothing is held.

use std::io::{self, BufRead, BufReader, Read};

use crate::normalize::redact::{Counts, Redactor, StreamState};
use crate::normalize::time::{TimeContext, kubelet_time};
use crate::record::Instant;
use crate::timeline::digest::MessageReader;
use crate::timeline::templates::{self, Miner};

/// kubectl's `--prefix` before a line, `[pod/NAME/CONTAINER] `, read once here for every
/// reader of log files (file detection, the draft's streams) and written by its `Display`
/// for the collector's log chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamPrefix<'a> {
    /// `pod`, as kubectl writes it. NB: any three-part prefix is split off the line, but only
    /// a `pod` one names a container.
    pub resource: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
}

impl StreamPrefix<'_> {
    /// Whether kubectl wrote it: the prefix names a pod's container.
    pub fn is_pod(&self) -> bool {
        self.resource == "pod"
    }
}

/// `[pod/NAME/CONTAINER] `, the space included: what [`split_prefix`] reads.
impl std::fmt::Display for StreamPrefix<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "[{}/{}/{}] ", self.resource, self.pod, self.container)
    }
}

/// Splits `[RESOURCE/NAME/CONTAINER] ` off the start of a line: the prefix and the rest.
/// The resource is a lower-case word and no part is empty or holds a space (Kubernetes names
/// cannot), so an application's own bracketed stamp (`[2025/02/09 10:05:23] …`) is text.
pub fn split_prefix(line: &str) -> Option<(StreamPrefix<'_>, &str)> {
    let inner = line.strip_prefix('[')?;
    let close = inner.find("] ")?;
    let mut parts = inner[..close].split('/');
    let (Some(resource), Some(pod), Some(container), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let name_like = |part: &str| !part.is_empty() && !part.contains(char::is_whitespace);
    if !resource.bytes().all(|byte| byte.is_ascii_lowercase()) || !name_like(pod) || !name_like(container) {
        return None;
    }
    Some((StreamPrefix { resource, pod, container }, &inner[close + 2..]))
}

/// One line of a log file, borrowed for the duration of the callback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogLine<'a> {
    /// kubectl's `--prefix`, when the line has one.
    pub stream: Option<StreamPrefix<'a>>,
    /// The kubelet (CRI) time, when the line has one.
    pub transport: Option<Instant>,
    /// The rest of the line, without the prefixes and the line end.
    pub text: &'a str,
    /// The whole line, without its line end.
    pub line: &'a str,
}

/// Splits kubectl's prefixes off a line.
pub fn parse_line(line: &str) -> LogLine<'_> {
    let (stream, rest) = match split_prefix(line) {
        Some((prefix, rest)) => (Some(prefix), rest),
        None => (None, line),
    };
    // The kubelet writes a space after its time, even before an empty line.
    match kubelet_time(rest.as_bytes()).and_then(|time| Some((time.instant, time.text_start?))) {
        Some((instant, text_start)) => LogLine { stream, transport: Some(instant), text: &rest[text_start..], line },
        None => LogLine { stream, transport: None, text: rest, line },
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

/// What the `templates` command mines of each line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateInput {
    /// The whole line as written, prefixes and times included.
    Raw,
    /// What a draft mines: kubectl's prefixes and the kubelet time stripped, the message of
    /// a JSON or logfmt line, the text after the line's own leading time
    /// ([`MessageReader`]).
    Message,
}

impl std::str::FromStr for TemplateInput {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "raw" => Ok(TemplateInput::Raw),
            "message" => Ok(TemplateInput::Message),
            _ => Err(format!("{text:?}: expected raw or message")),
        }
    }
}

/// Mines one template set over the lines of `readers`, in order (CRLF or LF; invalid UTF-8
/// replaced), and writes `LineId,EventTemplate` CSV, LineId 1-based across all readers.
///
/// NB: keeps one `u32` per line until the end, because a line's final template is only
/// known then.
pub fn write_templates<R: Read>(
    readers: impl IntoIterator<Item = R>,
    input: TemplateInput,
    writer: impl io::Write,
) -> io::Result<()> {
    let mut miner = Miner::new();
    let mut reader = MessageReader::new(TimeContext::default());
    let mut ids = Vec::new();
    // Templates keep words a line held: its secrets go first, as in a draft.
    let mut redact_state = StreamState::default();
    let mut redacted = Counts::new();
    for file in readers {
        read_lines(file, |line| {
            let mined = match input {
                TemplateInput::Raw => Redactor::builtin().text(&mut redact_state, line.line, &mut redacted),
                TemplateInput::Message => Redactor::builtin().text(&mut redact_state, line.text, &mut redacted),
            };
            let mined = match input {
                TemplateInput::Raw => &*mined,
                TemplateInput::Message => reader.message(line.transport, &mined),
            };
            ids.push(miner.add(mined) as u32);
        })?;
    }
    templates::write_csv(&miner, &ids, writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(line: &str, stream: Option<&str>, transport: Option<&str>, text: &str) {
        let parsed = parse_line(line);
        let prefix = parsed.stream.map(|prefix| format!("{}/{}/{}", prefix.resource, prefix.pod, prefix.container));
        assert_eq!(prefix.as_deref(), stream, "{line}");
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
        check("[deploy/api/nginx] x", Some("deploy/api/nginx"), None, "x");
        check("[pod/api/nginx/extra] x", None, None, "[pod/api/nginx/extra] x");
        check("[pod/api/nginx]x", None, None, "[pod/api/nginx]x");
        // An application's own bracketed date is text, not a kubectl prefix.
        check("[2025/02/09 10:05:23] ERROR upstream gone", None, None, "[2025/02/09 10:05:23] ERROR upstream gone");
        check("[pod//app] x", None, None, "[pod//app] x");
        check("2025-02-09T10:05:23.123456789Z ", None, Some("2025-02-09T10:05:23.123456789Z"), "");
    }

    #[test]
    fn prefixes_read_back_as_written() {
        let prefix = StreamPrefix { resource: "pod", pod: "api-1", container: "app" };
        let line = format!("{prefix}2025-02-09T10:05:23.123456789Z x");
        assert_eq!(split_prefix(&line), Some((prefix, "2025-02-09T10:05:23.123456789Z x")));
    }

    #[track_caller]
    fn check_templates(files: &[&[u8]], input: TemplateInput, expected: &str) {
        let mut output = Vec::new();
        write_templates(files.iter().copied(), input, &mut output).unwrap();
        assert_eq!(String::from_utf8(output).unwrap(), expected, "{input:?} {files:?}");
    }

    #[test]
    fn templates_mine_what_the_draft_mines() {
        use TemplateInput::{Message, Raw};
        let kubectl: &[u8] = b"[pod/api-1/app] 2025-02-09T10:05:23.123456789Z {\"level\":\"info\",\"msg\":\"cart loaded\",\"items\":2}\n\
            [pod/api-2/app] 2025-02-09T10:05:24.000000001Z {\"level\":\"info\",\"msg\":\"cart loaded\",\"items\":7}\n\
            2025-02-09T10:05:25.000000000Z level=warn msg=\"slow query\" took=2s\n\
            2025-02-09T10:05:26.000000000Z 2025-02-09 10:05:26,001 INFO order placed\n";
        check_templates(
            &[kubectl],
            Message,
            "LineId,EventTemplate\n1,cart loaded\n2,cart loaded\n3,slow query\n4,<*> <*> INFO order placed\n",
        );
        let plain: &[u8] =
            b"2025-02-09 10:05:23,123 INFO order placed id=7\r\n2025-02-09 10:05:24,001 INFO order placed id=8\n";
        check_templates(
            &[plain],
            Message,
            "LineId,EventTemplate\n1,INFO order placed id=<*>\n2,INFO order placed id=<*>\n",
        );
        check_templates(
            &[plain, b"\xff bad\n"],
            Raw,
            "LineId,EventTemplate\n1,<*> <*> INFO order placed id=<*>\n2,<*> <*> INFO order placed id=<*>\n3,\u{fffd} bad\n",
        );
        check_templates(&[], Raw, "LineId,EventTemplate\n");
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
