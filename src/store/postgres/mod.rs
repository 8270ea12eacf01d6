//! The store's queries on PostgreSQL, shared by several daemons (replicas): any of them
//! takes any webhook, and what one stores the others read at once. The SQL is the SQLite
//! backend's (the same tables, BIGINT millisecond times) with PostgreSQL's placeholders; what
//! differs is how concurrent writers are kept from deciding on stale reads:
//!
//! - each daemon's writer stores the webhooks waiting in one transaction (group commit, as
//!   on SQLite; [`write_batches`]), which first takes transaction-scoped advisory locks
//!   ([`lock`], sorted) on what each decides about: the hash of its Alertmanager group key (the
//!   `pd_incident_key` every incident of the group carries, and a page of that group names),
//!   a page's PagerDuty incident and dedup key. So the same notification delivered to two
//!   replicas at once is stored once, and two replicas never both open an incident for one
//!   episode; the state a decision reads is loaded inside the lock, `FOR UPDATE`;
//! - `UNIQUE (source, dedup_key)` and `ON CONFLICT` keep a webhook stored once even so;
//! - reconciliation takes [`RECONCILE`] exclusively, webhooks take it shared, so a poll's
//!   decisions never race a webhook's; locks are always taken in one order (reconcile, groups
//!   by key, provisional), so two transactions never wait on each other in a cycle;
//! - collection jobs are claimed `FOR UPDATE SKIP LOCKED` with a fencing token (`evidence.rs`).
//!
//! Migrations run under the migrator's own `pg_advisory_lock`, so replicas starting together
//! on a fresh database migrate it once.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, Executor, Postgres, Row, Transaction};

use super::health::WriteHealth;
use super::run::{Job, MAX_BATCH, Pending, RunQueries, store_batch};
use super::sqlite::{instant, labels_column, millis, query_error, status};
use super::{
    AlertmanagerIntake, Error, IncidentFilter, IncidentRow, IncidentStatus, Intake, PagerDutyIntake, Result,
    StoredWebhook, WebhookSource,
};
use crate::incident::grouping::{IncidentState, PageLink, PageLinkStep, Reconciled, group_key_hash, page_link_steps};
use crate::record::Instant;

pub(super) mod copy;
mod evidence;
mod reconcile;
mod responders;
mod retention;

/// Connections per daemon: webhooks each hold one for their transaction.
const MAX_CONNECTIONS: u32 = 16;

/// Run on every new connection. Every statement is planned for its own parameters: the
/// tables start empty, and a prepared statement's generic plan, chosen while they were (a
/// sequential scan), stays on that connection as they grow until autovacuum's next ANALYZE.
/// The dedup and group lookups of every webhook batch then read whole tables; a fresh
/// database under load took 1 ms of PostgreSQL's CPU per webhook (BENCHMARKS.md). A `SET`
/// rather than the startup `options`, which PgBouncer refuses.
const CONNECTION_SETUP: &str = "SET plan_cache_mode = force_custom_plan";

