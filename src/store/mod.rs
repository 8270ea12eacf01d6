//! The store: webhooks stored durably before they are acknowledged, deduplicated, and
//! grouped into incidents; collection jobs and the evidence they bring. [`Store`] is the
//! interface the app uses, whatever the backend: SQLite (`sqlite/`, the embedded
//! single-replica default) or PostgreSQL (`postgres/`, shared by several replicas). The types here and in `evidence.rs` are what the app sees; SQL,
//! migrations and anything else backend-specific live only inside a backend's folder.
//! Incident rules (grouping, linking, severity) are `incident::grouping`'s; a backend loads
//! what they need and persists what they decide.

use jiff::SignedDuration;

pub use crate::incident::grouping::{
    AlertmanagerIntake, AlertmanagerPoll, IncidentStatus, PageLink, PagerDutyIntake, WebhookSource,
};
use crate::record::{Instant, ResponderRecord};

pub mod copy;
mod evidence;
mod health;
mod postgres;
mod run;
mod sqlite;

pub use evidence::{ClaimedJob, Collection, NextRun, StoredEvidence, StoredPass};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `url` is shown without its password ([`redacted_url`]).
    #[error("cannot open the store at {}", redacted_url(url))]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("store URL {}: {scheme}:// is not a store backend (sqlite:// and postgres:// are)", redacted_url(url))]
    Scheme { url: String, scheme: String },
    /// A collection job's lease was taken by another daemon (its lapsed lease claimed again,
    /// the fencing token moved on): this daemon's pass must be dropped, not stored.
    #[error(
        "lease lost: collection job of incident {incident_id} is held by another daemon now (token {token} is stale)"
    )]
    LeaseLost { incident_id: i64, token: i64 },
    #[error("cannot run the store's migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("store query {query} failed")]
    Query {
        query: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// Another daemon holds the store's lock file (an OS lock, released when it exits).
    #[error("{lock} is locked by another postmortemd ({holder}): one daemon per SQLite file")]
    InUse { lock: String, holder: String },
    /// Webhook writes failed since `since` and none succeeded after; `fault` is its kind
    /// (`disk full`, `read-only`, `locked`, …) and `detail` the last error with its causes.
    #[error("store writes failing since {since} ({fault}): {detail}")]
    Writes { since: Instant, fault: &'static str, detail: String },
    /// `store copy` refuses a target that already holds incidents or webhooks.
    #[error("the target store already holds incidents or webhooks: copy into an empty database")]
    NotEmpty,
    /// `store copy`: the two stores' tables differ.
    #[error("{0}")]
    Schema(String),
    /// The database file is not the one the store opened: writes would go to an unlinked file.
    #[error("the database file {path} was {what} under the daemon; writes are refused until a restart opens it again")]
    FileGone { path: String, what: &'static str },
}

impl Error {
    /// A fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Open { .. } | Error::Scheme { .. } => "open",
            Error::Migrate(_) => "migrate",
            Error::Query { .. } => "query",
            Error::LeaseLost { .. } => "lease_lost",
            Error::InUse { .. } => "in_use",
            Error::Writes { .. } => "writes",
            Error::FileGone { .. } => "file_gone",
            Error::NotEmpty | Error::Schema(_) => "copy",
        }
    }

    /// The error with its causes, `: `-separated: what `/readyz` and the logs say.
    pub fn reason(&self) -> String {
        crate::telemetry::error_chain(self)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
    pub status: IncidentStatus,
    pub severity: Option<String>,
    pub opened_at: Instant,
    pub last_signal_at: Instant,
    pub resolved_at: Option<Instant>,
    pub group_key: Option<String>,
    pub truncated_alerts: u64,
    pub n_webhooks: i64,
    pub sources: Vec<WebhookSource>,
    /// Grows with every webhook: the cache key of the incident's timeline.
    pub last_webhook_id: i64,
    /// How many of its webhooks reconciliation stored (missed by the webhook route).
    pub n_reconciled: i64,
}

impl IncidentRow {
    /// This incident read with one merged into it: the span of both, their webhooks
    /// counted together, the status by `incident::grouping::merged_status`; its own id,
    /// title and severity.
    pub fn absorb(&mut self, merged: &IncidentRow) {
        let (status, resolved_at) = crate::incident::grouping::merged_status(&[
            (self.status, self.resolved_at),
            (merged.status, merged.resolved_at),
        ]);
        self.status = status;
        self.resolved_at = resolved_at;
        self.opened_at = self.opened_at.min(merged.opened_at);
        self.last_signal_at = self.last_signal_at.max(merged.last_signal_at);
        self.truncated_alerts = self.truncated_alerts.saturating_add(merged.truncated_alerts);
        self.n_webhooks += merged.n_webhooks;
        self.last_webhook_id = self.last_webhook_id.max(merged.last_webhook_id);
        self.n_reconciled += merged.n_reconciled;
        for source in &merged.sources {
            if !self.sources.contains(source) {
                self.sources.push(*source);
            }
        }
        self.sources.sort_by_key(|source| source.as_str());
    }
}

/// A stored webhook body of an incident.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredWebhook {
    pub id: i64,
    pub source: WebhookSource,
    pub received_at: Instant,
    pub body: Vec<u8>,
}

