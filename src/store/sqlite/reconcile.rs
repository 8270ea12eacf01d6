//! Reconciliation's queries on SQLite: what a poll of Alertmanager or PagerDuty's REST API
//! calls for is stored in one write transaction, as webhooks are (the same grouping, the same
//! rows), each row marked with where it came from (`webhooks.reconciled`). The decisions are
//! `incident::grouping`'s (`reconcile_alertmanager`); this file loads what they need and
//! persists what they decide, and keeps each polled source's resume position.

use std::collections::{BTreeMap, HashSet};

use jiff::SignedDuration;
use sqlx::{Row, Sqlite, Transaction};

use super::{
    Intake, PagerDutyIntake, Result, SqliteStore, alertmanager_run, incident_state, incident_state_select, instant,
    millis, pagerduty_in_from, query_error,
};
use crate::incident::grouping::{
    AlertmanagerPoll, IncidentState, Reconciled, StoredNotification, is_provisional_group_key, reconcile_alertmanager,
    unescape_receiver,
};
use crate::ingest::alertmanager::parse_webhook;
use crate::store::{IncidentStatus, WebhookSource};

/// How many Alertmanager incidents one poll compares its alerts with, newest first.
const CANDIDATES: i64 = 2_000;

/// How far apart a webhook's `occurred_at` and a REST log entry's `created_at` of the same
/// transition may be.
const SAME_TRANSITION_MS: i64 = 1_000;

impl SqliteStore {
    pub(in crate::store) async fn reconcile_alertmanager(
        &self,
        poll: &AlertmanagerPoll,
        receivers: &[String],
        quiet_period: SignedDuration,
    ) -> Result<Vec<Intake>> {
        if poll.answered.is_empty() {
            return Ok(Vec::new());
        }
        let mut transaction = self.begin().await?;
        // The Alertmanager incidents a polled alert may belong to: open ones, and those whose
        // last signal is no older than the earliest polled start (an incident holding an
        // occurrence heard of it no earlier than the occurrence started) less the quiet
        // period (an episode a new firing would reopen: its webhooks name the group).
        let earliest = poll
            .groups
            .iter()
            .flat_map(|group| &group.alerts)
            .map(|polled| polled.alert.starts_at)
            .min()
            .unwrap_or(poll.at);
        let earliest = earliest.checked_sub(quiet_period).unwrap_or(earliest);
        let rows = sqlx::query(
            "SELECT id, group_key, status FROM incidents WHERE group_key IS NOT NULL \
             AND (status = ? OR last_signal_at_ms >= ?) ORDER BY id DESC LIMIT ?",
        )
        .bind(IncidentStatus::Open.as_str())
        .bind(millis(earliest))
        .bind(CANDIDATES)
        .fetch_all(&mut *transaction)
        .await
        .map_err(query_error("incidents to reconcile"))?;
        let mut group_keys: BTreeMap<i64, String> = BTreeMap::new();
        let mut open: Vec<(i64, String)> = Vec::new();
        for row in &rows {
            let (id, group_key, status): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
            if IncidentStatus::from_word(&status) != Some(IncidentStatus::Resolved) {
                open.push((id, group_key.clone()));
            }
            group_keys.insert(id, group_key);
        }
        let mut notifications = Vec::new();
        if !group_keys.is_empty() {
            let mut query = sqlx::QueryBuilder::<Sqlite>::new(
                "SELECT incident_id, received_at_ms, body FROM webhooks WHERE source = ",
            );
            query.push_bind(WebhookSource::Alertmanager.as_str()).push(" AND incident_id IN (");
            let mut ids = query.separated(", ");
            for id in group_keys.keys() {
                ids.push_bind(*id);
            }
            query.push(") ORDER BY id");
            let rows =
                query.build().fetch_all(&mut *transaction).await.map_err(query_error("notifications to reconcile"))?;
            for row in &rows {
                let incident_id: i64 = row.get(0);
                let body: Vec<u8> = row.get(2);
                // A body that no longer parses holds no occurrence anyone can match.
                let Ok(payload) = parse_webhook(&body) else { continue };
                notifications.push(StoredNotification {
                    incident_id,
                    group_key: group_keys.get(&incident_id).cloned().unwrap_or_default(),
                    receiver: unescape_receiver(&payload.receiver),
                    group_labels: payload.group_labels,
                    received_at: instant(row.get(1)),
                    alerts: payload.alerts,
                });
            }
        }
        let intakes = reconcile_alertmanager(poll, receivers, &notifications, &open);
        let mut stored = Vec::with_capacity(intakes.len());
        for intake in &intakes {
            let why =
                if intake.status == crate::record::AlertStatus::Firing { Reconciled::Missed } else { Reconciled::Gone };
            let Some(result) = alertmanager_run(&mut transaction, &[(intake, quiet_period)]).await?.pop() else {
                continue;
            };
            if result.duplicate {
                continue;
            }
            sqlx::query("UPDATE webhooks SET reconciled = ? WHERE id = ?")
                .bind(why.as_str())
                .bind(result.webhook_id)
                .execute(&mut *transaction)
                .await
                .map_err(query_error("mark a reconciled webhook"))?;
            if is_provisional_group_key(&intake.group_key) {
                sqlx::query("UPDATE incidents SET provisional_group = 1 WHERE id = ? AND group_key = ?")
                    .bind(result.incident_id)
                    .bind(&intake.group_key)
                    .execute(&mut *transaction)
                    .await
                    .map_err(query_error("mark a provisional group"))?;
            }
            stored.push(result);
        }
        transaction.commit().await.map_err(query_error("commit reconciliation"))?;
        Ok(stored)
    }

