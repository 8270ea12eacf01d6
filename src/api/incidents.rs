//! Reading: `GET /api/v1/incidents[/{id}[/timeline|/postmortem|/evidence.tar.gz]]` and `GET /`.
//! Timelines are `draft` over the incident's evidence bundle (its webhooks and collected
//! evidence), cached per incident until a new webhook or collection pass arrives (and, while
//! the incident is open, for at most a few seconds, since its window ends "now").

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::error::{ApiError, Result};
use crate::api::{AppState, TimelineKey, pages};
use jiff::SignedDuration;

use crate::artifacts::bundle::Bundle;
use crate::config::WindowSettings;
use crate::draft::{self, DraftOptions};
use crate::incident::WindowRules;
use crate::page as incident_page;
use crate::record::Instant;
use crate::store::{IncidentFilter, IncidentRow, IncidentStatus, Responders};

use crate::timeline::Timeline;
use crate::timeline::render::{self, Format, html};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    since: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Incidents a page holds unless `?limit=` says otherwise, and the most it may say.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

/// `GET /api/v1/incidents`: a page of incidents, newest first, and the cursor of the next.
pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Result<Json<serde_json::Value>> {
    let (rows, next_cursor) = page(&state, filter(query)?).await?;
    Ok(Json(serde_json::json!({
        "incidents": rows.iter().map(|row| summary(&state, row)).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// A page of incidents as `filter` asks (its `limit` set), and the cursor of the next page
/// when there is one: one row more than the page is read to know.
async fn page(state: &AppState, mut filter: IncidentFilter) -> Result<(Vec<IncidentRow>, Option<String>)> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    filter.limit = Some(limit + 1);
    let mut rows = state.store.incidents(&filter).await.map_err(|error| ApiError::unavailable(&error))?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    // The cursor is the stored row's (the list's order), before merged ones are absorbed.
    let next = rows.last().filter(|_| more).map(|last| cursor(last.opened_at, last.id));
    for row in &mut rows {
        absorb_merged(state, row).await?;
    }
    Ok((rows, next))
}

/// The opaque cursor after an incident: its opening time (milliseconds) and id, each the
/// hex of its 64 bits.
fn cursor(opened_at: Instant, id: i64) -> String {
    format!("{:x}.{:x}", opened_at.as_millisecond().cast_unsigned(), id.cast_unsigned())
}

/// The inverse of [`cursor`]; `None` for anything it did not write.
fn parse_cursor(text: &str) -> Option<(Instant, i64)> {
    let (millis, id) = text.split_once('.')?;
    let hex = |part: &str| {
        (!part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)))
            .then(|| u64::from_str_radix(part, 16).ok())
            .flatten()
            .map(u64::cast_signed)
    };
    // A time past what jiff holds reads as its bound: every cursor of the documented form
    // is accepted (and pages from there), as the OpenAPI document promises.
    let millis = hex(millis)?;
    let opened_at = Instant::from_millisecond(millis).unwrap_or(if millis < 0 { Instant::MIN } else { Instant::MAX });
    Some((opened_at, hex(id)?))
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
    let limit = match query.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => text.parse().ok().filter(|limit| (1..=MAX_LIMIT).contains(limit)).ok_or_else(|| {
            ApiError::bad_request(format!("limit: expected an integer from 1 to {MAX_LIMIT}, found {text:?}"))
        })?,
    };
    let after = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(text) => Some(parse_cursor(text).ok_or_else(|| {
            ApiError::bad_request(format!("cursor: not a cursor this server gave (next_cursor), found {text:?}"))
        })?),
    };
    Ok(IncidentFilter { status, since, limit: Some(limit), after })
}

