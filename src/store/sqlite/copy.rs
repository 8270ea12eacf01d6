//! `store copy`, SQLite's side: a table's columns, its rows a page at a time as neutral
//! values (each cell by the type SQLite stored it as), and a target transaction they are
//! inserted into (`store::copy` drives both).

use sqlx::{Row, Sqlite, Transaction, TypeInfo, ValueRef};

use super::{SqliteStore, query_error};
use crate::store::Result;
use crate::store::copy::{Value, quoted};

impl SqliteStore {
    pub(in crate::store) async fn copy_columns(&self, table: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM pragma_table_info(?) ORDER BY cid")
            .bind(table)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("copy: columns"))?;
        rows.iter().map(|row| row.try_get::<String, _>(0).map_err(query_error("copy: columns"))).collect()
    }

    pub(in crate::store) async fn copy_page(
        &self,
        table: &str,
        columns: &[String],
        order: &str,
        offset: i64,
    ) -> Result<Vec<Vec<Value>>> {
        let sql = format!("SELECT {} FROM \"{table}\" ORDER BY {order} LIMIT ? OFFSET ?", quoted(columns));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(crate::store::copy::PAGE_ROWS)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("copy: read"))?;
        rows.iter().map(|row| (0..columns.len()).map(|index| value(row, index)).collect()).collect()
    }

    pub(in crate::store) async fn copy_sink(&self) -> Result<Sink> {
        let transaction = self.writer_pool.begin().await.map_err(query_error("copy: begin"))?;
        Ok(Sink { transaction })
    }
}

/// A cell as SQLite stored it.
fn value(row: &sqlx::sqlite::SqliteRow, index: usize) -> Result<Value> {
    let read = query_error("copy: read");
    let raw = row.try_get_raw(index).map_err(query_error("copy: read"))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" | "BOOLEAN" => Value::Integer(row.try_get_unchecked(index).map_err(read)?),
        "REAL" => Value::Real(row.try_get_unchecked(index).map_err(read)?),
        "BLOB" => Value::Blob(row.try_get_unchecked(index).map_err(read)?),
        _ => Value::Text(row.try_get_unchecked(index).map_err(read)?),
    })
}

/// The target's transaction.
pub(in crate::store) struct Sink {
    transaction: Transaction<'static, Sqlite>,
}

impl Sink {
    pub(in crate::store) async fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM pragma_table_info(?) ORDER BY cid")
            .bind(table)
            .fetch_all(&mut *self.transaction)
            .await
            .map_err(query_error("copy: columns"))?;
        rows.iter().map(|row| row.try_get::<String, _>(0).map_err(query_error("copy: columns"))).collect()
    }

    pub(in crate::store) async fn insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<()> {
        let mut insert = sqlx::QueryBuilder::<Sqlite>::new(format!("INSERT INTO \"{table}\" ({}) ", quoted(columns)));
        insert.push_values(rows, |mut row, values| {
            for value in values {
                match value {
                    Value::Null => row.push_bind(None::<i64>),
                    Value::Integer(integer) => row.push_bind(integer),
                    Value::Real(real) => row.push_bind(real),
                    Value::Text(text) => row.push_bind(text),
                    Value::Blob(blob) => row.push_bind(blob),
                };
            }
        });
        insert.build().execute(&mut *self.transaction).await.map_err(query_error("copy: insert"))?;
        Ok(())
    }

    pub(in crate::store) async fn finish(self) -> Result<()> {
        self.transaction.commit().await.map_err(query_error("copy: commit"))
    }
}
