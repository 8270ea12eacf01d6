//! The incident: its window and title drawn from its signals. `draft` and the daemon share
//! these rules, so an incident's window is the same whichever door its evidence came in by.

pub mod grouping;

use jiff::SignedDuration;

use crate::record::{AlertRecord, AlertStatus, Instant, PageAction, Record, ResponderInput, RuleRecord, rule_of};
use crate::timeline::Window;

/// How far a window reaches around the signals.
#[derive(Clone, Copy, Debug)]
pub struct WindowRules {
    /// Before the first signal: the baseline.
    pub lead_in: SignedDuration,
    /// After the last resolution.
    pub tail: SignedDuration,
}

impl WindowRules {
    /// Where an incident's window starts: its first signal minus the lead-in.
    pub fn start(&self, first_signal: Instant) -> Instant {
        minus(first_signal, self.lead_in)
    }

    /// Where a resolved incident's window ends: its resolution (or a later signal, such as a
    /// note after it) plus the tail.
    pub fn end(&self, resolved: Instant, last_signal: Instant) -> Instant {
        plus(resolved.max(last_signal), self.tail)
    }

    /// The window of a stored incident, by the same rule as [`window`]: from its first signal
    /// minus the lead-in; to [`WindowRules::end`] once resolved (`resolved` is `Some`), or
    /// `None` while it is open (its window runs to "now", which the caller knows). The store
    /// keeps no signal time later than the resolution in event time (its `last_signal_at`
    /// counts arrivals), so the resolution is the last signal here.
    /// A resolution before the opening (an alert whose `endsAt` came before its `startsAt`,
    /// a clock) counts as the opening, so the window never ends before it starts.
    pub fn span(&self, opened_at: Instant, resolved: Option<Instant>) -> (Instant, Option<Instant>) {
        (self.start(opened_at), resolved.map(|resolved| self.end(resolved, opened_at)))
    }
}

/// Why an incident has no window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("{start} is not before {end}")]
    Backwards { start: Instant, end: Instant },
    #[error("no timestamps in the inputs and no --window")]
    NoTimes,
}

/// The window of an incident: `explicit` when given; else the earliest signal minus the
/// lead-in to the latest resolution plus the tail (unresolved: up to the end of
/// `data_span`, the daemon's "now", at least the tail past the last signal); else the span
/// of the data. The error says why there is none.
pub fn window(
    records: &[Record],
    rules: &WindowRules,
    explicit: Option<(Instant, Instant)>,
    data_span: Option<(Instant, Instant)>,
) -> Result<Window, WindowError> {
    if let Some((start, end)) = explicit {
        if end <= start {
            return Err(WindowError::Backwards { start, end });
        }
        let baseline_end = signal_span(records).map_or_else(
            || plus(start, rules.lead_in).min(end),
            |(first, _)| onset(first, records, rules).clamp(start, end),
        );
        return Ok(Window { start, end, baseline_end });
    }
    if let Some((first_signal, last_signal)) = signal_span(records) {
        let start = rules.start(first_signal);
        let end = match resolution(records) {
            Some(resolved) => rules.end(resolved, last_signal),
            None => plus(last_signal, rules.tail).max(data_span.map_or(last_signal, |(_, last)| last)),
        };
        let baseline_end = onset(first_signal, records, rules).clamp(start, end);
        return Ok(Window { start, end, baseline_end });
    }
    let (start, end) = data_span.ok_or(WindowError::NoTimes)?;
    let end = end.max(plus(start, SignedDuration::from_secs(1)));
    Ok(Window { start, end, baseline_end: unsignalled_baseline_end(records, rules, start, end) })
}

/// Where the baseline ends in a window drawn from the data alone: at the lead-in, but no
/// later than the first change or warning (a rollout, a notable event) and no later than a
/// quarter of the span, so a short export is not all baseline and shows what changed in it.
fn unsignalled_baseline_end(records: &[Record], rules: &WindowRules, start: Instant, end: Instant) -> Instant {
    let first_change = records
        .iter()
        .filter_map(|record| match record {
            Record::Rollout(rollout) => Some(rollout.time),
            Record::K8sEvent(event) if event.is_notable() => Some(event.first_time.unwrap_or(event.time)),
            _ => None,
        })
        .filter(|time| *time >= start)
        .min();
    let quarter = start.checked_add(end.duration_since(start) / 4).unwrap_or(end);
    let mut baseline_end = plus(start, rules.lead_in).min(quarter);
    if let Some(change) = first_change {
        baseline_end = baseline_end.min(change);
    }
    baseline_end.clamp(start, end)
}

/// Where the baseline ends before the first signal: alerts fire after their `for:` and
/// rate windows, so the last part of the lead-in (half of it, at most 5 min) belongs to the
/// incident; where an alert's rule is known, that part is counted back from when its
/// condition began ([`condition_start`]) rather than from when it fired.
fn onset(first_signal: Instant, records: &[Record], rules: &WindowRules) -> Instant {
    let first = condition_start(records).map_or(first_signal, |condition| condition.min(first_signal));
    minus(first, (rules.lead_in / 2).min(SignedDuration::from_mins(5)))
}

