//! What responders add to an incident, on PostgreSQL (migration `0006_responders.sql`): the
//! SQLite backend's `responders.rs` with PostgreSQL's placeholders, and the incident rows an
//! input changes locked (`FOR UPDATE`) so a webhook another replica stores into the same
//! incident meanwhile waits for it rather than writing over a manual resolve.

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PgStore, incident_state, incident_state_select, instant, millis, query_error, update_incident};
use crate::record::{Instant, ResponderInput, ResponderRecord};
use crate::store::{Refusal, Responders, Result};

impl PgStore {
    /// [`crate::store::Store::add_responder_input`].
    pub(in crate::store) async fn add_responder_input(
        &self,
        incident_id: i64,
        input: &ResponderRecord,
        received_at: Instant,
    ) -> Result<std::result::Result<i64, Refusal>> {
        let mut transaction = self.begin().await?;
        let merged_into = |id: i64| sqlx::query("SELECT merged_into FROM incidents WHERE id = $1 FOR UPDATE").bind(id);
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
                    "UPDATE incidents SET title_corrected = COALESCE($1, title_corrected), \
                     severity_corrected = COALESCE($2, severity_corrected) WHERE id = $3",
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
                let rows = sqlx::query(concat!(
                    incident_state_select!(),
                    " WHERE id = $1 OR merged_into = $2 ORDER BY id FOR UPDATE"
                ))
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
                sqlx::query("UPDATE incidents SET merged_into = $1 WHERE id = $2 OR merged_into = $3")
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
             merged_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
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
        let merged_into: Option<i64> = sqlx::query("SELECT merged_into FROM incidents WHERE id = $1")
            .bind(incident_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("incident"))?
            .and_then(|row| row.get(0));
        let merged_from: Vec<i64> = sqlx::query("SELECT id FROM incidents WHERE merged_into = $1 ORDER BY id")
            .bind(incident_id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("incidents merged"))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut query = sqlx::QueryBuilder::<sqlx::Postgres>::new(
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
fn input(row: &PgRow) -> Option<ResponderRecord> {
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