/// How long a query waits for a connection; also how long `/readyz` waits on an unreachable
/// database before it says not ready.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock key of `what`: the first 8 bytes of its SHA-256.
pub(super) fn lock_key(what: &str) -> i64 {
    let digest = Sha256::digest(what.as_bytes());
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The lock of an Alertmanager group and of pages naming it (`incident_key` = the hash of
/// the group key, as incidents' `pd_incident_key`).
fn group_lock(pd_incident_key: &str) -> i64 {
    lock_key(pd_incident_key)
}

/// Reconciliation's lock: exclusive for a poll's transaction, shared for a webhook's.
pub(super) const RECONCILE: &str = "postmortemd reconcile";

/// The lock over incidents under a provisional group key (adopting one).
pub(super) const PROVISIONAL: &str = "postmortemd provisional groups";

/// Takes the transaction-scoped advisory locks `keys` (sorted here, so every transaction
/// takes them in one order), after [`RECONCILE`] shared.
async fn lock(transaction: &mut Transaction<'_, Postgres>, mut keys: Vec<i64>) -> Result<()> {
    keys.sort_unstable();
    keys.dedup();
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(lock_key(RECONCILE))
        .execute(&mut **transaction)
        .await
        .map_err(query_error("reconcile lock"))?;
    // One round trip; the locks are taken in the array's order (volatile functions of the
    // select list are evaluated after the sort).
    sqlx::query("SELECT pg_advisory_xact_lock(key) FROM unnest($1::BIGINT[]) WITH ORDINALITY AS k (key, n) ORDER BY n")
        .bind(&keys)
        .execute(&mut **transaction)
        .await
        .map_err(query_error("advisory locks"))?;
    Ok(())
}

/// The locks a webhook's decisions need: its Alertmanager group's; a page's dedup key,
/// PagerDuty incident and `incident_key` (a group's, for pages of Alertmanager's integration).
fn lock_keys(pending: &Pending) -> Vec<i64> {
    match pending {
        Pending::Alertmanager(intake, _) => vec![group_lock(&group_key_hash(&intake.group_key))],
        Pending::PagerDuty(intake) => {
            let mut keys = vec![lock_key(&format!("webhook pagerduty {}", intake.dedup_key))];
            keys.extend(intake.pd_incident_id.as_ref().map(|id| lock_key(&format!("pagerduty incident {id}"))));
            keys.extend(intake.incident_key.as_deref().map(group_lock));
            keys
        }
    }
}

/// How many times a batch is tried when PostgreSQL aborted it for a deadlock (two batches'
/// rows locked in opposite orders: a page linked by a rule to another group's incident) or
/// a serialization failure (the retry finds the other batch committed), or because the
/// writer's kept connection had been closed.
const BATCH_TRIES: usize = 3;

/// Whether PostgreSQL aborted the transaction to break a deadlock or a serialization conflict.
fn retryable(error: &Error) -> bool {
    fault_of(error) == "conflict"
}

/// Whether the connection had been closed under the writer (the server restarted, failed
/// over or ended the session).
fn connection_lost(error: &Error) -> bool {
    fault_of(error) == "connection lost"
}

/// Takes one more advisory lock, exclusive, in a transaction that holds its others already.
pub(super) async fn lock_one(transaction: &mut Transaction<'_, Postgres>, what: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock_key(what))
        .execute(&mut **transaction)
        .await
        .map_err(query_error("advisory lock"))?;
    Ok(())
}

/// The PostgreSQL store: a pool every query takes its connection from, and the queue of
/// this daemon's webhook writer.
#[derive(Clone, Debug)]
pub(in crate::store) struct PgStore {
    pool: sqlx::PgPool,
    /// The writer task's queue (see [`write_batches`]).
    writer: tokio::sync::mpsc::Sender<Job>,
    /// Whether the writer's batches fail, for `/readyz`.
    writes: Arc<WriteHealth>,
}

impl PgStore {
    /// Connects to and migrates the database at `url` (`postgres://user@host/db`; TLS as
    /// its `sslmode` says, certificates checked against webpki's roots and `sslrootcert`).
    pub(in crate::store) async fn open(url: &str) -> Result<PgStore> {
        let open_error = |source| Error::Open { url: url.to_owned(), source };
        let options = PgConnectOptions::from_str(url).map_err(open_error)?.application_name("postmortemd");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(|connection, _| {
                Box::pin(async move { connection.execute(CONNECTION_SETUP).await.map(drop) })
            })
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("src/store/postgres/migrations").run(&pool).await.map_err(Error::Migrate)?;
        let (writer, jobs) = tokio::sync::mpsc::channel(MAX_BATCH * 4);
        // The writer's handle holds no sender: the task ends when the app's handles are gone.
        let writes = Arc::new(WriteHealth::default());
        let writer_store =
            PgStore { pool: pool.clone(), writer: tokio::sync::mpsc::channel(1).0, writes: writes.clone() };
        tokio::spawn(write_batches(writer_store, jobs));
        Ok(PgStore { pool, writer, writes })
    }

    /// The database answers (within [`ACQUIRE_TIMEOUT`]) and is migrated, and the writer's
    /// batches are not failing (`store::health`).
    pub(in crate::store) async fn ping(&self) -> Result<()> {
        self.writes.check(std::time::Instant::now())?;
        sqlx::query("SELECT COUNT(*) FROM incidents WHERE id = 0")
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("ping"))?;
        Ok(())
    }

    /// Stores an Alertmanager notification (once) in the incident of its group episode,
    /// through the writer; returns after the commit that holds it.
    pub(in crate::store) async fn record_alertmanager(
        &self,
        intake: AlertmanagerIntake,
        quiet_period: SignedDuration,
    ) -> Result<Intake> {
        self.write(Pending::Alertmanager(intake, quiet_period)).await
    }

    /// Stores a PagerDuty event (once), linked as `incident::grouping::page_link_steps` says,
    /// through the writer; returns after the commit that holds it.
    pub(in crate::store) async fn record_pagerduty(&self, intake: PagerDutyIntake) -> Result<Intake> {
        self.write(Pending::PagerDuty(intake)).await
    }

    async fn write(&self, pending: Pending) -> Result<Intake> {
        super::run::write(&self.writer, pending).await
    }

    /// A page from PagerDuty's REST log, in a transaction of its own under the locks a
    /// webhook of it would take.
    async fn pagerduty_rest(&self, intake: &PagerDutyIntake) -> Result<Intake> {
        let mut transaction = self.begin().await?;
        lock(&mut transaction, lock_keys(&Pending::PagerDuty(intake.clone()))).await?;
        let stored = pagerduty_in_from(&mut transaction, intake, Some(Reconciled::Rest)).await?;
        transaction.commit().await.map_err(query_error("commit"))?;
        Ok(stored)
    }

    /// One transaction for the batch, on the writer's `connection` (taken from the pool when
    /// there is none): the locks of every webhook in it first (sorted, so two replicas'
    /// batches never wait on each other in a cycle), then [`store_batch`]. After a failed try
    /// the connection is dropped, so the next starts on one the pool tested; the batch is
    /// tried again when PostgreSQL broke a deadlock by aborting it, or when the kept
    /// connection had been closed since the last batch (a retry that finds the batch
    /// committed after all answers its webhooks as the duplicates they then are).
    async fn write_batch(
        &self,
        connection: &mut Option<PoolConnection<Postgres>>,
        batch: &[Job],
    ) -> Result<Vec<Intake>> {
        let mut tries = 0;
        loop {
            tries += 1;
            let kept = connection.is_some();
            let attempt = async {
                let held = match connection {
                    Some(held) => held,
                    None => connection.insert(self.pool.acquire().await.map_err(query_error("acquire"))?),
                };
                let mut transaction = held.begin().await.map_err(query_error("begin"))?;
                lock(&mut transaction, batch.iter().flat_map(|job| lock_keys(&job.pending)).collect()).await?;
                let intakes = store_batch(&mut transaction, batch).await?;
                transaction.commit().await.map_err(query_error("commit"))?;
                Ok(intakes)
            };
            let outcome = attempt.await;
            if outcome.is_err() {
                *connection = None;
            }
            match outcome {
                Err(error) if tries < BATCH_TRIES && (retryable(&error) || kept && connection_lost(&error)) => {
                    tracing::info!(error = %error.reason(), tries, "Webhook batch aborted; trying it again.");
                }
                outcome => return outcome,
            }
        }
    }

    /// Incidents, newest first: a page of them after `filter.after` when it is set, by
    /// keyset (the inner query seeks `incidents_opened_at`, on (opened_at_ms, id)), so a
    /// page costs the same wherever it is and incidents arriving meanwhile move no row.
    pub(super) async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        let (after_ms, after_id) = filter.after.map_or((i64::MAX, i64::MAX), |(at, id)| (millis(at), id));
        let rows = sqlx::query(concat!(
            incident_select!(),
            " WHERE i.id IN (SELECT id FROM incidents \
             WHERE (opened_at_ms, id) < ($1, $2) AND merged_into IS NULL AND ($3 IS NULL OR status = $4) AND ($5 IS NULL OR last_signal_at_ms >= $6) \
             ORDER BY opened_at_ms DESC, id DESC LIMIT $7) \
             GROUP BY i.id ORDER BY i.opened_at_ms DESC, i.id DESC"
        ))
        .bind(after_ms)
        .bind(after_id)
        .bind(filter.status.map(IncidentStatus::as_str))
        .bind(filter.status.map(IncidentStatus::as_str))
        .bind(filter.since.map(millis))
        .bind(filter.since.map(millis))
        .bind(filter.limit.map(i64::from))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("incidents"))?;
        Ok(rows.iter().map(incident_row).collect())
    }

    /// When each webhook of these incidents arrived, as (incident id, time), in arrival
    /// order per incident: one query for a page of incidents.
    pub(super) async fn webhook_arrivals(&self, incident_ids: &[i64]) -> Result<Vec<(i64, Instant)>> {
        if incident_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::<Postgres>::new(
            "SELECT incident_id, received_at_ms FROM webhooks WHERE incident_id IN (",
        );
        let mut ids = query.separated(", ");
        for id in incident_ids {
            ids.push_bind(*id);
        }
        query.push(") ORDER BY incident_id, id");
        let rows = query.build().fetch_all(&self.pool).await.map_err(query_error("webhook arrivals"))?;
        Ok(rows.iter().map(|row| (row.get(0), instant(row.get(1)))).collect())
    }

    pub(super) async fn incident(&self, id: i64) -> Result<Option<IncidentRow>> {
        let row = sqlx::query(concat!(incident_select!(), " WHERE i.id = $1 GROUP BY i.id"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("incident"))?;
        Ok(row.as_ref().map(incident_row))
    }

    /// The webhooks of an incident, in arrival order.
    pub(super) async fn incident_webhooks(&self, id: i64) -> Result<Vec<StoredWebhook>> {
        let rows =
            sqlx::query("SELECT id, source, received_at_ms, body FROM webhooks WHERE incident_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(query_error("webhooks of an incident"))?;
        Ok(rows
            .iter()
            .map(|row| StoredWebhook {
                id: row.get(0),
                source: WebhookSource::from_word(row.get(1)).unwrap_or(WebhookSource::Alertmanager),
                received_at: instant(row.get(2)),
                body: row.get(3),
            })
            .collect())
    }

    pub(super) async fn count_webhooks(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM webhooks")
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("count webhooks"))?;
        Ok(row.get(0))
    }

    pub(super) async fn count_open(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM incidents WHERE status = $1")
            .bind(IncidentStatus::Open.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("count open incidents"))?;
        Ok(row.get(0))
    }

    /// A write transaction (READ COMMITTED: what it decides on it reads under its locks).
    pub(in crate::store) async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(query_error("begin"))
    }
}

