//! How notifications and pages become incidents, as pure decisions over an incident's
//! state: which incident a notification belongs to (its group's current episode, a page-only
//! incident it takes over, or a new one), what it changes (title, severity, span, status,
//! labels), and where a page links. The store loads the states these functions need, runs
//! them inside its write transaction and persists what they decided; it decides nothing.
//!
//! Status follows each event's own time, never arrival order: an incident is resolved when
//! its latest resolution (alerts' `endsAt`, a page's `occurred_at`) is no earlier than its
//! latest firing (alerts' `startsAt`, a page triggered or reopened), so senders' retries and
//! reorderings end in the state the time-ordered sequence would (`IncidentState::fire`,
//! `IncidentState::resolve`; permutation tests below).

use std::collections::BTreeMap;

use jiff::SignedDuration;
use sha2::{Digest, Sha256};

use crate::record::{AlertRecord, AlertStatus, Instant, PageAction};

/// Whether an incident is still going on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IncidentStatus {
    Open,
    Resolved,
}

impl IncidentStatus {
    /// The word the store and the API use: `open`, `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Resolved => "resolved",
        }
    }

    /// The status a word names, if any.
    pub fn from_word(word: &str) -> Option<IncidentStatus> {
        match word {
            "open" => Some(IncidentStatus::Open),
            "resolved" => Some(IncidentStatus::Resolved),
            _ => None,
        }
    }
}

impl std::fmt::Display for IncidentStatus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl serde::Serialize for IncidentStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Where a stored webhook came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WebhookSource {
    Alertmanager,
    PagerDuty,
}

impl WebhookSource {
    /// The word the store, the API and metric labels use: `alertmanager`, `pagerduty`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookSource::Alertmanager => "alertmanager",
            WebhookSource::PagerDuty => "pagerduty",
        }
    }

    /// The source a word names, if any.
    pub fn from_word(word: &str) -> Option<WebhookSource> {
        match word {
            "alertmanager" => Some(WebhookSource::Alertmanager),
            "pagerduty" => Some(WebhookSource::PagerDuty),
            _ => None,
        }
    }
}

impl std::fmt::Display for WebhookSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl serde::Serialize for WebhookSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One Alertmanager notification, parsed, to be stored.
#[derive(Clone, Debug)]
pub struct AlertmanagerIntake {
    /// groupKey + status + sorted (fingerprint, status, startsAt, endsAt), hashed.
    pub dedup_key: String,
    pub received_at: Instant,
    pub body: Vec<u8>,
    pub group_key: String,
    pub status: AlertStatus,
    /// The earliest `startsAt` of its alerts.
    pub starts_at: Instant,
    /// The latest `startsAt` of its firing alerts (of all its alerts when none fires): when
    /// the newest of them fired, the time a firing notification says the group fired.
    pub fired_at: Instant,
    /// The latest `endsAt` when the group is resolved.
    pub ends_at: Option<Instant>,
    pub title: String,
    pub severity: Option<String>,
    pub truncated_alerts: u64,
    /// The group's `commonLabels`: what PagerDuty fallback links match against.
    pub labels: BTreeMap<String, String>,
}

impl AlertmanagerIntake {
    /// The notification's own time: when its alerts fired (firing), or when the last of them
    /// ended (resolved; its arrival when no alert says).
    pub fn event_time(&self) -> Instant {
        match self.status {
            AlertStatus::Firing => self.fired_at,
            AlertStatus::Resolved => self.ends_at.unwrap_or(self.received_at),
        }
    }
}

/// One PagerDuty v3 webhook, parsed, to be stored.
#[derive(Clone, Debug)]
pub struct PagerDutyIntake {
    /// `X-Webhook-Id`, else `event.id`.
    pub dedup_key: String,
    pub received_at: Instant,
    pub body: Vec<u8>,
    pub occurred_at: Instant,
    /// None for events that are not about an incident (`pagey.ping`).
    pub action: Option<PageAction>,
    pub pd_incident_id: Option<String>,
    /// `incident_key`: Alertmanager's PagerDuty integration sends sha256(groupKey) hex.
    pub incident_key: Option<String>,
    pub title: Option<String>,
    /// The fallback for a page that neither its PagerDuty incident id nor its
    /// `incident_key` links to an incident; `None`: no rule names the page's service.
    pub link: Option<PageLink>,
}

/// A fallback link of a page to an Alertmanager incident (`[[webhooks.pagerduty.links]]`
/// rules of the page's service): the incident must carry every label of one of the sets,
/// and the page's time must fall within the incident's span widened by `within`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageLink {
    pub label_sets: Vec<BTreeMap<String, String>>,
    pub within: SignedDuration,
}

impl PageLink {
    /// The labels of an incident satisfy one of the sets.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.label_sets.iter().any(|set| set.iter().all(|(name, value)| labels.get(name) == Some(value)))
    }

    /// An Alertmanager incident a page at `occurred` may join: it carries one of the label
    /// sets, opened no later than `within` after the page, and is open or resolved no earlier
    /// than `within` before it.
    pub fn accepts(&self, incident: &IncidentState, occurred: Instant) -> bool {
        incident.group_key.is_some()
            && incident.opened_at <= plus(occurred, self.within)
            && (incident.status == IncidentStatus::Open
                || incident.resolved_at.is_some_and(|resolved| resolved >= minus(occurred, self.within)))
            && self.matches(&incident.labels)
    }
}