/// What responders added to an incident: over the write API (`Store::add_responder_input`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Responders {
    /// The inputs of the incident and of every incident merged into it, by time then as
    /// they came.
    pub inputs: Vec<ResponderRecord>,
    /// The incidents merged into this one (read as its own: webhooks, evidence, inputs).
    pub merged_from: Vec<i64>,
    /// The incident this one was merged into, if it was.
    pub merged_into: Option<i64>,
    /// The newest input's id among them (0: none): part of the timeline's cache key.
    pub revision: i64,
}

/// Why a responder's input was not stored: the request can never succeed as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No incident of this id.
    NoIncident(i64),
    /// The incident was merged into another: inputs go to that one.
    Merged { id: i64, into: i64 },
    /// A merge into itself, or of an incident already merged (a cycle, or twice).
    Conflict(String),
}

/// What one [`Store::prune`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub incidents: u64,
    pub webhooks: u64,
    pub log_chunks: u64,
}

/// The store's size on disk: what its database holds, and of that what is free for reuse
/// (pages pruning freed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreSize {
    pub bytes: u64,
    pub free_bytes: u64,
}

/// Filters of `GET /api/v1/incidents`, and its page: at most `limit` incidents, those
/// strictly after `after` (the `(opened_at, id)` of the previous page's last) in the
/// newest-first order.
#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    pub status: Option<IncidentStatus>,
    pub since: Option<Instant>,
    pub limit: Option<u32>,
    pub after: Option<(Instant, i64)>,
}

/// The store: one backend, chosen by the URL's scheme; cheap to clone. Every method is the
/// backend's; the decisions it persists (grouping, linking, status) are `incident`'s.
#[derive(Clone, Debug)]
pub struct Store(Backend);

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// Calls the same method on whichever backend the store has.
macro_rules! dispatch {
    ($store:expr, $backend:ident => $call:expr) => {
        match &$store.0 {
            Backend::Sqlite($backend) => $call,
            Backend::Postgres($backend) => $call,
        }
    };
}

