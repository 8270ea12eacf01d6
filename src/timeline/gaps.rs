//! Gaps: stretches of a source with no data where data was expected. A log stream's
//! silence is a gap when it is far beyond the stream's own rhythm (with a floor), is not one
//! of the stream's habits, and the evidence says lines were expected: the pod restarted or
//! its events explain it, its peers (other containers of the pod, other pods of the
//! workload) logged meanwhile, or an alert about it was firing (a lone stream, with nothing
//! else to judge by, on its rhythm alone). A stream that begins after the window start
//! because its pod began later, or ends because its pod ended, gets one note instead; past
//! the end of all evidence nothing is inferred, and one note says where that is. A
//! Prometheus series missing more than two steps is a gap. Reasons come from pod
//! status and events when they explain the silence. Gaps a collector or sender reported
//! (`Record::Gap`: a 403, a deleted pod, alerts not delivered) are taken as they are,
//! clipped to the window.

use jiff::SignedDuration;

use crate::record::{
    AlertRecord, AlertStatus, GapRecord, Instant, K8sEventRecord, PodRecord, Record, SeriesRecord, Stream,
    TargetHealth, TargetRecord, instant, nanos,
};
use crate::timeline::coverage::evidence_end;
use crate::timeline::digest::LogDigest;
use crate::timeline::extract::WEIGHT_GAP;
use crate::timeline::skew::median;
use crate::timeline::{Entry, Gap, Kind, Options, Window, human_duration};

/// A silence counts when it exceeds this many times the stream's 99th percentile spacing.
const RHYTHM_FACTOR: f64 = 10.0;
/// A stream's first or last line must be this many gap floors from the window's edge.
const EDGE_FLOOR_FACTOR: i64 = 3;
/// Below this many spacings a stream's rhythm is unknown; only long silences count.
const MIN_DELTAS: u64 = 20;
/// A series' samples further apart than this many of its steps (its median spacing) have a
/// hole between them (a gap here, a break in the page's chart).
pub const SERIES_HOLE_STEPS: f64 = 2.5;

/// What gap detection found: the gaps, and the notes that stand in for what is not a gap
/// (a stream that begins with its pod or ends with it; where the evidence ends).
#[derive(Debug, Default)]
pub struct Found {
    pub gaps: Vec<Gap>,
    pub notes: Vec<Entry>,
}

/// Every gap the evidence shows, by source then start, and the notes about streams that
/// began or ended with their pod and about where the evidence ends.
pub fn detect(records: &[Record], digests: &[LogDigest], window: &Window, options: &Options) -> Found {
    let pods: Vec<&PodRecord> = records.iter().filter_map(Record::as_pod).collect();
    let events: Vec<&K8sEventRecord> = records.iter().filter_map(Record::as_k8s_event).collect();
    let targets: Vec<&TargetRecord> = records.iter().filter_map(Record::as_target).collect();
    let alerts: Vec<&AlertRecord> = records.iter().filter_map(Record::as_alert).collect();
    let evidence_end = evidence_end(records, digests).map_or(window.end, |end| end.min(window.end));
    let context = Context { window, options, pods: &pods, events: &events, alerts: &alerts, digests, evidence_end };
    let mut notes = Vec::new();
    let mut inferred: Vec<Gap> = Vec::new();
    for (index, digest) in digests.iter().enumerate() {
        let (gaps, stream_notes) = log_gaps(index, digest, &context);
        inferred.extend(gaps);
        notes.extend(stream_notes);
    }
    // Only sources that could have had a gap past it make the end of the evidence worth a
    // note: a window's tail past the last alert is there by design.
    let continuous = !digests.is_empty() || records.iter().any(|record| matches!(record, Record::Series(_)));
    let edge = options.gap_floor * EDGE_FLOOR_FACTOR as i32;
    if continuous && window.end.duration_since(evidence_end) > edge {
        let missing = human_duration(window.end.duration_since(evidence_end));
        let mut note = Entry::new(
            evidence_end,
            Kind::Note,
            format!(
                "Evidence ends at {}: no input covers the last {missing} of the window, so no gap is inferred past it",
                evidence_end.strftime("%H:%M:%S")
            ),
            "postmortemd",
        );
        note.weight = WEIGHT_GAP;
        notes.push(note);
    }
    let mut reported: Vec<Gap> = Vec::new();
    for record in records {
        match record {
            Record::Series(series) => inferred.extend(series_gaps(series, window, &pods, &targets)),
            Record::Gap(gap) if superseded(gap, digests, window, options) => {}
            Record::Gap(gap) => {
                // Every notification of a group reports its dropped alerts again: one gap per reason.
                let gap = reported_gap(gap, window);
                match reported.iter_mut().find(|known| known.source == gap.source && known.reason == gap.reason) {
                    Some(known) => {
                        known.start = known.start.min(gap.start);
                        known.end = known.end.max(gap.end);
                    }
                    None => reported.push(gap),
                }
            }
            _ => {}
        }
    }
    // A reported gap says why; an inferred one of the same source within its span only
    // guesses: keep the one that knows.
    let slack = options.gap_floor;
    inferred.retain(|gap| {
        !reported
            .iter()
            .any(|known| known.source == gap.source && gap.start >= known.start - slack && gap.end <= known.end + slack)
    });
    let mut gaps = inferred;
    gaps.extend(reported);
    gaps.sort_by(|left, right| left.source.cmp(&right.source).then(left.start.cmp(&right.start)));
    Found { gaps, notes }
}

