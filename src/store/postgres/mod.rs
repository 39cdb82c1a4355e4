//! [`PgStore`]: Postgres for several replicas sharing one database. A plain pool with one
//! transaction per operation; work that any replica may take (jobs) is claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease, and runs carry their owner's id so that the runs of a
//! replica whose owner lease expired are reconciled by another. Each domain's operations are
//! in a module of their own (`runs.rs` with `begin.rs`, `background.rs` and `cancel.rs`;
//! `events.rs`, `sessions.rs`, `jobs.rs`, `leases.rs`).

mod background;
mod begin;
mod cancel;
mod events;
mod jobs;
mod knowledge;
mod leases;
mod memories;
mod runs;
mod service_accounts;
mod sessions;
mod traces;
mod usage;

use super::{Store, StoreError};
use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Postgres storage through sqlx: a pool of connections, one transaction per operation.
#[derive(Debug)]
pub struct PgStore {
    pool: PgPool,
    owner_id: String,
    /// The schema of the pgvector extension, when the database has it (knowledge search).
    pgvector: Option<String>,
    /// Told every run-path write's latency, once someone observes the store.
    observer: std::sync::OnceLock<std::sync::Arc<dyn super::WriteObserver>>,
}

/// Connections per replica: enough for a run's writes and the job sweep to never wait on each
/// other under load, few enough that a handful of replicas stay under Postgres's default
/// `max_connections` (100).
const POOL_SIZE: u32 = 16;

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`, with sqlx's URL
    /// parameters, e.g. `?options=-csearch_path%3Dmyschema`) and applies `migrations/postgres/`.
    /// Replicas starting at once are safe: sqlx serializes migrations with an advisory lock.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let pgvector = knowledge::detect_pgvector(&pool).await;
        Ok(PgStore {
            pool,
            owner_id: uuid::Uuid::new_v4().to_string(),
            pgvector,
            observer: std::sync::OnceLock::new(),
        })
    }

    /// The underlying pool, for tests and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// True when knowledge search ranks vectors with the pgvector extension (installed, or
    /// created at open), false when it computes cosine similarity in plain SQL.
    pub fn has_pgvector(&self) -> bool {
        self.pgvector.is_some()
    }

    /// A write of `operation` in progress: its span and, if observed, its latency.
    fn write_span(&self, operation: &'static str) -> super::write_span::WriteSpan<'_> {
        super::write_span::WriteSpan::start("postgresql", operation, self.observer.get())
    }
}

#[async_trait]
impl Store for PgStore {
    fn exclusive(&self) -> bool {
        false
    }

    fn owner_id(&self) -> &str {
        &self.owner_id
    }

    fn observe_writes(&self, observer: std::sync::Arc<dyn super::WriteObserver>) {
        let _ = self.observer.set(observer);
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
