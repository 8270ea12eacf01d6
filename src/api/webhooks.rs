//! `POST /webhooks/alertmanager` and `POST /webhooks/pagerduty`: authenticate, parse with
//! the same parsers `draft` uses, store durably, and only then answer 2xx.
//! Each route has a gate that checks what the headers can prove (Alertmanager's bearer
//! token) before any of the body is read, then has `limits::receive_body` read it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::error::{ApiError, Result};
use crate::api::{AppState, limits};
use crate::config::{Secret, WebhookSettings};
use crate::incident::{
    self,
    grouping::{AlertmanagerIntake, PageLink, PagerDutyIntake},
};
use crate::ingest::{alertmanager, pagerduty};
use crate::record::{AlertStatus, Instant};
use crate::store::{Intake, WebhookSource};
use crate::telemetry::{AuthFailure, AuthRoute, WebhookOutcome};

/// What a webhook answers once the store is done with it: 200 with what became of it (and
/// its incident's timeline forgotten), or 503 when the store failed; the metric either way.
fn answer(
    state: &AppState,
    source: WebhookSource,
    result: crate::store::Result<Intake>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    match result {
        Ok(intake) => {
            let outcome = if intake.duplicate { WebhookOutcome::Duplicate } else { WebhookOutcome::Stored };
            state.metrics.webhook_received(source, outcome);
            tracing::debug!(%source, incident = ?intake.incident_id, duplicate = intake.duplicate, "Webhook stored.");
            state.invalidate(intake.incident_id);
            let status = if intake.duplicate { "duplicate" } else { "stored" };
            Ok((StatusCode::OK, Json(serde_json::json!({ "status": status, "incident": intake.incident_id }))))
        }
        Err(error) => {
            state.metrics.webhook_received(source, WebhookOutcome::Unavailable);
            Err(ApiError::unavailable(&error))
        }
    }
}

/// Alertmanager's gate: its bearer token, from the headers, before the body is read (a 401
/// reads none of it); then the body, from the whole budget when a token proved the sender.
pub async fn alertmanager_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let authenticated = match &state.settings.webhooks.alertmanager_bearer_token {
        Some(token) => match bearer_check(request.headers(), std::slice::from_ref(token)) {
            Ok(()) => true,
            Err(failure) => {
                state.metrics.webhook_received(WebhookSource::Alertmanager, WebhookOutcome::Unauthorized);
                refused(&state, AuthRoute::Alertmanager, failure);
                return ApiError::unauthorized("missing or wrong bearer token (Authorization: Bearer …)")
                    .into_response();
            }
        },
        None => false,
    };
    limits::receive_body(&state, request, next, authenticated).await
}

/// PagerDuty's gate: its signature is over the body, so nothing can be proved from the
/// headers; the body is read from the unauthenticated share of the budget.
pub async fn pagerduty_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    limits::receive_body(&state, request, next, false).await
}

