//! The timestamp finder: where in a log line its embedded time is, in which format, and
//! what instant it denotes; plus the kubelet (CRI) time before each line of
//! `kubectl logs --timestamps` ([`kubelet_time`]).
//!
//! Everything here is hand-written byte scanning: it runs on every line of
//! multi-million-line inputs, so there is no regex and no allocation on the hot path.
//! It reads text and returns data; choosing which clock to trust is left to `timeline`.

use std::ops::Range;

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::bytes::string_end;
use crate::record::Instant;

/// What the finder needs to know beyond the line itself.
#[derive(Clone, Debug)]
pub struct TimeContext {
    /// Zone for zone-less times (default UTC); such times are flagged `assumed_zone`.
    pub zone: TimeZone,
    /// The incident window: year-less formats (syslog, logcat, klog) take the year that
    /// puts them inside it, or nearest to it. Without a window they take the year that puts
    /// them in the past year: a log line is not written in the future.
    pub window: Option<(Instant, Instant)>,
}

impl Default for TimeContext {
    fn default() -> Self {
        TimeContext { zone: TimeZone::UTC, window: None }
    }
}

/// The formats the finder knows, by the name `inspect-times` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `2025-02-09T10:05:23.123Z`: RFC 3339 / ISO 8601 with a `T`, zone optional.
    Rfc3339,
    /// `2025-02-09 10:05:23,123`: ISO 8601 with a space (Java, Python, Windows CBS).
    Iso8601,
    /// `2025/02/09 10:05:23.000000`: Go's `log` package (and nginx's error log).
    Go,
    /// `25/02/09 10:05:23`: two-digit year with slashes (log4j `yy/MM/dd`, Spark).
    ShortYear,
    /// `250209 100523`: two-digit year, no separators, at the line start (HDFS).
    Compact,
    /// `02-09 10:05:23.123`: Android logcat, year-less.
    Logcat,
    /// `I0209 10:05:23.123456`: Kubernetes klog header, year-less.
    Klog,
    /// `[09/Feb/2025:10:05:23 +0900]`: Common Log Format.
    Clf,
    /// `Feb  9 10:05:23`: BSD syslog, year-less.
    Syslog,
    /// `Sun Feb 09 10:05:23 2025`: C `ctime`, Apache error log.
    Ctime,
    /// `Sun, 09 Feb 2025 10:05:23 +0000`: RFC 2822 / HTTP dates (weekday optional).
    Rfc2822,
    /// Epoch seconds (integer or fraction) in a JSON or logfmt time field.
    EpochSeconds,
    /// Epoch milliseconds in a JSON or logfmt time field.
    EpochMillis,
    /// Epoch microseconds in a JSON or logfmt time field.
    EpochMicros,
    /// Epoch nanoseconds in a JSON or logfmt time field.
    EpochNanos,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Rfc3339 => "rfc3339",
            Format::Iso8601 => "iso8601",
            Format::Go => "go",
            Format::ShortYear => "yy/mm/dd",
            Format::Compact => "yymmdd",
            Format::Logcat => "logcat",
            Format::Klog => "klog",
            Format::Clf => "clf",
            Format::Syslog => "syslog",
            Format::Ctime => "ctime",
            Format::Rfc2822 => "rfc2822",
            Format::EpochSeconds => "epoch_s",
            Format::EpochMillis => "epoch_ms",
            Format::EpochMicros => "epoch_us",
            Format::EpochNanos => "epoch_ns",
        }
    }

    /// Whether the format carries no year, so that the year came from the window.
    pub fn is_year_less(self) -> bool {
        matches!(self, Format::Logcat | Format::Klog | Format::Syslog)
    }
}

/// One embedded timestamp found in a line.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub instant: Instant,
    /// Byte range of the timestamp text in the line.
    pub span: Range<usize>,
    pub format: Format,
    /// The text had no zone and was read in [`TimeContext::zone`].
    pub assumed_zone: bool,
    /// The text had no year; it was taken from [`TimeContext::window`] (or now).
    pub assumed_year: bool,
}

/// Finds embedded timestamps, remembering which format the previous line used so that
/// the common case (every line of a stream alike) is one parse attempt.
#[derive(Clone, Debug)]
pub struct Finder {
    context: TimeContext,
    /// The zone's offset when it has only one, so zone-less times need no tz lookup.
    fixed_offset_seconds: Option<i32>,
    /// The window in Unix seconds; `(now, now)` without one.
    window_seconds: (i64, i64),
    /// UTC years of the window's start and end.
    window_years: (i32, i32),
    /// The window is shorter than a year, so at most one year puts a date inside it.
    window_short: bool,
    /// Format and byte offset of the previous line's timestamp.
    last: Option<(Format, usize)>,
    /// The year the previous year-less timestamp took.
    last_year: Option<i32>,
    /// The bytes before the previous line's timestamp when it was not at the start and
    /// nothing before it parsed (a `[pod/…]` or file-name prefix); at most
    /// [`MAX_REMEMBERED_PREFIX`] bytes.
    last_prefix: Vec<u8>,
}

/// Longest line prefix remembered as holding no timestamp.
const MAX_REMEMBERED_PREFIX: usize = 128;

impl Finder {
    pub fn new(context: TimeContext) -> Self {
        let fixed_offset_seconds = context.zone.to_fixed_offset().ok().map(Offset::seconds);
        let (start, end) = match context.window {
            Some((start, end)) if start <= end => (start, end),
            Some((start, end)) => (end, start),
            None => {
                // Logs are not written in the future: the year that puts the time within the
                // past year (a day's slack for clocks ahead).
                let now = Instant::now();
                let day = jiff::SignedDuration::from_hours(24);
                (now.checked_sub(day * 364).unwrap_or(now), now.checked_add(day).unwrap_or(now))
            }
        };
        let window_seconds = (start.as_second(), end.as_second());
        let window_years = (civil_from_unix(window_seconds.0).0, civil_from_unix(window_seconds.1).0);
        Finder {
            context,
            fixed_offset_seconds,
            window_seconds,
            window_years,
            window_short: window_seconds.1 - window_seconds.0 < 365 * SECONDS_PER_DAY,
            last: None,
            last_year: None,
            last_prefix: Vec::new(),
        }
    }

    pub fn context(&self) -> &TimeContext {
        &self.context
    }

    /// The first embedded timestamp of `line`, if any.
    pub fn find(&mut self, line: &str) -> Option<Found> {
        let bytes = line.as_bytes();
        // JSON lines name their time field; the first bytes decide (after indentation).
        let first = bytes.iter().position(|byte| !byte.is_ascii_whitespace())?;
        if bytes[first] == b'{'
            && let Some(found) = self.find_json(bytes, first)
        {
            return Some(found);
        }
        if let Some((format, position)) = self.last {
            // A cached hit further in is only the first timestamp if nothing before it is;
            // a prefix equal to the last line's is known to hold none.
            let prefix_known =
                position > 0 && bytes.len() > position && self.last_prefix.as_slice() == &bytes[..position];
            if position > 0
                && !prefix_known
                && let Some(found) = self.scan(bytes, 0, position.min(bytes.len()))
            {
                return Some(found);
            }
            if position < bytes.len()
                && is_candidate_start(bytes, position)
                && let Some(parsed) = parse_format(format, bytes, position)
                && let Some(found) = self.resolve(&parsed, position)
            {
                if position > 0 && !prefix_known && position <= MAX_REMEMBERED_PREFIX {
                    self.last_prefix.clear();
                    self.last_prefix.extend_from_slice(&bytes[..position]);
                }
                return Some(found);
            }
            return self.scan(bytes, position.min(bytes.len()), bytes.len());
        }
        self.scan(bytes, 0, bytes.len())
    }

    /// The first timestamp starting in `from..to`.
    ///
    /// Every text format has its `hh:mm:ss` within [`MAX_LEAD`] bytes of its start, and an
    /// epoch without a date needs a `key=`, so instead of trying every byte the scan jumps
    /// between `:`…`:` pairs and `=` signs and tries only the bytes just before a pair.
    /// Lines without a time (stack traces, continuations) then cost about one `memchr`.
    fn scan(&mut self, bytes: &[u8], from: usize, to: usize) -> Option<Found> {
        if from >= to {
            return None;
        }
        // `YYMMDD hhmmss` has no colon; it is only read at the line start.
        if from == 0
            && digit_run(bytes, 0, 7) == 6
            && let Some(found) = self.try_digit_start(bytes, 0)
        {
            return Some(found);
        }
        let mut unscanned = from;
        let limit = bytes.len().min(to.saturating_add(MAX_LEAD));
        let mut position = from;
        while let Some(offset) = memchr::memchr2(b':', b'=', &bytes[position..limit]) {
            let hit = position + offset;
            position = hit + 1;
            if bytes[hit] == b'=' {
                let mut value = hit + 1;
                if bytes.get(value) == Some(&b'"') {
                    value += 1;
                }
                if value < to
                    && bytes.get(value).is_some_and(u8::is_ascii_digit)
                    && logfmt_time_key_before(bytes, value)
                    && let Some(found) = self.try_digit_start(bytes, value)
                {
                    return Some(found);
                }
            } else if bytes.get(hit + 3) == Some(&b':') {
                let region_start = unscanned.max(hit.saturating_sub(MAX_LEAD));
                let region_end = hit.min(to);
                if region_start < region_end {
                    if let Some(found) = self.scan_every_byte(bytes, region_start, region_end) {
                        return Some(found);
                    }
                    unscanned = region_end;
                }
                if hit >= to {
                    break;
                }
            }
        }
        None
    }

    /// Tries every candidate start in `from..to` in order; the first that parses wins.
    fn scan_every_byte(&mut self, bytes: &[u8], from: usize, to: usize) -> Option<Found> {
        let mut position = from;
        while position < to {
            let class = CLASS[bytes[position] as usize];
            if class != 0 && is_candidate_start(bytes, position) {
                let found = if class == DIGIT {
                    self.try_digit_start(bytes, position)
                } else {
                    self.try_letter_start(bytes, position)
                };
                if found.is_some() {
                    return found;
                }
            }
            position += 1;
        }
        None
    }

