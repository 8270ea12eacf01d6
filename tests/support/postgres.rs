//! A fresh PostgreSQL database per test, on the server at `POSTMORTEMD_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432`, trust auth): `postmortemd_test_<pid>_<n>`,
//! created through the server's `postgres` database and dropped (its connections with it)
//! when the [`TestDatabase`] goes. An unreachable server fails the test, saying so: the store
//! tests run against both backends, and a skipped one would prove nothing.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;

/// The server the tests use, without a database name.
pub fn server() -> String {
    std::env::var("POSTMORTEMD_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database of this test run, dropped with this value.
pub struct TestDatabase {
    pub url: String,
    pub name: String,
}

async fn admin() -> sqlx::PgConnection {
    let url = format!("{}/postgres", server());
    sqlx::PgConnection::connect(&url).await.unwrap_or_else(|error| {
        panic!("PostgreSQL at {url} is unreachable ({error}): the store tests need it (user postgres, trust auth)")
    })
}

/// Creates a new, empty database and returns its URL.
pub async fn fresh_database() -> TestDatabase {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("postmortemd_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = admin().await;
    sqlx::query(drop_database(&name)).execute(&mut admin).await.unwrap();
    // NB: the name is ours, of letters, digits and underscores: safe in SQL as it is.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    let _ = admin.close().await;
    TestDatabase { url: format!("{}/{name}", server()), name }
}

/// Drops database `name` (one of [`fresh_database`]'s), closing its connections.
fn drop_database(name: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
}

impl TestDatabase {
    /// Drops the database now, closing whatever is still connected to it.
    pub async fn drop_now(&self) {
        let mut admin = admin().await;
        sqlx::query(drop_database(&self.name)).execute(&mut admin).await.unwrap();
        let _ = admin.close().await;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // On a thread of its own with its own runtime: a test's runtime may be the one
        // dropping this value, and may have a single thread.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server())).await.ok()?;
                sqlx::query(drop_database(&name)).execute(&mut admin).await.ok()
            })
        });
        let _ = dropped.join();
    }
}
