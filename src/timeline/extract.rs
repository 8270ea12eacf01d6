//! Rows from evidence: alerts and pages as they are, Kubernetes warnings, container
//! terminations and rollouts, metric departures from and returns to their baseline, and
//! from each log digest the first occurrence of new warn/error templates, their last
//! occurrence, and bursts of known templates.
//!
//! Times here are each source's own; `merge` applies skew corrections.

use std::collections::{BTreeMap, HashMap};

use crate::record::{
    AlertRecord, AlertStatus, DeploymentRecord, Instant, K8sEventRecord, PageAction, PageRecord, Record,
    ResponderInput, ResponderRecord, RevisionRecord, Rollback, RolloutRecord, RuleRecord, SeriesRecord, WorkloadRecord,
    instant, nanos, rule_of,
};
use crate::timeline::consistency;
use crate::timeline::digest::{LogDigest, Severity, TemplateStats};
use crate::timeline::gaps;
use crate::timeline::skew::{mad, median};
use crate::timeline::{
    Band, Change, Entry, Fact, Flag, Kind, Options, QuerySeries, SeriesSamples, Window, human_duration, human_value,
};

/// Row weights: what survives when rows must be cut.
pub const WEIGHT_SIGNAL: u32 = 100;
pub const WEIGHT_DEPLOY: u32 = 90;
pub const WEIGHT_GAP: u32 = 90;
pub const WEIGHT_TERMINATION: u32 = 70;
pub const WEIGHT_K8S_WARNING: u32 = 60;
pub const WEIGHT_LOG: u32 = 40;
pub const WEIGHT_METRIC: u32 = 40;
/// What a responder added is never cut.
pub const WEIGHT_HUMAN: u32 = 110;

/// The source of the rows responders added over the write API.
pub const RESPONDER_SOURCE: &str = "responder";

/// Every row the evidence gives, unsorted.
pub fn entries(records: &[Record], digests: &[LogDigest], window: &Window, options: &Options) -> Vec<Entry> {
    let mut entries = Vec::new();
    let telling = telling_labels(records);
    entries.extend(alert_entries(records, &telling, window));
    entries.extend(rule_onset_entries(records, &telling, window));
    entries.extend(page_entries(records, window));
    let deployments: Vec<&DeploymentRecord> = records.iter().filter_map(Record::as_deployment).collect();
    let rollouts: Vec<&RolloutRecord> = records.iter().filter_map(Record::as_rollout).collect();
    let workloads: Vec<&WorkloadRecord> = records.iter().filter_map(Record::as_workload).collect();
    for rollout in &rollouts {
        let first_of_new = rollout.revision == 1
            && created_near(&workloads, "Deployment", &rollout.namespace, &rollout.deployment, rollout.time);
        if window.contains(rollout.time) && !first_of_new {
            entries.push(rollout_entry(rollout, &rollouts, &deployments));
        }
    }
    entries.extend(changes_from_events(records, window, &rollouts));
    entries.extend(workload_created_entries(&workloads, window));
    entries.extend(revision_entries(records, &workloads, window));
    entries.extend(autoscaler_entries(records, window));
    entries.extend(node_condition_entries(records, window));
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
                entry.fact = Some(Fact::Warning {
                    reason: event.reason.clone(),
                    object: event.object.clone(),
                    namespace: event.namespace.clone(),
                });
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
                    entry.fact = Some(Fact::Termination {
                        reason: termination.reason.clone(),
                        pod: pod.name.clone(),
                        namespace: pod.namespace.clone(),
                    });
                    entry.node = pod.node.clone();
                    entry.weight = WEIGHT_TERMINATION;
                    entries.push(entry);
                }
            }
            Record::Responder(input) => entries.push(responder_entry(input)),
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
    for series in series_by_query(records).values() {
        entries.extend(metric_entries(series, window));
    }
    for digest in digests {
        entries.extend(log_entries(digest, window, options));
    }
    entries
}