pub async fn alertmanager(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl axum::response::IntoResponse> {
    let received_at = Instant::now();
    if state.settings.webhooks.alertmanager_bearer_token.is_some() {
        state.metrics.authorized(AuthRoute::Alertmanager);
    }
    let body = redacted(&state, body);
    let payload = match check_json(&headers, &body).and_then(|()| {
        alertmanager::parse_notification(&body).map_err(|error| ApiError::bad_request(error.to_string()))
    }) {
        Ok(payload) => payload,
        Err(error) => {
            state.metrics.webhook_received(WebhookSource::Alertmanager, WebhookOutcome::Rejected);
            return Err(error);
        }
    };
    if payload.alerts.is_empty() {
        // Nothing fired or resolved: acknowledged (a 4xx is final for Alertmanager, and the
        // request is well formed) but neither stored nor grouped, so it opens no incident.
        tracing::debug!(group_key = %payload.group_key, "Notification without alerts ignored.");
        return Ok((
            StatusCode::OK,
            Json(serde_json::json!({
                "status": "ignored", "incident": null, "reason": "the notification holds no alerts: nothing to open",
            })),
        ));
    }
    let dedup_key = alertmanager_dedup_key(&payload);
    let title = incident::alert_title(&payload.alerts).unwrap_or_default();
    let intake = AlertmanagerIntake {
        dedup_key,
        received_at,
        body: body.to_vec(),
        status: payload.status,
        starts_at: payload.alerts.iter().map(|alert| alert.starts_at).min().unwrap_or(received_at),
        fired_at: fired_at(&payload.alerts).unwrap_or(received_at),
        ends_at: payload.alerts.iter().filter_map(|alert| alert.ends_at).max(),
        title,
        severity: payload.common_labels.get("severity").cloned(),
        group_key: payload.group_key,
        // The store keeps a signed 64-bit count: a larger one saturates rather than wraps.
        truncated_alerts: payload.truncated_alerts.min(i64::MAX.unsigned_abs()),
        labels: payload.common_labels,
    };
    let started = std::time::Instant::now();
    let result = state.store.record_alertmanager(intake, state.settings.window.quiet_period).await;
    state.metrics.store_commit(started.elapsed().as_secs_f64());
    answer(&state, WebhookSource::Alertmanager, result)
}

pub async fn pagerduty(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl axum::response::IntoResponse> {
    let received_at = Instant::now();
    let secrets = &state.settings.webhooks.pagerduty_signing_secrets;
    if !secrets.is_empty() {
        let signatures = headers.get("x-pagerduty-signature").and_then(|value| value.to_str().ok()).unwrap_or("");
        if !signature_matches(signatures, &body, secrets) {
            state.metrics.signature_failure();
            state.metrics.webhook_received(WebhookSource::PagerDuty, WebhookOutcome::Unauthorized);
            let failure = if signatures.is_empty() { AuthFailure::NoSignature } else { AuthFailure::WrongSignature };
            refused(&state, AuthRoute::PagerDuty, failure);
            return Err(ApiError::unauthorized(
                "X-PagerDuty-Signature is missing or matches no configured signing secret",
            ));
        }
        state.metrics.authorized(AuthRoute::PagerDuty);
    }
    // After the signature, which is over the body as sent.
    let body = redacted(&state, body);
    let page = match check_json(&headers, &body)
        .and_then(|()| pagerduty::parse_webhook_event(&body).map_err(|error| ApiError::bad_request(error.to_string())))
    {
        Ok(page) => page,
        Err(error) => {
            state.metrics.webhook_received(WebhookSource::PagerDuty, WebhookOutcome::Rejected);
            return Err(error);
        }
    };
    let dedup_key = pagerduty_dedup_key(&headers, &body);
    let link = page.as_ref().and_then(|_| page_link(&state.settings.webhooks, &body));
    let intake = PagerDutyIntake {
        dedup_key,
        received_at,
        body: body.to_vec(),
        occurred_at: page.as_ref().map_or(received_at, |page| page.time),
        action: page.as_ref().map(|page| page.action.clone()),
        pd_incident_id: page.as_ref().and_then(|page| page.incident_id.clone()),
        incident_key: page.as_ref().and_then(|page| page.incident_key.clone()),
        title: page.as_ref().and_then(|page| page.incident_title.clone()),
        link,
    };
    let started = std::time::Instant::now();
    let result = state.store.record_pagerduty(intake).await;
    state.metrics.store_commit(started.elapsed().as_secs_f64());
    answer(&state, WebhookSource::PagerDuty, result)
}

/// When a notification's alerts fired: the latest `startsAt` of its firing alerts (of all
/// of them when none fires), its time in `incident::grouping`.
fn fired_at(alerts: &[crate::record::AlertRecord]) -> Option<Instant> {
    let firing = alerts.iter().filter(|alert| alert.status == AlertStatus::Firing).map(|alert| alert.starts_at).max();
    firing.or_else(|| alerts.iter().map(|alert| alert.starts_at).max())
}

/// The body as it is read and stored: the secrets the redaction rules know (an alert's
/// annotations, a page's details) replaced; a body without one is kept as it came.
fn redacted(state: &AppState, body: Bytes) -> Bytes {
    let mut counts = crate::normalize::redact::Counts::new();
    match state.redactor.json_text(&body, &mut counts) {
        std::borrow::Cow::Borrowed(_) => body,
        std::borrow::Cow::Owned(redacted) => {
            tracing::debug!(?counts, "Secrets redacted from a webhook body.");
            Bytes::from(redacted)
        }
    }
}

/// A JSON body was sent as JSON and is not empty.
fn check_json(headers: &HeaderMap, body: &[u8]) -> Result<()> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be application/json, not {content_type:?}"),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("empty body: expected a JSON payload"));
    }
    Ok(())
}

/// `Authorization: Bearer <token>` equals one of `tokens`, compared in constant time, or
/// which part failed (for the log and the metric; never the token). The scheme is
/// case-insensitive (RFC 9110, section 11.1): `bearer` and `BEARER` too.
pub(crate) fn bearer_check(headers: &HeaderMap, tokens: &[Secret]) -> std::result::Result<(), AuthFailure> {
    let value = headers.get(header::AUTHORIZATION).ok_or(AuthFailure::NoAuthorization)?;
    let (scheme, token) =
        value.to_str().ok().and_then(|value| value.split_once(' ')).ok_or(AuthFailure::MalformedAuthorization)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::NotBearer);
    }
    let given = token.trim_start_matches(' ');
    // Every token is compared, so the time taken does not say which one nearly matched.
    let matched = tokens
        .iter()
        .fold(false, |matched, token| matched | bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())));
    if matched { Ok(()) } else { Err(AuthFailure::WrongToken) }
}