    fn try_digit_start(&mut self, bytes: &[u8], start: usize) -> Option<Found> {
        let run = digit_run(bytes, start, 21);
        let next = bytes.get(start + run).copied();
        let parsed = match (run, next) {
            (4, Some(b'-')) => parse_iso(bytes, start),
            (4, Some(b'/')) => parse_go(bytes, start),
            (2, Some(b'/')) => match bytes.get(start + 3) {
                Some(byte) if byte.is_ascii_digit() => parse_short_year(bytes, start),
                _ => parse_clf(bytes, start),
            },
            (2, Some(b'-')) => parse_logcat(bytes, start),
            (1 | 2, Some(b' ')) => parse_day_month_year(bytes, start),
            (6, Some(b' ')) if start == 0 => parse_compact(bytes, start),
            _ => None,
        };
        if let Some(parsed) = parsed
            && let Some(found) = self.resolve(&parsed, start)
        {
            return Some(found);
        }
        // Bare numbers are epochs only as the value of a logfmt time key.
        if logfmt_time_key_before(bytes, start) {
            let end = number_end(bytes, start);
            let (instant, format) = parse_epoch(&bytes[start..end])?;
            self.last = None;
            return Some(Found { instant, span: start..end, format, assumed_zone: false, assumed_year: false });
        }
        None
    }

    fn try_letter_start(&mut self, bytes: &[u8], start: usize) -> Option<Found> {
        let parsed = if matches!(bytes[start], b'I' | b'W' | b'E' | b'F') && digit_run(bytes, start + 1, 5) == 4 {
            parse_klog(bytes, start)
        } else if month_at(bytes, start).is_some() {
            parse_syslog(bytes, start)
        } else if is_weekday_at(bytes, start) {
            match bytes.get(start + 3) {
                Some(b' ') => parse_ctime(bytes, start),
                Some(b',') => {
                    let day = skip_spaces(bytes, start + 4);
                    parse_day_month_year(bytes, day)
                }
                _ => None,
            }
        } else {
            None
        }?;
        self.resolve(&parsed, start)
    }

    /// Looks for a top-level time key of the JSON object opening at `open`.
    fn find_json(&mut self, bytes: &[u8], open: usize) -> Option<Found> {
        let mut position = open + 1;
        let mut depth = 1usize;
        let mut expect_key = true;
        while position < bytes.len() {
            match bytes[position] {
                b'"' => {
                    let close = string_end(bytes, position + 1)?;
                    if depth == 1 && expect_key {
                        let colon = skip_whitespace(bytes, close + 1);
                        if bytes.get(colon) == Some(&b':') {
                            expect_key = false;
                            let value = skip_whitespace(bytes, colon + 1);
                            if is_time_key(&bytes[position + 1..close])
                                && let Some(found) = self.json_value(bytes, value)
                            {
                                return Some(found);
                            }
                            position = value;
                            continue;
                        }
                    }
                    position = close + 1;
                }
                b'{' | b'[' => {
                    depth += 1;
                    position += 1;
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return None;
                    }
                    position += 1;
                }
                b',' => {
                    if depth == 1 {
                        expect_key = true;
                    }
                    position += 1;
                }
                _ => position += 1,
            }
        }
        None
    }

    /// Reads the value of a JSON time field: a string in any text format, or an epoch.
    fn json_value(&mut self, bytes: &[u8], start: usize) -> Option<Found> {
        match *bytes.get(start)? {
            b'"' => {
                let close = string_end(bytes, start + 1)?;
                let content = start + 1..close;
                if is_plain_number(&bytes[content.clone()]) {
                    // OpenTelemetry's JSON encodes 64-bit nanoseconds as strings.
                    let (instant, format) = parse_epoch(&bytes[content.clone()])?;
                    return Some(Found { instant, span: content, format, assumed_zone: false, assumed_year: false });
                }
                // Cut the line at the closing quote so no parser reads past the string.
                let saved = self.last.take();
                let found = self.scan(&bytes[..close], content.start, close);
                self.last = saved;
                found
            }
            byte if byte.is_ascii_digit() => {
                let end = number_end(bytes, start);
                let (instant, format) = parse_epoch(&bytes[start..end])?;
                Some(Found { instant, span: start..end, format, assumed_zone: false, assumed_year: false })
            }
            _ => None,
        }
    }

    /// Turns parsed fields into an instant, or `None` for an impossible date.
    fn resolve(&mut self, parsed: &Parsed, start: usize) -> Option<Found> {
        let civil = &parsed.civil;
        if !(1..=12).contains(&civil.month)
            || civil.day == 0
            || civil.hour > 23
            || civil.minute > 59
            || civil.second > 60
        {
            return None;
        }
        let instant = match civil.year {
            Some(year) => {
                if civil.day > days_in_month(year, civil.month) {
                    return None;
                }
                self.instant_in_year(civil, year)?
            }
            None => {
                if civil.day > days_in_month(2000, civil.month) {
                    return None;
                }
                self.instant_for_year_less(civil)?
            }
        };
        self.last = Some((parsed.format, start));
        Some(Found {
            instant,
            span: start..parsed.end,
            format: parsed.format,
            assumed_zone: civil.offset_seconds.is_none(),
            assumed_year: civil.year.is_none(),
        })
    }

    /// The instant of `civil` in `year`; `None` when the day does not exist in that year.
    fn instant_in_year(&self, civil: &Civil, year: i32) -> Option<Instant> {
        if civil.day > days_in_month(year, civil.month) {
            return None;
        }
        // NB: a leap second (:60) is read as :59, as jiff does.
        let second = civil.second.min(59);
        let offset = civil.offset_seconds.or(self.fixed_offset_seconds);
        match offset {
            Some(offset) => {
                let local = days_from_civil(year, civil.month, civil.day) * SECONDS_PER_DAY
                    + i64::from(civil.hour) * 3600
                    + i64::from(civil.minute) * 60
                    + i64::from(second);
                Instant::new(local - i64::from(offset), civil.nanosecond as i32).ok()
            }
            None => {
                let datetime = DateTime::new(
                    i16::try_from(year).ok()?,
                    civil.month as i8,
                    civil.day as i8,
                    civil.hour as i8,
                    civil.minute as i8,
                    second as i8,
                    civil.nanosecond as i32,
                )
                .ok()?;
                self.context.zone.to_timestamp(datetime).ok()
            }
        }
    }

    /// Picks the year that puts a year-less time inside (or nearest to) the window; among
    /// several inside a long window, the one nearest its end.
    fn instant_for_year_less(&mut self, civil: &Civil) -> Option<Instant> {
        let (start, end) = self.window_seconds;
        if self.window_short
            && let Some(year) = self.last_year
            && let Some(instant) = self.instant_in_year(civil, year)
            && (start..=end).contains(&instant.as_second())
        {
            return Some(instant);
        }
        let (start_year, end_year) = self.window_years;
        let lowest = (start_year - 1).max(end_year - 4);
        let mut best: Option<(i64, i32, Instant)> = None;
        for year in (lowest..=end_year + 1).rev() {
            let Some(instant) = self.instant_in_year(civil, year) else {
                continue;
            };
            let second = instant.as_second();
            let distance = if second < start { start - second } else { (second - end).max(0) };
            if best.is_none_or(|(best_distance, _, _)| distance < best_distance) {
                best = Some((distance, year, instant));
            }
        }
        let (_, year, instant) = best?;
        self.last_year = Some(year);
        Some(instant)
    }
}

/// The kubelet (CRI) time `kubectl logs --timestamps` writes before every line, as
/// [`kubelet_time`] read it. How strictly it matches the kubelet's own form is data, so that
/// each caller keeps its own rule: the collector takes any zoned RFC 3339 time, a reader
/// of log files wants the space after it, and telling a kubelet's time from an application's
/// own leading one takes [`nine_digits`](Self::nine_digits) or [`exact`](Self::exact).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KubeletTime {
    pub instant: Instant,
    /// Where the line's own text starts: after the time and one space. `None` when the
    /// time ends the line.
    pub text_start: Option<usize>,
    /// A `.` and exactly nine fraction digits, which the kubelet always writes: an
    /// application's own leading RFC 3339 time (three or six digits) has not.
    pub nine_digits: bool,
    /// Nine digits and the rest of the kubelet's form too: `T`, and `Z` or `±hh:mm`
    /// (Go's `2006-01-02T15:04:05.000000000Z07:00`), never `t`, `z` or `±hhmm`.
    pub exact: bool,
}

/// Reads the RFC 3339 time at the start of a `kubectl logs --timestamps` line: `T` or `t`,
/// any fraction, a zone (`Z`, `z`, `±hh:mm`, `±hhmm`, `±hh`), then a space or the line's
/// end. The one recogniser of kubelet times: file detection, log streams, the collector's
/// cursors and `inspect-times` all read them here, so they agree on every line.
pub fn kubelet_time(line: &[u8]) -> Option<KubeletTime> {
    let parsed = parse_iso(line, 0)?;
    let text_start = match line.get(parsed.end) {
        None => None,
        Some(b' ') => Some(parsed.end + 1),
        Some(_) => return None,
    };
    if !matches!(line[10], b'T' | b't') {
        return None;
    }
    let instant = instant_with_offset(&parsed.civil)?;
    // NB: on every line of every log: fixed positions, no scan (`parse_iso` checked the digits
    // before the fraction and that the fraction ends where the zone starts).
    let nine_digits = parsed.end >= 30
        && line[19] == b'.'
        && line[20..29].iter().all(u8::is_ascii_digit)
        && !line[29].is_ascii_digit();
    let exact =
        nine_digits && line[10] == b'T' && matches!(&line[29..parsed.end], [b'Z'] | [b'+' | b'-', _, _, b':', _, _]);
    Some(KubeletTime { instant, text_start, nine_digits, exact })
}

