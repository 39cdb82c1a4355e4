//! The storage boundary: our own normalized tables (`sessions`, `runs`, `run_events`, `jobs`,
//! ...), with SQLite behind them by default and Postgres for several replicas.
//!
//! # By domain
//!
//! The operations are grouped by domain, one trait each: [`RunStore`] (runs, background runs,
//! cancels), [`EventStore`] (the replay log), [`SessionStore`] (the sessions API),
//! [`JobStore`] (the durable job queue) and [`LeaseStore`] (owner leases across replicas).
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
mod sessions;
mod sqlite;

pub use events::EventStore;
pub use jobs::{HOOK_JOB_KIND, JobAttempt, JobFilter, JobRecord, JobStore, NewJob};
pub use leases::{LeaseStore, Reconciled};
pub(crate) use payload::restored as restored_hook_payload;
pub use payload::{inline_run_output, needs_run_output};
pub use postgres::PgStore;
pub use runs::{BeginRun, IdempotencyKey, ResumableRun, RunRecord, RunStore};
pub use sessions::{
    SessionFilter, SessionKey, SessionRecord, SessionSort, SessionStore, SessionUpdate,
    SessionView, SessionsDeleted,
};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;

/// The store: every domain's operations (the supertraits) behind one value, and what concerns
/// the whole database. Small domains on purpose: SQLite and Postgres both fit each.
///
/// A new domain's trait joins the supertraits here and the [`prelude`] below.
#[async_trait]
pub trait Store:
    RunStore + EventStore + SessionStore + JobStore + LeaseStore + Send + Sync + 'static
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
    pub use super::{EventStore, JobStore, LeaseStore, RunStore, SessionStore, Store};
}

/// Which database to use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DbConfig {
    /// A SQLite file (created, with its parent directory, if missing).
    Sqlite(PathBuf),
    /// A Postgres database URL (`postgres://user:password@host:port/db`), shared by replicas.
    Postgres(String),
}

impl DbConfig {
    /// Reads `DATABASE_URL` (`sqlite://path`, `sqlite:path`, `postgres://...` or
    /// `postgresql://...`), if set.
    pub fn from_env() -> Result<Option<DbConfig>, StoreError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => DbConfig::from_url(&url).map(Some),
            _ => Ok(None),
        }
    }

    /// Parses a database URL.
    pub fn from_url(url: &str) -> Result<DbConfig, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbConfig::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                StoreError::Config(format!(
                    "unsupported DATABASE_URL {url:?}: use sqlite://<file> or postgres://..."
                ))
            })?;
        let path = path.split('?').next().unwrap_or(path);
        Ok(DbConfig::Sqlite(PathBuf::from(path)))
    }

    /// Opens the database and applies the migrations.
    pub async fn open(&self) -> Result<Arc<dyn Store>, StoreError> {
        match self {
            DbConfig::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
            DbConfig::Postgres(url) => Ok(Arc::new(PgStore::open(url).await?)),
        }
    }
}

/// agno's `SqliteDb(db_file=...)`: a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteDb(PathBuf);

impl SqliteDb {
    /// The SQLite file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> SqliteDb {
        SqliteDb(path.into())
    }
}

impl From<SqliteDb> for DbConfig {
    fn from(db: SqliteDb) -> DbConfig {
        DbConfig::Sqlite(db.0)
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
