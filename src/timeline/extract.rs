//! Rows from evidence: alerts and pages as they are, Kubernetes warnings, container
//! terminations and rollouts, metric departures from and returns to their baseline, and
//! from each log digest the first occurrence of new warn/error templates, their last
//! occurrence, and bursts of known templates.
//!
//! Times here are each source's own; `merge` applies skew corrections.

use std::collections::BTreeMap;

use crate::record::{
    AlertRecord, AlertStatus, DeploymentRecord, Instant, PageAction, PageRecord, Record, RolloutRecord, SeriesRecord,
    instant, nanos,
};
use crate::timeline::digest::{LogDigest, Severity, TemplateStats};
use crate::timeline::gaps;
use crate::timeline::skew::{mad, median};
use crate::timeline::{Entry, Flag, Kind, Options, Window, human_value};

/// Row weights: what survives when rows must be cut.
pub const WEIGHT_SIGNAL: u32 = 100;
pub const WEIGHT_DEPLOY: u32 = 90;
pub const WEIGHT_GAP: u32 = 90;
pub const WEIGHT_TERMINATION: u32 = 70;
pub const WEIGHT_K8S_WARNING: u32 = 60;
pub const WEIGHT_LOG: u32 = 40;
pub const WEIGHT_METRIC: u32 = 40;

/// Every row the evidence gives, unsorted.
pub fn entries(records: &[Record], digests: &[LogDigest], window: &Window, options: &Options) -> Vec<Entry> {
    let mut entries = Vec::new();
    entries.extend(alert_entries(records, window));
    entries.extend(page_entries(records, window));
    let deployments: Vec<&DeploymentRecord> = records.iter().filter_map(Record::as_deployment).collect();
    let rollouts: Vec<&RolloutRecord> = records.iter().filter_map(Record::as_rollout).collect();
    for rollout in &rollouts {
        if window.contains(rollout.time) {
            entries.push(rollout_entry(rollout, &rollouts, &deployments));
        }
    }
    for record in records {
        match record {
            Record::K8sEvent(event) if event.event_type == "Warning" => {
                let first = event.first_time.filter(|first| window.contains(*first)).unwrap_or(event.time);
                if !window.contains(first) {
                    continue;
                }
                let mut text = format!("{} {}: {}", event.reason, event.object, event.message.trim());
                if event.count > 1 {
                    text.push_str(&format!(" (×{} until {})", event.count, event.time.strftime("%H:%M:%S")));
                }
                let mut entry = Entry::new(first, Kind::K8sEvent, text, "kubernetes events");
                entry.count = event.count.max(1);
                entry.actor = event.reporter.clone();
                entry.node = event.host.clone();
                entry.weight = WEIGHT_K8S_WARNING;
                entries.push(entry);
            }
            Record::Pod(pod) => {
                for container in &pod.containers {
                    let Some(termination) = &container.last_termination else {
                        continue;
                    };
                    let Some(finished) = termination.finished_at.filter(|finished| window.contains(*finished)) else {
                        continue;
                    };
                    let mut text = format!("Container {} of {}/{} terminated", container.name, pod.namespace, pod.name);
                    let detail: Vec<String> = termination
                        .reason
                        .iter()
                        .cloned()
                        .chain(termination.exit_code.map(|code| format!("exit {code}")))
                        .collect();
                    if !detail.is_empty() {
                        text.push_str(&format!(": {}", detail.join(", ")));
                    }
                    if container.restart_count > 0 {
                        text.push_str(&format!(" (restarts: {})", container.restart_count));
                    }
                    let mut entry = Entry::new(finished, Kind::K8sEvent, text, "kubernetes pods");
                    entry.node = pod.node.clone();
                    entry.weight = WEIGHT_TERMINATION;
                    entries.push(entry);
                }
            }
            Record::Series(series) if !series.kind.is_clock() => entries.extend(metric_entries(series, window)),
            Record::Note(note) => {
                // The same warning comes with every split range and every pass: once.
                let known = entries
                    .iter()
                    .any(|entry| entry.kind == Kind::Note && entry.source == note.source && entry.event == note.text);
                if !known {
                    entries.push(Entry::new(window.start, Kind::Note, note.text.clone(), note.source.clone()));
                }
            }
            _ => {}
        }
    }
    for digest in digests {
        entries.extend(log_entries(digest, window, options));
    }
    entries
}

