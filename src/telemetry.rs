//! Tracing initialisation and the one `Metrics` struct: every metric postmortemd exposes is
//! declared here and rendered by hand in the Prometheus text format 0.0.4 (atomics, no
//! metrics crate). Call sites call methods; what to count is theirs, how to expose it ours.

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::EnvFilter;

use crate::incident::grouping::WebhookSource;

/// How log events are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Plain,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "plain" => Ok(LogFormat::Plain),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format {other:?} is neither plain nor json")),
        }
    }
}

/// The filter used when neither `POSTMORTEMD_LOG` nor `RUST_LOG` is set.
const DEFAULT_FILTER: &str = "info";

/// An error with its causes, `: `-separated, as the logs and the operator read it; a cause
/// its error already ends with (sqlx's database errors repeat SQLite's) is said once.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Install the global subscriber: events to stderr (stdout carries command output), filtered
/// by `POSTMORTEMD_LOG`, else `RUST_LOG`, else `info`. An invalid filter falls back to `info`
/// with a warning rather than failing start-up. A second call leaves the first subscriber.
pub fn init_tracing(format: LogFormat) {
    let directives = filter_directives(std::env::var("POSTMORTEMD_LOG").ok(), std::env::var("RUST_LOG").ok());
    let (filter, invalid) = match EnvFilter::try_new(&directives) {
        Ok(filter) => (filter, None),
        Err(error) => (EnvFilter::new(DEFAULT_FILTER), Some(error)),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let (Ok(()), Some(error)) = (installed, invalid) {
        tracing::warn!(%error, directives, "Invalid log filter; logging at info.");
    }
}

/// The first non-blank of `POSTMORTEMD_LOG` and `RUST_LOG`, else the default.
fn filter_directives(postmortemd_log: Option<String>, rust_log: Option<String>) -> String {
    [postmortemd_log, rust_log]
        .into_iter()
        .flatten()
        .find(|directives| !directives.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_FILTER.to_owned())
}

/// The webhook sources: a fixed set, so the label stays bounded.
const SOURCES: [WebhookSource; 2] = [WebhookSource::Alertmanager, WebhookSource::PagerDuty];

/// What became of a webhook: a fixed set, so the label stays bounded.
const OUTCOMES: [&str; 5] = ["stored", "duplicate", "rejected", "unauthorized", "unavailable"];

/// What became of a webhook, for `postmortemd_webhooks_received_total{outcome}`; the
/// discriminant is the index of its label in `OUTCOMES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    Stored = 0,
    Duplicate = 1,
    Rejected = 2,
    Unauthorized = 3,
    Unavailable = 4,
}

/// Why a request was turned away with 503 for load: a fixed set, so the label stays bounded;
/// the discriminant is the index of its label in `SHED_REASONS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shed {
    /// The body budget (`server.max_body_bytes_in_flight`) stayed taken for `body_timeout`.
    BodyBudget = 0,
    /// The body did not arrive within `server.body_timeout`.
    BodyTimeout = 1,
    /// No slot among `server.max_requests_in_flight` freed within `body_timeout`.
    Busy = 2,
}

const SHED_REASONS: [&str; 3] = ["body_budget", "body_timeout", "busy"];

/// What a request can wait for: a fixed set, so the label stays bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    BodyBudget = 0,
    Slot = 1,
}

const WAITING_FOR: [&str; 2] = ["body_budget", "slot"];

/// Counts a request as waiting for its `Waiting` while it lives.
#[derive(Debug)]
pub struct WaitingGuard<'a>(&'a AtomicU64);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The routes that answer 401: a fixed set, so the label stays bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthRoute {
    Alertmanager = 0,
    PagerDuty = 1,
    /// The read API (`/api/v1/…` and `/`).
    ReadApi = 2,
}

const AUTH_ROUTES: [&str; 3] = ["/webhooks/alertmanager", "/webhooks/pagerduty", "/api/v1"];

