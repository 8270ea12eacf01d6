//! The report behind `postmortemd inspect-times`: one line per input line saying which
//! timestamp the finder read, in which format and with what assumptions, so a user sees
//! why a line landed where it did. It formats text; reading the file is main.rs's job.

use std::io::{self, Write};

use super::time::{Finder, kubelet_time, write_rfc3339_utc};

/// Writes `LINE_NO<TAB>TIME<TAB>FORMAT<TAB>FLAGS<TAB>MATCHED<TAB>KUBELET` for every line
/// of `input`.
///
/// `TIME` is the embedded time in RFC 3339 UTC (empty when none), `FLAGS` is
/// `assumed_zone`, `assumed_year` (comma-separated) or `-`, `MATCHED` the text read.
/// A kubelet (CRI) prefix is stripped before the search and shown in the last column as
/// `kubelet=TIME`; the column is empty without one. Lines end at `\n`, a trailing `\r`
/// is dropped, and invalid UTF-8 is replaced rather than refused.
pub fn inspect_times(input: &[u8], finder: &mut Finder, output: &mut impl Write) -> io::Result<()> {
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
        let line = String::from_utf8_lossy(raw);
        // Only nine fraction digits are the kubelet's: an application line that merely starts
        // with RFC 3339 and a space would otherwise lose its own time to the prefix column.
        let kubelet = kubelet_time(line.as_bytes()).filter(|time| time.nine_digits);
        let (kubelet, body) = match kubelet.and_then(|time| Some((time.instant, time.text_start?))) {
            Some((instant, text_start)) => (Some(instant), &line[text_start..]),
            None => (None, &line[..]),
        };
        write!(output, "{line_no}\t")?;
        match finder.find(body) {
            Some(found) => {
                write_rfc3339_utc(output, found.instant)?;
                write!(output, "\t{}\t", found.format.name())?;
                let flags = match (found.assumed_zone, found.assumed_year) {
                    (false, false) => "-",
                    (true, false) => "assumed_zone",
                    (false, true) => "assumed_year",
                    (true, true) => "assumed_zone,assumed_year",
                };
                output.write_all(flags.as_bytes())?;
                output.write_all(b"\t")?;
                // NB: a tab inside the matched text would shift the columns.
                let matched = &body[found.span];
                if matched.contains('\t') {
                    output.write_all(matched.replace('\t', " ").as_bytes())?;
                } else {
                    output.write_all(matched.as_bytes())?;
                }
                output.write_all(b"\t")?;
            }
            None => output.write_all(b"\t-\t-\t\t")?,
        }
        if let Some(instant) = kubelet {
            output.write_all(b"kubelet=")?;
            write_rfc3339_utc(output, instant)?;
        }
        writeln!(output)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::time::TimeContext;

    #[track_caller]
    fn check(input: &[u8], expected: &str) {
        let context = TimeContext {
            window: Some((
                "2025-02-09T09:00:00Z".parse().expect("valid"),
                "2025-02-09T11:00:00Z".parse().expect("valid"),
            )),
            ..TimeContext::default()
        };
        let mut output = Vec::new();
        inspect_times(input, &mut Finder::new(context), &mut output).expect("writing to a Vec");
        assert_eq!(String::from_utf8(output).expect("utf-8 report"), expected, "input {input:?}");
    }

    #[test]
    fn one_report_line_per_input_line() {
        let rows: &[(&[u8], &str)] = &[
            (b"", ""),
            (
                b"2025-02-09T19:05:23+09:00 up\r\nno time here\r\n\r\nFeb  9 10:05:23 host x",
                "1\t2025-02-09T10:05:23.000Z\trfc3339\t-\t2025-02-09T19:05:23+09:00\t\n\
                 2\t\t-\t-\t\t\n\
                 3\t\t-\t-\t\t\n\
                 4\t2025-02-09T10:05:23.000Z\tsyslog\tassumed_zone,assumed_year\tFeb  9 10:05:23\t\n",
            ),
            (
                b"2025-02-09T10:05:24.123456789Z 2025-02-09 10:05:23,5 WARN \xff\xfe slow\n",
                "1\t2025-02-09T10:05:23.500Z\tiso8601\tassumed_zone\t2025-02-09 10:05:23,5\t\
                 kubelet=2025-02-09T10:05:24.123456789Z\n",
            ),
            (b"2025-02-09T10:05:24.000000000Z plain\n", "1\t\t-\t-\t\tkubelet=2025-02-09T10:05:24.000Z\n"),
            (
                b"2025-02-09T19:05:24.000000001+09:00 I0209 10:05:23.000100 1 a.go:1] m\n",
                "1\t2025-02-09T10:05:23.000100Z\tklog\tassumed_zone,assumed_year\tI0209 10:05:23.000100\t\
                 kubelet=2025-02-09T10:05:24.000000001Z\n",
            ),
            (
                b"2025-02-09T10:05:24.123Z app line\tdone\n",
                "1\t2025-02-09T10:05:24.123Z\trfc3339\t-\t2025-02-09T10:05:24.123Z\t\n",
            ),
        ];
        for (input, expected) in rows {
            check(input, expected);
        }
    }
}
