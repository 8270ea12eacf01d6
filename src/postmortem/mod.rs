//! The post-mortem drafted from a [`Timeline`]: key moments and response times, a factual
//! summary, the impact the evidence measures, contributing-factor candidates, action-item
//! candidates and what went well, each pointing at the timeline rows it rests on.
//!
//! It reads the timeline the draft built (`draft::draft` offline, the daemon's cached build
//! online) and nothing else: no second pipeline. A row's [`Fact`] says what it tells; a
//! moment the rows cannot show is unknown, never guessed. Wording is blameless: systems and
//! conditions are the subjects, never people. Rendering is [`render`]'s, checking a written
//! post-mortem [`lint`]'s, exporting its action items [`actions`]'.

pub mod actions;
pub mod lint;
pub mod render;

use std::collections::BTreeSet;

use jiff::SignedDuration;
use serde::Serialize;

use crate::incident::grouping::severity_rank;
use crate::record::{Instant, PageAction, Stream};
use crate::timeline::{Change, Fact, Timeline, human_offset};

/// Changes this long before the impact start are candidates for its trigger.
const CHANGE_LOOKBACK: SignedDuration = SignedDuration::from_secs(30 * 60);
/// A wait longer than this (to detect, to acknowledge) is a contributing-factor candidate;
/// shorter, a measurement of what went well.
const SLOW_RESPONSE: SignedDuration = SignedDuration::from_secs(5 * 60);

/// Marks what the authors must write or decide; `lint` warns on any left.
pub const PLACEHOLDER: &str = "TODO";

/// The moments of an incident, in the order they are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MomentKind {
    ImpactStart,
    Detected,
    Paged,
    Acknowledged,
    Mitigated,
    Recovered,
    Resolved,
}

impl MomentKind {
    pub const ALL: [MomentKind; 7] = [
        MomentKind::ImpactStart,
        MomentKind::Detected,
        MomentKind::Paged,
        MomentKind::Acknowledged,
        MomentKind::Mitigated,
        MomentKind::Recovered,
        MomentKind::Resolved,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MomentKind::ImpactStart => "Impact start",
            MomentKind::Detected => "Detected",
            MomentKind::Paged => "Paged",
            MomentKind::Acknowledged => "Acknowledged",
            MomentKind::Mitigated => "Mitigated",
            MomentKind::Recovered => "Recovered",
            MomentKind::Resolved => "Resolved",
        }
    }

    /// What the evidence would have to show, said when it does not.
    fn unknown_because(self) -> &'static str {
        match self {
            MomentKind::ImpactStart => "no new error in the logs, no metric departure and no alert condition",
            MomentKind::Detected => "no alert fired and no page was triggered",
            MomentKind::Paged => "no page was triggered",
            MomentKind::Acknowledged => "no acknowledgement of the page",
            MomentKind::Mitigated => "no rollout, rollback or scaling between the impact start and the recovery",
            MomentKind::Recovered => "errors or metrics had not come back to their baseline by the window's end",
            MomentKind::Resolved => "an alert or the page was not resolved in the window, nor by a responder",
        }
    }
}

/// One key moment: when, and the timeline row that shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Moment {
    pub kind: MomentKind,
    #[serde(serialize_with = "serialize_option_time")]
    pub time: Option<Instant>,
    /// Index into the timeline's entries (0-based); rendered as row `index + 1`.
    pub row: Option<usize>,
    /// The row's event, or why the moment is unknown.
    pub evidence: String,
}

/// A response time between two moments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub name: &'static str,
    pub from: MomentKind,
    pub to: MomentKind,
    pub seconds: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorGroup {
    /// What set the impact off (a change shortly before it).
    Immediate,
    /// What made it worse or longer (restarts, saturation, slow detection).
    Contributing,
    /// What the organisation's systems let happen (monitoring gaps, clocks, coverage).
    Systemic,
}

impl FactorGroup {
    pub fn name(self) -> &'static str {
        match self {
            FactorGroup::Immediate => "Immediate",
            FactorGroup::Contributing => "Contributing",
            FactorGroup::Systemic => "Systemic",
        }
    }
}

