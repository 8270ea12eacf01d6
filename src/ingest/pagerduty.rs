//! PagerDuty → [`PageRecord`]s: v3 webhook events (one per request, or a file of them)
//! and REST incident log entries (`GET /incidents/{id}/log_entries`).
//!
//! Both formats map to one action vocabulary: `triggered`, `acknowledged`,
//! `unacknowledged`, `annotated`, `escalated`, `reassigned`, `delegated`, `notified`,
//! `priority_updated`, `responder_added`, `responder_replied`,
//! `status_update_published`, `reopened`, `resolved`. Other types keep their own name
//! (`workflow_started`, `snooze`). Signature checks and dedupe belong to the daemon.

use serde_json::Value;

use super::json::{Node, parse_document, syntax_error};
use super::{ParseError, Result};
use crate::record::{PageAction, PageRecord};

/// The action of a v3 `event_type`, `None` for events that are not about an incident
/// (`pagey.ping`, `service.updated`).
fn event_action(event_type: &str) -> Option<String> {
    let rest = event_type.strip_prefix("incident.")?;
    // v3 nests some types (`incident.responder.added`); the vocabulary flattens them.
    Some(rest.replace('.', "_"))
}

/// The action of a log entry `type` (`acknowledge_log_entry` → `acknowledged`).
fn log_entry_action(entry_type: &str) -> String {
    let base = entry_type.strip_suffix("_reference").unwrap_or(entry_type);
    let base = base.strip_suffix("_log_entry").unwrap_or(base);
    let action = match base {
        "trigger" => "triggered",
        "acknowledge" | "acknowledgement" => "acknowledged",
        "unacknowledge" => "unacknowledged",
        "annotate" => "annotated",
        "escalate" => "escalated",
        "assign" => "reassigned",
        "delegate" => "delegated",
        "notify" => "notified",
        "resolve" => "resolved",
        "reopen" => "reopened",
        "priority_change" => "priority_updated",
        "responder_request" => "responder_added",
        "responder_response" => "responder_replied",
        "status_update" => "status_update_published",
        other => other,
    };
    action.to_string()
}

/// Who did it: the `summary` of the `agent` reference of an event or log entry, if any.
fn actor(node: Node<'_, '_>) -> Result<Option<String>> {
    let agent = node.get("agent");
    if !agent.is_absent() {
        agent.object("an agent reference or null")?;
    }
    Ok(agent.get("summary").non_empty_str()?.map(str::to_string))
}

/// `summary` of each item of a reference array, joined: `Alice, Bob`.
fn summaries(node: Node<'_, '_>) -> Result<String> {
    let items = node.array_or_empty("an array of references")?;
    let mut names = Vec::new();
    for index in 0..items.len() {
        let item = node.item(items, index);
        // Assignments are `{assignee: {summary}}` on incidents, bare references elsewhere.
        let summary = match item.get("assignee").get("summary").non_empty_str()? {
            Some(summary) => Some(summary),
            None => item.get("summary").non_empty_str()?,
        };
        if let Some(summary) = summary {
            names.push(summary);
        }
    }
    Ok(names.join(", "))
}

/// `data.service` of a v3 incident event (wrapped or bare): its id and summary (display
/// name). `None` when the body names no service.
pub fn service_of(bytes: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let event = value.get("event").unwrap_or(&value);
    let service = event.get("data")?.get("service")?;
    let text = |name: &str| service.get(name).and_then(|value| value.as_str()).map(|text| text.trim().to_owned());
    Some((text("id"), text("summary")))
}

/// Reads one v3 event, wrapped (`{"event": {…}}`) or bare. `None` when the event is not
/// about an incident.
pub fn parse_webhook_event(bytes: &[u8]) -> Result<Option<PageRecord>> {
    let document = parse_document(bytes)?;
    read_event(Node::root(&document))
}

fn read_event(node: Node<'_, '_>) -> Result<Option<PageRecord>> {
    node.object("a PagerDuty v3 event object")?;
    let wrapped = node.get("event");
    if wrapped.is_absent() {
        read_bare_event(node)
    } else {
        wrapped.object("a PagerDuty v3 event object")?;
        read_bare_event(wrapped)
    }
}