/// The columns [`incident_state`] reads.
macro_rules! incident_state_select {
    () => {
        "SELECT id, group_key, pd_incident_key, pd_incident_id, title, status, severity, opened_at_ms, \
         last_signal_at_ms, resolved_at_ms, truncated_alerts, labels, last_fired_at_ms FROM incidents"
    };
}
use incident_state_select;

/// An incident row's id and state. Labels are JSON text; unreadable ones read as none.
fn incident_state(row: &PgRow) -> (i64, IncidentState) {
    let labels: Option<String> = row.get(11);
    let state = IncidentState {
        group_key: row.get(1),
        pd_incident_key: row.get(2),
        pd_incident_id: row.get(3),
        title: row.get(4),
        status: status(row.get(5)),
        severity: row.get(6),
        opened_at: instant(row.get(7)),
        last_signal: instant(row.get(8)),
        resolved_at: row.get::<Option<i64>, _>(9).map(instant),
        last_fired_at: row.get::<Option<i64>, _>(12).map(instant),
        truncated_alerts: row.get::<i64, _>(10).max(0) as u64,
        labels: labels.and_then(|labels| serde_json::from_str(&labels).ok()).unwrap_or_default(),
    };
    (row.get(0), state)
}

/// Group commit, as on SQLite: this daemon's one writer takes every webhook waiting (up to
/// [`MAX_BATCH`]), stores them in one transaction and answers each only after its commit; a
/// batch that fails is rolled back whole and every webhook in it is answered with its fault
/// (their senders retry), which `/readyz` reports (`store::health`) until a batch commits.
/// Other daemons' writers run beside it, kept apart by the locks.
async fn write_batches(store: PgStore, mut jobs: tokio::sync::mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Kept from batch to batch: the pool tests a connection with a round trip on every
    // acquire, one more per batch.
    let mut connection = None;
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match store.write_batch(&mut connection, &batch).await {
            Ok(intakes) => {
                store.writes.succeeded();
                for (job, intake) in batch.drain(..).zip(intakes) {
                    let _ = job.reply.send(Ok(intake));
                }
            }
            Err(error) => {
                let fault = store.writes.failed(&error, fault_of(&error));
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(fault.error()));
                }
            }
        }
    }
}

