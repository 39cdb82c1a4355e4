//! [`DbConfig`]: which database runs are stored in. Configuration only: the store opens it
//! ([`DbConfig::open`] lives in `store/`).

use std::path::PathBuf;

/// A database URL agentos cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DbConfigError(String);

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
    pub fn from_env() -> Result<Option<DbConfig>, DbConfigError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => DbConfig::from_url(&url).map(Some),
            _ => Ok(None),
        }
    }

    /// Parses a database URL.
    pub fn from_url(url: &str) -> Result<DbConfig, DbConfigError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbConfig::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                DbConfigError(format!(
                    "unsupported DATABASE_URL {url:?}: use sqlite://<file> or postgres://..."
                ))
            })?;
        let path = path.split('?').next().unwrap_or(path);
        Ok(DbConfig::Sqlite(PathBuf::from(path)))
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
