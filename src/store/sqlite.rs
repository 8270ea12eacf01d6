//! The store's queries on SQLite: WAL journal with `synchronous=FULL`, so a committed
//! transaction survives a crash; one transaction per webhook. The SQL sticks to what
//! PostgreSQL runs too (BIGINT millisecond times, `ON CONFLICT DO NOTHING`, `RETURNING`).

use std::str::FromStr;
use std::time::Duration;

use jiff::SignedDuration;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    AlertmanagerIntake, Error, IncidentFilter, IncidentRow, Intake, PagerDutyIntake, Result, Store, StoredWebhook,
};
use crate::record::{AlertStatus, Instant};

pub(super) fn millis(instant: Instant) -> i64 {
    instant.as_millisecond()
}

pub(super) fn instant(millis: i64) -> Instant {
    Instant::from_millisecond(millis).unwrap_or(Instant::UNIX_EPOCH)
}

pub(super) fn query_error(query: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Query { query, source }
}

/// Severity order for an incident: the highest its alerts had.
fn severity_rank(severity: Option<&str>) -> u8 {
    match severity.map(str::to_ascii_lowercase).as_deref() {
        Some("critical" | "page" | "p1") => 5,
        Some("error" | "high" | "p2") => 4,
        Some("warning" | "warn" | "medium" | "p3") => 3,
        Some("info" | "low" | "p4" | "p5") => 2,
        Some(_) => 1,
        None => 0,
    }
}