/// Parses a whole RFC 3339 timestamp (`T`, `t` or space; 0-9 fraction digits; `Z`, `z`,
/// `±hh:mm` or `±hhmm`); `None` for anything else, including a missing zone.
///
/// jiff's `Timestamp` parser accepts all of RFC 3339 too (see the tests); this exists for
/// speed and so callers share the finder's notion of what a timestamp is.
pub fn parse_rfc3339(text: &str) -> Option<Instant> {
    let bytes = text.as_bytes();
    let parsed = parse_iso(bytes, 0)?;
    if parsed.end != bytes.len() {
        return None;
    }
    instant_with_offset(&parsed.civil)
}

/// Reads `START/END` (two RFC 3339 timestamps) as an incident window.
pub fn parse_window(text: &str) -> Option<(Instant, Instant)> {
    let (start, end) = text.split_once('/')?;
    let start = parse_rfc3339(start.trim())?;
    let end = parse_rfc3339(end.trim())?;
    (start <= end).then_some((start, end))
}

/// Reads a zone given as `UTC`, `Z`, a numeric offset (`+09:00`, `-0500`, `+9`) or an
/// IANA name (`Asia/Tokyo`, from the system's tz database).
pub fn parse_zone(text: &str) -> Option<TimeZone> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("utc") || text.eq_ignore_ascii_case("z") {
        return Some(TimeZone::UTC);
    }
    if let Some(sign) = text.chars().next().filter(|sign| *sign == '+' || *sign == '-') {
        let digits = &text[1..];
        let (hours, minutes) = match digits.split_once(':') {
            Some((hours, minutes)) => (hours, minutes),
            None if digits.len() == 4 => digits.split_at(2),
            None => (digits, "0"),
        };
        if hours.is_empty() || !hours.bytes().chain(minutes.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hours: i32 = hours.parse().ok()?;
        let minutes: i32 = minutes.parse().ok()?;
        if hours > 25 || minutes > 59 {
            return None;
        }
        let seconds = (hours * 3600 + minutes * 60) * if sign == '-' { -1 } else { 1 };
        return Some(TimeZone::fixed(Offset::from_seconds(seconds).ok()?));
    }
    TimeZone::get(text).ok()
}

/// RFC 3339 in UTC ending in `Z`, with milliseconds, or micro/nanoseconds when they are
/// not zero: `2025-02-09T10:05:23.120Z`.
pub fn format_rfc3339_utc(instant: Instant) -> String {
    let mut text = Vec::with_capacity(30);
    write_rfc3339_utc(&mut text, instant).expect("writing to a Vec cannot fail");
    String::from_utf8(text).expect("RFC 3339 text is ASCII")
}

/// [`format_rfc3339_utc`] into a writer, without allocating.
pub fn write_rfc3339_utc(output: &mut impl std::io::Write, instant: Instant) -> std::io::Result<()> {
    let mut second = instant.as_second();
    let mut nanosecond = instant.subsec_nanosecond();
    if nanosecond < 0 {
        second -= 1;
        nanosecond += 1_000_000_000;
    }
    let (year, month, day) = civil_from_unix(second);
    let in_day = second.rem_euclid(SECONDS_PER_DAY);
    write!(output, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", in_day / 3600, in_day / 60 % 60, in_day % 60)?;
    if nanosecond % 1_000_000 == 0 {
        write!(output, ".{:03}Z", nanosecond / 1_000_000)
    } else if nanosecond % 1_000 == 0 {
        write!(output, ".{:06}Z", nanosecond / 1_000)
    } else {
        write!(output, ".{nanosecond:09}Z")
    }
}

const SECONDS_PER_DAY: i64 = 86_400;

/// Date and time fields as written; `year` is `None` for year-less formats and
/// `offset_seconds` is `None` when the text names no zone.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Civil {
    year: Option<i32>,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanosecond: u32,
    offset_seconds: Option<i32>,
}

/// A format that matched at some start: its fields and the end of its text.
#[derive(Clone, Copy, Debug)]
struct Parsed {
    civil: Civil,
    format: Format,
    end: usize,
}

/// Re-parses a cached format at a known start.
fn parse_format(format: Format, bytes: &[u8], start: usize) -> Option<Parsed> {
    match format {
        Format::Rfc3339 | Format::Iso8601 => parse_iso(bytes, start),
        Format::Go => parse_go(bytes, start),
        Format::ShortYear => parse_short_year(bytes, start),
        Format::Compact if start == 0 => parse_compact(bytes, start),
        Format::Logcat => parse_logcat(bytes, start),
        Format::Klog => parse_klog(bytes, start),
        Format::Clf => parse_clf(bytes, start),
        Format::Syslog => parse_syslog(bytes, start),
        Format::Ctime => parse_ctime(bytes, start),
        Format::Rfc2822 => match bytes.get(start) {
            Some(byte) if byte.is_ascii_digit() => parse_day_month_year(bytes, start),
            _ => parse_day_month_year(bytes, skip_spaces(bytes, start + 4)),
        },
        _ => None,
    }
}

/// `YYYY-MM-DD[T ]hh:mm:ss[.,fraction][zone]`.
///
/// The most common format and the kubelet prefix's, so its fixed part is read from
/// one 19-byte slice: one bounds check instead of one per field.
fn parse_iso(bytes: &[u8], start: usize) -> Option<Parsed> {
    let head: &[u8; 19] = bytes.get(start..start + 19)?.try_into().ok()?;
    if head[4] != b'-' || head[7] != b'-' || head[13] != b':' || head[16] != b':' {
        return None;
    }
    let format = match head[10] {
        b'T' | b't' => Format::Rfc3339,
        b' ' => Format::Iso8601,
        _ => return None,
    };
    let digit = |index: usize| u32::from(head[index].wrapping_sub(b'0'));
    const DIGITS: [usize; 14] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    if DIGITS.iter().any(|index| digit(*index) > 9) {
        return None;
    }
    let pair = |index: usize| (digit(index) * 10 + digit(index + 1)) as u8;
    let (nanosecond, end) = parse_fraction(bytes, start + 19)?;
    let (offset_seconds, end) = parse_zone_suffix(bytes, end, true);
    let civil = Civil {
        year: Some((digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3)) as i32),
        month: pair(5),
        day: pair(8),
        hour: pair(11),
        minute: pair(14),
        second: pair(17),
        nanosecond,
        offset_seconds,
    };
    Some(Parsed { civil, format, end })
}

/// `YYYY/MM/DD hh:mm:ss[.fraction]`.
fn parse_go(bytes: &[u8], start: usize) -> Option<Parsed> {
    let year = digits(bytes, start, 4)?;
    expect(bytes, start + 4, b'/')?;
    let month = digits(bytes, start + 5, 2)?;
    expect(bytes, start + 7, b'/')?;
    let day = digits(bytes, start + 8, 2)?;
    expect(bytes, start + 10, b' ')?;
    let (mut civil, end) = parse_clock(bytes, start + 11)?;
    let (offset, end) = parse_zone_suffix(bytes, end, true);
    civil.year = Some(year as i32);
    civil.month = month as u8;
    civil.day = day as u8;
    civil.offset_seconds = offset;
    Some(Parsed { civil, format: Format::Go, end })
}

/// `YY/MM/DD hh:mm:ss[.fraction]`.
fn parse_short_year(bytes: &[u8], start: usize) -> Option<Parsed> {
    let year = digits(bytes, start, 2)?;
    expect(bytes, start + 2, b'/')?;
    let month = digits(bytes, start + 3, 2)?;
    expect(bytes, start + 5, b'/')?;
    let day = digits(bytes, start + 6, 2)?;
    expect(bytes, start + 8, b' ')?;
    let (mut civil, end) = parse_clock(bytes, start + 9)?;
    civil.year = Some(two_digit_year(year));
    civil.month = month as u8;
    civil.day = day as u8;
    Some(Parsed { civil, format: Format::ShortYear, end })
}

/// `YYMMDD hhmmss`, only at the line start: elsewhere two six-digit numbers are too
/// likely to be something else.
fn parse_compact(bytes: &[u8], start: usize) -> Option<Parsed> {
    let year = digits(bytes, start, 2)?;
    let month = digits(bytes, start + 2, 2)?;
    let day = digits(bytes, start + 4, 2)?;
    expect(bytes, start + 6, b' ')?;
    let hour = digits(bytes, start + 7, 2)?;
    let minute = digits(bytes, start + 9, 2)?;
    let second = digits(bytes, start + 11, 2)?;
    let end = start + 13;
    if bytes.get(end).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let civil = Civil {
        year: Some(two_digit_year(year)),
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        ..Civil::default()
    };
    Some(Parsed { civil, format: Format::Compact, end })
}

/// `MM-DD hh:mm:ss[.fraction]`.
fn parse_logcat(bytes: &[u8], start: usize) -> Option<Parsed> {
    let month = digits(bytes, start, 2)?;
    expect(bytes, start + 2, b'-')?;
    let day = digits(bytes, start + 3, 2)?;
    expect(bytes, start + 5, b' ')?;
    let (mut civil, end) = parse_clock(bytes, start + 6)?;
    civil.month = month as u8;
    civil.day = day as u8;
    Some(Parsed { civil, format: Format::Logcat, end })
}

/// `LMMDD hh:mm:ss.uuuuuu` followed by a space (the thread id follows).
fn parse_klog(bytes: &[u8], start: usize) -> Option<Parsed> {
    let month = digits(bytes, start + 1, 2)?;
    let day = digits(bytes, start + 3, 2)?;
    expect(bytes, start + 5, b' ')?;
    let (mut civil, end) = parse_clock(bytes, start + 6)?;
    expect(bytes, end, b' ')?;
    civil.month = month as u8;
    civil.day = day as u8;
    Some(Parsed { civil, format: Format::Klog, end })
}

