//! The storage boundary: our own normalized tables (`sessions`, `runs`, `run_events`, `jobs`,
//! ...), with SQLite behind them by default and Postgres for several replicas.
//!
//! # By domain
//!
//! The operations are grouped by domain, one trait each: [`RunStore`] (runs, background runs,
//! cancels), [`EventStore`] (the replay log), [`SessionStore`] (the sessions API),
//! [`JobStore`] (the durable job queue), [`LeaseStore`] (owner leases across replicas) and
//! [`ServiceAccountStore`] (machine identities' hashed tokens).
//! [`Store`] is the one value the runtime holds (`Arc<dyn Store>`): it has every domain as a
//! supertrait, plus what concerns the whole database. Through `dyn Store` every method is
//! reached with `Store` alone in scope (a trait object has its supertraits' methods); a
//! concrete store ([`SqliteStore`], [`PgStore`]) needs the traits imported, all at once with
//! `use agentos::store::prelude::*;`.
//!
//! A new domain (memories, knowledge, traces, approvals, ...) is a trait of its own beside
//! these, added in one place: the supertrait list of [`Store`] and the [`prelude`] right below
//! it. Each backend then implements it (a module per domain in `sqlite/` and `postgres/`) and
//! the contract suite in `tests/store/` covers it; no call site changes.
//!
//! # Rows
//!
//! Row types are declared with `record!` (`record.rs`): `sqlx::FromRow` for both backends'
//! readers and the SQLite writer's rusqlite mapping come from the one struct.

#[macro_use]
mod record;
mod columns;
mod events;
mod jobs;
mod leases;
mod payload;
mod postgres;
mod runs;
mod service_accounts;
mod sessions;
mod sqlite;

pub use crate::db::{DbConfig, SqliteDb};
pub use events::EventStore;
pub use jobs::{HOOK_JOB_KIND, JobAttempt, JobFilter, JobRecord, JobStore, NewJob};
pub use leases::{LeaseStore, Reconciled};
pub(crate) use payload::restored as restored_hook_payload;
pub use payload::{inline_run_output, needs_run_output};
pub use postgres::PgStore;
pub use runs::{BeginRun, IdempotencyKey, ResumableRun, RunRecord, RunStore};
pub use service_accounts::{
    ServiceAccountFilter, ServiceAccountRecord, ServiceAccountSort, ServiceAccountStore,
};
pub use sessions::{
    SessionFilter, SessionKey, SessionRecord, SessionSort, SessionStore, SessionUpdate,
    SessionView, SessionsDeleted,
};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use std::sync::Arc;

/// The store: every domain's operations (the supertraits) behind one value, and what concerns
/// the whole database. Small domains on purpose: SQLite and Postgres both fit each.
///
/// A new domain's trait joins the supertraits here and the [`prelude`] below.
#[async_trait]
pub trait Store:
    RunStore
    + EventStore
    + SessionStore
    + JobStore
    + LeaseStore
    + ServiceAccountStore
    + Send
    + Sync
    + 'static
{
    /// True when one process owns the database (SQLite): at startup, whatever a previous
    /// process left unfinished is that process's and can be taken over at once.
    fn exclusive(&self) -> bool;
    /// The id under which this process holds leases in this database: it owns the runs it
    /// begins ([`RunStore::begin_run`] records it) and leases jobs under it. A new id per
    /// opened store.
    fn owner_id(&self) -> &str;
    /// Closes the connections once every write is done.
    async fn close(&self);
}

/// Every store trait, for code that calls a concrete store's methods (`SqliteStore`,
/// `PgStore`): `use agentos::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        EventStore, JobStore, LeaseStore, RunStore, ServiceAccountStore, SessionStore, Store,
    };
}

impl DbConfig {
    /// Opens the database and applies the migrations.
    pub async fn open(&self) -> Result<Arc<dyn Store>, StoreError> {
        match self {
            DbConfig::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
            DbConfig::Postgres(url) => Ok(Arc::new(PgStore::open(url).await?)),
        }
    }
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database said no.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// SQLite's writer connection said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be applied.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A bad configuration.
    #[error("{0}")]
    Config(String),
    /// The session exists and belongs to another workflow, agent or team.
    #[error("session {0} belongs to another component")]
    SessionConflict(String),
    /// Could not create the database's directory.
    #[error("cannot create database directory: {0}")]
    Io(#[from] std::io::Error),
}
