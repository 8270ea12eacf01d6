//! The store's queries on SQLite: WAL journal with `synchronous=FULL`, so a committed
//! transaction survives a crash; one writer task commits every waiting webhook in one
//! transaction (group commit). The SQL sticks to what PostgreSQL runs too (BIGINT
//! millisecond times, multi-row `INSERT … RETURNING`, no JSON or date functions).
//!
//! Faults: a failed batch is rolled back and answered 503, and the writer goes on (a
//! connection whose transaction SQLite ended by itself is closed, never reused); the last
//! failure is kept in [`Database`] for `ping` (`/readyz`) until a batch commits. The file's
//! (device, inode) at open is checked before every write transaction and by `ping`, so a
//! file deleted or replaced under the daemon is refused rather than written unlinked; an OS
//! lock on `<db>.lock` keeps a second daemon off the file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::SignedDuration;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Connection, Row, Sqlite, Transaction};

use super::health::WriteHealth;
use super::run::{Job, MAX_BATCH, Pending, RunQueries, alertmanager_run, store_batch};
use super::{
    AlertmanagerIntake, Error, IncidentFilter, IncidentRow, IncidentStatus, Intake, PagerDutyIntake, Result,
    StoredWebhook, WebhookSource,
};
use crate::incident::grouping::{IncidentState, PageLink, PageLinkStep, Reconciled, page_link_steps};
use crate::record::Instant;

pub(super) mod copy;
mod evidence;
mod reconcile;
mod responders;
mod retention;

pub(super) fn millis(instant: Instant) -> i64 {
    instant.as_millisecond()
}

pub(super) fn instant(millis: i64) -> Instant {
    Instant::from_millisecond(millis).unwrap_or(Instant::UNIX_EPOCH)
}

pub(super) fn query_error(query: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Query { query, source }
}

/// A status as the `incidents.status` column holds it; an unknown word reads as open.
pub(super) fn status(word: &str) -> IncidentStatus {
    IncidentStatus::from_word(word).unwrap_or(IncidentStatus::Open)
}

/// The SQLite store: a read pool, and the writer task's queue.
#[derive(Clone, Debug)]
pub(super) struct SqliteStore {
    pool: sqlx::SqlitePool,
    /// The writer task's queue (see [`write_batches`]).
    writer: tokio::sync::mpsc::Sender<Job>,
    /// The writer's own pool of one connection.
    writer_pool: sqlx::SqlitePool,
    database: Arc<Database>,
    /// `<db>.lock`, locked while a handle of the store lives (not the writer task's: the
    /// file is free again as soon as the app drops its store).
    _lock: Option<Arc<std::fs::File>>,
}

/// The database file under the store and what is known of its health, shared by every
/// handle and the writer task.
#[derive(Debug, Default)]
struct Database {
    /// The file and its (device, inode) when the store opened it; `None` in memory.
    file: Option<(PathBuf, (u64, u64))>,
    /// The file was found deleted or replaced (said once in the log).
    gone: AtomicBool,
    /// Whether webhook writes fail.
    writes: WriteHealth,
}

impl Database {
    /// The file is still the one the store opened; else [`Error::FileGone`] (logged once).
    fn check_file(&self) -> Result<()> {
        let Some((path, identity)) = &self.file else { return Ok(()) };
        let what = match std::fs::metadata(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => "deleted",
            Ok(metadata) if (metadata.dev(), metadata.ino()) != *identity => "replaced",
            // Unreadable metadata says nothing of the file: writes tell.
            _ => return Ok(()),
        };
        if !self.gone.swap(true, Ordering::Relaxed) {
            tracing::error!(
                path = %path.display(),
                what,
                "The database file is gone from under the daemon: not ready, webhooks answered 503; restart it."
            );
        }
        Err(Error::FileGone { path: path.display().to_string(), what })
    }

    /// Ready to take writes: the file is the one opened and writes are not failing.
    fn health(&self) -> Result<()> {
        self.check_file()?;
        self.writes.check(std::time::Instant::now())
    }
}

