//! The report behind `postmortemd inspect-times`: one line per input line saying which
//! timestamp the finder read, in which layout, where its year came from and which flags
//! the draft would put on its rows, or why it read none; so a user sees why a line landed
//! where it did. Lines are read as a draft reads them (kubectl's prefix, then the kubelet time); it
//! formats text, reading the file is main.rs's job.

use std::io::{self, Write};

use super::logs::split_prefix;
use crate::normalize::redact::{self, Redactor, StreamState};
use crate::normalize::time::{Finder, Found, NO_EVIDENCE_YEAR, YearSource, kubelet_time, write_rfc3339_utc};
use crate::record::Instant;

/// How the report is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportFormat {
    /// A `#` header (window, zone, where years come from, the columns), the rows, and a
    /// `#` summary of the flags.
    #[default]
    Text,
    /// The rows only, as scripts read them.
    Tsv,
}

/// The columns of a row, tab-separated.
pub const COLUMNS: &str = "LINE\tTIME\tLAYOUT\tFLAGS\tYEAR\tMATCHED\tKUBELET\tWHY";

/// Writes a report row `LINE_NO<TAB>TIME<TAB>LAYOUT<TAB>FLAGS<TAB>YEAR<TAB>MATCHED<TAB>KUBELET<TAB>WHY`
/// for every line of `input` (with [`ReportFormat::Text`] a header before and a summary
/// after, on lines starting with `#`).
///
/// `TIME` is the embedded time in RFC 3339 UTC (empty when none); `FLAGS` the flags the
/// draft would put on the line's rows, comma-separated, or `-`: `assumed_zone` (no zone,
/// or an ambiguous abbreviation read by rule), `assumed_year` (no evidence gave the year),
/// `zone_mismatch` (the time differs from the kubelet's by whole quarter hours; the draft
/// decides it per stream, on the median of its lines); `YEAR` where a year-less time's year
/// came from (`line`, `window`, `evidence`, `stream`, `assumed`) or `-`; `MATCHED` the text
/// read; `KUBELET` a kubelet (CRI) prefix, stripped before the search, as `kubelet=TIME`;
/// `WHY` for a line without a time, why. Lines end at `\n`, a trailing `\r` is dropped, and
/// invalid UTF-8 is replaced rather than refused.
pub fn inspect_times(
    input: &[u8],
    finder: &mut Finder,
    format: ReportFormat,
    output: &mut impl Write,
) -> io::Result<()> {
    if format == ReportFormat::Text {
        write_header(finder, output)?;
    }
    let mut counts = Counts::default();
    // Lines are read as the draft reads them: secrets redacted before the time is looked for.
    let mut redact_state = StreamState::default();
    let mut rest = input;
    let mut line_no = 0usize;
    while !rest.is_empty() {
        line_no += 1;
        let (raw, next) = match memchr::memchr(b'\n', rest) {
            Some(newline) => (&rest[..newline], &rest[newline + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let whole = String::from_utf8_lossy(raw);
        // kubectl's `--prefix` first, as the draft reads it.
        let line = match split_prefix(&whole) {
            Some((prefix, rest)) if prefix.is_pod() => rest,
            _ => &whole[..],
        };
        // Only nine fraction digits are the kubelet's: an application line that merely starts
        // with RFC 3339 and a space would otherwise lose its own time to the prefix column.
        let kubelet = kubelet_time(line.as_bytes()).filter(|time| time.nine_digits);
        let (kubelet, body) = match kubelet.and_then(|time| Some((time.instant, time.text_start?))) {
            Some((instant, text_start)) => (Some(instant), &line[text_start..]),
            None => (None, line),
        };
        let body = &*Redactor::builtin().text(&mut redact_state, body, &mut redact::Counts::new());
        write!(output, "{line_no}\t")?;
        let found = finder.find(body);
        match &found {
            Some(found) => {
                counts.timed += 1;
                write_rfc3339_utc(output, found.instant)?;
                write!(output, "\t{}\t", found.format.name())?;
                let flags = flags(found, kubelet);
                counts.add(flags);
                if flags == [false; 3] {
                    output.write_all(b"-")?;
                } else {
                    let names = ["assumed_zone", "assumed_year", "zone_mismatch"];
                    let named: Vec<&str> =
                        names.iter().zip(flags).filter(|(_, on)| *on).map(|(name, _)| *name).collect();
                    output.write_all(named.join(",").as_bytes())?;
                }
                write!(output, "\t{}\t", found.year.map_or("-", YearSource::name))?;
                // NB: a tab inside the matched text would shift the columns.
                let matched = &body[found.span.clone()];
                if matched.contains('\t') {
                    output.write_all(matched.replace('\t', " ").as_bytes())?;
                } else {
                    output.write_all(matched.as_bytes())?;
                }
                output.write_all(b"\t")?;
            }
            None => output.write_all(b"\t-\t-\t-\t\t")?,
        }
        if let Some(instant) = kubelet {
            output.write_all(b"kubelet=")?;
            write_rfc3339_utc(output, instant)?;
        }
        if found.is_none() {
            write!(output, "\t{}", why_no_time(body.as_bytes(), kubelet.is_some()))?;
        }
        writeln!(output)?;
    }
    if format == ReportFormat::Text {
        writeln!(
            output,
            "# {line_no} lines, {} with a time; flags: assumed_zone {}, assumed_year {}, zone_mismatch {}; \
             numeric dates: {}",
            counts.timed,
            counts.flags[0],
            counts.flags[1],
            counts.flags[2],
            match finder.day_first() {
                Some(true) => "day first (a day above 12 was seen first)",
                Some(false) => "month first (a day above 12 was seen second)",
                None => "no evidence of order (`/` read month first, `.` and `-` day first)",
            }
        )?;
    }
    Ok(())
}

#[derive(Default)]
struct Counts {
    timed: u64,
    flags: [u64; 3],
}

impl Counts {
    fn add(&mut self, flags: [bool; 3]) {
        for (count, on) in self.flags.iter_mut().zip(flags) {
            *count += u64::from(on);
        }
    }
}

/// `[assumed_zone, assumed_year, zone_mismatch]` as the draft would flag the line's rows.
fn flags(found: &Found, kubelet: Option<Instant>) -> [bool; 3] {
    let zone_mismatch = kubelet.is_some_and(|kubelet| {
        let offset = (found.instant.as_millisecond() - kubelet.as_millisecond()) as f64 / 1000.0;
        let quarter_hours = (offset / 900.0).round();
        quarter_hours != 0.0 && (offset - quarter_hours * 900.0).abs() <= 60.0
    });
    [found.assumed_zone || found.ambiguous_zone, found.assumed_year(), zone_mismatch]
}

fn write_header(finder: &Finder, output: &mut impl Write) -> io::Result<()> {
    let context = finder.context();
    writeln!(output, "# postmortemd inspect-times: the time the draft reads from each line")?;
    match context.window {
        Some((start, end)) => {
            output.write_all(b"# window ")?;
            write_rfc3339_utc(output, start)?;
            output.write_all(b"/")?;
            write_rfc3339_utc(output, end)?;
            writeln!(output, ": year-less times take the year that puts them in it (YEAR window)")?;
        }
        None => writeln!(
            output,
            "# no window: year-less times take their year from a full date later in the line, else the \
             stream's previous dated line, else {} (YEAR assumed, flagged assumed_year)",
            match context.fallback_until {
                Some(until) => format!("the latest year keeping them before the file was modified ({until})"),
                None => NO_EVIDENCE_YEAR.to_string(),
            }
        )?,
    }
    writeln!(output, "# zone-less times are read in {} (flagged assumed_zone)", zone_name(&context.zone))?;
    writeln!(output, "# {COLUMNS}")
}

fn zone_name(zone: &jiff::tz::TimeZone) -> String {
    match zone.iana_name() {
        Some(name) => name.to_owned(),
        None => match zone.to_fixed_offset() {
            Ok(offset) if offset.seconds() == 0 => "UTC".to_owned(),
            Ok(offset) => {
                let seconds = offset.seconds();
                let sign = if seconds < 0 { '-' } else { '+' };
                format!("{sign}{:02}:{:02}", seconds.abs() / 3600, seconds.abs() / 60 % 60)
            }
            Err(_) => "the given zone".to_owned(),
        },
    }
}

/// Why the finder read no time from `line`, in the words of the grammar.
fn why_no_time(line: &[u8], has_kubelet: bool) -> &'static str {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return if has_kubelet { "only the kubelet time; the text is empty" } else { "empty line" };
    }
    if line[0].is_ascii_whitespace() && !has_kubelet {
        return "indented: a continuation of the line before (stack trace, wrapped text)";
    }
    let clock = line.windows(5).any(|window| {
        window[0].is_ascii_digit() && window[2] == b':' && window[3].is_ascii_digit() && window[4].is_ascii_digit()
    }) || line
        .windows(4)
        .any(|window| window[0].is_ascii_digit() && window[1] == b':' && window[2].is_ascii_digit());
    let date = line
        .windows(5)
        .any(|window| window[..4].iter().all(u8::is_ascii_digit) && matches!(window[4], b'-' | b'/' | b'.'));
    let long_number = line.split(|byte| !byte.is_ascii_digit()).any(|run| matches!(run.len(), 10 | 13 | 16 | 19));
    match (clock, date, long_number) {
        (true, false, _) => "a clock without a date the grammar reads (no year, month and day before it)",
        (false, true, _) => "a date without a clock",
        (true, true, _) => "a date and a clock the grammar does not join (a word between them, or an impossible date)",
        (false, false, true) => {
            "a bare number: epochs are read only in a time field or the first column, inside the window"
        }
        (false, false, false) => "no date or clock",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::time::TimeContext;

    #[track_caller]
    fn check(input: &[u8], format: ReportFormat, expected: &str) {
        let context = TimeContext {
            window: Some((
                "2025-02-09T09:00:00Z".parse().expect("valid"),
                "2025-02-09T11:00:00Z".parse().expect("valid"),
            )),
            ..TimeContext::default()
        };
        let mut output = Vec::new();
        inspect_times(input, &mut Finder::new(context), format, &mut output).expect("writing to a Vec");
        assert_eq!(String::from_utf8(output).expect("utf-8 report"), expected, "input {input:?}");
    }

    #[test]
    fn one_report_line_per_input_line() {
        let rows: &[(&[u8], &str)] = &[
            (b"", ""),
            (
                b"2025-02-09T19:05:23+09:00 up\r\nno time here\r\n\r\nFeb  9 10:05:23 host x",
                "1\t2025-02-09T10:05:23.000Z\trfc3339\t-\t-\t2025-02-09T19:05:23+09:00\t\n\
                 2\t\t-\t-\t-\t\t\tno date or clock\n\
                 3\t\t-\t-\t-\t\t\tempty line\n\
                 4\t2025-02-09T10:05:23.000Z\tsyslog\tassumed_zone\twindow\tFeb  9 10:05:23\t\n",
            ),
            (
                b"2025-02-09T10:05:24.123456789Z 2025-02-09 10:05:23,5 WARN \xff\xfe slow\n",
                "1\t2025-02-09T10:05:23.500Z\tiso8601\tassumed_zone\t-\t2025-02-09 10:05:23,5\t\
                 kubelet=2025-02-09T10:05:24.123456789Z\n",
            ),
            // kubectl's `--prefix` comes off first, as in a draft.
            (
                b"[pod/api-1/app] 2025-02-09T10:05:24.123456789Z 2025-02-09 10:05:23,5 WARN slow\n",
                "1\t2025-02-09T10:05:23.500Z\tiso8601\tassumed_zone\t-\t2025-02-09 10:05:23,5\t\
                 kubelet=2025-02-09T10:05:24.123456789Z\n",
            ),
            (
                b"2025-02-09T10:05:24.000000000Z plain\n",
                "1\t\t-\t-\t-\t\tkubelet=2025-02-09T10:05:24.000Z\tno date or clock\n",
            ),
            (
                b"2025-02-09T19:05:24.000000001+09:00 I0209 10:05:23.000100 1 a.go:1] m\n",
                "1\t2025-02-09T10:05:23.000100Z\tklog\tassumed_zone\twindow\tI0209 10:05:23.000100\t\
                 kubelet=2025-02-09T10:05:24.000000001Z\n",
            ),
            (
                b"2025-02-09T10:05:24.123Z app line\tdone\n",
                "1\t2025-02-09T10:05:24.123Z\trfc3339\t-\t-\t2025-02-09T10:05:24.123Z\t\n",
            ),
            // Local time written without a zone, nine hours from the kubelet's.
            (
                b"2025-02-09T10:05:24.000000000Z 2025-02-09 19:05:24 x\n",
                "1\t2025-02-09T19:05:24.000Z\tiso8601\tassumed_zone,zone_mismatch\t-\t2025-02-09 19:05:24\t\
                 kubelet=2025-02-09T10:05:24.000Z\n",
            ),
            (
                b"  at com.example.Main(Main.java:12)\n",
                "1\t\t-\t-\t-\t\t\tindented: a continuation of the line before (stack trace, wrapped text)\n",
            ),
            (
                b"took 12:30 minutes\n",
                "1\t\t-\t-\t-\t\t\ta clock without a date the grammar reads (no year, month and day before it)\n",
            ),
            (b"deployed 2025-02-09 ok\n", "1\t\t-\t-\t-\t\t\ta date without a clock\n"),
            (
                b"id 1739095523 done\n",
                "1\t\t-\t-\t-\t\t\ta bare number: epochs are read only in a time field or the first column, inside the window\n",
            ),
        ];
        for (input, expected) in rows {
            check(input, ReportFormat::Tsv, expected);
        }
    }

    #[test]
    fn text_report_has_a_header_and_a_summary() {
        check(
            b"2025-02-09 10:05:23 CST x\n",
            ReportFormat::Text,
            "# postmortemd inspect-times: the time the draft reads from each line\n\
             # window 2025-02-09T09:00:00.000Z/2025-02-09T11:00:00.000Z: year-less times take the year that puts them in it (YEAR window)\n\
             # zone-less times are read in UTC (flagged assumed_zone)\n\
             # LINE\tTIME\tLAYOUT\tFLAGS\tYEAR\tMATCHED\tKUBELET\tWHY\n\
             1\t2025-02-09T16:05:23.000Z\tiso8601\tassumed_zone\t-\t2025-02-09 10:05:23 CST\t\n\
             # 1 lines, 1 with a time; flags: assumed_zone 1, assumed_year 0, zone_mismatch 0; \
             numeric dates: no evidence of order (`/` read month first, `.` and `-` day first)\n",
        );
    }
}