/// The kind of a failed write, for the log and `/readyz` and for whether the writer tries
/// the batch again ([`retryable`], [`connection_lost`]), by PostgreSQL's error class.
fn fault_of(error: &Error) -> &'static str {
    let Error::Query { source, .. } = error else { return "other" };
    match source {
        sqlx::Error::Database(database) => match database.code().as_deref().unwrap_or("") {
            "53100" => "disk full",
            "25006" => "read-only",
            "42501" => "permission denied",
            "53300" => "too many connections",
            "40P01" | "40001" => "conflict",
            code if code.starts_with("08") || code.starts_with("57P") => "connection lost",
            _ => "database error",
        },
        sqlx::Error::Io(_) => "connection lost",
        sqlx::Error::PoolTimedOut => "database unreachable",
        _ => "other",
    }
}

/// The queries of `store::run::alertmanager_run` on PostgreSQL: SQLite's, the group's
/// incidents loaded `FOR UPDATE`, adopting a provisional incident under [`PROVISIONAL`], and
/// `ON CONFLICT` on the webhooks (the group's lock makes a conflict impossible; were there
/// one, the webhook is answered with an error and its sender's retry finds it stored).
impl RunQueries for Transaction<'_, Postgres> {
    async fn stored_before(&mut self, dedup_keys: &[&str]) -> Result<Vec<(String, Intake)>> {
        let rows =
            sqlx::query("SELECT dedup_key, id, incident_id FROM webhooks WHERE source = $1 AND dedup_key = ANY($2)")
                .bind(WebhookSource::Alertmanager.as_str())
                .bind(dedup_keys)
                .fetch_all(&mut **self)
                .await
                .map_err(query_error("duplicate webhooks"))?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), Intake { webhook_id: row.get(1), incident_id: row.get(2), duplicate: true }))
            .collect())
    }

    async fn incidents_of_groups(&mut self, hashes: &[String]) -> Result<Vec<(i64, IncidentState)>> {
        let rows = sqlx::query(concat!(
            incident_state_select!(),
            " WHERE pd_incident_key = ANY($1) AND (group_key IS NOT NULL OR status = $2) ORDER BY id FOR UPDATE"
        ))
        .bind(hashes)
        .bind(IncidentStatus::Open.as_str())
        .fetch_all(&mut **self)
        .await
        .map_err(query_error("incidents of groups"))?;
        Ok(rows.iter().map(incident_state).collect())
    }

    async fn may_adopt(&mut self) -> Result<bool> {
        let any = reconcile::any_provisional(self).await?;
        if any {
            // Two groups' notifications must not both adopt one provisional incident.
            lock_one(self, PROVISIONAL).await?;
        }
        Ok(any)
    }

    async fn provisional_holder(&mut self, intake: &AlertmanagerIntake) -> Result<Option<(i64, IncidentState)>> {
        reconcile::provisional_holder(self, intake).await
    }

    async fn insert_incidents(&mut self, incidents: &[&IncidentState]) -> Result<Vec<(String, i64)>> {
        let mut query = sqlx::QueryBuilder::<Postgres>::new(
            "INSERT INTO incidents (group_key, pd_incident_key, title, status, severity, opened_at_ms, \
             last_signal_at_ms, resolved_at_ms, truncated_alerts, labels, last_fired_at_ms) ",
        );
        query.push_values(incidents, |mut values, incident| {
            values
                .push_bind(incident.group_key.clone())
                .push_bind(incident.pd_incident_key.clone())
                .push_bind(incident.title.clone())
                .push_bind(incident.status.as_str())
                .push_bind(incident.severity.clone())
                .push_bind(millis(incident.opened_at))
                .push_bind(millis(incident.last_signal))
                .push_bind(incident.resolved_at.map(millis))
                .push_bind(incident.truncated_alerts as i64)
                .push_bind(labels_column(incident))
                .push_bind(incident.last_fired_at.map(millis));
        });
        query.push(" RETURNING id, group_key");
        let rows = query.build().fetch_all(&mut **self).await.map_err(query_error("new incidents"))?;
        Ok(rows.iter().map(|row| (row.get(1), row.get(0))).collect())
    }

    async fn insert_webhooks(&mut self, webhooks: &[(&AlertmanagerIntake, Option<i64>)]) -> Result<Vec<(String, i64)>> {
        let mut query = sqlx::QueryBuilder::<Postgres>::new(
            "INSERT INTO webhooks (source, dedup_key, received_at_ms, incident_id, body) ",
        );
        query.push_values(webhooks, |mut values, (intake, incident_id)| {
            values
                .push_bind(WebhookSource::Alertmanager.as_str())
                .push_bind(intake.dedup_key.as_str())
                .push_bind(millis(intake.received_at))
                .push_bind(*incident_id)
                .push_bind(intake.body.as_slice());
        });
        query.push(" ON CONFLICT (source, dedup_key) DO NOTHING RETURNING id, dedup_key");
        let rows = query.build().fetch_all(&mut **self).await.map_err(query_error("insert webhooks"))?;
        Ok(rows.iter().map(|row| (row.get(1), row.get(0))).collect())
    }

    async fn update_incident(&mut self, id: i64, state: &IncidentState) -> Result<()> {
        update_incident(self, id, state).await
    }

    async fn pagerduty_in(&mut self, intake: &PagerDutyIntake) -> Result<Intake> {
        pagerduty_in_from(self, intake, None).await
    }
}