fn read_bare_event(event: Node<'_, '_>) -> Result<Option<PageRecord>> {
    let event_type = event.get("event_type").str()?;
    let resource_type = event.get("resource_type").opt_str()?;
    let Some(action) = event_action(event_type) else {
        return Ok(None);
    };
    if resource_type.is_some_and(|resource| resource != "incident") {
        return Ok(None);
    }
    let time = event.get("occurred_at").time()?;
    let actor = actor(event)?;
    let data = event.get("data");
    data.object("an event data object")?;

    // Incident-typed data is the incident itself; note-like data (`incident_note`,
    // `status_update`, `incident_responder`) points at it through `data.incident`.
    let data_type = data.get("type").opt_str()?;
    let incident = data.get("incident");
    let (incident_id, incident_title) = if data_type == Some("incident") || incident.is_absent() {
        (data.get("id").non_empty_str()?, data.get("title").non_empty_str()?)
    } else {
        incident.object("an incident reference")?;
        (incident.get("id").non_empty_str()?, incident.get("summary").non_empty_str()?)
    };
    let incident_key = data.get("incident_key").non_empty_str()?;

    let title = incident_title.unwrap_or("");
    let text = match action.as_str() {
        "annotated" => data.get("content").str_or_empty()?.to_string(),
        "status_update_published" => data.get("message").str_or_empty()?.to_string(),
        "responder_added" | "responder_replied" => {
            let user = data.get("user").get("summary").str_or_empty()?;
            let state = data.get("state").str_or_empty()?;
            let message = data.get("message").str_or_empty()?;
            [user, state, message].iter().filter(|part| !part.is_empty()).copied().collect::<Vec<_>>().join(": ")
        }
        "reassigned" => {
            let assignees = summaries(data.get("assignees"))?;
            if assignees.is_empty() { title.to_string() } else { format!("assigned to {assignees}") }
        }
        "priority_updated" => match data.get("priority").get("summary").non_empty_str()? {
            Some(priority) => format!("priority {priority}"),
            None => "priority removed".to_string(),
        },
        _ => title.to_string(),
    };
    Ok(Some(PageRecord {
        time,
        action: PageAction::from_word(&action),
        actor,
        text,
        incident_id: incident_id.map(str::to_string),
        incident_title: incident_title.map(str::to_string),
        incident_key: incident_key.map(str::to_string),
    }))
}

/// Reads a file of v3 events: one event, a JSON array of them, or NDJSON (one per line).
/// Events that are not about an incident are left out.
pub fn parse_events(bytes: &[u8]) -> Result<Vec<PageRecord>> {
    // Each value with the line it starts on, so that NDJSON errors name the line.
    let mut values = Vec::new();
    let mut lines = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let mut previous_end = 0;
    while let Some(value) = stream.next() {
        let value = value.map_err(syntax_error)?;
        let gap = &bytes[previous_end..];
        let start = previous_end + gap.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(gap.len());
        lines.push(1 + bytes[..start].iter().filter(|byte| **byte == b'\n').count());
        values.push(value);
        previous_end = stream.byte_offset();
    }
    let mut records = Vec::new();
    match values.as_slice() {
        // Whitespace only: serde_json's own EOF error says where the document ended.
        [] => {
            return Err(parse_document(bytes)
                .err()
                .unwrap_or_else(|| ParseError::new("top level", "expected a PagerDuty v3 event, found nothing")));
        }
        [Value::Array(items)] => {
            let root = Node::root(&values[0]);
            for index in 0..items.len() {
                records.extend(read_event(root.item(items, index))?);
            }
        }
        [single] => records.extend(read_event(Node::root(single))?),
        several => {
            for (value, line) in several.iter().zip(&lines) {
                let root = Node::root(value);
                let record = read_event(root)
                    .map_err(|error| ParseError::new(format!("line {line}, {}", error.path), error.expected))?;
                records.extend(record);
            }
        }
    }
    Ok(records)
}

/// Reads REST log entries: `{"log_entries": […]}` (a page of the list), `{"log_entry":
/// {…}}` (one entry) or a bare array of entries.
pub fn parse_log_entries(bytes: &[u8]) -> Result<Vec<PageRecord>> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    let mut records = Vec::new();
    match &document {
        Value::Array(items) => {
            for index in 0..items.len() {
                records.push(read_log_entry(root.item(items, index))?);
            }
        }
        Value::Object(map) if map.contains_key("log_entry") => {
            records.push(read_log_entry(root.get("log_entry"))?);
        }
        _ => {
            let list = root.get("log_entries");
            let items = list.array(r#"an array of log entries (a "log_entries" response)"#)?;
            for index in 0..items.len() {
                records.push(read_log_entry(list.item(items, index))?);
            }
        }
    }
    Ok(records)
}

