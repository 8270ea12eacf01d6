//! The HTTP API (axum): webhooks in, incidents and timelines out. `router` is the whole
//! surface; `serve` binds it and serves it through `connections` (bounded connections,
//! header timeout, eviction), shutting down gracefully.

pub mod connections;
pub mod error;
pub mod incidents;
pub mod limits;
pub mod pages;
pub mod responders;
pub mod session;
pub mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, patch, post};

use crate::collect::Collector;
use crate::config::Settings;
use crate::jobs::{Jobs, Schedule};
use crate::normalize::redact::Redactor;
use crate::record::NotConfiguredRecord;
use crate::store::Store;
use crate::telemetry::{AuthFailure, AuthRoute, Metrics};
use crate::timeline::Timeline;

/// What a timeline is cached under: `(last webhook id, number of webhooks, collection passes,
/// responder revision)` as the store had them when it was built (`api::incidents::timeline_key`);
/// a new webhook, pass or responder input (of the incident or of one merged into it), whichever
/// replica stored it, moves it.
type TimelineKey = (i64, i64, i64, i64);

/// A cached timeline under its key, and when it was built.
type CachedTimeline = (TimelineKey, std::time::Instant, Arc<Timeline>);

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// The body budget and the slots of requests in flight, shared by every request.
    pub limits: Arc<limits::RequestLimits>,
    /// The collectors this daemon runs without, shown in every timeline's coverage.
    pub not_configured: Arc<Vec<NotConfiguredRecord>>,
    /// What webhook bodies are redacted with before they are read or stored: the built-in
    /// rules, and the settings' `[[redact]]` in the daemon ([`AppState::redacting`]).
    pub redactor: Arc<Redactor>,
    timelines: Arc<Mutex<HashMap<i64, CachedTimeline>>>,
    /// One timeline build per incident at a time: concurrent readers wait for it and share
    /// its result rather than each building the same timeline.
    building: Arc<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>>,
}