/// What every stream's gaps are judged against.
struct Context<'a> {
    window: &'a Window,
    options: &'a Options,
    pods: &'a [&'a PodRecord],
    events: &'a [&'a K8sEventRecord],
    alerts: &'a [&'a AlertRecord],
    digests: &'a [LogDigest],
    /// The last time any input covers (at most the window's end), reference clock.
    evidence_end: Instant,
}

impl Context<'_> {
    /// Whether nothing but this stream could say whether it should have logged.
    fn alone(&self) -> bool {
        self.digests.len() == 1 && self.alerts.is_empty()
    }
}

/// Whether a stream has a line strictly inside `(from, to)`, reference clock: its lines
/// reach both sides and none of its silences spans the whole stretch.
fn logged_between(digest: &LogDigest, from: i64, to: i64) -> bool {
    let hint = digest.config.offset_hint_nanos;
    let (Some(first), Some(last)) = (digest.first_nanos, digest.last_nanos) else { return false };
    if first - hint >= to || last - hint <= from {
        return false;
    }
    !digest.silences.iter().any(|&(start, end)| start - hint <= from && end - hint >= to)
}

/// How many of a stream's other silences are at least half as long as this one: a stream
/// that often falls silent this long (a component that logs only when something happens)
/// is not missing data when it does again.
const HABITUAL_SILENCES: usize = 3;

fn habitual(digest: &LogDigest, silence: (i64, i64)) -> bool {
    let length = silence.1 - silence.0;
    let similar =
        digest.silences.iter().filter(|&&other| other != silence && (other.1 - other.0) * 2 >= length).count();
    similar >= HABITUAL_SILENCES
}

/// Whether a stream's own lines contradict a reported gap: a log stream cut mid-pass is
/// read again from its cursor on the next pass, so lines well after the gap's start mean
/// the data came after all (a hole that remains shows as a silence of the stream).
fn superseded(reported: &GapRecord, digests: &[LogDigest], window: &Window, options: &Options) -> bool {
    let Some(stream) = reported.source.stream() else { return false };
    digests.iter().filter(|digest| digest.source.stream == *stream).any(|digest| {
        let threshold = silence_threshold_nanos(digest, window, options);
        let last = digest.last_nanos.map(|last| last - digest.config.offset_hint_nanos);
        last.is_some_and(|last| last > nanos(reported.start).saturating_add(threshold))
    })
}

/// A reported gap, clipped to the window (an empty span at the nearest edge when it lies outside).
fn reported_gap(reported: &GapRecord, window: &Window) -> Gap {
    let start = reported.start.clamp(window.start, window.end);
    Gap {
        source: reported.source.to_string(),
        start,
        end: reported.end.clamp(start, window.end),
        reason: reported.reason.clone(),
        node: reported.node.clone(),
        stream: reported.source.stream().cloned(),
        query: None,
    }
}

