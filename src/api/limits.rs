//! What a request may hold once its headers are in: bytes of body (a budget shared by all
//! requests) and a slot among the requests worked on at once. Connections and their
//! timeouts are `connections.rs`'s; who may send is the route's gate (`webhooks.rs`).
//!
//! A webhook's body is read here, after its gate checked what the headers can prove, so an
//! unauthenticated sender never makes the daemon hold a body. PagerDuty's signature is over
//! the body, so its bodies are held unauthenticated: they (and any webhook route without a
//! token) draw from at most half the budget, and a stalled upload there can neither grow
//! memory past `server.max_body_bytes_in_flight` nor starve a sender that proved itself in
//! its headers.
//! **Invariant:** a request waiting for budget or a slot waits at most `server.body_timeout`,
//! then gets 503 with `Retry-After` (Alertmanager and PagerDuty retry 5xx; a 4xx they drop).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::AppState;
use crate::api::connections::Tracker;
use crate::api::error::ApiError;
use crate::config::ServerSettings;
use crate::telemetry::{Shed, Waiting};

/// The budget counts kibibytes, so that one reservation fits the semaphore's `u32`.
const UNIT_BYTES: usize = 1024;

/// The shared limits of requests in flight.
#[derive(Debug)]
pub struct RequestLimits {
    /// Requests worked on at once.
    slots: Arc<Semaphore>,
    /// The whole body budget, in [`UNIT_BYTES`].
    body_units: Arc<Semaphore>,
    /// The part bodies not yet authenticated may hold (half of the whole).
    unauthenticated_units: Arc<Semaphore>,
    whole_units: usize,
    unauthenticated_share: usize,
}

/// Body budget held by one request: released when dropped.
#[derive(Debug)]
pub struct BodyPermit {
    _whole: OwnedSemaphorePermit,
    _unauthenticated: Option<OwnedSemaphorePermit>,
}

impl RequestLimits {
    pub fn new(server: &ServerSettings) -> Self {
        let whole_units = server.max_body_bytes_in_flight.div_ceil(UNIT_BYTES).max(1);
        let unauthenticated_share = whole_units.div_ceil(2);
        RequestLimits {
            slots: Arc::new(Semaphore::new(server.max_requests_in_flight.min(Semaphore::MAX_PERMITS))),
            body_units: Arc::new(Semaphore::new(whole_units.min(Semaphore::MAX_PERMITS))),
            unauthenticated_units: Arc::new(Semaphore::new(unauthenticated_share.min(Semaphore::MAX_PERMITS))),
            whole_units,
            unauthenticated_share,
        }
    }

    /// The body bytes a sender could reserve now (authenticated from its headers or not).
    pub fn free_body_bytes(&self, authenticated: bool) -> usize {
        let whole = self.body_units.available_permits();
        let free = if authenticated { whole } else { whole.min(self.unauthenticated_units.available_permits()) };
        free * UNIT_BYTES
    }

    /// Waits for room for a body of `bytes` in the whole budget, and first in the
    /// unauthenticated share when the sender is not authenticated yet. A body larger than the
    /// room it may have takes all of that room, so it still gets in, alone.
    pub async fn reserve(&self, bytes: usize, authenticated: bool) -> BodyPermit {
        let room = if authenticated { self.whole_units } else { self.unauthenticated_share };
        let units = u32::try_from(bytes.div_ceil(UNIT_BYTES).min(room)).unwrap_or(u32::MAX);
        let unauthenticated =
            if authenticated { None } else { self.unauthenticated_units.clone().acquire_many_owned(units).await.ok() };
        let whole = self.body_units.clone().acquire_many_owned(units).await.expect("the body budget is never closed");
        BodyPermit { _whole: whole, _unauthenticated: unauthenticated }
    }
}

