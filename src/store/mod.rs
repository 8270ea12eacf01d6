//! The queries the app uses, over SQLite (and later PostgreSQL): webhooks stored durably
//! before they are acknowledged, deduplicated, and grouped into incidents; collection jobs
//! and the evidence they bring. The types here are what the app sees; `sqlite.rs` and
//! `evidence.rs` hold the queries.

use std::collections::BTreeMap;

use jiff::SignedDuration;

use crate::record::{AlertStatus, Instant};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the store at {url}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot run the store's migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("store query {query} failed")]
    Query {
        query: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

impl Error {
    /// A fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Open { .. } => "open",
            Error::Migrate(_) => "migrate",
            Error::Query { .. } => "query",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One Alertmanager notification, parsed, to be stored.
#[derive(Clone, Debug)]
pub struct AlertmanagerIntake {
    /// groupKey + status + sorted (fingerprint, status, startsAt, endsAt), hashed.
    pub dedup_key: String,
    pub received_at: Instant,
    pub body: Vec<u8>,
    pub group_key: String,
    pub status: AlertStatus,
    /// The earliest `startsAt` of its alerts.
    pub starts_at: Instant,
    /// The latest `endsAt` when the group is resolved.
    pub ends_at: Option<Instant>,
    pub title: String,
    pub severity: Option<String>,
    pub truncated_alerts: u64,
    /// The group's `commonLabels`: what PagerDuty fallback links match against.
    pub labels: BTreeMap<String, String>,
}

/// One PagerDuty v3 webhook, parsed, to be stored.
#[derive(Clone, Debug)]
pub struct PagerDutyIntake {
    /// `X-Webhook-Id`, else `event.id`.
    pub dedup_key: String,
    pub received_at: Instant,
    pub body: Vec<u8>,
    pub occurred_at: Instant,
    /// `triggered`, `acknowledged`, `resolved`, … (None for non-incident events like pagey.ping).
    pub action: Option<String>,
    pub pd_incident_id: Option<String>,
    /// `incident_key`: Alertmanager's PagerDuty integration sends sha256(groupKey) hex.
    pub incident_key: Option<String>,
    pub title: Option<String>,
    /// The fallback for a page that neither its PagerDuty incident id nor its
    /// `incident_key` links to an incident; `None`: no rule names the page's service.
    pub link: Option<PageLink>,
}

/// A fallback link of a page to an Alertmanager incident (`[[webhooks.pagerduty.links]]`
/// rules of the page's service): the incident must carry every label of one of the sets,
/// and the page's time must fall within the incident's span widened by `within`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageLink {
    pub label_sets: Vec<BTreeMap<String, String>>,
    pub within: SignedDuration,
}

impl PageLink {
    /// The labels of an incident (a JSON object of strings) satisfy one of the sets.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.label_sets.iter().any(|set| set.iter().all(|(name, value)| labels.get(name) == Some(value)))
    }
}

/// What storing a webhook did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intake {
    pub webhook_id: i64,
    /// None for webhooks that belong to no incident (pagey.ping).
    pub incident_id: Option<i64>,
    pub duplicate: bool,
}

/// An incident as the API lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentRow {
    pub id: i64,
    pub title: String,
    /// `open` or `resolved`.
    pub status: String,
    pub severity: Option<String>,
    pub opened_at: Instant,
    pub last_signal_at: Instant,
    pub resolved_at: Option<Instant>,
    pub group_key: Option<String>,
    pub truncated_alerts: u64,
    pub n_webhooks: i64,
    /// `alertmanager`, `pagerduty`.
    pub sources: Vec<String>,
    /// Grows with every webhook: the cache key of the incident's timeline.
    pub last_webhook_id: i64,
}

/// A stored webhook body of an incident.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredWebhook {
    pub id: i64,
    pub source: String,
    pub received_at: Instant,
    pub body: Vec<u8>,
}

/// Filters of `GET /api/v1/incidents`.
#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    pub status: Option<String>,
    pub since: Option<Instant>,
}

/// The store: a connection pool; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: sqlx::SqlitePool,
    /// The writer task's queue (see `sqlite::write_batches`).
    writer: tokio::sync::mpsc::Sender<sqlite::Job>,
}
mod evidence;
mod sqlite;

/// Gzip of `bytes` (fast level: evidence is written once per pass and read rarely). Stored
/// evidence bodies are gzip; compressing happens before the store, as a pass reads.
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4 + 64), flate2::Compression::fast());
    // NB: writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// The bytes of a gzip body [`compress`] made.
pub fn decompress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

pub use evidence::{ClaimedJob, Collection, NextRun, StoredEvidence, StoredPass};