/// The silence a stream must exceed to be a gap, nanoseconds.
pub fn silence_threshold_nanos(digest: &LogDigest, window: &Window, options: &Options) -> i64 {
    let floor = options.gap_floor.as_nanos() as i64;
    if digest.rhythm.n_deltas < MIN_DELTAS {
        return floor.max(window.duration().as_nanos() as i64 / 4);
    }
    let p99 = digest.rhythm.quantile_nanos(0.99).unwrap_or(0);
    floor.max((p99 as f64 * RHYTHM_FACTOR) as i64)
}

fn log_gaps(index: usize, digest: &LogDigest, context: &Context<'_>) -> (Vec<Gap>, Vec<Entry>) {
    let (window, options) = (context.window, context.options);
    let source = digest.source.to_string();
    let gap = |start: i64, end: i64, reason: String| Gap {
        source: source.clone(),
        start: instant(start),
        end: instant(end),
        reason,
        node: digest.source.node.clone(),
        stream: Some(digest.source.stream.clone()),
        query: None,
    };
    let note = |at: i64, text: String| {
        let mut entry = Entry::new(instant(at), Kind::Note, text, source.clone());
        entry.node = digest.source.node.clone();
        entry.stream = Some(digest.source.stream.clone());
        entry
    };
    // A stream without a single time is named in the coverage, not guessed at here.
    let (Some(first), Some(last)) = (digest.first_nanos, digest.last_nanos) else {
        return (Vec::new(), Vec::new());
    };
    let hint = digest.config.offset_hint_nanos;
    let (window_start, window_end) = (nanos(window.start) + hint, nanos(window.end) + hint);
    let evidence_end = nanos(context.evidence_end) + hint;
    let threshold = silence_threshold_nanos(digest, window, options);
    let rhythm_known = digest.rhythm.n_deltas >= MIN_DELTAS;
    let pod_name = match &digest.source.stream {
        Stream::Container(name) => Some(name.pod.as_str()),
        Stream::File(_) => None,
    };
    let container = container_of(&digest.source.stream, context.pods);
    // Whether the evidence says the stream should have logged in `(from, to)` (stream clock):
    // its peers (the same pod's other containers, the same workload's other pods) logged or
    // an alert about it was firing; or, for a silence between its own lines (not at an edge,
    // where exports and idle components end), its rhythm is known and something else was
    // going on (any other stream logged, any alert fired) or there is nothing else to judge by.
    let expected = |from: i64, to: i64, between_lines: bool| {
        let (from, to) = (from - hint, to - hint);
        let others = || context.digests.iter().enumerate().filter(move |(other_index, _)| *other_index != index);
        let peers_logged =
            others().any(|(_, other)| is_peer(pod_name, &other.source.stream) && logged_between(other, from, to));
        let firing = |alert: &&&AlertRecord| {
            let end = alert.ends_at.filter(|_| alert.status == AlertStatus::Resolved).map_or(i64::MAX, nanos);
            nanos(alert.starts_at) < to && end > from
        };
        let alert_about_it =
            context.alerts.iter().filter(firing).any(|alert| pod_name.is_some_and(|pod| concerns(alert, pod)));
        if peers_logged || alert_about_it {
            return true;
        }
        let elsewhere = || {
            others().any(|(_, other)| logged_between(other, from, to))
                || context.alerts.iter().any(|alert| firing(&alert))
        };
        between_lines && rhythm_known && (context.alone() || elsewhere())
    };
    let mut gaps = Vec::new();
    let mut notes = Vec::new();
    for &(start, end) in &digest.silences {
        if end - start <= threshold {
            continue;
        }
        let explained =
            explain(pod_name, container, context.events, instant(start - threshold), instant(end + threshold));
        if explained.is_empty() && (habitual(digest, (start, end)) || !expected(start, end, true)) {
            continue;
        }
        let duration = human_duration(SignedDuration::from_nanos(end - start));
        gaps.push(gap(start, end, format!("no lines for {duration}{explained}")));
    }
    // The edges take a longer silence: exports of several pods end (and windows drawn from
    // the data start) minutes apart without anything having been lost.
    let edge_threshold = threshold.max(EDGE_FLOOR_FACTOR * options.gap_floor.as_nanos() as i64);
    if first - window_start > edge_threshold {
        let begins = human_duration(SignedDuration::from_nanos(first - window_start));
        let created = container.and_then(|(pod, _)| pod.created_at).map(|created| nanos(created) + hint);
        // The pod was there before its first line: created earlier, or events about it.
        let earlier = first - threshold;
        let existed = created.is_some_and(|created| created < earlier)
            || pod_name.is_some_and(|pod| {
                context.events.iter().any(|event| {
                    is_about_pod(event, pod) && nanos(event.first_time.unwrap_or(event.time)) + hint < earlier
                })
            });
        if existed && expected(window_start, first, false) {
            gaps.push(gap(
                window_start,
                first,
                format!("stream begins {begins} after the window start (log rotated away or export started late)"),
            ));
        } else {
            let why = match created.filter(|created| *created >= earlier) {
                Some(created) => format!("its pod was created at {}", instant(created).strftime("%H:%M:%S")),
                None => "nothing shows it logged before".to_owned(),
            };
            notes.push(note(first, format!("Log stream begins, {begins} after the window start: {why}")));
        }
    }
    let end_of_evidence = window_end.min(evidence_end);
    if end_of_evidence - last > edge_threshold {
        let ends = human_duration(SignedDuration::from_nanos(end_of_evidence - last));
        if let Some(ended) =
            pod_name.and_then(|pod| pod_ended(pod, container, context.events, instant(last - threshold)))
        {
            notes.push(note(last, format!("Log stream ends, {ends} before the evidence does: {ended}")));
        } else if expected(last, end_of_evidence, false) {
            gaps.push(gap(
                last,
                end_of_evidence,
                format!("stream ends {ends} before the rest of the evidence (pod deleted or export ended early)"),
            ));
        }
    }
    (gaps, notes)
}