/// A contributing-factor candidate: a statement of what the evidence shows, not a cause.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Factor {
    pub group: FactorGroup,
    pub text: String,
    /// Timeline rows (0-based) it rests on.
    pub rows: Vec<usize>,
}

/// An action-item candidate; owner and deadline are left to the authors.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionItem {
    pub id: String,
    pub action: String,
    pub priority: &'static str,
    pub rows: Vec<usize>,
}

/// What the evidence measures of the impact.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Impact {
    /// Error lines of new error templates, per log stream, over the incident part of the window.
    pub log_errors: Vec<Counted>,
    /// Series that left their level, with what integrating them over the departure gives.
    pub metrics: Vec<Measured>,
    pub services: Vec<String>,
    pub pods: Vec<String>,
    pub namespaces: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Counted {
    pub source: String,
    pub what: String,
    pub count: u64,
    pub row: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    pub query: String,
    /// `rate integrated`, `counter increase`.
    pub how: &'static str,
    pub value: f64,
    pub row: usize,
}

/// The post-mortem drafted from one timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PostMortem {
    /// `PM-YYYY-MM-DD-slug`: what the action export names it by.
    pub id: String,
    /// What degraded (the timeline's title).
    pub what: String,
    #[serde(serialize_with = "serialize_option_time")]
    pub date: Option<Instant>,
    pub severity: Option<String>,
    pub moments: Vec<Moment>,
    pub response_times: Vec<Interval>,
    pub summary: String,
    pub impact: Impact,
    pub factors: Vec<Factor>,
    pub actions: Vec<ActionItem>,
    pub went_well: Vec<String>,
}

impl PostMortem {
    pub fn moment(&self, kind: MomentKind) -> &Moment {
        self.moments.iter().find(|moment| moment.kind == kind).expect("every kind has a moment")
    }

    /// Impact start to recovery, when both are known.
    pub fn impact_span(&self) -> Option<(Instant, Instant)> {
        Some((self.moment(MomentKind::ImpactStart).time?, self.moment(MomentKind::Recovered).time?))
    }
}

/// The post-mortem of a timeline.
pub fn draft(timeline: &Timeline) -> PostMortem {
    let moments = moments(timeline);
    let at = |kind: MomentKind| moments.iter().find(|moment| moment.kind == kind).and_then(|moment| moment.time);
    let interval = |name: &'static str, from: MomentKind, to: MomentKind| Interval {
        name,
        from,
        to,
        seconds: match (at(from), at(to)) {
            (Some(from), Some(to)) => Some(seconds_between(from, to)),
            _ => None,
        },
    };
    let response_times = vec![
        interval("Time to detect", MomentKind::ImpactStart, MomentKind::Detected),
        interval("Time to acknowledge", MomentKind::Paged, MomentKind::Acknowledged),
        interval("Time to mitigate", MomentKind::ImpactStart, MomentKind::Mitigated),
        interval("Time to resolve", MomentKind::ImpactStart, MomentKind::Resolved),
    ];
    let date = at(MomentKind::ImpactStart).or(Some(timeline.window.start));
    let mut post_mortem = PostMortem {
        id: identifier(&timeline.title, date),
        what: timeline.title.clone(),
        date,
        severity: severity(timeline),
        moments,
        response_times,
        summary: String::new(),
        impact: impact(timeline),
        factors: Vec::new(),
        actions: Vec::new(),
        went_well: Vec::new(),
    };
    post_mortem.summary = summary(timeline, &post_mortem);
    let (factors, actions, went_well) = candidates(timeline, &post_mortem);
    post_mortem.factors = factors;
    post_mortem.actions = actions;
    post_mortem.went_well = went_well;
    post_mortem
}

/// `PM-2025-02-09-higherrorrate`: the date and the title's first word.
fn identifier(title: &str, date: Option<Instant>) -> String {
    let slug: String = title
        .split(|character: char| !character.is_ascii_alphanumeric())
        .find(|word| !word.is_empty())
        .unwrap_or("incident")
        .to_ascii_lowercase()
        .chars()
        .take(32)
        .collect();
    match date {
        Some(date) => format!("PM-{}-{slug}", date.strftime("%F")),
        None => format!("PM-{slug}"),
    }
}

fn serialize_option_time<S: serde::Serializer>(time: &Option<Instant>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.collect_str(&crate::timeline::Millis(*time)),
        None => serializer.serialize_none(),
    }
}

