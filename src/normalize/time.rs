//! The timestamp finder: where in a log line its embedded time is, in which layout, and
//! what instant it denotes; plus the kubelet (CRI) time before each line of
//! `kubectl logs --timestamps` ([`kubelet_time`]).
//!
//! Times are read by a grammar ([`parse_at`]: date, joining, time, zone, in the orders and
//! spellings logs use) rather than a list of layouts, and epochs only where their digit
//! count fits a unit and the instant fits the evidence. A year-less time takes its year
//! from evidence, never from the wall clock ([`YearSource`]).
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
    /// puts them inside it, or nearest to it.
    pub window: Option<(Instant, Instant)>,
    /// The window's year is itself an assumption (it was drawn from year-less times that
    /// had no evidence): year-less times read in it are [`YearSource::Assumed`].
    pub window_year_assumed: bool,
    /// Without a window: the span of the other dated inputs of the same draft (alerts,
    /// events, logs with full dates), which year-less times take their year from.
    pub evidence: Option<(Instant, Instant)>,
    /// The newest time a line can have when nothing else gives its year (a draft passes its
    /// files' modification time: no line was written after its file): year-less times take
    /// the latest year that keeps them at or before it; without it 1970. Either is flagged.
    pub fallback_until: Option<Instant>,
}

impl Default for TimeContext {
    fn default() -> Self {
        TimeContext {
            zone: TimeZone::UTC,
            window: None,
            window_year_assumed: false,
            evidence: None,
            fallback_until: None,
        }
    }
}

/// How far a full date elsewhere in a line may be from its year-less leading time and still
/// be the same moment written twice (zones and an accept-vs-log delay, never months).
const LINE_YEAR_AGREEMENT_SECONDS: i64 = 2 * 86_400;

/// The year of the Unix epoch: the year assumed with no evidence and no fallback.
pub const NO_EVIDENCE_YEAR: i32 = 1970;

/// Where a year-less time's year came from, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum YearSource {
    /// A full date later in the same line (a message quoting its own time).
    Line,
    /// The incident window.
    Window,
    /// The other inputs of the draft (alerts, events, logs with full dates).
    Evidence,
    /// An earlier line of the same stream with a full date.
    Stream,
    /// Nothing: the latest year that keeps the time before its files were modified, else 1970; rows are
    /// flagged `assumed_year`.
    Assumed,
}

impl YearSource {
    pub fn name(self) -> &'static str {
        match self {
            YearSource::Line => "line",
            YearSource::Window => "window",
            YearSource::Evidence => "evidence",
            YearSource::Stream => "stream",
            YearSource::Assumed => "assumed",
        }
    }
}

/// The layouts the grammar tells apart, by the name `inspect-times` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `2025-02-09T10:05:23.123Z`: RFC 3339 / ISO 8601 with a `T`, zone optional.
    Rfc3339,
    /// `2025-02-09 10:05:23,123`: ISO 8601 with a space (Java, Python, Windows CBS).
    Iso8601,
    /// `2025/02/09 10:05:23.000000`: Go's `log` package (and nginx's error log).
    Go,
    /// `2025.02.09 10:05`, `20250209T100523Z`, `2025-02-09_10:05:23`: other year-first dates.
    YearMonthDay,
    /// `09/02/2025 10:05:23`, `9.2.2025 10:05`: day first (by the stream's evidence).
    DayMonthYear,
    /// `2/9/2025 10:05:23 AM`: month first (by the stream's evidence, `/` without any).
    MonthDayYear,
    /// `25/02/09 10:05:23`: two-digit year with slashes (log4j `yy/MM/dd`, Spark).
    ShortYear,
    /// `250209 100523`: two-digit year, no separators, at the line start (HDFS).
    Compact,
    /// `02-09 10:05:23.123`: Android logcat, year-less.
    Logcat,
    /// `I0209 10:05:23.123456` (klog, year-less) or `I20250209 10:05:23.123456` (glog).
    Klog,
    /// `[09/Feb/2025:10:05:23 +0900]`: Common Log Format, and `09-Feb-2025 10:05:23`.
    Clf,
    /// `Feb  9 10:05:23`: BSD syslog, year-less.
    Syslog,
    /// `Sun Feb 09 10:05:23 2025`: C `ctime`, Apache error log, `date`.
    Ctime,
    /// `Sun, 09 Feb 2025 10:05:23 +0000`: RFC 2822 / HTTP dates (weekday optional).
    Rfc2822,
    /// `Feb 9, 2025 10:05:23 AM`: a named month with its year before the time.
    NamedMonth,
    /// Epoch seconds (integer or fraction) in a time field or a time column.
    EpochSeconds,
    /// Epoch milliseconds in a time field or a time column.
    EpochMillis,
    /// Epoch microseconds in a time field or a time column.
    EpochMicros,
    /// Epoch nanoseconds in a time field or a time column.
    EpochNanos,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Rfc3339 => "rfc3339",
            Format::Iso8601 => "iso8601",
            Format::Go => "go",
            Format::YearMonthDay => "y-m-d",
            Format::DayMonthYear => "d-m-y",
            Format::MonthDayYear => "m-d-y",
            Format::ShortYear => "yy/mm/dd",
            Format::Compact => "yymmdd",
            Format::Logcat => "logcat",
            Format::Klog => "klog",
            Format::Clf => "clf",
            Format::Syslog => "syslog",
            Format::Ctime => "ctime",
            Format::Rfc2822 => "rfc2822",
            Format::NamedMonth => "named_month",
            Format::EpochSeconds => "epoch_s",
            Format::EpochMillis => "epoch_ms",
            Format::EpochMicros => "epoch_us",
            Format::EpochNanos => "epoch_ns",
        }
    }

    fn is_epoch(self) -> bool {
        matches!(self, Format::EpochSeconds | Format::EpochMillis | Format::EpochMicros | Format::EpochNanos)
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
    /// The text named an ambiguous zone abbreviation (`IST`, `CST`), read by the rule of
    /// [`zone_abbreviation`].
    pub ambiguous_zone: bool,
    /// Where the year came from when the text had none.
    pub year: Option<YearSource>,
}

impl Found {
    /// The year was a guess: no window, input or line gave one.
    pub fn assumed_year(&self) -> bool {
        self.year == Some(YearSource::Assumed)
    }

    fn epoch(instant: Instant, span: Range<usize>, format: Format) -> Self {
        Found { instant, span, format, assumed_zone: false, ambiguous_zone: false, year: None }
    }
}

/// Finds embedded timestamps, remembering per stream where and in which layout the
/// previous line's time was, so that the common case (every line of a stream alike) is
/// one parse attempt; and which of day and month comes first in its numeric dates,
/// decided once by the first date whose day is above 12.
#[derive(Clone, Debug)]
pub struct Finder {
    context: TimeContext,
    /// The zone's offset when it has only one, so zone-less times need no tz lookup.
    fixed_offset_seconds: Option<i32>,
    /// What year-less times take their year from, in Unix seconds: the window, else the
    /// other inputs' span.
    reference: Option<((i64, i64), YearSource)>,
    /// The reference spans less than a year, so at most one year puts a date inside it.
    reference_short: bool,
    /// Layout and byte offset of the previous line's timestamp.
    last: Option<(Format, usize)>,
    /// The year the previous year-less timestamp took, and from where.
    last_year: Option<(i32, YearSource)>,
    /// The previous full-dated instant of the stream, Unix seconds.
    last_dated_second: Option<i64>,
    /// The stream's numeric dates put the day first (`Some(true)`) or the month.
    day_first: Option<bool>,
    /// Year-less lines looked at for a full date later in the line, and how many had one;
    /// a stream whose first lines never do is not searched again.
    line_years: (u32, u32),
    /// The bytes before the previous line's timestamp when it was not at the start and
    /// nothing before it parsed (a `[pod/…]` or file-name prefix); at most
    /// [`MAX_REMEMBERED_PREFIX`] bytes.
    last_prefix: Vec<u8>,
}

/// Longest line prefix remembered as holding no timestamp.
const MAX_REMEMBERED_PREFIX: usize = 128;

/// How far from the evidence an epoch in a time field may be (a year: a field named like
/// a time holds one, but not a counter that happens to have ten digits).
const FIELD_EPOCH_SLACK_SECONDS: i64 = 366 * SECONDS_PER_DAY;

impl Finder {
    pub fn new(context: TimeContext) -> Self {
        let fixed_offset_seconds = context.zone.to_fixed_offset().ok().map(Offset::seconds);
        let ordered = |(start, end): (Instant, Instant)| {
            let (start, end) = if start <= end { (start, end) } else { (end, start) };
            (start.as_second(), end.as_second())
        };
        let reference = match (context.window, context.evidence) {
            (Some(window), _) => Some((
                ordered(window),
                if context.window_year_assumed { YearSource::Assumed } else { YearSource::Window },
            )),
            (None, Some(evidence)) => Some((ordered(evidence), YearSource::Evidence)),
            (None, None) => None,
        };
        let reference_short = reference.is_some_and(|((start, end), _)| end - start < 365 * SECONDS_PER_DAY);
        Finder {
            context,
            fixed_offset_seconds,
            reference,
            reference_short,
            last: None,
            last_year: None,
            last_dated_second: None,
            day_first: None,
            line_years: (0, 0),
            last_prefix: Vec::new(),
        }
    }