/// Whether `other` is a peer of a stream of `pod`: another container of the pod, or a pod of
/// the same workload (the name up to its ReplicaSet hash, StatefulSet ordinal or
/// DaemonSet suffix).
fn is_peer(pod: Option<&str>, other: &Stream) -> bool {
    let (Some(pod), Stream::Container(other)) = (pod, other) else { return false };
    other.pod == pod || workload_of(&other.pod) == workload_of(pod)
}

/// A pod's workload name: `checkout-api-7d9f8b6c5-q4hjn` → `checkout-api`, `db-0` → `db`,
/// `node-exporter-x7k2p` → `node-exporter`; a name of no such shape is its own.
fn workload_of(pod: &str) -> &str {
    let mut name = pod;
    // The random suffix: five characters of Kubernetes' alphabet (no vowels but digits).
    if let Some((rest, suffix)) = name.rsplit_once('-')
        && suffix.len() == 5
        && suffix.bytes().all(|byte| byte.is_ascii_digit() || (byte.is_ascii_lowercase() && !b"aeiou".contains(&byte)))
    {
        name = rest;
        // A ReplicaSet's pod-template hash before it: 6 to 10 of the same alphabet.
        if let Some((rest, hash)) = name.rsplit_once('-')
            && (6..=10).contains(&hash.len())
            && hash
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (byte.is_ascii_lowercase() && !b"aeiou".contains(&byte)))
        {
            name = rest;
        }
        return name;
    }
    // A StatefulSet's ordinal.
    match name.rsplit_once('-') {
        Some((rest, ordinal)) if !ordinal.is_empty() && ordinal.bytes().all(|byte| byte.is_ascii_digit()) => rest,
        _ => name,
    }
}