/// Alert occurrences, once each: keyed by fingerprint (else labels), merged when one starts
/// before the other ends (Alertmanager keeps the earliest start).
fn alert_entries(records: &[Record], window: &Window) -> Vec<Entry> {
    let mut by_alert: BTreeMap<String, Vec<&AlertRecord>> = BTreeMap::new();
    for record in records {
        if let Record::Alert(alert) = record {
            let key = alert.fingerprint.clone().unwrap_or_else(|| format!("{:?}", alert.labels));
            by_alert.entry(key).or_default().push(alert);
        }
    }
    let mut entries = Vec::new();
    for alerts in by_alert.values_mut() {
        alerts.sort_by_key(|alert| alert.starts_at);
        let mut occurrences: Vec<(Instant, Option<Instant>, &AlertRecord)> = Vec::new();
        for alert in alerts.iter() {
            let resolved_at = alert.ends_at.filter(|_| alert.status == AlertStatus::Resolved);
            match occurrences.last_mut() {
                Some((_, ends, _)) if ends.is_none_or(|ends| alert.starts_at <= ends) => {
                    if resolved_at.is_some() {
                        *ends = resolved_at;
                    }
                }
                _ => occurrences.push((alert.starts_at, resolved_at, alert)),
            }
        }
        for (starts_at, resolved_at, alert) in occurrences {
            let severity = alert.labels.get("severity").map(|severity| format!(" ({severity})")).unwrap_or_default();
            let summary = ["summary", "description", "message"]
                .iter()
                .find_map(|key| alert.annotations.get(*key))
                .map(|text| format!(": {}", text.trim()))
                .unwrap_or_default();
            if window.contains(starts_at) {
                let mut entry = Entry::new(
                    starts_at,
                    Kind::Alert,
                    format!("{} firing{severity}{summary}", alert.name),
                    "alertmanager",
                );
                entry.weight = WEIGHT_SIGNAL;
                entries.push(entry);
            }
            if let Some(resolved_at) = resolved_at.filter(|resolved_at| window.contains(*resolved_at)) {
                let mut entry =
                    Entry::new(resolved_at, Kind::Alert, format!("{} resolved", alert.name), "alertmanager");
                entry.weight = WEIGHT_SIGNAL;
                entries.push(entry);
            }
        }
    }
    entries
}

/// Pages, once each even when both the REST log and the webhooks hold them.
fn page_entries(records: &[Record], window: &Window) -> Vec<Entry> {
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    for record in records {
        let Record::Page(page) = record else { continue };
        if !window.contains(page.time)
            || !seen.insert((page.time.as_second(), page.action.as_str().to_owned(), page.actor.clone()))
        {
            continue;
        }
        let mut entry = Entry::new(page.time, Kind::Page, page_text(page), "pagerduty");
        entry.actor = page.actor.clone();
        entry.weight = WEIGHT_SIGNAL;
        entries.push(entry);
    }
    entries
}

fn page_text(page: &PageRecord) -> String {
    let action = page.action.as_str().replace('_', " ");
    let text = page.text.trim();
    match page.action {
        PageAction::Annotated if !text.is_empty() => format!("Note: {text}"),
        PageAction::Triggered => {
            let title = page.incident_title.as_deref().filter(|title| !title.is_empty()).unwrap_or(text);
            if title.is_empty() { "Page triggered".to_owned() } else { format!("Page triggered: {title}") }
        }
        _ if text.is_empty() || text.eq_ignore_ascii_case(&action) => format!("Page {action}"),
        // PagerDuty's summaries often say the action already: "Acknowledged by Alice".
        _ if !action.contains(" ") && text.to_ascii_lowercase().starts_with(&action) => text.to_owned(),
        _ => {
            let mut title = action;
            if let Some(first) = title.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            format!("{title}: {text}")
        }
    }
}

fn rollout_entry(rollout: &RolloutRecord, rollouts: &[&RolloutRecord], deployments: &[&DeploymentRecord]) -> Entry {
    let name = format!("{}/{}", rollout.namespace, rollout.deployment);
    let images = rollout.images.join(", ");
    let previous = rollouts
        .iter()
        .filter(|other| {
            other.namespace == rollout.namespace
                && other.deployment == rollout.deployment
                && other.revision < rollout.revision
        })
        .max_by_key(|other| other.revision)
        .filter(|other| other.images != rollout.images)
        .map(|other| format!(" (was {})", other.images.join(", ")))
        .unwrap_or_default();
    let text = match rollout.revision_history.iter().max() {
        Some(earlier) => format!(
            "Rollback of {name} to revision {} (the template of revision {earlier}): {images}{previous}",
            rollout.revision
        ),
        None => format!("Rollout of {name} to revision {}: {images}{previous}", rollout.revision),
    };
    let mut entry = Entry::new(rollout.time, Kind::Deploy, text, "kubernetes rollouts");
    entry.actor = rollout_actor(rollout, deployments);
    entry.weight = WEIGHT_DEPLOY;
    entry
}

