//! `postmortemd store copy`: every row of one store into another, whichever their backends
//! (moving a SQLite install to PostgreSQL, issue 12): webhooks, incidents, collection jobs,
//! evidence, reconciliation positions and responders' inputs, with their ids, so every
//! timeline reads the same afterwards. The copy is one transaction on the target: it lands
//! whole or not at all, and a target that already holds incidents or webhooks is refused.
//!
//! Rows travel as backend-neutral [`Value`]s, a page at a time (the source is not written
//! meanwhile: a SQLite source is locked by the copy, and the docs say to stop the daemons);
//! each backend reads and writes them with its own SQL (`sqlite/copy.rs`, `postgres/copy.rs`).

use super::{Error, Result, Store};

/// A cell, as both backends can read and write it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// The tables copied, in order (a table after those it references), each with the columns
/// that order its rows (its primary key). `tests/store_copy.rs` checks that it names every
/// table either backend's migrations make.
pub const TABLES: &[(&str, &str)] = &[
    ("incidents", "id"),
    ("webhooks", "id"),
    ("collection_jobs", "incident_id"),
    ("evidence_logs", "id"),
    ("evidence_objects", "incident_id, kind, uid"),
    ("evidence_files", "incident_id, name"),
    ("evidence_gaps", "incident_id, source, reason"),
    ("reconcile_positions", "source"),
    ("responder_inputs", "id"),
];

/// Column names as an SQL list, each quoted (both backends quote identifiers alike).
pub(super) fn quoted(columns: &[String]) -> String {
    columns.iter().map(|column| format!("\"{column}\"")).collect::<Vec<_>>().join(", ")
}

/// Rows read and written at a time.
pub(super) const PAGE_ROWS: i64 = 500;

/// What a copy moved: rows per table, in [`TABLES`]' order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

/// A target's open transaction, rows written into it a page at a time.
pub(super) enum Sink {
    Sqlite(super::sqlite::copy::Sink),
    Postgres(super::postgres::copy::Sink),
}

impl Store {
    /// Copies every row of this store into `target`, which must hold no incident and no
    /// webhook; one transaction on the target.
    pub async fn copy_to(&self, target: &Store) -> Result<Copied> {
        if target.count_webhooks().await? > 0 || target.has_incidents().await? {
            return Err(Error::NotEmpty);
        }
        let mut sink = target.copy_sink().await?;
        let mut copied = Copied::default();
        for &(table, order) in TABLES {
            let columns = self.copy_columns(table).await?;
            let known = sink.columns(table).await?;
            if let Some(missing) = columns.iter().find(|column| !known.contains(column)) {
                return Err(Error::Schema(format!(
                    "the target has no column {table}.{missing}: is it an older postmortemd's database?"
                )));
            }
            let mut rows = 0u64;
            loop {
                let page = self.copy_page(table, &columns, order, rows as i64).await?;
                if page.is_empty() {
                    break;
                }
                rows += page.len() as u64;
                sink.insert(table, &columns, page).await?;
            }
            copied.tables.push((table, rows));
        }
        sink.finish().await?;
        Ok(copied)
    }

    async fn copy_columns(&self, table: &str) -> Result<Vec<String>> {
        match &self.0 {
            super::Backend::Sqlite(store) => store.copy_columns(table).await,
            super::Backend::Postgres(store) => store.copy_columns(table).await,
        }
    }

    async fn copy_page(&self, table: &str, columns: &[String], order: &str, offset: i64) -> Result<Vec<Vec<Value>>> {
        match &self.0 {
            super::Backend::Sqlite(store) => store.copy_page(table, columns, order, offset).await,
            super::Backend::Postgres(store) => store.copy_page(table, columns, order, offset).await,
        }
    }

    async fn copy_sink(&self) -> Result<Sink> {
        match &self.0 {
            super::Backend::Sqlite(store) => store.copy_sink().await.map(Sink::Sqlite),
            super::Backend::Postgres(store) => store.copy_sink().await.map(Sink::Postgres),
        }
    }

    async fn has_incidents(&self) -> Result<bool> {
        Ok(!self.incidents(&super::IncidentFilter { limit: Some(1), ..Default::default() }).await?.is_empty())
    }
}

impl Sink {
    async fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        match self {
            Sink::Sqlite(sink) => sink.columns(table).await,
            Sink::Postgres(sink) => sink.columns(table).await,
        }
    }

    async fn insert(&mut self, table: &str, columns: &[String], rows: Vec<Vec<Value>>) -> Result<()> {
        match self {
            Sink::Sqlite(sink) => sink.insert(table, columns, rows).await,
            Sink::Postgres(sink) => sink.insert(table, columns, rows).await,
        }
    }

    async fn finish(self) -> Result<()> {
        match self {
            Sink::Sqlite(sink) => sink.finish().await,
            Sink::Postgres(sink) => sink.finish().await,
        }
    }
}
