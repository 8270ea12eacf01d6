//! Alertmanager → [`AlertRecord`]s: the webhook payload (`webhook_configs`, version "4")
//! and the API v2 alert list (`GET /api/v2/alerts`, `amtool alert query -o json`).
//!
//! Deduplicating notifications and alert occurrences is left to the incident stage;
//! this module only reads what one payload says.

use std::collections::BTreeMap;

use super::Result;
use super::json::{Node, parse_document};
use crate::record::{AlertRecord, AlertStatus, GapRecord, GapSource, Instant, Record};

/// One webhook notification: a full snapshot of an alert group.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookPayload {
    /// The receiver's name, regex-escaped by Alertmanager (`team\.pager`).
    pub receiver: String,
    /// `firing` when any alert of the (kept) group fires.
    pub status: AlertStatus,
    /// Names the group, not an occurrence; arbitrary UTF-8.
    pub group_key: String,
    /// How many alerts `max_alerts` dropped from this notification.
    pub truncated_alerts: u64,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: String,
    pub alerts: Vec<AlertRecord>,
    /// Set on a notification postmortemd made itself by polling Alertmanager (its
    /// `reconciled` object): why, when, and which peers answered.
    pub reconciled: Option<ReconciledBy>,
}

/// The `reconciled` object of a notification postmortemd's reconciliation stored: `why` it
/// was made (`missed`: firing alerts no webhook told of; `gone`: alerts gone from every peer
/// that answered, so resolved at the poll's time), the poll's time and the peers it asked.
#[derive(Clone, Debug, PartialEq)]
pub struct ReconciledBy {
    pub why: String,
    pub polled_at: Instant,
    pub from: Vec<String>,
}

/// The source of the note rows reconciled notifications add to a timeline.
pub const RECONCILED_SOURCE: &str = "alertmanager reconciliation";

/// Alertmanager's zero time: the `endsAt` of a firing alert in a notification.
fn is_go_zero_time(instant: Instant) -> bool {
    instant == Instant::constant(-62135596800, 0)
}

