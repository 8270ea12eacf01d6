//! The PostgreSQL store's bounds (the rules are `store`'s: [`crate::store::Store::prune`],
//! [`crate::store::Store::evidence_bytes`]), as on SQLite: an incident's log chunks in small
//! transactions, then the rest of it in one, after checking under the incident's row lock
//! that no webhook reopened it meanwhile (a webhook storing into it waits for the prune, and
//! then finds it gone). Several daemons may prune at once: deleting twice deletes nothing
//! more. PostgreSQL's autovacuum makes the space freed reusable. An incident merged into another is
//! pruned only once that one is gone.

use sqlx::Row;

use super::{PgStore, millis, query_error};
use crate::record::Instant;
use crate::store::{IncidentStatus, Pruned, Result, StoreSize};

/// Log chunks deleted per transaction while pruning.
const PRUNE_CHUNKS: i64 = 64;

impl PgStore {
    /// [`crate::store::Store::prune`].
    pub(in crate::store) async fn prune(&self, resolved_before: Instant) -> Result<Pruned> {
        let mut pruned = Pruned::default();
        let candidates = sqlx::query(
            "SELECT id FROM incidents WHERE status = $1 AND resolved_at_ms IS NOT NULL AND resolved_at_ms < $2 \
             AND last_signal_at_ms < $3 \
             AND (merged_into IS NULL OR merged_into NOT IN (SELECT id FROM incidents)) ORDER BY resolved_at_ms, id",
        )
        .bind(IncidentStatus::Resolved.as_str())
        .bind(millis(resolved_before))
        .bind(millis(resolved_before))
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("incidents past retention"))?;
        for row in &candidates {
            let incident_id: i64 = row.get(0);
            loop {
                let mut transaction = self.begin().await?;
                let done = sqlx::query(
                    "DELETE FROM evidence_logs WHERE id IN \
                     (SELECT id FROM evidence_logs WHERE incident_id = $1 LIMIT $2)",
                )
                .bind(incident_id)
                .bind(PRUNE_CHUNKS)
                .execute(&mut *transaction)
                .await
                .map_err(query_error("prune log chunks"))?;
                transaction.commit().await.map_err(query_error("commit"))?;
                pruned.log_chunks += done.rows_affected();
                if done.rows_affected() < PRUNE_CHUNKS as u64 {
                    break;
                }
            }
            let mut transaction = self.begin().await?;
            // Still past retention? A late notification may have reopened it meanwhile: then
            // it keeps what is left, and the next prune looks again.
            let still = sqlx::query(
                "SELECT 1 FROM incidents WHERE id = $1 AND status = $2 AND resolved_at_ms < $3 AND last_signal_at_ms < $4 \
                 FOR UPDATE",
            )
            .bind(incident_id)
            .bind(IncidentStatus::Resolved.as_str())
            .bind(millis(resolved_before))
            .bind(millis(resolved_before))
            .fetch_optional(&mut *transaction)
            .await
            .map_err(query_error("incident past retention"))?;
            if still.is_none() {
                continue;
            }
            for (statement, query) in [
                ("DELETE FROM evidence_logs WHERE incident_id = $1", "prune log chunks"),
                ("DELETE FROM evidence_objects WHERE incident_id = $1", "prune objects"),
                ("DELETE FROM evidence_files WHERE incident_id = $1", "prune files"),
                ("DELETE FROM evidence_gaps WHERE incident_id = $1", "prune gaps"),
                ("DELETE FROM collection_jobs WHERE incident_id = $1", "prune collection job"),
                ("DELETE FROM responder_inputs WHERE incident_id = $1", "prune responder inputs"),
            ] {
                sqlx::query(statement)
                    .bind(incident_id)
                    .execute(&mut *transaction)
                    .await
                    .map_err(query_error(query))?;
            }
            let webhooks = sqlx::query("DELETE FROM webhooks WHERE incident_id = $1")
                .bind(incident_id)
                .execute(&mut *transaction)
                .await
                .map_err(query_error("prune webhooks"))?;
            sqlx::query("DELETE FROM incidents WHERE id = $1")
                .bind(incident_id)
                .execute(&mut *transaction)
                .await
                .map_err(query_error("prune incident"))?;
            transaction.commit().await.map_err(query_error("commit"))?;
            pruned.incidents += 1;
            pruned.webhooks += webhooks.rows_affected();
        }
        // Webhooks of no incident (PagerDuty's pagey.ping) age out by their arrival.
        let mut transaction = self.begin().await?;
        let loose = sqlx::query("DELETE FROM webhooks WHERE incident_id IS NULL AND received_at_ms < $1")
            .bind(millis(resolved_before))
            .execute(&mut *transaction)
            .await
            .map_err(query_error("prune webhooks of no incident"))?;
        transaction.commit().await.map_err(query_error("commit"))?;
        pruned.webhooks += loose.rows_affected();
        Ok(pruned)
    }

    /// [`crate::store::Store::evidence_bytes`].
    pub(in crate::store) async fn evidence_bytes(&self, incident_id: i64) -> Result<u64> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(SUM(LENGTH(body)), 0) FROM evidence_logs WHERE incident_id = $1) \
             + (SELECT COALESCE(SUM(LENGTH(body)), 0) FROM evidence_objects WHERE incident_id = $2) \
             + (SELECT COALESCE(SUM(LENGTH(body)), 0) FROM evidence_files WHERE incident_id = $3)",
        )
        .bind(incident_id)
        .bind(incident_id)
        .bind(incident_id)
        .fetch_one(&self.pool)
        .await
        .map_err(query_error("evidence bytes"))?;
        Ok(row.get::<i64, _>(0).max(0) as u64)
    }

    /// [`crate::store::Store::size`]: the database's size; what is free in it PostgreSQL
    /// does not tell cheaply (free space in its tables' pages), so none is reported.
    pub(in crate::store) async fn size(&self) -> Result<StoreSize> {
        let row = sqlx::query("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("store size"))?;
        Ok(StoreSize { bytes: row.get::<i64, _>(0).max(0) as u64, free_bytes: 0 })
    }
}