/// Where to look for a page's incident, in order: the incident of an earlier event of its
/// PagerDuty incident; the newest incident carrying its `incident_key` (the sha256 of an
/// Alertmanager group key, which every episode of that group shares, so a late event of an
/// old page must not join the group's newest episode: the PagerDuty incident id comes
/// first); a fallback rule of its service; else an incident of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageLinkStep<'a> {
    PagerDutyIncident(&'a str),
    IncidentKey(&'a str),
    Rule(&'a PageLink),
}

/// The steps of [`PageLinkStep`] that apply to a page, in the order they are tried.
pub fn page_link_steps(page: &PagerDutyIntake) -> Vec<PageLinkStep<'_>> {
    let mut steps = Vec::new();
    if let Some(id) = &page.pd_incident_id {
        steps.push(PageLinkStep::PagerDutyIncident(id));
    }
    if let Some(key) = &page.incident_key {
        steps.push(PageLinkStep::IncidentKey(key));
    }
    if let Some(link) = &page.link {
        steps.push(PageLinkStep::Rule(link));
    }
    steps
}

/// Severity order: the highest an incident's alerts had wins.
pub fn severity_rank(severity: Option<&str>) -> u8 {
    match severity.map(str::to_ascii_lowercase).as_deref() {
        Some("critical" | "page" | "p1") => 5,
        Some("error" | "high" | "p2") => 4,
        Some("warning" | "warn" | "medium" | "p3") => 3,
        Some("info" | "low" | "p4" | "p5") => 2,
        Some(_) => 1,
        None => 0,
    }
}

/// The key of a group as Alertmanager's PagerDuty integration sends it (`dedup_key`, which
/// PagerDuty calls `incident_key`): the SHA-256 hex of the group key.
pub fn group_key_hash(group_key: &str) -> String {
    hex::encode(Sha256::digest(group_key.as_bytes()))
}

/// An incident as grouping sees it; the store maps its rows to and from this.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentState {
    /// The Alertmanager group; `None` for a page-only incident.
    pub group_key: Option<String>,
    /// [`group_key_hash`] of the group, or a page-only incident's `incident_key`.
    pub pd_incident_key: Option<String>,
    pub pd_incident_id: Option<String>,
    pub title: String,
    pub status: IncidentStatus,
    pub severity: Option<String>,
    pub opened_at: Instant,
    pub last_signal: Instant,
    /// Set exactly when the status is resolved: the latest resolution's own time.
    pub resolved_at: Option<Instant>,
    /// The latest time it fired (an alert's `startsAt`, a page triggered or reopened), in
    /// event time; `None` for a page-only incident no trigger reached yet.
    pub last_fired_at: Option<Instant>,
    pub truncated_alerts: u64,
    /// The group's `commonLabels` of its latest notification in event time (empty for
    /// page-only incidents).
    pub labels: BTreeMap<String, String>,
}

/// Which of a group's episodes (its incidents; any order) a notification belongs to:
/// `Some(index)` of one, or `None` for a new episode. By the time its alerts fired: the
/// episode that opened last no later than that (the earliest when none did), so a late
/// notification of an earlier episode goes back to it rather than into the newest. The
/// newest episode takes it unless it resolved and stayed quiet for `quiet_period` before
/// ([`IncidentState::takes`]); an earlier one that does not take it hands it to the episode
/// after it (the notification is then that episode's earlier start).
pub fn episode_for(
    episodes: &[&IncidentState],
    intake: &AlertmanagerIntake,
    quiet_period: SignedDuration,
) -> Option<usize> {
    let mut order: Vec<usize> = (0..episodes.len()).collect();
    order.sort_by_key(|index| (episodes[*index].opened_at, *index));
    let position = order.iter().rposition(|index| episodes[*index].opened_at <= intake.fired_at).unwrap_or(0);
    let candidate = *order.get(position)?;
    if episodes[candidate].takes(intake, quiet_period) { Some(candidate) } else { order.get(position + 1).copied() }
}

impl IncidentState {
    /// A notification of `intake` belongs to this incident unless the incident resolved
    /// and stayed quiet for `quiet_period` before the group fired again (a new episode).
    /// Its time is when its alerts fired ([`AlertmanagerIntake::fired_at`]): a late firing
    /// older than the resolution is not a new episode (and does not reopen this one).
    pub fn takes(&self, intake: &AlertmanagerIntake, quiet_period: SignedDuration) -> bool {
        let new_episode = self.status == IncidentStatus::Resolved
            && intake.status == AlertStatus::Firing
            && self.resolved_at.is_some_and(|resolved| {
                intake.fired_at.as_millisecond() - resolved.as_millisecond() >= quiet_period.as_millis() as i64
            });
        !new_episode
    }

    /// An event at `at` that says the incident is going on (alerts firing since `at`, a page
    /// triggered or reopened then): it reopens a resolved incident only when it is later
    /// than the resolution; an older one arriving late changes no status.
    pub fn fire(&mut self, at: Instant) {
        self.last_fired_at = self.last_fired_at.max(Some(at));
        if self.status == IncidentStatus::Resolved && self.resolved_at.is_none_or(|resolved| at > resolved) {
            self.status = IncidentStatus::Open;
            self.resolved_at = None;
        }
    }

    /// An event at `at` that says the incident is over (its alerts ended, a page resolved, a
    /// responder resolved it by hand): it resolves unless the incident fired again after
    /// `at`; the resolved time is the latest resolution.
    pub fn resolve(&mut self, at: Instant) {
        if self.status == IncidentStatus::Resolved {
            self.resolved_at = self.resolved_at.max(Some(at));
        } else if self.last_fired_at.is_none_or(|fired| at >= fired) {
            self.status = IncidentStatus::Resolved;
            self.resolved_at = Some(at);
        }
    }

    /// The latest event time it has seen: its latest firing or resolution.
    fn latest_event(&self) -> Option<Instant> {
        self.last_fired_at.max(self.resolved_at)
    }

    /// The incident a notification opens when its group has none that [`Self::takes`] it.
    pub fn opened_by(intake: &AlertmanagerIntake) -> IncidentState {
        IncidentState {
            group_key: Some(intake.group_key.clone()),
            pd_incident_key: Some(group_key_hash(&intake.group_key)),
            pd_incident_id: None,
            title: intake.title.clone(),
            status: IncidentStatus::Open,
            severity: intake.severity.clone(),
            opened_at: intake.starts_at,
            last_signal: intake.received_at,
            resolved_at: None,
            last_fired_at: Some(intake.fired_at),
            truncated_alerts: 0,
            labels: BTreeMap::new(),
        }
    }

    /// A page-only incident (opened by a page of Alertmanager's PagerDuty integration before
    /// the notification came) that a notification of its group takes over.
    pub fn is_page_only_of(&self, intake: &AlertmanagerIntake) -> bool {
        self.group_key.is_none()
            && self.status == IncidentStatus::Open
            && self.pd_incident_key.as_deref() == Some(group_key_hash(&intake.group_key).as_str())
    }

    /// The notification takes this page-only incident over: its group, title and severity.
    pub fn take_over(&mut self, intake: &AlertmanagerIntake) {
        self.group_key = Some(intake.group_key.clone());
        self.title = intake.title.clone();
        self.severity = intake.severity.clone();
    }