    pub fn context(&self) -> &TimeContext {
        &self.context
    }

    /// Whether the stream's numeric dates were found to put the day first, the month first,
    /// or neither yet.
    pub fn day_first(&self) -> Option<bool> {
        self.day_first
    }

    /// The first embedded timestamp of `line`, if any; the line's leading time wins over
    /// times inside its message.
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
            if position < bytes.len() && is_candidate_start(bytes, position) {
                let found = if format.is_epoch() {
                    self.try_epoch_column(bytes, position)
                } else {
                    parse_format(format, bytes, position, self.day_first)
                        .and_then(|parsed| self.resolve(bytes, &parsed, position))
                };
                if let Some(found) = found {
                    if position > 0 && !prefix_known && position <= MAX_REMEMBERED_PREFIX {
                        self.last_prefix.clear();
                        self.last_prefix.extend_from_slice(&bytes[..position]);
                    }
                    return Some(found);
                }
            }
            return self.scan(bytes, position.min(bytes.len()), bytes.len());
        }
        self.scan(bytes, 0, bytes.len())
    }

    /// The first timestamp starting in `from..to`.
    ///
    /// Every text layout with a clock has its `h:mm:ss` within [`MAX_LEAD`] bytes of its
    /// start, and an epoch without a date needs a `key=` or the line's first column, so
    /// instead of trying every byte the scan tries the line's start, then jumps between
    /// `:`…`:` pairs and `=` signs and tries only the bytes just before a pair.
    /// Lines without a time (stack traces, continuations) then cost about one `memchr`.
    fn scan(&mut self, bytes: &[u8], from: usize, to: usize) -> Option<Found> {
        if from >= to {
            return None;
        }
        // The line's leading time, which need not have a colon (`250209 100523`,
        // `20250209T100523Z`, an epoch column).
        if from == 0 {
            let lead = leading_start(bytes);
            if lead < to
                && let Some(found) = self.try_start(bytes, lead)
            {
                return Some(found);
            }
            if lead < to
                && bytes[lead].is_ascii_digit()
                && let Some(found) = self.try_epoch_column(bytes, lead)
            {
                return Some(found);
            }
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
                    && let Some(found) = self.try_start(bytes, value).or_else(|| self.try_field_epoch(bytes, value))
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
            if CLASS[bytes[position] as usize] != 0
                && is_candidate_start(bytes, position)
                && let Some(found) = self.try_start(bytes, position)
            {
                return Some(found);
            }
            position += 1;
        }
        None
    }

    fn try_start(&mut self, bytes: &[u8], start: usize) -> Option<Found> {
        let parsed = parse_at(bytes, start, self.day_first)?;
        self.resolve(bytes, &parsed, start)
    }

    /// A bare number as the value of a time key: an epoch when its digit count fits a unit
    /// and it lies within a year of the evidence.
    fn try_field_epoch(&mut self, bytes: &[u8], start: usize) -> Option<Found> {
        let end = number_end(bytes, start);
        let (instant, format) = parse_epoch(&bytes[start..end])?;
        if !self.epoch_fits(instant, FIELD_EPOCH_SLACK_SECONDS) {
            return None;
        }
        self.last = None;
        Some(Found::epoch(instant, start..end, format))
    }

    /// A bare number as a line's first column (`1709648521.123 GET /`): an epoch only with
    /// 10, 13, 16 or 19 digits, inside the window (or within a day of the other evidence),
    /// or, with no evidence at all, when the previous line had one in the same column.
    fn try_epoch_column(&mut self, bytes: &[u8], start: usize) -> Option<Found> {
        let end = number_end(bytes, start);
        if bytes.get(end).is_some_and(|byte| !matches!(byte, b' ' | b'\t' | b']' | b',' | b'|' | b';' | b')')) {
            return None;
        }
        let text = &bytes[start..end];
        if text.iter().any(|byte| !byte.is_ascii_digit() && *byte != b'.') {
            return None;
        }
        let (instant, format) = parse_epoch(text)?;
        let fits = match self.reference {
            Some(((first, last), YearSource::Window)) => (first..=last).contains(&instant.as_second()),
            Some(_) => self.epoch_fits(instant, SECONDS_PER_DAY),
            None => self.last.is_some_and(|(format, position)| format.is_epoch() && position == start),
        };
        if !fits {
            self.last = Some((format, start));
            return None;
        }
        self.last = Some((format, start));
        Some(Found::epoch(instant, start..end, format))
    }

    /// Whether an epoch lies within `slack` of the window or evidence (any, without both).
    fn epoch_fits(&self, instant: Instant, slack: i64) -> bool {
        match self.reference {
            Some(((first, last), _)) => {
                (first.saturating_sub(slack)..=last.saturating_add(slack)).contains(&instant.as_second())
            }
            None => true,
        }
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
                    return self
                        .epoch_fits(instant, FIELD_EPOCH_SLACK_SECONDS)
                        .then(|| Found::epoch(instant, content, format));
                }
                // Cut the line at the closing quote so no parser reads past the string.
                let saved = self.last.take();
                let found = self.scan(&bytes[..close], content.start, close);
                self.last = saved;
                found
            }
            b'{' => {
                // MongoDB's extended JSON: `{"$date": …}`.
                let key = skip_whitespace(bytes, start + 1);
                if bytes.get(key..key + 7) != Some(b"\"$date\"") {
                    return None;
                }
                let colon = skip_whitespace(bytes, key + 7);
                expect(bytes, colon, b':')?;
                let value = skip_whitespace(bytes, colon + 1);
                if bytes.get(value) == Some(&b'{') {
                    return None;
                }
                self.json_value(bytes, value)
            }
            byte if byte.is_ascii_digit() => {
                let end = number_end(bytes, start);
                let (instant, format) = parse_epoch(&bytes[start..end])?;
                self.epoch_fits(instant, FIELD_EPOCH_SLACK_SECONDS).then(|| Found::epoch(instant, start..end, format))
            }
            _ => None,
        }
    }

    /// Turns parsed fields into an instant, or `None` for an impossible date.
    fn resolve(&mut self, bytes: &[u8], parsed: &Parsed, start: usize) -> Option<Found> {
        let civil = &parsed.civil;
        if !(1..=12).contains(&civil.month)
            || civil.day == 0
            || civil.hour > 23
            || civil.minute > 59
            || civil.second > 60
        {
            return None;
        }
        let (instant, year) = match civil.year {
            Some(year) => {
                if civil.day > days_in_month(year, civil.month) {
                    return None;
                }
                let instant = self.instant_in_year(civil, year)?;
                self.last_dated_second = Some(instant.as_second());
                (instant, None)
            }
            None => {
                if civil.day > days_in_month(2000, civil.month) {
                    return None;
                }
                let (instant, source) = self.instant_for_year_less(bytes, civil, parsed.end)?;
                (instant, Some(source))
            }
        };
        if let Some(evidence) = parsed.order_evidence
            && self.day_first.is_none()
        {
            self.day_first = Some(evidence);
        }
        self.last = Some((parsed.format, start));
        Some(Found {
            instant,
            span: start..parsed.end,
            format: parsed.format,
            assumed_zone: civil.offset_seconds.is_none(),
            ambiguous_zone: civil.ambiguous_zone,
            year,
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

    /// The year of a year-less time, from the strongest evidence there is: a full date
    /// later in the same line, the window, the draft's other inputs, the stream's previous
    /// dated line; else [`TimeContext::fallback_until`] (flagged as assumed).
    fn instant_for_year_less(&mut self, bytes: &[u8], civil: &Civil, end: usize) -> Option<(Instant, YearSource)> {
        // A line that quotes its own full date (HAProxy's accept date and log time, a
        // message repeating the stamp) knows its year best. Looked for on a stream's first
        // lines, and after only while some had one, so plain syslog pays nothing.
        let (tried, had) = self.line_years;
        if (tried < 64 || had > 0) && end < bytes.len() {
            self.line_years.0 = tried.saturating_add(1);
            let saved = (self.last, self.last_year, self.last_dated_second, self.line_years);
            self.last = None;
            // No year-less time inside the rest is read for its year (and none recurses).
            self.line_years = (u32::MAX, 0);
            let dated = self.scan(bytes, end, bytes.len()).filter(|found| found.year.is_none());
            (self.last, self.last_year, self.last_dated_second, self.line_years) = saved;
            // Only a date that is the same moment (within a day or two) gives the line its year:
            // a message quoting another date ("restoring a snapshot taken 2019-06-01") does
            // not, and does not keep the search going on later lines either.
            let second = dated.map(|dated| dated.instant.as_second());
            let same_moment = second
                .and_then(|second| self.nearest_year(civil, (second, second), false).map(|found| (found, second)))
                .filter(|((instant, _), second)| (instant.as_second() - second).abs() <= LINE_YEAR_AGREEMENT_SECONDS);
            if let Some(((instant, _), _)) = same_moment {
                self.line_years.1 = self.line_years.1.saturating_add(1);
                return Some((instant, YearSource::Line));
            }
        }
        if let Some((span, source)) = self.reference {
            let (instant, year) = self.nearest_year(civil, span, self.reference_short)?;
            self.last_year = Some((year, source));
            return Some((instant, source));
        }
        if let Some(second) = self.last_dated_second {
            let (instant, year) = self.nearest_year(civil, (second, second), false)?;
            self.last_year = Some((year, YearSource::Stream));
            return Some((instant, YearSource::Stream));
        }
        // The latest year that keeps the time no later than its file was written (a Dec 10
        // line in a file saved on Dec 2 is last year's); Feb 29 takes the leap year before.
        let until = self.context.fallback_until;
        let latest = until.map_or(NO_EVIDENCE_YEAR, |until| i32::from(self.context.zone.to_datetime(until).year()));
        let instant = (0..5)
            .filter_map(|back| self.instant_in_year(civil, latest - back))
            .find(|instant| until.is_none_or(|until| *instant <= until))?;
        Some((instant, YearSource::Assumed))
    }

    /// The year that puts a year-less time inside (or nearest to) `start..=end`; among
    /// several inside a long span, the one nearest its end. With `reuse`, the year the
    /// previous line took is tried first.
    fn nearest_year(&self, civil: &Civil, (start, end): (i64, i64), reuse: bool) -> Option<(Instant, i32)> {
        if reuse
            && let Some((year, _)) = self.last_year
            && let Some(instant) = self.instant_in_year(civil, year)
            && (start..=end).contains(&instant.as_second())
        {
            return Some((instant, year));
        }
        let (start_year, end_year) = (civil_from_unix(start).0, civil_from_unix(end).0);
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
        best.map(|(_, year, instant)| (instant, year))
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
    /// The zone was an ambiguous abbreviation, read by a rule.
    ambiguous_zone: bool,
}

/// A format that matched at some start: its fields and the end of its text.
#[derive(Clone, Copy, Debug)]
struct Parsed {
    civil: Civil,
    format: Format,
    end: usize,
    /// A numeric date showed which of day and month comes first (see [`DatePart`]).
    order_evidence: Option<bool>,
}

/// Re-parses a remembered layout at a known start: the grammar again, which is one
/// dispatch on the first bytes, so a remembered start costs what one parse costs.
fn parse_format(format: Format, bytes: &[u8], start: usize, day_first: Option<bool>) -> Option<Parsed> {
    match format {
        Format::Compact if start != 0 => None,
        Format::EpochSeconds | Format::EpochMillis | Format::EpochMicros | Format::EpochNanos => None,
        // The most common layouts straight to their branch of the grammar.
        Format::Rfc3339 | Format::Iso8601 => match parse_iso(bytes, start) {
            Some(parsed) if !(bytes.get(parsed.end) == Some(&b' ') && am_pm(bytes, parsed.end + 1).is_some()) => {
                Some(parsed)
            }
            _ => parse_at(bytes, start, day_first),
        },
        Format::Syslog | Format::NamedMonth => finish(bytes, month_first_date(bytes, start, None)?),
        Format::Klog => finish(bytes, klog_date(bytes, start)?),
        _ => parse_at(bytes, start, day_first),
    }
}

/// Reads a timestamp starting at `start` by the grammar
/// `[weekday] date joining time [am/pm] [zone] [year]`:
///
/// - dates: `Y-M-D`, `Y/M/D`, `Y.M.D`, `YYYYMMDD`, `D/M/Y` or `M/D/Y` (`/`, `.` or `-`;
///   which of the two by `day_first`, see [`Finder`]), `yy/mm/dd`, `D-Mon-Y` (any of
///   `-`, `/`, space), `D Mon`, `Mon D[,] [Y]` with names short or long, `MM-DD` (logcat),
///   `MM/DD-` (Snort), klog's `LMMDD` and glog's `LYYYYMMDD`; a weekday may come first;
/// - joinings: `T`, spaces, a tab, `-`, `_`, `:`, `::`, `, `;
/// - times: `H:MM[:SS]`, a fraction after `.`, `,` or `:` (three to nine digits), `AM`/`PM`;
///   after a compact date and `T` also `hhmmss`;
/// - zones: `Z`, `±hh`, `±hhmm`, `±hh:mm`, abbreviations ([`zone_abbreviation`]),
///   `UTC±…`/`GMT±…`; a year may follow the time when the date had none (`ctime`).
fn parse_at(bytes: &[u8], start: usize, day_first: Option<bool>) -> Option<Parsed> {
    let first = *bytes.get(start)?;
    if first.is_ascii_digit() {
        let run = digit_run(bytes, start, 21);
        if run == 4 && bytes.get(start + 4) == Some(&b'-') {
            // The common case first: fixed-width ISO 8601 (unless a 12-hour clock's marker
            // follows, which the grammar reads).
            if let Some(parsed) = parse_iso(bytes, start)
                && !(bytes.get(parsed.end) == Some(&b' ') && am_pm(bytes, parsed.end + 1).is_some())
            {
                return Some(parsed);
            }
        }
        if run == 6 && start == 0 && bytes.get(6) == Some(&b' ') {
            return parse_compact(bytes, start);
        }
        let date = digit_date(bytes, start, run, day_first)?;
        finish(bytes, date)
    } else {
        let date = letter_date(bytes, start)?;
        finish(bytes, date)
    }
}

/// A date read by the grammar: its fields, where it ends, and what may join its time.
#[derive(Clone, Copy, Debug)]
struct DatePart {
    year: Option<i32>,
    month: u8,
    day: u8,
    end: usize,
    format: Format,
    /// `T` may join the time (ISO-like dates).
    iso: bool,
    /// A compact date (`YYYYMMDD`): after `T` the time may be compact too.
    compact: bool,
    /// klog/glog: exactly one space, then the time, then a space.
    klog: bool,
    /// A `D/M/Y` or `M/D/Y` date whose first or second number exceeded 12: `Some(true)`
    /// when the day came first.
    order_evidence: Option<bool>,
}

impl DatePart {
    fn new(year: Option<i32>, month: u8, day: u8, end: usize, format: Format) -> Self {
        DatePart { year, month, day, end, format, iso: false, compact: false, klog: false, order_evidence: None }
    }
}

fn digit_date(bytes: &[u8], start: usize, run: usize, day_first: Option<bool>) -> Option<DatePart> {
    let next = bytes.get(start + run).copied();
    match (run, next) {
        (4, Some(separator @ (b'-' | b'/' | b'.'))) => {
            let year = digits(bytes, start, 4)?;
            let (month, after_month) = one_or_two_digits(bytes, start + 5)?;
            expect(bytes, after_month, separator)?;
            let (day, end) = one_or_two_digits(bytes, after_month + 1)?;
            let format = match separator {
                b'-' => Format::Iso8601,
                b'/' => Format::Go,
                _ => Format::YearMonthDay,
            };
            let mut date = DatePart::new(Some(year as i32), month, day, end, format);
            date.iso = separator == b'-';
            Some(date)
        }
        (8, _) => {
            let year = digits(bytes, start, 4)?;
            let month = digits(bytes, start + 4, 2)? as u8;
            let day = digits(bytes, start + 6, 2)? as u8;
            let mut date = DatePart::new(Some(year as i32), month, day, start + 8, Format::YearMonthDay);
            date.iso = true;
            date.compact = true;
            Some(date)
        }
        (1 | 2, Some(separator @ (b'/' | b'.' | b'-'))) => {
            let first = digits(bytes, start, run)?;
            let second_start = start + run + 1;
            if let Some((month, after_month)) = month_name(bytes, second_start) {
                // `05-Mar-2024`, `05/Mar/2024` (CLF), `5-Mar-2024` (Erlang).
                expect(bytes, after_month, separator)?;
                let year_run = digit_run(bytes, after_month + 1, 5);
                let year = match year_run {
                    4 => digits(bytes, after_month + 1, 4)? as i32,
                    2 => two_digit_year(digits(bytes, after_month + 1, 2)?),
                    _ => return None,
                };
                return Some(DatePart::new(Some(year), month, first as u8, after_month + 1 + year_run, Format::Clf));
            }
            let (second, after_second) = one_or_two_digits(bytes, second_start)?;
            if bytes.get(after_second) != Some(&separator) {
                // `MM-DD hh:mm:ss` (logcat), year-less.
                if separator == b'-' && run == 2 && after_second == second_start + 2 {
                    return Some(DatePart::new(None, first as u8, second, after_second, Format::Logcat));
                }
                // `MM/DD-hh:mm:ss` (Snort's fast alerts without `-y`), year-less, month first.
                if separator == b'/'
                    && run == 2
                    && after_second == second_start + 2
                    && bytes.get(after_second) == Some(&b'-')
                {
                    return Some(DatePart::new(None, first as u8, second, after_second, Format::MonthDayYear));
                }
                return None;
            }
            let third_start = after_second + 1;
            match digit_run(bytes, third_start, 5) {
                4 => {
                    let year = digits(bytes, third_start, 4)? as i32;
                    let (first, second) = (first as u8, second);
                    let evidence = if first > 12 {
                        Some(true)
                    } else if second > 12 {
                        Some(false)
                    } else {
                        None
                    };
                    // NB: without evidence in the line or the stream, `/` is read month first
                    // (US, Windows) and `.` and `-` day first (most of Europe and Asia).
                    let day_is_first = evidence.or(day_first).unwrap_or(separator != b'/');
                    let (month, day, format) = if day_is_first {
                        (second, first, Format::DayMonthYear)
                    } else {
                        (first, second, Format::MonthDayYear)
                    };
                    let mut date = DatePart::new(Some(year), month, day, third_start + 4, format);
                    date.order_evidence = evidence;
                    Some(date)
                }
                // `yy/mm/dd` (log4j's default in Spark): two digits everywhere.
                2 if separator == b'/' && run == 2 && after_second == second_start + 2 => {
                    let day = digits(bytes, third_start, 2)? as u8;
                    Some(DatePart::new(Some(two_digit_year(first)), second, day, third_start + 2, Format::ShortYear))
                }
                _ => None,
            }
        }
        (1 | 2, Some(b' ')) => day_month_year(bytes, start, run),
        _ => None,
    }
}

/// `D Mon YYYY` (RFC 2822, Redis) at `start`, whose day has `run` digits.
fn day_month_year(bytes: &[u8], start: usize, run: usize) -> Option<DatePart> {
    let day = digits(bytes, start, run)? as u8;
    let month_start = skip_spaces(bytes, start + run);
    let (month, after_month) = month_name(bytes, month_start)?;
    expect(bytes, after_month, b' ')?;
    if digit_run(bytes, after_month + 1, 5) != 4 {
        // `5 Mar 14:22:01` (ntpd, some BSD daemons): year-less, the time follows.
        return Some(DatePart::new(None, month, day, after_month, Format::Syslog));
    }
    let year = digits(bytes, after_month + 1, 4)? as i32;
    Some(DatePart::new(Some(year), month, day, after_month + 5, Format::Rfc2822))
}

fn letter_date(bytes: &[u8], start: usize) -> Option<DatePart> {
    if matches!(bytes[start], b'I' | b'W' | b'E' | b'F')
        && let Some(date) = klog_date(bytes, start)
    {
        return Some(date);
    }
    let (weekday_end, month_start) = match weekday_name(bytes, start) {
        Some(end) => {
            let after = if bytes.get(end) == Some(&b',') { end + 1 } else { end };
            let next = skip_spaces(bytes, after);
            if next == after {
                return None;
            }
            if bytes.get(next).is_some_and(u8::is_ascii_digit) {
                // `Sun, 09 Feb 2025 …`: RFC 2822 with its weekday.
                let run = digit_run(bytes, next, 3);
                return day_month_year(bytes, next, run);
            }
            (Some(end), next)
        }
        None => (None, start),
    };
    month_first_date(bytes, month_start, weekday_end)
}

/// klog's `LMMDD` or glog's `LYYYYMMDD` (`L` a severity letter).
fn klog_date(bytes: &[u8], start: usize) -> Option<DatePart> {
    let run = digit_run(bytes, start + 1, 9);
    let (year, rest) = match run {
        4 => (None, start + 1),
        8 => (Some(digits(bytes, start + 1, 4)? as i32), start + 5),
        _ => return None,
    };
    let month = digits(bytes, rest, 2)? as u8;
    let day = digits(bytes, rest + 2, 2)? as u8;
    let mut date = DatePart::new(year, month, day, rest + 4, Format::Klog);
    date.klog = true;
    Some(date)
}

/// `Mon D`, `Mon D, YYYY`, `Mon-D-YYYY` from `month_start`; `weekday_end` when a weekday
/// came first.
fn month_first_date(bytes: &[u8], month_start: usize, weekday_end: Option<usize>) -> Option<DatePart> {
    let (month, after_month) = month_name(bytes, month_start)?;
    let after_month = if bytes.get(after_month) == Some(&b'.') { after_month + 1 } else { after_month };
    let day_start = match bytes.get(after_month) {
        Some(b' ') => skip_spaces(bytes, after_month),
        Some(b'-' | b'/') => after_month + 1,
        _ => return None,
    };
    if day_start > after_month + 2 {
        return None;
    }
    let (day, mut end) = one_or_two_digits(bytes, day_start)?;
    if bytes.get(end).is_some_and(|byte| byte.is_ascii_alphabetic()) {
        // `Mar 5th`.
        if matches!(bytes.get(end..end + 2), Some(b"st" | b"nd" | b"rd" | b"th")) {
            end += 2;
        } else {
            return None;
        }
    }
    // A year may follow the day: `Mar 5, 2024`, `Mar 05 2024`, `Mar-05-2024`.
    let year_start = match bytes.get(end) {
        Some(b',') if bytes.get(end + 1) == Some(&b' ') => Some(end + 2),
        Some(b' ' | b'-' | b'/') => Some(end + 1),
        _ => None,
    };
    let mut year = None;
    if let Some(year_start) = year_start
        && digit_run(bytes, year_start, 5) == 4
    {
        year = Some(digits(bytes, year_start, 4)? as i32);
        end = year_start + 4;
    }
    let format = match (year, weekday_end) {
        (Some(_), _) => Format::NamedMonth,
        (None, Some(_)) => Format::Ctime,
        (None, None) => Format::Syslog,
    };
    Some(DatePart::new(year, month, day, end, format))
}

/// Joins a date to its time, reads the time, an am/pm marker, a zone and (for dates without
/// one) a trailing year.
fn finish(bytes: &[u8], date: DatePart) -> Option<Parsed> {
    let end = date.end;
    let (time_start, compact_time) = if date.klog {
        (expect(bytes, end, b' ').map(|()| end + 1)?, false)
    } else {
        match *bytes.get(end)? {
            b'T' | b't' if date.iso => (end + 1, date.compact),
            b' ' => {
                let next = skip_spaces(bytes, end);
                (if next - end > 3 { return None } else { next }, false)
            }
            // W3C extended logs as CloudFront writes them: `date<TAB>time`.
            b'\t' => (end + 1, false),
            b':' if bytes.get(end + 1) == Some(&b':') => (end + 2, false),
            b':' | b'_' | b'-' => (end + 1, false),
            b',' if bytes.get(end + 1) == Some(&b' ') => (end + 2, false),
            _ => return None,
        }
    };
    let time = parse_time(bytes, time_start, compact_time)?;
    let mut civil = Civil {
        year: date.year,
        month: date.month,
        day: date.day,
        hour: time.hour,
        minute: time.minute,
        second: time.second,
        nanosecond: time.nanosecond,
        ..Civil::default()
    };
    let mut end = time.end;
    if date.klog {
        expect(bytes, end, b' ')?;
        return Some(Parsed { civil, format: Format::Klog, end, order_evidence: None });
    }
    let zone = parse_zone_suffix(bytes, end, true);
    civil.offset_seconds = zone.offset_seconds;
    civil.ambiguous_zone = zone.ambiguous;
    end = zone.end;
    let mut format = date.format;
    if civil.year.is_none()
        && bytes.get(end) == Some(&b' ')
        && digit_run(bytes, end + 1, 5) == 4
        && !bytes.get(end + 5).is_some_and(u8::is_ascii_alphanumeric)
    {
        civil.year = Some(digits(bytes, end + 1, 4)? as i32);
        end += 5;
        format = Format::Ctime;
    }
    if matches!(format, Format::Iso8601) && date.iso && bytes.get(date.end) != Some(&b' ') {
        format = Format::YearMonthDay;
    }
    if matches!(format, Format::Iso8601 | Format::YearMonthDay) && matches!(bytes.get(date.end), Some(b'T' | b't')) {
        format = if date.compact { Format::YearMonthDay } else { Format::Rfc3339 };
    }
    Some(Parsed { civil, format, end, order_evidence: date.order_evidence })
}

/// A time of day as read by [`parse_time`].
struct TimeOfDay {
    hour: u8,
    minute: u8,
    second: u8,
    nanosecond: u32,
    end: usize,
}

/// `H:MM[:SS][fraction][ AM|PM]`, or with `compact` also `hhmm[ss][fraction]`. The time
/// ends at a non-digit: `10:05:234` is no time.
fn parse_time(bytes: &[u8], start: usize, compact: bool) -> Option<TimeOfDay> {
    let hour_run = digit_run(bytes, start, 7);
    let (hour, minute, mut second, mut end, has_seconds) =
        if (1..=2).contains(&hour_run) && bytes.get(start + hour_run) == Some(&b':') {
            let hour = digits(bytes, start, hour_run)? as u8;
            let minute_start = start + hour_run + 1;
            if digit_run(bytes, minute_start, 3) != 2 {
                return None;
            }
            let minute = digits(bytes, minute_start, 2)? as u8;
            let after_minute = minute_start + 2;
            if bytes.get(after_minute) == Some(&b':') && digit_run(bytes, after_minute + 1, 3) == 2 {
                (hour, minute, digits(bytes, after_minute + 1, 2)? as u8, after_minute + 3, true)
            } else {
                (hour, minute, 0, after_minute, false)
            }
        } else if compact && (hour_run == 4 || hour_run == 6) {
            let hour = digits(bytes, start, 2)? as u8;
            let minute = digits(bytes, start + 2, 2)? as u8;
            let second = if hour_run == 6 { digits(bytes, start + 4, 2)? as u8 } else { 0 };
            (hour, minute, second, start + hour_run, hour_run == 6)
        } else {
            return None;
        };
    let mut nanosecond = 0;
    if has_seconds {
        let (fraction, fraction_end) = parse_fraction(bytes, end)?;
        nanosecond = fraction;
        end = fraction_end;
    } else if bytes.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut hour = hour;
    let marker = if bytes.get(end) == Some(&b' ') { end + 1 } else { end };
    if let Some(pm) = am_pm(bytes, marker) {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
        end = marker + 2;
    }
    if !has_seconds {
        second = 0;
    }
    Some(TimeOfDay { hour, minute, second, nanosecond, end })
}

/// `AM`/`PM` (either case) at `start`, not followed by a letter or digit: `Some(true)` for PM.
fn am_pm(bytes: &[u8], start: usize) -> Option<bool> {
    let pair = bytes.get(start..start + 2)?;
    let pm = match [pair[0].to_ascii_uppercase(), pair[1].to_ascii_uppercase()] {
        [b'A', b'M'] => false,
        [b'P', b'M'] => true,
        _ => return None,
    };
    if bytes.get(start + 2).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    Some(pm)
}

/// One or two digits at `start` (not three): their value and the index after them.
fn one_or_two_digits(bytes: &[u8], start: usize) -> Option<(u8, usize)> {
    match digit_run(bytes, start, 3) {
        run @ (1 | 2) => Some((digits(bytes, start, run)? as u8, start + run)),
        _ => None,
    }
}

/// A month name at `start` (`Mar`, `MAR`, `March`; a capital first): its number and the
/// index after the name. Not followed by another letter.
fn month_name(bytes: &[u8], start: usize) -> Option<(u8, usize)> {
    let index = match capitalized_head(bytes, start)? {
        [b'j', b'a', b'n'] => 0,
        [b'f', b'e', b'b'] => 1,
        [b'm', b'a', b'r'] => 2,
        [b'a', b'p', b'r'] => 3,
        [b'm', b'a', b'y'] => 4,
        [b'j', b'u', b'n'] => 5,
        [b'j', b'u', b'l'] => 6,
        [b'a', b'u', b'g'] => 7,
        [b's', b'e', b'p'] => 8,
        [b'o', b'c', b't'] => 9,
        [b'n', b'o', b'v'] => 10,
        [b'd', b'e', b'c'] => 11,
        _ => return None,
    };
    let end = name_end(bytes, start, MONTH_NAMES[index].as_bytes())?;
    Some((index as u8 + 1, end))
}

/// A weekday name at `start` (`Tue`, `TUE`, `Tuesday`): the index after it.
fn weekday_name(bytes: &[u8], start: usize) -> Option<usize> {
    let index = match capitalized_head(bytes, start)? {
        [b'm', b'o', b'n'] => 0,
        [b't', b'u', b'e'] => 1,
        [b'w', b'e', b'd'] => 2,
        [b't', b'h', b'u'] => 3,
        [b'f', b'r', b'i'] => 4,
        [b's', b'a', b't'] => 5,
        [b's', b'u', b'n'] => 6,
        _ => return None,
    };
    name_end(bytes, start, WEEKDAY_NAMES[index].as_bytes())
}

/// The three bytes at `start` in lower case, when the first is a capital letter. `| 0x20`
/// lowers letters and maps no other byte onto a letter.
fn capitalized_head(bytes: &[u8], start: usize) -> Option<[u8; 3]> {
    let head = bytes.get(start..start + 3)?;
    head[0].is_ascii_uppercase().then(|| [head[0] | 0x20, head[1] | 0x20, head[2] | 0x20])
}

/// The end of a name written by its first three letters or in full (any case).
fn name_end(bytes: &[u8], start: usize, full: &[u8]) -> Option<usize> {
    let mut end = start + 3;
    if !bytes.get(end).is_some_and(u8::is_ascii_alphabetic) {
        return Some(end);
    }
    let rest = &bytes[end..];
    let tail = &full[3..];
    if !tail.is_empty() && rest.len() >= tail.len() && rest[..tail.len()].eq_ignore_ascii_case(tail) {
        end += tail.len();
    }
    if bytes.get(end).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    Some(end)
}

const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const WEEKDAY_NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

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
    let zone = parse_zone_suffix(bytes, end, true);
    let end = zone.end;
    let civil = Civil {
        year: Some((digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3)) as i32),
        month: pair(5),
        day: pair(8),
        hour: pair(11),
        minute: pair(14),
        second: pair(17),
        nanosecond,
        offset_seconds: zone.offset_seconds,
        ambiguous_zone: zone.ambiguous,
    };
    Some(Parsed { civil, format, end, order_evidence: None })
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
    Some(Parsed { civil, format: Format::Compact, end, order_evidence: None })
}

/// An optional fraction after the seconds at `start`: `.` or `,` and any digits, or `:` and
/// three to nine (`14:22:01:123`, log4j's `HH:mm:ss:SSS`): its nanoseconds and the end of
/// the time. `None` when a digit follows the seconds directly (`10:05:234`).
fn parse_fraction(bytes: &[u8], start: usize) -> Option<(u32, usize)> {
    match bytes.get(start) {
        Some(b'.' | b',') if bytes.get(start + 1).is_some_and(u8::is_ascii_digit) => {
            Some(parse_fraction_digits(bytes, start + 1))
        }
        Some(b':') if (3..=9).contains(&digit_run(bytes, start + 1, 10)) => {
            Some(parse_fraction_digits(bytes, start + 1))
        }
        Some(byte) if byte.is_ascii_digit() => None,
        _ => Some((0, start)),
    }
}

/// The digits of a fraction from `start`: its nanoseconds and its end. Digits past the
/// ninth are below a nanosecond: read and dropped.
fn parse_fraction_digits(bytes: &[u8], start: usize) -> (u32, usize) {
    const SCALE: [u32; 10] = [1_000_000_000, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    let mut end = start;
    let mut value = 0u32;
    let mut n_digits = 0usize;
    while let Some(byte) = bytes.get(end).filter(|byte| byte.is_ascii_digit()) {
        if n_digits < 9 {
            value = value * 10 + u32::from(byte - b'0');
            n_digits += 1;
        }
        end += 1;
    }
    (value * SCALE[n_digits], end)
}

/// A zone read after a time by [`parse_zone_suffix`].
#[derive(Clone, Copy, Debug)]
struct ZoneSuffix {
    offset_seconds: Option<i32>,
    /// An abbreviation with more than one meaning, read by the rule of [`zone_abbreviation`].
    ambiguous: bool,
    end: usize,
}

/// A zone right after a time: `Z`, `±hh`, `±hhmm`, `±hh:mm`; with `allow_space` also
/// one space before `±hhmm` / `±hh:mm` or a zone abbreviation (`UTC`, `CET`, `GMT+8`,
/// `UTC+01:00`). No zone: `offset_seconds` is `None` and `end` is `start`.
fn parse_zone_suffix(bytes: &[u8], start: usize, allow_space: bool) -> ZoneSuffix {
    let none = ZoneSuffix { offset_seconds: None, ambiguous: false, end: start };
    let numeric = |sign: usize, hours_only: bool| match numeric_offset(bytes, sign, hours_only) {
        Some((offset, end)) => ZoneSuffix { offset_seconds: Some(offset), ambiguous: false, end },
        None => none,
    };
    match bytes.get(start) {
        Some(b'Z' | b'z') if !bytes.get(start + 1).is_some_and(u8::is_ascii_alphanumeric) => {
            ZoneSuffix { offset_seconds: Some(0), ambiguous: false, end: start + 1 }
        }
        Some(b'+' | b'-') => numeric(start, true),
        Some(b' ') if allow_space => match bytes.get(start + 1) {
            Some(b'+' | b'-') => match numeric_offset(bytes, start + 1, false) {
                Some((offset, end)) => ZoneSuffix { offset_seconds: Some(offset), ambiguous: false, end },
                None => none,
            },
            Some(byte) if byte.is_ascii_uppercase() => zone_word(bytes, start + 1).unwrap_or(none),
            _ => none,
        },
        _ => none,
    }
}

/// An abbreviation at `start`, and for `UTC`/`GMT`/`UT` an offset written right after it.
fn zone_word(bytes: &[u8], start: usize) -> Option<ZoneSuffix> {
    let mut end = start;
    while end - start < 6 && bytes.get(end).is_some_and(u8::is_ascii_uppercase) {
        end += 1;
    }
    if bytes.get(end).is_some_and(|byte| byte.is_ascii_alphabetic()) {
        return None;
    }
    let word = &bytes[start..end];
    let (offset_minutes, ambiguous) = zone_abbreviation(word)?;
    if offset_minutes == 0
        && matches!(word, b"UTC" | b"GMT" | b"UT")
        && matches!(bytes.get(end), Some(b'+' | b'-'))
        && let Some((offset, offset_end)) = numeric_offset_short(bytes, end)
    {
        return Some(ZoneSuffix { offset_seconds: Some(offset), ambiguous: false, end: offset_end });
    }
    if bytes.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(ZoneSuffix { offset_seconds: Some(offset_minutes * 60), ambiguous, end })
}

/// `±h`, `±hh`, `±hhmm` or `±hh:mm` after `UTC`/`GMT`.
fn numeric_offset_short(bytes: &[u8], sign: usize) -> Option<(i32, usize)> {
    if let Some(found) = numeric_offset(bytes, sign, true) {
        return Some(found);
    }
    let hours = digits(bytes, sign + 1, 1)? as i32;
    if bytes.get(sign + 2).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((if bytes[sign] == b'-' { -hours * 3600 } else { hours * 3600 }, sign + 2))
}

/// The offset (minutes) of a zone abbreviation, and whether it is ambiguous.
///
/// NB: ambiguous abbreviations are read by one rule, the reading most common in server
/// logs, and flagged: `IST` India (+05:30, not Israel or Ireland), `CST` US Central (−06:00,
/// not China), `BST` British Summer (+01:00, not Bangladesh), `AST` Atlantic (−04:00, not
/// Arabia), `EST`/`EDT` US Eastern (not Australian Eastern, which logs write `AEST`).
fn zone_abbreviation(word: &[u8]) -> Option<(i32, bool)> {
    let (offset, ambiguous) = match word {
        b"UTC" | b"GMT" | b"UT" | b"Z" | b"WET" => (0, false),
        b"BST" => (60, true),
        b"IST" => (330, true),
        b"CST" => (-360, true),
        b"AST" => (-240, true),
        b"WEST" | b"CET" | b"MET" | b"WAT" => (60, false),
        b"CEST" | b"MEST" | b"EET" | b"SAST" | b"CAT" => (120, false),
        b"EEST" | b"MSK" | b"EAT" => (180, false),
        b"PKT" => (300, false),
        b"ICT" | b"WIB" => (420, false),
        b"HKT" | b"SGT" | b"AWST" | b"PHT" | b"WITA" => (480, false),
        b"JST" | b"KST" | b"WIT" => (540, false),
        b"ACST" => (570, false),
        b"AEST" => (600, false),
        b"ACDT" => (630, false),
        b"AEDT" => (660, false),
        b"NZST" => (720, false),
        b"NZDT" => (780, false),
        b"EST" => (-300, false),
        b"EDT" => (-240, false),
        b"CDT" => (-300, false),
        b"MST" => (-420, false),
        b"MDT" => (-360, false),
        b"PST" => (-480, false),
        b"PDT" => (-420, false),
        b"AKST" => (-540, false),
        b"AKDT" => (-480, false),
        b"HST" => (-600, false),
        b"ADT" => (-180, false),
        b"NST" => (-210, false),
        b"NDT" => (-150, false),
        b"BRT" | b"ART" => (-180, false),
        _ => return None,
    };
    Some((offset, ambiguous))
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

/// Reads an epoch number: its digit count tells the unit (10 seconds, 13 milliseconds,
/// 16 microseconds, 19 nanoseconds, a fraction allowed after any); exponent notation by its
/// magnitude. Any other count is no epoch: a short counter is never a time.
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
    if !matches!(whole.len(), 10 | 13 | 16 | 19) {
        return None;
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
/// (`Wednesday, 09 February 2025 10:` is 31).
const MAX_LEAD: usize = 32;

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

/// Where a line's leading time would start: after indentation, one opening bracket or
/// parenthesis, or a syslog `<PRI>`.
fn leading_start(bytes: &[u8]) -> usize {
    let mut start = skip_whitespace(bytes, 0);
    if bytes.get(start) == Some(&b'<')
        && let Some(close) = bytes.iter().skip(start).take(6).position(|byte| *byte == b'>')
    {
        start += close + 1;
    }
    if matches!(bytes.get(start), Some(b'[' | b'(')) {
        start = skip_whitespace(bytes, start + 1);
    }
    start
}

/// A timestamp does not start in the middle of a word, a number or a date.
fn is_candidate_start(bytes: &[u8], position: usize) -> bool {
    if position == 0 {
        return true;
    }
    let previous = bytes[position - 1];
    if bytes[position].is_ascii_digit() {
        // After a colon only when a word precedes it (`amLog:06/09/2014 …`), not inside a
        // clock or a `host:port`.
        let after_label = previous == b':' && position >= 2 && bytes[position - 2].is_ascii_alphabetic();
        after_label || (!previous.is_ascii_digit() && !matches!(previous, b'-' | b'/' | b':' | b'+' | b'.'))
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
            window: Some((instant("2025-02-09T09:00:00Z"), instant("2025-02-09T11:00:00Z"))),
            ..TimeContext::default()
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
            // Every test context has a window: no year is a guess.
            assert!(!found.assumed_year(), "line {line:?}");
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
            window: Some((instant("2024-12-31T23:00:00Z"), instant("2025-01-01T01:00:00Z"))),
            ..TimeContext::default()
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

    /// A two-hour window on 2024-03-05, UTC: the day of the made-up lines below.
    fn march_2024() -> TimeContext {
        TimeContext {
            window: Some((instant("2024-03-05T13:00:00Z"), instant("2024-03-05T15:00:00Z"))),
            ..TimeContext::default()
        }
    }

    #[test]
    fn reads_the_default_stamps_of_real_systems() {
        use Format::*;
        // Each system's own default layout, written for 2024-03-05 14:22:01 in Paris
        // (13:22:01 UTC) or, where the system writes no zone, 14:22:01 read as UTC.
        #[rustfmt::skip]
        let rows: &[(&str, Expected)] = &[
            // PostgreSQL `log_line_prefix = '%m [%p] '`, zone abbreviation.
            ("2024-03-05 14:22:01.123 CET [123] LOG:  checkpoint starting: time", Some(("2024-03-05T13:22:01.123Z", Iso8601, false, "2024-03-05 14:22:01.123 CET"))),
            // MySQL 8 error log.
            ("2024-03-05T13:22:01.123456Z 0 [System] [MY-010116] [Server] /usr/sbin/mysqld (mysqld 8.0.36) starting", Some(("2024-03-05T13:22:01.123456Z", Rfc3339, false, "2024-03-05T13:22:01.123456Z"))),
            // Redis.
            ("1:M 05 Mar 2024 14:22:01.123 * Ready to accept connections tcp", Some(("2024-03-05T14:22:01.123Z", Rfc2822, true, "05 Mar 2024 14:22:01.123"))),
            // MongoDB 4.4+ structured log: extended JSON date.
            (r#"{"t":{"$date":"2024-03-05T14:22:01.123+01:00"},"s":"I","c":"NETWORK","id":23016,"ctx":"listener","msg":"Waiting for connections"}"#, Some(("2024-03-05T13:22:01.123Z", Rfc3339, false, "2024-03-05T14:22:01.123+01:00"))),
            // IIS W3C (UTC, no zone written).
            ("2024-03-05 13:22:01 W3SVC1 10.0.0.1 GET /default.htm - 80 - 10.0.0.2 Mozilla/5.0 200 0 0 15", Some(("2024-03-05T13:22:01Z", Iso8601, true, "2024-03-05 13:22:01"))),
            // Windows event export (en-US): month first, 12-hour clock.
            ("3/5/2024 2:22:01 PM Information Service Control Manager 7036", Some(("2024-03-05T14:22:01Z", MonthDayYear, true, "3/5/2024 2:22:01 PM"))),
            // HAProxy over syslog: the accept date later in the line gives the year.
            ("Mar  5 14:22:01 lb haproxy[123]: 10.0.0.1:51234 [05/Mar/2023:14:22:01.123] fe be/srv1 0/0/1/2/3 200 512", Some(("2023-03-05T14:22:01Z", Syslog, true, "Mar  5 14:22:01"))),
            ("10.0.0.1:51234 [05/Mar/2024:14:22:01.123] fe be/srv1 0/0/1/2/3 200 512 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"", Some(("2024-03-05T14:22:01.123Z", Clf, true, "05/Mar/2024:14:22:01.123"))),
            // Tomcat / java.util.logging OneLineFormatter.
            ("05-Mar-2024 14:22:01.123 INFO [main] org.apache.catalina.startup.Catalina.start Server startup in [1234] milliseconds", Some(("2024-03-05T14:22:01.123Z", Clf, true, "05-Mar-2024 14:22:01.123"))),
            // java.util.logging SimpleFormatter.
            ("Mar 05, 2024 2:22:01 PM org.apache.catalina.startup.Catalina start", Some(("2024-03-05T14:22:01Z", NamedMonth, true, "Mar 05, 2024 2:22:01 PM"))),
            // Erlang/OTP error_logger.
            ("=INFO REPORT==== 5-Mar-2024::14:22:01 ===", Some(("2024-03-05T14:22:01Z", Clf, true, "5-Mar-2024::14:22:01"))),
            // glog, year-less (the window's year) and with glog's own four-digit year.
            ("I0305 14:22:01.123456 12345 main.cc:42] Started", Some(("2024-03-05T14:22:01.123456Z", Klog, true, "I0305 14:22:01.123456"))),
            ("W20240305 14:22:01.123456 12345 main.cc:42] Slow", Some(("2024-03-05T14:22:01.123456Z", Klog, true, "W20240305 14:22:01.123456"))),
            // journald `-o short-iso` and `-o short-iso-precise`.
            ("2024-03-05T14:22:01+0100 host sshd[123]: Accepted publickey for deploy", Some(("2024-03-05T13:22:01Z", Rfc3339, false, "2024-03-05T14:22:01+0100"))),
            ("2024-03-05T14:22:01.123456+01:00 host kernel: eth0: link up", Some(("2024-03-05T13:22:01.123456Z", Rfc3339, false, "2024-03-05T14:22:01.123456+01:00"))),
            // Docker's json-file driver.
            ("{\"log\":\"started\\n\",\"stream\":\"stdout\",\"time\":\"2024-03-05T13:22:01.123456789Z\"}", Some(("2024-03-05T13:22:01.123456789Z", Rfc3339, false, "2024-03-05T13:22:01.123456789Z"))),
            // RFC 5424 syslog.
            ("<165>1 2024-03-05T13:22:01.003Z mymachine.example.com evntslog - ID47 - An application event", Some(("2024-03-05T13:22:01.003Z", Rfc3339, false, "2024-03-05T13:22:01.003Z"))),
            // `date` / cloud-init: the zone before the year.
            ("Tue Mar  5 14:22:01 CET 2024 cloud-init finished", Some(("2024-03-05T13:22:01Z", Ctime, false, "Tue Mar  5 14:22:01 CET 2024"))),
            // Kafka (log4j `[%d]`), Python `logging`, nginx error log, Apache access log.
            ("[2024-03-05 14:22:01,123] INFO [KafkaServer id=1] started (kafka.server.KafkaServer)", Some(("2024-03-05T14:22:01.123Z", Iso8601, true, "2024-03-05 14:22:01,123"))),
            ("2024-03-05 14:22:01,123 - root - INFO - ready", Some(("2024-03-05T14:22:01.123Z", Iso8601, true, "2024-03-05 14:22:01,123"))),
            ("2024/03/05 14:22:01 [error] 7#7: *1 connect() failed (111: Connection refused)", Some(("2024-03-05T14:22:01Z", Go, true, "2024/03/05 14:22:01"))),
            ("10.0.0.1 - - [05/Mar/2024:14:22:01 +0100] \"GET / HTTP/1.1\" 200 512", Some(("2024-03-05T13:22:01Z", Clf, false, "05/Mar/2024:14:22:01 +0100"))),
            // log4j `HH:mm:ss:SSS`, German `dd.MM.yyyy`, ISO basic, Spring Boot.
            ("2024-03-05 14:22:01:123 [main] INFO App", Some(("2024-03-05T14:22:01.123Z", Iso8601, true, "2024-03-05 14:22:01:123"))),
            ("05.03.2024 14:22:01 Dienst gestartet", Some(("2024-03-05T14:22:01Z", DayMonthYear, true, "05.03.2024 14:22:01"))),
            ("20240305T132201Z backup done", Some(("2024-03-05T13:22:01Z", YearMonthDay, false, "20240305T132201Z"))),
            ("2024-03-05T14:22:01.123+01:00  INFO 1 --- [main] o.s.b.StartupInfoLogger : Started", Some(("2024-03-05T13:22:01.123Z", Rfc3339, false, "2024-03-05T14:22:01.123+01:00"))),
            // India's IST by the documented rule.
            ("2024-03-05 18:52:01 IST payment gateway up", Some(("2024-03-05T13:22:01Z", Iso8601, false, "2024-03-05 18:52:01 IST"))),
            // Squid: epoch seconds as the first column, inside the window.
            ("1709648521.123    120 10.0.0.1 TCP_MISS/200 512 GET http://example.com/ - HIER_DIRECT/1.2.3.4 text/html", Some(("2024-03-05T14:22:01.123Z", EpochSeconds, false, "1709648521.123"))),
            // CloudFront (tab-joined), ntpd (day month, no year), Snort (month/day, no year),
            // WebLogic (named month, comma fraction, PM, zone).
            ("2024-03-05\t13:22:01\tSEA19-C1\t512\t10.0.0.1\tGET", Some(("2024-03-05T13:22:01Z", YearMonthDay, true, "2024-03-05\t13:22:01"))),
            (" 5 Mar 14:22:01 ntpd[123]: synchronized to 10.0.0.1, stratum 2", Some(("2024-03-05T14:22:01Z", Syslog, true, "5 Mar 14:22:01"))),
            ("03/05-14:22:01.123456  [**] [1:1000001:1] ICMP test [**] {ICMP} 10.0.0.1 -> 10.0.0.2", Some(("2024-03-05T14:22:01.123456Z", MonthDayYear, true, "03/05-14:22:01.123456"))),
            ("####<Mar 5, 2024 3:22:01,123 PM CET> <Notice> <WebLogicServer>", Some(("2024-03-05T14:22:01.123Z", NamedMonth, false, "Mar 5, 2024 3:22:01,123 PM CET"))),
            // Counters and clocks without a date are no times.
            ("12345 GET / 200", None),
            ("1709648521 is outside?", Some(("2024-03-05T14:22:01Z", EpochSeconds, false, "1709648521"))),
            ("14:22:01.123 [main] INFO  c.e.App - Started (logback's default has no date)", None),
        ];
        for (line, expected) in rows {
            check(&mut Finder::new(march_2024()), line, *expected);
        }
        let ambiguous = Finder::new(march_2024()).find("2024-03-05 18:52:01 IST up").expect("a time");
        assert!(ambiguous.ambiguous_zone);
        assert!(!Finder::new(march_2024()).find("2024-03-05 14:22:01 CET up").expect("a time").ambiguous_zone);
    }

    #[test]
    fn epochs_need_the_digit_count_of_a_unit_and_the_evidence() {
        use Format::*;
        #[rustfmt::skip]
        let rows: &[(&str, Expected)] = &[
            ("1709648521123 x", Some(("2024-03-05T14:22:01.123Z", EpochMillis, false, "1709648521123"))),
            ("1709648521123456 x", Some(("2024-03-05T14:22:01.123456Z", EpochMicros, false, "1709648521123456"))),
            ("1709648521123456789 x", Some(("2024-03-05T14:22:01.123456789Z", EpochNanos, false, "1709648521123456789"))),
            // Eleven digits fit no unit; a day outside the window is no time in a column.
            ("17096485211 x", None),
            ("1709562121 x", None),
            // In a time field, a year's slack: the field says it is a time.
            ("{\"ts\":1709562121}", Some(("2024-03-04T14:22:01Z", EpochSeconds, false, "1709562121"))),
            ("{\"ts\":1609562121}", None),
            ("{\"ts\":17096485211}", None),
            ("ts=170964852 msg=x", None),
        ];
        for (line, expected) in rows {
            check(&mut Finder::new(march_2024()), line, *expected);
        }
        // Without a window or evidence, a column is an epoch once a second line has one there.
        let mut finder = Finder::new(TimeContext::default());
        check(&mut finder, "1709648521 a", None);
        check(&mut finder, "1709648522 b", Some(("2024-03-05T14:22:02Z", EpochSeconds, false, "1709648522")));
    }

    #[test]
    fn day_and_month_order_is_decided_per_stream_by_evidence() {
        use Format::*;
        #[rustfmt::skip]
        let rows: &[(&str, Expected)] = &[
            // No evidence yet: `/` reads month first.
            ("03/05/2024 14:22:01 a", Some(("2024-03-05T14:22:01Z", MonthDayYear, true, "03/05/2024 14:22:01"))),
            // A day above 12 first: this stream writes day first, from now on.
            ("13/03/2024 14:22:01 b", Some(("2024-03-13T14:22:01Z", DayMonthYear, true, "13/03/2024 14:22:01"))),
            ("05/03/2024 14:22:01 c", Some(("2024-03-05T14:22:01Z", DayMonthYear, true, "05/03/2024 14:22:01"))),
            // A line that can only be month first is read so, without changing the stream.
            ("03/14/2024 14:22:01 d", Some(("2024-03-14T14:22:01Z", MonthDayYear, true, "03/14/2024 14:22:01"))),
            ("06/03/2024 14:22:01 e", Some(("2024-03-06T14:22:01Z", DayMonthYear, true, "06/03/2024 14:22:01"))),
        ];
        let mut finder = Finder::new(march_2024());
        for (line, expected) in rows {
            check(&mut finder, line, *expected);
        }
        assert_eq!(finder.day_first(), Some(true));
    }

    #[test]
    fn a_year_less_time_takes_its_year_from_the_strongest_evidence() {
        #[track_caller]
        fn check(context: TimeContext, lines: &[&str], expected: (&str, Option<YearSource>)) {
            let mut finder = Finder::new(context);
            let mut last = None;
            for line in lines {
                last = finder.find(line);
            }
            let found = last.expect("the last line has a time");
            assert_eq!((found.instant, found.year), (instant(expected.0), expected.1), "lines {lines:?}");
        }
        let evidence = TimeContext {
            evidence: Some((instant("2023-03-01T00:00:00Z"), instant("2023-03-09T00:00:00Z"))),
            ..TimeContext::default()
        };
        let nothing = TimeContext::default();
        let files = TimeContext { fallback_until: Some(instant("2022-12-31T23:59:59Z")), ..TimeContext::default() };
        let saved_in_march =
            TimeContext { fallback_until: Some(instant("2022-03-04T00:00:00Z")), ..TimeContext::default() };
        type Row<'a> = (TimeContext, &'a [&'a str], (&'a str, Option<YearSource>));
        #[rustfmt::skip]
        let rows: Vec<Row<'_>> = vec![
            (march_2024(), &["Mar  5 14:22:01 host x"], ("2024-03-05T14:22:01Z", Some(YearSource::Window))),
            // The line's own full date beats the window.
            (march_2024(), &["Mar  5 14:22:01 host x [05/Mar/2021:14:22:01]"], ("2021-03-05T14:22:01Z", Some(YearSource::Line))),
            // A date quoted in the message that is not the same moment gives no year.
            (march_2024(), &["Mar  5 14:22:01 host backup: snapshot taken 2019-06-01 12:00:00"], ("2024-03-05T14:22:01Z", Some(YearSource::Window))),
            (evidence.clone(), &["Mar  5 14:22:01 host x"], ("2023-03-05T14:22:01Z", Some(YearSource::Evidence))),
            // The window beats the other inputs.
            (TimeContext { window: march_2024().window, ..evidence }, &["Mar  5 14:22:01 host x"], ("2024-03-05T14:22:01Z", Some(YearSource::Window))),
            (nothing.clone(), &["2019-12-30 10:00:00 boot", "Jan  2 14:22:01 host x"], ("2020-01-02T14:22:01Z", Some(YearSource::Stream))),
            (files.clone(), &["Mar  5 14:22:01 host x"], ("2022-03-05T14:22:01Z", Some(YearSource::Assumed))),
            // No line is later than its file: a file saved on Mar 4 holds last year's Mar 5.
            (saved_in_march, &["Mar  5 14:22:01 host x"], ("2021-03-05T14:22:01Z", Some(YearSource::Assumed))),
            (nothing.clone(), &["Mar  5 14:22:01 host x"], ("1970-03-05T14:22:01Z", Some(YearSource::Assumed))),
            // Feb 29 without evidence: the nearest leap year before the fallback.
            (files, &["Feb 29 14:22:01 host x"], ("2020-02-29T14:22:01Z", Some(YearSource::Assumed))),
            (nothing, &["2024-03-05 14:22:01 x"], ("2024-03-05T14:22:01Z", None)),
        ];
        for (context, lines, expected) in rows {
            check(context, lines, expected);
        }
    }

    /// Layouts drawn from the grammar, each read back exactly. A seeded splitmix64 rather
    /// than `proptest`: no new dependency, and a failing case prints its seed and line.
    #[test]
    fn generated_layouts_read_back_exactly() {
        use crate::record::random::Random;
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        const LONG: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        let mut random = Random(0x5eed_2024_0305);
        let mut n_checked = 0;
        for case in 0..20_000 {
            // 2001-09-09 .. 2033-05-18: epoch seconds have ten digits throughout.
            let second = 1_000_000_000 + random.below(1_000_000_000) as i64;
            let digits = *random.pick(&[0usize, 1, 3, 6, 9]);
            let nanos = if digits == 0 {
                0
            } else {
                random.below(1_000_000_000) as u32 / 10u32.pow(9 - digits as u32) * 10u32.pow(9 - digits as u32)
            };
            let offset_minutes = *random.pick(&[0i32, 60, -300, 330, 540, -570]);
            let local = second + i64::from(offset_minutes) * 60;
            let (year, month, day) = civil_from_unix(local);
            let in_day = local.rem_euclid(SECONDS_PER_DAY);
            let (hour, minute, sec) = (in_day / 3600, in_day / 60 % 60, in_day % 60);
            let weekday = WEEKDAYS[local.div_euclid(SECONDS_PER_DAY).rem_euclid(7) as usize];
            let expected = Instant::new(second, nanos as i32).expect("in range");
            let window = (
                expected.checked_sub(jiff::SignedDuration::from_hours(30)).expect("in range"),
                expected.checked_add(jiff::SignedDuration::from_hours(30)).expect("in range"),
            );
            let mut finder = Finder::new(TimeContext { window: Some(window), ..TimeContext::default() });
            let month_name = if random.chance(20) { LONG[month as usize - 1] } else { MONTHS[month as usize - 1] };
            // Epochs: a unit, in a time field, a logfmt key or the first column.
            if random.chance(12) {
                let unit = *random.pick(&[0u32, 3, 6, 9]);
                let whole = i128::from(second) * 10i128.pow(unit) + i128::from(nanos) / 10i128.pow(9 - unit);
                let rest = i128::from(nanos) % 10i128.pow(9 - unit);
                let text = if rest != 0 && random.chance(50) {
                    let places = (9 - unit) as usize;
                    format!("{whole}.{:0places$}", rest)
                } else {
                    whole.to_string()
                };
                let read = if rest != 0 && !text.contains('.') {
                    expected - jiff::SignedDuration::from_nanos(rest as i64)
                } else {
                    expected
                };
                let line = match random.below(3) {
                    0 => format!("{{\"level\":\"info\",\"ts\":{text},\"msg\":\"x\"}}"),
                    1 => format!("level=info ts={text} msg=x"),
                    _ => format!("{text} GET /"),
                };
                let found = finder.find(&line).unwrap_or_else(|| panic!("case {case}: nothing in {line:?}"));
                assert_eq!((found.instant, &line[found.span.clone()]), (read, text.as_str()), "case {case}: {line:?}");
                n_checked += 1;
                continue;
            }
            // Time of day: 24 or 12 hours, a fraction after `.`, `,` or `:`.
            let twelve = random.chance(20);
            let clock_hour = if twelve { (hour + 11) % 12 + 1 } else { hour };
            let hour_text =
                if twelve && random.chance(50) { clock_hour.to_string() } else { format!("{clock_hour:02}") };
            let mut time = format!("{hour_text}:{minute:02}:{sec:02}");
            if digits > 0 {
                let separator = if digits >= 3 { *random.pick(&[".", ",", ":"]) } else { *random.pick(&[".", ","]) };
                time.push_str(&format!("{separator}{:0digits$}", nanos / 10u32.pow(9 - digits as u32)));
            }
            if twelve {
                time.push_str(if hour < 12 { " AM" } else { " PM" });
            }
            let zone = match (offset_minutes, random.below(5)) {
                (0, 0) if !twelve => "Z".to_owned(),
                (0, 1) => " UTC".to_owned(),
                (0, 2) => String::new(),
                (60, 3) => " CET".to_owned(),
                (540, 3) => " JST".to_owned(),
                (minutes, style) => {
                    let sign = if minutes < 0 { '-' } else { '+' };
                    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
                    match style {
                        0 | 1 if !twelve => format!("{sign}{h:02}:{m:02}"),
                        2 if m == 0 && !twelve => format!("{sign}{h:02}"),
                        _ => format!(" {sign}{h:02}{m:02}"),
                    }
                }
            };
            if zone.is_empty() && offset_minutes != 0 {
                continue;
            }
            // Year-less layouts (the year from the window) and `ctime` (the year last).
            if random.chance(15) {
                let short = MONTHS[month as usize - 1];
                let text = match random.below(3) {
                    0 => format!("{weekday} {short} {day:>2} {time}{zone} {year}"),
                    1 if zone.is_empty() => format!("{short} {day:>2} {time}"),
                    _ if zone.is_empty() && !twelve && digits == 6 => {
                        format!("I{month:02}{day:02} {hour:02}:{minute:02}:{sec:02}.{:06}", nanos / 1000)
                    }
                    _ => continue,
                };
                let line = format!("{text} 1 host.go:12] message");
                let found = finder.find(&line).unwrap_or_else(|| panic!("case {case}: nothing in {line:?}"));
                assert_eq!(
                    (found.instant, &line[found.span.clone()]),
                    (expected, text.as_str()),
                    "case {case}: {line:?}"
                );
                n_checked += 1;
                continue;
            }
            let numeric = |first: u8, second: u8, separator: &str, pad: bool| {
                if pad { format!("{first:02}{separator}{second:02}") } else { format!("{first}{separator}{second}") }
            };
            let pad = random.chance(70);
            // `order`: a numeric date's day first (`Some(true)`) or month first.
            let ymd_separator = *random.pick(&["/", "."]);
            let (date, iso, order) = match random.below(9) {
                0 => (format!("{year}-{month:02}-{day:02}"), true, None),
                1 => (format!("{year}{ymd_separator}{}", numeric(month, day, ymd_separator, pad)), false, None),
                2 => (format!("{year}{month:02}{day:02}"), true, None),
                3 => (format!("{}/{year}", numeric(day, month, "/", pad)), false, Some(true)),
                4 => (format!("{}/{year}", numeric(month, day, "/", pad)), false, Some(false)),
                5 => (format!("{day:02}{0}{month_name}{0}{year}", random.pick(&["-", "/", " "])), false, None),
                6 => (format!("{month_name} {day}, {year}"), false, None),
                7 => (format!("{weekday}, {day:02} {month_name} {year}"), false, None),
                _ => (format!("{}.{year}", numeric(day, month, ".", pad)), false, Some(true)),
            };
            let joiner = if iso && random.chance(40) { "T" } else { *random.pick(&[" ", " ", " ", "_", "-", ":"]) };
            let text = format!("{date}{joiner}{time}{zone}");
            let prefix = *random.pick(&["", "[", "(", "app: ", "level=info ts=", "1:M "]);
            let suffix = *random.pick(&["", " msg", "] x", ") y", " 42 INFO"]);
            let line = format!("{prefix}{text}{suffix}");
            // An ambiguous numeric date is read in the order the stream's evidence set: an
            // earlier line with a day above 12 says which.
            if let Some(day_first) = order
                && day <= 12
                && day != month
            {
                let primer = if day_first { "13/01/2000 00:00:00 primer" } else { "01/13/2000 00:00:00 primer" };
                finder.find(primer);
                assert_eq!(finder.day_first(), Some(day_first));
            }
            let found = finder.find(&line).unwrap_or_else(|| panic!("case {case}: nothing in {line:?}"));
            assert_eq!((found.instant, &line[found.span.clone()]), (expected, text.as_str()), "case {case}: {line:?}");
            n_checked += 1;
        }
        // Combinations the generator skips (a zone-less line away from UTC) stay few.
        assert!(n_checked > 17_000, "{n_checked} of 20000 checked");
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
