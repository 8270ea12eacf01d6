//! What responders add to an incident, on SQLite (migration `0006_responders.sql`): the
//! `responder_inputs` rows, the corrected title and severity (`incidents.title_corrected`,
//! `severity_corrected`, which the incident queries show instead of the signals' own) and
//! merges (`incidents.merged_into`, kept flat). The rules are others': a manual resolve is
//! `IncidentState::resolve` at its own time, as for any resolution; this file persists.
//! Plain SQL only, so the PostgreSQL backend takes it over as it is.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, incident_state, incident_state_select, instant, millis, query_error, update_incident};
use crate::record::{Instant, ResponderInput, ResponderRecord};
use crate::store::{Refusal, Responders, Result};

impl SqliteStore {
    /// [`crate::store::Store::add_responder_input`].
    pub(in crate::store) async fn add_responder_input(
        &self,
        incident_id: i64,
        input: &ResponderRecord,
        received_at: Instant,
    ) -> Result<std::result::Result<i64, Refusal>> {
        let mut transaction = self.begin().await?;
        let merged_into = |id: i64| sqlx::query("SELECT merged_into FROM incidents WHERE id = ?").bind(id);
        let Some(row) =
            merged_into(incident_id).fetch_optional(&mut *transaction).await.map_err(query_error("incident"))?
        else {
            return Ok(Err(Refusal::NoIncident(incident_id)));
        };
        if let Some(into) = row.get::<Option<i64>, _>(0) {
            return Ok(Err(Refusal::Merged { id: incident_id, into }));
        }
        let (text, title, severity, merged_from) = match &input.input {
            ResponderInput::Note { text } => (Some(text.as_str()), None, None, None),
            ResponderInput::Correction { title, severity } => (None, title.as_deref(), severity.as_deref(), None),
            ResponderInput::Resolve { note } => (note.as_deref(), None, None, None),
            ResponderInput::Merge { from } => (None, None, None, Some(*from)),
        };
        match &input.input {
            ResponderInput::Note { .. } => {}
            ResponderInput::Correction { title, severity } => {
                sqlx::query(
                    "UPDATE incidents SET title_corrected = COALESCE(?, title_corrected), \
                     severity_corrected = COALESCE(?, severity_corrected) WHERE id = ?",
                )
                .bind(title)
                .bind(severity)
                .bind(incident_id)
                .execute(&mut *transaction)
                .await
                .map_err(query_error("correct incident"))?;
            }
            ResponderInput::Resolve { .. } => {
                // The incident and those merged into it: each resolves at the input's time
                // unless it fired after it, as for any resolution.
                let rows = sqlx::query(concat!(incident_state_select!(), " WHERE id = ? OR merged_into = ?"))
                    .bind(incident_id)
                    .bind(incident_id)
                    .fetch_all(&mut *transaction)
                    .await
                    .map_err(query_error("incidents to resolve"))?;
                for row in &rows {
                    let (id, mut state) = incident_state(row);
                    state.resolve(input.at);
                    update_incident(&mut transaction, id, &state).await?;
                }
            }
            ResponderInput::Merge { from } => {
                if *from == incident_id {
                    return Ok(Err(Refusal::Conflict(format!("from: incident {from} cannot be merged into itself"))));
                }
                let Some(row) =
                    merged_into(*from).fetch_optional(&mut *transaction).await.map_err(query_error("incident"))?
                else {
                    return Ok(Err(Refusal::Conflict(format!("from: no incident {from}"))));
                };
                if let Some(into) = row.get::<Option<i64>, _>(0) {
                    let why = if into == incident_id {
                        format!("from: incident {from} is already merged into incident {incident_id}")
                    } else {
                        format!("from: incident {from} is already merged into incident {into}")
                    };
                    return Ok(Err(Refusal::Conflict(why)));
                }
                // Flat: what was merged into `from` now points here too.
                sqlx::query("UPDATE incidents SET merged_into = ? WHERE id = ? OR merged_into = ?")
                    .bind(incident_id)
                    .bind(from)
                    .bind(from)
                    .execute(&mut *transaction)
                    .await
                    .map_err(query_error("merge incident"))?;
            }
        }
        let id: i64 = sqlx::query(
            "INSERT INTO responder_inputs (incident_id, kind, at_ms, received_at_ms, author, text, title, severity, \
             merged_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(incident_id)
        .bind(input.input.kind())
        .bind(millis(input.at))
        .bind(millis(received_at))
        .bind(&input.author)
        .bind(text)
        .bind(title)
        .bind(severity)
        .bind(merged_from)
        .fetch_one(&mut *transaction)
        .await
        .map_err(query_error("insert responder input"))?
        .get(0);
        transaction.commit().await.map_err(query_error("commit"))?;
        Ok(Ok(id))
    }

    /// [`crate::store::Store::responders`].
    pub(in crate::store) async fn responders(&self, incident_id: i64) -> Result<Responders> {
        let merged_into: Option<i64> = sqlx::query("SELECT merged_into FROM incidents WHERE id = ?")
            .bind(incident_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("incident"))?
            .and_then(|row| row.get(0));
        let merged_from: Vec<i64> = sqlx::query("SELECT id FROM incidents WHERE merged_into = ? ORDER BY id")
            .bind(incident_id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("incidents merged"))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT id, kind, at_ms, author, text, title, severity, merged_from FROM responder_inputs \
             WHERE incident_id IN (",
        );
        let mut ids = query.separated(", ");
        for id in std::iter::once(&incident_id).chain(&merged_from) {
            ids.push_bind(*id);
        }
        query.push(") ORDER BY at_ms, id");
        let rows = query.build().fetch_all(&self.pool).await.map_err(query_error("responder inputs"))?;
        let revision = rows.iter().map(|row| row.get::<i64, _>(0)).max().unwrap_or(0);
        Ok(Responders { inputs: rows.iter().filter_map(input).collect(), merged_from, merged_into, revision })
    }
}

/// A `responder_inputs` row; one of a kind this version does not know is left out.
fn input(row: &SqliteRow) -> Option<ResponderRecord> {
    let text: Option<String> = row.get(4);
    let input = match row.get::<&str, _>(1) {
        "note" => ResponderInput::Note { text: text.unwrap_or_default() },
        "correction" => ResponderInput::Correction { title: row.get(5), severity: row.get(6) },
        "resolve" => ResponderInput::Resolve { note: text },
        "merge" => ResponderInput::Merge { from: row.get::<Option<i64>, _>(7)? },
        _ => return None,
    };
    Some(ResponderRecord { at: instant(row.get(2)), author: row.get(3), input })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::SignedDuration;

    use super::*;
    use crate::incident::grouping::AlertmanagerIntake;
    use crate::record::AlertStatus;
    use crate::store::IncidentFilter;

    async fn store(name: &str) -> SqliteStore {
        let folder = std::env::temp_dir().join(format!("postmortemd-responders-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        SqliteStore::open(&format!("sqlite://{}/postmortemd.db", folder.display())).await.unwrap()
    }

    /// Opens an incident of group `group`, firing at `at` and resolved five minutes later.
    async fn incident(store: &SqliteStore, group: &str, at: &str) -> i64 {
        let at: Instant = at.parse().unwrap();
        let mut ids = Vec::new();
        for (status, dedup) in [(AlertStatus::Firing, "f"), (AlertStatus::Resolved, "r")] {
            let intake = AlertmanagerIntake {
                dedup_key: format!("{group}-{dedup}"),
                received_at: at,
                body: b"{}".to_vec(),
                group_key: group.to_owned(),
                status,
                starts_at: at,
                fired_at: at,
                ends_at: (status == AlertStatus::Resolved).then(|| at + SignedDuration::from_mins(5)),
                title: group.to_owned(),
                severity: None,
                truncated_alerts: 0,
                labels: BTreeMap::new(),
            };
            ids.push(store.record_alertmanager(intake, SignedDuration::from_mins(30)).await.unwrap().incident_id);
        }
        ids[0].unwrap()
    }

    fn merge(from: i64) -> ResponderRecord {
        ResponderRecord {
            at: "2025-02-09T12:00:00Z".parse().unwrap(),
            author: "A".to_owned(),
            input: ResponderInput::Merge { from },
        }
    }

    #[tokio::test]
    async fn merges_are_kept_flat_and_a_merged_incident_is_pruned_only_after_its_target() {
        let store = store("merge").await;
        let now: Instant = "2025-02-09T12:00:00Z".parse().unwrap();
        let a = incident(&store, "A", "2025-02-09T10:00:00Z").await;
        let b = incident(&store, "B", "2025-02-09T10:01:00Z").await;
        let c = incident(&store, "C", "2025-02-09T10:02:00Z").await;
        // C into B, then B into A: C is read as A's too.
        assert!(store.add_responder_input(b, &merge(c), now).await.unwrap().is_ok());
        assert!(store.add_responder_input(a, &merge(b), now).await.unwrap().is_ok());
        let read = store.responders(a).await.unwrap();
        assert_eq!((read.merged_from, read.merged_into), (vec![b, c], None));
        assert_eq!(read.inputs.len(), 2, "B's merge of C is A's input too");
        assert_eq!(store.responders(c).await.unwrap().merged_into, Some(a));
        // Into B (merged) or C back into A: refused.
        assert_eq!(
            store.add_responder_input(b, &merge(a), now).await.unwrap(),
            Err(Refusal::Merged { id: b, into: a })
        );
        assert!(matches!(store.add_responder_input(a, &merge(c), now).await.unwrap(), Err(Refusal::Conflict(_))));
        let listed: Vec<i64> =
            store.incidents(&IncidentFilter::default()).await.unwrap().iter().map(|row| row.id).collect();
        assert_eq!(listed, [a]);

        // A is kept (recent); B and C, past retention too, wait for it.
        sqlx::query("UPDATE incidents SET resolved_at_ms = 0, last_signal_at_ms = 0 WHERE id <> ?")
            .bind(a)
            .execute(&store.pool)
            .await
            .unwrap();
        let pruned = store.prune("2025-02-09T09:00:00Z".parse().unwrap()).await.unwrap();
        assert_eq!(pruned.incidents, 0);
        // Once A is gone, they go too, with their inputs.
        let pruned = store.prune("2025-02-10T00:00:00Z".parse().unwrap()).await.unwrap();
        assert_eq!(pruned.incidents, 1, "A first");
        let pruned = store.prune("2025-02-10T00:00:00Z".parse().unwrap()).await.unwrap();
        assert_eq!(pruned.incidents, 2);
        let left: i64 =
            sqlx::query("SELECT COUNT(*) FROM responder_inputs").fetch_one(&store.pool).await.unwrap().get(0);
        assert_eq!(left, 0);
    }
}