/// Whether an alert is about a pod: its `pod` label names it, or a workload-like label
/// (`deployment`, `statefulset`, `daemonset`, `service`, `job`, `app`, `container`) names
/// its workload.
fn concerns(alert: &AlertRecord, pod: &str) -> bool {
    if alert.labels.get("pod").is_some_and(|labelled| labelled == pod) {
        return true;
    }
    let workload = workload_of(pod);
    ["deployment", "statefulset", "daemonset", "service", "job", "app", "container"]
        .iter()
        .filter_map(|label| alert.labels.get(*label))
        .any(|value| value == workload)
}

/// Whether an event is about a pod (its object, or a controller's `Deleted pod: NAME`).
fn is_about_pod(event: &K8sEventRecord, pod: &str) -> bool {
    event.object.strip_prefix("Pod/") == Some(pod)
}

/// Why a pod stopped logging for good, when the evidence says: stopped or deleted at or
/// after `since`, or its container terminated then.
fn pod_ended(
    pod: &str,
    container: Option<(&PodRecord, &str)>,
    events: &[&K8sEventRecord],
    since: Instant,
) -> Option<String> {
    const ENDINGS: [&str; 4] = ["Killing", "Preempting", "Evicted", "TaintManagerEviction"];
    let recent = || events.iter().filter(|event| event.time >= since);
    // The pod's own event (the kubelet stopping its container) before its controller's
    // `Deleted pod`, in whatever order the export lists them (`--sort-by` is common).
    let ending =
        recent().find(|event| is_about_pod(event, pod) && ENDINGS.contains(&event.reason.as_str())).or_else(|| {
            recent().find(|event| event.reason == "SuccessfulDelete" && event.message.ends_with(&format!(": {pod}")))
        });
    if let Some(event) = ending {
        return Some(format!("{} at {} ({})", event.reason, event.time.strftime("%H:%M:%S"), event.message));
    }
    let (pod_record, container_name) = container?;
    let status = pod_record.containers.iter().find(|status| status.name == container_name)?;
    let termination = status.last_termination.as_ref()?;
    let finished = termination.finished_at.filter(|finished| *finished >= since)?;
    // Restarted since: its stream would go on.
    if status.started_at.is_some_and(|started| started > finished) {
        return None;
    }
    Some(format!("its container terminated at {}", finished.strftime("%H:%M:%S")))
}

/// The pod and container a log stream is of, when it is a container's and the pod was read.
fn container_of<'a>(stream: &Stream, pods: &[&'a PodRecord]) -> Option<(&'a PodRecord, &'a str)> {
    let Stream::Container(name) = stream else { return None };
    let pod = pods.iter().copied().find(|pod| {
        pod.name == name.pod && name.namespace.as_ref().is_none_or(|namespace| pod.namespace == *namespace)
    })?;
    let container = pod.containers.iter().find(|status| status.name == name.container)?;
    Some((pod, container.name.as_str()))
}