/// The row of what a responder added, at its own time, marked human, its author the actor.
fn responder_entry(input: &ResponderRecord) -> Entry {
    let text = match &input.input {
        ResponderInput::Note { text } => format!("Note: {text}"),
        ResponderInput::Correction { title, severity } => {
            let changes: Vec<String> = [
                title.as_ref().map(|title| format!("title corrected to {title:?}")),
                severity.as_ref().map(|severity| format!("severity corrected to {severity}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            let changes = changes.join("; ");
            let mut chars = changes.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
        ResponderInput::Resolve { note: Some(note) } => format!("Resolved by hand: {note}"),
        ResponderInput::Resolve { note: None } => "Resolved by hand".to_owned(),
        ResponderInput::Merge { from } => format!("Incident {from} merged into this one"),
    };
    let mut entry = Entry::new(input.at, Kind::Note, text, RESPONDER_SOURCE);
    entry.actor = Some(input.author.clone());
    entry.human = true;
    entry.weight = WEIGHT_HUMAN;
    if let ResponderInput::Resolve { .. } = input.input {
        entry.fact = Some(Fact::ResolvedByHand);
    }
    entry
}

/// Which alert a record is a notification of: its fingerprint, else its labels.
fn occurrence_key(alert: &AlertRecord) -> String {
    alert.fingerprint.clone().unwrap_or_else(|| format!("{:?}", alert.labels))
}

/// Alert occurrences, once each: keyed by fingerprint (else labels), merged when one starts
/// before the other ends (Alertmanager keeps the earliest start).
fn alert_entries(records: &[Record], telling: &BTreeMap<&str, Vec<&str>>, window: &Window) -> Vec<Entry> {
    let mut by_alert: BTreeMap<String, Vec<&AlertRecord>> = BTreeMap::new();
    for record in records {
        if let Record::Alert(alert) = record {
            by_alert.entry(occurrence_key(alert)).or_default().push(alert);
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
            let which = which_alert(alert, telling.get(alert.name.as_str()));
            let summary = ["summary", "description", "message"]
                .iter()
                .find_map(|key| alert.annotations.get(*key))
                .map(|text| format!(": {}", text.trim()))
                .unwrap_or_default();
            if window.contains(starts_at) {
                let mut entry = Entry::new(
                    starts_at,
                    Kind::Alert,
                    format!("{} firing{severity}{which}{summary}", alert.name),
                    "alertmanager",
                );
                entry.url = alert.generator_url.clone().filter(|url| is_web_url(url));
                entry.fact = Some(Fact::AlertFiring {
                    name: alert.name.clone(),
                    severity: alert.labels.get("severity").cloned(),
                    labels: alert.labels.clone(),
                });
                entry.weight = WEIGHT_SIGNAL;
                entries.push(entry);
            }
            if let Some(resolved_at) = resolved_at.filter(|resolved_at| window.contains(*resolved_at)) {
                let mut entry =
                    Entry::new(resolved_at, Kind::Alert, format!("{} resolved{which}", alert.name), "alertmanager");
                entry.fact = Some(Fact::AlertResolved { name: alert.name.clone() });
                entry.weight = WEIGHT_SIGNAL;
                if resolved_at < starts_at {
                    let fired = starts_at.strftime("%H:%M:%S");
                    consistency::contradict(&mut entry, &format!("resolved before it fired at {fired}"));
                }
                entries.push(entry);
            }
        }
    }
    entries
}

/// The source of the rows that alerting rules give.
pub const RULES_SOURCE: &str = "prometheus rules";

/// When each alert's condition began, where its rule is known and has a `for:`.
///
/// NB: Prometheus sends Alertmanager `startsAt` = the time the alert *fired*
/// (`StartsAt: alert.FiredAt` in `sendAlerts`, cmd/prometheus/main.go), and an alert fires
/// once its expression has held for the rule's `for:` (rules/alerting.go: pending until
/// `ts.Sub(a.ActiveAt) >= r.holdDuration`, then `FiredAt = ts`). So the condition held
/// since `startsAt − for` (up to one evaluation interval earlier).
fn rule_onset_entries(records: &[Record], telling: &BTreeMap<&str, Vec<&str>>, window: &Window) -> Vec<Entry> {
    let rules: Vec<&RuleRecord> = records.iter().filter_map(Record::as_rule).collect();
    if rules.is_empty() {
        return Vec::new();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    for alert in records.iter().filter_map(Record::as_alert) {
        let Some(rule) = rule_of(alert, &rules).filter(|rule| rule.duration.is_positive()) else { continue };
        let key = occurrence_key(alert);
        let Some(onset) = alert.starts_at.checked_sub(rule.duration).ok().filter(|onset| window.contains(*onset))
        else {
            continue;
        };
        if !seen.insert((key, alert.starts_at)) {
            continue;
        }
        let which = which_alert(alert, telling.get(alert.name.as_str()));
        let text = format!(
            "{}{which} condition true (rule `for: {}` before it fired at {}): {}",
            alert.name,
            human_duration(rule.duration),
            alert.starts_at.strftime("%H:%M:%S"),
            rule.query.trim()
        );
        let mut entry = Entry::new(onset, Kind::Alert, text, RULES_SOURCE);
        entry.fact = Some(Fact::ConditionBegan { name: alert.name.clone() });
        entry.weight = WEIGHT_SIGNAL;
        entries.push(entry);
    }
    entries
}

/// Rollouts, rollbacks and scalings told by the deployment controller's `ScalingReplicaSet`
/// events, for when no ReplicaSet export says so (a rollout the ReplicaSets already show is
/// not repeated), and the other changes of [`K8sEventRecord::CHANGE_REASONS`].
///
/// A Deployment's events, in time order: a replica set scaled up that is not the one serving
/// is a rollout to it from the one serving (the one scaled down around it); a rollout back to
/// a replica set that served earlier in the window is a rollback; a scaling of the serving
/// one is a scale.
fn changes_from_events(records: &[Record], window: &Window, rollouts: &[&RolloutRecord]) -> Vec<Entry> {
    struct Scaling<'a> {
        time: Instant,
        replicaset: &'a str,
        up: bool,
        from: Option<u64>,
        to: u64,
        event: &'a K8sEventRecord,
    }
    let mut by_deployment: BTreeMap<(&str, &str), Vec<Scaling<'_>>> = BTreeMap::new();
    let mut entries = Vec::new();
    for event in records.iter().filter_map(Record::as_k8s_event) {
        if event.event_type == "Normal" && event.is_notable() && event.reason != "ScalingReplicaSet" {
            let first = event.first_time.filter(|first| window.contains(*first)).unwrap_or(event.time);
            if window.contains(first) {
                let text = format!("{} {}: {}", event.reason, event.object, event.message.trim());
                let mut entry = Entry::new(first, Kind::Deploy, text, "kubernetes events");
                let change = if event.reason == "SuccessfulRescale" { Change::Rescale } else { Change::Other };
                entry.fact = Some(Fact::Change { change, object: event.object.clone(), images: Vec::new() });
                entry.actor = event.reporter.clone();
                entry.node = event.host.clone();
                entry.weight = WEIGHT_K8S_WARNING;
                entries.push(entry);
            }
            continue;
        }
        let Some(deployment) = event.object.strip_prefix("Deployment/") else { continue };
        if event.reason != "ScalingReplicaSet" {
            continue;
        }
        if let Some((up, replicaset, from, to)) = parse_scaling(&event.message) {
            let scaling = Scaling { time: event.time, replicaset, up, from, to, event };
            by_deployment.entry((event.namespace.as_str(), deployment)).or_default().push(scaling);
        }
    }
    for ((namespace, deployment), mut scalings) in by_deployment {
        scalings.sort_by_key(|scaling| scaling.time);
        let mut serving: Option<&str> = None;
        let mut served_before: Vec<&str> = Vec::new();
        for (index, scaling) in scalings.iter().enumerate() {
            let mut how = Change::Rollout;
            let (text, change) = if scaling.up && serving.is_some_and(|current| current != scaling.replicaset) {
                let previous = serving.unwrap_or_default();
                let kind = if served_before.contains(&scaling.replicaset) {
                    how = Change::Rollback;
                    "Rollback"
                } else {
                    "Rollout"
                };
                (
                    format!(
                        "{kind} of {namespace}/{deployment} to replica set {} (from {previous})",
                        scaling.replicaset
                    ),
                    true,
                )
            } else if serving.is_none() && scaling.up && scaling.from.is_none_or(|from| from == 0) {
                // The first we hear of it: a new replica set from zero, with another scaled
                // down after it, is a rollout from that one.
                let replaced = scalings[index + 1..]
                    .iter()
                    .take_while(|later| nanos(later.time) - nanos(scaling.time) <= ROLLOUT_STEPS_NANOS)
                    .find(|later| !later.up && later.replicaset != scaling.replicaset)
                    .map(|later| later.replicaset);
                match replaced {
                    Some(previous) => {
                        served_before.push(previous);
                        (
                            format!(
                                "Rollout of {namespace}/{deployment} to replica set {} (from {previous})",
                                scaling.replicaset
                            ),
                            true,
                        )
                    }
                    None => (scale_text(namespace, deployment, scaling.replicaset, scaling.from, scaling.to), false),
                }
            } else if serving.is_none_or(|current| current == scaling.replicaset) {
                // A rolling update scales the new replica set up step by step while the old
                // one goes down: those steps are the rollout's, not scalings of their own.
                let mid_rollout = scalings[index + 1..].iter().any(|later| {
                    !later.up
                        && later.replicaset != scaling.replicaset
                        && nanos(later.time) - nanos(scaling.time) <= ROLLOUT_STEPS_NANOS
                }) || scalings[..index].iter().rev().any(|earlier| {
                    !earlier.up
                        && earlier.replicaset != scaling.replicaset
                        && nanos(scaling.time) - nanos(earlier.time) <= ROLLOUT_STEPS_NANOS
                });
                if mid_rollout && serving.is_some() {
                    continue;
                }
                (scale_text(namespace, deployment, scaling.replicaset, scaling.from, scaling.to), false)
            } else {
                // The old replica set scaled down during a rollout: part of that row.
                continue;
            };
            if scaling.up || serving.is_none() {
                if let Some(current) = serving.filter(|current| *current != scaling.replicaset) {
                    served_before.push(current);
                }
                serving = Some(scaling.replicaset);
            }
            let shown = rollouts.iter().any(|rollout| {
                rollout.namespace == namespace
                    && rollout.deployment == deployment
                    && rollout.replicaset == scaling.replicaset
                    && within_same_change(rollout.time, scaling.time)
            });
            if (change && shown) || !window.contains(scaling.time) {
                continue;
            }
            let mut entry = Entry::new(scaling.time, Kind::Deploy, text, "kubernetes events");
            entry.fact = Some(Fact::Change {
                change: if change { how } else { Change::Scale },
                object: format!("Deployment {namespace}/{deployment}"),
                images: Vec::new(),
            });
            entry.actor = scaling.event.reporter.clone();
            entry.weight = if change { WEIGHT_SIGNAL } else { WEIGHT_K8S_WARNING };
            entries.push(entry);
        }
    }
    entries
}

/// How far apart the steps of one rolling update may be (each waits for new pods to be
/// ready: seconds, for slow pods minutes).
const ROLLOUT_STEPS_NANOS: i64 = 3 * 60 * 1_000_000_000;

/// `Scaled up replica set api-7d9f8b6c5 to 3 from 0` (the deployment controller's form
/// since Kubernetes 1.28), `… to 3` (before it), or `… from 0 to 3` (other writers):
/// `(up, replica set, from, to)`.
fn parse_scaling(message: &str) -> Option<(bool, &str, Option<u64>, u64)> {
    let (up, rest) = if let Some(rest) = message.strip_prefix("Scaled up replica set ") {
        (true, rest)
    } else {
        (false, message.strip_prefix("Scaled down replica set ")?)
    };
    let mut words = rest.split_whitespace();
    let replicaset = words.next()?;
    let number = |word: Option<&str>| word?.trim_end_matches('.').parse::<u64>().ok();
    let (from, to) = match words.next()? {
        "to" => {
            let to = number(words.next())?;
            match words.next() {
                Some("from") => (Some(number(words.next())?), to),
                None => (None, to),
                Some(_) => return None,
            }
        }
        "from" => {
            let from = number(words.next())?;
            (words.next() == Some("to")).then_some(())?;
            (Some(from), number(words.next())?)
        }
        _ => return None,
    };
    Some((up, replicaset, from, to))
}

fn scale_text(namespace: &str, deployment: &str, replicaset: &str, from: Option<u64>, to: u64) -> String {
    match from {
        Some(from) => format!("Scaled {namespace}/{deployment}: replica set {replicaset} from {from} to {to}"),
        None => format!("Scaled {namespace}/{deployment}: replica set {replicaset} to {to}"),
    }
}

/// Per alert name, the labels whose values differ between its alerts (`pod`, `instance`,
/// …): what tells one `KubePodCrashLooping` row from another. A label some of them lack
/// tells them apart too; `alertname` never does.
fn telling_labels(records: &[Record]) -> BTreeMap<&str, Vec<&str>> {
    // NB: a set of the distinct label sets, not a list searched per alert: 200k alerts of
    // 5k label sets made that search most of a timeline's build.
    let mut label_sets: BTreeMap<&str, std::collections::BTreeSet<&BTreeMap<String, String>>> = BTreeMap::new();
    for alert in records.iter().filter_map(Record::as_alert) {
        label_sets.entry(alert.name.as_str()).or_default().insert(&alert.labels);
    }
    label_sets
        .into_iter()
        .map(|(name, sets)| {
            let names: std::collections::BTreeSet<&str> =
                sets.iter().flat_map(|labels| labels.keys().map(String::as_str)).collect();
            let first = sets.first().copied();
            let telling = names
                .into_iter()
                .filter(|label| *label != "alertname")
                .filter(|label| {
                    sets.iter().any(|labels| labels.get(*label) != first.and_then(|first| first.get(*label)))
                })
                .collect();
            (name, telling)
        })
        .collect()
}

/// The telling labels of one alert as a selector, ` {pod="api-1"}`; empty when none.
fn which_alert(alert: &AlertRecord, telling: Option<&Vec<&str>>) -> String {
    let pairs: Vec<String> = telling
        .into_iter()
        .flatten()
        .filter_map(|label| alert.labels.get(*label).map(|value| format!("{label}=\"{value}\"")))
        .collect();
    if pairs.is_empty() { String::new() } else { format!(" {{{}}}", pairs.join(", ")) }
}

/// An `http://` or `https://` URL: the only links a draft passes on (never `javascript:`).
fn is_web_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")) && !url.chars().any(char::is_whitespace)
}

/// Pages, once each even when both the REST log and the webhooks hold them.
fn page_entries(records: &[Record], window: &Window) -> Vec<Entry> {
    let triggers = triggers(records);
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
        entry.fact = Some(Fact::Page { action: page.action.clone(), text: page.text.clone() });
        entry.actor = page.actor.clone();
        entry.weight = WEIGHT_SIGNAL;
        if let Some(triggered) = triggered_at(&triggers, page).filter(|triggered| page.time < *triggered) {
            let triggered = triggered.strftime("%H:%M:%S");
            consistency::contradict(&mut entry, &format!("before its page was triggered at {triggered}"));
        }
        entries.push(entry);
    }
    entries
}

/// The earliest `triggered` entry of each PagerDuty incident, by its id and by its key.
#[derive(Default)]
struct Triggers<'a> {
    by_id: HashMap<&'a str, Instant>,
    by_key: HashMap<&'a str, Instant>,
}

fn triggers(records: &[Record]) -> Triggers<'_> {
    let mut triggers = Triggers::default();
    for page in records.iter().filter_map(Record::as_page).filter(|page| page.action == PageAction::Triggered) {
        for (map, name) in [(&mut triggers.by_id, &page.incident_id), (&mut triggers.by_key, &page.incident_key)] {
            if let Some(name) = name {
                let time = map.entry(name.as_str()).or_insert(page.time);
                *time = (*time).min(page.time);
            }
        }
    }
    triggers
}