/// When the earliest alert's condition began: its `startsAt` (when it fired) minus its
/// rule's `for:`, for alerts whose rule the evidence holds (`prometheus/rules.json`).
pub fn condition_start(records: &[Record]) -> Option<Instant> {
    let rules: Vec<&RuleRecord> = records.iter().filter_map(Record::as_rule).collect();
    if rules.is_empty() {
        return None;
    }
    records
        .iter()
        .filter_map(Record::as_alert)
        .filter_map(|alert| alert.starts_at.checked_sub(rule_of(alert, &rules)?.duration).ok())
        .min()
}

fn plus(instant: Instant, duration: SignedDuration) -> Instant {
    instant.checked_add(duration).unwrap_or(instant)
}

fn minus(instant: Instant, duration: SignedDuration) -> Instant {
    instant.checked_sub(duration).unwrap_or(instant)
}

/// Earliest and latest alert start or page.
pub fn signal_span(records: &[Record]) -> Option<(Instant, Instant)> {
    let times = records.iter().filter_map(|record| match record {
        Record::Alert(alert) => Some(alert.starts_at),
        Record::Page(page) => Some(page.time),
        _ => None,
    });
    times.fold(None, |span, time| {
        Some(span.map_or((time, time), |(first, last): (Instant, Instant)| (first.min(time), last.max(time))))
    })
}

/// The latest resolution: of a resolved alert, a page saying so, or a responder's manual
/// resolve (at its own time).
pub fn resolution(records: &[Record]) -> Option<Instant> {
    let mut latest: Option<Instant> = None;
    for record in records {
        let resolved = match record {
            Record::Alert(alert) if alert.status == AlertStatus::Resolved => alert.ends_at,
            Record::Page(page) if page.action == PageAction::Resolved => Some(page.time),
            Record::Responder(input) if matches!(input.input, ResponderInput::Resolve { .. }) => Some(input.at),
            _ => None,
        };
        latest = latest.max(resolved);
    }
    latest
}

/// The title alerts give an incident: the first alert's (earliest start, then name)
/// `Name: summary` (or its description), else its name. The daemon stores this title when
/// a notification opens an incident, and the timeline's heading is the same.
pub fn alert_title<'a>(alerts: impl IntoIterator<Item = &'a AlertRecord>) -> Option<String> {
    let first =
        alerts.into_iter().min_by(|left, right| (left.starts_at, &left.name).cmp(&(right.starts_at, &right.name)))?;
    Some(match first.annotations.get("summary").or_else(|| first.annotations.get("description")) {
        Some(summary) => format!("{}: {}", first.name, summary.trim()),
        None => first.name.clone(),
    })
}

/// The title from the signals: a responder's latest correction, else the first alert
/// (`Name: summary`), else the page's incident, else the window's start.
pub fn title(records: &[Record], window: &Window) -> String {
    if let Some(title) = corrected(records, |title, _| title) {
        return title.to_owned();
    }
    if let Some(title) = alert_title(records.iter().filter_map(Record::as_alert)) {
        return title;
    }
    let page_title = records.iter().filter_map(Record::as_page).find_map(|page| page.incident_title.clone());
    page_title
        .filter(|title| !title.is_empty())
        .unwrap_or_else(|| format!("Incident of {}", window.start.strftime("%F %H:%M UTC")))
}