/// Every column of an incident but its id, from its state.
async fn update_incident(transaction: &mut Transaction<'_, Postgres>, id: i64, state: &IncidentState) -> Result<()> {
    sqlx::query(
        "UPDATE incidents SET group_key = $1, pd_incident_key = $2, pd_incident_id = $3, title = $4, status = $5, \
         severity = $6, opened_at_ms = $7, last_signal_at_ms = $8, resolved_at_ms = $9, truncated_alerts = $10, labels = $11, \
         last_fired_at_ms = $12 WHERE id = $13",
    )
    .bind(&state.group_key)
    .bind(&state.pd_incident_key)
    .bind(&state.pd_incident_id)
    .bind(&state.title)
    .bind(state.status.as_str())
    .bind(&state.severity)
    .bind(millis(state.opened_at))
    .bind(millis(state.last_signal))
    .bind(state.resolved_at.map(millis))
    .bind(state.truncated_alerts as i64)
    .bind(labels_column(state))
    .bind(state.last_fired_at.map(millis))
    .bind(id)
    .execute(&mut **transaction)
    .await
    .map_err(query_error("update incident"))?;
    Ok(())
}

/// Stores one PagerDuty event (once), in the incident the first of its [`page_link_steps`]
/// finds, else in an incident of its own, and applies it there; a page that came as a webhook (`origin` `None`) or from PagerDuty's
/// REST log (`Some(Reconciled::Rest)`): the same transition (PagerDuty incident, action and
/// time) already stored from the other side is a duplicate of it.
async fn pagerduty_in_from(
    transaction: &mut Transaction<'_, Postgres>,
    intake: &PagerDutyIntake,
    origin: Option<Reconciled>,
) -> Result<Intake> {
    if let Some(existing) = duplicate(transaction, WebhookSource::PagerDuty, &intake.dedup_key).await? {
        return Ok(existing);
    }
    if let Some(existing) = reconcile::same_transition(transaction, intake, origin).await? {
        return Ok(existing);
    }
    if intake.action.is_none() {
        let webhook_id = insert_webhook(transaction, intake, None, origin).await?;
        return Ok(Intake { webhook_id, incident_id: None, duplicate: false });
    }
    let mut incident_id: Option<i64> = None;
    for step in page_link_steps(intake) {
        incident_id = match step {
            PageLinkStep::PagerDutyIncident(pd_id) => incident_of_pagerduty_incident(transaction, pd_id).await?,
            PageLinkStep::IncidentKey(key) => {
                sqlx::query("SELECT id FROM incidents WHERE pd_incident_key = $1 ORDER BY id DESC LIMIT 1")
                    .bind(key)
                    .fetch_optional(&mut **transaction)
                    .await
                    .map_err(query_error("incident by incident_key"))?
                    .map(|row| row.get(0))
            }
            PageLinkStep::Rule(link) => linked_incident(transaction, link, intake.occurred_at).await?,
        };
        if incident_id.is_some() {
            break;
        }
    }
    let incident_id = match incident_id {
        Some(id) => {
            let row = sqlx::query(concat!(incident_state_select!(), " WHERE id = $1 FOR UPDATE"))
                .bind(id)
                .fetch_one(&mut **transaction)
                .await
                .map_err(query_error("incident of a page"))?;
            let (id, mut state) = incident_state(&row);
            state.apply_page(intake);
            update_incident(transaction, id, &state).await?;
            id
        }
        None => {
            let mut state = IncidentState::opened_by_page(intake);
            state.apply_page(intake);
            sqlx::query(
                "INSERT INTO incidents (pd_incident_key, pd_incident_id, title, status, opened_at_ms, \
                 last_signal_at_ms, resolved_at_ms, truncated_alerts, last_fired_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) RETURNING id",
            )
            .bind(&state.pd_incident_key)
            .bind(&state.pd_incident_id)
            .bind(&state.title)
            .bind(state.status.as_str())
            .bind(millis(state.opened_at))
            .bind(millis(state.last_signal))
            .bind(state.resolved_at.map(millis))
            .bind(state.last_fired_at.map(millis))
            .fetch_one(&mut **transaction)
            .await
            .map_err(query_error("new incident from a page"))?
            .get(0)
        }
    };
    let webhook_id = insert_webhook(transaction, intake, Some(incident_id), origin).await?;
    Ok(Intake { webhook_id, incident_id: Some(incident_id), duplicate: false })
}