/// Rows with their index, in time order (the timeline's order).
fn facts(timeline: &Timeline) -> impl Iterator<Item = (usize, &crate::timeline::Entry, &Fact)> {
    timeline
        .entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| entry.fact.as_ref().map(|fact| (index, entry, fact)))
}

fn moments(timeline: &Timeline) -> Vec<Moment> {
    let first = |wanted: &dyn Fn(&Fact) -> bool| facts(timeline).find(|(_, _, fact)| wanted(fact));
    let impact_start = first(&|fact| {
        matches!(fact, Fact::LogFirst { error: true, .. } | Fact::MetricAway { .. } | Fact::ConditionBegan { .. })
    });
    let alert = first(&|fact| matches!(fact, Fact::AlertFiring { .. }));
    let paged = first(&|fact| matches!(fact, Fact::Page { action: PageAction::Triggered, .. }));
    let detected = alert.or(paged);
    let acknowledged = paged.and_then(|(paged_row, _, _)| {
        facts(timeline)
            .skip_while(|(index, _, _)| *index < paged_row)
            .find(|(_, _, fact)| matches!(fact, Fact::Page { action: PageAction::Acknowledged, .. }))
    });
    let recovered = recovery(timeline);
    let start_row = impact_start.map(|(index, _, _)| index);
    let mitigated = match (start_row, recovered) {
        (Some(start), Some(recovered)) => facts(timeline)
            .filter(|(index, _, fact)| {
                *index > start
                    && *index < recovered
                    && matches!(
                        fact,
                        Fact::Change {
                            change: Change::Rollout | Change::Rollback | Change::Scale | Change::Rescale,
                            ..
                        }
                    )
            })
            .last(),
        _ => None,
    };
    let resolved = resolution(timeline);
    let row = |found: Option<(usize, &crate::timeline::Entry, &Fact)>| found.map(|(index, _, _)| index);
    let rows = [
        (MomentKind::ImpactStart, start_row),
        (MomentKind::Detected, row(detected)),
        (MomentKind::Paged, row(paged)),
        (MomentKind::Acknowledged, row(acknowledged)),
        (MomentKind::Mitigated, row(mitigated)),
        (MomentKind::Recovered, recovered),
        (MomentKind::Resolved, resolved),
    ];
    rows.into_iter()
        .map(|(kind, row)| match row {
            Some(row) => {
                let entry = &timeline.entries[row];
                Moment { kind, time: Some(entry.time), row: Some(row), evidence: entry.event.clone() }
            }
            None => Moment { kind, time: None, row: None, evidence: format!("unknown: {}", kind.unknown_because()) },
        })
        .collect()
}

/// The row by which everything that departed came back: every departed query's last return
/// after its last departure, and every error template that stopped; unknown when one did not.
fn recovery(timeline: &Timeline) -> Option<usize> {
    let mut last: Option<usize> = None;
    let mut away: std::collections::BTreeMap<&str, bool> = std::collections::BTreeMap::new();
    let mut back_rows: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut errors = 0usize;
    let mut stopped = 0usize;
    for (index, entry, fact) in facts(timeline) {
        match fact {
            Fact::MetricAway { query, .. } => {
                away.insert(query, true);
            }
            Fact::MetricBack { query } => {
                away.insert(query, false);
                back_rows.insert(query, index);
            }
            // Templates seen fewer than three times get no row for their last line.
            Fact::LogFirst { error: true, .. } if entry.count >= 3 => errors += 1,
            Fact::LogLast { error: true } => {
                stopped += 1;
                last = last.max(Some(index));
            }
            _ => {}
        }
    }
    if away.values().any(|still| *still) || stopped < errors || (away.is_empty() && errors == 0) {
        return None;
    }
    back_rows.values().copied().chain(last).max()
}

/// When the incident was closed: the page resolved (after its last trigger or reopening),
/// else, without a page, the resolution of the alert that detected it; else a responder's
/// last manual resolve.
fn resolution(timeline: &Timeline) -> Option<usize> {
    signal_resolution(timeline).or_else(|| {
        facts(timeline).filter(|(_, _, fact)| matches!(fact, Fact::ResolvedByHand)).map(|(index, _, _)| index).last()
    })
}