impl Store {
    /// Opens (creating it when missing) and migrates the store at `url`:
    /// `sqlite://./data/postmortemd.db` (or a bare path, taken as SQLite). A SQLite file is
    /// this store's alone while it lives: a second open (another daemon) is [`Error::InUse`].
    /// `postgres://user@host/db?sslmode=verify-full` (or `postgresql://`) opens a database that
    /// several daemons share; they migrate it once, under the migrator's advisory lock.
    pub async fn open(url: &str) -> Result<Store> {
        match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("sqlite") | None => Ok(Store(Backend::Sqlite(sqlite::SqliteStore::open(url).await?))),
            Some("postgres" | "postgresql") => Ok(Store(Backend::Postgres(postgres::PgStore::open(url).await?))),
            Some(scheme) => Err(Error::Scheme { url: url.to_owned(), scheme: scheme.to_owned() }),
        }
    }

    /// The store answers and is migrated, its writes are not failing ([`Error::Writes`]) and
    /// its file is still the one it opened ([`Error::FileGone`]).
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, backend => backend.ping().await)
    }

    /// Stores an Alertmanager notification (once) in the incident of its group episode
    /// (`incident::grouping` decides which); returns after the commit that holds it.
    pub async fn record_alertmanager(
        &self,
        intake: AlertmanagerIntake,
        quiet_period: SignedDuration,
    ) -> Result<Intake> {
        dispatch!(self, backend => backend.record_alertmanager(intake, quiet_period).await)
    }

    /// Stores a PagerDuty event (once), linked as `incident::grouping::page_link_steps`
    /// says; returns after the commit that holds it.
    pub async fn record_pagerduty(&self, intake: PagerDutyIntake) -> Result<Intake> {
        dispatch!(self, backend => backend.record_pagerduty(intake).await)
    }

    /// Stores what one poll of Alertmanager calls for (`incident::grouping::reconcile_alertmanager`
    /// decides, over the Alertmanager incidents its alerts may belong to, loaded in the same
    /// write transaction): notifications of missed alerts and resolutions of alerts gone,
    /// each grouped as a webhook is and marked reconciled. Nothing when no peer answered.
    pub async fn reconcile_alertmanager(
        &self,
        poll: &AlertmanagerPoll,
        receivers: &[String],
        quiet_period: SignedDuration,
    ) -> Result<Vec<Intake>> {
        dispatch!(self, backend => backend.reconcile_alertmanager(poll, receivers, quiet_period).await)
    }

    /// Stores a page PagerDuty's REST log holds (once), marked reconciled, unless a webhook
    /// brought the same transition (PagerDuty incident, action, time); linked as a webhook is.
    pub async fn record_pagerduty_rest(&self, intake: PagerDutyIntake) -> Result<Intake> {
        dispatch!(self, backend => backend.record_pagerduty_rest(intake).await)
    }

    /// Where polling `source` resumes (`pagerduty`: the last seen time), if it ever ran.
    pub async fn reconcile_position(&self, source: &str) -> Result<Option<Instant>> {
        dispatch!(self, backend => backend.reconcile_position(source).await)
    }

    /// Keeps where polling `source` resumes.
    pub async fn set_reconcile_position(&self, source: &str, position: Instant) -> Result<()> {
        dispatch!(self, backend => backend.set_reconcile_position(source, position).await)
    }

    /// Incidents, newest first; a page of them with `filter.limit` and `filter.after`.
    pub async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        dispatch!(self, backend => backend.incidents(filter).await)
    }

    /// When each webhook of these incidents arrived, as (incident id, time), in arrival
    /// order per incident (the index's sparklines: one query per page).
    pub async fn webhook_arrivals(&self, incident_ids: &[i64]) -> Result<Vec<(i64, Instant)>> {
        dispatch!(self, backend => backend.webhook_arrivals(incident_ids).await)
    }

    pub async fn incident(&self, id: i64) -> Result<Option<IncidentRow>> {
        dispatch!(self, backend => backend.incident(id).await)
    }

    /// The webhooks of an incident, in arrival order.
    pub async fn incident_webhooks(&self, id: i64) -> Result<Vec<StoredWebhook>> {
        dispatch!(self, backend => backend.incident_webhooks(id).await)
    }

    pub async fn count_webhooks(&self) -> Result<i64> {
        dispatch!(self, backend => backend.count_webhooks().await)
    }

    pub async fn count_open(&self) -> Result<i64> {
        dispatch!(self, backend => backend.count_open().await)
    }

    /// Gives every incident without a job one due `now`: new incidents, and those of
    /// before collection existed whose last signal is after `horizon` (older evidence is gone).
    pub async fn ensure_jobs(&self, now: Instant, horizon: Instant) -> Result<u64> {
        dispatch!(self, backend => backend.ensure_jobs(now, horizon).await)
    }

    /// Claims the most overdue job no other daemon holds, until `lease_until`, with a new
    /// fencing token ([`ClaimedJob::token`]): every later write of the pass names it, and is
    /// refused ([`Error::LeaseLost`]) once another daemon has claimed the job since.
    pub async fn claim_job(&self, now: Instant, lease_until: Instant) -> Result<Option<ClaimedJob>> {
        dispatch!(self, backend => backend.claim_job(now, lease_until).await)
    }

    /// Gives back a job this daemon claimed with `token` and will not finish (it is shutting
    /// down): due again at once, for any daemon. A lease another daemon took since (after this
    /// one's ran out) is left alone: [`Error::LeaseLost`].
    pub async fn release_job(&self, incident_id: i64, token: i64) -> Result<()> {
        dispatch!(self, backend => backend.release_job(incident_id, token).await)
    }

    /// Deletes the log chunks a pass numbered `pass` left behind: a pass that is run again
    /// (its daemon crashed before [`Store::store_pass`]) starts from nothing. Only with the
    /// job's current lease `token`, as every write of a pass.
    pub async fn clear_log_chunks(&self, incident_id: i64, token: i64, pass: i64) -> Result<u64> {
        dispatch!(self, backend => backend.clear_log_chunks(incident_id, token, pass).await)
    }

    /// Stores one gzip chunk of log lines of pass number `pass` (`ClaimedJob::passes + 1`),
    /// in a transaction of its own. Readers see it once [`Store::store_pass`] counted the pass.
    pub async fn store_log_chunk(
        &self,
        incident_id: i64,
        token: i64,
        pass: i64,
        stream: &str,
        n_bytes: u64,
        body: &[u8],
    ) -> Result<()> {
        dispatch!(self, backend => backend.store_log_chunk(incident_id, token, pass, stream, n_bytes, body).await)
    }

    /// Stores a pass's evidence and the job's cursors and next run, in one transaction,
    /// and releases the lease. Counting the pass makes the chunks it stored before (with
    /// [`Store::store_log_chunk`]) visible in the same commit. Refused whole
    /// ([`Error::LeaseLost`]) unless `token` is still the job's: nothing is stored twice.
    pub async fn store_pass(
        &self,
        incident_id: i64,
        token: i64,
        pass: &StoredPass,
        now: Instant,
        next: NextRun,
    ) -> Result<()> {
        dispatch!(self, backend => backend.store_pass(incident_id, token, pass, now, next).await)
    }

    /// An incident's stored evidence, log chunks by id (of passes stored whole only).
    pub async fn evidence(&self, incident_id: i64) -> Result<StoredEvidence> {
        dispatch!(self, backend => backend.evidence(incident_id).await)
    }

    /// One gzip log chunk by its id (from [`StoredEvidence::logs`]), if it is still stored.
    pub async fn log_chunk(&self, chunk_id: i64) -> Result<Option<Vec<u8>>> {
        dispatch!(self, backend => backend.log_chunk(chunk_id).await)
    }

    /// Where an incident's collection stands, if it has a job.
    pub async fn collection(&self, incident_id: i64) -> Result<Option<Collection>> {
        dispatch!(self, backend => backend.collection(incident_id).await)
    }

    /// Deletes every incident resolved before `resolved_before` and quiet since, evidence
    /// first, then its job, webhooks and row (`store.retention`); also webhooks of no
    /// incident received before it. An incident that fires again meanwhile is kept.
    pub async fn prune(&self, resolved_before: Instant) -> Result<Pruned> {
        dispatch!(self, backend => backend.prune(resolved_before).await)
    }

    /// Bytes an incident's evidence takes in the store (compressed bodies, every pass,
    /// counted or not): what `store.max_evidence_bytes` bounds.
    pub async fn evidence_bytes(&self, incident_id: i64) -> Result<u64> {
        dispatch!(self, backend => backend.evidence_bytes(incident_id).await)
    }

    /// The store's size on disk (`/metrics`).
    pub async fn size(&self) -> Result<StoreSize> {
        dispatch!(self, backend => backend.size().await)
    }

    /// Stores what a responder added to incident `incident_id`, in one transaction, and
    /// answers after its commit with the input's id: a note; a correction (the title and
    /// severity shown become the corrected ones); a manual resolve (`IncidentState::resolve`
    /// at its own time, of the incident and of those merged into it); a merge (the other
    /// incident, and those merged into it, are read as this one's from now on).
    pub async fn add_responder_input(
        &self,
        incident_id: i64,
        input: &ResponderRecord,
        received_at: Instant,
    ) -> Result<std::result::Result<i64, Refusal>> {
        dispatch!(self, backend => backend.add_responder_input(incident_id, input, received_at).await)
    }

    /// What responders added to an incident and to those merged into it, and where it was
    /// merged to if it was.
    pub async fn responders(&self, incident_id: i64) -> Result<Responders> {
        dispatch!(self, backend => backend.responders(incident_id).await)
    }

    /// How many passes an incident's evidence has had: part of its timeline's cache key.
    pub async fn passes(&self, incident_id: i64) -> Result<i64> {
        dispatch!(self, backend => backend.passes(incident_id).await)
    }
}