/// The kind of a failed write, for the log and `/readyz`: SQLite's primary result code
/// (`SQLITE_FULL`, `SQLITE_READONLY`, `SQLITE_BUSY`/`SQLITE_LOCKED`, …) or the IO error's kind.
fn fault_of(error: &Error) -> &'static str {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(Error::FileGone { .. }) = error.downcast_ref::<Error>() {
            return "file deleted or replaced";
        }
        match error.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(database)) => {
                let code = database.code().and_then(|code| code.parse::<i64>().ok()).unwrap_or(-1);
                return match code & 0xff {
                    13 => "disk full",
                    8 => "read-only",
                    5 | 6 => "locked",
                    10 => "i/o error",
                    14 => "cannot open",
                    11 | 26 => "corrupt",
                    _ => "database error",
                };
            }
            Some(sqlx::Error::Io(io)) => {
                return match io.kind() {
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => "disk full",
                    std::io::ErrorKind::ReadOnlyFilesystem => "read-only",
                    std::io::ErrorKind::PermissionDenied => "permission denied",
                    _ => "i/o error",
                };
            }
            Some(sqlx::Error::PoolTimedOut) => return "locked",
            _ => {}
        }
        current = error.source();
    }
    "other"
}

/// The file a SQLite URL names, unless it is in memory.
fn database_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && path != ":memory:" && !url.contains("mode=memory")).then(|| PathBuf::from(path))
}

/// Takes the OS lock on `<db>.lock` (flock: released when the process ends however it
/// ends) and writes this process's id in it, or says who holds it.
fn lock_file(database: &Path, url: &str) -> Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let open_error = |error| Error::Open { url: url.to_owned(), source: sqlx::Error::Io(error) };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(open_error)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(open_error)?;
            file.seek(std::io::SeekFrom::Start(0)).map_err(open_error)?;
            writeln!(file, "{}", std::process::id()).map_err(open_error)?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "its pid unknown".to_owned(),
                pid => format!("pid {pid}"),
            };
            Err(Error::InUse { lock: path.display().to_string(), holder })
        }
        Err(std::fs::TryLockError::Error(error)) => Err(open_error(error)),
    }
}

/// Closes a connection the pool gets back inside a transaction sqlx could not end: after a
/// COMMIT that failed with SQLITE_FULL (or IOERR, BUSY…) SQLite has rolled back by itself,
/// so sqlx's queued ROLLBACK fails and the connection would refuse every later `BEGIN`.
fn after_release(
    connection: &mut sqlx::SqliteConnection,
    _: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        // The ping runs the queued ROLLBACK first (the worker takes commands in order).
        connection.ping().await?;
        Ok(!connection.is_in_transaction())
    })
}