/// At most one warning per sender per this many seconds: a sender retrying with a wrong
/// secret must be seen, not flood the log.
const UNAUTHORIZED_WARN_EVERY_SECONDS: i64 = 60;

/// A request refused with 401: counted by route and check (`/readyz` reports the webhook
/// routes' last one), and for a webhook logged at WARN, at most once a minute per route,
/// saying which check failed and what the sender does next: neither Alertmanager nor
/// PagerDuty retries a 4xx, so their notifications are being lost.
pub(crate) fn refused(state: &AppState, route: AuthRoute, failure: AuthFailure) {
    static LAST_WARNED: [std::sync::atomic::AtomicI64; 2] =
        [std::sync::atomic::AtomicI64::new(i64::MIN), std::sync::atomic::AtomicI64::new(i64::MIN)];
    let now = Instant::now().as_second();
    state.metrics.unauthorized(route, failure, now);
    let last_warned = match route {
        AuthRoute::Alertmanager => &LAST_WARNED[0],
        AuthRoute::PagerDuty => &LAST_WARNED[1],
        AuthRoute::ReadApi => return,
    };
    if should_warn(last_warned, now) {
        let (check, consequence) = (failure.check(), route.consequence());
        tracing::warn!(
            route = route.as_str(),
            check,
            reason = failure.label(),
            "Webhook rejected with 401: {check}; {consequence}. Further rejections are counted in postmortemd_http_unauthorized_total and logged at most once a minute."
        );
    }
}

/// Whether a warning last given at `last` (seconds) may be given again at `now`, claiming it.
fn should_warn(last: &std::sync::atomic::AtomicI64, now: i64) -> bool {
    let previous = last.load(std::sync::atomic::Ordering::Relaxed);
    now.saturating_sub(previous) >= UNAUTHORIZED_WARN_EVERY_SECONDS
        && last
            .compare_exchange(previous, now, std::sync::atomic::Ordering::Relaxed, std::sync::atomic::Ordering::Relaxed)
            .is_ok()
}

/// Whether a warning last given at `last` may be given again now (once a minute), claiming it.
pub(crate) fn once_a_minute(last: &std::sync::atomic::AtomicI64) -> bool {
    should_warn(last, Instant::now().as_second())
}

/// PagerDuty's `v1=<hex>[,v1=<hex>…]`: HMAC-SHA256 of the raw body keyed with the secret
/// string as given. Any signature matching any secret (rotation) is enough.
pub fn signature_matches(header: &str, body: &[u8], secrets: &[Secret]) -> bool {
    let given: Vec<Vec<u8>> = header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|hex_text| hex::decode(hex_text).ok())
        .collect();
    let mut matched = false;
    for secret in secrets {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else { continue };
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        for signature in &given {
            matched |= bool::from(signature.as_slice().ct_eq(expected.as_slice()));
        }
    }
    matched
}

/// The fallback link of a page: the label sets of the `[[webhooks.pagerduty.links]]` rules
/// naming its service (`data.service`, by summary or id). `None` when no rule does.
fn page_link(settings: &WebhookSettings, body: &[u8]) -> Option<PageLink> {
    if settings.pagerduty_links.is_empty() {
        return None;
    }
    let (id, summary) = pagerduty::service_of(body)?;
    let label_sets: Vec<_> = settings
        .pagerduty_links
        .iter()
        .filter(|rule| {
            Some(rule.service.as_str()) == summary.as_deref() || Some(rule.service.as_str()) == id.as_deref()
        })
        .map(|rule| rule.labels.clone())
        .collect();
    (!label_sets.is_empty()).then_some(PageLink { label_sets, within: settings.pagerduty_link_within })
}

/// A PagerDuty delivery's identity: the signed `event.id` of a v3 event, else `X-Webhook-Id`
/// (a v2 message), else the body's hash. `event.id` comes first because it is inside the
/// signed body: a replay with a new or no `X-Webhook-Id` is the same event, and PagerDuty's
/// own retries keep both.
fn pagerduty_dedup_key(headers: &HeaderMap, body: &[u8]) -> String {
    let webhook_id = headers.get("x-webhook-id").and_then(|value| value.to_str().ok()).filter(|id| !id.is_empty());
    event_id(body).or_else(|| webhook_id.map(str::to_owned)).unwrap_or_else(|| hex::encode(Sha256::digest(body)))
}

