//! The report behind `postmortemd inspect-times`: one line per input line saying which
//! timestamp the finder read, in which format and with what assumptions, so a user sees
//! why a line landed where it did. It formats text; reading the file is main.rs's job.

use std::io::{self, Write};

use super::time::{Finder, format_rfc3339_utc, kubelet_prefix};

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
        let (kubelet, body) = match kubelet_prefix(&line) {
            Some((instant, length)) => (Some(instant), &line[length..]),
            None => (None, &line[..]),
        };
        write!(output, "{line_no}\t")?;
        match finder.find(body) {
            Some(found) => {
                let mut flags = Vec::new();
                if found.assumed_zone {
                    flags.push("assumed_zone");
                }
                if found.assumed_year {
                    flags.push("assumed_year");
                }
                let flags = if flags.is_empty() { "-".to_owned() } else { flags.join(",") };
                write!(
                    output,
                    "{}\t{}\t{flags}\t{}\t",
                    format_rfc3339_utc(found.instant),
                    found.format.name(),
                    body[found.span].replace('\t', " "),
                )?;
            }
            None => write!(output, "\t-\t-\t\t")?,
        }
        if let Some(instant) = kubelet {
            write!(output, "kubelet={}", format_rfc3339_utc(instant))?;
        }
        writeln!(output)?;
    }
    Ok(())
}