/// When the PagerDuty incident of a later step (an acknowledgement, a resolution) was
/// triggered: by its incident id, else its key.
fn triggered_at(triggers: &Triggers<'_>, page: &PageRecord) -> Option<Instant> {
    if matches!(page.action, PageAction::Triggered | PageAction::Reopened) {
        return None;
    }
    match &page.incident_id {
        Some(id) => triggers.by_id.get(id.as_str()).copied(),
        None => page.incident_key.as_deref().and_then(|key| triggers.by_key.get(key)).copied(),
    }
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
    let change = if rollout.revision_history.is_empty() { Change::Rollout } else { Change::Rollback };
    let text = match rollout.revision_history.iter().max() {
        Some(earlier) => format!(
            "Rollback of {name} to revision {} (the template of revision {earlier}): {images}{previous}",
            rollout.revision
        ),
        None => format!("Rollout of {name} to revision {}: {images}{previous}", rollout.revision),
    };
    let mut entry = Entry::new(rollout.time, Kind::Deploy, text, "kubernetes rollouts");
    entry.fact = Some(Fact::Change { change, object: format!("Deployment {name}"), images: rollout.images.clone() });
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
        .filter(|(_, time)| within_same_change(*time, rollout.time))
        .min_by_key(|(_, time)| time.duration_since(rollout.time).as_secs().abs())
        .map(|(manager, _)| manager.clone())
}

/// How close two records of one change must be to be the same change: a rollout and the
/// workload's creation, an autoscaler's `lastScaleTime` and its `SuccessfulRescale` event.
const SAME_CHANGE_SECONDS: i64 = 120;

fn within_same_change(left: Instant, right: Instant) -> bool {
    left.duration_since(right).as_secs().abs() <= SAME_CHANGE_SECONDS
}

