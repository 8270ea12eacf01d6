//! The SQLite store's collection queries (the types and their rules are `store::evidence`'s).
//! These writes take their own `BEGIN IMMEDIATE` transactions from the read pool rather than
//! the webhook writer task: they are few and large, and SQLite's write lock serialises them
//! with the writer's group commits (`tests/store.rs` holds both under load). A pass's writes
//! check its lease's fencing token inside their transaction ([`holds_lease`]): SQLite's
//! write lock orders them with any claim.

use sqlx::{Row, Sqlite, Transaction};

use super::{SqliteStore, instant, millis, query_error, status};
use crate::record::{GapRecord, GapSource, Instant};
use crate::store::{ClaimedJob, Collection, Error, IncidentStatus, NextRun, Result, StoredEvidence, StoredPass};

/// The job of `incident_id` is still leased with `token` (no claim since), else
/// [`Error::LeaseLost`]; in the write transaction that depends on it.
async fn holds_lease(transaction: &mut Transaction<'_, Sqlite>, incident_id: i64, token: i64) -> Result<()> {
    let held = sqlx::query("SELECT 1 FROM collection_jobs WHERE incident_id = ? AND lease_token = ?")
        .bind(incident_id)
        .bind(token)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(query_error("collection job lease"))?;
    held.map(|_| ()).ok_or(Error::LeaseLost { incident_id, token })
}

impl SqliteStore {
    /// [`crate::store::Store::ensure_jobs`].
    pub(in crate::store) async fn ensure_jobs(&self, now: Instant, horizon: Instant) -> Result<u64> {
        let mut transaction = self.begin().await?;
        let done = sqlx::query(
            "INSERT INTO collection_jobs (incident_id, next_run_at_ms, cursors) \
             SELECT i.id, ?, '{}' FROM incidents i \
             WHERE NOT EXISTS (SELECT 1 FROM collection_jobs j WHERE j.incident_id = i.id) \
             AND (i.status = ? OR i.last_signal_at_ms >= ?)",
        )
        .bind(millis(now))
        .bind(IncidentStatus::Open.as_str())
        .bind(millis(horizon))
        .execute(&mut *transaction)
        .await
        .map_err(query_error("new collection jobs"))?;
        transaction.commit().await.map_err(query_error("commit"))?;
        Ok(done.rows_affected())
    }

