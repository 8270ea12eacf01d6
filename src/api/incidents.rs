//! Reading: `GET /api/v1/incidents[/{id}[/timeline]]` and `GET /`. Timelines come from the
//! drafting pipeline over the incident's stored signals, cached per incident until a new
//! webhook arrives (and, while the incident is open, for at most a few seconds, since its
//! window ends "now").

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::api::AppState;
use crate::api::error::{ApiError, Result};
use crate::incident::{self, WindowRules};
use crate::ingest::{alertmanager, pagerduty};
use crate::record::{Instant, Record};
use crate::store::{IncidentFilter, IncidentRow};
use crate::timeline::render::{self, Format, html};
use crate::timeline::{self, Evidence, Timeline};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    since: Option<String>,
}

pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Result<Json<serde_json::Value>> {
    let filter = filter(query)?;
    let rows = state.store.incidents(&filter).await.map_err(|error| ApiError::unavailable(&error))?;
    Ok(Json(serde_json::Value::Array(rows.iter().map(|row| summary(&state, row)).collect())))
}

fn filter(query: ListQuery) -> Result<IncidentFilter> {
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(status @ ("open" | "resolved")) => Some(status.to_owned()),
        Some(other) => {
            return Err(ApiError::bad_request(format!("status: expected open or resolved, found {other:?}")));
        }
    };
    let since = match query.since.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<Instant>()
                .map_err(|_| ApiError::bad_request(format!("since: expected an RFC 3339 time, found {text:?}")))?,
        ),
    };
    Ok(IncidentFilter { status, since })
}

pub async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<serde_json::Value>> {
    let row = find(&state, id).await?;
    Ok(Json(summary(&state, &row)))
}

async fn find(state: &AppState, id: i64) -> Result<IncidentRow> {
    state
        .store
        .incident(id)
        .await
        .map_err(|error| ApiError::unavailable(&error))?
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))
}

/// The list entry of an incident.
fn summary(state: &AppState, row: &IncidentRow) -> serde_json::Value {
    let rules = &state.settings.window;
    let start = row.opened_at.checked_sub(rules.lead_in).unwrap_or(row.opened_at);
    let end = row.resolved_at.and_then(|resolved| resolved.checked_add(rules.tail).ok());
    serde_json::json!({
        "id": row.id,
        "title": row.title,
        "status": row.status,
        "severity": row.severity,
        "window": { "start": start.to_string(), "end": end.map(|end| end.to_string()) },
        "opened_at": row.opened_at.to_string(),
        "last_signal_at": row.last_signal_at.to_string(),
        "resolved_at": row.resolved_at.map(|resolved| resolved.to_string()),
        "sources": row.sources,
        "counts": { "webhooks": row.n_webhooks, "truncated_alerts": row.truncated_alerts },
        "links": { "timeline": format!("/api/v1/incidents/{}/timeline", row.id) },
    })
}

#[derive(Debug, Deserialize)]
pub struct TimelineQuery {
    format: Option<String>,
}

pub async fn timeline(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<TimelineQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let format = negotiate(query.format.as_deref(), &headers)?;
    let row = find(&state, id).await?;
    let timeline = cached_timeline(&state, &row).await?;
    let body = render::render(&timeline, format);
    let content_type = match format {
        Format::Json => "application/json",
        Format::Markdown => "text/markdown; charset=utf-8",
        Format::Html => "text/html; charset=utf-8",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// `?format=` wins; else the first of HTML, Markdown, JSON the `Accept` header names.
fn negotiate(format: Option<&str>, headers: &HeaderMap) -> Result<Format> {
    if let Some(format) = format {
        return format.parse().map_err(|message: String| ApiError::bad_request(format!("format: {message}")));
    }
    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or("");
    for media_type in accept.split(',').map(|part| part.split(';').next().unwrap_or("").trim()) {
        match media_type {
            "text/html" => return Ok(Format::Html),
            "text/markdown" | "text/x-markdown" => return Ok(Format::Markdown),
            "application/json" | "*/*" | "application/*" => return Ok(Format::Json),
            _ => {}
        }
    }
    if accept.is_empty() {
        Ok(Format::Json)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Accept: this resource is application/json, text/markdown or text/html",
        ))
    }
}

/// How long an open incident's timeline is reused: its window ends "now".
const OPEN_TIMELINE_SECONDS: f64 = 5.0;

async fn cached_timeline(state: &AppState, row: &IncidentRow) -> Result<Arc<Timeline>> {
    if let Some(timeline) = state.cached(row) {
        return Ok(timeline);
    }
    let webhooks = state.store.incident_webhooks(row.id).await.map_err(|error| ApiError::unavailable(&error))?;
    let rules = WindowRules { lead_in: state.settings.window.lead_in, tail: state.settings.window.tail };
    let row_for_build = row.clone();
    let started = std::time::Instant::now();
    let built = tokio::task::spawn_blocking(move || {
        let records = records_of(&webhooks);
        build(&row_for_build, records, &rules, Instant::now())
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "Timeline build panicked.");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the timeline could not be built")
    })?;
    state.metrics.timeline_built(started.elapsed().as_secs_f64());
    let timeline = Arc::new(built);
    state.remember(row, timeline.clone());
    Ok(timeline)
}

