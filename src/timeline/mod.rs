//! From records and log digests to the draft timeline: extraction of rows, skew and gap
//! detection, merging, rendering. Pure: data in, data (and doubts) out; no file or
//! network IO happens below this module.
//!
//! The entry point is [`build`]. Log lines never reach it one by one: the caller streams
//! each log stream through a [`LogDigest`] and hands over the digests.

pub mod consistency;
pub mod coverage;
pub mod digest;
pub mod extract;
pub mod gaps;
pub mod merge;
pub mod render;
pub mod skew;
pub mod templates;

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::record::{Instant, PageAction, Record, Stream};

pub use coverage::{Coverage, CoverageStatus};
pub use digest::{DigestConfig, LogDigest};

/// `[start, end]` of the incident; the baseline is `[start, baseline_end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    #[serde(serialize_with = "serialize_instant")]
    pub start: Instant,
    #[serde(serialize_with = "serialize_instant")]
    pub end: Instant,
    /// End of the baseline: shortly before the earliest signal (alerts lag the onset), or
    /// `start + lead_in` without signals.
    #[serde(skip)]
    pub baseline_end: Instant,
}

impl Window {
    pub fn contains(&self, instant: Instant) -> bool {
        self.start <= instant && instant <= self.end
    }

    pub fn duration(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }
}

/// What a row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Alert,
    Page,
    Deploy,
    K8sEvent,
    Log,
    Metric,
    Gap,
    Skew,
    Note,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Alert => "alert",
            Kind::Page => "page",
            Kind::Deploy => "deploy",
            Kind::K8sEvent => "k8s_event",
            Kind::Log => "log",
            Kind::Metric => "metric",
            Kind::Gap => "gap",
            Kind::Skew => "skew",
            Kind::Note => "note",
        }
    }
}

/// What a reader must not trust blindly about a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    ClockSkew,
    AssumedZone,
    AssumedYear,
    ZoneMismatch,
    Gap,
    Truncated,
    Inconsistent,
}

impl Flag {
    pub fn name(self) -> &'static str {
        match self {
            Flag::ClockSkew => "clock_skew",
            Flag::AssumedZone => "assumed_zone",
            Flag::AssumedYear => "assumed_year",
            Flag::ZoneMismatch => "zone_mismatch",
            Flag::Gap => "gap",
            Flag::Truncated => "truncated",
            Flag::Inconsistent => "inconsistent",
        }
    }
}

/// One row of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    /// Best estimate, corrected when a skew correction applies.
    #[serde(serialize_with = "serialize_millis")]
    pub time: Instant,
    pub kind: Kind,
    pub event: String,
    pub source: String,
    pub actor: Option<String>,
    pub flags: Vec<Flag>,
    pub count: u64,
    pub example: Option<String>,
    /// The source's own time when `time` was corrected.
    #[serde(serialize_with = "serialize_option_millis")]
    pub recorded_time: Option<Instant>,
    /// Where the row's evidence can be seen (an alert's `generatorURL`): an `http(s)` URL,
    /// left out of the JSON when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Human input: a responder's note, correction, manual resolve or merge (source
    /// `responder`), not evidence a system recorded. `"human": true` in the JSON, left out
    /// otherwise. Kept whatever the window, since a person put it there.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub human: bool,
    /// The node whose clock stamped `time`, for skew correction; not rendered.
    #[serde(skip)]
    pub node: Option<String>,
    /// The log stream the row comes from, for skew correction; not rendered.
    #[serde(skip)]
    pub stream: Option<Stream>,
    /// How much this row matters when rows must be cut (higher stays).
    #[serde(skip)]
    pub weight: u32,
    /// What the row tells, as data, for readers of the timeline that need more than its
    /// text (the post-mortem's key moments); not rendered.
    #[serde(skip)]
    pub fact: Option<Fact>,
}

/// What a row tells, as data: set by `extract` where it makes the row, so no reader parses
/// a row's text back.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact {
    /// An alert fired; `severity` is its `severity` label, `labels` all of them.
    AlertFiring {
        name: String,
        severity: Option<String>,
        labels: std::collections::BTreeMap<String, String>,
    },
    AlertResolved {
        name: String,
    },
    /// An alert's condition began (`startsAt − for:` of its rule).
    ConditionBegan {
        name: String,
    },
    /// A PagerDuty step; `text` is PagerDuty's own summary of it (`priority P1`).
    Page {
        action: PageAction,
        text: String,
    },
    /// A change to a workload: `object` is `Kind NAMESPACE/NAME` (`Deployment shop/inventory`),
    /// `images` what it runs after the change, when known.
    Change {
        change: Change,
        object: String,
        images: Vec<String>,
    },
    /// A container ended: `reason` as the kubelet said it (`OOMKilled`).
    Termination {
        reason: Option<String>,
        pod: String,
        namespace: String,
    },
    /// A Kubernetes warning event: its reason (`BackOff`, `Unhealthy`) and object.
    Warning {
        reason: String,
        object: String,
        namespace: String,
    },
    /// A node condition changed (`Ready` `False`, `MemoryPressure` `True`).
    NodeCondition {
        node: String,
        condition: String,
        status: String,
    },
    /// Series of `query` left their level: `rose` or fell; `area` is the sum over the moving
    /// series of their values integrated over the departure (value × seconds, until they came
    /// back or the window ended), `increase` the sum of their counter increases over it
    /// (resets counted as Prometheus's `increase()` does).
    MetricAway {
        query: String,
        rose: bool,
        area: f64,
        increase: f64,
        series: Vec<String>,
    },
    /// Series of `query` came back to their level.
    MetricBack {
        query: String,
    },
    /// A new warning or error template's first line; `error` when an error or 5xx; `what` its
    /// lines are (`errors`, `5xx responses`), `template` its text.
    LogFirst {
        error: bool,
        what: String,
        template: String,
    },
    /// Its last line, when it stopped.
    LogLast {
        error: bool,
    },
    /// A known template far above its baseline rate: the burst's start.
    BurstStart,
    BurstOver,
    /// A responder resolved the incident by hand, at this row's time.
    ResolvedByHand,
}