    /// What a notification changes: title (when empty), the highest severity, the span,
    /// the truncation count, the status in event time (its alerts fired at `fired_at`, and a
    /// resolved one ended at `ends_at`), and the labels (when no later event was seen).
    pub fn apply(&mut self, intake: &AlertmanagerIntake) {
        if self.latest_event().is_none_or(|latest| intake.event_time() >= latest) {
            self.labels = intake.labels.clone();
        }
        if self.title.is_empty() {
            self.title = intake.title.clone();
        }
        if severity_rank(intake.severity.as_deref()) > severity_rank(self.severity.as_deref()) {
            self.severity = intake.severity.clone();
        }
        self.opened_at = self.opened_at.min(intake.starts_at);
        self.last_signal = [Some(self.last_signal), Some(intake.received_at), Some(intake.starts_at), intake.ends_at]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.last_signal);
        self.truncated_alerts = self.truncated_alerts.max(intake.truncated_alerts);
        self.fire(intake.fired_at);
        if intake.status == AlertStatus::Resolved {
            self.resolve(intake.event_time());
        }
    }

    /// The incident a page opens when nothing links it: titled by its PagerDuty incident.
    pub fn opened_by_page(page: &PagerDutyIntake) -> IncidentState {
        let title = page
            .title
            .clone()
            .filter(|title| !title.is_empty())
            .unwrap_or_else(|| format!("PagerDuty incident {}", page.pd_incident_id.as_deref().unwrap_or("?")));
        IncidentState {
            group_key: None,
            pd_incident_key: page.incident_key.clone(),
            pd_incident_id: page.pd_incident_id.clone(),
            title,
            status: IncidentStatus::Open,
            severity: None,
            opened_at: page.occurred_at,
            last_signal: page.occurred_at,
            resolved_at: None,
            // Only a trigger fires: a page-only incident opened by a late acknowledgement
            // still resolves at any resolution, as it would had the events come in order.
            last_fired_at: None,
            truncated_alerts: 0,
            labels: BTreeMap::new(),
        }
    }

    /// What a page changes: its PagerDuty incident (the first one stays), the span, and the
    /// status when the page resolves, triggers or reopens, at its `occurred_at`.
    pub fn apply_page(&mut self, page: &PagerDutyIntake) {
        if self.pd_incident_id.is_none() {
            self.pd_incident_id = page.pd_incident_id.clone();
        }
        self.last_signal = self.last_signal.max(page.occurred_at);
        self.opened_at = self.opened_at.min(page.occurred_at);
        match page.action {
            Some(PageAction::Resolved) => self.resolve(page.occurred_at),
            Some(PageAction::Triggered | PageAction::Reopened) => self.fire(page.occurred_at),
            _ => {}
        }
    }
}

/// The status of incidents merged into one (a responder's merge): open while any part is
/// open; else resolved at the latest part's resolution.
pub fn merged_status(parts: &[(IncidentStatus, Option<Instant>)]) -> (IncidentStatus, Option<Instant>) {
    if parts.iter().any(|(status, _)| *status == IncidentStatus::Open) {
        return (IncidentStatus::Open, None);
    }
    (IncidentStatus::Resolved, parts.iter().filter_map(|(_, resolved)| *resolved).max())
}

fn plus(instant: Instant, duration: SignedDuration) -> Instant {
    instant.checked_add(duration).unwrap_or(instant)
}

fn minus(instant: Instant, duration: SignedDuration) -> Instant {
    instant.checked_sub(duration).unwrap_or(instant)
}

/// What reconciliation made a stored notification from (the `reconciled` mark of its row
/// and the note its timeline shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reconciled {
    /// Firing alerts no webhook told of, found by polling Alertmanager.
    Missed,
    /// Alerts gone from every Alertmanager that answered the poll: resolved at the poll's time.
    Gone,
    /// A PagerDuty REST log entry no webhook brought.
    Rest,
}

impl Reconciled {
    /// The word the store and the notification body use: `missed`, `gone`, `rest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reconciled::Missed => "missed",
            Reconciled::Gone => "gone",
            Reconciled::Rest => "rest",
        }
    }
}

/// One alert of a polled group: the alert as Alertmanager's API lists it, and whether it is
/// `active` (neither silenced nor inhibited: Alertmanager notifies it).
#[derive(Clone, Debug, PartialEq)]
pub struct PolledAlert {
    pub alert: AlertRecord,
    pub active: bool,
}

/// One alert group as `GET /api/v2/alerts/groups` lists it (merged over HA peers): its
/// receiver, its group labels (the values of the route's `group_by`) and its alerts.
#[derive(Clone, Debug, PartialEq)]
pub struct PolledGroup {
    pub receiver: String,
    pub labels: BTreeMap<String, String>,
    pub alerts: Vec<PolledAlert>,
}

/// What one poll of Alertmanager saw: the groups of every peer that answered (`answered`,
/// never empty when it is stored), polled at `at`.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertmanagerPoll {
    pub at: Instant,
    pub answered: Vec<String>,
    pub groups: Vec<PolledGroup>,
    /// Alerts that started less than this before the poll are left to their webhook
    /// (Alertmanager waits `group_wait` before the first notification of a group).
    pub settle: SignedDuration,
}

impl AlertmanagerPoll {
    /// The occurrence `(fingerprint, starts_at)` is still listed by a peer: the same
    /// fingerprint starting then or earlier (Alertmanager keeps the earliest start).
    pub fn lists(&self, fingerprint: &str, starts_at: Instant) -> bool {
        self.groups.iter().flat_map(|group| &group.alerts).any(|polled| {
            polled.alert.fingerprint.as_deref() == Some(fingerprint) && polled.alert.starts_at <= starts_at
        })
    }
}

/// A stored Alertmanager notification of an incident, as reconciliation reads it back.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredNotification {
    pub incident_id: i64,
    pub group_key: String,
    /// The receiver's name as the API names it (the webhook's regex escaping removed).
    pub receiver: String,
    pub group_labels: BTreeMap<String, String>,
    pub received_at: Instant,
    pub alerts: Vec<AlertRecord>,
}

/// Where provisional group keys begin: a real `groupKey` begins with its route's matchers
/// (`{}` for the root route), so none is mistaken for one.
const PROVISIONAL_PREFIX: &str = "reconciled:";

/// The group key reconciliation gives a group it cannot name: the alerts API returns each
/// group's receiver and labels but not its `groupKey`, whose route part (the matchers of the
/// route that made it) only the webhook carries. A webhook holding one of the incident's
/// alert occurrences later adopts the incident with the real key.
pub fn provisional_group_key(receiver: &str, labels: &BTreeMap<String, String>) -> String {
    format!("{PROVISIONAL_PREFIX}{receiver}:{}", label_set(labels))
}

/// A group key made by [`provisional_group_key`].
pub fn is_provisional_group_key(group_key: &str) -> bool {
    group_key.starts_with(PROVISIONAL_PREFIX)
}