/// Who changed the template: the ReplicaSet's manager unless it is the deployment
/// controller, else the Deployment's spec manager closest to the rollout.
fn rollout_actor(rollout: &RolloutRecord, deployments: &[&DeploymentRecord]) -> Option<String> {
    if let Some(manager) = rollout.manager.as_deref().filter(|manager| *manager != "kube-controller-manager") {
        return Some(manager.to_owned());
    }
    let deployment = deployments
        .iter()
        .find(|deployment| deployment.namespace == rollout.namespace && deployment.name == rollout.deployment)?;
    deployment
        .spec_managers
        .iter()
        .filter(|(manager, _)| manager != "kube-controller-manager")
        .map(|(manager, time)| (manager, time.duration_since(rollout.time).as_secs().abs()))
        .filter(|(_, distance)| *distance <= 120)
        .min_by_key(|(_, distance)| *distance)
        .map(|(manager, _)| manager.clone())
}

/// Departures of a series from its baseline (median ± robust spread) and its returns.
fn metric_entries(series: &SeriesRecord, window: &Window) -> Vec<Entry> {
    const MAX_EPISODES: usize = 3;
    let baseline: Vec<f64> = series
        .samples
        .iter()
        .filter(|(time, value)| *time >= window.start && *time < window.baseline_end && value.is_finite())
        .map(|(_, value)| *value)
        .collect();
    if baseline.len() < 4 {
        return Vec::new();
    }
    let center = median(&baseline);
    let sigma = 1.4826 * mad(&baseline, center);
    let threshold = (5.0 * sigma).max(0.2 * center.abs()).max(1e-9);
    let source = format!("prometheus: {}", series.query);
    let labels = series.label_text();
    let subject = if labels == "{}" { "Value".to_owned() } else { labels };
    let samples: Vec<(Instant, f64)> =
        series.samples.iter().filter(|(time, value)| window.contains(*time) && !value.is_nan()).copied().collect();
    let beyond = |value: f64| (value - center).abs() > threshold;
    let mut entries = Vec::new();
    let mut index = 0;
    while index + 1 < samples.len() && entries.len() < 2 * MAX_EPISODES {
        if !(beyond(samples[index].1) && beyond(samples[index + 1].1)) {
            index += 1;
            continue;
        }
        let start = index;
        let mut peak = samples[index];
        let mut end = None;
        index += 1;
        while index < samples.len() {
            if (samples[index].1 - center).abs() > (peak.1 - center).abs() {
                peak = samples[index];
            }
            if !beyond(samples[index].1) && samples.get(index + 1).is_none_or(|next| !beyond(next.1)) {
                end = Some(index);
                break;
            }
            index += 1;
        }
        let direction = if peak.1 > center { "rose" } else { "fell" };
        let still = if end.is_none() { "; still away at the window end" } else { "" };
        let mut entry = Entry::new(
            samples[start].0,
            Kind::Metric,
            format!(
                "{subject} {direction} to {} (baseline {}; peak {} at {}{still})",
                human_value(samples[start].1),
                human_value(center),
                human_value(peak.1),
                peak.0.strftime("%H:%M:%S"),
            ),
            source.clone(),
        );
        entry.weight = WEIGHT_METRIC;
        entries.push(entry);
        if let Some(end) = end {
            let mut entry = Entry::new(
                samples[end].0,
                Kind::Metric,
                format!(
                    "{subject} back to baseline: {} (baseline {})",
                    human_value(samples[end].1),
                    human_value(center)
                ),
                source.clone(),
            );
            entry.weight = WEIGHT_METRIC;
            entries.push(entry);
        }
    }
    entries
}