/// Why a container was silent between `from` and `to`, when pod status or events say.
fn explain(
    pod_name: Option<&str>,
    container: Option<(&PodRecord, &str)>,
    events: &[&K8sEventRecord],
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> String {
    let Some(pod_name) = pod_name else {
        return String::new();
    };
    let status = container.and_then(|(pod, name)| pod.containers.iter().find(|status| status.name == name));
    if let Some(termination) = status.and_then(|status| status.last_termination.as_ref())
        && termination.finished_at.is_some_and(|finished| from <= finished && finished <= to)
    {
        let mut detail = Vec::new();
        detail.extend(termination.reason.clone());
        detail.extend(termination.exit_code.map(|code| format!("exit {code}")));
        return if detail.is_empty() {
            " (container restarted)".to_owned()
        } else {
            format!(" (container restarted: {})", detail.join(", "))
        };
    }
    let reasons: Vec<&str> = events
        .iter()
        .filter(|event| {
            is_about_pod(event, pod_name) && event.time >= from && event.first_time.unwrap_or(event.time) <= to
        })
        .map(|event| event.reason.as_str())
        .collect();
    if reasons.is_empty() {
        String::new()
    } else {
        let mut reasons = reasons;
        reasons.sort();
        reasons.dedup();
        format!(" (events: {})", reasons.join(", "))
    }
}

/// A series' missing samples: holes of more than two steps inside the window, and, when
/// the scrape target the series comes from is failing, its silence up to the window end.
fn series_gaps(series: &SeriesRecord, window: &Window, pods: &[&PodRecord], targets: &[&TargetRecord]) -> Vec<Gap> {
    // Clock series are evidence of skew, and a filtering expression (`x > 0.05`) has
    // samples only where it holds: neither is expected to be continuous.
    if series.kind.is_clock() || is_filtering(&series.query) || series.samples.len() < 3 {
        return Vec::new();
    }
    let times: Vec<i64> = series.samples.iter().map(|(time, _)| nanos(*time)).collect();
    let spacings: Vec<f64> = times.windows(2).map(|pair| (pair[1] - pair[0]) as f64).collect();
    let step = median(&spacings);
    if step.is_nan() || step <= 0.0 {
        return Vec::new();
    }
    let source = format!("{} {}", series.source_name(), series.label_text());
    let pod = series.labels.get("pod").and_then(|name| pods.iter().find(|pod| &pod.name == name));
    let target_down = failing_target(series, targets).map(target_down_text);
    let mut gaps = Vec::new();
    for pair in times.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        if (after - before) as f64 > SERIES_HOLE_STEPS * step
            && instant(after) > window.start
            && instant(before) < window.end
        {
            let missing = ((after - before) as f64 / step).round() as i64 - 1;
            let duration = human_duration(SignedDuration::from_nanos(after - before));
            let mut reason = format!("no samples for {duration} ({missing} steps missing)");
            if let Some(pod) = pod {
                let restarted = pod.containers.iter().any(|status| {
                    status.last_termination.as_ref().and_then(|termination| termination.finished_at).is_some_and(
                        |finished| {
                            let finished = nanos(finished);
                            finished >= before - 2 * step as i64 && finished <= after
                        },
                    )
                });
                if restarted {
                    reason.push_str(" (container restarted)");
                }
            }
            if let Some(target_down) = &target_down {
                reason.push_str("; ");
                reason.push_str(target_down);
            }
            // NB: a range query repeats a series' last sample for the lookback delta (5 min by
            // default), so the scrapes may have stopped that much before the hole shows.
            reason.push_str("; Prometheus's 5m lookback may hide more before it");
            gaps.push(Gap {
                source: source.clone(),
                start: instant(before),
                end: instant(after),
                reason,
                node: None,
                stream: None,
                query: Some(series.query.clone()),
            });
        }
    }
    // A series that stops while its target is failing: silent from its last sample on.
    if let (Some(target_down), Some(&last)) = (&target_down, times.last())
        && (nanos(window.end) - last) as f64 > SERIES_HOLE_STEPS * step
        && instant(last) >= window.start
    {
        let duration = human_duration(SignedDuration::from_nanos(nanos(window.end) - last));
        gaps.push(Gap {
            source,
            start: instant(last),
            end: window.end,
            reason: format!(
                "no samples for {duration} until the window end; {target_down}; Prometheus's 5m lookback may hide more before it"
            ),
            node: None,
            stream: None,
            query: Some(series.query.clone()),
        });
    }
    gaps
}

/// The scrape target a series comes from, when its last scrape failed: the same `instance`
/// (and `job`, when the series has one).
fn failing_target<'a>(series: &SeriesRecord, targets: &[&'a TargetRecord]) -> Option<&'a TargetRecord> {
    let instance = series.labels.get("instance")?;
    targets.iter().copied().find(|target| {
        target.is_failing()
            && target.labels.get("instance") == Some(instance)
            && series.labels.get("job").is_none_or(|job| target.labels.get("job") == Some(job))
    })
}