/// The records of an incident's stored webhooks, through the parsers `draft` uses. A
/// body that no longer parses (a parser got stricter) is skipped, not fatal.
fn records_of(webhooks: &[crate::store::StoredWebhook]) -> Vec<Record> {
    let mut records = Vec::new();
    for webhook in webhooks {
        match webhook.source.as_str() {
            "alertmanager" => match alertmanager::parse_webhook(&webhook.body) {
                Ok(payload) => records.extend(payload.into_records()),
                Err(error) => {
                    tracing::warn!(%error, webhook = webhook.id, "Stored Alertmanager body no longer parses.")
                }
            },
            "pagerduty" => match pagerduty::parse_webhook_event(&webhook.body) {
                Ok(page) => records.extend(page.map(Record::Page)),
                Err(error) => tracing::warn!(%error, webhook = webhook.id, "Stored PagerDuty body no longer parses."),
            },
            _ => {}
        }
    }
    records
}

/// The incident's timeline: the drafting pipeline over its records, plus what only the
/// daemon knows (alerts Alertmanager did not deliver).
pub fn build(row: &IncidentRow, records: Vec<Record>, rules: &WindowRules, now: Instant) -> Timeline {
    let open = row.status == "open";
    let data_span = open.then_some((row.opened_at, now));
    let window = incident::window(&records, rules, None, data_span).unwrap_or_else(|_| timeline::Window {
        start: row.opened_at,
        end: now.max(row.opened_at),
        baseline_end: row.opened_at,
    });
    let title = incident::title(&records, &window);
    timeline::build(Evidence { title, window, records, digests: Vec::new() }, &timeline::Options::default())
}

impl AppState {
    fn cached(&self, row: &IncidentRow) -> Option<Arc<Timeline>> {
        let cache = self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (last_webhook_id, built_at, timeline) = cache.get(&row.id)?;
        let fresh = row.status != "open" || built_at.elapsed().as_secs_f64() < OPEN_TIMELINE_SECONDS;
        (*last_webhook_id == row.last_webhook_id && fresh).then(|| timeline.clone())
    }

    fn remember(&self, row: &IncidentRow, timeline: Arc<Timeline>) {
        let mut cache = self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.insert(row.id, (row.last_webhook_id, std::time::Instant::now(), timeline));
    }

    /// Forgets an incident's timeline: a webhook for it arrived.
    pub fn invalidate(&self, incident_id: Option<i64>) {
        if let Some(incident_id) = incident_id {
            self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&incident_id);
        }
    }
}

/// `GET /`: the incidents as an HTML page linking to their timelines.
pub async fn index(State(state): State<AppState>) -> Result<Html<String>> {
    let rows =
        state.store.incidents(&IncidentFilter::default()).await.map_err(|error| ApiError::unavailable(&error))?;
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>postmortemd</title>\
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}.open{color:#b00}</style></head><body>\n\
<h1>Incidents</h1>\n",
    );
    if rows.is_empty() {
        page.push_str("<p>No incidents yet. Point Alertmanager's webhook_configs or a PagerDuty v3 subscription at this server.</p>\n");
    } else {
        page.push_str("<table><tr><th>Opened (UTC)</th><th>Incident</th><th>Status</th><th>Severity</th><th>Sources</th><th>Signals</th></tr>\n");
        for row in &rows {
            page.push_str(&format!(
                "<tr><td>{}</td><td><a href=\"/api/v1/incidents/{id}/timeline?format=html\">{}</a> \
(<a href=\"/api/v1/incidents/{id}/timeline?format=md\">md</a>, <a href=\"/api/v1/incidents/{id}/timeline?format=json\">json</a>)</td>\
<td class=\"{status}\">{status}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                row.opened_at.strftime("%F %H:%M:%S"),
                html::escape(if row.title.is_empty() { "(untitled)" } else { &row.title }),
                html::escape(row.severity.as_deref().unwrap_or("-")),
                html::escape(&row.sources.join(", ")),
                row.n_webhooks,
                id = row.id,
                status = html::escape(&row.status),
            ));
        }
        page.push_str("</table>\n");
    }
    page.push_str("</body></html>\n");
    Ok(Html(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_negotiate(format: Option<&str>, accept: Option<&str>, expected: Option<Format>) {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, accept.parse().unwrap());
        }
        assert_eq!(negotiate(format, &headers).ok(), expected, "{format:?} {accept:?}");
    }

    #[test]
    fn formats_by_query_then_accept() {
        check_negotiate(Some("md"), Some("text/html"), Some(Format::Markdown));
        check_negotiate(None, Some("text/html,application/xhtml+xml;q=0.9"), Some(Format::Html));
        check_negotiate(None, Some("text/markdown"), Some(Format::Markdown));
        check_negotiate(None, None, Some(Format::Json));
        check_negotiate(None, Some("*/*"), Some(Format::Json));
        check_negotiate(None, Some("image/png"), None);
        check_negotiate(Some("pdf"), None, None);
    }
}
