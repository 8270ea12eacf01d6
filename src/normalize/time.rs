//! The timestamp finder: where in a log line its embedded time is, in which format, and
//! what instant it denotes; plus the kubelet (CRI) prefix of `kubectl logs --timestamps`.

use std::ops::Range;

use jiff::tz::TimeZone;

use crate::record::Instant;

/// What the finder needs to know beyond the line itself.
#[derive(Clone, Debug)]
pub struct TimeContext {
    /// Zone for zone-less times (default UTC); such times are flagged `assumed_zone`.
    pub zone: TimeZone,
    /// The incident window: year-less formats (syslog, logcat) take their year from it.
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
    Rfc3339,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Rfc3339 => "rfc3339",
        }
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
}

/// Finds embedded timestamps, remembering which format the previous line used so that
/// the common case (every line of a stream alike) is one parse attempt.
#[derive(Clone, Debug)]
pub struct Finder {
    context: TimeContext,
}

impl Finder {
    pub fn new(context: TimeContext) -> Self {
        Finder { context }
    }

    pub fn context(&self) -> &TimeContext {
        &self.context
    }

    /// The first embedded timestamp of `line`, if any.
    pub fn find(&mut self, line: &str) -> Option<Found> {
        let _ = line;
        None
    }
}

/// Reads the kubelet prefix of a `kubectl logs --timestamps` line: RFC 3339 with nine
/// fraction digits, `Z` or a numeric offset, then one space. Returns the instant and the
/// length of the prefix including the space.
pub fn kubelet_prefix(line: &str) -> Option<(Instant, usize)> {
    let end = line.find(' ')?;
    let instant: Instant = line[..end].parse().ok()?;
    Some((instant, end + 1))
}