impl AuthRoute {
    pub fn as_str(self) -> &'static str {
        AUTH_ROUTES[self as usize]
    }

    /// What the sender does about a 401 (PROTOCOLS: neither retries a 4xx).
    pub fn consequence(self) -> &'static str {
        match self {
            AuthRoute::Alertmanager => "Alertmanager does not retry a 4xx: the notification is lost",
            AuthRoute::PagerDuty => {
                "PagerDuty drops a delivery answered 4xx without retrying, and disables the subscription for 24 h after three drops in a row"
            }
            AuthRoute::ReadApi => "the reader is refused",
        }
    }
}

/// Which check a rejected request failed: a fixed set, so the label stays bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    NoAuthorization = 0,
    MalformedAuthorization = 1,
    NotBearer = 2,
    WrongToken = 3,
    NoSignature = 4,
    WrongSignature = 5,
}

const AUTH_FAILURES: [&str; 6] =
    ["no_authorization", "malformed_authorization", "not_bearer", "wrong_token", "no_signature", "wrong_signature"];

impl AuthFailure {
    /// The metric label.
    pub fn label(self) -> &'static str {
        AUTH_FAILURES[self as usize]
    }

    /// The check that failed, as the log and `/readyz` say it (never a secret).
    pub fn check(self) -> &'static str {
        match self {
            AuthFailure::NoAuthorization => "no Authorization header",
            AuthFailure::MalformedAuthorization => "Authorization header is not `Bearer <token>`",
            AuthFailure::NotBearer => "Authorization scheme is not Bearer",
            AuthFailure::WrongToken => "bearer token matches no configured token",
            AuthFailure::NoSignature => "no X-PagerDuty-Signature header",
            AuthFailure::WrongSignature => "no v1= signature matches a configured signing secret",
        }
    }

    const ALL: [AuthFailure; 6] = [
        AuthFailure::NoAuthorization,
        AuthFailure::MalformedAuthorization,
        AuthFailure::NotBearer,
        AuthFailure::WrongToken,
        AuthFailure::NoSignature,
        AuthFailure::WrongSignature,
    ];
}

/// The 401s of one route since start: how many, how many since the last accepted request,
/// and the last one's time (Unix seconds) and check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthFailures {
    pub total: u64,
    pub in_a_row: u64,
    pub last: Option<(i64, AuthFailure)>,
}

/// The 401 state of one route.
#[derive(Debug, Default)]
struct RouteAuth {
    by_reason: [AtomicU64; AUTH_FAILURES.len()],
    in_a_row: AtomicU64,
    /// Unix seconds of the last failure, and its `AuthFailure` (as `u64`) in the low byte:
    /// one word, so a reader never pairs one failure's time with another's check.
    last: AtomicU64,
}

/// The collectors: a fixed set, so the label stays bounded.
const COLLECTORS: [&str; 2] = ["kubernetes", "prometheus"];

/// The sources reconciliation polls: a fixed set, so the label stays bounded.
pub const RECONCILED_SOURCES: [&str; 2] = ["alertmanager", "pagerduty"];