impl AppState {
    pub fn new(settings: Settings, store: Store) -> Self {
        AppState {
            limits: Arc::new(limits::RequestLimits::new(&settings.server)),
            settings: Arc::new(settings),
            store,
            metrics: Arc::new(Metrics::default()),
            not_configured: Arc::new(Vec::new()),
            redactor: Arc::new(Redactor::default()),
            timelines: Arc::new(Mutex::new(HashMap::new())),
            building: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The daemon, naming the collectors it runs without (`main` knows which it built).
    pub fn not_collecting(mut self, not_configured: Vec<NotConfiguredRecord>) -> Self {
        self.not_configured = Arc::new(not_configured);
        self
    }

    /// Redacting webhook bodies with `redactor` (the collectors' own) rather than the
    /// built-in rules alone.
    pub fn redacting(mut self, redactor: Arc<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }
}

impl AppState {
    /// The collection scheduler of this daemon: a stored pass forgets the incident's timeline.
    pub fn jobs(&self, collectors: Vec<Arc<dyn Collector>>) -> Jobs {
        let state = self.clone();
        Jobs {
            store: self.store.clone(),
            collectors,
            schedule: Schedule::from_settings(&self.settings),
            metrics: self.metrics.clone(),
            on_stored: Arc::new(move |incident| state.invalidate(Some(incident))),
        }
    }
}

/// Every route of the daemon.
/// A webhook passes its gate (what the headers prove), then its body is read within the
/// budget, then it takes a slot among the requests in flight; a read passes its bearer check,
/// then takes a slot. Probes and `/metrics` take none: they answer whatever the load.
pub fn router(state: AppState) -> Router {
    let slot = || middleware::from_fn_with_state(state.clone(), limits::in_flight);
    let read = Router::new()
        .route("/", get(incidents::index))
        .route("/api/v1/incidents", get(incidents::list))
        .route("/api/v1/incidents/{id}", get(incidents::get))
        .route("/api/v1/incidents/{id}/timeline", get(incidents::timeline))
        .route("/api/v1/incidents/{id}/postmortem", get(incidents::postmortem))
        .route("/api/v1/incidents/{id}/evidence.tar.gz", get(incidents::evidence))
        .route_layer(slot())
        .route_layer(middleware::from_fn_with_state(state.clone(), read_auth));
    // Layered per method, not per router: another method on these paths gets its 405
    // whatever the tokens.
    let write = |route: MethodRouter<AppState>| {
        route.route_layer(slot()).route_layer(middleware::from_fn_with_state(state.clone(), write_auth))
    };
    let write = Router::new()
        .route("/api/v1/incidents/{id}", write(patch(responders::correct)))
        .route("/api/v1/incidents/{id}/notes", write(post(responders::note)))
        .route("/api/v1/incidents/{id}/resolve", write(post(responders::resolve)))
        .route("/api/v1/incidents/{id}/merge", write(post(responders::merge)));
    let alertmanager = post(webhooks::alertmanager)
        .route_layer(slot())
        .route_layer(middleware::from_fn_with_state(state.clone(), webhooks::alertmanager_gate));
    let pagerduty = post(webhooks::pagerduty)
        .route_layer(slot())
        .route_layer(middleware::from_fn_with_state(state.clone(), webhooks::pagerduty_gate));
    Router::new()
        .route("/webhooks/alertmanager", alertmanager)
        .route("/webhooks/pagerduty", pagerduty)
        .merge(read)
        .merge(write)
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/signin", post(session::sign_in))
        .route("/signout", post(session::sign_out))
        .layer(DefaultBodyLimit::max(state.settings.server.max_body_bytes))
        .layer(middleware::map_response(error::json_errors))
        .with_state(state)
}

/// The read API's bearer tokens, when configured: a bearer header, or a browser's session
/// cookie (`session`). A browser asking for a page without either gets the sign-in form; every
/// other request a JSON 401.
async fn read_auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let api = &state.settings.api;
    if let Err(failure) = read_allowed(request.headers(), api)
        && !session::signed_in(request.headers(), api, crate::record::Instant::now())
    {
        webhooks::refused(&state, AuthRoute::ReadApi, failure);
        if request.method() == axum::http::Method::GET && session::wants_page(&request) {
            let next = request.uri().path_and_query().map_or("/", |path| path.as_str());
            return session::sign_in_page(next, false);
        }
        return error::ApiError::unauthorized("missing or wrong bearer token (Authorization: Bearer …)")
            .into_response();
    }
    next.run(request).await
}

/// Whether a request may read: the read API is open without `api.bearer_tokens`; else a
/// read token or a write token (which grants reads too) is needed.
fn read_allowed(headers: &axum::http::HeaderMap, api: &crate::config::ApiSettings) -> Result<(), AuthFailure> {
    if api.bearer_tokens.is_empty() {
        return Ok(());
    }
    webhooks::bearer_check(headers, &api.bearer_tokens).or_else(|failure| {
        if api.write_tokens.is_empty() { Err(failure) } else { webhooks::bearer_check(headers, &api.write_tokens) }
    })
}

/// The write API's tokens (`api.write_tokens`): none configured, every write is refused
/// (403; writes are never open); a read token is not enough (403); no or a wrong token, 401.
async fn write_auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let api = &state.settings.api;
    if api.write_tokens.is_empty() {
        return error::ApiError::new(
            StatusCode::FORBIDDEN,
            "writes are turned off: set api.write_tokens (or api.write_tokens_file) to let responders add to incidents",
        )
        .into_response();
    }
    if let Err(failure) = webhooks::bearer_check(request.headers(), &api.write_tokens) {
        if !api.bearer_tokens.is_empty() && webhooks::bearer_check(request.headers(), &api.bearer_tokens).is_ok() {
            return error::ApiError::new(
                StatusCode::FORBIDDEN,
                "this token may read, not write: writes need one of api.write_tokens",
            )
            .into_response();
        }
        webhooks::refused(&state, AuthRoute::ReadApi, failure);
        return error::ApiError::unauthorized("missing or wrong write token (Authorization: Bearer …)").into_response();
    }
    next.run(request).await
}

/// The OpenAPI document of this API (kept true by `tests/api.rs`).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Alive and the store reachable and migrated, taking writes and on the file it opened;
/// else 503 with the reason (`store writes failing since …: database or disk is full`), for
/// the operator who probes it (the store logged the fault when it happened).
/// Ready or not, the text goes on with the webhook routes' recent 401s (how many, the last
/// one's time and check, and what the sender does about them): they never make the daemon
/// not ready, since a restart would not fix a secret, but an operator must see them.
async fn ready(State(state): State<AppState>) -> Response {
    let ping = state.store.ping().await;
    state.metrics.store_ready(ping.is_ok());
    let notes = auth_notes(&state.metrics);
    match ping {
        Ok(()) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("ready\n{notes}")).into_response(),
        Err(error) => {
            let reason = error.reason();
            tracing::warn!(error = %reason, "Store not ready.");
            let message = format!("store not ready: {reason}");
            let message = if notes.is_empty() { message } else { format!("{message}\n{}", notes.trim_end()) };
            error::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message).into_response()
        }
    }
}