impl Store {
    /// Opens (creating the folder and file when missing) and migrates the store at `url`
    /// (`sqlite://./data/postmortemd.db`).
    pub async fn open(url: &str) -> Result<Store> {
        let open_error = |source| Error::Open { url: url.to_owned(), source };
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if let Some(folder) = std::path::Path::new(path.split('?').next().unwrap_or(path)).parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder).map_err(|error| open_error(sqlx::Error::Io(error)))?;
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.map_err(open_error)?;
        sqlx::migrate!("src/store/migrations").run(&pool).await.map_err(Error::Migrate)?;
        let (writer, jobs) = tokio::sync::mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(write_batches(pool.clone(), jobs));
        Ok(Store { pool, writer })
    }

    /// The store answers and is migrated.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT COUNT(*) FROM incidents").fetch_one(&self.pool).await.map_err(query_error("ping"))?;
        Ok(())
    }

    /// Stores an Alertmanager notification (once) in the incident of its group episode;
    /// returns after the commit that holds it.
    pub async fn record_alertmanager(
        &self,
        intake: &AlertmanagerIntake,
        quiet_period: SignedDuration,
    ) -> Result<Intake> {
        self.write(Pending::Alertmanager(intake.clone(), quiet_period)).await
    }

    /// Stores a PagerDuty event (once), linked to the incident of the alert group it came
    /// from (`incident_key`), else of its PagerDuty incident, else a new one; returns after
    /// the commit that holds it.
    pub async fn record_pagerduty(&self, intake: &PagerDutyIntake) -> Result<Intake> {
        self.write(Pending::PagerDuty(intake.clone())).await
    }

    async fn write(&self, pending: Pending) -> Result<Intake> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let closed = || Error::Query { query: "writer", source: sqlx::Error::PoolClosed };
        self.writer.send(Job { pending, reply }).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn alertmanager_in(
        transaction: &mut Transaction<'static, Sqlite>,
        intake: &AlertmanagerIntake,
        quiet_period: SignedDuration,
    ) -> Result<Intake> {
        if let Some(existing) = duplicate(transaction, "alertmanager", &intake.dedup_key).await? {
            return Ok(existing);
        }
        let latest = sqlx::query(
            "SELECT id, status, resolved_at_ms FROM incidents WHERE group_key = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(&intake.group_key)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(query_error("latest incident of a group"))?;
        let quiet_millis = quiet_period.as_millis() as i64;
        let reuse = latest.and_then(|row| {
            let id: i64 = row.get(0);
            let status: String = row.get(1);
            let resolved_at: Option<i64> = row.get(2);
            // A resolved group that fires again after a quiet period is a new episode.
            let new_episode = status == "resolved"
                && intake.status == AlertStatus::Firing
                && resolved_at.is_some_and(|resolved| millis(intake.starts_at) - resolved >= quiet_millis);
            (!new_episode).then_some(id)
        });
        let incident_id = match reuse {
            Some(id) => id,
            None => sqlx::query(
                "INSERT INTO incidents (group_key, pd_incident_key, title, status, severity, opened_at_ms, last_signal_at_ms, truncated_alerts) \
                 VALUES (?, ?, ?, 'open', ?, ?, ?, 0) RETURNING id",
            )
            .bind(&intake.group_key)
            .bind(hex::encode(Sha256::digest(intake.group_key.as_bytes())))
            .bind(&intake.title)
            .bind(&intake.severity)
            .bind(millis(intake.starts_at))
            .bind(millis(intake.received_at))
            .fetch_one(&mut **transaction)
            .await
            .map_err(query_error("new incident"))?
            .get(0),
        };
        let webhook_id = insert_webhook(
            transaction,
            "alertmanager",
            &intake.dedup_key,
            intake.received_at,
            Some(incident_id),
            &intake.body,
        )
        .await?;
        let row = sqlx::query(
            "SELECT title, severity, opened_at_ms, last_signal_at_ms, truncated_alerts FROM incidents WHERE id = ?",
        )
        .bind(incident_id)
        .fetch_one(&mut **transaction)
        .await
        .map_err(query_error("incident for update"))?;
        let (title, severity): (String, Option<String>) = (row.get(0), row.get(1));
        let title = if title.is_empty() { intake.title.clone() } else { title };
        let severity = if severity_rank(intake.severity.as_deref()) > severity_rank(severity.as_deref()) {
            intake.severity.clone()
        } else {
            severity
        };
        let opened_at = row.get::<i64, _>(2).min(millis(intake.starts_at));
        let last_signal = [
            Some(row.get::<i64, _>(3)),
            Some(millis(intake.received_at)),
            Some(millis(intake.starts_at)),
            intake.ends_at.map(millis),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or_default();
        let truncated = row.get::<i64, _>(4).max(intake.truncated_alerts as i64);
        let (status, resolved_at) = match intake.status {
            AlertStatus::Firing => ("open", None),
            AlertStatus::Resolved => ("resolved", Some(millis(intake.ends_at.unwrap_or(intake.received_at)))),
        };
        sqlx::query(
            "UPDATE incidents SET title = ?, severity = ?, opened_at_ms = ?, last_signal_at_ms = ?, truncated_alerts = ?, \
             status = ?, resolved_at_ms = ? WHERE id = ?",
        )
        .bind(title)
        .bind(severity)
        .bind(opened_at)
        .bind(last_signal)
        .bind(truncated)
        .bind(status)
        .bind(resolved_at)
        .bind(incident_id)
        .execute(&mut **transaction)
        .await
        .map_err(query_error("update incident"))?;
        Ok(Intake { webhook_id, incident_id: Some(incident_id), duplicate: false })
    }

    async fn pagerduty_in(transaction: &mut Transaction<'static, Sqlite>, intake: &PagerDutyIntake) -> Result<Intake> {
        if let Some(existing) = duplicate(transaction, "pagerduty", &intake.dedup_key).await? {
            return Ok(existing);
        }
        let Some(action) = &intake.action else {
            let webhook_id =
                insert_webhook(transaction, "pagerduty", &intake.dedup_key, intake.received_at, None, &intake.body)
                    .await?;
            return Ok(Intake { webhook_id, incident_id: None, duplicate: false });
        };
        // A PagerDuty incident already seen wins; only then its incident_key, the sha256 of
        // an Alertmanager group key, which every episode of that group shares (so a late
        // event of an old page must not join the group's newest episode).
        let mut incident_id: Option<i64> = None;
        if let Some(pd_id) = &intake.pd_incident_id {
            incident_id = sqlx::query("SELECT id FROM incidents WHERE pd_incident_id = ? ORDER BY id DESC LIMIT 1")
                .bind(pd_id)
                .fetch_optional(&mut **transaction)
                .await
                .map_err(query_error("incident by PagerDuty id"))?
                .map(|row| row.get(0));
        }
        if incident_id.is_none()
            && let Some(key) = &intake.incident_key
        {
            incident_id = sqlx::query("SELECT id FROM incidents WHERE pd_incident_key = ? ORDER BY id DESC LIMIT 1")
                .bind(key)
                .fetch_optional(&mut **transaction)
                .await
                .map_err(query_error("incident by incident_key"))?
                .map(|row| row.get(0));
        }
        let occurred = millis(intake.occurred_at);
        let incident_id: i64 = match incident_id {
            Some(id) => id,
            None => {
                let title = intake.title.clone().filter(|title| !title.is_empty()).unwrap_or_else(|| {
                    format!("PagerDuty incident {}", intake.pd_incident_id.as_deref().unwrap_or("?"))
                });
                sqlx::query(
                    "INSERT INTO incidents (pd_incident_key, pd_incident_id, title, status, opened_at_ms, last_signal_at_ms, truncated_alerts) \
                     VALUES (?, ?, ?, 'open', ?, ?, 0) RETURNING id",
                )
                .bind(&intake.incident_key)
                .bind(&intake.pd_incident_id)
                .bind(title)
                .bind(occurred)
                .bind(occurred)
                .fetch_one(&mut **transaction)
                .await
                .map_err(query_error("new incident from a page"))?
                .get(0)
            }
        };
        let webhook_id = insert_webhook(
            transaction,
            "pagerduty",
            &intake.dedup_key,
            intake.received_at,
            Some(incident_id),
            &intake.body,
        )
        .await?;
        let status_change = match action.as_str() {
            "resolved" => Some(("resolved", Some(occurred))),
            "triggered" | "reopened" => Some(("open", None)),
            _ => None,
        };
        sqlx::query(
            "UPDATE incidents SET pd_incident_id = COALESCE(pd_incident_id, ?), \
             last_signal_at_ms = CASE WHEN last_signal_at_ms > ? THEN last_signal_at_ms ELSE ? END, \
             opened_at_ms = CASE WHEN opened_at_ms < ? THEN opened_at_ms ELSE ? END WHERE id = ?",
        )
        .bind(&intake.pd_incident_id)
        .bind(occurred)
        .bind(occurred)
        .bind(occurred)
        .bind(occurred)
        .bind(incident_id)
        .execute(&mut **transaction)
        .await
        .map_err(query_error("update incident from a page"))?;
        if let Some((status, resolved_at)) = status_change {
            sqlx::query("UPDATE incidents SET status = ?, resolved_at_ms = ? WHERE id = ?")
                .bind(status)
                .bind(resolved_at)
                .bind(incident_id)
                .execute(&mut **transaction)
                .await
                .map_err(query_error("incident status from a page"))?;
        }
        Ok(Intake { webhook_id, incident_id: Some(incident_id), duplicate: false })
    }

    /// Incidents, newest first.
    pub async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        let rows = sqlx::query(concat!(
            incident_select!(),
            " WHERE (? IS NULL OR i.status = ?) AND (? IS NULL OR i.last_signal_at_ms >= ?) \
             GROUP BY i.id ORDER BY i.opened_at_ms DESC, i.id DESC"
        ))
        .bind(&filter.status)
        .bind(&filter.status)
        .bind(filter.since.map(millis))
        .bind(filter.since.map(millis))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("incidents"))?;
        Ok(rows.iter().map(incident_row).collect())
    }

    pub async fn incident(&self, id: i64) -> Result<Option<IncidentRow>> {
        let row = sqlx::query(concat!(incident_select!(), " WHERE i.id = ? GROUP BY i.id"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("incident"))?;
        Ok(row.as_ref().map(incident_row))
    }

    /// The webhooks of an incident, in arrival order.
    pub async fn incident_webhooks(&self, id: i64) -> Result<Vec<StoredWebhook>> {
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
                source: row.get(1),
                received_at: instant(row.get(2)),
                body: row.get(3),
            })
            .collect())
    }

    pub async fn count_webhooks(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM webhooks")
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("count webhooks"))?;
        Ok(row.get(0))
    }

    pub async fn count_open(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM incidents WHERE status = 'open'")
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("count open incidents"))?;
        Ok(row.get(0))
    }

    /// A write transaction that takes SQLite's write lock at once: two deferred
    /// transactions that both read and then write would deadlock until the busy timeout.
    pub(super) async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(query_error("begin"))
    }
}