/// A label set as Alertmanager writes one: `{a="b", c="d"}`, names sorted.
fn label_set(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(name, value)| format!("{name}={value:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// A receiver name as a webhook body holds it: Alertmanager escapes it for a regex
/// (Go's `regexp.QuoteMeta`: `team.pager` → `team\.pager`).
pub fn escape_receiver(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for character in name.chars() {
        if r"\.+*?()|[]{}^$".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// The receiver name a webhook's regex-escaped `receiver` stands for.
pub fn unescape_receiver(escaped: &str) -> String {
    let mut name = String::with_capacity(escaped.len());
    let mut characters = escaped.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => name.extend(characters.next()),
            other => name.push(other),
        }
    }
    name
}

/// The notifications one poll of Alertmanager calls for, to be stored as webhooks are
/// (grouped by [`episode_for`], applied in event time):
/// - per polled group of a followed receiver (`receivers`; none: all), one firing
///   notification ([`Reconciled::Missed`]) of its active alerts that no stored notification
///   holds (matched by the occurrence key, fingerprint + `startsAt`, a start Alertmanager
///   moved earlier tolerated while the stored one fires) and that started at
///   least `settle` before the poll. Its group key is that
///   of the incident holding another alert of the group, else the one stored webhooks of the
///   same receiver and group labels carried, else [`provisional_group_key`];
/// - per open incident (`open`) whose firing alerts, as notifications received before the
///   poll left them, are all gone from every peer that answered, one resolved notification
///   ([`Reconciled::Gone`]) ending them at the poll's time: when they really ended is not
///   known, only that they had by then.
pub fn reconcile_alertmanager(
    poll: &AlertmanagerPoll,
    receivers: &[String],
    notifications: &[StoredNotification],
    open: &[(i64, String)],
) -> Vec<AlertmanagerIntake> {
    // Each stored occurrence (fingerprint, start): its group key and whether it was resolved.
    let mut holders: BTreeMap<(&str, Instant), (&str, bool)> = BTreeMap::new();
    let mut learned: BTreeMap<(&str, &BTreeMap<String, String>), &str> = BTreeMap::new();
    for notification in notifications {
        for alert in &notification.alerts {
            if let Some(fingerprint) = &alert.fingerprint {
                let holder = holders.entry((fingerprint, alert.starts_at)).or_insert((&notification.group_key, false));
                holder.1 |= alert.status == AlertStatus::Resolved;
            }
        }
        if !is_provisional_group_key(&notification.group_key) {
            learned.insert((&notification.receiver, &notification.group_labels), &notification.group_key);
        }
    }
    // The group key of the stored occurrence a polled alert is: the same start, or a later
    // one still firing (Alertmanager moves a start earlier when a redundant Prometheus
    // reports it so).
    let holder = |alert: &AlertRecord| {
        let fingerprint = alert.fingerprint.as_deref()?;
        holders.get(&(fingerprint, alert.starts_at)).map(|(group_key, _)| *group_key).or_else(|| {
            holders
                .range((fingerprint, alert.starts_at)..)
                .take_while(|((held, _), _)| *held == fingerprint)
                .find(|(_, (_, resolved))| !resolved)
                .map(|(_, (group_key, _))| *group_key)
        })
    };
    let mut intakes = Vec::new();
    for group in &poll.groups {
        if !receivers.is_empty() && !receivers.contains(&group.receiver) {
            continue;
        }
        let missed: Vec<AlertRecord> = group
            .alerts
            .iter()
            .filter(|polled| {
                polled.active
                    && polled.alert.fingerprint.is_some()
                    && polled.alert.starts_at <= minus(poll.at, poll.settle)
                    && holder(&polled.alert).is_none()
            })
            .map(|polled| AlertRecord { status: AlertStatus::Firing, ends_at: None, ..polled.alert.clone() })
            .collect();
        if missed.is_empty() {
            continue;
        }
        let group_key = group
            .alerts
            .iter()
            .find_map(|polled| holder(&polled.alert))
            .or_else(|| learned.get(&(group.receiver.as_str(), &group.labels)).copied())
            .map_or_else(|| provisional_group_key(&group.receiver, &group.labels), str::to_owned);
        intakes.push(reconciled_notification(
            &group_key,
            &group.receiver,
            &group.labels,
            missed,
            Reconciled::Missed,
            poll,
        ));
    }
    for (incident_id, group_key) in open {
        let theirs: Vec<&StoredNotification> = notifications
            .iter()
            .filter(|notification| notification.incident_id == *incident_id && notification.received_at <= poll.at)
            .collect();
        // Per occurrence, its latest word: resolved once any notification resolved it.
        let mut occurrences: BTreeMap<(String, Instant), (bool, &AlertRecord)> = BTreeMap::new();
        for alert in theirs.iter().flat_map(|notification| &notification.alerts) {
            let Some(fingerprint) = &alert.fingerprint else { continue };
            let resolved = alert.status == AlertStatus::Resolved;
            let entry = occurrences.entry((fingerprint.clone(), alert.starts_at)).or_insert((resolved, alert));
            entry.0 |= resolved;
        }
        let firing: Vec<(&(String, Instant), &AlertRecord)> =
            occurrences.iter().filter(|(_, (resolved, _))| !resolved).map(|(key, (_, alert))| (key, *alert)).collect();
        if firing.is_empty() || firing.iter().any(|((fingerprint, starts_at), _)| poll.lists(fingerprint, *starts_at)) {
            continue;
        }
        let Some(latest) = theirs.iter().max_by_key(|notification| notification.received_at) else { continue };
        let gone: Vec<AlertRecord> = firing
            .iter()
            .map(|(_, alert)| AlertRecord { status: AlertStatus::Resolved, ends_at: Some(poll.at), ..(*alert).clone() })
            .collect();
        intakes.push(reconciled_notification(
            group_key,
            &latest.receiver,
            &latest.group_labels,
            gone,
            Reconciled::Gone,
            poll,
        ));
    }
    intakes
}

/// A notification reconciliation stores: Alertmanager's webhook body (version 4) of
/// `alerts`, as the webhook would have carried it, plus `reconciled` (why, when, from which
/// peers), which its timeline shows as a note.
fn reconciled_notification(
    group_key: &str,
    receiver: &str,
    group_labels: &BTreeMap<String, String>,
    alerts: Vec<AlertRecord>,
    why: Reconciled,
    poll: &AlertmanagerPoll,
) -> AlertmanagerIntake {
    let status = if alerts.iter().any(|alert| alert.status == AlertStatus::Firing) {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    };
    let word = |status: AlertStatus| if status == AlertStatus::Firing { "firing" } else { "resolved" };
    let common = |maps: &mut dyn Iterator<Item = &BTreeMap<String, String>>| {
        let mut common: Option<BTreeMap<String, String>> = None;
        for map in maps {
            common = Some(match common {
                None => map.clone(),
                Some(common) => common.into_iter().filter(|(name, value)| map.get(name) == Some(value)).collect(),
            });
        }
        common.unwrap_or_default()
    };
    let common_labels = common(&mut alerts.iter().map(|alert| &alert.labels));
    let common_annotations = common(&mut alerts.iter().map(|alert| &alert.annotations));
    let go_zero = "0001-01-01T00:00:00Z";
    let alert_bodies: Vec<serde_json::Value> = alerts
        .iter()
        .map(|alert| {
            serde_json::json!({
                "status": word(alert.status),
                "labels": alert.labels,
                "annotations": alert.annotations,
                "startsAt": alert.starts_at.to_string(),
                "endsAt": alert.ends_at.map_or_else(|| go_zero.to_owned(), |ends| ends.to_string()),
                "generatorURL": alert.generator_url.clone().unwrap_or_default(),
                "fingerprint": alert.fingerprint.clone().unwrap_or_default(),
            })
        })
        .collect();
    let body = serde_json::json!({
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": word(status),
        "receiver": escape_receiver(receiver),
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": common_annotations,
        "externalURL": poll.answered.first().cloned().unwrap_or_default(),
        "alerts": alert_bodies,
        "reconciled": { "why": why.as_str(), "polledAt": poll.at.to_string(), "from": poll.answered },
    });
    let mut occurrences: Vec<String> = alerts
        .iter()
        .map(|alert| format!("{}\u{1f}{}", alert.fingerprint.as_deref().unwrap_or(""), alert.starts_at))
        .collect();
    occurrences.sort();
    let canonical = format!("reconciled\u{1e}{}\u{1e}{group_key}\u{1e}{}", why.as_str(), occurrences.join("\u{1e}"));
    let starts_at = alerts.iter().map(|alert| alert.starts_at).min().unwrap_or(poll.at);
    AlertmanagerIntake {
        dedup_key: hex::encode(Sha256::digest(canonical.as_bytes())),
        received_at: poll.at,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        group_key: group_key.to_owned(),
        status,
        starts_at,
        fired_at: alerts.iter().map(|alert| alert.starts_at).max().unwrap_or(starts_at),
        ends_at: alerts.iter().filter_map(|alert| alert.ends_at).max(),
        title: super::alert_title(&alerts).unwrap_or_default(),
        severity: common_labels.get("severity").cloned(),
        truncated_alerts: 0,
        labels: common_labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Instant {
        text.parse().unwrap()
    }

    fn notification(group_key: &str, status: AlertStatus, starts_at: &str, severity: &str) -> AlertmanagerIntake {
        let starts_at = at(starts_at);
        let ends_at = (status == AlertStatus::Resolved).then(|| starts_at + SignedDuration::from_mins(5));
        AlertmanagerIntake {
            dedup_key: format!("{group_key}-{starts_at}-{status:?}"),
            received_at: starts_at + SignedDuration::from_secs(30),
            body: Vec::new(),
            group_key: group_key.to_owned(),
            status,
            starts_at,
            fired_at: starts_at,
            ends_at,
            title: format!("{group_key} title"),
            severity: Some(severity.to_owned()),
            truncated_alerts: 0,
            labels: BTreeMap::from([("alertname".to_owned(), group_key.to_owned())]),
        }
    }

    fn page(action: PageAction, occurred_at: &str) -> PagerDutyIntake {
        PagerDutyIntake {
            dedup_key: "p".to_owned(),
            received_at: at(occurred_at),
            body: Vec::new(),
            occurred_at: at(occurred_at),
            action: Some(action),
            pd_incident_id: Some("PD1".to_owned()),
            incident_key: None,
            title: None,
            link: None,
        }
    }

    /// Every order of `items`.
    fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut all = Vec::new();
        for (index, first) in items.iter().enumerate() {
            let mut rest = items.to_vec();
            rest.remove(index);
            for mut tail in permutations(&rest) {
                tail.insert(0, first.clone());
                all.push(tail);
            }
        }
        all
    }

    /// The episodes a group's notifications make, in arrival order, as the store decides.
    fn episodes(arrivals: &[AlertmanagerIntake], quiet: SignedDuration) -> Vec<IncidentState> {
        let mut episodes: Vec<IncidentState> = Vec::new();
        for intake in arrivals {
            let index = episode_for(&episodes.iter().collect::<Vec<_>>(), intake, quiet).unwrap_or_else(|| {
                episodes.push(IncidentState::opened_by(intake));
                episodes.len() - 1
            });
            episodes[index].apply(intake);
        }
        episodes.sort_by_key(|episode| episode.opened_at);
        episodes
    }

    /// A notification of group `G` whose alert fired at `starts_at` and, resolved, ended at
    /// `ends_at`.
    fn alert(status: AlertStatus, starts_at: &str, ends_at: Option<&str>) -> AlertmanagerIntake {
        let starts_at = at(starts_at);
        AlertmanagerIntake {
            ends_at: ends_at.map(at),
            received_at: ends_at.map_or(starts_at, at) + SignedDuration::from_secs(30),
            starts_at,
            fired_at: starts_at,
            ..notification("G", status, "2025-02-09T10:00:00Z", "warning")
        }
    }

    #[track_caller]
    fn check_every_order(events: &[AlertmanagerIntake], expected: &[(IncidentStatus, Option<&str>)]) {
        let quiet = SignedDuration::from_mins(30);
        let mut in_time_order = events.to_vec();
        in_time_order.sort_by_key(AlertmanagerIntake::event_time);
        let reference = episodes(&in_time_order, quiet);
        let summary: Vec<(IncidentStatus, Option<Instant>)> =
            reference.iter().map(|episode| (episode.status, episode.resolved_at)).collect();
        let expected: Vec<(IncidentStatus, Option<Instant>)> =
            expected.iter().map(|(status, resolved)| (*status, resolved.map(at))).collect();
        assert_eq!(summary, expected, "in time order");
        for order in permutations(events) {
            let arrivals: Vec<String> =
                order.iter().map(|intake| format!("{:?}@{}", intake.status, intake.event_time())).collect();
            assert_eq!(episodes(&order, quiet), reference, "arriving as {arrivals:?}");
        }
    }

    #[test]
    fn every_order_of_firing_and_resolved_ends_as_the_time_ordered_sequence() {
        use AlertStatus::{Firing, Resolved};
        use IncidentStatus::{Open, Resolved as Done};
        let fired = alert(Firing, "2025-02-09T10:00:00Z", None);
        let ended = alert(Resolved, "2025-02-09T10:00:00Z", Some("2025-02-09T10:05:00Z"));
        // The same alert fires again within the quiet period: the incident reopens.
        let again = alert(Firing, "2025-02-09T10:20:00Z", None);
        let ended_again = alert(Resolved, "2025-02-09T10:20:00Z", Some("2025-02-09T10:25:00Z"));
        // A second alert of the group, firing through the first one's resolution.
        let other =
            AlertmanagerIntake { fired_at: at("2025-02-09T10:03:00Z"), ..alert(Firing, "2025-02-09T10:00:00Z", None) };
        check_every_order(&[fired.clone(), ended.clone()], &[(Done, Some("2025-02-09T10:05:00Z"))]);
        check_every_order(&[fired.clone(), ended.clone(), again.clone()], &[(Open, None)]);
        check_every_order(
            &[fired.clone(), ended.clone(), again.clone(), ended_again.clone()],
            &[(Done, Some("2025-02-09T10:25:00Z"))],
        );
        check_every_order(
            &[fired.clone(), ended.clone(), again, ended_again.clone(), other.clone()],
            &[(Done, Some("2025-02-09T10:25:00Z"))],
        );
        check_every_order(&[fired, other, ended_again], &[(Done, Some("2025-02-09T10:25:00Z"))]);
    }

    #[test]
    fn a_late_older_notification_never_reopens_and_a_new_firing_opens_the_next_episode() {
        let quiet = SignedDuration::from_mins(30);
        let fired = alert(AlertStatus::Firing, "2025-02-09T10:00:00Z", None);
        let ended = alert(AlertStatus::Resolved, "2025-02-09T10:00:00Z", Some("2025-02-09T10:05:00Z"));
        // Alertmanager resolved, then the older firing (a retry) came.
        let late = episodes(&[ended.clone(), fired.clone()], quiet);
        assert_eq!(
            late.iter().map(|episode| (episode.status, episode.resolved_at)).collect::<Vec<_>>(),
            [(IncidentStatus::Resolved, Some(at("2025-02-09T10:05:00Z")))]
        );
        assert_eq!(late[0].opened_at, at("2025-02-09T10:00:00Z"), "the late firing still widens the span");
        // An hour later the group fires anew: the next episode; then retries of the first
        // episode's notifications come late and go back to it, leaving the new one open.
        let next = alert(AlertStatus::Firing, "2025-02-09T11:05:00Z", None);
        let two = episodes(&[fired.clone(), ended.clone(), next.clone(), fired, ended], quiet);
        let summary: Vec<_> =
            two.iter().map(|episode| (episode.opened_at, episode.status, episode.resolved_at)).collect();
        assert_eq!(
            summary,
            [
                (at("2025-02-09T10:00:00Z"), IncidentStatus::Resolved, Some(at("2025-02-09T10:05:00Z"))),
                (at("2025-02-09T11:05:00Z"), IncidentStatus::Open, None),
            ]
        );
    }

    #[track_caller]
    fn check_every_page_order(events: &[(PageAction, &str)], expected: (IncidentStatus, Option<&str>)) {
        let pages: Vec<PagerDutyIntake> = events.iter().map(|(action, time)| page(action.clone(), time)).collect();
        let apply_all = |order: &[PagerDutyIntake]| {
            let mut incident = IncidentState::opened_by_page(&order[0]);
            for page in order {
                incident.apply_page(page);
            }
            incident
        };
        let mut in_time_order = pages.clone();
        in_time_order.sort_by_key(|page| page.occurred_at);
        let reference = apply_all(&in_time_order);
        assert_eq!((reference.status, reference.resolved_at), (expected.0, expected.1.map(at)), "in time order");
        for order in permutations(&pages) {
            let arrivals: Vec<String> =
                order.iter().map(|page| format!("{:?}@{}", page.action, page.occurred_at)).collect();
            assert_eq!(apply_all(&order), reference, "arriving as {arrivals:?}");
        }
    }

    #[test]
    fn every_order_of_triggered_acknowledged_and_resolved_ends_as_the_time_ordered_sequence() {
        use IncidentStatus::{Open, Resolved};
        use PageAction::{Acknowledged, Reopened, Resolved as Resolve, Triggered};
        // The finding: resolved 11:00, then acknowledged 10:10, then triggered 10:00.
        let pages = [(Triggered, "2025-02-09T10:00:00Z"), (Acknowledged, "2025-02-09T10:10:00Z")];
        check_every_page_order(&pages[..1], (Open, None));
        check_every_page_order(&pages, (Open, None));
        let resolved = [pages[0].clone(), pages[1].clone(), (Resolve, "2025-02-09T11:00:00Z")];
        check_every_page_order(&resolved, (Resolved, Some("2025-02-09T11:00:00Z")));
        check_every_page_order(&resolved[1..], (Resolved, Some("2025-02-09T11:00:00Z")));
        check_every_page_order(&[resolved[0].clone(), resolved[2].clone()], (Resolved, Some("2025-02-09T11:00:00Z")));
        let reopened = [
            (Triggered, "2025-02-09T10:00:00Z"),
            (Acknowledged, "2025-02-09T10:10:00Z"),
            (Resolve, "2025-02-09T10:30:00Z"),
            (Reopened, "2025-02-09T10:40:00Z"),
        ];
        check_every_page_order(&reopened, (Open, None));
        let mut resolved_again = reopened.to_vec();
        resolved_again.push((Resolve, "2025-02-09T11:00:00Z"));
        check_every_page_order(&resolved_again, (Resolved, Some("2025-02-09T11:00:00Z")));
    }

    #[test]
    fn a_resolution_is_an_event_at_its_own_time() {
        // A responder's resolve at 10:50 (the post-mortem's manual resolve) after the alert
        // fired again at 11:00 in event time leaves the incident open.
        let mut incident = IncidentState::opened_by(&alert(AlertStatus::Firing, "2025-02-09T10:00:00Z", None));
        incident.apply(&alert(AlertStatus::Firing, "2025-02-09T11:00:00Z", None));
        incident.resolve(at("2025-02-09T10:50:00Z"));
        assert_eq!((incident.status, incident.resolved_at), (IncidentStatus::Open, None));
        incident.resolve(at("2025-02-09T11:10:00Z"));
        assert_eq!(
            (incident.status, incident.resolved_at),
            (IncidentStatus::Resolved, Some(at("2025-02-09T11:10:00Z")))
        );
    }

    #[test]
    fn a_group_fires_again_after_its_quiet_period_as_a_new_episode() {
        let quiet = SignedDuration::from_mins(30);
        let mut incident =
            IncidentState::opened_by(&notification("G", AlertStatus::Firing, "2025-02-09T10:00:00Z", "warning"));
        incident.apply(&notification("G", AlertStatus::Resolved, "2025-02-09T10:00:00Z", "warning"));
        assert_eq!(
            (incident.status, incident.resolved_at),
            (IncidentStatus::Resolved, Some(at("2025-02-09T10:05:00Z")))
        );
        // Within the quiet period: the same incident; after it: a new episode.
        assert!(incident.takes(&notification("G", AlertStatus::Firing, "2025-02-09T10:34:59Z", "warning"), quiet));
        assert!(!incident.takes(&notification("G", AlertStatus::Firing, "2025-02-09T10:35:00Z", "warning"), quiet));
        // A resolved notification never opens an episode.
        assert!(incident.takes(&notification("G", AlertStatus::Resolved, "2025-02-09T12:00:00Z", "warning"), quiet));
    }

    #[test]
    fn a_notification_raises_severity_and_widens_the_span() {
        let mut incident =
            IncidentState::opened_by(&notification("G", AlertStatus::Firing, "2025-02-09T10:00:00Z", "critical"));
        incident.apply(&notification("G", AlertStatus::Firing, "2025-02-09T09:50:00Z", "warning"));
        assert_eq!(incident.severity.as_deref(), Some("critical"), "a lower severity does not lower it");
        assert_eq!(incident.opened_at, at("2025-02-09T09:50:00Z"));
        assert_eq!(incident.last_signal, at("2025-02-09T10:00:30Z"), "received time of the first");
        let mut info =
            IncidentState::opened_by(&notification("H", AlertStatus::Firing, "2025-02-09T10:00:00Z", "info"));
        info.apply(&notification("H", AlertStatus::Firing, "2025-02-09T10:00:00Z", "P1"));
        assert_eq!(info.severity.as_deref(), Some("P1"));
    }

    #[track_caller]
    fn check_rank(severity: Option<&str>, rank: u8) {
        assert_eq!(severity_rank(severity), rank, "{severity:?}");
    }

    #[test]
    fn severity_ranks() {
        check_rank(Some("Critical"), 5);
        check_rank(Some("p2"), 4);
        check_rank(Some("warn"), 3);
        check_rank(Some("low"), 2);
        check_rank(Some("sev-whatever"), 1);
        check_rank(None, 0);
    }

    #[test]
    fn a_page_only_incident_is_taken_over_by_its_group() {
        let firing = notification("G", AlertStatus::Firing, "2025-02-09T10:00:00Z", "critical");
        let page = PagerDutyIntake {
            incident_key: Some(group_key_hash("G")),
            ..page(PageAction::Triggered, "2025-02-09T10:00:10Z")
        };
        let mut incident = IncidentState::opened_by_page(&page);
        assert_eq!(incident.title, "PagerDuty incident PD1");
        assert!(incident.is_page_only_of(&firing));
        assert!(!incident.is_page_only_of(&notification("H", AlertStatus::Firing, "2025-02-09T10:00:00Z", "info")));
        incident.take_over(&firing);
        assert_eq!((incident.group_key.as_deref(), incident.title.as_str()), (Some("G"), "G title"));
        assert!(!incident.is_page_only_of(&firing), "no longer page-only");
    }

    #[test]
    fn pages_change_status_by_their_action() {
        let mut incident = IncidentState::opened_by_page(&page(PageAction::Triggered, "2025-02-09T10:00:00Z"));
        incident.apply_page(&page(PageAction::Acknowledged, "2025-02-09T10:05:00Z"));
        assert_eq!(incident.status, IncidentStatus::Open);
        incident.apply_page(&page(PageAction::Resolved, "2025-02-09T10:30:00Z"));
        assert_eq!(
            (incident.status, incident.resolved_at),
            (IncidentStatus::Resolved, Some(at("2025-02-09T10:30:00Z")))
        );
        incident.apply_page(&page(PageAction::Reopened, "2025-02-09T10:40:00Z"));
        assert_eq!((incident.status, incident.resolved_at), (IncidentStatus::Open, None));
        assert_eq!(incident.last_signal, at("2025-02-09T10:40:00Z"));
    }

    #[test]
    fn a_fallback_link_needs_labels_and_time() {
        let link = PageLink {
            label_sets: vec![BTreeMap::from([("alertname".to_owned(), "G".to_owned())])],
            within: SignedDuration::from_mins(30),
        };
        let mut incident =
            IncidentState::opened_by(&notification("G", AlertStatus::Firing, "2025-02-09T10:00:00Z", "critical"));
        incident.apply(&notification("G", AlertStatus::Firing, "2025-02-09T10:00:00Z", "critical"));
        assert!(link.accepts(&incident, at("2025-02-09T11:00:00Z")), "open: any later page");
        assert!(link.accepts(&incident, at("2025-02-09T09:30:00Z")), "opened within 30 min after the page");
        assert!(!link.accepts(&incident, at("2025-02-09T09:29:59Z")));
        incident.apply(&notification("G", AlertStatus::Resolved, "2025-02-09T10:00:00Z", "critical"));
        assert!(link.accepts(&incident, at("2025-02-09T10:35:00Z")), "resolved 10:05, within 30 min");
        assert!(!link.accepts(&incident, at("2025-02-09T10:35:01Z")));
        incident.labels.insert("alertname".to_owned(), "H".to_owned());
        assert!(!link.accepts(&incident, at("2025-02-09T10:10:00Z")), "labels differ");
    }

    #[test]
    fn page_links_are_tried_by_id_then_key_then_rule() {
        let link = PageLink { label_sets: Vec::new(), within: SignedDuration::ZERO };
        let full = PagerDutyIntake {
            incident_key: Some("K".to_owned()),
            link: Some(link.clone()),
            ..page(PageAction::Triggered, "2025-02-09T10:00:00Z")
        };
        assert_eq!(
            page_link_steps(&full),
            [PageLinkStep::PagerDutyIncident("PD1"), PageLinkStep::IncidentKey("K"), PageLinkStep::Rule(&link)]
        );
        let bare = PagerDutyIntake { pd_incident_id: None, ..page(PageAction::Triggered, "2025-02-09T10:00:00Z") };
        assert!(page_link_steps(&bare).is_empty());
    }

    fn polled(name: &str, fingerprint: &str, starts_at: &str) -> AlertRecord {
        AlertRecord {
            name: name.to_owned(),
            status: AlertStatus::Firing,
            labels: BTreeMap::from([("alertname".to_owned(), name.to_owned())]),
            annotations: BTreeMap::new(),
            starts_at: at(starts_at),
            ends_at: None,
            fingerprint: Some(fingerprint.to_owned()),
            generator_url: None,
        }
    }

    fn poll_of(alerts: &[(AlertRecord, bool)]) -> AlertmanagerPoll {
        AlertmanagerPoll {
            at: at("2025-02-09T10:30:00Z"),
            answered: vec!["http://am-0:9093".to_owned()],
            groups: vec![PolledGroup {
                receiver: "team.pager".to_owned(),
                labels: BTreeMap::from([("alertname".to_owned(), "A".to_owned())]),
                alerts: alerts
                    .iter()
                    .map(|(alert, active)| PolledAlert { alert: alert.clone(), active: *active })
                    .collect(),
            }],
            settle: SignedDuration::from_mins(1),
        }
    }

    fn stored(incident_id: i64, group_key: &str, alerts: Vec<AlertRecord>) -> StoredNotification {
        StoredNotification {
            incident_id,
            group_key: group_key.to_owned(),
            receiver: "team.pager".to_owned(),
            group_labels: BTreeMap::from([("alertname".to_owned(), "A".to_owned())]),
            received_at: at("2025-02-09T10:01:00Z"),
            alerts,
        }
    }

    #[test]
    fn reconciliation_opens_what_no_webhook_told_under_the_best_known_group_key() {
        let fired = polled("A", "f1", "2025-02-09T10:00:00Z");
        let receivers: Vec<String> = Vec::new();
        // Never heard of: a provisional key from the receiver and group labels.
        let fresh = reconcile_alertmanager(&poll_of(&[(fired.clone(), true)]), &receivers, &[], &[]);
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].group_key, r#"reconciled:team.pager:{alertname="A"}"#);
        assert!(is_provisional_group_key(&fresh[0].group_key));
        assert_eq!((fresh[0].status, fresh[0].starts_at), (AlertStatus::Firing, at("2025-02-09T10:00:00Z")));
        let body: serde_json::Value = serde_json::from_slice(&fresh[0].body).unwrap();
        assert_eq!(body["receiver"], r"team\.pager", "escaped as Alertmanager escapes it");
        assert_eq!(body["reconciled"]["why"], "missed");
        // Held by a stored notification (fingerprint + startsAt): nothing to open.
        let known = [stored(7, "{}:{alertname=\"A\"}", vec![fired.clone()])];
        assert!(reconcile_alertmanager(&poll_of(&[(fired.clone(), true)]), &receivers, &known, &[]).is_empty());
        // A new alert of a group webhooks named before: the real key, learned.
        let other = polled("A", "f2", "2025-02-09T10:10:00Z");
        let learned = reconcile_alertmanager(&poll_of(&[(other.clone(), true)]), &receivers, &known, &[]);
        assert_eq!(learned[0].group_key, "{}:{alertname=\"A\"}");
        // Silenced or inhibited, too young to have been notified, or another receiver's: left alone.
        assert!(reconcile_alertmanager(&poll_of(&[(other.clone(), false)]), &receivers, &[], &[]).is_empty());
        let young = polled("A", "f3", "2025-02-09T10:29:30Z");
        assert!(reconcile_alertmanager(&poll_of(&[(young, true)]), &receivers, &[], &[]).is_empty());
        assert!(reconcile_alertmanager(&poll_of(&[(other, true)]), &["email".to_owned()], &[], &[]).is_empty());
        // The same alert fired again later is a new occurrence.
        let again = polled("A", "f1", "2025-02-09T10:20:00Z");
        assert_eq!(reconcile_alertmanager(&poll_of(&[(again, true)]), &receivers, &known, &[]).len(), 1);
    }

    #[test]
    fn reconciliation_resolves_an_incident_whose_alerts_are_gone_at_the_poll() {
        let fired = polled("A", "f1", "2025-02-09T10:00:00Z");
        let known = [stored(7, "G", vec![fired.clone()])];
        let open = [(7, "G".to_owned())];
        let receivers: Vec<String> = Vec::new();
        // Still listed (silenced counts: it still fires), or listed with an earlier start: open.
        assert!(reconcile_alertmanager(&poll_of(&[(fired.clone(), false)]), &receivers, &known, &open).is_empty());
        let earlier = polled("A", "f1", "2025-02-09T09:59:00Z");
        assert!(reconcile_alertmanager(&poll_of(&[(earlier, true)]), &receivers, &known, &open).is_empty());
        // Gone: resolved at the poll's time, in the incident's group.
        let gone = reconcile_alertmanager(&poll_of(&[]), &receivers, &known, &open);
        assert_eq!(gone.len(), 1);
        assert_eq!(
            (gone[0].group_key.as_str(), gone[0].status, gone[0].ends_at),
            ("G", AlertStatus::Resolved, Some(at("2025-02-09T10:30:00Z")))
        );
        let mut incident =
            IncidentState::opened_by(&notification("G", AlertStatus::Firing, "2025-02-09T10:00:00Z", "x"));
        incident.apply(&gone[0]);
        assert_eq!(
            (incident.status, incident.resolved_at),
            (IncidentStatus::Resolved, Some(at("2025-02-09T10:30:00Z")))
        );
        // Already resolved by a notification, or heard of only after the poll began: nothing.
        let resolved =
            AlertRecord { status: AlertStatus::Resolved, ends_at: Some(at("2025-02-09T10:05:00Z")), ..fired.clone() };
        let both = [stored(7, "G", vec![fired.clone()]), stored(7, "G", vec![resolved])];
        assert!(reconcile_alertmanager(&poll_of(&[]), &receivers, &both, &open).is_empty());
        let late = [StoredNotification { received_at: at("2025-02-09T10:30:01Z"), ..stored(7, "G", vec![fired]) }];
        assert!(reconcile_alertmanager(&poll_of(&[]), &receivers, &late, &open).is_empty());
    }

    #[test]
    fn receiver_names_escape_as_alertmanager_escapes_them() {
        for name in ["team.pager", "a+b*c?(d)|[e]{f}^$", "plain", r"back\slash"] {
            assert_eq!(unescape_receiver(&escape_receiver(name)), name);
        }
        assert_eq!(escape_receiver("team.pager"), r"team\.pager");
    }

    #[test]
    fn merged_incidents_are_open_while_any_is_and_resolve_at_the_latest() {
        let at = |text: &str| Some(text.parse::<Instant>().unwrap());
        let (open, resolved) = (IncidentStatus::Open, IncidentStatus::Resolved);
        let check = |parts: &[(IncidentStatus, Option<Instant>)], expected: (IncidentStatus, Option<Instant>)| {
            assert_eq!(merged_status(parts), expected, "{parts:?}");
        };
        check(&[(resolved, at("2025-02-09T10:40:00Z")), (open, None)], (open, None));
        check(&[(open, None), (resolved, at("2025-02-09T10:40:00Z"))], (open, None));
        check(
            &[(resolved, at("2025-02-09T10:40:00Z")), (resolved, at("2025-02-09T10:50:00Z"))],
            (resolved, at("2025-02-09T10:50:00Z")),
        );
        check(&[(resolved, at("2025-02-09T10:40:00Z"))], (resolved, at("2025-02-09T10:40:00Z")));
    }
}