/// A line per webhook route that refused requests with 401 since start.
fn auth_notes(metrics: &Metrics) -> String {
    let mut notes = String::new();
    for route in [AuthRoute::Alertmanager, AuthRoute::PagerDuty] {
        let failures = metrics.auth_failures(route);
        let Some((at, failure)) = failures.last else { continue };
        let at = jiff::Timestamp::from_second(at).map(|at| at.to_string()).unwrap_or_default();
        notes.push_str(&format!(
            "warning: {route}: {total} requests refused with 401 since start, {in_a_row} in a row; last at {at}: {check}; {consequence}\n",
            route = route.as_str(),
            total = failures.total,
            in_a_row = failures.in_a_row,
            check = failure.check(),
            consequence = route.consequence(),
        ));
    }
    notes
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.store_ready(state.store.ping().await.is_ok());
    let open = state.store.count_open().await.unwrap_or(-1);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(open)).into_response()
}

/// Binds `settings.server.listen` and serves until SIGTERM/SIGINT; in-flight requests get
/// `shutdown_grace` to finish.
/// Collection jobs run beside the server (when there are collectors) and stop with it.
pub async fn serve(state: AppState, collectors: Vec<Arc<dyn Collector>>) -> std::io::Result<()> {
    let listen = state.settings.server.listen;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    warn_if_open(&state, listen);
    tracing::info!(address = %listener.local_addr()?, "Listening.");
    let (stop_jobs, stop) = tokio::sync::watch::channel(false);
    let jobs = (!collectors.is_empty()).then(|| {
        let names: Vec<&str> = collectors.iter().map(|collector| collector.name()).collect();
        tracing::info!(collectors = ?names, "Collecting evidence for incidents.");
        tokio::spawn(state.jobs(collectors).run(std::time::Duration::from_secs(1), stop))
    });
    // Collection stops at the signal, beside the server's drain: a pass in flight is given
    // back at once (it runs again from its cursors at the next start), within the grace.
    let shutdown = async move {
        crate::shutdown::signal().await;
        let _ = stop_jobs.send(true);
    };
    let served = serve_on(listener, state, shutdown).await;
    if let Some(jobs) = jobs {
        let _ = jobs.await;
    }
    served
}

/// Serves on a bound listener until `shutdown` resolves, then drains within the grace.
/// Connections are bounded by `server.max_connections` (held below the open-file limit) and
/// `server.header_timeout` (`connections::serve`).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let server = &state.settings.server;
    let grace = server.shutdown_grace.unsigned_abs();
    let (max_connections, open_files) = connections::connection_cap(server.max_connections);
    if max_connections < server.max_connections {
        tracing::warn!(
            requested = server.max_connections,
            max_connections,
            open_files,
            "server.max_connections lowered to stay below the open-file limit."
        );
    }
    let limits =
        connections::ConnectionLimits { max_connections, header_timeout: server.header_timeout.unsigned_abs() };
    let (stopping_sender, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("Shutting down: no new connections; finishing requests in flight.");
        let _ = stopping_sender.send(true);
    });
    let metrics = state.metrics.clone();
    let served = connections::serve(listener, router(state), limits, metrics, stopping.clone());
    let mut stopped = stopping;
    tokio::select! {
        () = served => Ok(()),
        () = async {
            connections::stopped(&mut stopped).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("Shutdown grace over; requests still in flight are dropped.");
            Ok(())
        }
    }
}

/// A loud warning when listening beyond loopback with no webhook authentication.
fn warn_if_open(state: &AppState, listen: SocketAddr) {
    let webhooks = &state.settings.webhooks;
    if !listen.ip().is_loopback()
        && webhooks.alertmanager_bearer_token.is_none()
        && webhooks.pagerduty_signing_secrets.is_empty()
    {
        tracing::warn!(
            %listen,
            "LISTENING BEYOND LOOPBACK WITH NO WEBHOOK AUTHENTICATION: anyone who reaches this port can open incidents. \
             Set webhooks.alertmanager.bearer_token and webhooks.pagerduty.signing_secrets."
        );
    }
}