/// `DD/Mon/YYYY:hh:mm:ss[ ±hhmm]`.
fn parse_clf(bytes: &[u8], start: usize) -> Option<Parsed> {
    let day = digits(bytes, start, 2)?;
    expect(bytes, start + 2, b'/')?;
    let month = month_at(bytes, start + 3)?;
    expect(bytes, start + 6, b'/')?;
    let year = digits(bytes, start + 7, 4)?;
    expect(bytes, start + 11, b':')?;
    let (mut civil, end) = parse_clock(bytes, start + 12)?;
    let (offset, end) = parse_zone_suffix(bytes, end, true);
    civil.year = Some(year as i32);
    civil.month = month;
    civil.day = day as u8;
    civil.offset_seconds = offset;
    Some(Parsed { civil, format: Format::Clf, end })
}

/// `Mon DD hh:mm:ss` or `Mon  D hh:mm:ss`.
fn parse_syslog(bytes: &[u8], start: usize) -> Option<Parsed> {
    let month = month_at(bytes, start)?;
    expect(bytes, start + 3, b' ')?;
    let (day, after_day) = padded_day(bytes, start + 4)?;
    expect(bytes, after_day, b' ')?;
    let (mut civil, end) = parse_clock(bytes, after_day + 1)?;
    civil.month = month;
    civil.day = day;
    Some(Parsed { civil, format: Format::Syslog, end })
}

/// `Www Mon DD hh:mm:ss[.fraction] YYYY`.
fn parse_ctime(bytes: &[u8], start: usize) -> Option<Parsed> {
    expect(bytes, start + 3, b' ')?;
    let month = month_at(bytes, start + 4)?;
    expect(bytes, start + 7, b' ')?;
    let (day, after_day) = padded_day(bytes, start + 8)?;
    expect(bytes, after_day, b' ')?;
    let (mut civil, end) = parse_clock(bytes, after_day + 1)?;
    expect(bytes, end, b' ')?;
    let year = digits(bytes, end + 1, 4)?;
    let end = end + 5;
    if bytes.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    civil.year = Some(year as i32);
    civil.month = month;
    civil.day = day;
    Some(Parsed { civil, format: Format::Ctime, end })
}

/// `D[D] Mon YYYY hh:mm:ss zone` starting at `day`; the caller's span starts earlier when
/// a weekday comes first.
fn parse_day_month_year(bytes: &[u8], day: usize) -> Option<Parsed> {
    let run = digit_run(bytes, day, 3);
    if !(1..=2).contains(&run) {
        return None;
    }
    let day_value = digits(bytes, day, run)?;
    expect(bytes, day + run, b' ')?;
    let month = month_at(bytes, day + run + 1)?;
    expect(bytes, day + run + 4, b' ')?;
    let year = digits(bytes, day + run + 5, 4)?;
    expect(bytes, day + run + 9, b' ')?;
    let (mut civil, end) = parse_clock(bytes, day + run + 10)?;
    let (offset, end) = parse_zone_suffix(bytes, end, true);
    civil.year = Some(year as i32);
    civil.month = month;
    civil.day = day_value as u8;
    civil.offset_seconds = offset;
    Some(Parsed { civil, format: Format::Rfc2822, end })
}

/// `hh:mm:ss` and an optional `.` or `,` fraction of any length (digits past the ninth
/// are read and dropped). A separator without digits after it is not part of the time.
fn parse_clock(bytes: &[u8], start: usize) -> Option<(Civil, usize)> {
    let clock: &[u8; 8] = bytes.get(start..start + 8)?.try_into().ok()?;
    if clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let digit = |index: usize| clock[index].wrapping_sub(b'0');
    if [0, 1, 3, 4, 6, 7].iter().any(|index| digit(*index) > 9) {
        return None;
    }
    let (nanosecond, end) = parse_fraction(bytes, start + 8)?;
    let civil = Civil {
        hour: digit(0) * 10 + digit(1),
        minute: digit(3) * 10 + digit(4),
        second: digit(6) * 10 + digit(7),
        nanosecond,
        ..Civil::default()
    };
    Some((civil, end))
}

/// An optional `.` or `,` fraction after the seconds at `start`: its nanoseconds and the
/// end of the time. `None` when a digit follows the seconds directly (`10:05:234`).
fn parse_fraction(bytes: &[u8], start: usize) -> Option<(u32, usize)> {
    const SCALE: [u32; 10] = [1_000_000_000, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    match bytes.get(start) {
        Some(b'.' | b',') if bytes.get(start + 1).is_some_and(u8::is_ascii_digit) => {
            let mut end = start + 1;
            let mut value = 0u32;
            let mut n_digits = 0usize;
            while let Some(byte) = bytes.get(end).filter(|byte| byte.is_ascii_digit()) {
                // Digits past the ninth are below a nanosecond: read and dropped.
                if n_digits < 9 {
                    value = value * 10 + u32::from(byte - b'0');
                    n_digits += 1;
                }
                end += 1;
            }
            Some((value * SCALE[n_digits], end))
        }
        Some(byte) if byte.is_ascii_digit() => None,
        _ => Some((0, start)),
    }
}

/// A zone right after a time: `Z`, `±hh`, `±hhmm`, `±hh:mm`; with `allow_space` also
/// one space before `±hhmm` / `±hh:mm` or a `UTC` / `GMT` word. No zone: `(None, start)`.
fn parse_zone_suffix(bytes: &[u8], start: usize, allow_space: bool) -> (Option<i32>, usize) {
    match bytes.get(start) {
        Some(b'Z' | b'z') if !bytes.get(start + 1).is_some_and(u8::is_ascii_alphanumeric) => (Some(0), start + 1),
        Some(b'+' | b'-') => match numeric_offset(bytes, start, true) {
            Some((offset, end)) => (Some(offset), end),
            None => (None, start),
        },
        Some(b' ') if allow_space => match bytes.get(start + 1) {
            Some(b'+' | b'-') => match numeric_offset(bytes, start + 1, false) {
                Some((offset, end)) => (Some(offset), end),
                None => (None, start),
            },
            Some(b'U' | b'G')
                if matches!(bytes.get(start + 1..start + 4), Some(b"UTC" | b"GMT"))
                    && !bytes.get(start + 4).is_some_and(u8::is_ascii_alphanumeric) =>
            {
                (Some(0), start + 4)
            }
            _ => (None, start),
        },
        _ => (None, start),
    }
}

/// `±hh:mm`, `±hhmm` or (with `allow_hours_only`) `±hh`, followed by a non-digit.
fn numeric_offset(bytes: &[u8], sign: usize, allow_hours_only: bool) -> Option<(i32, usize)> {
    let hours = digits(bytes, sign + 1, 2)?;
    let (minutes, end) = if bytes.get(sign + 3) == Some(&b':') {
        (digits(bytes, sign + 4, 2)?, sign + 6)
    } else if let Some(minutes) = digits(bytes, sign + 3, 2) {
        (minutes, sign + 5)
    } else if allow_hours_only {
        (0, sign + 3)
    } else {
        return None;
    };
    if hours > 23 || minutes > 59 || bytes.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let seconds = (hours * 3600 + minutes * 60) as i32;
    Some((if bytes[sign] == b'-' { -seconds } else { seconds }, end))
}

/// Reads an epoch number; its magnitude tells the unit. Values below 1e8 (before 1973)
/// are not taken for times: small numbers in a `t` field are more likely something else.
fn parse_epoch(text: &[u8]) -> Option<(Instant, Format)> {
    let (whole, fraction) = match text.iter().position(|byte| *byte == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &text[text.len()..]),
    };
    if whole.is_empty() || whole.len() > 19 || !whole.iter().all(u8::is_ascii_digit) {
        if text.iter().any(|byte| matches!(byte, b'e' | b'E')) {
            return parse_epoch_float(text);
        }
        return None;
    }
    if !fraction.iter().all(u8::is_ascii_digit) {
        return parse_epoch_float(text);
    }
    // At most 19 digits: fits a u64.
    let value = whole.iter().fold(0u64, |value, byte| value * 10 + u64::from(byte - b'0'));
    let (unit_nanos, format) = epoch_unit(value as f64)?;
    let mut fraction_nanos: i128 = 0;
    let mut scale: i128 = unit_nanos / 10;
    for byte in fraction {
        if scale == 0 {
            break;
        }
        fraction_nanos += i128::from(byte - b'0') * scale;
        scale /= 10;
    }
    let nanos = i128::from(value) * unit_nanos + fraction_nanos;
    Some((Instant::from_nanosecond(nanos).ok()?, format))
}

fn parse_epoch_float(text: &[u8]) -> Option<(Instant, Format)> {
    let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let (unit_nanos, format) = epoch_unit(value)?;
    let nanos = value * unit_nanos as f64;
    if nanos > 1e20 {
        return None;
    }
    Some((Instant::from_nanosecond(nanos as i128).ok()?, format))
}

fn epoch_unit(value: f64) -> Option<(i128, Format)> {
    if value < 1e8 {
        None
    } else if value < 1e11 {
        Some((1_000_000_000, Format::EpochSeconds))
    } else if value < 1e14 {
        Some((1_000_000, Format::EpochMillis))
    } else if value < 1e17 {
        Some((1_000, Format::EpochMicros))
    } else {
        Some((1, Format::EpochNanos))
    }
}

/// JSON keys (and logfmt keys) whose value is the line's time, compared ignoring case;
/// [`is_time_key`] holds the same list sorted by length.
#[cfg(test)]
const TIME_KEYS: &[&[u8]] = &[
    b"ts",
    b"time",
    b"timestamp",
    b"@timestamp",
    b"t",
    b"@t",
    b"date",
    b"datetime",
    b"eventtime",
    b"event_time",
    b"asctime",
    b"logtime",
    b"log_time",
    b"timemillis",
    b"time_local",
    b"timeunixnano",
];

