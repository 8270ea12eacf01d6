//! Polling PagerDuty's REST API (v2) for what its webhooks did not bring: the incidents of
//! the followed services and teams (`GET /incidents?since=&until=&service_ids[]=&team_ids[]=`)
//! and their log entries since the last seen time (`GET /incidents/{id}/log_entries`), each
//! list read page by page (`offset`/`limit` while `more`). Each log entry is stored once
//! (`Store::record_pagerduty_rest`: not when a webhook brought the same transition), read by
//! `ingest::pagerduty::parse_log_entries` as a draft reads it. The last seen time is kept in
//! the store, so a restart resumes there.
//!
//! 429 waits `Retry-After` (else a jittered backoff) and tries again; a 401/403 (a wrong or
//! revoked token) ends the poll with PagerDuty's own message.

use std::time::Duration;

use super::{Error, Result};
use crate::config::{ReconcileSettings, Secret};
use crate::incident::grouping::PagerDutyIntake;
use crate::ingest::pagerduty::parse_log_entries;
use crate::record::Instant;
use crate::store::Store;

/// The store's resume position of this source.
pub const POSITION: &str = "pagerduty";

/// Items per page (PagerDuty's most is 100).
const PAGE_LIMIT: usize = 100;

/// Tries of one request that is rate limited or fails on PagerDuty's side.
const TRIES: u32 = 5;

/// The longest one wait before trying again.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// The first backoff when PagerDuty says nothing of when to come back; doubled each try.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// One poll's view of PagerDuty's REST API.
pub struct Poller<'a> {
    client: &'a reqwest::Client,
    settings: &'a ReconcileSettings,
    token: &'a Secret,
}

impl<'a> Poller<'a> {
    pub fn new(client: &'a reqwest::Client, settings: &'a ReconcileSettings, token: &'a Secret) -> Self {
        Poller { client, settings, token }
    }

    /// Polls from the last seen time (else `lookback` before `now`) to `now`, stores every
    /// log entry not stored yet, and moves the last seen time to `now` once every request
    /// succeeded; the number of pages stored.
    pub async fn reconcile(&self, store: &Store, now: Instant) -> Result<usize> {
        let since = match store.reconcile_position(POSITION).await? {
            Some(position) => position,
            None => now.checked_sub(self.settings.pagerduty_lookback).unwrap_or(Instant::MIN),
        };
        // Incidents opened within the lookback before the last seen time, so a change to an
        // incident opened before it is still seen (PagerDuty filters incidents by creation).
        let opened_since = since.checked_sub(self.settings.pagerduty_lookback).unwrap_or(Instant::MIN);
        let mut query = vec![("since", opened_since.to_string()), ("until", now.to_string())];
        query.extend(self.settings.pagerduty_services.iter().map(|id| ("service_ids[]", id.clone())));
        query.extend(self.settings.pagerduty_teams.iter().map(|id| ("team_ids[]", id.clone())));
        query.push(("time_zone", "UTC".to_owned()));
        let incidents = self.list("/incidents", &query, "incidents").await?;
        let mut n_stored = 0;
        for incident in &incidents {
            let Some(id) = incident.get("id").and_then(serde_json::Value::as_str) else { continue };
            let query = [
                ("since", since.to_string()),
                ("until", now.to_string()),
                ("include[]", "incidents".to_owned()),
                ("is_overview", "false".to_owned()),
                ("time_zone", "UTC".to_owned()),
            ];
            let path = format!("/incidents/{id}/log_entries");
            for entry in self.list(&path, &query, "log_entries").await? {
                if let Some(intake) = intake(entry, incident, now) {
                    let stored = store.record_pagerduty_rest(intake).await?;
                    n_stored += usize::from(!stored.duplicate);
                }
            }
        }
        store.set_reconcile_position(POSITION, now).await?;
        Ok(n_stored)
    }

    /// Every item of a paged list (`key` of each page), page by page while `more`.
    async fn list(&self, path: &str, query: &[(&str, String)], key: &str) -> Result<Vec<serde_json::Value>> {
        let mut items = Vec::new();
        let mut offset = 0;
        loop {
            let mut page_query: Vec<(&str, String)> = query.to_vec();
            page_query.push(("offset", offset.to_string()));
            page_query.push(("limit", PAGE_LIMIT.to_string()));
            page_query.push(("total", "true".to_owned()));
            let url = format!("{}{path}", self.settings.pagerduty_api_url);
            let page = self.get(&url, &page_query).await?;
            let page_items = page.get(key).and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
            let n_items = page_items.len();
            items.extend(page_items);
            let more = page.get("more").and_then(serde_json::Value::as_bool).unwrap_or(false);
            if !more || n_items == 0 {
                return Ok(items);
            }
            offset += n_items;
        }
    }

