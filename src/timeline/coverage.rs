//! Coverage: what a draft looked at. One row per input or collected source (a file, a log
//! stream, a collector): its kind, how much of it was read (lines, events, series…), the
//! span its data covers, and what was left out and why (outside the window, lines without a
//! time, unrecognised, a failed export, a cap or a 403 a collector reported, not
//! configured). A reader who sees no row about a thing knows it was never looked at.
//!
//! `draft` makes the rows of the files it was given (it alone knows them);
//! [`complete`] adds what the records say about collection (reported gaps, collectors not
//! configured) and orders the table.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::record::{AlertStatus, GapRecord, Instant, Record, nanos};
use crate::timeline::LogDigest;

/// One source's row of the coverage table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coverage {
    /// What the timeline calls it: a log stream (`logs shop/api-1/app`), a file
    /// (`events.json`), a collector (`prometheus`).
    pub source: String,
    /// What it is: a log, the artifact kind of a file (`k8s-events`), `collector`.
    pub kind: String,
    /// The file it was read from (`null` for a collector).
    pub input: Option<String>,
    pub status: CoverageStatus,
    /// How much was read, by unit (`{"lines": 1200}`, `{"events": 40, "pods": 3}`).
    pub read: BTreeMap<&'static str, u64>,
    /// The first and last time the data read covers.
    #[serde(serialize_with = "crate::timeline::serialize_option_instant")]
    pub start: Option<Instant>,
    #[serde(serialize_with = "crate::timeline::serialize_option_instant")]
    pub end: Option<Instant>,
    /// What was not used, and why, one phrase each (`12 lines before the window`).
    pub left_out: Vec<String>,
    /// Secrets replaced by `[REDACTED:<rule>]` in its lines or event messages, per rule
    /// (`normalize::redact`); counted again from the markers of text redacted when collected.
    pub redacted: BTreeMap<String, u64>,
}

/// How far a source was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageStatus {
    /// Read through; anything left out lies outside the window.
    Read,
    /// Read, but some of it could not be (a cap, a 403, lines without a time).
    Partial,
    /// Not read: not a kind postmortemd reads, or unreadable.
    Skipped,
    /// An export that failed: the file holds only a header or an error message.
    Failed,
    /// A collector the daemon was not given settings for.
    NotConfigured,
}

impl CoverageStatus {
    pub fn name(self) -> &'static str {
        match self {
            CoverageStatus::Read => "read",
            CoverageStatus::Partial => "partial",
            CoverageStatus::Skipped => "skipped",
            CoverageStatus::Failed => "failed export",
            CoverageStatus::NotConfigured => "not configured",
        }
    }
}

impl Coverage {
    fn new(source: impl Into<String>, kind: impl Into<String>, status: CoverageStatus) -> Self {
        Coverage {
            source: source.into(),
            kind: kind.into(),
            input: None,
            status,
            read: BTreeMap::new(),
            start: None,
            end: None,
            left_out: Vec::new(),
            redacted: BTreeMap::new(),
        }
    }

    /// A file that was not read, and why.
    pub fn skipped(source: impl Into<String>, kind: impl Into<String>, status: CoverageStatus, why: String) -> Self {
        let mut coverage = Coverage::new(source, kind, status);
        coverage.left_out.push(why);
        coverage
    }

    /// A file read into `records`: counted by what they are, spanning their times.
    pub fn of_records(source: impl Into<String>, kind: impl Into<String>, records: &[Record]) -> Self {
        let mut coverage = Coverage::new(source, kind, CoverageStatus::Read);
        for record in records {
            if let Some(unit) = unit(record) {
                *coverage.read.entry(unit).or_default() += 1;
            }
            if let Record::Series(series) = record {
                *coverage.read.entry("samples").or_default() += series.samples.len() as u64;
            }
            for_each_time(record, |time| coverage.include(time));
        }
        coverage
    }

    /// A log stream as its digest read it: lines, their span (on the stream's own clock),
    /// and the lines outside the window or without a time.
    pub fn of_digest(digest: &LogDigest, kind: impl Into<String>) -> Self {
        let mut coverage = Coverage::new(digest.source.to_string(), kind, CoverageStatus::Read);
        coverage.read.insert("lines", digest.n_lines);
        coverage.redacted = digest.redactions.clone();
        let hint = digest.config.offset_hint_nanos;
        coverage.start = digest.first_nanos.map(|first| crate::record::instant(first - hint));
        coverage.end = digest.last_nanos.map(|last| crate::record::instant(last - hint));
        let before: u64 = digest.stats.iter().map(|stats| stats.n_before_window).sum();
        let phrases = [
            (before, "before the window"),
            (digest.n_after_window, "after the window"),
            (digest.n_without_time, "before the stream's first time (no time of their own)"),
        ];
        for (count, why) in phrases {
            if count > 0 {
                coverage.left_out.push(format!("{count} {} {why}", plural(count, "line")));
            }
        }
        coverage
    }

    /// The row, with what was redacted from its records (`normalize::redact::record_texts`).
    pub fn with_redactions(mut self, redacted: BTreeMap<String, u64>) -> Self {
        self.redacted = redacted;
        self
    }

    /// The row, naming the file it was read from.
    pub fn from_input(mut self, input: impl Into<String>) -> Self {
        self.input = Some(input.into());
        self
    }