/// `event.id` of a v3 webhook, when it is a non-empty string.
fn event_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let event = value.get("event").unwrap_or(&value);
    Some(event.get("id")?.as_str().filter(|id| !id.is_empty())?.to_owned())
}

/// A notification's identity: group, status and each alert's (fingerprint, status,
/// startsAt, endsAt), sorted, hashed. Re-sends and HA duplicates share it.
pub fn alertmanager_dedup_key(payload: &alertmanager::WebhookPayload) -> String {
    let mut alerts: Vec<String> = payload
        .alerts
        .iter()
        .map(|alert| {
            let fingerprint = alert.fingerprint.clone().unwrap_or_else(|| format!("{:?}", alert.labels));
            let status = if alert.status == AlertStatus::Firing { "firing" } else { "resolved" };
            let ends = alert.ends_at.map(|ends| ends.to_string()).unwrap_or_default();
            format!("{fingerprint}\u{1f}{status}\u{1f}{}\u{1f}{ends}", alert.starts_at)
        })
        .collect();
    alerts.sort();
    let status = if payload.status == AlertStatus::Firing { "firing" } else { "resolved" };
    let canonical = format!("{}\u{1e}{status}\u{1e}{}", payload.group_key, alerts.join("\u{1e}"));
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[track_caller]
    fn check_signature(header: &str, body: &[u8], secrets: &[&str], expected: bool) {
        let secrets: Vec<Secret> = secrets.iter().map(|secret| Secret::new(*secret)).collect();
        assert_eq!(signature_matches(header, body, &secrets), expected, "{header}");
    }

    #[test]
    fn pagerduty_signatures() {
        let body = br#"{"event":{"id":"01","event_type":"incident.triggered"}}"#;
        let good = sign("s3cret", body);
        check_signature(&good, body, &["s3cret"], true);
        check_signature(&good, b"{\"event\":{\"id\":\"02\"}}", &["s3cret"], false);
        check_signature(&good, body, &["other", "s3cret"], true);
        check_signature(&format!("v1=00ff,{good}"), body, &["s3cret"], true);
        check_signature(&format!("{},v1=abcd", sign("old", body)), body, &["new", "old"], true);
        check_signature("", body, &["s3cret"], false);
        check_signature(&sign("wrong", body), body, &["s3cret"], false);
        check_signature("v1=not-hex", body, &["s3cret"], false);
    }

    #[test]
    fn rejected_senders_are_warned_about_once_a_minute() {
        let last = std::sync::atomic::AtomicI64::new(i64::MIN);
        assert!(should_warn(&last, 1_000));
        assert!(!should_warn(&last, 1_030));
        assert!(!should_warn(&last, 1_059));
        assert!(should_warn(&last, 1_060));
        assert!(!should_warn(&last, 1_061));
    }

    #[track_caller]
    fn check_failure(header: Option<&str>, expected: &str) {
        let mut headers = HeaderMap::new();
        if let Some(header) = header {
            headers.insert(header::AUTHORIZATION, header.parse().unwrap());
        }
        let tokens = [Secret::new("s3cret")];
        assert_eq!(bearer_check(&headers, &tokens).map_err(AuthFailure::check), Err(expected));
    }

    #[test]
    fn the_log_says_which_bearer_check_failed_never_the_token() {
        check_failure(None, "no Authorization header");
        check_failure(Some("hunter2"), "Authorization header is not `Bearer <token>`");
        check_failure(Some("Basic dXNlcjpwYXNz"), "Authorization scheme is not Bearer");
        check_failure(Some("bearer wrong-token"), "bearer token matches no configured token");
    }

    #[track_caller]
    fn check_bearer(header: Option<&str>, expected: bool) {
        let mut headers = HeaderMap::new();
        if let Some(value) = header {
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        }
        assert_eq!(bearer_check(&headers, &[Secret::new("t0ken")]).is_ok(), expected, "{header:?}");
    }

    #[test]
    fn bearer_tokens() {
        check_bearer(Some("Bearer t0ken"), true);
        check_bearer(Some("Bearer t0ke"), false);
        check_bearer(Some("Basic t0ken"), false);
        // Issue 13: the scheme is case-insensitive.
        check_bearer(Some("bearer t0ken"), true);
        check_bearer(Some("BEARER t0ken"), true);
        check_bearer(Some("BeArEr  t0ken"), true);
        check_bearer(Some("Bearer"), false);
        check_bearer(Some("Bearert0ken"), false);
        check_bearer(Some("Bearer T0KEN"), false);
        check_bearer(None, false);
    }
}