/// Whether the workload was created around `time`: its first revision is that creation,
/// which [`workload_created_entries`] shows already.
fn created_near(workloads: &[&WorkloadRecord], kind: &str, namespace: &str, name: &str, time: Instant) -> bool {
    workloads.iter().any(|workload| {
        workload.kind == kind
            && workload.namespace == namespace
            && workload.name == name
            && workload.created.is_some_and(|created| within_same_change(created, time))
    })
}

/// A Deployment, StatefulSet or DaemonSet created inside the window: `Deployment
/// shop/mitigation created: IMAGE`, by the manager of its first spec write (who ran
/// `kubectl create`/`apply`, or the GitOps controller), once each.
fn workload_created_entries(workloads: &[&WorkloadRecord], window: &Window) -> Vec<Entry> {
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    for workload in workloads {
        let Some(created) = workload.created.filter(|created| window.contains(*created)) else { continue };
        if !seen.insert((&workload.kind, &workload.namespace, &workload.name)) {
            continue;
        }
        let images =
            if workload.images.is_empty() { String::new() } else { format!(": {}", workload.images.join(", ")) };
        let text = format!("{} {}/{} created{images}", workload.kind, workload.namespace, workload.name);
        let mut entry = Entry::new(created, Kind::Deploy, text, "kubernetes workloads");
        entry.fact = Some(Fact::Change {
            change: Change::Created,
            object: format!("{} {}/{}", workload.kind, workload.namespace, workload.name),
            images: workload.images.clone(),
        });
        entry.actor = workload
            .spec_managers
            .first()
            .map(|(manager, _)| manager.clone())
            .filter(|manager| manager != "kube-controller-manager");
        entry.weight = WEIGHT_DEPLOY;
        entries.push(entry);
    }
    entries
}

/// Rollouts and rollbacks of StatefulSets and DaemonSets, from their ControllerRevisions,
/// with the images and, as the actor, the workload's spec manager closest to the rollout.
/// A first revision made with the workload is its creation's row, not a rollout.
fn revision_entries(records: &[Record], workloads: &[&WorkloadRecord], window: &Window) -> Vec<Entry> {
    let revisions: Vec<&RevisionRecord> = records.iter().filter_map(Record::as_revision).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    for revision in &revisions {
        if !window.contains(revision.time)
            || !seen.insert((&revision.namespace, &revision.owner_kind, &revision.owner, revision.revision))
            || (revision.revision == 1
                && created_near(workloads, &revision.owner_kind, &revision.namespace, &revision.owner, revision.time))
        {
            continue;
        }
        let name = format!("{} {}/{}", revision.owner_kind, revision.namespace, revision.owner);
        let images = revision.images.join(", ");
        let same_owner = |other: &&&RevisionRecord| {
            other.namespace == revision.namespace
                && other.owner_kind == revision.owner_kind
                && other.owner == revision.owner
        };
        let previous = revisions
            .iter()
            .filter(same_owner)
            .filter(|other| other.revision < revision.revision)
            .max_by_key(|other| other.revision)
            .filter(|other| other.images != revision.images)
            .map(|other| format!(" (was {})", other.images.join(", ")))
            .unwrap_or_default();
        let text = match &revision.rollback {
            None => format!("Rollout of {name} to revision {}: {images}{previous}", revision.revision),
            Some(Rollback::SameAs { revision: earlier }) => format!(
                "Rollback of {name} to revision {} (the template of revision {earlier}): {images}{previous}",
                revision.revision
            ),
            Some(Rollback::Reused { created }) => format!(
                "Rollback of {name} to revision {} (a template first rolled out at {}): {images}{previous}",
                revision.revision,
                created.strftime("%Y-%m-%d %H:%M:%S")
            ),
        };
        let mut entry = Entry::new(revision.time, Kind::Deploy, text, "kubernetes rollouts");
        let change = if revision.rollback.is_some() { Change::Rollback } else { Change::Rollout };
        entry.fact = Some(Fact::Change { change, object: name.clone(), images: revision.images.clone() });
        entry.actor = workloads
            .iter()
            .filter(|workload| {
                workload.kind == revision.owner_kind
                    && workload.namespace == revision.namespace
                    && workload.name == revision.owner
            })
            .flat_map(|workload| workload.spec_managers.iter())
            .filter(|(manager, time)| manager != "kube-controller-manager" && within_same_change(*time, revision.time))
            .min_by_key(|(_, time)| time.duration_since(revision.time).as_secs().abs())
            .map(|(manager, _)| manager.clone());
        entry.weight = WEIGHT_DEPLOY;
        entries.push(entry);
    }
    entries
}

/// An autoscaler's last scaling (`status.lastScaleTime`) inside the window, unless its
/// `SuccessfulRescale` event (which says why) is there already.
fn autoscaler_entries(records: &[Record], window: &Window) -> Vec<Entry> {
    let rescale_events: Vec<&K8sEventRecord> =
        records.iter().filter_map(Record::as_k8s_event).filter(|event| event.reason == "SuccessfulRescale").collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    for autoscaler in records.iter().filter_map(Record::as_autoscaler) {
        let Some(scaled) = autoscaler.last_scale.filter(|scaled| window.contains(*scaled)) else { continue };
        let object = format!("HorizontalPodAutoscaler/{}", autoscaler.name);
        let told = rescale_events.iter().any(|event| {
            event.namespace == autoscaler.namespace
                && event.object == object
                && (within_same_change(event.time, scaled)
                    || event.first_time.is_some_and(|first| within_same_change(first, scaled)))
        });
        if told || !seen.insert((&autoscaler.namespace, &autoscaler.name, scaled)) {
            continue;
        }
        let counts: Vec<String> = [("desired", autoscaler.desired_replicas), ("current", autoscaler.current_replicas)]
            .iter()
            .filter_map(|(what, count)| count.map(|count| format!("{what} {count}")))
            .collect();
        let counts =
            if counts.is_empty() { String::new() } else { format!(" ({} replicas when read)", counts.join(", ")) };
        let text = format!(
            "HorizontalPodAutoscaler {}/{} rescaled {}{counts}",
            autoscaler.namespace, autoscaler.name, autoscaler.target
        );
        let mut entry = Entry::new(scaled, Kind::Deploy, text, "kubernetes autoscalers");
        entry.fact = Some(Fact::Change {
            change: Change::Rescale,
            object: format!("HorizontalPodAutoscaler {}/{}", autoscaler.namespace, autoscaler.name),
            images: Vec::new(),
        });
        entry.weight = WEIGHT_K8S_WARNING;
        entries.push(entry);
    }
    entries
}

/// The event reasons that tell the same change as a node condition's transition to `status`.
fn node_condition_event_reasons(condition: &str, status: &str) -> &'static [&'static str] {
    match (condition, status) {
        ("Ready", "True") => &["NodeReady"],
        ("Ready", _) => &["NodeNotReady"],
        ("MemoryPressure", "True") => &["NodeHasInsufficientMemory"],
        ("DiskPressure", "True") => &["NodeHasDiskPressure"],
        ("PIDPressure", "True") => &["NodeHasInsufficientPID"],
        _ => &[],
    }
}