/// The most webhooks one commit holds.
const MAX_BATCH: usize = 256;

/// A webhook waiting for the writer.
pub(super) enum Pending {
    Alertmanager(AlertmanagerIntake, SignedDuration),
    PagerDuty(PagerDutyIntake),
}

pub(super) struct Job {
    pending: Pending,
    reply: tokio::sync::oneshot::Sender<Result<Intake>>,
}

/// Group commit: the one writer takes every webhook waiting (up to [`MAX_BATCH`]),
/// stores them in order in one transaction and answers each only after that commit, so
/// concurrent webhooks share one fsync and a 2xx still means the webhook is on disk.
/// A batch that fails is rolled back whole and every webhook in it is answered with the
/// error (their senders retry).
async fn write_batches(pool: sqlx::SqlitePool, mut jobs: tokio::sync::mpsc::Receiver<Job>) {
    let store = Store { pool, writer: tokio::sync::mpsc::channel(1).0 };
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = store.write_batch(&batch).await;
        match outcome {
            Ok(intakes) => {
                for (job, intake) in batch.into_iter().zip(intakes) {
                    let _ = job.reply.send(Ok(intake));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for job in batch {
                    let source = sqlx::Error::Protocol(message.clone());
                    let _ = job.reply.send(Err(Error::Query { query: "batch", source }));
                }
            }
        }
    }
}