/// How a workload changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Rollout,
    Rollback,
    Scale,
    Created,
    Rescale,
    /// Another notable change told by an event (a node leaving service, …).
    Other,
}

impl Entry {
    pub fn new(time: Instant, kind: Kind, event: impl Into<String>, source: impl Into<String>) -> Self {
        Entry {
            time,
            kind,
            event: event.into(),
            source: source.into(),
            actor: None,
            flags: Vec::new(),
            count: 1,
            example: None,
            recorded_time: None,
            url: None,
            human: false,
            node: None,
            stream: None,
            weight: 0,
            fact: None,
        }
    }

    pub fn flag(&mut self, flag: Flag) {
        if !self.flags.contains(&flag) {
            self.flags.push(flag);
            self.flags.sort();
        }
    }
}

/// An estimated clock offset of a subject against the reference clock.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skew {
    /// `node node-2`, `container shop/payments-…/app`.
    pub subject: String,
    /// Subject clock minus reference clock: positive runs ahead.
    pub offset_seconds: f64,
    pub spread_seconds: f64,
    pub evidence: String,
    pub samples: u64,
    /// At or above the threshold: rows of the subject carry a flag.
    pub flagged: bool,
    /// The offset is a whole number of quarter hours: a zone error, not a clock error.
    #[serde(skip)]
    pub zone_error: bool,
}

/// A span of a source with no data where data was expected.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gap {
    pub source: String,
    #[serde(serialize_with = "serialize_instant")]
    pub start: Instant,
    #[serde(serialize_with = "serialize_instant")]
    pub end: Instant,
    pub reason: String,
    /// The node whose clock stamped the bounds, for skew correction; not rendered.
    #[serde(skip)]
    pub node: Option<String>,
    /// The log stream the gap is in, for skew correction; not rendered.
    #[serde(skip)]
    pub stream: Option<Stream>,
    /// The Prometheus query whose series the gap is in, for the page's charts; not in the JSON.
    #[serde(skip)]
    pub query: Option<String>,
}

/// The draft timeline; docs/timeline-json.md describes it as JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    pub version: u32,
    pub title: String,
    pub window: Window,
    pub entries: Vec<Entry>,
    pub clock_skew: Vec<Skew>,
    pub gaps: Vec<Gap>,
    /// What was looked at: one row per input or collected source.
    pub coverage: Vec<Coverage>,
    /// The samples of each Prometheus query's series, for the HTML page's charts; not in the
    /// JSON (the evidence bundle holds them).
    #[serde(skip)]
    pub series: Vec<QuerySeries>,
}

/// The series of one Prometheus query (clock evidence left out), as the detector saw them.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySeries {
    /// `prometheus: NAME`: the source its rows and gaps name.
    pub source: String,
    pub query: String,
    pub series: Vec<SeriesSamples>,
}

/// One series: what its rows call it, its samples in the window and its baseline band.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSamples {
    /// `{pod="a"}`, `Value`: as the query's rows name it.
    pub name: String,
    /// In time order; NaN and ±Inf kept (a chart shows them as breaks).
    pub samples: Vec<(Instant, f64)>,
    /// The level departures are judged against, when the series has enough reference.
    pub band: Option<Band>,
}

/// A series' reference level: a departure is a value beyond `center ± threshold`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    pub center: f64,
    pub threshold: f64,
}

/// Pipeline knobs (the `draft` flags and the daemon's `[window]`/`[timeline]` settings).
#[derive(Clone, Debug)]
pub struct Options {
    pub max_entries: usize,
    /// Apply established offsets to row times (`--no-skew-correction` turns it off).
    pub skew_correction: bool,
    /// Offsets below this are reported but not flagged.
    pub skew_threshold_seconds: f64,
    /// The shortest log silence ever reported as a gap.
    pub gap_floor: SignedDuration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_entries: 200,
            skew_correction: true,
            skew_threshold_seconds: 2.0,
            gap_floor: SignedDuration::from_secs(60),
        }
    }
}

