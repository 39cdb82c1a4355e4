//! [`SqliteStore`]: the embedded default. WAL mode, a busy timeout, migrations at open, a pool
//! of readers and a single writer connection, owned by a thread of its own while the store is
//! busy (group commit: `writer.rs`). Each domain's operations are in a module of their own
//! (`runs.rs`, `events.rs`, `sessions.rs`, `jobs.rs`, `leases.rs`): its trait's impl, reads
//! through the pool and writes as functions of the writer's connection.

mod checkpoint;
mod events;
mod jobs;
mod leases;
mod runs;
mod service_accounts;
mod sessions;
mod writer;

use super::{Store, StoreError};
use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::task::TaskTracker;
use writer::Writer;

/// SQLite storage: a pool of sqlx readers and one writer thread on rusqlite (group commit).
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Mutex<Option<Writer>>,
    writer_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    checkpointer: tokio::task::JoinHandle<()>,
    /// The store's own tasks (the idle committer, the checkpointer), waited for at close.
    tasks: TaskTracker,
    /// Shared with the writes that record it (a run's owner), without a copy.
    owner_id: Arc<str>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies `migrations/sqlite/`.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("journal_size_limit", "67108864")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // The writer never checkpoints on its own commit path: a background task does, once a
        // second or more often under load, so pages written many times in between are copied
        // to the database once.
        let conn = writer::open(path)?;
        let tasks = TaskTracker::new();
        let (writer, task) = Writer::start(conn, &tasks);
        let checkpointer = tasks.spawn(checkpoint::checkpoint_every(
            pool.clone(),
            writer.write_lock(),
        ));
        Ok(SqliteStore {
            pool,
            writer: Mutex::new(Some(writer)),
            writer_task: Mutex::new(Some(task)),
            checkpointer,
            tasks,
            owner_id: uuid::Uuid::new_v4().to_string().into(),
        })
    }

    /// The underlying pool of readers, for tests and tools.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The writer, unless the store is closed.
    fn writer(&self) -> Result<Writer, StoreError> {
        // A poisoned lock only means a panic elsewhere while cloning a sender; the Option is intact.
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer
            .clone()
            .ok_or_else(|| StoreError::Config("the database is closed".to_owned()))
    }

    /// Runs `write` on the writer's connection (see [`Writer::write`]) and returns its answer
    /// once committed.
    async fn write<F, R>(&self, write: F) -> Result<R, StoreError>
    where
        F: Fn(&rusqlite::Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.writer()?.write(write).await
    }
}

impl Drop for SqliteStore {
    /// A store dropped without [`Store::close`] stops its checkpointer, which holds a handle on
    /// the readers' pool: the database's files are closed once the last reader and the writer
    /// are gone.
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn exclusive(&self) -> bool {
        true
    }

    fn owner_id(&self) -> &str {
        &self.owner_id
    }

    async fn close(&self) {
        // Dropping the last sender ends the writer once the queue is empty.
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        let task = self
            .writer_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the database writer failed");
        }
        self.checkpointer.abort();
        self.tasks.close();
        self.tasks.wait().await;
        // A last full checkpoint, so the database file alone holds everything.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "final WAL checkpoint failed");
        }
        self.pool.close().await;
    }
}
