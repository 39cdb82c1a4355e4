//! [`SqliteStore`]: the embedded default. WAL mode, a busy timeout, migrations at open.

use super::{HookJobRecord, JobAttempt, NewHookJob, RunRecord, SessionRecord, Store, StoreError};
use crate::run::{RunStatus, unix_millis};
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::time::Duration;

/// SQLite storage through sqlx.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The underlying pool, for tests and tools.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn session_row(row: &SqliteRow) -> SessionRecord {
    SessionRecord {
        session_id: row.get("session_id"),
        session_type: row.get("session_type"),
        component_id: row.get("component_id"),
        user_id: row.get("user_id"),
        session_name: row.get("session_name"),
        session_state: row.get("session_state"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

fn run_row(row: &SqliteRow) -> RunRecord {
    RunRecord {
        run_id: row.get("run_id"),
        session_id: row.get("session_id"),
        component_type: row.get("component_type"),
        component_id: row.get("component_id"),
        user_id: row.get("user_id"),
        status: RunStatus::parse(row.get::<&str, _>("status")),
        input: row.get("input"),
        output: row.get("output"),
        error: row.get("error"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

fn job_row(row: &SqliteRow) -> HookJobRecord {
    HookJobRecord {
        job_id: row.get("job_id"),
        run_id: row.get("run_id"),
        hook_name: row.get("hook_name"),
        payload: row.get("payload"),
        status: row.get("status"),
        attempts: row.get::<i64, _>("attempts").max(0) as u32,
        max_attempts: row.get::<i64, _>("max_attempts").max(0) as u32,
        outcome: row.get("outcome"),
        last_error: row.get("last_error"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin_run(
        &self,
        s: &SessionRecord,
        r: &RunRecord,
    ) -> Result<SessionRecord, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (session_id, session_type, component_id, user_id, session_name,
                                   session_state, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at",
        )
        .bind(&s.session_id)
        .bind(&s.session_type)
        .bind(&s.component_id)
        .bind(&s.user_id)
        .bind(&s.session_name)
        .bind(&s.session_state)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT * FROM sessions WHERE session_id = ?")
            .bind(&s.session_id)
            .fetch_one(&mut *tx)
            .await?;
        let stored = session_row(&row);
        if stored.session_type != s.session_type || stored.component_id != s.component_id {
            return Err(StoreError::SessionConflict(s.session_id.clone()));
        }
        sqlx::query(
            "INSERT INTO runs (run_id, session_id, component_type, component_id, user_id, status,
                               input, output, error, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.run_id)
        .bind(&r.session_id)
        .bind(&r.component_type)
        .bind(&r.component_id)
        .bind(&r.user_id)
        .bind(r.status.as_str())
        .bind(&r.input)
        .bind(&r.output)
        .bind(&r.error)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE session_id = ?")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(session_row))
    }

    async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        output: &str,
        error: Option<&str>,
        jobs: &[NewHookJob],
    ) -> Result<(), StoreError> {
        let now = unix_millis();
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE runs SET status = ?, output = ?, error = ?, updated_at = ? WHERE run_id = ?",
        )
        .bind(status.as_str())
        .bind(output)
        .bind(error)
        .bind(now)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Db(sqlx::Error::RowNotFound));
        }
        for job in jobs {
            sqlx::query(
                "INSERT INTO hook_jobs (job_id, run_id, hook_name, payload, status, attempts,
                                        max_attempts, next_attempt_at, created_at, updated_at)
                 VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
            )
            .bind(&job.job_id)
            .bind(&job.run_id)
            .bind(&job.hook_name)
            .bind(&job.payload)
            .bind(job.max_attempts as i64)
            .bind(now)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM runs WHERE run_id = ?")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(run_row))
    }

    async fn session_runs(&self, session_id: &str) -> Result<Vec<RunRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM runs WHERE session_id = ? ORDER BY created_at, rowid")
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(run_row).collect())
    }

    async fn start_job_attempt(
        &self,
        job_id: &str,
        lease_until: i64,
    ) -> Result<Option<u32>, StoreError> {
        let row = sqlx::query(
            "UPDATE hook_jobs SET status = 'running', attempts = attempts + 1, lease_until = ?,
                                  updated_at = ?
             WHERE job_id = ? AND status IN ('pending', 'failed')
             RETURNING attempts",
        )
        .bind(lease_until)
        .bind(unix_millis())
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get::<i64, _>("attempts").max(0) as u32))
    }

    async fn finish_job_attempt(&self, job_id: &str, a: &JobAttempt) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE hook_jobs SET status = ?, outcome = ?, last_error = ?, next_attempt_at = ?,
                                  lease_until = NULL, updated_at = ?
             WHERE job_id = ?",
        )
        .bind(a.status)
        .bind(a.outcome)
        .bind(&a.error)
        .bind(a.next_attempt_at)
        .bind(unix_millis())
        .bind(job_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn hook_jobs(&self, run_id: Option<&str>) -> Result<Vec<HookJobRecord>, StoreError> {
        let rows = match run_id {
            Some(run_id) => {
                sqlx::query("SELECT * FROM hook_jobs WHERE run_id = ? ORDER BY created_at, rowid")
                    .bind(run_id)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM hook_jobs ORDER BY created_at, rowid")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        Ok(rows.iter().map(job_row).collect())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