/// Node conditions that changed inside the window: `Node node-2 NotReady (KubeletNotReady:
/// …)`, a pressure beginning or ending, a node Ready again; unless an event about the node
/// tells the same change (its row is there already).
///
/// NB: whose clock stamped a transition depends on who wrote it. The kubelet writes its own
/// conditions (reasons `Kubelet…`: `KubeletNotReady`, `KubeletHasInsufficientMemory`), in the
/// node's clock, so those rows carry the node and its offset corrects them, like its kubelet's
/// events; the control plane's node controller writes `Unknown` (`NodeStatusUnknown`) when the
/// kubelet goes silent, in the control plane's clock, so those rows carry no node.
fn node_condition_entries(records: &[Record], window: &Window) -> Vec<Entry> {
    let node_events: Vec<&K8sEventRecord> =
        records.iter().filter_map(Record::as_k8s_event).filter(|event| event.object.starts_with("Node/")).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    for condition in records.iter().filter_map(Record::as_node_condition) {
        if !window.contains(condition.since)
            || !seen.insert((&condition.node, &condition.condition, &condition.status, condition.since))
        {
            continue;
        }
        let reasons = node_condition_event_reasons(&condition.condition, &condition.status);
        let object = format!("Node/{}", condition.node);
        let told = node_events.iter().any(|event| {
            event.object == object
                && reasons.contains(&event.reason.as_str())
                && event.is_notable()
                && within_same_change(event.first_time.unwrap_or(event.time), condition.since)
        });
        if told {
            continue;
        }
        let state = match (condition.condition.as_str(), condition.status.as_str()) {
            ("Ready", "True") => "Ready".to_owned(),
            ("Ready", "False") => "NotReady".to_owned(),
            ("Ready", status) => format!("NotReady (Ready is {status})"),
            (pressure, "True") => pressure.to_owned(),
            (pressure, "False") if pressure.ends_with("Pressure") => format!("{pressure} over"),
            (other, status) => format!("{other} {status}"),
        };
        let detail = match (&condition.reason, &condition.message) {
            (Some(reason), Some(message)) => format!(" ({reason}: {})", message.trim()),
            (Some(reason), None) => format!(" ({reason})"),
            (None, Some(message)) => format!(" ({})", message.trim()),
            (None, None) => String::new(),
        };
        let text = format!("Node {} {state}{detail}", condition.node);
        let mut entry = Entry::new(condition.since, Kind::K8sEvent, text, "kubernetes nodes");
        entry.fact = Some(Fact::NodeCondition {
            node: condition.node.clone(),
            condition: condition.condition.clone(),
            status: condition.status.clone(),
        });
        let by_kubelet = condition.reason.as_deref().is_some_and(|reason| reason.starts_with("Kubelet"));
        entry.node = by_kubelet.then(|| condition.node.clone());
        entry.weight = WEIGHT_K8S_WARNING;
        entries.push(entry);
    }
    entries
}

/// Departures of a series from its baseline (median ± robust spread) and its returns.
/// One stretch of a series away from its reference level.
#[derive(Clone, Copy, Debug)]
struct Episode {
    start: (Instant, f64),
    /// The reference level: the baseline's median, else the window's first samples'.
    center: f64,
    peak: (Instant, f64),
    /// Back within the reference band, if it came back in the window.
    end: Option<(Instant, f64)>,
}

impl Episode {
    fn rose(&self) -> bool {
        self.peak.1 > self.center
    }
}

/// The stretches a series spends away from its level (at most three): judged against the
/// baseline (median and MAD of the lead-in) or, when the series has too little baseline
/// (it began during the incident), against its first samples in the window, so a step such
/// as `up` 0 → 1 is a change too.
fn episodes(series: &SeriesRecord, window: &Window) -> Vec<Episode> {
    const MAX_EPISODES: usize = 3;
    let samples = finite_samples(series, window);
    let Some((Band { center, threshold }, scan_from)) = reference_band(&samples, window) else {
        return Vec::new();
    };
    let beyond = |value: f64| (value - center).abs() > threshold;
    let mut found = Vec::new();
    let mut index = scan_from;
    while index + 1 < samples.len() && found.len() < MAX_EPISODES {
        if !(beyond(samples[index].1) && beyond(samples[index + 1].1)) {
            index += 1;
            continue;
        }
        let start = samples[index];
        let mut peak = start;
        let mut end = None;
        index += 1;
        while index < samples.len() {
            if (samples[index].1 - center).abs() > (peak.1 - center).abs() {
                peak = samples[index];
            }
            if !beyond(samples[index].1) && samples.get(index + 1).is_none_or(|next| !beyond(next.1)) {
                end = Some(samples[index]);
                break;
            }
            index += 1;
        }
        found.push(Episode { start, center, peak, end });
    }
    found
}

/// The incident metrics' series (clock evidence left out), by query, in record order.
fn series_by_query(records: &[Record]) -> BTreeMap<&str, Vec<&SeriesRecord>> {
    let mut by_query: BTreeMap<&str, Vec<&SeriesRecord>> = BTreeMap::new();
    for series in records.iter().filter_map(Record::as_series).filter(|series| !series.kind.is_clock()) {
        by_query.entry(series.query.as_str()).or_default().push(series);
    }
    by_query
}

/// A series' finite samples in the window.
fn finite_samples(series: &SeriesRecord, window: &Window) -> Vec<(Instant, f64)> {
    series.samples.iter().filter(|(time, value)| window.contains(*time) && value.is_finite()).copied().collect()
}

/// The band a series is judged against (the median of its reference ± the larger of five
/// robust deviations (1.4826 × MAD) and a fifth of the median), and the index of the first
/// sample judged: the baseline's samples when it has at least four (all samples judged),
/// else its first four in the window (judged from the fifth); `None` with fewer.
fn reference_band(samples: &[(Instant, f64)], window: &Window) -> Option<(Band, usize)> {
    const MIN_REFERENCE: usize = 4;
    let baseline: Vec<f64> =
        samples.iter().filter(|(time, _)| *time < window.baseline_end).map(|(_, value)| *value).collect();
    let (reference, scan_from) = if baseline.len() >= MIN_REFERENCE {
        (baseline, 0)
    } else if samples.len() > MIN_REFERENCE + 1 {
        (samples[..MIN_REFERENCE].iter().map(|(_, value)| *value).collect(), MIN_REFERENCE)
    } else {
        return None;
    };
    let center = median(&reference);
    let sigma = 1.4826 * mad(&reference, center);
    let threshold = (5.0 * sigma).max(0.2 * center.abs()).max(1e-9);
    Some((Band { center, threshold }, scan_from))
}

