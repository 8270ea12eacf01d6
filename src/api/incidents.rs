//! Reading: `GET /api/v1/incidents[/{id}[/timeline|/postmortem|/evidence.tar.gz]]` and `GET /`.
//! Timelines are `draft` over the incident's evidence bundle (its webhooks and collected
//! evidence), cached per incident until a new webhook or collection pass arrives (and, while
//! the incident is open, for at most a few seconds, since its window ends "now").

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::api::AppState;
use crate::api::error::{ApiError, Result};
use jiff::SignedDuration;

use crate::artifacts::bundle::Bundle;
use crate::config::WindowSettings;
use crate::draft::{self, DraftOptions};
use crate::incident::WindowRules;
use crate::record::Instant;
use crate::store::{IncidentFilter, IncidentRow, IncidentStatus};
use crate::timeline::Timeline;
use crate::timeline::render::{self, Format, html};

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
        Some(word) => Some(
            IncidentStatus::from_word(word)
                .ok_or_else(|| ApiError::bad_request(format!("status: expected open or resolved, found {word:?}")))?,
        ),
    };
    let since = match query.since.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            crate::ingest::json::parse_time(text)
                .ok_or_else(|| ApiError::bad_request(format!("since: expected an RFC 3339 time, found {text:?}")))?,
        ),
    };
    Ok(IncidentFilter { status, since })
}

pub async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<serde_json::Value>> {
    let row = find(&state, id).await?;
    let mut incident = summary(&state, &row);
    let collection = state.store.collection(id).await.map_err(|error| ApiError::unavailable(&error))?;
    incident["collection"] = match collection {
        Some(collection) => serde_json::json!({
            "passes": collection.passes,
            "last_run_at": collection.last_run_at.map(|time| time.to_string()),
            "next_run_at": collection.finished_at.is_none().then(|| collection.next_run_at.to_string()),
            "finished_at": collection.finished_at.map(|time| time.to_string()),
            "gaps": collection.n_gaps,
        }),
        None => serde_json::Value::Null,
    };
    Ok(Json(incident))
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
    let (start, end) = window_rules(&state.settings.window).span(row.opened_at, resolution(row));
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
        "counts": {
            "webhooks": row.n_webhooks,
            "truncated_alerts": row.truncated_alerts,
            "reconciled": row.n_reconciled,
        },
        "reconciled": row.n_reconciled > 0,
        "links": {
            "timeline": format!("/api/v1/incidents/{}/timeline", row.id),
            "postmortem": format!("/api/v1/incidents/{}/postmortem", row.id),
        },
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
    rendered(&state, id, &query, &headers, render::render).await
}

/// `GET /api/v1/incidents/{id}/postmortem`: the post-mortem drafted from the incident's
/// timeline (the cached build the timeline route serves), in the format negotiated alike.
pub async fn postmortem(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<TimelineQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    rendered(&state, id, &query, &headers, |timeline, format| {
        crate::postmortem::render::render(timeline, &crate::postmortem::draft(timeline), format)
    })
    .await
}

/// The incident's cached timeline, rendered by `render` in the negotiated format.
async fn rendered(
    state: &AppState,
    id: i64,
    query: &TimelineQuery,
    headers: &HeaderMap,
    render: impl FnOnce(&Timeline, Format) -> String,
) -> Result<Response> {
    let format = negotiate(query.format.as_deref(), headers)?;
    let row = find(state, id).await?;
    let timeline = cached_timeline(state, &row).await?;
    let body = render(&timeline, format);
    Ok(([(header::CONTENT_TYPE, format.content_type())], body).into_response())
}

/// `?format=` wins; else the first of HTML, Markdown, JSON the `Accept` header names.
fn negotiate(format: Option<&str>, headers: &HeaderMap) -> Result<Format> {
    if let Some(format) = format {
        return format
            .parse()
            .map_err(|error: render::UnknownFormat| ApiError::bad_request(format!("format: {error}")));
    }
    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or("");
    if let Some(format) =
        accept.split(',').find_map(|part| Format::of_media_type(part.split(';').next().unwrap_or("").trim()))
    {
        return Ok(format);
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
    let passes = state.store.passes(row.id).await.map_err(|error| ApiError::unavailable(&error))?;
    if let Some(timeline) = state.cached(row, passes) {
        return Ok(timeline);
    }
    // One build per incident at a time: who waited on it finds its result cached. The build
    // holds the lock until it has cached its result, even when the reader who started it
    // left; it stops at its next log chunk when nobody waits any more (no reader holds the
    // lock's `Arc` but the map and the build itself).
    let lock = state.build_lock(row.id);
    let building = lock.clone().lock_owned().await;
    if let Some(timeline) = state.cached(row, passes) {
        return Ok(timeline);
    }
    let watched = Arc::downgrade(&lock);
    let wanted = move || std::sync::Weak::strong_count(&watched) > 2;
    let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bundle = bundle_of(state, row.id, Some((Box::new(wanted), cancelled.clone()))).await?;
    let options = draft_options(&state.settings.window, row, Instant::now());
    let (state, row) = (state.clone(), row.clone());
    let incident = row.id;
    let built = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let built = draft::draft_artifacts(&bundle, &options);
        if cancelled.load(std::sync::atomic::Ordering::Relaxed) {
            state.metrics.timeline_cancelled();
            tracing::debug!(incident, "Timeline build stopped: nobody waits for it any more.");
            return None;
        }
        let built = built.map(|timeline| {
            state.metrics.timeline_built(started.elapsed().as_secs_f64());
            let timeline = Arc::new(timeline);
            state.remember(&row, passes, timeline.clone());
            timeline
        });
        drop(building);
        Some(built)
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "Timeline build panicked.");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the timeline could not be built")
    })?;
    match built {
        Some(Ok(timeline)) => Ok(timeline),
        Some(Err(error)) => {
            tracing::error!(%error, incident, "Timeline build failed.");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the timeline could not be built"))
        }
        // NB: only when no reader waits, this one included; nobody reads this answer.
        None => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the timeline build was abandoned")),
    }
}