/// The latest correction of a field (`pick` chooses title or severity) responders made:
/// the one with the latest time, the later in `records` among equal times.
pub fn corrected<'a>(
    records: &'a [Record],
    pick: impl Fn(Option<&'a str>, Option<&'a str>) -> Option<&'a str>,
) -> Option<&'a str> {
    let mut latest: Option<(Instant, &str)> = None;
    for record in records {
        if let Record::Responder(input) = record
            && let ResponderInput::Correction { title, severity } = &input.input
            && let Some(value) = pick(title.as_deref(), severity.as_deref())
            && latest.is_none_or(|(at, _)| input.at >= at)
        {
            latest = Some((input.at, value));
        }
    }
    latest.map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RuleRecord;

    fn alert(starts_at: &str) -> Record {
        Record::Alert(AlertRecord {
            name: "HighErrorRate".to_owned(),
            status: AlertStatus::Firing,
            labels: [("alertname".to_owned(), "HighErrorRate".to_owned())].into_iter().collect(),
            annotations: Default::default(),
            starts_at: starts_at.parse().unwrap(),
            ends_at: None,
            fingerprint: None,
            generator_url: None,
        })
    }

    fn rule(for_mins: i64) -> Record {
        Record::Rule(RuleRecord {
            name: "HighErrorRate".to_owned(),
            query: "errors > 0.05".to_owned(),
            duration: SignedDuration::from_mins(for_mins),
            labels: Default::default(),
            annotations: Default::default(),
            group: "g".to_owned(),
            file: "f".to_owned(),
        })
    }

    #[track_caller]
    fn check_baseline(records: &[Record], explicit: Option<(&str, &str)>, expected: (&str, &str)) {
        let rules = WindowRules { lead_in: SignedDuration::from_mins(20), tail: SignedDuration::from_mins(10) };
        let explicit = explicit.map(|(start, end)| (start.parse().unwrap(), end.parse().unwrap()));
        let window = window(records, &rules, explicit, None).unwrap();
        assert_eq!((window.start.to_string(), window.baseline_end.to_string()), (expected.0.into(), expected.1.into()));
    }

    #[test]
    fn a_window_never_ends_before_it_starts() {
        let rules = WindowRules { lead_in: SignedDuration::from_mins(20), tail: SignedDuration::from_mins(10) };
        let at = |text: &str| -> Instant { text.parse().unwrap() };
        // A stored incident resolved (by its alerts' `endsAt`) before it opened.
        let (start, end) = rules.span(at("2025-02-09T10:30:00Z"), Some(at("2025-02-09T08:00:00Z")));
        assert_eq!((start, end), (at("2025-02-09T10:10:00Z"), Some(at("2025-02-09T10:40:00Z"))));
        // A resolved alert whose `endsAt` is before its `startsAt`, drafted.
        let Record::Alert(mut resolved) = alert("2025-02-09T10:30:00Z") else { unreachable!() };
        resolved.status = AlertStatus::Resolved;
        resolved.ends_at = Some(at("2025-02-09T08:00:00Z"));
        let window = window(&[Record::Alert(resolved)], &rules, None, None).unwrap();
        assert!(window.start <= window.baseline_end && window.baseline_end <= window.end, "{window:?}");
        assert_eq!(window.end, at("2025-02-09T10:40:00Z"));
    }

    #[test]
    fn the_baseline_ends_before_the_condition_began_when_the_rule_is_known() {
        let fired = alert("2025-02-09T10:30:00Z");
        // Without the rule: 5 min before the alert fired.
        check_baseline(std::slice::from_ref(&fired), None, ("2025-02-09T10:10:00Z", "2025-02-09T10:25:00Z"));
        // `for: 5m`: the condition began at 10:25, so the baseline ends 5 min before that;
        // the window still starts a lead-in before the alert (what the daemon collected).
        check_baseline(&[fired.clone(), rule(5)], None, ("2025-02-09T10:10:00Z", "2025-02-09T10:20:00Z"));
        // A `for:` longer than the lead-in leaves no baseline rather than one inside the incident.
        check_baseline(&[fired.clone(), rule(30)], None, ("2025-02-09T10:10:00Z", "2025-02-09T10:10:00Z"));
        // An explicit window (an open incident) moves its baseline end the same way.
        check_baseline(
            &[fired, rule(5)],
            Some(("2025-02-09T10:00:00Z", "2025-02-09T11:00:00Z")),
            ("2025-02-09T10:00:00Z", "2025-02-09T10:20:00Z"),
        );
    }

    #[test]
    fn a_responders_latest_correction_titles_the_incident_and_a_manual_resolve_counts() {
        use crate::record::{ResponderInput, ResponderRecord};
        let responder = |at: &str, input: ResponderInput| {
            Record::Responder(ResponderRecord { at: at.parse().unwrap(), author: "A".to_owned(), input })
        };
        let correction = |at: &str, title: Option<&str>, severity: Option<&str>| {
            responder(
                at,
                ResponderInput::Correction { title: title.map(str::to_owned), severity: severity.map(str::to_owned) },
            )
        };
        let window = Window {
            start: "2025-02-09T09:46:15Z".parse().unwrap(),
            end: "2025-02-09T10:46:00Z".parse().unwrap(),
            baseline_end: "2025-02-09T10:00:00Z".parse().unwrap(),
        };
        let mut records = vec![alert("2025-02-09T10:06:15Z")];
        assert_eq!(title(&records, &window), "HighErrorRate");
        records.push(correction("2025-02-09T10:30:00Z", Some("Checkout down"), None));
        // A later correction of the severity only leaves the title corrected before.
        records.push(correction("2025-02-09T10:31:00Z", None, Some("critical")));
        // An earlier one, sent later, does not win over the latest.
        records.push(correction("2025-02-09T10:10:00Z", Some("Old name"), None));
        assert_eq!(title(&records, &window), "Checkout down");
        assert_eq!(corrected(&records, |_, severity| severity), Some("critical"));
        assert_eq!(resolution(&records), None);
        records.push(responder("2025-02-09T10:40:00Z", ResponderInput::Resolve { note: None }));
        assert_eq!(resolution(&records), Some("2025-02-09T10:40:00Z".parse().unwrap()));
    }
}