/// The series of each Prometheus query (clock evidence left out), in query order, each
/// named as its rows name it, with its samples in the window and the band [`episodes`]
/// judges it against: what a chart of the query draws.
pub fn query_series(records: &[Record], window: &Window) -> Vec<QuerySeries> {
    series_by_query(records)
        .values()
        .map(|series| {
            let (_, names) = series_names(series);
            QuerySeries {
                source: series[0].source_name(),
                query: series[0].query.clone(),
                series: series
                    .iter()
                    .zip(names)
                    .map(|(one, name)| SeriesSamples {
                        name,
                        samples: one.samples.iter().filter(|(time, _)| window.contains(*time)).copied().collect(),
                        band: reference_band(&finite_samples(one, window), window).map(|(band, _)| band),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// How close in time changes of one query's series must be to count as one move: two
/// steps of the series, at least a minute.
fn together_within(series: &SeriesRecord) -> i64 {
    let step = series.samples.windows(2).map(|pair| nanos(pair[1].0) - nanos(pair[0].0)).min().unwrap_or(0);
    (2 * step).max(60_000_000_000)
}

/// Metric rows of one query: each series' departures from its level and returns to it.
/// Series that move together (the same way within [`together_within`]) make one row naming
/// how many and which ("rose on 3 of 3 pods"); one that moves alone keeps its own row.
fn metric_entries(series: &[&SeriesRecord], window: &Window) -> Vec<Entry> {
    let Some(first) = series.first() else { return Vec::new() };
    let source = first.source_name();
    let within = together_within(first);
    let (noun, names) = series_names(series);
    let mut departures: Vec<(usize, Episode)> = Vec::new();
    for (index, one) in series.iter().enumerate() {
        departures.extend(episodes(one, window).into_iter().map(|episode| (index, episode)));
    }
    let mut entries = Vec::new();
    let cluster = |moves: Vec<(usize, Instant, Episode)>| -> Vec<Vec<(usize, Instant, Episode)>> {
        let mut sorted = moves;
        sorted.sort_by_key(|(index, time, episode)| (!episode.rose(), *time, *index));
        let mut groups: Vec<Vec<(usize, Instant, Episode)>> = Vec::new();
        for item in sorted {
            let joins = groups.last().is_some_and(|group| {
                let (_, first_time, first_episode) = group[0];
                first_episode.rose() == item.2.rose()
                    && nanos(item.1) - nanos(first_time) <= within
                    && !group.iter().any(|(index, _, _)| *index == item.0)
            });
            match groups.last_mut() {
                Some(group) if joins => group.push(item),
                _ => groups.push(vec![item]),
            }
        }
        groups
    };
    let moves: Vec<(usize, Instant, Episode)> =
        departures.iter().map(|(index, episode)| (*index, episode.start.0, *episode)).collect();
    for group in cluster(moves) {
        let (index, time, episode) = group[0];
        let direction = if episode.rose() { "rose" } else { "fell" };
        let text = if group.len() == 1 {
            let still = if episode.end.is_none() { "; still away at the window end" } else { "" };
            format!(
                "{} {direction} to {} (baseline {}; peak {} at {}{still})",
                names[index],
                human_value(episode.start.1),
                human_value(episode.center),
                human_value(episode.peak.1),
                episode.peak.0.strftime("%H:%M:%S"),
            )
        } else {
            let peak = group
                .iter()
                .map(|(_, _, episode)| episode.peak)
                .max_by(|left, right| (left.1 - episode.center).abs().total_cmp(&(right.1 - episode.center).abs()))
                .unwrap_or(episode.peak);
            let each = listed(group.iter().map(|(index, _, episode)| {
                format!(
                    "{} to {} (baseline {})",
                    names[*index],
                    human_value(episode.start.1),
                    human_value(episode.center)
                )
            }));
            format!(
                "{direction} on {} of {} {noun}: {each}; peak {} at {}",
                group.len(),
                series.len(),
                human_value(peak.1),
                peak.0.strftime("%H:%M:%S")
            )
        };
        let mut entry = Entry::new(time, Kind::Metric, text, source.clone());
        let (mut area, mut increase) = (0.0, 0.0);
        for (index, _, episode) in &group {
            let (one_area, one_increase) =
                integrate(series[*index], episode.start.0, episode.end.map(|end| end.0), window);
            area += one_area;
            increase += one_increase;
        }
        entry.fact = Some(Fact::MetricAway {
            query: first.query.clone(),
            rose: episode.rose(),
            area,
            increase,
            series: group.iter().map(|(index, _, _)| names[*index].clone()).collect(),
        });
        entry.weight = WEIGHT_METRIC;
        entries.push(entry);
    }
    let returns: Vec<(usize, Instant, Episode)> =
        departures.iter().filter_map(|(index, episode)| episode.end.map(|end| (*index, end.0, *episode))).collect();
    for group in cluster(returns) {
        let (index, time, episode) = group[0];
        let text = if group.len() == 1 {
            let end = episode.end.map_or(f64::NAN, |end| end.1);
            format!(
                "{} back to baseline: {} (baseline {})",
                names[index],
                human_value(end),
                human_value(episode.center)
            )
        } else {
            let each = listed(group.iter().map(|(index, _, episode)| {
                format!("{} at {}", names[*index], human_value(episode.end.map_or(f64::NAN, |end| end.1)))
            }));
            format!("back to baseline on {} of {} {noun}: {each}", group.len(), series.len())
        };
        let mut entry = Entry::new(time, Kind::Metric, text, source.clone());
        entry.fact = Some(Fact::MetricBack { query: first.query.clone() });
        entry.weight = WEIGHT_METRIC;
        entries.push(entry);
    }
    entries
}

/// A series over `[from, until]` (until the window's end when it did not come back): its
/// values integrated over time (each sample held until the next, value × seconds) and, read
/// as a counter, its increase (a drop is a reset, counted from zero, as `increase()` does).
fn integrate(series: &SeriesRecord, from: Instant, until: Option<Instant>, window: &Window) -> (f64, f64) {
    let until = until.unwrap_or(window.end);
    let samples: Vec<(Instant, f64)> = series
        .samples
        .iter()
        .filter(|(time, value)| from <= *time && *time <= until && value.is_finite())
        .copied()
        .collect();
    let mut area = 0.0;
    let mut increase = 0.0;
    for pair in samples.windows(2) {
        let seconds = (nanos(pair[1].0) - nanos(pair[0].0)) as f64 / 1e9;
        area += pair[0].1 * seconds;
        increase += if pair[1].1 >= pair[0].1 { pair[1].1 - pair[0].1 } else { pair[1].1 };
    }
    (area, increase)
}

/// What the series of one query are called in a row: each by the labels that tell them
/// apart (`{pod="a"}`; `Value` for a lone unlabelled one), and together by the one label
/// that does (`pods`), else `series`.
fn series_names(series: &[&SeriesRecord]) -> (String, Vec<String>) {
    if series.len() == 1 {
        let labels = series[0].label_text();
        return ("series".to_owned(), vec![if labels == "{}" { "Value".to_owned() } else { labels }]);
    }
    let keys: std::collections::BTreeSet<&str> =
        series.iter().flat_map(|one| one.labels.keys().map(String::as_str)).filter(|key| *key != "__name__").collect();
    let telling: Vec<&str> = keys
        .into_iter()
        .filter(|key| series.iter().any(|one| one.labels.get(*key) != series[0].labels.get(*key)))
        .collect();
    let names = series
        .iter()
        .map(|one| {
            let inner: Vec<String> = telling
                .iter()
                .map(|key| format!("{key}={:?}", one.labels.get(*key).map_or("", String::as_str)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        })
        .collect();
    let noun = match telling.as_slice() {
        [one] if one.ends_with('s') => format!("{one}es"),
        [one] => format!("{one}s"),
        _ => "series".to_owned(),
    };
    (noun, names)
}

/// At most five items joined with commas, then how many more.
fn listed(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let mut text = items.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 5 {
        text.push_str(&format!(" and {} more", items.len() - 5));
    }
    text
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
    let make = |nanos: i64, text: String, stats: &TemplateStats, count: u64, fact: Fact| {
        let mut entry = Entry::new(instant(nanos), Kind::Log, text, digest.source.to_string());
        entry.fact = Some(fact);
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
        let error = stats.severity == Severity::Error || stats.status_class == 5;
        if is_new && (stats.severity >= Severity::Warn || stats.status_class == 5) {
            entries.push(make(
                stats.first_incident_nanos,
                format!("First {}: {template}", singular(&what)),
                stats,
                stats.n_incident,
                Fact::LogFirst { error, what: what.clone(), template: template.to_owned() },
            ));
            let stopped = nanos(window.end) + hint - stats.last_incident_nanos > quiet_nanos;
            if stopped && stats.n_incident >= 3 {
                entries.push(make(
                    stats.last_incident_nanos,
                    format!("Last {}: {template}", singular(&what)),
                    stats,
                    stats.n_incident,
                    Fact::LogLast { error },
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
                Fact::BurstStart,
            ));
            let end_nanos = nanos(window.baseline_end) + hint + bucket as i64 * bucket_nanos;
            if end_nanos < nanos(window.end) + hint {
                entries.push(make(
                    end_nanos,
                    format!("Burst over: {template} ({what})"),
                    stats,
                    count,
                    Fact::BurstOver,
                ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{AutoscalerRecord, NodeConditionRecord};

    #[track_caller]
    fn check_scaling(message: &str, expected: Option<(bool, &str, Option<u64>, u64)>) {
        assert_eq!(parse_scaling(message), expected, "{message}");
    }

    fn at(text: &str) -> Instant {
        text.parse().unwrap()
    }

    fn window() -> Window {
        Window {
            start: at("2025-02-09T10:00:00Z"),
            end: at("2025-02-09T11:00:00Z"),
            baseline_end: at("2025-02-09T10:15:00Z"),
        }
    }

    fn rows(records: &[Record]) -> Vec<(String, String, String, Option<String>)> {
        let mut found: Vec<(String, String, String, Option<String>)> =
            entries(records, &[], &window(), &Options::default())
                .into_iter()
                .map(|entry| {
                    (
                        entry.time.strftime("%H:%M:%S").to_string(),
                        entry.kind.name().to_owned(),
                        entry.event,
                        entry.actor,
                    )
                })
                .collect();
        found.sort();
        found
    }

    fn workload(kind: &str, name: &str, created: &str, manager: &str) -> Record {
        Record::Workload(WorkloadRecord {
            kind: kind.to_owned(),
            namespace: "shop".to_owned(),
            name: name.to_owned(),
            created: Some(at(created)),
            spec_managers: vec![(manager.to_owned(), at(created))],
            images: vec![format!("shop/{name}:1")],
        })
    }

    fn event(reason: &str, object: &str, time: &str, message: &str) -> Record {
        Record::K8sEvent(K8sEventRecord {
            time: at(time),
            first_time: Some(at(time)),
            event_type: "Normal".to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            namespace: "shop".to_owned(),
            object: object.to_owned(),
            count: 1,
            reporter: None,
            host: None,
        })
    }

    #[test]
    fn workloads_created_in_the_window_are_rows_once() {
        let mitigation = workload("Deployment", "mitigation", "2025-02-09T10:12:00Z", "kubectl-create");
        let records = [
            mitigation.clone(),
            mitigation,
            workload("StatefulSet", "db", "2025-01-01T00:00:00Z", "helm"),
            workload("DaemonSet", "agent", "2025-02-09T10:20:00Z", "kube-controller-manager"),
            // Its first ReplicaSet is the creation, not a rollout of its own.
            Record::Rollout(RolloutRecord {
                time: at("2025-02-09T10:12:01Z"),
                namespace: "shop".to_owned(),
                deployment: "mitigation".to_owned(),
                replicaset: "mitigation-5d".to_owned(),
                revision: 1,
                revision_history: Vec::new(),
                images: vec!["shop/mitigation:1".to_owned()],
                manager: None,
            }),
        ];
        assert_eq!(
            rows(&records),
            vec![
                (
                    "10:12:00".to_owned(),
                    "deploy".to_owned(),
                    "Deployment shop/mitigation created: shop/mitigation:1".to_owned(),
                    Some("kubectl-create".to_owned())
                ),
                (
                    "10:20:00".to_owned(),
                    "deploy".to_owned(),
                    "DaemonSet shop/agent created: shop/agent:1".to_owned(),
                    None
                ),
            ]
        );
    }

    fn revision(number: u64, time: &str, rollback: Option<Rollback>, image: &str) -> Record {
        Record::Revision(RevisionRecord {
            time: at(time),
            namespace: "shop".to_owned(),
            owner_kind: "StatefulSet".to_owned(),
            owner: "db".to_owned(),
            revision: number,
            rollback,
            images: vec![image.to_owned()],
        })
    }

    /// StatefulSet shop/db: its first revision, a rollout at 10:05:01, a rollback at 10:30:00.
    fn db_revisions() -> Vec<Record> {
        vec![
            revision(1, "2025-01-01T00:00:00Z", None, "postgres:16.1"),
            revision(2, "2025-02-09T10:05:01Z", None, "postgres:16.2"),
            revision(
                3,
                "2025-02-09T10:30:00Z",
                Some(Rollback::Reused { created: at("2025-01-01T00:00:00Z") }),
                "postgres:16.1",
            ),
        ]
    }

    #[test]
    fn rows_say_what_they_tell_as_facts() {
        let mut records = vec![workload("StatefulSet", "db", "2025-01-01T00:00:00Z", "helm")];
        records.extend(db_revisions());
        let mut facts: Vec<(Instant, Option<Fact>)> = entries(&records, &[], &window(), &Options::default())
            .into_iter()
            .map(|entry| (entry.time, entry.fact))
            .collect();
        facts.sort_by_key(|(time, _)| *time);
        let change = |change, image: &str| {
            Some(Fact::Change { change, object: "StatefulSet shop/db".to_owned(), images: vec![image.to_owned()] })
        };
        assert_eq!(
            facts,
            vec![
                (at("2025-02-09T10:05:01Z"), change(Change::Rollout, "postgres:16.2")),
                (at("2025-02-09T10:30:00Z"), change(Change::Rollback, "postgres:16.1")),
            ]
        );
    }

    #[test]
    fn statefulset_revisions_are_rollouts_and_rollbacks() {
        let mut db = workload("StatefulSet", "db", "2025-01-01T00:00:00Z", "helm");
        if let Record::Workload(workload) = &mut db {
            workload.spec_managers.push(("argocd-controller".to_owned(), at("2025-02-09T10:05:00Z")));
        }
        let mut records = vec![db];
        records.extend(db_revisions());
        assert_eq!(
            rows(&records),
            vec![
                (
                    "10:05:01".to_owned(),
                    "deploy".to_owned(),
                    "Rollout of StatefulSet shop/db to revision 2: postgres:16.2 (was postgres:16.1)".to_owned(),
                    Some("argocd-controller".to_owned())
                ),
                (
                    "10:30:00".to_owned(),
                    "deploy".to_owned(),
                    "Rollback of StatefulSet shop/db to revision 3 (a template first rolled out at 2025-01-01 00:00:00): \
                     postgres:16.1 (was postgres:16.2)"
                        .to_owned(),
                    None
                ),
            ]
        );
    }

    #[test]
    fn autoscaler_scalings_and_node_conditions_unless_an_event_tells_them() {
        let autoscaler = |name: &str, scaled: &str| {
            Record::Autoscaler(AutoscalerRecord {
                namespace: "shop".to_owned(),
                name: name.to_owned(),
                target: format!("Deployment/{name}"),
                last_scale: Some(at(scaled)),
                current_replicas: Some(4),
                desired_replicas: Some(6),
            })
        };
        let condition = |node: &str, condition: &str, status: &str, since: &str| {
            Record::NodeCondition(NodeConditionRecord {
                node: node.to_owned(),
                condition: condition.to_owned(),
                status: status.to_owned(),
                since: at(since),
                reason: Some("KubeletNotReady".to_owned()),
                message: Some("container runtime is down".to_owned()),
            })
        };
        let records = [
            autoscaler("api", "2025-02-09T10:14:00Z"),
            autoscaler("web", "2025-02-09T10:16:00Z"),
            event(
                "SuccessfulRescale",
                "HorizontalPodAutoscaler/web",
                "2025-02-09T10:16:00Z",
                "New size: 6; reason: cpu resource utilization (percentage of request) above target",
            ),
            condition("node-2", "Ready", "False", "2025-02-09T10:15:30Z"),
            condition("node-3", "Ready", "False", "2025-02-09T10:17:00Z"),
            event("NodeNotReady", "Node/node-3", "2025-02-09T10:17:02Z", "Node node-3 status is now: NodeNotReady"),
            condition("node-2", "MemoryPressure", "True", "2025-02-09T09:00:00Z"),
        ];
        let found: Vec<String> =
            rows(&records).into_iter().map(|(time, kind, event, _)| format!("{time} {kind} {event}")).collect();
        assert_eq!(
            found,
            vec![
                "10:14:00 deploy HorizontalPodAutoscaler shop/api rescaled Deployment/api (desired 6, current 4 replicas when read)",
                "10:15:30 k8s_event Node node-2 NotReady (KubeletNotReady: container runtime is down)",
                "10:16:00 deploy SuccessfulRescale HorizontalPodAutoscaler/web: New size: 6; reason: cpu resource utilization (percentage of request) above target",
                "10:17:02 deploy NodeNotReady Node/node-3: Node node-3 status is now: NodeNotReady",
            ]
        );
    }

    #[test]
    fn scaling_messages_of_the_deployment_controller() {
        // The deployment controller since Kubernetes 1.28: `to N from M`.
        check_scaling(
            "Scaled down replica set web-6846c969fd to 2 from 3",
            Some((false, "web-6846c969fd", Some(3), 2)),
        );
        check_scaling("Scaled up replica set web-5b85bc8649 to 1 from 0", Some((true, "web-5b85bc8649", Some(0), 1)));
        check_scaling("Scaled up replica set api-7d9f8b6c5 from 0 to 3", Some((true, "api-7d9f8b6c5", Some(0), 3)));
        check_scaling("Scaled down replica set api-5c4 from 3 to 0", Some((false, "api-5c4", Some(3), 0)));
        // Before Kubernetes 1.28 the message had no `from`.
        check_scaling("Scaled up replica set api-7d9f8b6c5 to 6", Some((true, "api-7d9f8b6c5", None, 6)));
        check_scaling("Scaled down replica set api-7d9f8b6c5 to 0.", Some((false, "api-7d9f8b6c5", None, 0)));
        check_scaling("Scaled up replica set api-7d9f8b6c5 to many", None);
        check_scaling("Created pod: api-7d9f8b6c5-x2kqp", None);
    }

    fn rule(name: &str, labels: &[(&str, &str)], for_mins: i64) -> RuleRecord {
        RuleRecord {
            name: name.to_owned(),
            query: "errors > 0.05".to_owned(),
            duration: jiff::SignedDuration::from_mins(for_mins),
            labels: labels.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
            annotations: BTreeMap::new(),
            group: "shop".to_owned(),
            file: "shop.yml".to_owned(),
        }
    }

    fn alert(name: &str, pod: &str, starts_at: &str, status: AlertStatus) -> AlertRecord {
        AlertRecord {
            name: name.to_owned(),
            status,
            labels: [("alertname", name), ("pod", pod), ("severity", "critical")]
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_at: starts_at.parse().unwrap(),
            ends_at: None,
            fingerprint: Some(format!("{name}-{pod}")),
            generator_url: None,
        }
    }

    #[track_caller]
    fn check_onsets(records: Vec<Record>, expected: &[(&str, &str)]) {
        let window = Window {
            start: "2025-02-09T09:45:00Z".parse().unwrap(),
            end: "2025-02-09T11:00:00Z".parse().unwrap(),
            baseline_end: "2025-02-09T09:55:00Z".parse().unwrap(),
        };
        let got: Vec<(String, String)> = rule_onset_entries(&records, &telling_labels(&records), &window)
            .into_iter()
            .map(|entry| {
                assert_eq!((entry.kind, entry.source.as_str()), (Kind::Alert, RULES_SOURCE));
                (entry.time.to_string(), entry.event)
            })
            .collect();
        let expected: Vec<(String, String)> =
            expected.iter().map(|(time, event)| (time.to_string(), event.to_string())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn an_alert_with_a_for_rule_shows_when_its_condition_began() {
        let firing = alert("HighErrorRate", "api-1", "2025-02-09T10:06:15Z", AlertStatus::Firing);
        let resolved = AlertRecord { status: AlertStatus::Resolved, ..firing.clone() };
        let onset = (
            "2025-02-09T10:01:15Z",
            "HighErrorRate condition true (rule `for: 5m` before it fired at 10:06:15): errors > 0.05",
        );
        // Once per occurrence, whichever notifications carried it.
        check_onsets(
            vec![Record::Alert(firing.clone()), Record::Alert(resolved), Record::Rule(rule("HighErrorRate", &[], 5))],
            &[onset],
        );
        // The rule that sets the alert's labels wins over one that does not fit them.
        check_onsets(
            vec![
                Record::Alert(firing.clone()),
                Record::Rule(rule("HighErrorRate", &[("severity", "warning")], 30)),
                Record::Rule(rule("HighErrorRate", &[("severity", "critical")], 5)),
            ],
            &[onset],
        );
        // No rule, another alert's rule, no `for:`, or fitting rules that disagree: no row.
        check_onsets(vec![Record::Alert(firing.clone())], &[]);
        check_onsets(vec![Record::Alert(firing.clone()), Record::Rule(rule("DiskFull", &[], 5))], &[]);
        check_onsets(vec![Record::Alert(firing.clone()), Record::Rule(rule("HighErrorRate", &[], 0))], &[]);
        check_onsets(
            vec![
                Record::Alert(firing.clone()),
                Record::Rule(rule("HighErrorRate", &[], 5)),
                Record::Rule(rule("HighErrorRate", &[], 10)),
            ],
            &[],
        );
        // Alerts of one name told apart by their labels; an onset before the window is left out.
        let other = alert("HighErrorRate", "api-2", "2025-02-09T10:20:00Z", AlertStatus::Firing);
        let early = alert("HighErrorRate", "api-3", "2025-02-09T09:47:00Z", AlertStatus::Firing);
        check_onsets(
            vec![
                Record::Alert(firing),
                Record::Alert(other),
                Record::Alert(early),
                Record::Rule(rule("HighErrorRate", &[], 5)),
            ],
            &[
                (
                    "2025-02-09T10:01:15Z",
                    r#"HighErrorRate {pod="api-1"} condition true (rule `for: 5m` before it fired at 10:06:15): errors > 0.05"#,
                ),
                (
                    "2025-02-09T10:15:00Z",
                    r#"HighErrorRate {pod="api-2"} condition true (rule `for: 5m` before it fired at 10:20:00): errors > 0.05"#,
                ),
            ],
        );
    }
}