fn read_log_entry(entry: Node<'_, '_>) -> Result<PageRecord> {
    entry.object("a log entry object")?;
    let action = log_entry_action(entry.get("type").str()?);
    let time = entry.get("created_at").time()?;
    let actor = actor(entry)?;
    let incident = entry.get("incident");
    if !incident.is_absent() {
        incident.object("an incident reference or null")?;
    }
    let incident_id = incident.get("id").non_empty_str()?;
    // A reference has `summary`; with `include[]=incidents` it is the incident with `title`.
    let incident_title = match incident.get("title").non_empty_str()? {
        Some(title) => Some(title),
        None => incident.get("summary").non_empty_str()?,
    };
    let incident_key = incident.get("incident_key").non_empty_str()?;
    let summary = entry.get("summary").str_or_empty()?;
    let channel = entry.get("channel");
    if !channel.is_absent() {
        channel.object("a channel object or null")?;
    }

    let text = match action.as_str() {
        // The note's own text is in the channel (its `summary`, or `content`/`notes` in some
        // exports) or on the entry; the entry's summary only says "Note added".
        "annotated" => {
            let mut note = None;
            for field in [channel.get("summary"), channel.get("content"), channel.get("notes"), entry.get("note")] {
                if note.is_none() {
                    note = field.non_empty_str()?;
                }
            }
            note.unwrap_or(summary).to_string()
        }
        "notified" => {
            let user = entry.get("user").get("summary").non_empty_str()?;
            let channel_type = channel.get("type").non_empty_str()?;
            match (user, channel_type) {
                (Some(user), Some(channel_type)) => format!("{user} via {channel_type}"),
                (Some(user), None) => user.to_string(),
                _ => summary.to_string(),
            }
        }
        "reassigned" => {
            let assignees = summaries(entry.get("assignees"))?;
            if assignees.is_empty() { summary.to_string() } else { format!("assigned to {assignees}") }
        }
        _ => summary.to_string(),
    };
    Ok(PageRecord {
        time,
        action: PageAction::from_word(&action),
        actor,
        text,
        incident_id: incident_id.map(str::to_string),
        incident_title: incident_title.map(str::to_string),
        incident_key: incident_key.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Instant;

    fn instant(text: &str) -> Instant {
        text.parse().unwrap()
    }

    /// (action, actor, text, incident id, incident key) of a record, for compact rows.
    type Brief = (String, Option<String>, String, Option<String>, Option<String>);

    fn brief(record: &PageRecord) -> Brief {
        (
            record.action.as_str().to_owned(),
            record.actor.clone(),
            record.text.clone(),
            record.incident_id.clone(),
            record.incident_key.clone(),
        )
    }

    fn row(action: &str, actor: Option<&str>, text: &str, incident: Option<&str>, key: Option<&str>) -> Brief {
        (action.into(), actor.map(Into::into), text.into(), incident.map(Into::into), key.map(Into::into))
    }

    const INCIDENT_DATA: &str = r#"{"id":"Q1W2E3R4T5Y6U7","type":"incident","self":"https://api.pagerduty.com/incidents/Q1W2E3R4T5Y6U7",
        "html_url":"https://example.pagerduty.com/incidents/Q1W2E3R4T5Y6U7","number":42,"status":"triggered",
        "incident_key":"5c3a9e0f7d","created_at":"2025-02-09T10:06:50Z","title":"HighErrorRate: API 5xx",
        "service":{"id":"PSVC001","summary":"api","type":"service_reference"},
        "assignees":[{"id":"PUSR001","summary":"Alice Example","type":"user_reference"}],
        "escalation_policy":{"id":"PEP0001","summary":"api on-call","type":"escalation_policy_reference"},
        "teams":[],"priority":null,"urgency":"high","conference_bridge":null,"resolve_reason":null}"#;

    fn event(event_type: &str, agent: &str, data: &str) -> String {
        format!(
            r#"{{"event":{{"id":"01F0000000000000000000000","event_type":"{event_type}","resource_type":"incident",
            "occurred_at":"2025-02-09T10:12:00.123Z","agent":{agent},"client":null,"data":{data}}}}}"#
        )
    }

    const ALICE: &str = r#"{"html_url":"https://example.pagerduty.com/users/PUSR001","id":"PUSR001","self":"https://api.pagerduty.com/users/PUSR001","summary":"Alice Example","type":"user_reference"}"#;

    #[track_caller]
    fn check_event(body: &str, expected: Option<Brief>) {
        let record = parse_webhook_event(body.as_bytes()).unwrap();
        assert_eq!(record.as_ref().map(brief), expected, "{body}");
        if let Some(record) = record {
            assert_eq!(record.time, instant("2025-02-09T10:12:00.123Z"));
        }
    }

    #[test]
    fn webhook_events_map_to_actions() {
        let note = r#"{"incident":{"html_url":"https://example.pagerduty.com/incidents/Q1W2E3R4T5Y6U7","id":"Q1W2E3R4T5Y6U7",
            "self":"https://api.pagerduty.com/incidents/Q1W2E3R4T5Y6U7","summary":"HighErrorRate: API 5xx","type":"incident_reference"},
            "id":"PNOTE01","content":"rolling back api to r41","trimmed":false,"type":"incident_note"}"#;
        let status_update = r#"{"incident":{"id":"Q1W2E3R4T5Y6U7","summary":"HighErrorRate: API 5xx","type":"incident_reference"},
            "id":"PSU0001","message":"Errors are down after the rollback","sender":null,"type":"status_update"}"#;
        let responder = r#"{"incident":{"id":"Q1W2E3R4T5Y6U7","type":"incident_reference"},"user":{"summary":"Bob Example","type":"user_reference"},
            "escalation_policy":null,"message":"Please help with the DB","state":"pending","type":"incident_responder"}"#;
        let prioritized = INCIDENT_DATA
            .replace(r#""priority":null"#, r#""priority":{"id":"PPRI001","summary":"P1","type":"priority"}"#);
        let rows = [
            (
                event("incident.triggered", "null", INCIDENT_DATA),
                Some(row(
                    "triggered",
                    None,
                    "HighErrorRate: API 5xx",
                    Some("Q1W2E3R4T5Y6U7"),
                    Some("5c3a9e0f7d"),
                )),
            ),
            (
                event("incident.acknowledged", ALICE, INCIDENT_DATA),
                Some(row(
                    "acknowledged",
                    Some("Alice Example"),
                    "HighErrorRate: API 5xx",
                    Some("Q1W2E3R4T5Y6U7"),
                    Some("5c3a9e0f7d"),
                )),
            ),
            (
                event("incident.annotated", ALICE, note),
                Some(row(
                    "annotated",
                    Some("Alice Example"),
                    "rolling back api to r41",
                    Some("Q1W2E3R4T5Y6U7"),
                    None,
                )),
            ),
            (
                event("incident.status_update_published", ALICE, status_update),
                Some(row(
                    "status_update_published",
                    Some("Alice Example"),
                    "Errors are down after the rollback",
                    Some("Q1W2E3R4T5Y6U7"),
                    None,
                )),
            ),
            (
                event("incident.responder.added", ALICE, responder),
                Some(row(
                    "responder_added",
                    Some("Alice Example"),
                    "Bob Example: pending: Please help with the DB",
                    Some("Q1W2E3R4T5Y6U7"),
                    None,
                )),
            ),
            (
                event("incident.reassigned", ALICE, INCIDENT_DATA),
                Some(row(
                    "reassigned",
                    Some("Alice Example"),
                    "assigned to Alice Example",
                    Some("Q1W2E3R4T5Y6U7"),
                    Some("5c3a9e0f7d"),
                )),
            ),
            (
                event("incident.priority_updated", ALICE, &prioritized),
                Some(row(
                    "priority_updated",
                    Some("Alice Example"),
                    "priority P1",
                    Some("Q1W2E3R4T5Y6U7"),
                    Some("5c3a9e0f7d"),
                )),
            ),
            (
                event("incident.workflow.started", "null", INCIDENT_DATA),
                Some(row(
                    "workflow_started",
                    None,
                    "HighErrorRate: API 5xx",
                    Some("Q1W2E3R4T5Y6U7"),
                    Some("5c3a9e0f7d"),
                )),
            ),
            (
                r#"{"event":{"id":"01F1","event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2025-02-09T10:12:00.123Z","agent":null,"client":null,"data":{"message":"Hello from your friend Pagey!","type":"ping"}}}"#.to_string(),
                None,
            ),
            (
                // The bare event object, as a file may hold it.
                {
                    let wrapped = event("incident.resolved", ALICE, INCIDENT_DATA);
                    wrapped[r#"{"event":"#.len()..wrapped.len() - 1].to_string()
                },
                Some(row(
                    "resolved",
                    Some("Alice Example"),
                    "HighErrorRate: API 5xx",
                    Some("Q1W2E3R4T5Y6U7"),
                    Some("5c3a9e0f7d"),
                )),
            ),
        ];
        for (body, expected) in rows {
            check_event(&body, expected);
        }
    }

    #[test]
    fn webhook_event_errors_name_the_field() {
        let rows = [
            (event("incident.triggered", "null", "null"), "event.data: expected an event data object, found null"),
            (
                event("incident.triggered", "\"alice\"", INCIDENT_DATA),
                r#"event.agent: expected an agent reference or null, found "alice""#,
            ),
            (
                event("incident.triggered", "null", INCIDENT_DATA).replace("2025-02-09T10:12:00.123Z", "10:12"),
                r#"event.occurred_at: expected an RFC 3339 time, found "10:12""#,
            ),
            (r#"{"event":{"event_type":7}}"#.to_string(), "event.event_type: expected a string, found the number 7"),
            (r#"{"event":[]}"#.to_string(), "event: expected a PagerDuty v3 event object, found an array"),
            (
                r#"{"event":{"event_type":"incident.trig"#.to_string(),
                "line 1 column 37: expected more JSON (the document is truncated)",
            ),
        ];
        for (body, expected) in rows {
            let error = parse_webhook_event(body.as_bytes()).unwrap_err();
            assert_eq!(error.to_string(), expected, "{body}");
        }
    }

    #[test]
    fn event_files_hold_one_an_array_or_lines() {
        let triggered = event("incident.triggered", "null", INCIDENT_DATA).replace('\n', " ");
        let acknowledged = event("incident.acknowledged", ALICE, INCIDENT_DATA).replace('\n', " ");
        let ping = r#"{"event":{"event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2025-02-09T10:12:00Z","data":{}}}"#;
        let rows = [
            (triggered.clone(), vec!["triggered"]),
            (format!("[{triggered},\n{ping},{acknowledged}]"), vec!["triggered", "acknowledged"]),
            (format!("{triggered}\n{ping}\n{acknowledged}\n"), vec!["triggered", "acknowledged"]),
            ("[]".to_string(), vec![]),
        ];
        for (body, expected) in rows {
            let records = parse_events(body.as_bytes()).unwrap();
            let actions: Vec<&str> = records.iter().map(|record| record.action.as_str()).collect();
            assert_eq!(actions, expected, "{body}");
        }
        let error = parse_events(format!("{triggered}\n{{\"event\":{{}}}}\n").as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 2, event.event_type: expected a string, found nothing (the field is missing)"
        );
        let error = parse_events(b"  \n").unwrap_err();
        assert_eq!(error.to_string(), "line 2 column 0: expected more JSON (the document is truncated)");
    }

    fn log_entry(entry_type: &str, extra: &str) -> String {
        format!(
            r#"{{"id":"R2XGXEI3W1","type":"{entry_type}","summary":"Summary of {entry_type}","self":"https://api.pagerduty.com/log_entries/R2XGXEI3W1",
            "html_url":null,"created_at":"2025-02-09T10:12:00Z",
            "agent":{{"id":"PUSR001","type":"user_reference","summary":"Alice Example"}},
            "channel":{{"type":"web_ui"}},"service":{{"id":"PSVC001","type":"service_reference","summary":"api"}},
            "incident":{{"id":"Q1W2E3R4T5Y6U7","type":"incident_reference","summary":"[#42] HighErrorRate: API 5xx"}},
            "teams":[],"contexts":[],"event_details":{{}}{extra}}}"#
        )
    }

    #[test]
    fn log_entries_map_to_the_same_actions() {
        let rows = [
            (
                log_entry("trigger_log_entry", ""),
                row("triggered", Some("Alice Example"), "Summary of trigger_log_entry", Some("Q1W2E3R4T5Y6U7"), None),
            ),
            (
                log_entry("acknowledge_log_entry", ""),
                row(
                    "acknowledged",
                    Some("Alice Example"),
                    "Summary of acknowledge_log_entry",
                    Some("Q1W2E3R4T5Y6U7"),
                    None,
                ),
            ),
            (
                log_entry("annotate_log_entry", "")
                    .replace(r#"{"type":"web_ui"}"#, r#"{"type":"note","summary":"db pool at max"}"#),
                row("annotated", Some("Alice Example"), "db pool at max", Some("Q1W2E3R4T5Y6U7"), None),
            ),
            // Exports that keep the note's text elsewhere: never "Note added" when it is there.
            (
                log_entry("annotate_log_entry", "")
                    .replace(r#"{"type":"web_ui"}"#, r#"{"type":"note","content":"rolling back 2.4.0"}"#),
                row("annotated", Some("Alice Example"), "rolling back 2.4.0", Some("Q1W2E3R4T5Y6U7"), None),
            ),
            (
                log_entry("annotate_log_entry", "")
                    .replace(r#"{"type":"web_ui"}"#, r#"{"type":"note","notes":"paged the db team"}"#),
                row("annotated", Some("Alice Example"), "paged the db team", Some("Q1W2E3R4T5Y6U7"), None),
            ),
            (
                log_entry("annotate_log_entry", r#","note":"failover started""#),
                row("annotated", Some("Alice Example"), "failover started", Some("Q1W2E3R4T5Y6U7"), None),
            ),
            (
                log_entry(
                    "notify_log_entry",
                    r#","user":{"id":"PUSR002","type":"user_reference","summary":"Bob Example"}"#,
                )
                .replace(r#"{"type":"web_ui"}"#, r#"{"type":"sms"}"#),
                row("notified", Some("Alice Example"), "Bob Example via sms", Some("Q1W2E3R4T5Y6U7"), None),
            ),
            (
                log_entry(
                    "assign_log_entry",
                    r#","assignees":[{"id":"PUSR002","type":"user_reference","summary":"Bob Example"}]"#,
                ),
                row("reassigned", Some("Alice Example"), "assigned to Bob Example", Some("Q1W2E3R4T5Y6U7"), None),
            ),
            (
                log_entry("reach_trigger_limit_log_entry", ""),
                row(
                    "reach_trigger_limit",
                    Some("Alice Example"),
                    "Summary of reach_trigger_limit_log_entry",
                    Some("Q1W2E3R4T5Y6U7"),
                    None,
                ),
            ),
            (
                log_entry("resolve_log_entry", "").replace(
                    r#""type":"incident_reference","summary":"[#42] HighErrorRate: API 5xx""#,
                    r#""type":"incident","title":"HighErrorRate: API 5xx","incident_key":"5c3a9e0f7d""#,
                ),
                row(
                    "resolved",
                    Some("Alice Example"),
                    "Summary of resolve_log_entry",
                    Some("Q1W2E3R4T5Y6U7"),
                    Some("5c3a9e0f7d"),
                ),
            ),
        ];
        for (entry, expected) in rows {
            let body = format!(r#"{{"log_entries":[{entry}],"limit":25,"offset":0,"more":false,"total":null}}"#);
            let records = parse_log_entries(body.as_bytes()).unwrap();
            assert_eq!(records.iter().map(brief).collect::<Vec<_>>(), vec![expected], "{entry}");
            assert_eq!(records[0].time, instant("2025-02-09T10:12:00Z"));
        }
    }

    #[test]
    fn log_entry_shapes_and_errors() {
        let entry = log_entry("escalate_log_entry", "");
        for body in [format!("[{entry}]"), format!(r#"{{"log_entry":{entry}}}"#)] {
            let records = parse_log_entries(body.as_bytes()).unwrap();
            assert_eq!(records[0].action.as_str(), "escalated");
        }
        let rows = [
            (
                r#"{"incidents":[]}"#.to_string(),
                r#"log_entries: expected an array of log entries (a "log_entries" response), found nothing (the field is missing)"#,
            ),
            (
                format!(
                    r#"{{"log_entries":[{}]}}"#,
                    entry.replace(r#""created_at":"2025-02-09T10:12:00Z""#, r#""created_at":null"#)
                ),
                "log_entries[0].created_at: expected an RFC 3339 time, found null",
            ),
            (r#"{"log_entries":[{"type":null}]}"#.to_string(), "log_entries[0].type: expected a string, found null"),
        ];
        for (body, expected) in rows {
            let error = parse_log_entries(body.as_bytes()).unwrap_err();
            assert_eq!(error.to_string(), expected, "{body}");
        }
    }
}