/// `url` with its password (if any) replaced by `***`: what logs and errors may show. The
/// user information of a PostgreSQL URL ends at the last `@` before the query, so a password
/// holding `@` or `/` unencoded is hidden whole too.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme @ ("postgres" | "postgresql"), rest)) = url.split_once("://") else { return url.to_owned() };
    let before_query = rest.split('?').next().unwrap_or(rest);
    match before_query.rfind('@').map(|at| rest.split_at(at)) {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***{host}")
        }
        _ => url.to_owned(),
    }
}

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

#[cfg(test)]
mod tests {
    use super::redacted_url;

    #[test]
    fn a_url_is_shown_without_its_password() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db:5432/pm?sslmode=verify-full",
                "postgres://app:***@db:5432/pm?sslmode=verify-full",
            ),
            ("postgresql://app:p@ss:w/rd@db/pm", "postgresql://app:***@db/pm"),
            ("postgres://app@db/pm", "postgres://app@db/pm"),
            ("postgres://db/pm?user=app", "postgres://db/pm?user=app"),
            ("sqlite://./data/postmortemd.db", "sqlite://./data/postmortemd.db"),
            ("./data/postmortemd.db", "./data/postmortemd.db"),
        ] {
            assert_eq!(redacted_url(url), shown, "{url}");
        }
    }
}