pub async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<serde_json::Value>> {
    let viewed = view(&state, id).await?;
    let mut incident = summary(&state, &viewed.row);
    incident["merged_from"] = serde_json::json!(viewed.responders.merged_from);
    if let Some(into) = viewed.responders.merged_into {
        incident["merged_into"] = serde_json::json!(into);
        incident["links"]["merged_into"] = serde_json::json!(format!("/api/v1/incidents/{into}"));
    }
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

/// An incident as it is read: its row with the incidents merged into it absorbed
/// ([`IncidentRow::absorb`]), and what responders added to it and to them.
#[derive(Clone, Debug)]
struct Viewed {
    row: IncidentRow,
    responders: Responders,
}

impl Viewed {
    /// The incident and those merged into it: whose webhooks and evidence it reads.
    fn ids(&self) -> Vec<i64> {
        std::iter::once(self.row.id).chain(self.responders.merged_from.iter().copied()).collect()
    }
}

async fn view(state: &AppState, id: i64) -> Result<Viewed> {
    let mut row = find(state, id).await?;
    let responders = absorb_merged(state, &mut row).await?;
    Ok(Viewed { row, responders })
}

/// Absorbs into `row` the incidents merged into it, and says what responders added.
async fn absorb_merged(state: &AppState, row: &mut IncidentRow) -> Result<Responders> {
    let responders = state.store.responders(row.id).await.map_err(|error| ApiError::unavailable(&error))?;
    for merged in &responders.merged_from {
        if let Some(other) = state.store.incident(*merged).await.map_err(|error| ApiError::unavailable(&error))? {
            row.absorb(&other);
        }
    }
    Ok(responders)
}

/// The answer of a read route of an incident merged into another: 301 to the same route of
/// that one, and where it went in the body.
fn moved(viewed: &Viewed, route: &str, query: Option<&str>) -> Option<Response> {
    let into = viewed.responders.merged_into?;
    let location = format!(
        "/api/v1/incidents/{into}{route}{}",
        query.filter(|query| !query.is_empty()).map(|query| format!("?{query}")).unwrap_or_default()
    );
    let body = serde_json::json!({ "merged_into": into, "location": location });
    Some((StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)], Json(body)).into_response())
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
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response> {
    rendered(&state, id, &query, (&uri, "/timeline"), &headers, |timeline, format, row| {
        let served = incident_page::Served { status: Some(row.status.to_string()), incident: Some(row.id) };
        incident_page::render(timeline, format, &served)
    })
    .await
}