impl SqliteStore {
    /// Opens (creating the folder and file when missing) and migrates the store at `url`
    /// (`sqlite://./data/postmortemd.db`).
    pub(super) async fn open(url: &str) -> Result<SqliteStore> {
        let open_error = |source| Error::Open { url: url.to_owned(), source };
        let file = database_file(url);
        if let Some(folder) = file.as_deref().and_then(Path::parent)
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder).map_err(|error| open_error(sqlx::Error::Io(error)))?;
        }
        // Before anything touches the file: a second daemon must not even migrate it.
        let lock = file.as_deref().map(|file| lock_file(file, url)).transpose()?;
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .after_release(after_release)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        sqlx::migrate!("src/store/sqlite/migrations").run(&pool).await.map_err(Error::Migrate)?;
        // The writer's own connection: SQLite drops a connection's page cache whenever another
        // connection wrote, so a writer moving between pooled connections re-read the indexes
        // it had just updated (pread in every profile). Statement journals of multi-row
        // inserts stay in memory (temp_store), and a 16 MiB cache holds the hot index pages.
        let writer_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_release(after_release)
            .connect_with(options.pragma("cache_size", "-16384").pragma("temp_store", "MEMORY"))
            .await
            .map_err(open_error)?;
        let identity = |file: PathBuf| {
            let metadata = std::fs::metadata(&file).map_err(|error| open_error(sqlx::Error::Io(error)))?;
            Ok::<_, Error>((file, (metadata.dev(), metadata.ino())))
        };
        let database = Database { file: file.map(identity).transpose()?, ..Database::default() };
        let (writer, jobs) = tokio::sync::mpsc::channel(MAX_BATCH * 4);
        let store = SqliteStore { pool, writer, writer_pool, database: Arc::new(database), _lock: lock.map(Arc::new) };
        // The writer's handle holds neither the queue's sender (the task ends when the app's
        // handles are gone) nor the lock.
        let writer_store = SqliteStore { writer: tokio::sync::mpsc::channel(1).0, _lock: None, ..store.clone() };
        tokio::spawn(write_batches(writer_store, jobs));
        Ok(store)
    }

    /// The store answers and is migrated, its file is the one it opened, and webhook writes
    /// are not failing.
    pub(super) async fn ping(&self) -> Result<()> {
        self.database.health()?;
        sqlx::query("SELECT COUNT(*) FROM incidents").fetch_one(&self.pool).await.map_err(query_error("ping"))?;
        Ok(())
    }

    /// Stores an Alertmanager notification (once) in the incident of its group episode;
    /// returns after the commit that holds it.
    pub(super) async fn record_alertmanager(
        &self,
        intake: AlertmanagerIntake,
        quiet_period: SignedDuration,
    ) -> Result<Intake> {
        self.write(Pending::Alertmanager(intake, quiet_period)).await
    }

    /// Stores a PagerDuty event (once), linked to the incident of its PagerDuty incident,
    /// else of the alert group it came from (`incident_key`), else by a fallback rule
    /// (`intake.link`), else to a new one; returns after the commit that holds it.
    pub(super) async fn record_pagerduty(&self, intake: PagerDutyIntake) -> Result<Intake> {
        self.write(Pending::PagerDuty(intake)).await
    }

    async fn write(&self, pending: Pending) -> Result<Intake> {
        super::run::write(&self.writer, pending).await
    }

    /// Incidents, newest first: a page of them after `filter.after` when it is set, by
    /// keyset (the inner query seeks `incidents_opened_at`, which ends in the rowid), so a
    /// page costs the same wherever it is and incidents arriving meanwhile move no row.
    pub(super) async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        let (after_ms, after_id) = filter.after.map_or((i64::MAX, i64::MAX), |(at, id)| (millis(at), id));
        let rows = sqlx::query(concat!(
            incident_select!(),
            " WHERE i.id IN (SELECT id FROM incidents \
             WHERE (opened_at_ms, id) < (?, ?) AND merged_into IS NULL AND (? IS NULL OR status = ?) AND (? IS NULL OR last_signal_at_ms >= ?) \
             ORDER BY opened_at_ms DESC, id DESC LIMIT ?) \
             GROUP BY i.id ORDER BY i.opened_at_ms DESC, i.id DESC"
        ))
        .bind(after_ms)
        .bind(after_id)
        .bind(filter.status.map(IncidentStatus::as_str))
        .bind(filter.status.map(IncidentStatus::as_str))
        .bind(filter.since.map(millis))
        .bind(filter.since.map(millis))
        .bind(filter.limit.map_or(-1, i64::from))
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
        let mut query = sqlx::QueryBuilder::<Sqlite>::new(
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
        let row = sqlx::query(concat!(incident_select!(), " WHERE i.id = ? GROUP BY i.id"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("incident"))?;
        Ok(row.as_ref().map(incident_row))
    }

    /// The webhooks of an incident, in arrival order.
    pub(super) async fn incident_webhooks(&self, id: i64) -> Result<Vec<StoredWebhook>> {
        let rows =
            sqlx::query("SELECT id, source, received_at_ms, body FROM webhooks WHERE incident_id = ? ORDER BY id")
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
        let row = sqlx::query("SELECT COUNT(*) FROM incidents WHERE status = ?")
            .bind(IncidentStatus::Open.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("count open incidents"))?;
        Ok(row.get(0))
    }

    /// A write transaction that takes SQLite's write lock at once: two deferred
    /// transactions that both read and then write would deadlock until the busy timeout.
    pub(super) async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        self.begin_on(&self.pool).await
    }

    /// A write transaction on `pool`, unless the file is gone (never write to an unlinked file).
    async fn begin_on(&self, pool: &sqlx::SqlitePool) -> Result<Transaction<'static, Sqlite>> {
        self.database.check_file()?;
        pool.begin_with("BEGIN IMMEDIATE").await.map_err(query_error("begin"))
    }
}