/// Everything the pipeline draws a timeline from.
#[derive(Debug)]
pub struct Evidence {
    pub title: String,
    pub window: Window,
    pub records: Vec<Record>,
    pub digests: Vec<LogDigest>,
    /// The rows of the inputs read (their caller knows them); [`build`] adds collection's.
    pub coverage: Vec<Coverage>,
    /// When the evidence was written (the newest input file's modification, the daemon's
    /// "now"): no row can have happened later.
    pub written_by: Option<Instant>,
}

/// Records and digests in, the draft timeline out.
pub fn build(evidence: Evidence, options: &Options) -> Timeline {
    let Evidence { title, window, records, digests, mut coverage, written_by } = evidence;
    let skews = skew::estimate(&records, &digests, &window, options);
    let found = gaps::detect(&records, &digests, &window, options);
    let mut entries = extract::entries(&records, &digests, &window, options);
    entries.extend(found.notes);
    coverage::complete(&mut coverage, &records);
    let mut timeline = merge::merge(title, window, entries, skews, found.gaps, options);
    timeline.coverage = coverage;
    timeline.series = extract::query_series(&records, &window);
    consistency::check(&mut timeline, written_by);
    timeline
}

/// A readable span length: `6m55s`, `1h2m`, `45s`, `6d9h`.
pub fn human_duration(duration: SignedDuration) -> String {
    let total = duration.as_secs().unsigned_abs();
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    if hours >= 48 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            rest => format!("{}d{rest}h", hours / 24),
        };
    }
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) if seconds == 0 => format!("{minutes}m"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ if minutes == 0 => format!("{hours}h"),
        _ => format!("{hours}h{minutes}m"),
    }
}

/// A value with at most four significant digits, no trailing zeros: `0.0123`, `1.6`, `2400`.
pub fn human_value(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 12) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

/// A signed offset: `+90s`, `-0.004s`, `+9h`, `-5h30m`.
pub fn human_offset(offset_seconds: f64) -> String {
    let sign = if offset_seconds >= 0.0 { "+" } else { "-" };
    if offset_seconds.abs() >= 3600.0 {
        return format!("{sign}{}", human_duration(SignedDuration::from_secs(offset_seconds.abs().round() as i64)));
    }
    format!("{sign}{}s", human_value(offset_seconds.abs()))
}

/// Window and gap bounds: RFC 3339 UTC, to the millisecond when not whole seconds.
fn serialize_instant<S: serde::Serializer>(instant: &Instant, serializer: S) -> Result<S::Ok, S::Error> {
    if instant.subsec_nanosecond() == 0 {
        serializer.collect_str(instant)
    } else {
        serializer.collect_str(&Millis(*instant))
    }
}

/// An optional bound, as [`serialize_instant`] writes one; `null` when unknown.
fn serialize_option_instant<S: serde::Serializer>(instant: &Option<Instant>, serializer: S) -> Result<S::Ok, S::Error> {
    match instant {
        Some(instant) => serialize_instant(instant, serializer),
        None => serializer.serialize_none(),
    }
}

fn serialize_millis<S: serde::Serializer>(instant: &Instant, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Millis(*instant))
}

fn serialize_option_millis<S: serde::Serializer>(instant: &Option<Instant>, serializer: S) -> Result<S::Ok, S::Error> {
    match instant {
        Some(instant) => serializer.collect_str(&Millis(*instant)),
        None => serializer.serialize_none(),
    }
}

/// RFC 3339 in UTC with exactly three fraction digits: `2025-02-09T10:05:23.000Z`.
pub struct Millis(pub Timestamp);

impl fmt::Display for Millis {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:.3}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_value(value: f64, expected: &str) {
        assert_eq!(human_value(value), expected);
    }

    #[test]
    fn values_read_as_people_write_them() {
        check_value(0.012345, "0.01235");
        check_value(1.6, "1.6");
        check_value(2400.0, "2400");
        check_value(90.0021, "90");
        check_value(-0.004, "-0.004");
        check_value(f64::NAN, "NaN");
        check_value(0.0, "0");
    }

    #[track_caller]
    fn check_offset(seconds: f64, expected: &str) {
        assert_eq!(human_offset(seconds), expected);
    }

    #[test]
    fn offsets_read_as_people_write_them() {
        check_offset(90.0, "+90s");
        check_offset(-0.004, "-0.004s");
        check_offset(32_400.0, "+9h");
        check_offset(-19_800.0, "-5h30m");
    }

    #[track_caller]
    fn check_duration(seconds: i64, expected: &str) {
        assert_eq!(human_duration(SignedDuration::from_secs(seconds)), expected);
    }

    #[test]
    fn durations_read_as_people_write_them() {
        check_duration(45, "45s");
        check_duration(415, "6m55s");
        check_duration(600, "10m");
        check_duration(3720, "1h2m");
        check_duration(7200, "2h");
        check_duration(153 * 3600 + 43 * 60, "6d9h");
        check_duration(30 * 3600, "30h");
    }
}