/// `GET /api/v1/incidents/{id}/postmortem`: the post-mortem drafted from the incident's
/// timeline (the cached build the timeline route serves), in the format negotiated alike.
pub async fn postmortem(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<TimelineQuery>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response> {
    rendered(&state, id, &query, (&uri, "/postmortem"), &headers, |timeline, format, _| {
        crate::postmortem::render::render(timeline, &crate::postmortem::draft(timeline), format)
    })
    .await
}

/// The incident's cached timeline, rendered by `render` in the negotiated format (the
/// incident's row at hand for what only the daemon knows).
async fn rendered(
    state: &AppState,
    id: i64,
    query: &TimelineQuery,
    (uri, route): (&axum::http::Uri, &str),
    headers: &HeaderMap,
    render: impl FnOnce(&Timeline, Format, &IncidentRow) -> String,
) -> Result<Response> {
    let format = negotiate(query.format.as_deref(), headers)?;
    let viewed = view(state, id).await?;
    if let Some(moved) = moved(&viewed, route, uri.query()) {
        return Ok(moved);
    }
    let timeline = cached_timeline(state, &viewed).await?;
    let body = render(&timeline, format, &viewed.row);
    if format == Format::Html {
        return Ok((pages::page_headers(html::STYLE), body).into_response());
    }
    Ok(([(header::CONTENT_TYPE, format.content_type())], body).into_response())
}

/// `?format=` wins; else the first of HTML, Markdown, JSON the `Accept` header names.
pub(crate) fn negotiate(format: Option<&str>, headers: &HeaderMap) -> Result<Format> {
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

async fn cached_timeline(state: &AppState, viewed: &Viewed) -> Result<Arc<Timeline>> {
    let row = &viewed.row;
    let mut passes = 0;
    for id in viewed.ids() {
        passes += state.store.passes(id).await.map_err(|error| ApiError::unavailable(&error))?;
    }
    let passes = (passes, viewed.responders.revision);
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
    let bundle = bundle_of(state, viewed, Some((Box::new(wanted), cancelled.clone()))).await?;
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

/// An incident's webhooks, collected evidence and responders' inputs (its own and those
/// of the incidents merged into it) as the files of its bundle. With `wanted`, reading a
/// log chunk when nobody waits any more fails and marks the build cancelled.
async fn bundle_of(state: &AppState, viewed: &Viewed, wanted: Option<Wanted>) -> Result<Bundle> {
    let mut webhooks = Vec::new();
    let mut evidence = crate::store::StoredEvidence::default();
    for id in viewed.ids() {
        webhooks.extend(state.store.incident_webhooks(id).await.map_err(|error| ApiError::unavailable(&error))?);
        let more = state.store.evidence(id).await.map_err(|error| ApiError::unavailable(&error))?;
        evidence.logs.extend(more.logs);
        evidence.objects.extend(more.objects);
        evidence.gaps.extend(more.gaps);
        // NB: a file of the same path (a Prometheus answer) is the incident's own: each pass
        // queries the whole window again, so the merged one's says less.
        for (path, body) in more.files {
            if !evidence.files.iter().any(|(known, _)| *known == path) {
                evidence.files.push((path, body));
            }
        }
    }
    webhooks.sort_by_key(|webhook| webhook.id);
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
    Ok(Bundle::assemble(&webhooks, evidence, &state.not_configured, fetch_chunk)
        .with_responders(&viewed.responders.inputs)
        .written_at(Instant::now()))
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
    let viewed = view(&state, id).await?;
    if let Some(moved) = moved(&viewed, "/evidence.tar.gz", None) {
        return Ok(moved);
    }
    let bundle = bundle_of(&state, &viewed, None).await?;
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

/// What a timeline is cached under, read from the store on every request, so a webhook, a
/// pass or a responder's input another replica stored changes it too: the incident's newest
/// webhook id, its number of webhooks (on PostgreSQL ids are drawn before commit, so a webhook
/// committed late may have an id below the newest; the count still moves), its passes and its
/// responder revision (of it and the incidents merged into it).
fn timeline_key(row: &IncidentRow, (passes, revision): (i64, i64)) -> TimelineKey {
    (row.last_webhook_id, row.n_webhooks, passes, revision)
}

impl AppState {
    /// `passes` is `(collection passes, responder revision)` of the incident as read.
    fn cached(&self, row: &IncidentRow, (passes, revision): (i64, i64)) -> Option<Arc<Timeline>> {
        let cache = self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (key, built_at, timeline) = cache.get(&row.id)?;
        let fresh = row.status != IncidentStatus::Open || built_at.elapsed().as_secs_f64() < OPEN_TIMELINE_SECONDS;
        (*key == timeline_key(row, (passes, revision)) && fresh).then(|| timeline.clone())
    }

    /// The lock that one build of an incident's timeline holds; the map keeps only those
    /// someone holds or waits on.
    fn build_lock(&self, incident_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut building = self.building.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        building.retain(|_, lock| Arc::strong_count(lock) > 1);
        building.entry(incident_id).or_default().clone()
    }

    fn remember(&self, row: &IncidentRow, (passes, revision): (i64, i64), timeline: Arc<Timeline>) {
        let mut cache = self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.insert(row.id, (timeline_key(row, (passes, revision)), std::time::Instant::now(), timeline));
    }

    /// Forgets every cached timeline (a merge: one incident's now points to another).
    pub fn invalidate_all(&self) {
        self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    /// Forgets an incident's timeline: a webhook for it arrived.
    pub fn invalidate(&self, incident_id: Option<i64>) {
        if let Some(incident_id) = incident_id {
            self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&incident_id);
        }
    }
}

/// `GET /`: a page of incidents as HTML, newest first (the list's `?limit=`, `?cursor=`,
/// `?status=` and `?since=`), each with its duration and a sparkline of its webhooks'
/// arrivals over its window, and a link to the next page.
pub async fn index(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Result<Response> {
    let kept = [("status", query.status.clone()), ("since", query.since.clone()), ("limit", query.limit.clone())];
    let (rows, next_cursor) = page(&state, filter(query)?).await?;
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let arrivals = state.store.webhook_arrivals(&ids).await.map_err(|error| ApiError::unavailable(&error))?;
    let now = Instant::now();
    let mut page = html::head("postmortemd");
    page.push_str("<h1>Incidents</h1>\n");
    if rows.is_empty() {
        page.push_str("<p>No incidents yet. Point Alertmanager's webhook_configs or a PagerDuty v3 subscription at this server.</p>\n");
    } else {
        page.push_str("<table class=\"incidents\"><tr><th>Opened (UTC)</th><th>Incident</th><th>Status</th><th>Severity</th><th>Duration</th><th>Webhooks over the window</th><th>Sources</th></tr>\n");
        for row in &rows {
            let (start, end) = window_rules(&state.settings.window).span(row.opened_at, resolution(row));
            let times: Vec<Instant> = arrivals.iter().filter(|(id, _)| *id == row.id).map(|(_, time)| *time).collect();
            let duration = match resolution(row) {
                Some(resolved) => crate::timeline::human_duration(resolved.duration_since(row.opened_at)),
                None => format!("open for {}", crate::timeline::human_duration(now.duration_since(row.opened_at))),
            };
            page.push_str(&format!(
                "<tr><td>{}</td><td class=\"title\"><a href=\"/api/v1/incidents/{id}/timeline?format=html\">{}</a> \
<span class=\"more\">(<a href=\"/api/v1/incidents/{id}/timeline?format=md\">md</a>, <a href=\"/api/v1/incidents/{id}/timeline?format=json\">json</a>, \
<a href=\"/api/v1/incidents/{id}/postmortem?format=html\">post-mortem</a>)</span></td>\
<td class=\"{status}\">{status}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                row.opened_at.strftime("%F %H:%M"),
                html::escape(if row.title.is_empty() { "(untitled)" } else { &row.title }),
                html::escape(row.severity.as_deref().unwrap_or("-")),
                html::escape(&duration),
                sparkline(&times, start, end.unwrap_or(now).max(row.last_signal_at)),
                html::escape(&row.sources.iter().map(|source| source.as_str()).collect::<Vec<_>>().join(", ")),
                id = row.id,
                status = row.status,
            ));
        }
        page.push_str("</table>\n");
    }
    if let Some(next) = next_cursor {
        let mut pairs: Vec<(&str, String)> =
            kept.into_iter().filter_map(|(key, value)| Some((key, value.filter(|value| !value.is_empty())?))).collect();
        pairs.push(("cursor", next));
        // NB: the base only lends `Url` its query encoding; the link is relative.
        let href = reqwest::Url::parse_with_params("http://index/", &pairs)
            .map(|url| format!("/?{}", url.query().unwrap_or("")))
            .unwrap_or_else(|_| "/".to_owned());
        page.push_str(&format!(
            "<nav class=\"pages\"><a rel=\"next\" href=\"{}\">Older incidents →</a></nav>\n",
            html::escape(&href)
        ));
    }
    page.push_str("</body></html>\n");
    Ok((pages::page_headers(html::STYLE), page).into_response())
}

/// Width and height of a sparkline, and how many bins its window is counted in.
const SPARK_WIDTH: f64 = 160.0;
const SPARK_HEIGHT: f64 = 24.0;
const SPARK_BINS: usize = 40;

/// An inline SVG of how many webhooks arrived in each bin of `[start, end]`, widened to
/// the first and last arrival (a webhook can arrive after the window, delivered late or
/// reconciled), titled with their number and the span drawn.
fn sparkline(times: &[Instant], start: Instant, end: Instant) -> String {
    let start = times.iter().copied().fold(start, Instant::min);
    let end = times.iter().copied().fold(end, Instant::max);
    let span = end.duration_since(start).as_secs_f64().max(1.0);
    let mut bins = [0u32; SPARK_BINS];
    for time in times {
        let at = time.duration_since(start).as_secs_f64() / span;
        bins[((at * SPARK_BINS as f64) as usize).min(SPARK_BINS - 1)] += 1;
    }
    let most = f64::from(bins.iter().copied().max().unwrap_or(0).max(1));
    let step = SPARK_WIDTH / (SPARK_BINS - 1) as f64;
    let points: Vec<String> = bins
        .iter()
        .enumerate()
        .map(|(i, count)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                SPARK_HEIGHT - 1.0 - f64::from(*count) / most * (SPARK_HEIGHT - 2.0)
            )
        })
        .collect();
    format!(
        "<svg class=\"spark\" width=\"{SPARK_WIDTH}\" height=\"{SPARK_HEIGHT}\" viewBox=\"0 0 {SPARK_WIDTH} {SPARK_HEIGHT}\" \
role=\"img\" aria-label=\"{n} webhooks\"><title>{n} webhooks, {} to {} UTC</title>\
<polyline fill=\"none\" stroke=\"#c33\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        start.strftime("%F %H:%M"),
        end.strftime("%F %H:%M"),
        points.join(" "),
        n = times.len(),
    )
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

    /// The heights of a sparkline's points, 0 for none arrived in its bin.
    fn heights(svg: &str) -> Vec<f64> {
        let points = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        points
            .split(' ')
            .map(|point| SPARK_HEIGHT - 1.0 - point.split(',').nth(1).unwrap().parse::<f64>().unwrap())
            .collect()
    }

    #[test]
    fn a_sparkline_counts_arrivals_per_bin_over_the_window_widened_to_late_ones() {
        let at = |text: &str| text.parse::<Instant>().unwrap();
        let (start, end) = (at("2025-02-09T10:00:00Z"), at("2025-02-09T10:40:00Z"));
        let times = [at("2025-02-09T10:00:10Z"), at("2025-02-09T10:00:20Z"), at("2025-02-09T10:39:59Z")];
        let svg = sparkline(&times, start, end);
        assert!(svg.contains("aria-label=\"3 webhooks\""), "{svg}");
        let drawn = heights(&svg);
        assert_eq!(drawn.len(), SPARK_BINS);
        assert!(drawn[0] > drawn[SPARK_BINS - 1] && drawn[SPARK_BINS - 1] > 0.0, "{drawn:?}");
        assert!(drawn[1..SPARK_BINS - 1].iter().all(|height| *height == 0.0), "{drawn:?}");
        // A webhook an hour after the window widens what is drawn: the first arrival at the
        // left end, the late one at the right.
        let late = [at("2025-02-09T10:00:10Z"), at("2025-02-09T11:40:00Z")];
        let drawn = heights(&sparkline(&late, start, end));
        assert!(drawn[0] > 0.0 && drawn[SPARK_BINS - 1] > 0.0, "{drawn:?}");
        assert!(drawn[1..SPARK_BINS - 1].iter().all(|height| *height == 0.0), "{drawn:?}");
        assert!(sparkline(&late, start, end).contains("2025-02-09 10:00 to 2025-02-09 11:40 UTC"));
    }

    #[test]
    fn a_cursor_reads_back_and_nothing_else_does() {
        let opened = "2025-02-09T10:06:15.347Z".parse::<Instant>().unwrap();
        assert_eq!(parse_cursor(&cursor(opened, 42)), Some((opened, 42)));
        let before_1970 = "1969-07-20T20:17:40Z".parse::<Instant>().unwrap();
        assert_eq!(parse_cursor(&cursor(before_1970, i64::MAX)), Some((before_1970, i64::MAX)));
        // Every cursor of the documented form pages: a time past jiff's is its bound.
        assert_eq!(parse_cursor("7fffffffffffffff.1"), Some((Instant::MAX, 1)));
        assert_eq!(parse_cursor("8000000000000000.1"), Some((Instant::MIN, 1)));
        for bad in ["", ".", "1.", ".1", "1.2.3", "G.1", "+1.1", "-1.1", "1 .1", "10000000000000000.1"] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
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