impl Store {
    async fn write_batch(&self, batch: &[Job]) -> Result<Vec<Intake>> {
        let mut transaction = self.begin().await?;
        let mut intakes = Vec::with_capacity(batch.len());
        for job in batch {
            intakes.push(match &job.pending {
                Pending::Alertmanager(intake, quiet_period) => {
                    Store::alertmanager_in(&mut transaction, intake, *quiet_period).await?
                }
                Pending::PagerDuty(intake) => Store::pagerduty_in(&mut transaction, intake).await?,
            });
        }
        transaction.commit().await.map_err(query_error("commit"))?;
        Ok(intakes)
    }
}

/// The columns of an [`IncidentRow`], with its webhooks' count, newest id and sources.
macro_rules! incident_select {
    () => {
        "SELECT i.id, i.title, i.status, i.severity, i.opened_at_ms, i.last_signal_at_ms, \
         i.resolved_at_ms, i.group_key, i.truncated_alerts, COUNT(w.id), MAX(w.id), \
         MAX(CASE WHEN w.source = 'alertmanager' THEN 1 ELSE 0 END), \
         MAX(CASE WHEN w.source = 'pagerduty' THEN 1 ELSE 0 END) \
         FROM incidents i LEFT JOIN webhooks w ON w.incident_id = i.id"
    };
}
use incident_select;

fn incident_row(row: &sqlx::sqlite::SqliteRow) -> IncidentRow {
    let mut sources = Vec::new();
    if row.get::<Option<i64>, _>(11).unwrap_or(0) == 1 {
        sources.push("alertmanager".to_owned());
    }
    if row.get::<Option<i64>, _>(12).unwrap_or(0) == 1 {
        sources.push("pagerduty".to_owned());
    }
    IncidentRow {
        id: row.get(0),
        title: row.get(1),
        status: row.get(2),
        severity: row.get(3),
        opened_at: instant(row.get(4)),
        last_signal_at: instant(row.get(5)),
        resolved_at: row.get::<Option<i64>, _>(6).map(instant),
        group_key: row.get(7),
        truncated_alerts: row.get::<i64, _>(8).max(0) as u64,
        n_webhooks: row.get(9),
        last_webhook_id: row.get::<Option<i64>, _>(10).unwrap_or(0),
        sources,
    }
}

/// The stored webhook of `(source, dedup_key)`, if there is one.
async fn duplicate(
    transaction: &mut Transaction<'static, Sqlite>,
    source: &str,
    dedup_key: &str,
) -> Result<Option<Intake>> {
    let row = sqlx::query("SELECT id, incident_id FROM webhooks WHERE source = ? AND dedup_key = ?")
        .bind(source)
        .bind(dedup_key)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(query_error("duplicate webhook"))?;
    Ok(row.map(|row| Intake { webhook_id: row.get(0), incident_id: row.get(1), duplicate: true }))
}

async fn insert_webhook(
    transaction: &mut Transaction<'static, Sqlite>,
    source: &str,
    dedup_key: &str,
    received_at: Instant,
    incident_id: Option<i64>,
    body: &[u8],
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO webhooks (source, dedup_key, received_at_ms, incident_id, body) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(source)
    .bind(dedup_key)
    .bind(millis(received_at))
    .bind(incident_id)
    .bind(body)
    .fetch_one(&mut **transaction)
    .await
    .map_err(query_error("insert webhook"))?;
    Ok(row.get(0))
}