    pub(in crate::store) async fn record_pagerduty_rest(&self, intake: PagerDutyIntake) -> Result<Intake> {
        let mut transaction = self.begin().await?;
        let stored = pagerduty_in_from(&mut transaction, &intake, Some(Reconciled::Rest)).await?;
        transaction.commit().await.map_err(query_error("commit a REST page"))?;
        Ok(stored)
    }

    pub(in crate::store) async fn reconcile_position(&self, source: &str) -> Result<Option<crate::record::Instant>> {
        let row = sqlx::query("SELECT position_ms FROM reconcile_positions WHERE source = ?")
            .bind(source)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("reconcile position"))?;
        Ok(row.map(|row| instant(row.get(0))))
    }

    pub(in crate::store) async fn set_reconcile_position(
        &self,
        source: &str,
        position: crate::record::Instant,
    ) -> Result<()> {
        let mut transaction = self.begin().await?;
        sqlx::query(
            "INSERT INTO reconcile_positions (source, position_ms) VALUES (?, ?) \
             ON CONFLICT (source) DO UPDATE SET position_ms = excluded.position_ms",
        )
        .bind(source)
        .bind(millis(position))
        .execute(&mut *transaction)
        .await
        .map_err(query_error("set reconcile position"))?;
        transaction.commit().await.map_err(query_error("commit reconcile position"))?;
        Ok(())
    }
}

/// Whether any incident is still under a provisional group key (the partial index makes
/// this one page read; usually the answer is no, and no webhook pays more).
pub(super) async fn any_provisional(transaction: &mut Transaction<'_, Sqlite>) -> Result<bool> {
    let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM incidents WHERE provisional_group = 1)")
        .fetch_one(&mut **transaction)
        .await
        .map_err(query_error("any provisional incident"))?;
    Ok(row.get::<i64, _>(0) != 0)
}