/// Why a target's series stopped, in Prometheus's words: `target down: connection refused
/// (job node-exporter, instance 10.0.1.2:9100, at its last scrape 10:40:35)`. The innermost
/// cause of Go's wrapped error is kept (`Get "…": dial tcp …: connect: connection refused`).
/// NB: this is the target's state when Prometheus was asked, not a history.
fn target_down_text(target: &TargetRecord) -> String {
    let cause = target.last_error.rsplit(": ").next().unwrap_or("").trim();
    let state = if target.health == TargetHealth::Down { "target down" } else { "target failing" };
    let mut context: Vec<String> = ["job", "instance"]
        .iter()
        .filter_map(|label| target.labels.get(*label).map(|value| format!("{label} {value}")))
        .collect();
    if let Some(last_scrape) = target.last_scrape {
        context.push(format!("at its last scrape {}", last_scrape.strftime("%H:%M:%S")));
    }
    let cause = if cause.is_empty() { String::new() } else { format!(": {cause}") };
    if context.is_empty() { format!("{state}{cause}") } else { format!("{state}{cause} ({})", context.join(", ")) }
}

/// A query whose result holds only where a comparison is true.
fn is_filtering(query: &str) -> bool {
    let bytes = query.as_bytes();
    let mut depth_in_braces = 0i32;
    let mut in_string = false;
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b'"' => in_string = !in_string,
            b'{' if !in_string => depth_in_braces += 1,
            b'}' if !in_string => depth_in_braces -= 1,
            b'>' | b'<' if !in_string && depth_in_braces == 0 => {
                return !query[index..].trim_start_matches(['>', '<', '=']).trim_start().starts_with("bool");
            }
            b'=' | b'!' if !in_string && depth_in_braces == 0 && bytes.get(index + 1) == Some(&b'=') => {
                return true;
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_filtering(query: &str, expected: bool) {
        assert_eq!(is_filtering(query), expected, "{query}");
    }

    #[track_caller]
    fn check_workload(pod: &str, expected: &str) {
        assert_eq!(workload_of(pod), expected, "{pod}");
    }

    #[test]
    fn pods_belong_to_their_workload_by_name() {
        check_workload("checkout-api-7d9f8b6c5-q4hjn", "checkout-api");
        check_workload("web-5c9b7d6f4-x2kqp", "web");
        check_workload("db-0", "db");
        check_workload("postgres-replica-12", "postgres-replica");
        check_workload("node-exporter-x7k2p", "node-exporter");
        // Vowels never appear in Kubernetes' random suffixes: these are names.
        check_workload("api-gateway", "api-gateway");
        check_workload("mysql", "mysql");
    }

    #[test]
    fn filtering_queries() {
        check_filtering(r#"sum(rate(http_requests_total{code=~"5.."}[5m])) > 0.05"#, true);
        check_filtering(r#"sum(rate(http_requests_total{code=~"5.."}[5m]))"#, false);
        check_filtering(r#"up == 0"#, true);
        check_filtering(r#"rate(x[5m]) > bool 1"#, false);
        check_filtering(r#"x{a!="b"}"#, false);
    }

    fn series(labels: &[(&str, &str)], seconds: &[i64]) -> SeriesRecord {
        SeriesRecord {
            query: "node_load1".to_owned(),
            name: None,
            kind: crate::record::SeriesKind::Plain,
            labels: labels.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
            samples: seconds.iter().map(|second| (Instant::from_second(*second).unwrap(), 1.0)).collect(),
        }
    }

    fn target(instance: &str, health: TargetHealth, last_error: &str) -> TargetRecord {
        TargetRecord {
            labels: [("instance", instance), ("job", "node-exporter")]
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            scrape_pool: "node-exporter".to_owned(),
            scrape_url: format!("http://{instance}/metrics"),
            health,
            last_error: last_error.to_owned(),
            last_scrape: Some("2025-02-09T10:40:35Z".parse().unwrap()),
        }
    }

    use crate::record::Instant;

    #[test]
    fn a_pod_ends_with_its_own_event_whatever_the_export_order() {
        let pod = "worker-5c8d7f9b6-tq4nz";
        let at = |time: &str| -> Instant { time.parse().unwrap() };
        let killing = K8sEventRecord {
            object: format!("Pod/{pod}"),
            reason: "Killing".to_owned(),
            message: "Stopping container worker".to_owned(),
            time: at("2025-06-10T09:37:59Z"),
            first_time: None,
            event_type: "Normal".to_owned(),
            namespace: "shop".to_owned(),
            count: 1,
            reporter: Some("kubelet".to_owned()),
            host: Some("node-2".to_owned()),
        };
        let deleted = K8sEventRecord {
            object: "ReplicaSet/worker-5c8d7f9b6".to_owned(),
            reason: "SuccessfulDelete".to_owned(),
            message: format!("Deleted pod: {pod}"),
            time: at("2025-06-10T09:37:58Z"),
            reporter: Some("replicaset-controller".to_owned()),
            host: None,
            ..killing.clone()
        };
        let since = at("2025-06-10T09:30:00Z");
        let killed = Some("Killing at 09:37:59 (Stopping container worker)".to_owned());
        // By name (kubectl's default) and by time (`--sort-by=.lastTimestamp`).
        assert_eq!(pod_ended(pod, None, &[&killing, &deleted], since), killed);
        assert_eq!(pod_ended(pod, None, &[&deleted, &killing], since), killed);
        // Without the kubelet's event, the controller's delete says it.
        let only_deleted = pod_ended(pod, None, &[&deleted], since).unwrap();
        assert!(only_deleted.starts_with("SuccessfulDelete at 09:37:58"), "{only_deleted}");
        // Events before the stream's last lines say nothing about its end.
        assert_eq!(pod_ended(pod, None, &[&killing], at("2025-06-10T09:40:00Z")), None);
    }

    #[test]
    fn a_failing_target_is_the_reason_of_its_series_gaps() {
        // 10:00 + 15 s steps, a hole of 10 min, samples until 10:30 in a window to 11:00.
        let start = Instant::from_second(1_739_095_200).unwrap();
        let window = Window {
            start,
            end: start.checked_add(SignedDuration::from_mins(60)).unwrap(),
            baseline_end: start.checked_add(SignedDuration::from_mins(5)).unwrap(),
        };
        let base = start.as_second();
        let seconds: Vec<i64> = (0..=120)
            .map(|step| base + step * 15)
            .filter(|second| !(base + 600..base + 1200).contains(second))
            .collect();
        let one = series(&[("instance", "10.0.1.2:9100"), ("job", "node-exporter")], &seconds);
        let refused = r#"Get "http://10.0.1.2:9100/metrics": dial tcp 10.0.1.2:9100: connect: connection refused"#;
        let down = target("10.0.1.2:9100", TargetHealth::Down, refused);
        let reasons = |targets: &[&TargetRecord]| -> Vec<(String, String, String)> {
            series_gaps(&one, &window, &[], targets)
                .into_iter()
                .map(|gap| {
                    (gap.start.strftime("%H:%M:%S").to_string(), gap.end.strftime("%H:%M:%S").to_string(), gap.reason)
                })
                .collect()
        };
        let hole = "no samples for 10m15s (40 steps missing)";
        let lookback = "Prometheus's 5m lookback may hide more before it";
        // Without targets (or with a healthy one, or another instance's) only the hole.
        let healthy = target("10.0.1.2:9100", TargetHealth::Up, "");
        let other = target("10.0.1.3:9100", TargetHealth::Down, refused);
        for targets in [&[][..], &[&healthy][..], &[&other][..]] {
            assert_eq!(reasons(targets), [("10:09:45".into(), "10:20:00".into(), format!("{hole}; {lookback}"))]);
        }
        // The failing target names the cause of the hole and of the silence to the window end.
        let because =
            "target down: connection refused (job node-exporter, instance 10.0.1.2:9100, at its last scrape 10:40:35)";
        assert_eq!(
            reasons(&[&other, &down]),
            [
                ("10:09:45".into(), "10:20:00".into(), format!("{hole}; {because}; {lookback}")),
                (
                    "10:30:00".into(),
                    "11:00:00".into(),
                    format!("no samples for 30m until the window end; {because}; {lookback}")
                ),
            ]
        );
        // Up but with an error at its last scrape (a timeout): failing, in its words.
        let slow = target("10.0.1.2:9100", TargetHealth::Up, "context deadline exceeded");
        assert!(reasons(&[&slow])[0].2.contains("target failing: context deadline exceeded (job node-exporter"));
    }
}