    /// [`crate::store::Store::claim_job`].
    pub(in crate::store) async fn claim_job(&self, now: Instant, lease_until: Instant) -> Result<Option<ClaimedJob>> {
        let mut transaction = self.begin().await?;
        let row = sqlx::query(
            "SELECT j.incident_id, j.passes, j.cursors, i.status, i.opened_at_ms, i.resolved_at_ms, j.lease_token + 1 \
             FROM collection_jobs j JOIN incidents i ON i.id = j.incident_id \
             WHERE j.finished_at_ms IS NULL AND j.next_run_at_ms <= ? \
             AND (j.lease_until_ms IS NULL OR j.lease_until_ms < ?) \
             ORDER BY j.next_run_at_ms, j.incident_id LIMIT 1",
        )
        .bind(millis(now))
        .bind(millis(now))
        .fetch_optional(&mut *transaction)
        .await
        .map_err(query_error("due collection job"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let incident_id: i64 = row.get(0);
        sqlx::query(
            "UPDATE collection_jobs SET lease_until_ms = ?, lease_token = lease_token + 1 WHERE incident_id = ?",
        )
        .bind(millis(lease_until))
        .bind(incident_id)
        .execute(&mut *transaction)
        .await
        .map_err(query_error("lease collection job"))?;
        transaction.commit().await.map_err(query_error("commit"))?;
        Ok(Some(ClaimedJob {
            incident_id,
            token: row.get(6),
            passes: row.get(1),
            cursors: row.get(2),
            status: status(row.get(3)),
            opened_at: instant(row.get(4)),
            resolved_at: row.get::<Option<i64>, _>(5).map(instant),
        }))
    }

    /// [`crate::store::Store::release_job`].
    pub(in crate::store) async fn release_job(&self, incident_id: i64, token: i64) -> Result<()> {
        let mut transaction = self.begin().await?;
        let done =
            sqlx::query("UPDATE collection_jobs SET lease_until_ms = NULL WHERE incident_id = ? AND lease_token = ?")
                .bind(incident_id)
                .bind(token)
                .execute(&mut *transaction)
                .await
                .map_err(query_error("release collection job"))?;
        if done.rows_affected() == 0 {
            return Err(Error::LeaseLost { incident_id, token });
        }
        transaction.commit().await.map_err(query_error("commit"))?;
        Ok(())
    }

    /// [`crate::store::Store::clear_log_chunks`].
    pub(in crate::store) async fn clear_log_chunks(&self, incident_id: i64, token: i64, pass: i64) -> Result<u64> {
        let mut transaction = self.begin().await?;
        holds_lease(&mut transaction, incident_id, token).await?;
        let done = sqlx::query("DELETE FROM evidence_logs WHERE incident_id = ? AND pass = ?")
            .bind(incident_id)
            .bind(pass)
            .execute(&mut *transaction)
            .await
            .map_err(query_error("delete leftover log chunks"))?;
        transaction.commit().await.map_err(query_error("commit"))?;
        Ok(done.rows_affected())
    }

    /// [`crate::store::Store::store_log_chunk`].
    pub(in crate::store) async fn store_log_chunk(
        &self,
        incident_id: i64,
        token: i64,
        pass: i64,
        stream: &str,
        n_bytes: u64,
        body: &[u8],
    ) -> Result<()> {
        let mut transaction = self.begin().await?;
        holds_lease(&mut transaction, incident_id, token).await?;
        sqlx::query("INSERT INTO evidence_logs (incident_id, pass, stream, n_bytes, body) VALUES (?, ?, ?, ?, ?)")
            .bind(incident_id)
            .bind(pass)
            .bind(stream)
            .bind(n_bytes as i64)
            .bind(body)
            .execute(&mut *transaction)
            .await
            .map_err(query_error("insert log chunk"))?;
        transaction.commit().await.map_err(query_error("commit"))?;
        Ok(())
    }

    /// [`crate::store::Store::store_pass`].
    pub(in crate::store) async fn store_pass(
        &self,
        incident_id: i64,
        token: i64,
        pass: &StoredPass,
        now: Instant,
        next: NextRun,
    ) -> Result<()> {
        let mut transaction = self.begin().await?;
        holds_lease(&mut transaction, incident_id, token).await?;
        for (folder, gap_source) in &pass.replaces {
            sqlx::query("DELETE FROM evidence_files WHERE incident_id = ? AND name LIKE ?")
                .bind(incident_id)
                .bind(format!("{}%", like_literal(folder)))
                .execute(&mut *transaction)
                .await
                .map_err(query_error("replace files"))?;
            sqlx::query("DELETE FROM evidence_gaps WHERE incident_id = ? AND source LIKE ?")
                .bind(incident_id)
                .bind(format!("{}%", like_literal(gap_source)))
                .execute(&mut *transaction)
                .await
                .map_err(query_error("replace gaps"))?;
        }
        for (stream, n_bytes, body) in &pass.logs {
            sqlx::query(
                "INSERT INTO evidence_logs (incident_id, pass, stream, n_bytes, body) \
                 SELECT ?, passes + 1, ?, ?, ? FROM collection_jobs WHERE incident_id = ?",
            )
            .bind(incident_id)
            .bind(stream)
            .bind(*n_bytes as i64)
            .bind(body)
            .bind(incident_id)
            .execute(&mut *transaction)
            .await
            .map_err(query_error("insert log chunk"))?;
        }
        for (kind, uid, body) in &pass.objects {
            sqlx::query(
                "INSERT INTO evidence_objects (incident_id, kind, uid, body) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (incident_id, kind, uid) DO UPDATE SET body = excluded.body",
            )
            .bind(incident_id)
            .bind(kind)
            .bind(uid)
            .bind(body)
            .execute(&mut *transaction)
            .await
            .map_err(query_error("upsert object"))?;
        }
        for (name, body) in &pass.files {
            sqlx::query(
                "INSERT INTO evidence_files (incident_id, name, body) VALUES (?, ?, ?) \
                 ON CONFLICT (incident_id, name) DO UPDATE SET body = excluded.body",
            )
            .bind(incident_id)
            .bind(name)
            .bind(body)
            .execute(&mut *transaction)
            .await
            .map_err(query_error("upsert file"))?;
        }
        for gap in &pass.gaps {
            sqlx::query(
                "INSERT INTO evidence_gaps (incident_id, source, reason, start_ms, end_ms, node) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (incident_id, source, reason) DO UPDATE SET \
                 start_ms = CASE WHEN excluded.start_ms < evidence_gaps.start_ms THEN excluded.start_ms ELSE evidence_gaps.start_ms END, \
                 end_ms = CASE WHEN excluded.end_ms > evidence_gaps.end_ms THEN excluded.end_ms ELSE evidence_gaps.end_ms END",
            )
            .bind(incident_id)
            .bind(gap.source.to_string())
            .bind(&gap.reason)
            .bind(millis(gap.start))
            .bind(millis(gap.end))
            .bind(&gap.node)
            .execute(&mut *transaction)
            .await
            .map_err(query_error("upsert gap"))?;
        }
        let (next_run, finished) = match next {
            NextRun::At(at) => (millis(at), None),
            NextRun::Finished => (millis(now), Some(millis(now))),
        };
        sqlx::query(
            "UPDATE collection_jobs SET cursors = ?, next_run_at_ms = ?, finished_at_ms = ?, last_run_at_ms = ?, \
             passes = passes + 1, lease_until_ms = NULL WHERE incident_id = ?",
        )
        .bind(&pass.cursors)
        .bind(next_run)
        .bind(finished)
        .bind(millis(now))
        .bind(incident_id)
        .execute(&mut *transaction)
        .await
        .map_err(query_error("update collection job"))?;
        transaction.commit().await.map_err(query_error("commit"))?;
        Ok(())
    }

    /// [`crate::store::Store::evidence`].
    pub(in crate::store) async fn evidence(&self, incident_id: i64) -> Result<StoredEvidence> {
        let logs = sqlx::query(
            "SELECT l.id, l.n_bytes FROM evidence_logs l JOIN collection_jobs j ON j.incident_id = l.incident_id \
             WHERE l.incident_id = ? AND l.pass <= j.passes ORDER BY l.stream, l.id",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("log chunks"))?;
        let objects = sqlx::query("SELECT kind, body FROM evidence_objects WHERE incident_id = ? ORDER BY kind, uid")
            .bind(incident_id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("objects"))?;
        let files = sqlx::query("SELECT name, body FROM evidence_files WHERE incident_id = ? ORDER BY name")
            .bind(incident_id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("files"))?;
        let gaps = sqlx::query(
            "SELECT source, reason, start_ms, end_ms, node FROM evidence_gaps WHERE incident_id = ? \
             ORDER BY source, start_ms, reason",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("gaps"))?;
        Ok(StoredEvidence {
            logs: logs.iter().map(|row| (row.get(0), row.get::<i64, _>(1).max(0) as u64)).collect(),
            objects: objects.iter().map(|row| (row.get(0), row.get(1))).collect(),
            files: files.iter().map(|row| (row.get(0), row.get(1))).collect(),
            gaps: gaps
                .iter()
                .map(|row| GapRecord {
                    source: GapSource::parse(row.get(0)),
                    reason: row.get(1),
                    start: instant(row.get(2)),
                    end: instant(row.get(3)),
                    node: row.get(4),
                })
                .collect(),
        })
    }

    /// [`crate::store::Store::log_chunk`].
    pub(in crate::store) async fn log_chunk(&self, chunk_id: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT body FROM evidence_logs WHERE id = ?")
            .bind(chunk_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("log chunk"))?;
        Ok(row.map(|row| row.get(0)))
    }

    /// [`crate::store::Store::collection`].
    pub(in crate::store) async fn collection(&self, incident_id: i64) -> Result<Option<Collection>> {
        let row = sqlx::query(
            "SELECT passes, last_run_at_ms, next_run_at_ms, finished_at_ms,              (SELECT COUNT(*) FROM evidence_gaps g WHERE g.incident_id = j.incident_id)              FROM collection_jobs j WHERE incident_id = ?",
        )
        .bind(incident_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error("collection"))?;
        Ok(row.map(|row| Collection {
            passes: row.get(0),
            last_run_at: row.get::<Option<i64>, _>(1).map(instant),
            next_run_at: instant(row.get(2)),
            finished_at: row.get::<Option<i64>, _>(3).map(instant),
            n_gaps: row.get(4),
        }))
    }

    /// [`crate::store::Store::passes`].
    pub(in crate::store) async fn passes(&self, incident_id: i64) -> Result<i64> {
        let row = sqlx::query("SELECT passes FROM collection_jobs WHERE incident_id = ?")
            .bind(incident_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("passes"))?;
        Ok(row.map_or(0, |row| row.get(0)))
    }
}

/// `text` matched literally by LIKE (no `%` or `_` wildcards in our prefixes; refuse them).
fn like_literal(text: &str) -> &str {
    debug_assert!(!text.contains(['%', '_']), "LIKE prefix {text:?} holds a wildcard");
    text
}