/// Whether anyone still waits for a build, and where the build notes that it stopped.
type Wanted = (Box<dyn Fn() -> bool + Send + Sync>, Arc<std::sync::atomic::AtomicBool>);

/// An incident's webhooks and collected evidence as the files of its bundle. With `wanted`,
/// reading a log chunk when nobody waits any more fails and marks the build cancelled.
async fn bundle_of(state: &AppState, incident_id: i64, wanted: Option<Wanted>) -> Result<Bundle> {
    let webhooks = state.store.incident_webhooks(incident_id).await.map_err(|error| ApiError::unavailable(&error))?;
    let evidence = state.store.evidence(incident_id).await.map_err(|error| ApiError::unavailable(&error))?;
    // The bundle is read on a blocking thread (`spawn_blocking`), which may wait on the
    // runtime for each log chunk: only one is in memory at a time.
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let fetch_chunk = Box::new(move |chunk_id: i64| {
        if let Some((wanted, cancelled)) = &wanted
            && !wanted()
        {
            cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, "nobody waits for this timeline"));
        }
        match runtime.block_on(store.log_chunk(chunk_id)) {
            Ok(Some(body)) => Ok(body),
            Ok(None) => Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("log chunk {chunk_id} is gone"))),
            Err(error) => Err(std::io::Error::other(error)),
        }
    });
    // Made now: nothing in it was written later.
    Ok(Bundle::assemble(&webhooks, evidence, &state.not_configured, fetch_chunk).written_at(Instant::now()))
}

/// How the daemon drafts an incident: as `draft` would its bundle, except that an open
/// incident's window runs to `now`.
pub fn draft_options(settings: &WindowSettings, row: &IncidentRow, now: Instant) -> DraftOptions {
    let (start, end) = window_rules(settings).span(row.opened_at, resolution(row));
    let open_window =
        end.is_none().then(|| (start, now.max(row.last_signal_at).max(start + SignedDuration::from_secs(1))));
    DraftOptions { window: open_window, lead_in: settings.lead_in, tail: settings.tail, ..DraftOptions::default() }
}

fn window_rules(settings: &WindowSettings) -> WindowRules {
    WindowRules { lead_in: settings.lead_in, tail: settings.tail }
}

/// When an incident resolved, if it is resolved.
fn resolution(row: &IncidentRow) -> Option<Instant> {
    row.resolved_at.filter(|_| row.status == IncidentStatus::Resolved)
}

/// `GET /api/v1/incidents/{id}/evidence.tar.gz`: the incident's evidence as the files
/// `postmortemd draft` reads.
pub async fn evidence(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Response> {
    find(&state, id).await?;
    let bundle = bundle_of(&state, id, None).await?;
    let prefix = format!("incident-{id}");
    let body = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        bundle.write_tar_gz(&prefix, &mut out).map(|()| out)
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the bundle could not be written"))?
    .map_err(|error| {
        tracing::error!(%error, incident = id, "Evidence bundle failed.");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the bundle could not be written")
    })?;
    let disposition = format!("attachment; filename=\"incident-{id}-evidence.tar.gz\"");
    Ok(([(header::CONTENT_TYPE, "application/gzip".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response())
}

impl AppState {
    fn cached(&self, row: &IncidentRow, passes: i64) -> Option<Arc<Timeline>> {
        let cache = self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (key, built_at, timeline) = cache.get(&row.id)?;
        let fresh = row.status != IncidentStatus::Open || built_at.elapsed().as_secs_f64() < OPEN_TIMELINE_SECONDS;
        (*key == (row.last_webhook_id, passes) && fresh).then(|| timeline.clone())
    }

    /// The lock that one build of an incident's timeline holds; the map keeps only those
    /// someone holds or waits on.
    fn build_lock(&self, incident_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut building = self.building.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        building.retain(|_, lock| Arc::strong_count(lock) > 1);
        building.entry(incident_id).or_default().clone()
    }

    fn remember(&self, row: &IncidentRow, passes: i64, timeline: Arc<Timeline>) {
        let mut cache = self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.insert(row.id, ((row.last_webhook_id, passes), std::time::Instant::now(), timeline));
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
                html::escape(&row.sources.iter().map(|source| source.as_str()).collect::<Vec<_>>().join(", ")),
                row.n_webhooks,
                id = row.id,
                status = row.status,
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