/// Reads the request's body within its budget and `server.body_timeout`, then runs the
/// handler on it (which takes it as `Bytes`, already here). `authenticated`: the gate proved
/// the sender from the headers. The budget is held until the handler answered.
pub async fn receive_body(state: &AppState, request: Request, next: Next, authenticated: bool) -> Response {
    let server = &state.settings.server;
    let tracker = request.extensions().get::<Tracker>().cloned();
    if let Some(tracker) = &tracker {
        tracker.receiving();
    }
    // The Content-Length, as hyper read it (or the size of a body made in process).
    let declared = axum::body::HttpBody::size_hint(request.body()).exact();
    if let Some(declared) = declared
        && declared > server.max_body_bytes as u64
    {
        return too_large(server.max_body_bytes);
    }
    // Without a Content-Length (chunked), the body may be as large as the limit.
    let reserve = declared.map_or(server.max_body_bytes, |declared| declared as usize);
    let timeout = server.body_timeout.unsigned_abs();
    let waiting = state.metrics.waiting(Waiting::BodyBudget);
    let reserved = tokio::time::timeout(timeout, state.limits.reserve(reserve, authenticated)).await;
    drop(waiting);
    let Ok(permit) = reserved else {
        state.metrics.request_shed(Shed::BodyBudget);
        return overloaded(format!(
            "the daemon holds as many request bodies as server.max_body_bytes_in_flight allows; waited {}",
            seconds(timeout)
        ));
    };
    let (parts, body) = request.into_parts();
    let body = match tokio::time::timeout(timeout, Limited::new(body, server.max_body_bytes).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return too_large(server.max_body_bytes);
        }
        Ok(Err(error)) => {
            return ApiError::bad_request(format!("the request body could not be read: {error}")).into_response();
        }
        Err(_elapsed) => {
            state.metrics.request_shed(Shed::BodyTimeout);
            return overloaded(format!(
                "the request body did not arrive within server.body_timeout ({})",
                seconds(timeout)
            ));
        }
    };
    if let Some(tracker) = &tracker {
        tracker.working();
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    drop(permit);
    response
}

/// A slot among `server.max_requests_in_flight` for the handler, waited for up to
/// `server.body_timeout`.
pub async fn in_flight(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let timeout = state.settings.server.body_timeout.unsigned_abs();
    let waiting = state.metrics.waiting(Waiting::Slot);
    let slot = tokio::time::timeout(timeout, state.limits.slots.clone().acquire_owned()).await;
    drop(waiting);
    match slot {
        Ok(Ok(permit)) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        _ => {
            state.metrics.request_shed(Shed::Busy);
            overloaded(format!(
                "server.max_requests_in_flight requests are being answered; waited {}",
                seconds(timeout)
            ))
        }
    }
}

/// How long a sender should wait before it retries a request turned away for load.
const RETRY_AFTER_SECONDS: u64 = 5;

/// 503 with `Retry-After`: the request was well formed, the daemon too busy for it now.
fn overloaded(message: String) -> Response {
    let mut response = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
    response
}

fn too_large(limit: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is over server.max_body_bytes ({limit} bytes)"),
    )
    .into_response()
}

fn seconds(duration: std::time::Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_body_bytes_in_flight: usize) -> RequestLimits {
        let mut settings = crate::config::Settings::default();
        settings.server.max_body_bytes_in_flight = max_body_bytes_in_flight;
        RequestLimits::new(&settings.server)
    }

    #[tokio::test]
    async fn unauthenticated_bodies_hold_at_most_half_the_budget_and_never_starve_the_rest() {
        let limits = limits(8 << 10);
        let first = limits.reserve(4 << 10, false).await;
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), limits.reserve(1, false)).await;
        assert!(second.is_err(), "the unauthenticated half is taken");
        let authenticated = limits.reserve(4 << 10, true).await;
        assert_eq!(limits.body_units.available_permits(), 0);
        drop((first, authenticated));
        assert_eq!(limits.body_units.available_permits(), 8);
        assert_eq!(limits.unauthenticated_units.available_permits(), 4);
    }

    #[tokio::test]
    async fn a_body_larger_than_the_budget_takes_all_of_it_rather_than_waiting_forever() {
        let limits = limits(4 << 10);
        let permit = limits.reserve(64 << 10, false).await;
        assert_eq!(limits.body_units.available_permits(), 2);
        assert_eq!(limits.unauthenticated_units.available_permits(), 0);
        drop(permit);
        let permit = limits.reserve(64 << 10, true).await;
        assert_eq!(limits.body_units.available_permits(), 0);
        drop(permit);
    }
}