fn parse_status(node: Node<'_, '_>) -> Result<AlertStatus> {
    match node.str() {
        Ok("firing") => Ok(AlertStatus::Firing),
        Ok("resolved") => Ok(AlertStatus::Resolved),
        _ => Err(node.error(r#""firing" or "resolved""#)),
    }
}

/// The fields every alert shape shares; `status` and `ends_at` are the caller's.
fn parse_alert_common(alert: Node<'_, '_>, status: AlertStatus, ends_at: Option<Instant>) -> Result<AlertRecord> {
    alert.object("an alert object")?;
    let labels = alert.get("labels").string_map()?;
    let annotations = alert.get("annotations").string_map()?;
    // NB: Prometheus always sets `alertname`; an alert pushed by hand may lack it, and a
    // webhook rejected with 4xx is never re-sent, so a missing name is "" rather than an error.
    let name = labels.get("alertname").cloned().unwrap_or_default();
    let starts_at = alert.get("startsAt").time()?;
    Ok(AlertRecord {
        name,
        status,
        labels,
        annotations,
        starts_at,
        // An end before the start (a clock or a hand-made payload) is read as the start:
        // the later of the two, so no window or gap ends before it begins.
        ends_at: ends_at.map(|ends_at| ends_at.max(starts_at)),
        fingerprint: alert.get("fingerprint").non_empty_str()?.map(str::to_string),
        generator_url: alert.get("generatorURL").non_empty_str()?.map(str::to_string),
    })
}

/// One alert of a webhook payload (`template.Alert`): `status` is a string, and `endsAt`
/// is Alertmanager's zero time while firing.
fn parse_webhook_alert(alert: Node<'_, '_>) -> Result<AlertRecord> {
    alert.object("an alert object")?;
    let status = parse_status(alert.get("status"))?;
    let ends_at = alert.get("endsAt").opt_time()?;
    // A firing alert has no end yet, whatever `endsAt` says: Alertmanager hides a
    // not-yet-reached end behind the zero time, and the record's contract is None.
    let ends_at = match status {
        AlertStatus::Firing => None,
        AlertStatus::Resolved => ends_at.filter(|instant| !is_go_zero_time(*instant)),
    };
    parse_alert_common(alert, status, ends_at)
}

impl WebhookPayload {
    /// The alerts as records, and a reported gap when `max_alerts` dropped some of the
    /// group's alerts from this notification (they are lost to the timeline).
    pub fn into_records(self) -> Vec<Record> {
        let span = self.alerts.iter().fold(None, |span: Option<(Instant, Instant)>, alert| {
            let end = alert.ends_at.unwrap_or(alert.starts_at).max(alert.starts_at);
            Some(span.map_or((alert.starts_at, end), |(first, last)| (first.min(alert.starts_at), last.max(end))))
        });
        let gap = span.filter(|_| self.truncated_alerts > 0).map(|(start, end)| GapRecord {
            source: GapSource::Other("alertmanager".to_owned()),
            start,
            end,
            reason: format!("{} alerts not delivered by Alertmanager (max_alerts)", self.truncated_alerts),
            node: None,
        });
        let note = self.reconciled.as_ref().map(|reconciled| Record::Note(reconciled_note(reconciled, &self.alerts)));
        self.alerts.into_iter().map(Record::Alert).chain(gap.map(Record::Gap)).chain(note).collect()
    }
}

/// The note a reconciled notification adds: what was not notified and how it was learned.
fn reconciled_note(reconciled: &ReconciledBy, alerts: &[AlertRecord]) -> crate::record::NoteRecord {
    let mut names: Vec<&str> = alerts.iter().map(|alert| alert.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let names = names.join(", ");
    let from = reconciled.from.join(", ");
    let polled_at = reconciled.polled_at;
    let text = match reconciled.why.as_str() {
        "gone" => format!(
            "{names} resolved by reconciliation: gone from Alertmanager ({from}) at the poll of {polled_at}, \
             with no resolved notification received; the resolution time shown is that poll's, not when the alert ended"
        ),
        _ => format!(
            "{names} firing, found by reconciliation: listed by Alertmanager ({from}) at the poll of {polled_at} \
             with no notification received for it (a missed webhook)"
        ),
    };
    crate::record::NoteRecord { source: RECONCILED_SOURCE.to_owned(), text }
}

/// Parses a webhook notification body (Alertmanager's `webhook.Message`, version "4"), as
/// a file given to `draft`: a hand-made one may lack `groupKey`.
pub fn parse_webhook(bytes: &[u8]) -> Result<WebhookPayload> {
    parse_webhook_as(bytes, GroupKey::Optional)
}

/// Parses a notification as the daemon receives it: `groupKey` is required, since it is what
/// groups notifications into incidents (without it unrelated alerts would share one).
pub fn parse_notification(bytes: &[u8]) -> Result<WebhookPayload> {
    parse_webhook_as(bytes, GroupKey::Required)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GroupKey {
    Optional,
    Required,
}

fn parse_webhook_as(bytes: &[u8], group_key: GroupKey) -> Result<WebhookPayload> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    root.object("an Alertmanager webhook object")?;
    let version = root.get("version");
    if version.str().ok() != Some("4") {
        return Err(version.error(r#"webhook version "4""#));
    }
    let alerts_node = root.get("alerts");
    let items = alerts_node.array_or_empty("an array of alerts")?;
    let mut alerts = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        alerts.push(parse_webhook_alert(alerts_node.item(items, index))?);
    }
    Ok(WebhookPayload {
        receiver: root.get("receiver").str_or_empty()?.to_string(),
        status: parse_status(root.get("status"))?,
        group_key: match group_key {
            GroupKey::Optional => root.get("groupKey").str_or_empty()?.to_string(),
            GroupKey::Required => root
                .get("groupKey")
                .non_empty_str()?
                .ok_or_else(|| root.get("groupKey").error("a string naming the alert group"))?
                .to_string(),
        },
        truncated_alerts: root.get("truncatedAlerts").opt_u64()?.unwrap_or(0),
        group_labels: root.get("groupLabels").string_map()?,
        common_labels: root.get("commonLabels").string_map()?,
        common_annotations: root.get("commonAnnotations").string_map()?,
        external_url: root.get("externalURL").str_or_empty()?.to_string(),
        alerts,
        reconciled: parse_reconciled(root.get("reconciled"))?,
    })
}

fn parse_reconciled(node: Node<'_, '_>) -> Result<Option<ReconciledBy>> {
    if node.is_absent() {
        return Ok(None);
    }
    node.object("postmortemd's reconciliation object")?;
    let from_node = node.get("from");
    let items = from_node.array_or_empty("an array of Alertmanager URLs")?;
    let mut from = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        from.push(from_node.item(items, index).str()?.to_owned());
    }
    Ok(Some(ReconciledBy { why: node.get("why").str()?.to_owned(), polled_at: node.get("polledAt").time()?, from }))
}

/// One alert group of `GET /api/v2/alerts/groups`: its receiver's name, its labels, and its
/// alerts, each with whether it is `active` (`status.state`; not silenced or inhibited).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiGroup {
    pub receiver: String,
    pub labels: BTreeMap<String, String>,
    pub alerts: Vec<(AlertRecord, bool)>,
}

/// Parses Alertmanager's alert groups (`GET /api/v2/alerts/groups`, `alertGroups`).
pub fn parse_api_groups(bytes: &[u8]) -> Result<Vec<ApiGroup>> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    let groups = root.array("an array of alert groups")?;
    let mut parsed = Vec::with_capacity(groups.len());
    for group_index in 0..groups.len() {
        let group = root.item(groups, group_index);
        group.object("an alert group object")?;
        let alerts_node = group.get("alerts");
        let items = alerts_node.array_or_empty("an array of alerts")?;
        let mut alerts = Vec::with_capacity(items.len());
        for index in 0..items.len() {
            let alert = alerts_node.item(items, index);
            let active = alert.get("status").get("state").opt_str()?.is_none_or(|state| state == "active");
            alerts.push((parse_api_alert(alert)?, active));
        }
        parsed.push(ApiGroup {
            receiver: group.get("receiver").get("name").str_or_empty()?.to_owned(),
            labels: group.get("labels").string_map()?,
            alerts,
        });
    }
    Ok(parsed)
}

/// One alert of the API v2 list (`gettableAlert`).
///
/// The API only lists alerts that were not resolved when it answered, so `endsAt` of an
/// active alert is the expected expiry (`resolve_timeout`, or four evaluation intervals
/// after Prometheus last sent it), not an end. The alert counts as resolved only when its
/// `endsAt` is not after its own `updatedAt` (Prometheus sent the resolution and the file
/// was exported before the API dropped it); otherwise it is firing with no end.
/// `status.state` (`active`, `suppressed`, `unprocessed`) does not change that: a silenced
/// or inhibited alert still fired.
fn parse_api_alert(alert: Node<'_, '_>) -> Result<AlertRecord> {
    alert.object("an alert object")?;
    let status_node = alert.get("status");
    // An array of webhook alerts (e.g. `jq .alerts` of a payload) has string statuses.
    if status_node.value().is_some_and(serde_json::Value::is_string) {
        return parse_webhook_alert(alert);
    }
    if !status_node.is_absent() {
        status_node.object(r#"an alert status object ({"state": …})"#)?;
        status_node.get("state").opt_str()?;
    }
    let ends_at = alert.get("endsAt").opt_time()?;
    let updated_at = alert.get("updatedAt").opt_time()?;
    let resolved = match (ends_at, updated_at) {
        (Some(ends_at), Some(updated_at)) => !is_go_zero_time(ends_at) && ends_at <= updated_at,
        _ => false,
    };
    let (status, ends_at) = if resolved { (AlertStatus::Resolved, ends_at) } else { (AlertStatus::Firing, None) };
    parse_alert_common(alert, status, ends_at)
}

/// Parses an API v2 alert list (`GET /api/v2/alerts`, `amtool alert query -o json`).
pub fn parse_api_alerts(bytes: &[u8]) -> Result<Vec<AlertRecord>> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    let items = root.array("an array of alerts")?;
    let mut alerts = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        alerts.push(parse_api_alert(root.item(items, index))?);
    }
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str) -> Instant {
        text.parse().unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    /// A webhook body in Alertmanager's field order, with Go's HTML escaping.
    const WEBHOOK: &str = r#"{"receiver":"team\\.pager","status":"firing","alerts":[
        {"status":"firing","labels":{"alertname":"HighErrorRate","namespace":"prod","severity":"critical"},
         "annotations":{"summary":"API 5xx ratio above 5%"},
         "startsAt":"2025-02-09T10:06:45.123Z","endsAt":"0001-01-01T00:00:00Z",
         "generatorURL":"http://prometheus:9090/graph?g0.expr=rate%28x%29\u003e0.05\u0026g0.tab=1",
         "fingerprint":"0a1b2c3d4e5f6789"},
        {"status":"resolved","labels":{"alertname":"PodCrashLooping","pod":"api-1"},
         "annotations":{},"startsAt":"2025-02-09T11:00:00+01:00","endsAt":"2025-02-09T10:20:00Z",
         "generatorURL":"","fingerprint":"1111222233334444"}],
        "groupLabels":{"namespace":"prod"},"commonLabels":{"namespace":"prod"},"commonAnnotations":{},
        "externalURL":"http://alertmanager:9093","version":"4",
        "groupKey":"{}/{severity=\"critical\"}:{namespace=\"prod\"}","truncatedAlerts":0,
        "notification_reason":"new","routeLabels":{}}