/// Group commit: the one writer takes every webhook waiting (up to [`MAX_BATCH`]),
/// stores them in order in one transaction and answers each only after that commit, so
/// concurrent webhooks share one fsync and a 2xx still means the webhook is on disk.
/// A batch that fails is rolled back whole and every webhook in it is answered with the
/// fault (their senders retry); the writer goes on, and the next batch starts afresh.
async fn write_batches(store: SqliteStore, mut jobs: tokio::sync::mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcome = store.write_batch(&batch).await;
        match outcome {
            Ok(intakes) => {
                store.database.writes.succeeded();
                for (job, intake) in batch.drain(..).zip(intakes) {
                    let _ = job.reply.send(Ok(intake));
                }
            }
            Err(error) => {
                let fault = store.database.writes.failed(&error, fault_of(&error));
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(fault.error()));
                }
            }
        }
    }
}

impl SqliteStore {
    /// One transaction for the batch ([`store_batch`]).
    async fn write_batch(&self, batch: &[Job]) -> Result<Vec<Intake>> {
        let started = std::time::Instant::now();
        let mut transaction = self.begin_on(&self.writer_pool).await?;
        let intakes = store_batch(&mut transaction, batch).await?;
        let stored_at = std::time::Instant::now();
        transaction.commit().await.map_err(query_error("commit"))?;
        tracing::debug!(
            webhooks = batch.len(),
            queries_ms = (stored_at - started).as_secs_f64() * 1e3,
            commit_ms = stored_at.elapsed().as_secs_f64() * 1e3,
            "Batch committed."
        );
        Ok(intakes)
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
fn incident_state(row: &SqliteRow) -> (i64, IncidentState) {
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

/// The `labels` column of an incident: its group's labels as JSON text (`NULL` for a
/// page-only incident, which fallback links never join).
pub(super) fn labels_column(state: &IncidentState) -> Option<String> {
    state.group_key.as_ref().and_then(|_| serde_json::to_string(&state.labels).ok())
}

impl RunQueries for Transaction<'_, Sqlite> {
    async fn stored_before(&mut self, dedup_keys: &[&str]) -> Result<Vec<(String, Intake)>> {
        let mut query =
            sqlx::QueryBuilder::<Sqlite>::new("SELECT dedup_key, id, incident_id FROM webhooks WHERE source = ");
        query.push_bind(WebhookSource::Alertmanager.as_str()).push(" AND dedup_key IN (");
        let mut keys = query.separated(", ");
        for key in dedup_keys {
            keys.push_bind(*key);
        }
        query.push(")");
        let rows = query.build().fetch_all(&mut **self).await.map_err(query_error("duplicate webhooks"))?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), Intake { webhook_id: row.get(1), incident_id: row.get(2), duplicate: true }))
            .collect())
    }

    async fn incidents_of_groups(&mut self, hashes: &[String]) -> Result<Vec<(i64, IncidentState)>> {
        // One index (`pd_incident_key`) serves groups and page-only incidents, and
        // `group_key` needs none that every webhook would write.
        let mut query = sqlx::QueryBuilder::<Sqlite>::new(incident_state_select!());
        query.push(" WHERE pd_incident_key IN (");
        let mut keys = query.separated(", ");
        for hash in hashes {
            keys.push_bind(hash.as_str());
        }
        query.push(") AND (group_key IS NOT NULL OR status = ").push_bind(IncidentStatus::Open.as_str());
        query.push(") ORDER BY id");
        let rows = query.build().fetch_all(&mut **self).await.map_err(query_error("incidents of groups"))?;
        Ok(rows.iter().map(incident_state).collect())
    }

    async fn may_adopt(&mut self) -> Result<bool> {
        reconcile::any_provisional(self).await
    }

    async fn provisional_holder(&mut self, intake: &AlertmanagerIntake) -> Result<Option<(i64, IncidentState)>> {
        reconcile::provisional_holder(self, intake).await
    }

    async fn insert_incidents(&mut self, incidents: &[&IncidentState]) -> Result<Vec<(String, i64)>> {
        let mut query = sqlx::QueryBuilder::<Sqlite>::new(
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
        let mut query = sqlx::QueryBuilder::<Sqlite>::new(
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
        query.push(" RETURNING id, dedup_key");
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
async fn update_incident(transaction: &mut Transaction<'_, Sqlite>, id: i64, state: &IncidentState) -> Result<()> {
    sqlx::query(
        "UPDATE incidents SET group_key = ?, pd_incident_key = ?, pd_incident_id = ?, title = ?, status = ?, \
         severity = ?, opened_at_ms = ?, last_signal_at_ms = ?, resolved_at_ms = ?, truncated_alerts = ?, labels = ?, \
         last_fired_at_ms = ? WHERE id = ?",
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
    transaction: &mut Transaction<'_, Sqlite>,
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
                sqlx::query("SELECT id FROM incidents WHERE pd_incident_key = ? ORDER BY id DESC LIMIT 1")
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
            let row = sqlx::query(concat!(incident_state_select!(), " WHERE id = ?"))
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
                 VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) RETURNING id",
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
async fn incident_of_pagerduty_incident(transaction: &mut Transaction<'_, Sqlite>, pd_id: &str) -> Result<Option<i64>> {
    let by_webhook = sqlx::query(
        "SELECT incident_id FROM webhooks WHERE pd_incident_id = ? AND incident_id IS NOT NULL \
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
    Ok(sqlx::query("SELECT id FROM incidents WHERE pd_incident_id = ? ORDER BY id DESC LIMIT 1")
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
    transaction: &mut Transaction<'_, Sqlite>,
    link: &PageLink,
    occurred: Instant,
) -> Result<Option<i64>> {
    let within = link.within.as_millis() as i64;
    let rows = sqlx::query(concat!(
        incident_state_select!(),
        " WHERE group_key IS NOT NULL AND labels IS NOT NULL AND opened_at_ms <= ? \
         AND (status = ? OR resolved_at_ms >= ?) ORDER BY opened_at_ms DESC, id DESC LIMIT ?"
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
        "SELECT i.id, COALESCE(i.title_corrected, i.title), i.status, COALESCE(i.severity_corrected, i.severity), i.opened_at_ms, i.last_signal_at_ms, \
         i.resolved_at_ms, i.group_key, i.truncated_alerts, COUNT(w.id), MAX(w.id), \
         MAX(CASE WHEN w.source = 'alertmanager' THEN 1 ELSE 0 END), \
         MAX(CASE WHEN w.source = 'pagerduty' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN w.reconciled IS NOT NULL THEN 1 ELSE 0 END) \
         FROM incidents i LEFT JOIN webhooks w ON w.incident_id = i.id"
    };
}
use incident_select;

fn incident_row(row: &SqliteRow) -> IncidentRow {
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
    transaction: &mut Transaction<'_, Sqlite>,
    source: WebhookSource,
    dedup_key: &str,
) -> Result<Option<Intake>> {
    let row = sqlx::query("SELECT id, incident_id FROM webhooks WHERE source = ? AND dedup_key = ?")
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
    transaction: &mut Transaction<'_, Sqlite>,
    intake: &PagerDutyIntake,
    incident_id: Option<i64>,
    origin: Option<Reconciled>,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO webhooks (source, dedup_key, received_at_ms, incident_id, body, pd_incident_id, page_action, \
         page_occurred_at_ms, reconciled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::record::AlertStatus;

    fn notification(dedup_key: &str, group_key: &str, status: AlertStatus, starts_at: &str) -> AlertmanagerIntake {
        let starts_at: Instant = starts_at.parse().unwrap();
        let ends_at = (status == AlertStatus::Resolved).then(|| starts_at + SignedDuration::from_mins(5));
        AlertmanagerIntake {
            dedup_key: dedup_key.to_owned(),
            received_at: starts_at,
            body: format!("{{\"dedup\":\"{dedup_key}\"}}").into_bytes(),
            group_key: group_key.to_owned(),
            status,
            starts_at,
            fired_at: starts_at,
            ends_at,
            title: format!("{group_key} title"),
            severity: Some("warning".to_owned()),
            truncated_alerts: 0,
            labels: BTreeMap::from([("alertname".to_owned(), group_key.to_owned())]),
        }
    }

    async fn store(name: &str) -> SqliteStore {
        let folder = std::env::temp_dir().join(format!("postmortemd-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        SqliteStore::open(&format!("sqlite://{}/postmortemd.db", folder.display())).await.unwrap()
    }

    /// Incident ids renamed by first appearance (0, 1, …), so two stores compare.
    fn shape(intakes: &[Intake]) -> Vec<(Option<usize>, bool)> {
        let mut seen: Vec<i64> = Vec::new();
        intakes
            .iter()
            .map(|intake| {
                let incident = intake.incident_id.map(|id| match seen.iter().position(|known| *known == id) {
                    Some(position) => position,
                    None => {
                        seen.push(id);
                        seen.len() - 1
                    }
                });
                (incident, intake.duplicate)
            })
            .collect()
    }

    #[tokio::test]
    async fn one_batch_decides_as_one_notification_at_a_time_would() {
        let quiet = SignedDuration::from_mins(30);
        let sequence = [
            notification("a1", "G", AlertStatus::Firing, "2025-02-09T10:00:00Z"),
            notification("b1", "H", AlertStatus::Firing, "2025-02-09T10:01:00Z"),
            // An HA pair's duplicate within the same batch.
            notification("a1", "G", AlertStatus::Firing, "2025-02-09T10:00:00Z"),
            notification("a2", "G", AlertStatus::Resolved, "2025-02-09T10:00:00Z"),
            // G fires again an hour after resolving: a second incident of G in one batch.
            notification("a3", "G", AlertStatus::Firing, "2025-02-09T11:05:00Z"),
            notification("b2", "H", AlertStatus::Resolved, "2025-02-09T10:01:00Z"),
            notification("a4", "G", AlertStatus::Resolved, "2025-02-09T11:05:00Z"),
        ];
        let one_at_a_time = store("sequential").await;
        let mut expected = Vec::new();
        for intake in &sequence {
            expected.push(one_at_a_time.record_alertmanager(intake.clone(), quiet).await.unwrap());
        }
        let batched = store("batched").await;
        let jobs: Vec<Job> = sequence
            .iter()
            .map(|intake| Job {
                pending: Pending::Alertmanager(intake.clone(), quiet),
                reply: tokio::sync::oneshot::channel().0,
            })
            .collect();
        let intakes = batched.write_batch(&jobs).await.unwrap();
        assert_eq!(shape(&intakes), shape(&expected));
        assert_eq!(
            shape(&intakes),
            [
                (Some(0), false),
                (Some(1), false),
                (Some(0), true),
                (Some(0), false),
                (Some(2), false),
                (Some(1), false),
                (Some(2), false)
            ]
        );
        assert_eq!(intakes[2].webhook_id, intakes[0].webhook_id, "a duplicate answers with the stored webhook");
        assert_eq!(batched.count_webhooks().await.unwrap(), 6);
        let incidents = batched.incidents(&IncidentFilter::default()).await.unwrap();
        let statuses: Vec<(&str, &str, i64)> = incidents
            .iter()
            .map(|incident| {
                (incident.group_key.as_deref().unwrap_or(""), incident.status.as_str(), incident.n_webhooks)
            })
            .collect();
        assert_eq!(statuses, [("G", "resolved", 2), ("H", "resolved", 2), ("G", "resolved", 2)]);
        // Sent again in a later batch, every notification is a duplicate of the same webhook.
        let again = batched.write_batch(&jobs).await.unwrap();
        for (first, second) in intakes.iter().zip(&again) {
            assert_eq!(
                (second.webhook_id, second.incident_id, second.duplicate),
                (first.webhook_id, first.incident_id, true)
            );
        }
    }

    #[tokio::test]
    async fn a_failed_write_is_not_ready_with_its_cause_until_a_write_succeeds() {
        let store = store("disk-full").await;
        let quiet = SignedDuration::from_mins(30);
        store
            .record_alertmanager(notification("a1", "G", AlertStatus::Firing, "2025-02-09T10:00:00Z"), quiet)
            .await
            .unwrap();
        // The disk is full: the writer's connection may not grow the file (SQLITE_FULL).
        let mut connection = store.writer_pool.acquire().await.unwrap();
        sqlx::query("PRAGMA max_page_count = 1").execute(&mut *connection).await.unwrap();
        drop(connection);
        let big = AlertmanagerIntake {
            body: vec![b'x'; 1 << 20],
            ..notification("a2", "H", AlertStatus::Firing, "2025-02-09T10:01:00Z")
        };
        let error = store.record_alertmanager(big.clone(), quiet).await.unwrap_err();
        assert!(matches!(error, Error::Writes { fault: "disk full", .. }), "{}", error.reason());
        let not_ready = store.ping().await.unwrap_err().reason();
        assert!(
            not_ready.starts_with("store writes failing since ") && not_ready.contains("database or disk is full"),
            "{not_ready}"
        );
        // Still full: the next batch is tried afresh, fails again, and the fault keeps its start.
        let again = store.record_alertmanager(big.clone(), quiet).await.unwrap_err();
        let since = |error: &Error| match error {
            Error::Writes { since, .. } => Some(*since),
            _ => None,
        };
        assert_eq!(since(&again), since(&error));
        // Space is back: the writer heals by itself.
        let mut connection = store.writer_pool.acquire().await.unwrap();
        sqlx::query("PRAGMA max_page_count = 1073741823").execute(&mut *connection).await.unwrap();
        drop(connection);
        let stored = store.record_alertmanager(big, quiet).await.unwrap();
        assert!(!stored.duplicate);
        store.ping().await.unwrap();
        assert_eq!(store.count_webhooks().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_transaction_sqlite_ended_by_itself_does_not_poison_the_writer() {
        let store = store("poison").await;
        // What a COMMIT failing with SQLITE_FULL leaves behind: SQLite rolled back by itself,
        // while sqlx still counts a transaction on the connection (its ROLLBACK then fails).
        let mut transaction = store.writer_pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query("ROLLBACK").execute(&mut *transaction).await.unwrap();
        drop(transaction);
        let quiet = SignedDuration::from_mins(30);
        for (index, key) in ["a1", "a2"].into_iter().enumerate() {
            let intake = notification(key, "G", AlertStatus::Firing, "2025-02-09T10:00:00Z");
            let stored = store.record_alertmanager(intake, quiet).await;
            assert!(stored.is_ok(), "write {index}: {}", stored.unwrap_err().reason());
        }
    }
}