    /// One GET, tried again on 429 (after `Retry-After`) and 5xx (after a jittered backoff).
    async fn get(&self, url: &str, query: &[(&str, String)]) -> Result<serde_json::Value> {
        let mut n_tries = 0;
        loop {
            n_tries += 1;
            let response = self
                .client
                .get(url)
                .query(query)
                .header(reqwest::header::AUTHORIZATION, format!("Token token={}", self.token.expose()))
                .header(reqwest::header::ACCEPT, "application/vnd.pagerduty+json;version=2")
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(source) if n_tries < TRIES && (source.is_connect() || source.is_timeout()) => {
                    tokio::time::sleep(backoff(n_tries)).await;
                    continue;
                }
                Err(source) => return Err(Error::Request { url: url.to_owned(), source }),
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response.bytes().await.map_err(|source| Error::Request { url: url.to_owned(), source })?;
            if status.is_success() {
                return serde_json::from_slice(&body).map_err(|error| Error::Parse {
                    url: url.to_owned(),
                    source: crate::ingest::ParseError::new("top level", error.to_string()),
                });
            }
            let retry = status.as_u16() == 429 || status.is_server_error();
            if retry && n_tries < TRIES {
                let wait = retry_after.unwrap_or_else(|| backoff(n_tries)).min(MAX_WAIT);
                tracing::debug!(%url, status = status.as_u16(), wait_ms = wait.as_millis() as u64, "PagerDuty asked to wait.");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(Error::Status { url: url.to_owned(), status: status.as_u16(), message: error_message(&body) });
        }
    }
}

/// PagerDuty's error body `{"error": {"message": …, "code": …, "errors": […]}}` in words.
fn error_message(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let error = &value["error"];
    match (error["message"].as_str(), error["code"].as_i64()) {
        (Some(message), Some(code)) => {
            let details: Vec<&str> =
                error["errors"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_str).collect();
            if details.is_empty() {
                format!("{message} (code {code})")
            } else {
                format!("{message} (code {code}): {}", details.join("; "))
            }
        }
        (Some(message), None) => message.to_owned(),
        _ => String::from_utf8_lossy(&body[..body.len().min(256)]).trim().to_owned(),
    }
}

/// The wait before try `n_tries + 1`: [`FIRST_BACKOFF`] doubled per try, jittered to 50–150 %.
fn backoff(n_tries: u32) -> Duration {
    let base = FIRST_BACKOFF * 2u32.saturating_pow(n_tries.saturating_sub(1));
    crate::collect::jittered(base, 0.5..1.5).min(MAX_WAIT)
}

/// The page a REST log entry stands for, as a webhook's would be: its body is the entry
/// (`{"log_entry": …}`, the incident filled in when the entry's reference lacks its key or
/// title), its dedup key the entry's id. `None` for an entry that does not read.
fn intake(mut entry: serde_json::Value, incident: &serde_json::Value, now: Instant) -> Option<PagerDutyIntake> {
    let entry_id = entry.get("id")?.as_str()?.to_owned();
    if let Some(reference) = entry.get_mut("incident").and_then(serde_json::Value::as_object_mut) {
        for field in ["incident_key", "title"] {
            if reference.get(field).is_none_or(serde_json::Value::is_null)
                && let Some(value) = incident.get(field)
            {
                reference.insert(field.to_owned(), value.clone());
            }
        }
    }
    let body = serde_json::to_vec(&serde_json::json!({ "log_entry": entry })).ok()?;
    let page = parse_log_entries(&body).ok()?.into_iter().next()?;
    Some(PagerDutyIntake {
        dedup_key: format!("rest:{entry_id}"),
        received_at: now,
        body,
        occurred_at: page.time,
        action: Some(page.action),
        pd_incident_id: page.incident_id,
        incident_key: page.incident_key,
        title: page.incident_title,
        link: None,
    })
}