/// New warn/error templates (first and last occurrence) and bursts of known ones.
fn log_entries(digest: &LogDigest, window: &Window, options: &Options) -> Vec<Entry> {
    let mut entries = Vec::new();
    let hint = digest.config.offset_hint_nanos;
    let baseline_nanos = (nanos(window.baseline_end) - nanos(window.start)).max(0);
    let bucket_nanos = digest.bucket_nanos();
    let quiet_nanos = gaps::silence_threshold_nanos(digest, window, options).max(bucket_nanos);
    let mut flags: Vec<Flag> = Vec::new();
    if digest.n_assumed_zone > 0 {
        flags.push(Flag::AssumedZone);
    }
    if digest.n_assumed_year > 0 {
        flags.push(Flag::AssumedYear);
    }
    let make = |nanos: i64, text: String, stats: &TemplateStats, count: u64| {
        let mut entry = Entry::new(instant(nanos), Kind::Log, text, digest.source.to_string());
        entry.count = count;
        entry.example = stats.example.clone();
        entry.node = digest.source.node.clone();
        entry.stream = Some(digest.source.stream.clone());
        entry.flags = flags.clone();
        entry.weight =
            WEIGHT_LOG + if stats.severity == Severity::Error { 5 } else { 0 } + (count as f64).log10() as u32;
        entry
    };
    for stats in &digest.stats {
        if stats.n_incident == 0 {
            continue;
        }
        let template = digest.template_text(stats.template);
        let what = describe(stats);
        let is_new = stats.n_before_window + stats.n_baseline == 0;
        if is_new && (stats.severity >= Severity::Warn || stats.status_class == 5) {
            entries.push(make(
                stats.first_incident_nanos,
                format!("First {}: {template}", singular(&what)),
                stats,
                stats.n_incident,
            ));
            let stopped = nanos(window.end) + hint - stats.last_incident_nanos > quiet_nanos;
            if stopped && stats.n_incident >= 3 {
                entries.push(make(
                    stats.last_incident_nanos,
                    format!("Last {}: {template}", singular(&what)),
                    stats,
                    stats.n_incident,
                ));
            }
            continue;
        }
        if is_new || baseline_nanos == 0 {
            continue;
        }
        // Bursts of a known template: buckets far above its baseline rate.
        let expected = stats.n_baseline as f64 * bucket_nanos as f64 / baseline_nanos as f64;
        let limit = (4.0 * expected + 4.0 * expected.sqrt()).max(10.0);
        let mut bucket = 0;
        while bucket < stats.buckets.len() {
            if f64::from(stats.buckets[bucket]) < limit {
                bucket += 1;
                continue;
            }
            let start = bucket;
            let mut count = 0u64;
            // A one-bucket dip does not end a burst.
            while bucket < stats.buckets.len()
                && (f64::from(stats.buckets[bucket]) >= limit
                    || stats.buckets.get(bucket + 1).is_some_and(|next| f64::from(*next) >= limit))
            {
                count += u64::from(stats.buckets[bucket]);
                bucket += 1;
            }
            let per_minute = |lines: f64| human_value(lines * 60e9 / bucket_nanos as f64);
            let peak = stats.buckets[start..bucket].iter().copied().max().unwrap_or(0);
            let start_nanos = nanos(window.baseline_end) + hint + start as i64 * bucket_nanos;
            let start_nanos = start_nanos.max(stats.first_incident_nanos);
            entries.push(make(
                start_nanos,
                format!(
                    "Burst: {template} ({what}, up to {}/min; baseline {}/min)",
                    per_minute(f64::from(peak)),
                    per_minute(expected)
                ),
                stats,
                count,
            ));
            let end_nanos = nanos(window.baseline_end) + hint + bucket as i64 * bucket_nanos;
            if end_nanos < nanos(window.end) + hint {
                entries.push(make(end_nanos, format!("Burst over: {template} ({what})"), stats, count));
            }
        }
    }
    entries
}

/// `error`, `warning`, `5xx responses`, `lines` for a template's stats.
fn describe(stats: &TemplateStats) -> String {
    match (stats.status_class, stats.severity) {
        (5, _) => "5xx responses".to_owned(),
        (4, Severity::Info) => "4xx responses".to_owned(),
        (_, Severity::Info) => "lines".to_owned(),
        (_, Severity::Error) => "errors".to_owned(),
        (_, _) => "warnings".to_owned(),
    }
}

/// `errors` → `error`, `5xx responses` → `5xx response`.
fn singular(what: &str) -> &str {
    what.strip_suffix('s').unwrap_or(what)
}