/// [`resolution`] by the signals alone.
fn signal_resolution(timeline: &Timeline) -> Option<usize> {
    let paged = facts(timeline).any(|(_, _, fact)| matches!(fact, Fact::Page { action: PageAction::Triggered, .. }));
    if paged {
        let mut resolved = None;
        for (index, _, fact) in facts(timeline) {
            match fact {
                Fact::Page { action: PageAction::Triggered | PageAction::Reopened, .. } => resolved = None,
                Fact::Page { action: PageAction::Resolved, .. } if resolved.is_none() => resolved = Some(index),
                _ => {}
            }
        }
        return resolved;
    }
    let (first_row, first) = facts(timeline).find_map(|(index, _, fact)| match fact {
        Fact::AlertFiring { name, .. } => Some((index, name)),
        _ => None,
    })?;
    facts(timeline)
        .skip_while(|(index, _, _)| *index < first_row)
        .filter(|(_, _, fact)| matches!(fact, Fact::AlertResolved { name } if name == first))
        .map(|(index, _, _)| index)
        .last()
}

/// The highest alert severity label, and PagerDuty's priority or urgency as it said it.
fn severity(timeline: &Timeline) -> Option<String> {
    let alert = facts(timeline)
        .filter_map(|(_, _, fact)| match fact {
            Fact::AlertFiring { name, severity: Some(severity), .. } => Some((name, severity)),
            _ => None,
        })
        .max_by_key(|(_, severity)| severity_rank(Some(severity)));
    let page = facts(timeline)
        .filter_map(|(_, _, fact)| match fact {
            Fact::Page { action: PageAction::Other(word), text }
                if word.contains("priority") || word.contains("urgency") =>
            {
                Some(text.trim())
            }
            _ => None,
        })
        .filter(|text| !text.is_empty())
        .last();
    let parts: Vec<String> = alert
        .map(|(name, severity)| format!("{severity} (alert {name})"))
        .into_iter()
        .chain(page.map(|text| format!("PagerDuty: {text}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn impact(timeline: &Timeline) -> Impact {
    let mut impact = Impact::default();
    let mut pods = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    let mut services = BTreeSet::new();
    for (index, entry, fact) in facts(timeline) {
        match fact {
            Fact::LogFirst { error: true, what, template } => {
                impact.log_errors.push(Counted {
                    source: entry.source.clone(),
                    what: format!("{what} ({template})"),
                    count: entry.count,
                    row: index,
                });
                if let Some(Stream::Container(name)) = &entry.stream {
                    pods.insert(name.pod.clone());
                    namespaces.extend(name.namespace.clone());
                }
            }
            Fact::MetricAway { query, rose: true, area, increase, .. } => {
                let measured = if is_rate(query) {
                    Some(("rate integrated over the departure", *area))
                } else if is_counter(query) {
                    Some(("counter increase over the departure", *increase))
                } else {
                    None
                };
                if let Some((how, value)) = measured.filter(|(_, value)| value.is_finite() && *value > 0.0) {
                    impact.metrics.push(Measured { query: query.clone(), how, value, row: index });
                }
            }
            Fact::AlertFiring { labels, .. } => {
                // An alert about a pod names in `service` the exporter that reported it
                // (kube-state-metrics), not a service affected.
                if let Some(service) = labels.get("service").filter(|_| !labels.contains_key("pod")) {
                    services.insert(service.clone());
                }
                if let Some(namespace) = labels.get("namespace") {
                    namespaces.insert(namespace.clone());
                }
                if let Some(pod) = labels.get("pod") {
                    pods.insert(pod.clone());
                }
            }
            Fact::Termination { pod, namespace, .. } => {
                pods.insert(pod.clone());
                namespaces.insert(namespace.clone());
            }
            _ => {}
        }
    }
    impact.pods = pods.into_iter().collect();
    impact.namespaces = namespaces.into_iter().collect();
    impact.services = services.into_iter().collect();
    impact
}

/// A query whose values are per-second rates (`rate(…)`, `irate(…)` outside any ratio):
/// integrating it over time counts events.
fn is_rate(query: &str) -> bool {
    (query.contains("rate(") || query.contains("irate(")) && !query.contains(" / ") && !query.contains("quantile")
}

/// A bare counter (`…_total` without a function over it): its increase counts events.
fn is_counter(query: &str) -> bool {
    let trimmed = query.trim();
    trimmed.split(['{', ' ']).next().is_some_and(|name| name.ends_with("_total")) && !trimmed.contains('(')
}

/// Whole seconds from `from` to `to`, rounded to the nearest.
pub fn seconds_between(from: Instant, to: Instant) -> i64 {
    (to.duration_since(from).as_millis() as f64 / 1000.0).round() as i64
}

/// A readable length of a wait: `52s`, `5min 10s`, `1h 35min`; a negative one (an alert
/// before the first error it is about) keeps its sign: `-30s`.
pub fn duration_text(seconds: i64) -> String {
    if seconds < 0 {
        return format!("-{}", duration_text(-seconds));
    }
    let seconds = seconds.unsigned_abs();
    let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (hours, minutes, rest) {
        (0, 0, rest) => format!("{rest}s"),
        (0, minutes, 0) => format!("{minutes}min"),
        (0, minutes, rest) => format!("{minutes}min {rest}s"),
        (hours, 0, _) => format!("{hours}h"),
        (hours, minutes, _) => format!("{hours}h {minutes}min"),
    }
}

/// `1h 35min (10:05 – 11:40 UTC)`; the dates are written when the span crosses a day.
pub fn span_text(start: Instant, end: Instant) -> String {
    let length = duration_text(seconds_between(start, end));
    if start.strftime("%F").to_string() == end.strftime("%F").to_string() {
        format!("{length} ({} – {} UTC)", start.strftime("%H:%M"), end.strftime("%H:%M"))
    } else {
        format!("{length} ({} – {} UTC)", start.strftime("%F %H:%M"), end.strftime("%F %H:%M"))
    }
}

fn clock(time: Instant) -> String {
    time.strftime("%H:%M:%S").to_string()
}

/// What the change row says changed: `rollout of Deployment shop/inventory (…:2.4.0)`.
fn change_text(change: Change, object: &str, images: &[String]) -> String {
    let how = match change {
        Change::Rollout => "rollout of",
        Change::Rollback => "rollback of",
        Change::Scale => "scaling of",
        Change::Created => "creation of",
        Change::Rescale => "autoscaling of",
        Change::Other => "change to",
    };
    if images.is_empty() { format!("{how} {object}") } else { format!("{how} {object} ({})", images.join(", ")) }
}

/// One paragraph from the evidence: what degraded, when, how it was detected, what change
/// preceded it and what restored it.
fn summary(timeline: &Timeline, post_mortem: &PostMortem) -> String {
    let at = |kind: MomentKind| post_mortem.moment(kind).time;
    let mut sentences = Vec::new();
    match post_mortem.impact_span() {
        Some((start, end)) => sentences.push(format!(
            "{} degraded from {} to {} UTC on {} ({}).",
            post_mortem.what,
            clock(start),
            clock(end),
            start.strftime("%F"),
            duration_text(seconds_between(start, end))
        )),
        None => match at(MomentKind::ImpactStart) {
            Some(start) => sentences.push(format!(
                "{} degraded from {} UTC on {}; the evidence does not show the recovery.",
                post_mortem.what,
                clock(start),
                start.strftime("%F")
            )),
            None => sentences.push(format!(
                "{}: the evidence does not show when the impact began (window {} – {} UTC).",
                post_mortem.what,
                timeline.window.start.strftime("%F %H:%M"),
                timeline.window.end.strftime("%F %H:%M")
            )),
        },
    }
    let detected = post_mortem.moment(MomentKind::Detected);
    if let (Some(time), Some(row)) = (detected.time, detected.row) {
        let how = match &timeline.entries[row].fact {
            Some(Fact::AlertFiring { name, .. }) => format!("the alert {name} fired"),
            _ => "a page was triggered".to_owned(),
        };
        let after = at(MomentKind::ImpactStart)
            .map(|start| format!(", {} after the impact start", duration_text(seconds_between(start, time))))
            .unwrap_or_default();
        sentences.push(format!("It was detected when {how} at {}{after}.", clock(time)));
    }
    if let Some((_, entry, Fact::Change { change, object, images })) = trigger_change(timeline, post_mortem) {
        let before = at(MomentKind::ImpactStart)
            .map(|start| duration_text(seconds_between(entry.time, start)))
            .unwrap_or_default();
        sentences.push(format!(
            "A {} at {} preceded the impact start by {before}.",
            change_text(*change, object, images),
            clock(entry.time)
        ));
    }
    let mitigated = post_mortem.moment(MomentKind::Mitigated);
    if let (Some(time), Some(Fact::Change { change, object, images })) =
        (mitigated.time, mitigated.row.and_then(|row| timeline.entries[row].fact.as_ref()))
    {
        let recovered = at(MomentKind::Recovered)
            .map(|end| format!(": errors and metrics were back to their baseline by {}", clock(end)))
            .unwrap_or_default();
        sentences.push(format!(
            "A {} at {} preceded the recovery{recovered}.",
            change_text(*change, object, images),
            clock(time)
        ));
    }
    if let Some(time) = at(MomentKind::Resolved) {
        sentences.push(format!("Alerts and pages were resolved by {} UTC.", clock(time)));
    }
    sentences.join(" ")
}

/// The latest change in the lookback before the impact start.
fn trigger_change<'a>(
    timeline: &'a Timeline,
    post_mortem: &PostMortem,
) -> Option<(usize, &'a crate::timeline::Entry, &'a Fact)> {
    let start = post_mortem.moment(MomentKind::ImpactStart).time?;
    facts(timeline)
        .filter(|(_, entry, fact)| {
            matches!(fact, Fact::Change { .. })
                && entry.time <= start
                && start.duration_since(entry.time) <= CHANGE_LOOKBACK
        })
        .last()
}

type Candidates = (Vec<Factor>, Vec<ActionItem>, Vec<String>);

/// Contributing-factor and action-item candidates, and what went well, from the rows, the
/// gaps and the clock findings.
fn candidates(timeline: &Timeline, post_mortem: &PostMortem) -> Candidates {
    let mut factors = Vec::new();
    let mut actions: Vec<(String, &'static str, Vec<usize>)> = Vec::new();
    let mut went_well = Vec::new();
    let at = |kind: MomentKind| post_mortem.moment(kind).time;
    let row_of = |kind: MomentKind| post_mortem.moment(kind).row;
    let start = at(MomentKind::ImpactStart);
    let end = at(MomentKind::Recovered).unwrap_or(timeline.window.end);

    // Immediate: changes shortly before the onset.
    for (index, entry, fact) in facts(timeline) {
        let Fact::Change { change, object, images } = fact else { continue };
        let Some(start) = start else { break };
        if entry.time > start || start.duration_since(entry.time) > CHANGE_LOOKBACK {
            continue;
        }
        let before = duration_text(seconds_between(entry.time, start));
        factors.push(Factor {
            group: FactorGroup::Immediate,
            text: format!(
                "The {} at {} came {before} before the impact start ({}).",
                change_text(*change, object, images),
                clock(entry.time),
                timeline.entries[row_of(MomentKind::ImpactStart).unwrap_or(index)].event
            ),
            rows: [Some(index), row_of(MomentKind::ImpactStart)].into_iter().flatten().collect(),
        });
        actions.push((
            format!(
                "Gate rollouts of {object} on the error rate, rolling back on its own when errors rise after a change \
                 (errors began {before} after the {})",
                change_text(*change, object, images)
            ),
            "P1",
            vec![index],
        ));
    }

    // Contributing: restarts, saturation and node conditions during the impact.
    let mut seen_warnings = BTreeSet::new();
    for (index, entry, fact) in facts(timeline) {
        let during = start.is_some_and(|start| entry.time >= start) && entry.time <= end;
        if !during {
            continue;
        }
        match fact {
            Fact::Termination { reason, pod, namespace } => {
                let reason = reason.clone().unwrap_or_else(|| "terminated".to_owned());
                factors.push(Factor {
                    group: FactorGroup::Contributing,
                    text: format!(
                        "A container of {namespace}/{pod} ended at {} during the impact: {reason}.",
                        clock(entry.time)
                    ),
                    rows: vec![index],
                });
                if reason == "OOMKilled" {
                    actions.push((
                        format!(
                            "Set the memory limit of {namespace}/{pod}'s workload from its measured peak use \
                             (OOMKilled at {})",
                            clock(entry.time)
                        ),
                        "P2",
                        vec![index],
                    ));
                }
            }
            Fact::Warning { reason, object, namespace }
                if is_saturation(reason) && seen_warnings.insert(reason.clone()) =>
            {
                factors.push(Factor {
                    group: FactorGroup::Contributing,
                    text: format!("{reason} on {namespace} {object} from {} ({}).", clock(entry.time), entry.event),
                    rows: vec![index],
                });
            }
            Fact::NodeCondition { node, condition, status } if condition != "Ready" || status != "True" => {
                factors.push(Factor {
                    group: FactorGroup::Contributing,
                    text: format!("Node {node}: {condition} {status} at {} during the impact.", clock(entry.time)),
                    rows: vec![index],
                });
            }
            _ => {}
        }
    }

    // Detection, acknowledgement and mitigation delays, or what went well.
    if let Some(seconds) = interval_seconds(post_mortem, "Time to detect") {
        let detected = post_mortem.moment(MomentKind::Detected);
        let rows: Vec<usize> = [row_of(MomentKind::ImpactStart), detected.row].into_iter().flatten().collect();
        if SignedDuration::from_secs(seconds) > SLOW_RESPONSE {
            factors.push(Factor {
                group: FactorGroup::Contributing,
                text: format!(
                    "Detection came {} after the impact start ({}).",
                    duration_text(seconds),
                    detected.evidence
                ),
                rows: rows.clone(),
            });
            actions.push((
                format!(
                    "Alert sooner after the first errors: the first alert fired {} after them; add an alert on the \
                     error rate with a shorter `for:`",
                    duration_text(seconds)
                ),
                "P2",
                rows,
            ));
        } else if seconds >= 0 {
            went_well.push(format!("The alert fired {} after the first errors.", duration_text(seconds)));
        }
    }
    if let Some(seconds) = interval_seconds(post_mortem, "Time to acknowledge") {
        let rows: Vec<usize> =
            [row_of(MomentKind::Paged), row_of(MomentKind::Acknowledged)].into_iter().flatten().collect();
        if SignedDuration::from_secs(seconds) > SLOW_RESPONSE {
            factors.push(Factor {
                group: FactorGroup::Contributing,
                text: format!("The page waited {} for an acknowledgement.", duration_text(seconds)),
                rows,
            });
        } else {
            went_well.push(format!("The page was acknowledged {} after it was triggered.", duration_text(seconds)));
        }
    }
    if let (Some(mitigated), Some(paged)) = (at(MomentKind::Mitigated), at(MomentKind::Paged))
        && mitigated >= paged
    {
        went_well.push(format!("Mitigation came {} after the page.", duration_text(seconds_between(paged, mitigated))));
    }
    if let (Some(mitigated), Some(recovered)) = (at(MomentKind::Mitigated), at(MomentKind::Recovered)) {
        went_well.push(format!(
            "Errors and metrics were back to their baseline {} after the mitigation.",
            duration_text(seconds_between(mitigated, recovered))
        ));
    }

    // Systemic: monitoring gaps, clocks and what could not be read.
    for gap in &timeline.gaps {
        let row = timeline.entries.iter().position(|entry| {
            entry.kind == crate::timeline::Kind::Gap && entry.source == gap.source && entry.time >= gap.start
        });
        let length = duration_text(seconds_between(gap.start, gap.end));
        factors.push(Factor {
            group: FactorGroup::Systemic,
            text: format!(
                "Monitoring gap: {} has no data from {} to {} ({length}): {}.",
                gap.source,
                clock(gap.start),
                clock(gap.end),
                gap.reason
            ),
            rows: row.into_iter().collect(),
        });
        let action = if gap.source.starts_with("logs ") {
            format!(
                "Keep the logs of {} across restarts and evictions (ship them off the node): {length} from {} are missing",
                gap.source.trim_start_matches("logs "),
                clock(gap.start)
            )
        } else {
            format!(
                "Alert on missing samples of {} (absent_over_time), and record why it had none from {} to {}",
                gap.source,
                clock(gap.start),
                clock(gap.end)
            )
        };
        actions.push((action, "P3", row.into_iter().collect()));
    }
    let mut clocks_seen = BTreeSet::new();
    for skew in timeline.clock_skew.iter().filter(|skew| skew.flagged) {
        let offset = human_offset(skew.offset_seconds);
        let (factor, action, priority) = if skew.zone_error {
            (
                format!("{} writes local time without a zone ({offset}): {}.", skew.subject, skew.evidence),
                format!(
                    "Make {} write its times in UTC or with their offset (it writes local time {offset} without saying so)",
                    skew.subject
                ),
                "P3",
            )
        } else if clocks_seen.insert(skew.subject.as_str()) {
            // The strongest evidence of a subject comes first; one candidate per subject.
            (
                format!(
                    "The clock of {} runs {offset} off the reference ({}); its rows were corrected.",
                    skew.subject, skew.evidence
                ),
                format!(
                    "Synchronise the clock of {} with NTP and alert on its offset (measured {offset}, {})",
                    skew.subject, skew.evidence
                ),
                "P2",
            )
        } else {
            continue;
        };
        factors.push(Factor { group: FactorGroup::Systemic, text: factor, rows: Vec::new() });
        actions.push((action, priority, Vec::new()));
    }
    for coverage in &timeline.coverage {
        if matches!(coverage.status, crate::timeline::CoverageStatus::Read) || coverage.left_out.is_empty() {
            continue;
        }
        factors.push(Factor {
            group: FactorGroup::Systemic,
            text: format!(
                "{} was not fully read ({}): {}.",
                coverage.source,
                coverage.status.name(),
                coverage.left_out.join("; ")
            ),
            rows: Vec::new(),
        });
    }
    factors.sort_by_key(|factor| factor.group);
    let actions = actions
        .into_iter()
        .enumerate()
        .map(|(index, (action, priority, rows))| ActionItem {
            id: format!("AI-{:03}", index + 1),
            action,
            priority,
            rows,
        })
        .collect();
    (factors, actions, went_well)
}

fn interval_seconds(post_mortem: &PostMortem, name: &str) -> Option<i64> {
    post_mortem.response_times.iter().find(|interval| interval.name == name)?.seconds
}

/// Warning reasons that tell of restarts or saturation.
fn is_saturation(reason: &str) -> bool {
    matches!(reason, "BackOff" | "OOMKilling" | "Evicted" | "FailedScheduling" | "Unhealthy" | "CPUThrottlingHigh")
        || reason.contains("Throttl")
        || reason.contains("Pressure")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_duration(seconds: i64, expected: &str) {
        assert_eq!(duration_text(seconds), expected);
    }

    #[test]
    fn durations_read_as_post_mortems_write_them() {
        check_duration(52, "52s");
        check_duration(310, "5min 10s");
        check_duration(600, "10min");
        check_duration(95 * 60, "1h 35min");
        check_duration(3600, "1h");
        check_duration(-30, "-30s");
    }

    #[test]
    fn spans_name_their_bounds_in_utc() {
        let start: Instant = "2025-02-09T10:05:00Z".parse().unwrap();
        let end: Instant = "2025-02-09T11:40:00Z".parse().unwrap();
        assert_eq!(span_text(start, end), "1h 35min (10:05 – 11:40 UTC)");
        let next_day: Instant = "2025-02-10T00:10:00Z".parse().unwrap();
        assert_eq!(span_text(end, next_day), "12h 30min (2025-02-09 11:40 – 2025-02-10 00:10 UTC)");
    }

    #[test]
    fn identifiers_are_the_date_and_the_first_word() {
        let date: Instant = "2025-02-09T10:05:00Z".parse().unwrap();
        assert_eq!(identifier("HighErrorRate: API 5xx", Some(date)), "PM-2025-02-09-higherrorrate");
        assert_eq!(identifier("", None), "PM-incident");
    }

    #[test]
    fn rates_and_counters_are_told_from_gauges() {
        assert!(is_rate("sum by (pod) (rate(http_requests_total{code=~\"5..\"}[1m]))"));
        assert!(!is_rate("histogram_quantile(0.99, sum by (le) (rate(x_bucket[1m])))"));
        assert!(is_counter("http_requests_total{code=\"500\"}"));
        assert!(!is_counter("up"));
    }
}