fn is_time_key(key: &[u8]) -> bool {
    // By length first: most keys of a JSON line are not time keys and fail here.
    let candidates: &[&[u8]] = match key.len() {
        1 => &[b"t"],
        2 => &[b"ts", b"@t"],
        4 => &[b"time", b"date"],
        7 => &[b"asctime", b"logtime"],
        8 => &[b"datetime", b"log_time"],
        9 => &[b"timestamp", b"eventtime"],
        10 => &[b"@timestamp", b"event_time", b"timemillis", b"time_local"],
        12 => &[b"timeunixnano"],
        _ => return false,
    };
    candidates.iter().any(|candidate| candidate.eq_ignore_ascii_case(key))
}

/// Whether the number at `start` is the value of a logfmt time key: `ts=…` or `ts="…"`,
/// the key at the line start or after a space.
fn logfmt_time_key_before(bytes: &[u8], start: usize) -> bool {
    let mut equals = start;
    if equals > 0 && bytes[equals - 1] == b'"' {
        equals -= 1;
    }
    if equals == 0 || bytes[equals - 1] != b'=' {
        return false;
    }
    let key_end = equals - 1;
    let key_start = bytes[..key_end].iter().rposition(|byte| *byte == b' ').map_or(0, |space| space + 1);
    is_time_key(&bytes[key_start..key_end])
}

/// The end of a JSON or logfmt number: digits, `.`, exponent.
fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    while bytes.get(end).is_some_and(|byte| byte.is_ascii_digit() || matches!(byte, b'.' | b'e' | b'E' | b'+' | b'-')) {
        end += 1;
    }
    end
}

/// Digits with at most one `.`: a number written as a JSON string.
fn is_plain_number(text: &[u8]) -> bool {
    !text.is_empty()
        && text[0].is_ascii_digit()
        && text.iter().all(|byte| byte.is_ascii_digit() || *byte == b'.')
        && text.iter().filter(|byte| **byte == b'.').count() <= 1
}

fn skip_whitespace(bytes: &[u8], mut position: usize) -> usize {
    while bytes.get(position).is_some_and(u8::is_ascii_whitespace) {
        position += 1;
    }
    position
}

fn skip_spaces(bytes: &[u8], mut position: usize) -> usize {
    while bytes.get(position) == Some(&b' ') {
        position += 1;
    }
    position
}

/// The most bytes from the start of a text timestamp to its first `hh:` colon
/// (`Sun,  09 Feb 2025 10:` is 20).
const MAX_LEAD: usize = 24;

const DIGIT: u8 = 1;
const LETTER: u8 = 2;

/// Byte classes of possible timestamp starts: digits, and the capitals that begin a
/// month, a weekday or a klog severity.
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = b'0';
    while byte <= b'9' {
        table[byte as usize] = DIGIT;
        byte += 1;
    }
    let capitals = b"JFMASONDTWEI";
    let mut index = 0;
    while index < capitals.len() {
        table[capitals[index] as usize] = LETTER;
        index += 1;
    }
    table
};

/// A timestamp does not start in the middle of a word, a number or a date.
fn is_candidate_start(bytes: &[u8], position: usize) -> bool {
    if position == 0 {
        return true;
    }
    let previous = bytes[position - 1];
    if bytes[position].is_ascii_digit() {
        !previous.is_ascii_digit() && !matches!(previous, b'-' | b'/' | b':' | b'+')
    } else {
        !previous.is_ascii_alphanumeric()
    }
}

/// How many ASCII digits start at `start`, counting no further than `limit`.
fn digit_run(bytes: &[u8], start: usize, limit: usize) -> usize {
    let mut run = 0;
    while run < limit && bytes.get(start + run).is_some_and(u8::is_ascii_digit) {
        run += 1;
    }
    run
}

/// Exactly `count` digits at `start` as a number.
fn digits(bytes: &[u8], start: usize, count: usize) -> Option<u32> {
    let text = bytes.get(start..start + count)?;
    let mut value = 0u32;
    for byte in text {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(byte - b'0');
    }
    Some(value)
}

fn expect(bytes: &[u8], position: usize, wanted: u8) -> Option<()> {
    (bytes.get(position) == Some(&wanted)).then_some(())
}

/// A day of month written `DD`, `D` or ` D`; returns it and the index after it.
fn padded_day(bytes: &[u8], start: usize) -> Option<(u8, usize)> {
    let start = if bytes.get(start) == Some(&b' ') { start + 1 } else { start };
    match digit_run(bytes, start, 3) {
        1 => Some((digits(bytes, start, 1)? as u8, start + 1)),
        2 => Some((digits(bytes, start, 2)? as u8, start + 2)),
        _ => None,
    }
}

/// `Jan` … `Dec` at `start` as 1 … 12.
fn month_at(bytes: &[u8], start: usize) -> Option<u8> {
    let name = bytes.get(start..start + 3)?;
    let index = MONTHS.iter().position(|month| *month == name)?;
    Some(index as u8 + 1)
}