"#;

    #[test]
    fn webhook_reads_the_group_and_its_alerts() {
        let payload = parse_webhook(WEBHOOK.as_bytes()).unwrap();
        assert_eq!(payload.receiver, r"team\.pager");
        assert_eq!(payload.status, AlertStatus::Firing);
        assert_eq!(payload.group_key, r#"{}/{severity="critical"}:{namespace="prod"}"#);
        assert_eq!(payload.group_labels, labels(&[("namespace", "prod")]));
        assert_eq!(payload.external_url, "http://alertmanager:9093");
        assert_eq!(
            payload.alerts,
            vec![
                AlertRecord {
                    name: "HighErrorRate".into(),
                    status: AlertStatus::Firing,
                    labels: labels(&[("alertname", "HighErrorRate"), ("namespace", "prod"), ("severity", "critical")]),
                    annotations: labels(&[("summary", "API 5xx ratio above 5%")]),
                    starts_at: instant("2025-02-09T10:06:45.123Z"),
                    ends_at: None,
                    fingerprint: Some("0a1b2c3d4e5f6789".into()),
                    generator_url: Some("http://prometheus:9090/graph?g0.expr=rate%28x%29>0.05&g0.tab=1".into()),
                },
                AlertRecord {
                    name: "PodCrashLooping".into(),
                    status: AlertStatus::Resolved,
                    labels: labels(&[("alertname", "PodCrashLooping"), ("pod", "api-1")]),
                    annotations: BTreeMap::new(),
                    starts_at: instant("2025-02-09T10:00:00Z"),
                    ends_at: Some(instant("2025-02-09T10:20:00Z")),
                    fingerprint: Some("1111222233334444".into()),
                    generator_url: None,
                },
            ]
        );
    }

    #[track_caller]
    fn check_webhook_error(body: &str, expected: &str) {
        match parse_webhook(body.as_bytes()) {
            Ok(payload) => panic!("expected an error for {body}, got {payload:?}"),
            Err(error) => assert_eq!(error.to_string(), expected, "{body}"),
        }
    }

    #[test]
    fn webhook_errors_name_the_field() {
        let alert = |starts_at: &str| {
            format!(
                r#"{{"version":"4","status":"firing","alerts":[{{"status":"firing","labels":{{}},"startsAt":{starts_at}}}]}}"#
            )
        };
        let rows = [
            (
                r#"{"version":"3","status":"firing","alerts":[]}"#.to_string(),
                r#"version: expected webhook version "4", found "3""#,
            ),
            (
                r#"{"status":"firing","alerts":[]}"#.to_string(),
                r#"version: expected webhook version "4", found nothing (the field is missing)"#,
            ),
            (
                "[]".to_string(),
                "top level: expected an Alertmanager webhook object, found an array",
            ),
            (
                alert(r#""yesterday""#),
                r#"alerts[0].startsAt: expected an RFC 3339 time, found "yesterday""#,
            ),
            (
                alert("1739095523"),
                "alerts[0].startsAt: expected an RFC 3339 time, found the number 1739095523",
            ),
            (
                alert("null"),
                "alerts[0].startsAt: expected an RFC 3339 time, found null",
            ),
            (
                r#"{"version":"4","status":"firing","alerts":[{"status":"pending","startsAt":"2025-02-09T10:00:00Z"}]}"#.to_string(),
                r#"alerts[0].status: expected "firing" or "resolved", found "pending""#,
            ),
            (
                r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":1},"startsAt":"2025-02-09T10:00:00Z"}]}"#.to_string(),
                "alerts[0].labels.a: expected a string, found the number 1",
            ),
            (
                r#"{"version":"4","status":"firing","alerts":{}}"#.to_string(),
                "alerts: expected an array of alerts, found an object",
            ),
            (
                r#"{"version":"4","status":"firing","alerts":[{"status":"fir"#.to_string(),
                "line 1 column 57: expected more JSON (the document is truncated)",
            ),
            (
                r#"{"version":"4","status":"firing","truncatedAlerts":-1,"alerts":[]}"#.to_string(),
                "truncatedAlerts: expected a non-negative integer, found the number -1",
            ),
        ];
        for (body, expected) in &rows {
            check_webhook_error(body, expected);
        }
    }

    #[test]
    fn the_daemon_requires_a_group_key_and_a_draft_does_not() {
        let without = WEBHOOK.replace(r#""groupKey":"{}/{severity=\"critical\"}:{namespace=\"prod\"}","#, "");
        assert_eq!(parse_webhook(without.as_bytes()).unwrap().group_key, "");
        let rows = [
            (
                without.clone(),
                "groupKey: expected a string naming the alert group, found nothing (the field is missing)",
            ),
            (
                without.replace(r#""version":"4""#, r#""version":"4","groupKey":null"#),
                "groupKey: expected a string naming the alert group, found null",
            ),
            (
                without.replace(r#""version":"4""#, r#""version":"4","groupKey":"""#),
                r#"groupKey: expected a string naming the alert group, found """#,
            ),
            (
                without.replace(r#""version":"4""#, r#""version":"4","groupKey":7"#),
                "groupKey: expected a string, found the number 7",
            ),
        ];
        for (body, expected) in rows {
            assert_eq!(parse_notification(body.as_bytes()).unwrap_err().to_string(), expected, "{body}");
        }
        assert_eq!(
            parse_notification(WEBHOOK.as_bytes()).unwrap().group_key,
            r#"{}/{severity="critical"}:{namespace="prod"}"#
        );
    }

    #[test]
    fn an_end_before_the_start_is_the_start() {
        let body = WEBHOOK.replace(r#""endsAt":"2025-02-09T10:20:00Z""#, r#""endsAt":"2025-02-09T09:00:00Z""#);
        let payload = parse_webhook(body.as_bytes()).unwrap();
        assert_eq!(payload.alerts[1].starts_at, instant("2025-02-09T10:00:00Z"));
        assert_eq!(payload.alerts[1].ends_at, Some(instant("2025-02-09T10:00:00Z")));
    }

    #[test]
    fn webhook_tolerates_nulls_and_missing_optional_fields() {
        let body = r#"{"version":"4","status":"resolved","receiver":null,"groupLabels":null,
            "alerts":[{"status":"resolved","labels":{"alertname":"X"},"annotations":null,
            "startsAt":"2025-02-09T10:00:00.5+00:00","endsAt":"0001-01-01T00:00:00Z"}]}"#;
        let payload = parse_webhook(body.as_bytes()).unwrap();
        assert_eq!(payload.status, AlertStatus::Resolved);
        assert_eq!(payload.receiver, "");
        assert_eq!(payload.alerts[0].ends_at, None);
        assert_eq!(payload.alerts[0].fingerprint, None);
        assert_eq!(payload.alerts[0].starts_at, instant("2025-02-09T10:00:00.5Z"));
    }

    #[track_caller]
    fn check_api(alert: &str, expected: (AlertStatus, Option<&str>)) {
        let body = format!("[{alert}]");
        let alerts = parse_api_alerts(body.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 1);
        let got = (alerts[0].status, alerts[0].ends_at.map(|end| end.to_string()));
        assert_eq!(got, (expected.0, expected.1.map(str::to_string)), "{alert}");
    }

    #[test]
    fn api_alerts_are_firing_unless_they_ended_by_their_last_update() {
        let alert = |state: &str, ends_at: &str, updated_at: &str| {
            format!(
                r#"{{"annotations":{{}},"endsAt":"{ends_at}","fingerprint":"0a1b2c3d4e5f6789",
                "receivers":[{{"name":"team-pager"}}],"startsAt":"2025-02-09T10:06:45.123Z",
                "status":{{"inhibitedBy":[],"silencedBy":[],"state":"{state}"}},
                "updatedAt":"{updated_at}","generatorURL":"http://prometheus/graph",
                "labels":{{"alertname":"HighErrorRate"}}}}"#
            )
        };
        let rows = [
            (
                alert("active", "2025-02-09T10:15:45Z", "2025-02-09T10:11:45Z"),
                (AlertStatus::Firing, None),
            ),
            (
                alert("suppressed", "2025-02-09T10:15:45Z", "2025-02-09T10:11:45Z"),
                (AlertStatus::Firing, None),
            ),
            (
                alert("unprocessed", "2025-02-09T10:15:45Z", "2025-02-09T10:11:45Z"),
                (AlertStatus::Firing, None),
            ),
            (
                alert("active", "2025-02-09T10:10:00Z", "2025-02-09T10:10:00.5Z"),
                (AlertStatus::Resolved, Some("2025-02-09T10:10:00Z")),
            ),
            (
                alert("active", "2025-02-09T10:10:00Z", "2025-02-09T10:10:00Z"),
                (AlertStatus::Resolved, Some("2025-02-09T10:10:00Z")),
            ),
            (
                r#"{"labels":{"alertname":"X"},"startsAt":"2025-02-09T10:06:45Z","status":"resolved","endsAt":"2025-02-09T10:07:00Z"}"#.to_string(),
                (AlertStatus::Resolved, Some("2025-02-09T10:07:00Z")),
            ),
        ];
        for (alert, expected) in rows {
            check_api(&alert, expected);
        }
    }

    #[test]
    fn api_alert_errors_name_the_field() {
        let rows = [
            (r#"{"alerts":[]}"#, "top level: expected an array of alerts, found an object"),
            (
                r#"[{"labels":{},"startsAt":"2025-02-09T10:06:45Z","status":{"state":7}}]"#,
                "[0].status.state: expected a string, found the number 7",
            ),
            (
                r#"[{"labels":{},"startsAt":"2025-02-09T10:06:45Z","status":[]}]"#,
                r#"[0].status: expected an alert status object ({"state": …}), found an array"#,
            ),
            (
                r#"[{"labels":{},"startsAt":"2025-02-09T10:06:45Z","updatedAt":"now"}]"#,
                r#"[0].updatedAt: expected an RFC 3339 time, found "now""#,
            ),
            (r#"[1]"#, "[0]: expected an alert object, found the number 1"),
        ];
        for (body, expected) in rows {
            let error = parse_api_alerts(body.as_bytes()).unwrap_err();
            assert_eq!(error.to_string(), expected, "{body}");
        }
    }

    #[test]
    fn alert_groups_read_with_receiver_labels_and_state() {
        let body = br#"[{"labels": {"alertname": "A"}, "receiver": {"name": "team.pager"}, "alerts": [
            {"labels": {"alertname": "A", "pod": "p1"}, "annotations": {}, "startsAt": "2025-02-09T10:00:00.1Z",
             "endsAt": "2025-02-09T11:00:00Z", "updatedAt": "2025-02-09T10:01:00Z", "fingerprint": "f1",
             "receivers": [{"name": "team.pager"}], "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}},
            {"labels": {"alertname": "A", "pod": "p2"}, "annotations": {}, "startsAt": "2025-02-09T10:02:00Z",
             "endsAt": "2025-02-09T11:00:00Z", "updatedAt": "2025-02-09T10:02:00Z", "fingerprint": "f2",
             "receivers": [{"name": "team.pager"}], "status": {"state": "suppressed", "silencedBy": ["s1"], "inhibitedBy": []}}
        ]}]"#;
        let groups = parse_api_groups(body).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(
            (groups[0].receiver.as_str(), groups[0].labels.get("alertname").map(String::as_str)),
            ("team.pager", Some("A"))
        );
        let alerts: Vec<(&str, AlertStatus, bool)> = groups[0]
            .alerts
            .iter()
            .map(|(alert, active)| (alert.fingerprint.as_deref().unwrap(), alert.status, *active))
            .collect();
        assert_eq!(alerts, [("f1", AlertStatus::Firing, true), ("f2", AlertStatus::Firing, false)]);
        let error = parse_api_groups(br#"[{"receiver": {"name": "x"}, "alerts": [{"labels": {}}]}]"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "[0].alerts[0].startsAt: expected an RFC 3339 time, found nothing (the field is missing)"
        );
    }

    #[test]
    fn a_reconciled_notification_says_so_in_a_note() {
        let body = br#"{"version": "4", "groupKey": "reconciled:r:{}", "status": "resolved", "receiver": "r",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
            "alerts": [{"status": "resolved", "labels": {"alertname": "A"}, "annotations": {},
                        "startsAt": "2025-02-09T10:00:00Z", "endsAt": "2025-02-09T10:30:00Z", "fingerprint": "f1"}],
            "reconciled": {"why": "gone", "polledAt": "2025-02-09T10:30:00Z", "from": ["http://am-0:9093"]}}"#;
        let records = parse_webhook(body).unwrap().into_records();
        let notes: Vec<&str> = records
            .iter()
            .filter_map(|record| match record {
                Record::Note(note) if note.source == RECONCILED_SOURCE => Some(note.text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(notes.len(), 1, "{records:?}");
        assert!(
            notes[0].starts_with("A resolved by reconciliation: gone from Alertmanager (http://am-0:9093)"),
            "{}",
            notes[0]
        );
        let plain = std::str::from_utf8(body).unwrap().replace("\"reconciled\"", "\"other\"");
        let plain = parse_webhook(plain.as_bytes()).unwrap();
        assert!(plain.reconciled.is_none());
    }
}