/// The incident of an earlier event of PagerDuty incident `pd_id`: by its stored webhooks,
/// else (pages stored before webhooks knew their PagerDuty incident) by the incident's own.
async fn incident_of_pagerduty_incident(
    transaction: &mut Transaction<'_, Postgres>,
    pd_id: &str,
) -> Result<Option<i64>> {
    let by_webhook = sqlx::query(
        "SELECT incident_id FROM webhooks WHERE pd_incident_id = $1 AND incident_id IS NOT NULL \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(pd_id)
    .fetch_optional(&mut **transaction)
    .await
    .map_err(query_error("incident of an earlier page"))?
    .map(|row| row.get(0));
    if by_webhook.is_some() {
        return Ok(by_webhook);
    }
    Ok(sqlx::query("SELECT id FROM incidents WHERE pd_incident_id = $1 ORDER BY id DESC LIMIT 1")
        .bind(pd_id)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(query_error("incident by PagerDuty id"))?
        .map(|row| row.get(0)))
}

/// How many candidate incidents a fallback link looks at, newest first.
const LINK_CANDIDATES: i64 = 200;

/// The newest Alertmanager incident that `link` accepts for a page at `occurred`
/// ([`PageLink::accepts`]); the query only narrows the candidates by time.
async fn linked_incident(
    transaction: &mut Transaction<'_, Postgres>,
    link: &PageLink,
    occurred: Instant,
) -> Result<Option<i64>> {
    let within = link.within.as_millis() as i64;
    let rows = sqlx::query(concat!(
        incident_state_select!(),
        " WHERE group_key IS NOT NULL AND labels IS NOT NULL AND opened_at_ms <= $1 \
         AND (status = $2 OR resolved_at_ms >= $3) ORDER BY opened_at_ms DESC, id DESC LIMIT $4"
    ))
    .bind(millis(occurred).saturating_add(within))
    .bind(IncidentStatus::Open.as_str())
    .bind(millis(occurred).saturating_sub(within))
    .bind(LINK_CANDIDATES)
    .fetch_all(&mut **transaction)
    .await
    .map_err(query_error("incidents a page may link to"))?;
    Ok(rows.iter().map(incident_state).find(|(_, state)| link.accepts(state, occurred)).map(|(id, _)| id))
}

/// The columns of an [`IncidentRow`], with its webhooks' count, newest id and sources.
macro_rules! incident_select {
    () => {
        "SELECT i.id, COALESCE(i.title_corrected, i.title), i.status, COALESCE(i.severity_corrected, i.severity), \
         i.opened_at_ms, i.last_signal_at_ms, \
         i.resolved_at_ms, i.group_key, i.truncated_alerts, COUNT(w.id), MAX(w.id), \
         MAX(CASE WHEN w.source = 'alertmanager' THEN 1 ELSE 0 END)::BIGINT, \
         MAX(CASE WHEN w.source = 'pagerduty' THEN 1 ELSE 0 END)::BIGINT, \
         SUM(CASE WHEN w.reconciled IS NOT NULL THEN 1 ELSE 0 END)::BIGINT \
         FROM incidents i LEFT JOIN webhooks w ON w.incident_id = i.id"
    };
}
use incident_select;

fn incident_row(row: &PgRow) -> IncidentRow {
    let mut sources = Vec::new();
    if row.get::<Option<i64>, _>(11).unwrap_or(0) == 1 {
        sources.push(WebhookSource::Alertmanager);
    }
    if row.get::<Option<i64>, _>(12).unwrap_or(0) == 1 {
        sources.push(WebhookSource::PagerDuty);
    }
    IncidentRow {
        id: row.get(0),
        title: row.get(1),
        status: status(row.get(2)),
        severity: row.get(3),
        opened_at: instant(row.get(4)),
        last_signal_at: instant(row.get(5)),
        resolved_at: row.get::<Option<i64>, _>(6).map(instant),
        group_key: row.get(7),
        truncated_alerts: row.get::<i64, _>(8).max(0) as u64,
        n_webhooks: row.get(9),
        last_webhook_id: row.get::<Option<i64>, _>(10).unwrap_or(0),
        n_reconciled: row.get::<Option<i64>, _>(13).unwrap_or(0),
        sources,
    }
}

/// The stored webhook of `(source, dedup_key)`, if there is one.
async fn duplicate(
    transaction: &mut Transaction<'_, Postgres>,
    source: WebhookSource,
    dedup_key: &str,
) -> Result<Option<Intake>> {
    let row = sqlx::query("SELECT id, incident_id FROM webhooks WHERE source = $1 AND dedup_key = $2")
        .bind(source.as_str())
        .bind(dedup_key)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(query_error("duplicate webhook"))?;
    Ok(row.map(|row| Intake { webhook_id: row.get(0), incident_id: row.get(1), duplicate: true }))
}

/// A PagerDuty event's webhook row, with its PagerDuty incident so later events find it,
/// and its action and time so the same transition from the other side (webhook or REST
/// log) is known; `origin` marks a row reconciliation stored.
async fn insert_webhook(
    transaction: &mut Transaction<'_, Postgres>,
    intake: &PagerDutyIntake,
    incident_id: Option<i64>,
    origin: Option<Reconciled>,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO webhooks (source, dedup_key, received_at_ms, incident_id, body, pd_incident_id, page_action, \
         page_occurred_at_ms, reconciled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(WebhookSource::PagerDuty.as_str())
    .bind(&intake.dedup_key)
    .bind(millis(intake.received_at))
    .bind(incident_id)
    .bind(&intake.body)
    .bind(&intake.pd_incident_id)
    .bind(intake.action.as_ref().map(|action| action.as_str().to_owned()))
    .bind(millis(intake.occurred_at))
    .bind(origin.map(Reconciled::as_str))
    .fetch_one(&mut **transaction)
    .await
    .map_err(query_error("insert webhook"))?;
    Ok(row.get(0))
}