const MONTHS: [&[u8]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

fn is_weekday_at(bytes: &[u8], start: usize) -> bool {
    bytes
        .get(start..start + 3)
        .is_some_and(|name| [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"].iter().any(|day| *day == name))
}

/// POSIX `%y`: 69-99 are 1969-1999, 00-68 are 2000-2068.
fn two_digit_year(year: u32) -> i32 {
    if year >= 69 { 1900 + year as i32 } else { 2000 + year as i32 }
}

fn is_leap_year(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    // Shifted by 25 eras (10000 years) so that every year jiff supports is positive and
    // the divisions are unsigned.
    const SHIFT_ERAS: u64 = 25;
    let year = (i64::from(year) + 400 * SHIFT_ERAS as i64 - i64::from(month <= 2)).max(0) as u64;
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = (u64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + u64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era) as i64 - 719_468 - (SHIFT_ERAS * 146_097) as i64
}

/// The UTC date of a Unix second.
fn civil_from_unix(second: i64) -> (i32, u8, u8) {
    let days = second.div_euclid(SECONDS_PER_DAY) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u8;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u8;
    let year = (year_of_era + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// The instant of fields that carry their own zone (kubelet prefix, whole RFC 3339).
fn instant_with_offset(civil: &Civil) -> Option<Instant> {
    let offset = civil.offset_seconds?;
    let year = civil.year?;
    if !(1..=12).contains(&civil.month)
        || civil.day == 0
        || civil.day > days_in_month(year, civil.month)
        || civil.hour > 23
        || civil.minute > 59
        || civil.second > 60
    {
        return None;
    }
    let local = days_from_civil(year, civil.month, civil.day) * SECONDS_PER_DAY
        + i64::from(civil.hour) * 3600
        + i64::from(civil.minute) * 60
        + i64::from(civil.second.min(59));
    Instant::new(local - i64::from(offset), civil.nanosecond as i32).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str) -> Instant {
        text.parse().expect("test timestamps are valid RFC 3339")
    }

    /// A two-hour incident window on 2025-02-09, UTC.
    fn february() -> TimeContext {
        TimeContext {
            zone: TimeZone::UTC,
            window: Some((instant("2025-02-09T09:00:00Z"), instant("2025-02-09T11:00:00Z"))),
        }
    }

    /// `(expected UTC instant, format, assumed_zone, matched text)`.
    type Expected<'a> = Option<(&'a str, Format, bool, &'a str)>;

    #[track_caller]
    fn check(finder: &mut Finder, line: &str, expected: Expected) {
        let found = finder.find(line);
        let actual =
            found.as_ref().map(|found| (found.instant, found.format, found.assumed_zone, &line[found.span.clone()]));
        let expected =
            expected.map(|(time, format, assumed_zone, matched)| (instant(time), format, assumed_zone, matched));
        assert_eq!(actual, expected, "line {line:?}");
        if let Some(found) = found {
            assert_eq!(found.assumed_year, found.format.is_year_less(), "line {line:?}");
        }
    }

    #[test]
    fn finds_every_format() {
        use Format::*;
        #[rustfmt::skip]
        let rows: &[(&str, Expected)] = &[
            // RFC 3339 / ISO 8601 with T: fractions of 0-9+ digits, every zone spelling.
            ("2025-02-09T10:05:23Z GET /healthz 200", Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-09T10:05:23Z"))),
            ("2025-02-09T10:05:23.1Z x", Some(("2025-02-09T10:05:23.1Z", Rfc3339, false, "2025-02-09T10:05:23.1Z"))),
            ("2025-02-09T10:05:23.12Z x", Some(("2025-02-09T10:05:23.12Z", Rfc3339, false, "2025-02-09T10:05:23.12Z"))),
            ("2025-02-09T10:05:23.123Z x", Some(("2025-02-09T10:05:23.123Z", Rfc3339, false, "2025-02-09T10:05:23.123Z"))),
            ("2025-02-09T10:05:23.1234Z x", Some(("2025-02-09T10:05:23.1234Z", Rfc3339, false, "2025-02-09T10:05:23.1234Z"))),
            ("2025-02-09T10:05:23.12345Z", Some(("2025-02-09T10:05:23.12345Z", Rfc3339, false, "2025-02-09T10:05:23.12345Z"))),
            ("2025-02-09T10:05:23.123456Z", Some(("2025-02-09T10:05:23.123456Z", Rfc3339, false, "2025-02-09T10:05:23.123456Z"))),
            ("2025-02-09T10:05:23.1234567Z", Some(("2025-02-09T10:05:23.1234567Z", Rfc3339, false, "2025-02-09T10:05:23.1234567Z"))),
            ("2025-02-09T10:05:23.12345678Z", Some(("2025-02-09T10:05:23.12345678Z", Rfc3339, false, "2025-02-09T10:05:23.12345678Z"))),
            ("2025-02-09T10:05:23.123456789Z", Some(("2025-02-09T10:05:23.123456789Z", Rfc3339, false, "2025-02-09T10:05:23.123456789Z"))),
            ("2025-02-09T10:05:23.1234567891Z", Some(("2025-02-09T10:05:23.123456789Z", Rfc3339, false, "2025-02-09T10:05:23.1234567891Z"))),
            ("2025-02-09T19:05:23+09:00 level=info", Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-09T19:05:23+09:00"))),
            ("2025-02-09T05:05:23.5-0500 x", Some(("2025-02-09T10:05:23.5Z", Rfc3339, false, "2025-02-09T05:05:23.5-0500"))),
            ("2025-02-09T11:05:23+01 x", Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-09T11:05:23+01"))),
            ("2025-02-09T00:35:23-09:30 x", Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-09T00:35:23-09:30"))),
            ("2025-02-09t10:05:23z", Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-09t10:05:23z"))),
            ("2025-02-09T10:05:23 no zone", Some(("2025-02-09T10:05:23Z", Rfc3339, true, "2025-02-09T10:05:23"))),
            ("level=info ts=2025-02-09T10:05:23.5Z msg=ok", Some(("2025-02-09T10:05:23.5Z", Rfc3339, false, "2025-02-09T10:05:23.5Z"))),
            // Offsets cross the date line both ways.
            ("2025-02-10T01:05:23+15:00 x", Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-10T01:05:23+15:00"))),
            ("2025-02-08T23:05:23-11:00 x", Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-08T23:05:23-11:00"))),
            // ISO 8601 with a space: Java/Python, Windows CBS, Go's time.String, PostgreSQL.
            ("2025-02-09 10:05:23,123 INFO [main] Started", Some(("2025-02-09T10:05:23.123Z", Iso8601, true, "2025-02-09 10:05:23,123"))),
            ("2025-02-09 10:05:23.123456 +0000 UTC m=+0.1", Some(("2025-02-09T10:05:23.123456Z", Iso8601, false, "2025-02-09 10:05:23.123456 +0000"))),
            ("2025-02-09 19:05:23 +09:00 boot", Some(("2025-02-09T10:05:23Z", Iso8601, false, "2025-02-09 19:05:23 +09:00"))),
            ("2025-02-09 10:05:23, Info   CBS   Loaded stack", Some(("2025-02-09T10:05:23Z", Iso8601, true, "2025-02-09 10:05:23"))),
            ("2025-02-09 10:05:23,456 - WARN  [worker:Pool@12] - busy", Some(("2025-02-09T10:05:23.456Z", Iso8601, true, "2025-02-09 10:05:23,456"))),
            ("2025-02-09 10:05:23 UTC [42] LOG:  checkpoint", Some(("2025-02-09T10:05:23Z", Iso8601, false, "2025-02-09 10:05:23 UTC"))),
            ("2025-02-09 10:05:23 -1 retries", Some(("2025-02-09T10:05:23Z", Iso8601, true, "2025-02-09 10:05:23"))),
            // A file name with a date but no time comes before the real time.
            ("api.log.1.2025-02-09_08:00:00 2025-02-09 10:05:23.008 77 INFO svc [req-1] ok", Some(("2025-02-09T10:05:23.008Z", Iso8601, true, "2025-02-09 10:05:23.008"))),
            // Go's log package.
            ("2025/02/09 10:05:23 listening on :8080", Some(("2025-02-09T10:05:23Z", Go, true, "2025/02/09 10:05:23"))),
            ("2025/02/09 10:05:23.000123 handler.go:12: x", Some(("2025-02-09T10:05:23.000123Z", Go, true, "2025/02/09 10:05:23.000123"))),
            // Two-digit years: log4j yy/MM/dd, and HDFS at the line start only.
            ("25/02/09 10:05:23 INFO storage.Store: put block", Some(("2025-02-09T10:05:23Z", ShortYear, true, "25/02/09 10:05:23"))),
            ("250209 100523 42 INFO dfs.Node: served block", Some(("2025-02-09T10:05:23Z", Compact, true, "250209 100523"))),
            ("copied 250209 100523 bytes", None),
            // Year-less formats take 2025 from the window.
            ("02-09 10:05:23.456  1234  5678 D Tag: x", Some(("2025-02-09T10:05:23.456Z", Logcat, true, "02-09 10:05:23.456"))),
            ("I0209 10:05:23.123456       1 controller.go:42] synced", Some(("2025-02-09T10:05:23.123456Z", Klog, true, "I0209 10:05:23.123456"))),
            ("E0209 10:05:23.000001   77 reflector.go:9] failed", Some(("2025-02-09T10:05:23.000001Z", Klog, true, "E0209 10:05:23.000001"))),
            ("Feb  9 10:05:23 node-1 sshd[42]: accepted key", Some(("2025-02-09T10:05:23Z", Syslog, true, "Feb  9 10:05:23"))),
            ("Feb 9 10:05:23 node-1 cron[7]: run", Some(("2025-02-09T10:05:23Z", Syslog, true, "Feb 9 10:05:23"))),
            ("<34>Feb 09 10:05:23 node-1 kernel: oom", Some(("2025-02-09T10:05:23Z", Syslog, true, "Feb 09 10:05:23"))),
            // CLF, ctime (Apache error log) and RFC 2822 dates.
            ("10.0.0.1 - - [09/Feb/2025:19:05:23 +0900] \"GET / HTTP/1.1\" 200 5", Some(("2025-02-09T10:05:23Z", Clf, false, "09/Feb/2025:19:05:23 +0900"))),
            ("[09/Feb/2025:10:05:23] plain", Some(("2025-02-09T10:05:23Z", Clf, true, "09/Feb/2025:10:05:23"))),
            ("[Sun Feb 09 10:05:23 2025] [error] child exited", Some(("2025-02-09T10:05:23Z", Ctime, true, "Sun Feb 09 10:05:23 2025"))),
            ("[Sun Feb 09 10:05:23.123456 2025] [core:error] x", Some(("2025-02-09T10:05:23.123456Z", Ctime, true, "Sun Feb 09 10:05:23.123456 2025"))),
            ("Sun Feb  9 10:05:23 2025 cron", Some(("2025-02-09T10:05:23Z", Ctime, true, "Sun Feb  9 10:05:23 2025"))),
            ("date: Sun, 09 Feb 2025 10:05:23 GMT", Some(("2025-02-09T10:05:23Z", Rfc2822, false, "Sun, 09 Feb 2025 10:05:23 GMT"))),
            ("sent 9 Feb 2025 19:05:23 +0900", Some(("2025-02-09T10:05:23Z", Rfc2822, false, "9 Feb 2025 19:05:23 +0900"))),
            // JSON time fields: strings in any format, epochs whose magnitude tells the unit.
            (r#"{"ts":1739095523.123456,"level":"info"}"#, Some(("2025-02-09T10:05:23.123456Z", EpochSeconds, false, "1739095523.123456"))),
            (r#"{"level":"info","time":1739095523123,"msg":"x"}"#, Some(("2025-02-09T10:05:23.123Z", EpochMillis, false, "1739095523123"))),
            (r#"{"t": 1739095523123456}"#, Some(("2025-02-09T10:05:23.123456Z", EpochMicros, false, "1739095523123456"))),
            (r#"{"timestamp":1739095523123456789}"#, Some(("2025-02-09T10:05:23.123456789Z", EpochNanos, false, "1739095523123456789"))),
            (r#"{"timeUnixNano":"1739095523123456789"}"#, Some(("2025-02-09T10:05:23.123456789Z", EpochNanos, false, "1739095523123456789"))),
            (r#"{"time":1739095523123.5}"#, Some(("2025-02-09T10:05:23.1235Z", EpochMillis, false, "1739095523123.5"))),
            (r#"{"ts":1.7390955231e9}"#, Some(("2025-02-09T10:05:23.1Z", EpochSeconds, false, "1.7390955231e9"))),
            (r#"{"@timestamp":"2025-02-09T10:05:23.123Z","message":"x"}"#, Some(("2025-02-09T10:05:23.123Z", Rfc3339, false, "2025-02-09T10:05:23.123Z"))),
            (r#"{"msg":"at 2025-02-09T09:00:00Z","time":"2025-02-09T10:05:23Z"}"#, Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-09T10:05:23Z"))),
            (r#"{"log":"said \"hi\" to a long list of listeners\n","stream":"stdout","time":"2025-02-09T10:05:23.123456789Z"}"#, Some(("2025-02-09T10:05:23.123456789Z", Rfc3339, false, "2025-02-09T10:05:23.123456789Z"))),
            (r#"{"asctime": "2025-02-09 10:05:23,123", "levelname": "INFO"}"#, Some(("2025-02-09T10:05:23.123Z", Iso8601, true, "2025-02-09 10:05:23,123"))),
            (r#"{"Time":"Feb  9 10:05:23"}"#, Some(("2025-02-09T10:05:23Z", Syslog, true, "Feb  9 10:05:23"))),
            (r#"  {"eventTime":"2025-02-09T10:05:23Z"}"#, Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-09T10:05:23Z"))),
            // Bare numbers are epochs only in time fields.
            (r#"{"nested":{"ts":1739095523},"msg":"x"}"#, None),
            (r#"{"msg":"took 1739095523 ms"}"#, None),
            (r#"{"ts":12,"msg":"x"}"#, None),
            (r#"{"ts":"soon"}"#, None),
            ("request took 1739095523 ns", None),
            // logfmt time keys.
            ("ts=1739095523.5 level=info msg=ok", Some(("2025-02-09T10:05:23.5Z", EpochSeconds, false, "1739095523.5"))),
            ("level=info time=\"1739095523123\" msg=ok", Some(("2025-02-09T10:05:23.123Z", EpochMillis, false, "1739095523123"))),
            ("level=info count=1739095523 msg=ok", None),
            ("level=info uptime=1739095523 msg=ok", None),
            // Impossible dates are no timestamps (and do not make the finder look further in).
            ("2025-02-30 10:00:00 x", None),
            ("2024-02-29 10:00:00 leap day", Some(("2024-02-29T10:00:00Z", Iso8601, true, "2024-02-29 10:00:00"))),
            ("2025-02-29T10:00:00Z", None),
            ("2025-02-09 25:00:00 x", None),
            ("2025-13-01T00:00:00Z", None),
            ("2025-02-09T10:61:00Z", None),
            ("2025-04-31T10:00:00Z", None),
            ("Feb 30 10:05:23 host x", None),
            ("[31/Apr/2025:10:05:23 +0000] x", None),
            // Shapes of other common servers that the formats above already cover.
            ("2025/02/09 10:05:23 [error] 31#31: *7 upstream timed out", Some(("2025-02-09T10:05:23Z", Go, true, "2025/02/09 10:05:23"))),
            ("I, [2025-02-09T10:05:23.123456 #1234]  INFO -- : Started GET", Some(("2025-02-09T10:05:23.123456Z", Rfc3339, true, "2025-02-09T10:05:23.123456"))),
            ("1:M 09 Feb 2025 10:05:23.123 * Ready to accept connections", Some(("2025-02-09T10:05:23.123Z", Rfc2822, true, "09 Feb 2025 10:05:23.123"))),
            ("[2025-02-09T10:05:23,123][INFO ][o.e.n.Node] started", Some(("2025-02-09T10:05:23.123Z", Rfc3339, true, "2025-02-09T10:05:23,123"))),
            // No timestamp at all.
            ("", None),
            ("   ", None),
            ("plain message without time", None),
            ("10:05:23 a clock without a date", None),
            ("2025-02-09 deployed on a date without a clock", None),
            ("version 1.2.3 build 2025", None),
            ("Ärger: 日本語 🙂 Feb", None),
            ("{not json 2025-02-09T10:05:23Z", Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-09T10:05:23Z"))),
        ];
        for (line, expected) in rows {
            check(&mut Finder::new(february()), line, *expected);
        }
    }

    #[test]
    fn year_less_times_take_the_year_that_fits_the_window() {
        use Format::*;
        let new_year = TimeContext {
            zone: TimeZone::UTC,
            window: Some((instant("2024-12-31T23:00:00Z"), instant("2025-01-01T01:00:00Z"))),
        };
        #[rustfmt::skip]
        let rows: &[(&str, Expected)] = &[
            ("Dec 31 23:30:00 host x", Some(("2024-12-31T23:30:00Z", Syslog, true, "Dec 31 23:30:00"))),
            ("Jan  1 00:30:00 host x", Some(("2025-01-01T00:30:00Z", Syslog, true, "Jan  1 00:30:00"))),
            ("I1231 23:59:59.999999 1 x.go:1] m", Some(("2024-12-31T23:59:59.999999Z", Klog, true, "I1231 23:59:59.999999"))),
            ("01-01 00:00:01.000  1  2 I Tag: m", Some(("2025-01-01T00:00:01Z", Logcat, true, "01-01 00:00:01.000"))),
            // Outside the window: the nearest year, not the window's own.
            ("Jun 15 12:00:00 host x", Some(("2025-06-15T12:00:00Z", Syslog, true, "Jun 15 12:00:00"))),
            ("Dec 30 12:00:00 host x", Some(("2024-12-30T12:00:00Z", Syslog, true, "Dec 30 12:00:00"))),
            // Feb 29 exists only in leap years: 2024 is the nearest.
            ("Feb 29 12:00:00 host x", Some(("2024-02-29T12:00:00Z", Syslog, true, "Feb 29 12:00:00"))),
        ];
        // One finder for all rows, so the remembered year is exercised in both directions.
        let mut finder = Finder::new(new_year.clone());
        for (line, expected) in rows.iter().chain(rows.iter().rev()) {
            check(&mut finder, line, *expected);
            check(&mut Finder::new(new_year.clone()), line, *expected);
        }
    }

    #[test]
    fn zone_less_times_are_read_in_the_context_zone() {
        use Format::*;
        #[rustfmt::skip]
        let zones: &[(&str, &[(&str, Expected)])] = &[
            ("+09:00", &[
                ("2025-02-09 19:05:23,000 x", Some(("2025-02-09T10:05:23Z", Iso8601, true, "2025-02-09 19:05:23,000"))),
                ("2025-02-09T10:05:23Z x", Some(("2025-02-09T10:05:23Z", Rfc3339, false, "2025-02-09T10:05:23Z"))),
                ("Feb  9 19:05:23 host x", Some(("2025-02-09T10:05:23Z", Syslog, true, "Feb  9 19:05:23"))),
            ]),
            ("Asia/Tokyo", &[
                ("2025-02-09 19:05:23 x", Some(("2025-02-09T10:05:23Z", Iso8601, true, "2025-02-09 19:05:23"))),
                ("Feb  9 19:05:23 host x", Some(("2025-02-09T10:05:23Z", Syslog, true, "Feb  9 19:05:23"))),
            ]),
            ("America/New_York", &[
                ("2025-02-09 05:05:23 x", Some(("2025-02-09T10:05:23Z", Iso8601, true, "2025-02-09 05:05:23"))),
                // Summer time: UTC-4.
                ("2025-07-09 06:05:23 x", Some(("2025-07-09T10:05:23Z", Iso8601, true, "2025-07-09 06:05:23"))),
                ("{\"ts\":1739095523}", Some(("2025-02-09T10:05:23Z", EpochSeconds, false, "1739095523"))),
            ]),
        ];
        for (zone, rows) in zones {
            let context = TimeContext { zone: parse_zone(zone).expect("test zones exist"), ..february() };
            for (line, expected) in *rows {
                check(&mut Finder::new(context.clone()), line, *expected);
            }
        }
    }

    #[test]
    fn remembered_format_never_hides_an_earlier_timestamp() {
        use Format::*;
        #[rustfmt::skip]
        let rows: &[(&str, Expected)] = &[
            ("xx 2025-02-09T10:00:00Z a", Some(("2025-02-09T10:00:00Z", Rfc3339, false, "2025-02-09T10:00:00Z"))),
            ("2025-02-09T10:00:01Z yy 2025-02-09T10:00:02Z", Some(("2025-02-09T10:00:01Z", Rfc3339, false, "2025-02-09T10:00:01Z"))),
            ("xx Feb  9 10:00:03 host", Some(("2025-02-09T10:00:03Z", Syslog, true, "Feb  9 10:00:03"))),
            ("xx12025-02-09T10:00:04Z", None),
            ("xx 2025-02-09T10:00:04Z", Some(("2025-02-09T10:00:04Z", Rfc3339, false, "2025-02-09T10:00:04Z"))),
            ("xx 2025-02-09", None),
            ("", None),
            ("2025/02/09 10:00:05 z", Some(("2025-02-09T10:00:05Z", Go, true, "2025/02/09 10:00:05"))),
            (r#"{"ts":1739095206}"#, Some(("2025-02-09T10:00:06Z", EpochSeconds, false, "1739095206"))),
            ("2025/02/09 10:00:07 z", Some(("2025-02-09T10:00:07Z", Go, true, "2025/02/09 10:00:07"))),
            // A repeated prefix (`kubectl logs --prefix`) is remembered as holding no time.
            ("[pod/api-1/app] 2025-02-09T10:00:08Z a", Some(("2025-02-09T10:00:08Z", Rfc3339, false, "2025-02-09T10:00:08Z"))),
            ("[pod/api-1/app] 2025-02-09T10:00:09Z b", Some(("2025-02-09T10:00:09Z", Rfc3339, false, "2025-02-09T10:00:09Z"))),
            ("[pod/api-1/app] continuation", None),
            ("[pod/api-1/app] 2025-02-09T10:00:10Z c", Some(("2025-02-09T10:00:10Z", Rfc3339, false, "2025-02-09T10:00:10Z"))),
            ("[pod/api-1/ap 2025-02-09T10:00:11Z] 2025-02-09T10:00:12Z d", Some(("2025-02-09T10:00:11Z", Rfc3339, false, "2025-02-09T10:00:11Z"))),
            ("[Feb  9 10:00:13] 2025-02-09T10:00:14Z e", Some(("2025-02-09T10:00:13Z", Syslog, true, "Feb  9 10:00:13"))),
            ("[pod/api-1/app] 2025-02-09T10:00:15Z f", Some(("2025-02-09T10:00:15Z", Rfc3339, false, "2025-02-09T10:00:15Z"))),
            ("[pod/api-1/app] 2025-02-09 10:00:16,5 g", Some(("2025-02-09T10:00:16.5Z", Iso8601, true, "2025-02-09 10:00:16,5"))),
        ];
        let mut finder = Finder::new(february());
        for (line, expected) in rows {
            check(&mut finder, line, *expected);
        }
    }

    #[test]
    fn kubelet_prefix_reads_the_cri_timestamp() {
        #[track_caller]
        fn check(line: &str, expected: Option<(&str, usize)>) {
            let expected = expected.map(|(time, length)| (instant(time), length));
            let prefix = kubelet_time(line.as_bytes()).and_then(|time| Some((time.instant, time.text_start?)));
            assert_eq!(prefix, expected, "line {line:?}");
        }
        #[rustfmt::skip]
        let rows: &[(&str, Option<(&str, usize)>)] = &[
            ("2025-02-09T10:05:23.123456789Z hello", Some(("2025-02-09T10:05:23.123456789Z", 31))),
            ("2025-02-09T19:05:23.123456789+09:00 hello", Some(("2025-02-09T10:05:23.123456789Z", 36))),
            ("2025-02-09T19:05:23.123456789+0900 hello", Some(("2025-02-09T10:05:23.123456789Z", 35))),
            ("2025-02-09T01:05:23.000000001-09:00 ", Some(("2025-02-09T10:05:23.000000001Z", 36))),
            ("2025-02-09T10:05:23.123Z x", Some(("2025-02-09T10:05:23.123Z", 25))),
            ("2025-02-09T10:05:23Z x", Some(("2025-02-09T10:05:23Z", 21))),
            ("2025-02-09T10:05:23.123456789Z", None),
            ("2025-02-09T10:05:23.123456789+09:", None),
            ("2025-02-09T10:05:23.123456789+09", None),
            ("2025-02-09T10:05:23.1234", None),
            ("2025-02-09T10:05", None),
            ("2025-02-09T10:05:23.123456789 hello", None),
            ("2025-02-09 10:05:23.123456789Z hello", None),
            ("2025-02-30T10:05:23.123456789Z hello", None),
            ("I0209 10:05:23.123456 1 x.go:1] m", None),
            ("", None),
        ];
        for (line, expected) in rows {
            check(line, *expected);
        }
    }

    #[test]
    fn kubelet_times_say_how_closely_they_match_the_kubelet() {
        /// `(time, text_start, nine_digits, exact)`.
        type Expected<'a> = Option<(&'a str, Option<usize>, bool, bool)>;
        #[track_caller]
        fn check(line: &str, expected: Expected<'_>) {
            let got = kubelet_time(line.as_bytes());
            let expected = expected.map(|(time, text_start, nine_digits, exact)| KubeletTime {
                instant: instant(time),
                text_start,
                nine_digits,
                exact,
            });
            assert_eq!(got, expected, "line {line:?}");
        }
        #[rustfmt::skip]
        let rows: &[(&str, Expected<'_>)] = &[
            ("2025-02-09T10:05:23.123456789Z x", Some(("2025-02-09T10:05:23.123456789Z", Some(31), true, true))),
            ("2025-02-09T19:05:23.123456789+09:00 x", Some(("2025-02-09T10:05:23.123456789Z", Some(36), true, true))),
            // The collector reads a line that is only a time (the text was empty).
            ("2025-02-09T10:05:23.123456789Z", Some(("2025-02-09T10:05:23.123456789Z", None, true, true))),
            ("2025-02-09T19:05:23.123456789+0900 x", Some(("2025-02-09T10:05:23.123456789Z", Some(35), true, false))),
            ("2025-02-09t10:05:23.123456789z x", Some(("2025-02-09T10:05:23.123456789Z", Some(31), true, false))),
            ("2025-02-09T10:05:23.123Z x", Some(("2025-02-09T10:05:23.123Z", Some(25), false, false))),
            ("2025-02-09T10:05:23,123456789Z x", Some(("2025-02-09T10:05:23.123456789Z", Some(31), false, false))),
            ("2025-02-09T10:05:23.1234567890Z x", Some(("2025-02-09T10:05:23.123456789Z", Some(32), false, false))),
            ("2025-02-09T10:05:23Z", Some(("2025-02-09T10:05:23Z", None, false, false))),
            ("2025-02-09T10:05:23.123456789Z, x", None),
            ("2025-02-09T10:05:23.123456789Zx", None),
        ];
        for (line, expected) in rows {
            check(line, *expected);
        }
    }

    #[test]
    fn parse_rfc3339_agrees_with_jiff_on_what_alertmanager_and_kubernetes_send() {
        #[track_caller]
        fn check(text: &str, expected: Option<&str>) {
            let ours = parse_rfc3339(text);
            assert_eq!(ours, expected.map(instant), "text {text:?}");
            // jiff reads the same instants: the helper is for speed, not for coverage.
            if ours.is_some() {
                assert_eq!(text.parse::<Instant>().ok(), ours, "jiff on {text:?}");
            }
        }
        #[rustfmt::skip]
        let rows: &[(&str, Option<&str>)] = &[
            ("0001-01-01T00:00:00Z", Some("0001-01-01T00:00:00Z")),
            ("2025-02-09T10:05:23Z", Some("2025-02-09T10:05:23Z")),
            ("2025-02-09T10:05:23.1Z", Some("2025-02-09T10:05:23.100Z")),
            ("2025-02-09T10:05:23.12345Z", Some("2025-02-09T10:05:23.123450Z")),
            ("2025-02-09T10:05:23.123456789Z", Some("2025-02-09T10:05:23.123456789Z")),
            ("2025-02-09T19:05:23.5+09:00", Some("2025-02-09T10:05:23.5Z")),
            ("2025-02-09T05:05:23-05:00", Some("2025-02-09T10:05:23Z")),
            ("2025-02-09T05:05:23-0500", Some("2025-02-09T10:05:23Z")),
            ("2025-02-09t10:05:23z", Some("2025-02-09T10:05:23Z")),
            ("2025-02-09 10:05:23Z", Some("2025-02-09T10:05:23Z")),
            ("2025-02-09T10:05:23", None),
            ("2025-02-09T10:05:23Z trailing", None),
            ("2025-02-09", None),
            ("", None),
        ];
        for (text, expected) in rows {
            check(text, *expected);
        }
    }

    #[test]
    fn civil_day_arithmetic_matches_jiff_from_year_1_to_9999() {
        let first = days_from_civil(1, 1, 1);
        // jiff ends at 9999-12-30T22:00Z, keeping room for offsets.
        let last = days_from_civil(9999, 12, 30);
        for days in (first..=last).step_by(997).chain([first, last, 0, -1, 11_016, 19_782]) {
            let (year, month, day) = civil_from_unix(days * SECONDS_PER_DAY);
            assert_eq!(days_from_civil(year, month, day), days, "day {days}");
            let date = jiff::civil::date(year as i16, month as i8, day as i8);
            let expected = TimeZone::UTC.to_timestamp(date.at(0, 0, 0, 0)).expect("in range");
            assert_eq!(expected.as_second(), days * SECONDS_PER_DAY, "{date}");
        }
    }

    #[test]
    fn every_time_key_is_recognised_in_any_case() {
        for key in TIME_KEYS {
            assert!(is_time_key(key), "{key:?}");
            assert!(is_time_key(&key.to_ascii_uppercase()), "{key:?}");
        }
        for key in [&b"tz"[..], b"times", b"level", b"", b"timestamps"] {
            assert!(!is_time_key(key), "{key:?}");
        }
    }

    #[test]
    fn window_and_zone_arguments() {
        assert_eq!(
            parse_window("2025-02-09T09:00:00Z/2025-02-09T19:00:00+09:00"),
            Some((instant("2025-02-09T09:00:00Z"), instant("2025-02-09T10:00:00Z")))
        );
        assert_eq!(parse_window("2025-02-09T10:00:00Z/2025-02-09T09:00:00Z"), None);
        assert_eq!(parse_window("2025-02-09T09:00:00Z"), None);
        #[track_caller]
        fn check(text: &str, expected_offset_seconds: Option<i32>) {
            let at = instant("2025-02-09T10:00:00Z");
            let offset = parse_zone(text).map(|zone| zone.to_offset(at).seconds());
            assert_eq!(offset, expected_offset_seconds, "zone {text:?}");
        }
        let rows: &[(&str, Option<i32>)] = &[
            ("UTC", Some(0)),
            ("Z", Some(0)),
            ("+09:00", Some(9 * 3600)),
            ("-0530", Some(-(5 * 3600 + 1800))),
            ("+9", Some(9 * 3600)),
            ("Asia/Tokyo", Some(9 * 3600)),
            ("Europe/Berlin", Some(3600)),
            ("+26:00", None),
            ("+ab", None),
            ("Not/AZone", None),
        ];
        for (text, expected) in rows {
            check(text, *expected);
        }
    }

    #[test]
    fn format_rfc3339_utc_keeps_milliseconds_or_more() {
        let rows = [
            ("2025-02-09T10:05:23Z", "2025-02-09T10:05:23.000Z"),
            ("2025-02-09T10:05:23.12Z", "2025-02-09T10:05:23.120Z"),
            ("2025-02-09T10:05:23.1234Z", "2025-02-09T10:05:23.123400Z"),
            ("2025-02-09T10:05:23.123456789Z", "2025-02-09T10:05:23.123456789Z"),
            ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500Z"),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
            ("2024-02-29T23:59:59Z", "2024-02-29T23:59:59.000Z"),
        ];
        for (input, expected) in rows {
            assert_eq!(format_rfc3339_utc(instant(input)), expected, "instant {input}");
        }
    }

    #[test]
    fn never_panics_on_cut_or_odd_input() {
        let samples = [
            "2025-02-09T19:05:23.123456789+09:00 x",
            "[Sun Feb  9 10:05:23.123456 2025] x",
            "10.0.0.1 - - [09/Feb/2025:19:05:23 +0900] \"GET /\"",
            r#"{"ts":1739095523.123,"msg":"a \"b\" c","time":"2025-02-09 10:05:23,1"}"#,
            "ts=\"1739095523123\" t=1e400 time=-5",
            "I0209 10:05:23.123456 1 x.go:1] Feb  9 10:05:23 25/02/09 10:05:23",
            "250209 100523 02-09 10:05:23.456 Sun, 09 Feb 2025 10:05:23 GMT",
            "9999-12-31T23:59:59.999999999-23:59 0000-01-01T00:00:00+23:59",
            "{\"ts\":\"\\",
            "{\"ts\":99999999999999999999999999999}",
        ];
        let context = february();
        for sample in samples {
            for end in (0..=sample.len()).filter(|end| sample.is_char_boundary(*end)) {
                let mut finder = Finder::new(context.clone());
                let line = &sample[..end];
                if let Some(found) = finder.find(line) {
                    assert!(line.get(found.span.clone()).is_some(), "span of {line:?}");
                }
                let _ = kubelet_time(line.as_bytes());
                let _ = parse_rfc3339(line);
            }
        }
        // Pseudo-random bytes drawn from timestamp characters, through one finder.
        let alphabet = b"0123456789-/:.,TZ +[]{}\"=tsFebSunI\xc3\xa4";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut finder = Finder::new(context.clone());
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..(state % 48) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let line = String::from_utf8_lossy(&bytes);
            if let Some(found) = finder.find(&line) {
                assert!(line.get(found.span.clone()).is_some(), "span of {line:?}");
            }
            let _ = kubelet_time(line.as_bytes());
        }
        // Huge lines stay linear and answer correctly.
        let mut huge = "1-".repeat(500_000);
        huge.push_str(" 2025-02-09T10:05:23Z");
        let found = Finder::new(context.clone()).find(&huge).expect("the timestamp at the end");
        assert_eq!(found.instant, instant("2025-02-09T10:05:23Z"));
        assert_eq!(Finder::new(context.clone()).find(&"Feb ".repeat(300_000)), None);
        assert_eq!(Finder::new(context).find(&"12:34:56 ".repeat(200_000)), None);
    }
}