/// Upper bounds (seconds) of the latency histograms.
const BUCKETS: [f64; 8] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// Every metric of the daemon. Shared by reference (`Arc<Metrics>`); all methods take `&self`.
#[derive(Debug, Default)]
pub struct Metrics {
    webhooks_received: [[AtomicU64; OUTCOMES.len()]; SOURCES.len()],
    signature_failures: AtomicU64,
    timeline_build: Histogram,
    timeline_cancelled: AtomicU64,
    store_commit: Histogram,
    collect_duration: [Histogram; COLLECTORS.len()],
    collect_gaps: [AtomicU64; COLLECTORS.len()],
    collect_passes: AtomicU64,
    evidence_budget_reached: AtomicU64,
    store_bytes: AtomicU64,
    store_free_bytes: AtomicU64,
    pruned_incidents: AtomicU64,
    /// Unix seconds of the last prune that finished; 0 before the first.
    last_prune: AtomicU64,
    reconcile_polls: [[AtomicU64; 2]; RECONCILED_SOURCES.len()],
    reconciled_webhooks: [AtomicU64; RECONCILED_SOURCES.len()],
    unauthorized: [RouteAuth; AUTH_ROUTES.len()],
    connections_open: AtomicU64,
    connections_evicted: AtomicU64,
    requests_shed: [AtomicU64; SHED_REASONS.len()],
    /// Requests waiting now for the body budget (index 0) or a slot (index 1).
    requests_waiting: [AtomicU64; WAITING_FOR.len()],
    /// 1 when the store answered its last ping (`/readyz`, `/metrics`), else 0.
    store_ready: AtomicU64,
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    /// One webhook from `source` with its `outcome`.
    pub fn webhook_received(&self, source: WebhookSource, outcome: WebhookOutcome) {
        let source_idx = SOURCES.iter().position(|known| *known == source).unwrap_or_default();
        self.webhooks_received[source_idx][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A PagerDuty webhook whose signature matched none of the signing secrets.
    pub fn signature_failure(&self) {
        self.signature_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A request to `route` refused with 401 because `failure`, at `now` (Unix seconds).
    pub fn unauthorized(&self, route: AuthRoute, failure: AuthFailure, now: i64) {
        let state = &self.unauthorized[route as usize];
        state.by_reason[failure as usize].fetch_add(1, Ordering::Relaxed);
        state.in_a_row.fetch_add(1, Ordering::Relaxed);
        state.last.store((now.max(0).unsigned_abs() << 8) | (failure as u64 + 1), Ordering::Relaxed);
    }

    /// A request to `route` passed its check: the failures are no longer in a row.
    pub fn authorized(&self, route: AuthRoute) {
        self.unauthorized[route as usize].in_a_row.store(0, Ordering::Relaxed);
    }

    /// The 401s of `route` since start.
    pub fn auth_failures(&self, route: AuthRoute) -> AuthFailures {
        let state = &self.unauthorized[route as usize];
        let last = state.last.load(Ordering::Relaxed);
        let failure = (last & 0xff).checked_sub(1).and_then(|index| AuthFailure::ALL.get(index as usize).copied());
        AuthFailures {
            total: state.by_reason.iter().map(|count| count.load(Ordering::Relaxed)).sum(),
            in_a_row: state.in_a_row.load(Ordering::Relaxed),
            last: failure.map(|failure| ((last >> 8) as i64, failure)),
        }
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection closed to make room for a new one (`server.max_connections`).
    pub fn connection_evicted(&self) {
        self.connections_evicted.fetch_add(1, Ordering::Relaxed);
    }

    /// A request turned away with 503 for load.
    pub fn request_shed(&self, reason: Shed) {
        self.requests_shed[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A request waits for `what` until the guard is dropped.
    pub fn waiting(&self, what: Waiting) -> WaitingGuard<'_> {
        let gauge = &self.requests_waiting[what as usize];
        gauge.fetch_add(1, Ordering::Relaxed);
        WaitingGuard(gauge)
    }

    /// What the store's last ping said.
    pub fn store_ready(&self, ready: bool) {
        self.store_ready.store(u64::from(ready), Ordering::Relaxed);
    }

    /// One timeline built in `seconds`.
    pub fn timeline_built(&self, seconds: f64) {
        self.timeline_build.observe(seconds);
    }

    /// A timeline build stopped because nobody waited for it any more.
    pub fn timeline_cancelled(&self) {
        self.timeline_cancelled.fetch_add(1, Ordering::Relaxed);
    }

    /// One store transaction committed in `seconds`.
    pub fn store_commit(&self, seconds: f64) {
        self.store_commit.observe(seconds);
    }

    /// One collector's part of a pass: how long it took and how many gaps it reported.
    /// A collector outside [`COLLECTORS`] is not counted (debug builds assert).
    pub fn collected(&self, collector: &str, seconds: f64, n_gaps: usize) {
        let collector_idx = COLLECTORS.iter().position(|known| *known == collector);
        debug_assert!(collector_idx.is_some(), "unknown collector {collector:?}");
        if let Some(collector_idx) = collector_idx {
            self.collect_duration[collector_idx].observe(seconds);
            self.collect_gaps[collector_idx].fetch_add(n_gaps as u64, Ordering::Relaxed);
        }
    }

    /// One collection pass stored.
    pub fn pass_stored(&self) {
        self.collect_passes.fetch_add(1, Ordering::Relaxed);
    }

    /// A pass found its incident's evidence at `store.max_evidence_bytes` and left lines out.
    pub fn evidence_budget_reached(&self) {
        self.evidence_budget_reached.fetch_add(1, Ordering::Relaxed);
    }

    /// The store's size on disk as last read, and of that what is free for reuse.
    pub fn store_size(&self, bytes: u64, free_bytes: u64) {
        self.store_bytes.store(bytes, Ordering::Relaxed);
        self.store_free_bytes.store(free_bytes, Ordering::Relaxed);
    }

    /// A prune finished at `at` (unix seconds), deleting `incidents`.
    pub fn pruned(&self, incidents: u64, at: i64) {
        self.pruned_incidents.fetch_add(incidents, Ordering::Relaxed);
        self.last_prune.store(at.max(0) as u64, Ordering::Relaxed);
    }

    /// One poll of a reconciled source (`alertmanager`, `pagerduty`): whether it failed, and
    /// how many webhooks it stored that the webhook route had missed.
    pub fn reconcile_polled(&self, source: &str, failed: bool, n_stored: usize) {
        let source_idx = RECONCILED_SOURCES.iter().position(|known| *known == source);
        debug_assert!(source_idx.is_some(), "unknown reconciled source {source:?}");
        if let Some(source_idx) = source_idx {
            self.reconcile_polls[source_idx][usize::from(failed)].fetch_add(1, Ordering::Relaxed);
            self.reconciled_webhooks[source_idx].fetch_add(n_stored as u64, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric; `incidents_open` is
    /// read from the store by the caller at scrape time.
    pub fn render(&self, incidents_open: i64) -> String {
        let mut text = String::with_capacity(4096);
        header(
            &mut text,
            "postmortemd_webhooks_received_total",
            "counter",
            "Webhooks received, by source and what became of them.",
        );
        for (source_idx, source) in SOURCES.iter().enumerate() {
            for (outcome_idx, outcome) in OUTCOMES.iter().enumerate() {
                let count = self.webhooks_received[source_idx][outcome_idx].load(Ordering::Relaxed);
                let _ = writeln!(
                    text,
                    "postmortemd_webhooks_received_total{{source=\"{source}\",outcome=\"{outcome}\"}} {count}"
                );
            }
        }
        let load = |value: &AtomicU64| value.load(Ordering::Relaxed);
        single(
            &mut text,
            "postmortemd_webhook_signature_failures_total",
            "counter",
            "PagerDuty webhooks whose signature matched no signing secret.",
            load(&self.signature_failures),
        );
        header(&mut text, "postmortemd_incidents_open", "gauge", "Incidents not yet resolved.");
        let _ = writeln!(text, "postmortemd_incidents_open {incidents_open}");
        self.timeline_build.render(&mut text, "postmortemd_timeline_build_seconds", "Time to build one timeline.");
        single(
            &mut text,
            "postmortemd_timeline_builds_cancelled_total",
            "counter",
            "Timeline builds stopped because every reader waiting for them had left.",
            load(&self.timeline_cancelled),
        );
        self.store_commit.render(
            &mut text,
            "postmortemd_store_commit_seconds",
            "Time to commit one store transaction.",
        );
        header(&mut text, "postmortemd_collect_passes_total", "counter", "Collection passes stored.");
        let _ = writeln!(text, "postmortemd_collect_passes_total {}", self.collect_passes.load(Ordering::Relaxed));
        header(
            &mut text,
            "postmortemd_collect_gaps_total",
            "counter",
            "Gaps collectors reported (sources they could not read), by collector.",
        );
        for (collector_idx, collector) in COLLECTORS.iter().enumerate() {
            let count = self.collect_gaps[collector_idx].load(Ordering::Relaxed);
            let _ = writeln!(text, "postmortemd_collect_gaps_total{{collector=\"{collector}\"}} {count}");
        }
        single(
            &mut text,
            "postmortemd_evidence_budget_reached_total",
            "counter",
            "Passes that left log lines out because their incident's evidence reached store.max_evidence_bytes.",
            load(&self.evidence_budget_reached),
        );
        single(
            &mut text,
            "postmortemd_store_bytes",
            "gauge",
            "Bytes the store's database takes on disk.",
            load(&self.store_bytes),
        );
        single(
            &mut text,
            "postmortemd_store_free_bytes",
            "gauge",
            "Bytes of the store's database freed by pruning and reused before it grows.",
            load(&self.store_free_bytes),
        );
        single(
            &mut text,
            "postmortemd_store_pruned_incidents_total",
            "counter",
            "Resolved incidents deleted after store.retention, with their webhooks and evidence.",
            load(&self.pruned_incidents),
        );
        single(
            &mut text,
            "postmortemd_store_last_prune_timestamp_seconds",
            "gauge",
            "When the last prune finished (unix seconds); 0 before the first.",
            load(&self.last_prune),
        );
        header(
            &mut text,
            "postmortemd_collect_duration_seconds",
            "histogram",
            "Time one collector took for one pass of one incident.",
        );
        for (collector_idx, collector) in COLLECTORS.iter().enumerate() {
            self.collect_duration[collector_idx].render_series(
                &mut text,
                "postmortemd_collect_duration_seconds",
                &format!("collector=\"{collector}\","),
            );
        }
        header(
            &mut text,
            "postmortemd_reconcile_polls_total",
            "counter",
            "Polls of Alertmanager and PagerDuty for what webhooks missed, by source and outcome.",
        );
        for (source_idx, source) in RECONCILED_SOURCES.iter().enumerate() {
            for (outcome_idx, outcome) in ["ok", "failed"].iter().enumerate() {
                let count = self.reconcile_polls[source_idx][outcome_idx].load(Ordering::Relaxed);
                let _ = writeln!(
                    text,
                    "postmortemd_reconcile_polls_total{{source=\"{source}\",outcome=\"{outcome}\"}} {count}"
                );
            }
        }
        header(
            &mut text,
            "postmortemd_reconciled_webhooks_total",
            "counter",
            "Notifications and pages reconciliation stored because no webhook had brought them, by source.",
        );
        for (source_idx, source) in RECONCILED_SOURCES.iter().enumerate() {
            let count = self.reconciled_webhooks[source_idx].load(Ordering::Relaxed);
            let _ = writeln!(text, "postmortemd_reconciled_webhooks_total{{source=\"{source}\"}} {count}");
        }
        header(
            &mut text,
            "postmortemd_http_unauthorized_total",
            "counter",
            "Requests refused with 401, by route and the check that failed.",
        );
        for (route_idx, route) in AUTH_ROUTES.iter().enumerate() {
            for (reason_idx, reason) in AUTH_FAILURES.iter().enumerate() {
                let count = self.unauthorized[route_idx].by_reason[reason_idx].load(Ordering::Relaxed);
                let _ = writeln!(
                    text,
                    "postmortemd_http_unauthorized_total{{route=\"{route}\",reason=\"{reason}\"}} {count}"
                );
            }
        }
        header(&mut text, "postmortemd_http_connections_open", "gauge", "HTTP connections open.");
        let _ = writeln!(text, "postmortemd_http_connections_open {}", self.connections_open.load(Ordering::Relaxed));
        header(
            &mut text,
            "postmortemd_http_connections_evicted_total",
            "counter",
            "Connections closed at server.max_connections to make room for a new one.",
        );
        let _ = writeln!(
            text,
            "postmortemd_http_connections_evicted_total {}",
            self.connections_evicted.load(Ordering::Relaxed)
        );
        header(
            &mut text,
            "postmortemd_http_requests_shed_total",
            "counter",
            "Requests turned away with 503 for load, by reason.",
        );
        for (reason_idx, reason) in SHED_REASONS.iter().enumerate() {
            let count = self.requests_shed[reason_idx].load(Ordering::Relaxed);
            let _ = writeln!(text, "postmortemd_http_requests_shed_total{{reason=\"{reason}\"}} {count}");
        }
        header(
            &mut text,
            "postmortemd_http_requests_waiting",
            "gauge",
            "Requests waiting now for the body budget or for a slot among the requests in flight.",
        );
        for (what_idx, what) in WAITING_FOR.iter().enumerate() {
            let count = self.requests_waiting[what_idx].load(Ordering::Relaxed);
            let _ = writeln!(text, "postmortemd_http_requests_waiting{{for=\"{what}\"}} {count}");
        }
        header(
            &mut text,
            "postmortemd_store_ready",
            "gauge",
            "1 when the store answered its last readiness check (/readyz, this scrape), else 0.",
        );
        let _ = writeln!(text, "postmortemd_store_ready {}", self.store_ready.load(Ordering::Relaxed));
        text
    }
}

fn header(text: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
}

/// A family of one unlabelled sample.
fn single(text: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    header(text, name, kind, help);
    let _ = writeln!(text, "{name} {value}");
}

/// A histogram over [`BUCKETS`], each bucket counted cumulatively as Prometheus exposes it.
///
/// NB: no lock, yet a scrape never sees a bucket above a larger one or above the count:
/// `observe` adds to the count first and then to the buckets from the largest bound down,
/// while `render` reads the buckets from the smallest bound up and the count last.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// The sum of observations, as `f64` bits.
    sum_bits: AtomicU64,
}

impl Histogram {
    /// Count one observation; a NaN, infinite or negative one (a clock stepping back) is
    /// dropped, since it would poison the sum (and `inf` is not a Prometheus number).
    fn observe(&self, seconds: f64) {
        if !seconds.is_finite() || seconds < 0.0 {
            return;
        }
        self.count.fetch_add(1, Ordering::SeqCst);
        for (bound_idx, bound) in BUCKETS.iter().enumerate().rev() {
            if seconds > *bound {
                break;
            }
            self.buckets[bound_idx].fetch_add(1, Ordering::SeqCst);
        }
        let _ = self
            .sum_bits
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |bits| Some((f64::from_bits(bits) + seconds).to_bits()));
    }

    fn render(&self, text: &mut String, name: &str, help: &str) {
        header(text, name, "histogram", help);
        self.render_series(text, name, "");
    }

    /// The histogram's lines with `labels` (`collector="kubernetes",`, or empty) before `le`.
    fn render_series(&self, text: &mut String, name: &str, labels: &str) {
        for (bound_idx, bound) in BUCKETS.iter().enumerate() {
            let count = self.buckets[bound_idx].load(Ordering::SeqCst);
            let _ = writeln!(text, "{name}_bucket{{{labels}le=\"{bound}\"}} {count}");
        }
        let sum = f64::from_bits(self.sum_bits.load(Ordering::SeqCst));
        let count = self.count.load(Ordering::SeqCst);
        let _ = writeln!(text, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
        let bare = labels.trim_end_matches(',');
        let braces = if bare.is_empty() { String::new() } else { format!("{{{bare}}}") };
        let _ = writeln!(text, "{name}_sum{braces} {sum}");
        let _ = writeln!(text, "{name}_count{braces} {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_chain_says_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("store query commit failed")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("error returned from database: (code: 13) database or disk is full")]
        struct Inner(#[source] Repeated);
        #[derive(Debug, thiserror::Error)]
        #[error("(code: 13) database or disk is full")]
        struct Repeated;
        assert_eq!(
            error_chain(&Outer(Inner(Repeated))),
            "store query commit failed: error returned from database: (code: 13) database or disk is full"
        );
    }

    #[track_caller]
    fn check_filter(postmortemd_log: Option<&str>, rust_log: Option<&str>, expected: &str) {
        let directives = filter_directives(postmortemd_log.map(str::to_owned), rust_log.map(str::to_owned));
        assert_eq!(directives, expected, "POSTMORTEMD_LOG={postmortemd_log:?} RUST_LOG={rust_log:?}");
    }

    #[test]
    fn the_log_filter_prefers_postmortemd_log_then_rust_log_then_info() {
        let rows: &[(Option<&str>, Option<&str>, &str)] = &[
            (Some("debug"), Some("warn"), "debug"),
            (None, Some("postmortemd=trace"), "postmortemd=trace"),
            (Some("  "), Some("warn"), "warn"),
            (None, None, "info"),
        ];
        for (postmortemd_log, rust_log, expected) in rows {
            check_filter(*postmortemd_log, *rust_log, expected);
        }
    }

    #[test]
    fn log_formats_parse_by_name() {
        assert_eq!("plain".parse::<LogFormat>(), Ok(LogFormat::Plain));
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("xml".parse::<LogFormat>(), Err("log format \"xml\" is neither plain nor json".to_owned()));
    }

    /// The lines of `text` that start with `prefix`.
    fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|line| line.starts_with(prefix)).collect()
    }

    #[test]
    fn webhook_counts_are_exposed_per_source_and_outcome_with_zeros() {
        let metrics = Metrics::new();
        metrics.webhook_received(WebhookSource::Alertmanager, WebhookOutcome::Stored);
        metrics.webhook_received(WebhookSource::Alertmanager, WebhookOutcome::Stored);
        metrics.webhook_received(WebhookSource::PagerDuty, WebhookOutcome::Unauthorized);
        metrics.signature_failure();
        let text = metrics.render(3);
        let rows: &[(&str, &str)] = &[
            ("alertmanager\",outcome=\"stored\"}", "2"),
            ("alertmanager\",outcome=\"duplicate\"}", "0"),
            ("pagerduty\",outcome=\"unauthorized\"}", "1"),
            ("pagerduty\",outcome=\"unavailable\"}", "0"),
        ];
        for (labels, expected) in rows {
            let line = format!("postmortemd_webhooks_received_total{{source=\"{labels} {expected}");
            assert!(text.lines().any(|candidate| candidate == line), "{line} missing from\n{text}");
        }
        assert_eq!(lines_starting(&text, "postmortemd_webhooks_received_total{").len(), 10);
        assert!(text.contains("\npostmortemd_webhook_signature_failures_total 1\n"), "{text}");
        assert!(text.contains("\npostmortemd_incidents_open 3\n"), "{text}");
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let metrics = Metrics::new();
        for seconds in [0.0005, 0.003, 0.003, 0.2, 7.0, f64::NAN, f64::INFINITY, -1.0] {
            metrics.timeline_built(seconds);
        }
        metrics.store_commit(0.01);
        let text = metrics.render(0);
        let expected = "\
# HELP postmortemd_timeline_build_seconds Time to build one timeline.
# TYPE postmortemd_timeline_build_seconds histogram
postmortemd_timeline_build_seconds_bucket{le=\"0.001\"} 1
postmortemd_timeline_build_seconds_bucket{le=\"0.005\"} 3
postmortemd_timeline_build_seconds_bucket{le=\"0.01\"} 3
postmortemd_timeline_build_seconds_bucket{le=\"0.05\"} 3
postmortemd_timeline_build_seconds_bucket{le=\"0.1\"} 3
postmortemd_timeline_build_seconds_bucket{le=\"0.5\"} 4
postmortemd_timeline_build_seconds_bucket{le=\"1\"} 4
postmortemd_timeline_build_seconds_bucket{le=\"5\"} 4
postmortemd_timeline_build_seconds_bucket{le=\"+Inf\"} 5
postmortemd_timeline_build_seconds_sum 7.2065
postmortemd_timeline_build_seconds_count 5
";
        assert!(text.contains(expected), "{text}");
        assert!(text.contains("postmortemd_store_commit_seconds_bucket{le=\"0.01\"} 1\n"), "a bound is inclusive");
        assert!(text.contains("postmortemd_store_commit_seconds_bucket{le=\"0.005\"} 0\n"), "{text}");
        assert!(text.contains("postmortemd_store_commit_seconds_count 1\n"), "{text}");
        metrics.collected("prometheus", 0.2, 3);
        let text = metrics.render(0);
        assert!(text.contains("postmortemd_collect_duration_seconds_bucket{collector=\"prometheus\",le=\"0.5\"} 1\n"));
        assert!(text.contains("postmortemd_collect_duration_seconds_bucket{collector=\"kubernetes\",le=\"+Inf\"} 0\n"));
        assert!(text.contains("postmortemd_collect_duration_seconds_sum{collector=\"prometheus\"} 0.2\n"), "{text}");
        assert!(text.contains("postmortemd_collect_gaps_total{collector=\"prometheus\"} 3\n"), "{text}");
    }

    /// Format 0.0.4: every sample belongs to a family declared once by HELP then TYPE, the
    /// families are contiguous, and every value is a number.
    #[test]
    fn the_exposition_is_well_formed() {
        let metrics = Metrics::new();
        metrics.webhook_received(WebhookSource::PagerDuty, WebhookOutcome::Duplicate);
        metrics.timeline_built(0.02);
        metrics.collected("kubernetes", 1.5, 2);
        metrics.reconcile_polled("alertmanager", false, 2);
        metrics.reconcile_polled("pagerduty", true, 0);
        let text = metrics.render(0);
        assert!(
            text.contains("postmortemd_reconcile_polls_total{source=\"pagerduty\",outcome=\"failed\"} 1"),
            "{text}"
        );
        assert!(text.contains("postmortemd_reconciled_webhooks_total{source=\"alertmanager\"} 2"), "{text}");
        let mut declared: Vec<String> = Vec::new();
        let mut current: Option<(String, String)> = None;
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                let name = help.split(' ').next().unwrap().to_owned();
                let kind_line = lines.next().unwrap();
                let kind = kind_line.strip_prefix(&format!("# TYPE {name} ")).expect(kind_line).to_owned();
                assert!(["counter", "gauge", "histogram"].contains(&kind.as_str()), "{kind_line}");
                assert!(!declared.contains(&name), "{name} declared twice");
                declared.push(name.clone());
                current = Some((name, kind));
                continue;
            }
            let (family, kind) = current.as_ref().expect("a sample before any HELP");
            let (series, value) = line.rsplit_once(' ').expect(line);
            let metric = series.split('{').next().unwrap();
            let allowed = match kind.as_str() {
                "histogram" => vec![format!("{family}_bucket"), format!("{family}_sum"), format!("{family}_count")],
                _ => vec![family.clone()],
            };
            assert!(allowed.iter().any(|name| name == metric), "{line} outside its family {family}");
            assert!(value.parse::<f64>().is_ok(), "{line}: value not a number");
        }
        assert_eq!(declared.len(), 22, "{declared:?}");
    }
}
