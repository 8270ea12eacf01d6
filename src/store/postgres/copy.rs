//! `store copy`, PostgreSQL's side: a table's columns with their types, its rows a page at a
//! time as neutral values (each cell decoded by its column's type), and a target transaction
//! they are inserted into, each value bound as its target column's type; at the end every
//! identity column's sequence is moved past the ids copied (`store::copy` drives both).

use sqlx::postgres::PgRow;
use sqlx::{Column as _, Postgres, Row, Transaction, TypeInfo};

use super::{PgStore, query_error};
use crate::store::copy::{Value, quoted};
use crate::store::{Error, Result};

/// A column and its type as `information_schema.columns.data_type` names it.
type Column = (String, String);

/// The columns of `table` in order, with their types.
async fn columns<'c, E>(executor: E, table: &str) -> Result<Vec<Column>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    let rows = sqlx::query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(executor)
    .await
    .map_err(query_error("copy: columns"))?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

impl PgStore {
    pub(in crate::store) async fn copy_columns(&self, table: &str) -> Result<Vec<String>> {
        Ok(columns(&self.pool, table).await?.into_iter().map(|(name, _)| name).collect())
    }

    pub(in crate::store) async fn copy_page(
        &self,
        table: &str,
        wanted: &[String],
        order: &str,
        offset: i64,
    ) -> Result<Vec<Vec<Value>>> {
        let sql = format!("SELECT {} FROM \"{table}\" ORDER BY {order} LIMIT $1 OFFSET $2", quoted(wanted));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(crate::store::copy::PAGE_ROWS)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("copy: read"))?;
        rows.iter().map(|row| (0..wanted.len()).map(|index| value(row, index)).collect()).collect()
    }

    pub(in crate::store) async fn copy_sink(&self) -> Result<Sink> {
        let transaction = self.pool.begin().await.map_err(query_error("copy: begin"))?;
        Ok(Sink { transaction, identities: Vec::new(), types: Default::default() })
    }
}

/// A cell decoded by its column's type, as the row describes it.
fn value(row: &PgRow, index: usize) -> Result<Value> {
    let read = query_error("copy: read");
    let kind = row.columns()[index].type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INT8" => row.try_get::<Option<i64>, _>(index).map_err(read)?.map(Value::Integer),
        "INT4" => row.try_get::<Option<i32>, _>(index).map_err(read)?.map(|value| Value::Integer(value.into())),
        "INT2" => row.try_get::<Option<i16>, _>(index).map_err(read)?.map(|value| Value::Integer(value.into())),
        "BOOL" => row.try_get::<Option<bool>, _>(index).map_err(read)?.map(|value| Value::Integer(value.into())),
        "FLOAT8" | "FLOAT4" => row.try_get::<Option<f64>, _>(index).map_err(read)?.map(Value::Real),
        "BYTEA" => row.try_get::<Option<Vec<u8>>, _>(index).map_err(read)?.map(Value::Blob),
        _ => row.try_get::<Option<String>, _>(index).map_err(read)?.map(Value::Text),
    }
    .unwrap_or(Value::Null))
}

/// The target's transaction, and the tables whose ids were copied (their sequences move at
/// the end).
pub(in crate::store) struct Sink {
    transaction: Transaction<'static, Postgres>,
    identities: Vec<String>,
    /// Each target table's columns and types, read once.
    types: std::collections::HashMap<String, Vec<Column>>,
}

impl Sink {
    pub(in crate::store) async fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        let types = columns(&mut *self.transaction, table).await?;
        let names = types.iter().map(|(name, _)| name.clone()).collect();
        self.types.insert(table.to_owned(), types);
        Ok(names)
    }

    pub(in crate::store) async fn insert(
        &mut self,
        table: &str,
        wanted: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<()> {
        let types = self.types.get(table).cloned().unwrap_or_default();
        let kinds: Vec<String> = wanted
            .iter()
            .map(|name| {
                types.iter().find(|(column, _)| column == name).map(|(_, kind)| kind.clone()).unwrap_or_default()
            })
            .collect();
        if wanted.iter().any(|column| column == "id") && !self.identities.iter().any(|known| known == table) {
            self.identities.push(table.to_owned());
        }
        let mut mismatch = None;
        let mut insert = sqlx::QueryBuilder::<Postgres>::new(format!("INSERT INTO \"{table}\" ({}) ", quoted(wanted)));
        insert.push_values(rows, |mut row, values| {
            for (value, kind) in values.into_iter().zip(&kinds) {
                let integer = |value: &Value| match value {
                    Value::Integer(integer) => Some(*integer),
                    Value::Real(real) => Some(*real as i64),
                    Value::Text(text) => text.parse().ok(),
                    _ => None,
                };
                match kind.as_str() {
                    "bigint" => row.push_bind(integer(&value)),
                    "integer" => row.push_bind(integer(&value).and_then(|value| i32::try_from(value).ok())),
                    "smallint" => row.push_bind(integer(&value).and_then(|value| i16::try_from(value).ok())),
                    "boolean" => row.push_bind(integer(&value).map(|value| value != 0)),
                    "double precision" | "real" => row.push_bind(match value {
                        Value::Real(real) => Some(real),
                        Value::Integer(integer) => Some(integer as f64),
                        _ => None,
                    }),
                    "bytea" => row.push_bind(match value {
                        Value::Blob(blob) => Some(blob),
                        Value::Text(text) => Some(text.into_bytes()),
                        _ => None,
                    }),
                    _ => row.push_bind(match value {
                        Value::Text(text) => Some(text),
                        Value::Integer(integer) => Some(integer.to_string()),
                        Value::Real(real) => Some(real.to_string()),
                        Value::Blob(blob) => match String::from_utf8(blob) {
                            Ok(text) => Some(text),
                            Err(_) => {
                                mismatch.get_or_insert_with(|| format!("{table}: a binary value for a text column"));
                                None
                            }
                        },
                        Value::Null => None,
                    }),
                };
            }
        });
        if let Some(mismatch) = mismatch {
            return Err(Error::Schema(mismatch));
        }
        insert.build().execute(&mut *self.transaction).await.map_err(query_error("copy: insert"))?;
        Ok(())
    }

    pub(in crate::store) async fn finish(mut self) -> Result<()> {
        for table in &self.identities {
            // Past the ids copied, so the next row of this table gets a new one.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), \
                 GREATEST((SELECT COALESCE(MAX(id), 0) FROM \"{table}\"), 1), \
                 (SELECT COUNT(*) > 0 FROM \"{table}\"))"
            )))
            .execute(&mut *self.transaction)
            .await
            .map_err(query_error("copy: move a sequence"))?;
        }
        self.transaction.commit().await.map_err(query_error("copy: commit"))
    }
}
