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
mod leases;
mod runs;
mod service_accounts;
mod sessions;

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
        Ok(PgStore {
            pool,
            owner_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// The underlying pool, for tests and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
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

    async fn close(&self) {
        self.pool.close().await;
    }
}