    fn include(&mut self, time: Instant) {
        self.start = Some(self.start.map_or(time, |start| start.min(time)));
        self.end = Some(self.end.map_or(time, |end| end.max(time)));
    }
}

/// Adds what collection reported to the files' rows: each reported gap's reason on the row
/// of its source (or a row of its own), each collector not configured; orders the table.
pub fn complete(coverage: &mut Vec<Coverage>, records: &[Record]) {
    for record in records {
        match record {
            Record::Gap(gap) => add_reported(coverage, gap),
            Record::NotConfigured(missing) => coverage.push(Coverage::skipped(
                missing.source.clone(),
                "collector",
                CoverageStatus::NotConfigured,
                format!("not configured: {}", missing.hint),
            )),
            _ => {}
        }
    }
    // By file, then stream within it; collectors by their name.
    coverage.sort_by(|left, right| {
        let file = |row: &Coverage| row.input.clone().unwrap_or_else(|| row.source.clone());
        file(left).cmp(&file(right)).then_with(|| left.source.cmp(&right.source))
    });
}

/// A reported gap names what collection could not see: a part of a source left out.
fn add_reported(coverage: &mut Vec<Coverage>, gap: &GapRecord) {
    let source = gap.source.to_string();
    let why = gap.reason.clone();
    match coverage.iter_mut().find(|row| row.source == source) {
        Some(row) => {
            if !row.left_out.contains(&why) {
                row.left_out.push(why);
            }
            if row.status == CoverageStatus::Read {
                row.status = CoverageStatus::Partial;
            }
        }
        None => {
            // A reported gap of a stream or a part nothing was read from (a 403, a pod gone
            // before its logs were read).
            let mut row = Coverage::skipped(source, "collected", CoverageStatus::Partial, why);
            row.start = Some(gap.start);
            row.end = Some(gap.end);
            coverage.push(row);
        }
    }
}

/// The unit a record is counted in; `None` for what repeats another record (a
/// Deployment's authors, read beside its workload record).
fn unit(record: &Record) -> Option<&'static str> {
    Some(match record {
        Record::Alert(_) => "alerts",
        Record::Page(_) => "pages",
        Record::K8sEvent(_) => "events",
        Record::Rollout(_) => "rollouts",
        Record::Deployment(_) => return None,
        Record::Workload(_) => "workloads",
        Record::Revision(_) => "revisions",
        Record::Autoscaler(_) => "autoscalers",
        Record::NodeCondition(_) => "node conditions",
        Record::Pod(_) => "pods",
        Record::Series(_) => "series",
        Record::Gap(_) => "reported gaps",
        Record::Note(_) => "notes",
        Record::NotConfigured(_) => "collectors",
        Record::Rule(_) => "rules",
        Record::Target(_) => "targets",
        Record::Responder(_) => "responder inputs",
    })
}

/// Every time a record's data stands at.
fn for_each_time(record: &Record, mut each: impl FnMut(Instant)) {
    match record {
        Record::Alert(alert) => {
            each(alert.starts_at);
            // A firing alert's `endsAt` is a guess (Alertmanager's resolve timeout ahead, or
            // `0001-01-01`): only a resolution is a time its data stands at.
            if alert.status == AlertStatus::Resolved {
                alert.ends_at.filter(|end| *end >= alert.starts_at).into_iter().for_each(&mut each);
            }
        }
        Record::Page(page) => each(page.time),
        Record::K8sEvent(event) => event.first_time.into_iter().chain([event.time]).for_each(each),
        Record::Rollout(rollout) => each(rollout.time),
        Record::Revision(revision) => each(revision.time),
        Record::Workload(workload) => workload.created.into_iter().for_each(each),
        Record::Autoscaler(autoscaler) => autoscaler.last_scale.into_iter().for_each(each),
        Record::NodeCondition(condition) => each(condition.since),
        Record::Pod(pod) => pod.created_at.into_iter().for_each(each),
        Record::Series(series) => series.samples.iter().for_each(|(time, _)| each(*time)),
        Record::Gap(gap) => {
            each(gap.start);
            each(gap.end);
        }
        // A target's last scrape is when it was looked at, not data of the incident.
        // Human input is not evidence of data a source had.
        Record::Deployment(_)
        | Record::Note(_)
        | Record::NotConfigured(_)
        | Record::Rule(_)
        | Record::Target(_)
        | Record::Responder(_) => {}
    }
}

/// The latest time any record or log stream covers: past it, nothing can say whether a
/// source should have had data. Reported gaps are not evidence of data.
pub fn evidence_end(records: &[Record], digests: &[LogDigest]) -> Option<Instant> {
    let mut end: Option<i64> = None;
    let mut include = |time: i64| end = Some(end.map_or(time, |end| end.max(time)));
    for record in records.iter().filter(|record| !matches!(record, Record::Gap(_) | Record::Pod(_))) {
        for_each_time(record, |time| include(nanos(time)));
    }
    for digest in digests {
        if let Some(last) = digest.last_nanos {
            include(last - digest.config.offset_hint_nanos);
        }
    }
    end.map(crate::record::instant)
}

/// `line` or `lines`.
fn plural(count: u64, noun: &str) -> String {
    if count == 1 { noun.to_owned() } else { format!("{noun}s") }
}
