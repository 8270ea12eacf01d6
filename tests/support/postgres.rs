//! A fresh PostgreSQL database per test, on the server at `POSTMORTEMD_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432`, trust auth): `postmortemd_test_<pid>_<n>`,
//! created through the server's `postgres` database and dropped (its connections with it)
//! when the [`TestDatabase`] goes. An unreachable server fails the test, saying so: the store
//! tests run against both backends, and a skipped one would prove nothing. [`Fresh`] is a
//! store of either backend for one test; `on_both_backends!` runs a check on each.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use postmortemd::store::Store;
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
    /// `ALTER DATABASE <it> <change>` (`SET …`, `RESET …`), from the server's `postgres`
    /// database: sessions that start after it take it.
    pub async fn alter(&self, change: &str) {
        let mut admin = admin().await;
        // NB: the name is ours; the change is the test's own text.
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {} {change}", self.name)))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
    }

    /// Ends every session connected to the database (as a server restart or failover
    /// would), waiting up to 5 s for each to go; returns how many there were.
    pub async fn end_sessions(&self) -> usize {
        let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut connection)
        .await
        .unwrap();
        assert!(ended.iter().all(|ended| *ended), "every session ended: {ended:?}");
        let _ = connection.close().await;
        ended.len()
    }

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

/// A store of one backend for one test, and what to clean up after it.
pub struct Fresh {
    pub url: String,
    pub folder: Option<std::path::PathBuf>,
    _database: Option<TestDatabase>,
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Fresh {
    pub async fn new(backend: Backend, name: &str) -> Fresh {
        match backend {
            Backend::Sqlite => {
                let folder = std::env::temp_dir().join(format!("postmortemd-store-{}-{name}", std::process::id()));
                let _ = std::fs::remove_dir_all(&folder);
                Fresh {
                    url: format!("sqlite://{}/postmortemd.db", folder.display()),
                    folder: Some(folder),
                    _database: None,
                }
            }
            Backend::Postgres => {
                let database = fresh_database().await;
                Fresh { url: database.url.clone(), folder: None, _database: Some(database) }
            }
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.unwrap_or_else(|error| panic!("{}: {}", self.url, error.reason()))
    }

    /// `n` replicas of the store: separate stores (connection pools) on PostgreSQL; on
    /// SQLite, which one daemon holds, clones of one.
    pub async fn replicas(&self, backend: Backend, n: usize) -> Vec<Store> {
        match backend {
            Backend::Sqlite => vec![self.open().await; n],
            Backend::Postgres => futures::future::join_all((0..n).map(|_| self.open())).await,
        }
    }

    /// The rows of `table` (one of the schema's), counted past the store.
    pub async fn count_rows(&self, table: &str) -> i64 {
        // NB: `table` is a name of the schema, written by the test.
        let query = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        if self.folder.is_some() {
            let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
            let n = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            let n = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Some(folder) = &self.folder {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

/// Runs a check on SQLite and on PostgreSQL, as two tests.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($check:ident) => {
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$check(super::Backend::Sqlite, concat!(stringify!($check), "-sqlite")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$check(super::Backend::Postgres, concat!(stringify!($check), "-postgres")).await;
            }
        }
    };
}