/// An incident reconciliation opened under a provisional group key that holds one of the
/// notification's alert occurrences (fingerprint + `startsAt`): the notification adopts it
/// (its provisional mark is cleared here; the caller gives it the real group key). `None`
/// for a notification reconciliation made itself.
pub(super) async fn provisional_holder(
    transaction: &mut Transaction<'_, Sqlite>,
    intake: &crate::incident::grouping::AlertmanagerIntake,
) -> Result<Option<(i64, IncidentState)>> {
    if is_provisional_group_key(&intake.group_key) {
        return Ok(None);
    }
    // Cheap first: provisional incidents are rare, and one holding an occurrence of this
    // notification opened before it arrived and was open, or resolved, after it started.
    let rows = sqlx::query(concat!(
        incident_state_select!(),
        " WHERE provisional_group = 1 AND opened_at_ms <= ? AND (status = ? OR resolved_at_ms >= ?) ORDER BY id"
    ))
    .bind(millis(intake.received_at.max(intake.fired_at)))
    .bind(IncidentStatus::Open.as_str())
    .bind(millis(intake.starts_at))
    .fetch_all(&mut **transaction)
    .await
    .map_err(query_error("provisional incidents"))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let Ok(payload) = parse_webhook(&intake.body) else { return Ok(None) };
    let occurrences: HashSet<(String, i64)> = payload
        .alerts
        .iter()
        .filter_map(|alert| Some((alert.fingerprint.clone()?, alert.starts_at.as_millisecond())))
        .collect();
    for row in &rows {
        let (id, state) = incident_state(row);
        let bodies = sqlx::query("SELECT body FROM webhooks WHERE incident_id = ? AND source = ?")
            .bind(id)
            .bind(WebhookSource::Alertmanager.as_str())
            .fetch_all(&mut **transaction)
            .await
            .map_err(query_error("notifications of a provisional incident"))?;
        let holds = bodies.iter().any(|body| {
            parse_webhook(&body.get::<Vec<u8>, _>(0)).is_ok_and(|stored| {
                stored.alerts.iter().any(|alert| {
                    alert.fingerprint.as_ref().is_some_and(|fingerprint| {
                        occurrences.contains(&(fingerprint.clone(), alert.starts_at.as_millisecond()))
                    })
                })
            })
        });
        if holds {
            sqlx::query("UPDATE incidents SET provisional_group = 0 WHERE id = ?")
                .bind(id)
                .execute(&mut **transaction)
                .await
                .map_err(query_error("adopt a provisional incident"))?;
            return Ok(Some((id, state)));
        }
    }
    Ok(None)
}

/// The page already stored from the other side of the same transition: for a webhook
/// (`origin` `None`), a REST log entry of its PagerDuty incident with its action and time
/// (within [`SAME_TRANSITION_MS`]); for a REST entry, such a webhook.
pub(super) async fn same_transition(
    transaction: &mut Transaction<'_, Sqlite>,
    intake: &PagerDutyIntake,
    origin: Option<Reconciled>,
) -> Result<Option<Intake>> {
    let (Some(pd_id), Some(action)) = (&intake.pd_incident_id, &intake.action) else { return Ok(None) };
    // The other side: webhooks (`reconciled` NULL) for a REST entry, REST entries for a webhook.
    let query = if origin.is_some() {
        "SELECT id, incident_id FROM webhooks WHERE source = ? AND pd_incident_id = ? AND page_action = ? \
         AND page_occurred_at_ms BETWEEN ? AND ? AND reconciled IS NULL ORDER BY id LIMIT 1"
    } else {
        "SELECT id, incident_id FROM webhooks WHERE source = ? AND pd_incident_id = ? AND page_action = ? \
         AND page_occurred_at_ms BETWEEN ? AND ? AND reconciled = 'rest' ORDER BY id LIMIT 1"
    };
    let occurred = millis(intake.occurred_at);
    let row = sqlx::query(query)
        .bind(WebhookSource::PagerDuty.as_str())
        .bind(pd_id)
        .bind(action.as_str())
        .bind(occurred.saturating_sub(SAME_TRANSITION_MS))
        .bind(occurred.saturating_add(SAME_TRANSITION_MS))
        .fetch_optional(&mut **transaction)
        .await
        .map_err(query_error("same page transition"))?;
    Ok(row.map(|row| Intake { webhook_id: row.get(0), incident_id: row.get(1), duplicate: true }))
}
