//! [`SqliteStore`]: the embedded default. WAL mode, a busy timeout, migrations at open.

use super::{
    BeginRun, HookJobRecord, IdempotencyKey, JobAttempt, JobFilter, NewHookJob, RunRecord,
    SessionRecord, Store, StoreError,
};
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
        next_attempt_at: row.get("next_attempt_at"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn exclusive(&self) -> bool {
        true
    }

    async fn begin_run(
        &self,
        s: &SessionRecord,
        r: &RunRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<BeginRun, StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(k) = key {
            // Forget the expired key (if any), then look the live one up; the write first so
            // the transaction holds the write lock from its first statement.
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND expires_at <= ?",
            )
            .bind(&k.scope)
            .bind(&k.key)
            .bind(r.created_at)
            .execute(&mut *tx)
            .await?;
            let existing = sqlx::query(
                "SELECT runs.* FROM idempotency_keys JOIN runs USING (run_id)
                 WHERE idempotency_keys.scope = ? AND idempotency_keys.key = ?",
            )
            .bind(&k.scope)
            .bind(&k.key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                return Ok(BeginRun::Existing(run_row(&row)));
            }
        }
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
        if let Some(k) = key {
            sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, run_id, created_at, expires_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&k.scope)
            .bind(&k.key)
            .bind(&r.run_id)
            .bind(r.created_at)
            .bind(k.expires_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(BeginRun::Started(stored))
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
                                        max_attempts, next_attempt_at, lease_owner, lease_until,
                                        created_at, updated_at)
                 VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&job.job_id)
            .bind(&job.run_id)
            .bind(&job.hook_name)
            .bind(&job.payload)
            .bind(job.max_attempts as i64)
            .bind(now)
            .bind(&job.lease_owner)
            .bind(job.lease_until)
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

    async fn fail_interrupted_runs(&self, error: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET status = 'ERROR', error = ?, updated_at = ?
             WHERE status IN ('RUNNING', 'PENDING')",
        )
        .bind(error)
        .bind(unix_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn claim_job(
        &self,
        job_id: &str,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<HookJobRecord>, StoreError> {
        let now = unix_millis();
        let row = sqlx::query(
            "UPDATE hook_jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,
                                  lease_until = ?, updated_at = ?
             WHERE job_id = ? AND status IN ('pending', 'failed')
               AND (lease_owner = ? OR lease_until IS NULL OR lease_until < ?)
             RETURNING *",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(job_id)
        .bind(owner)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(job_row))
    }

    async fn claim_due_jobs(
        &self,
        owner: &str,
        lease_until: i64,
        limit: u32,
        ignore_leases: bool,
    ) -> Result<Vec<HookJobRecord>, StoreError> {
        let now = unix_millis();
        let rows = sqlx::query(
            "UPDATE hook_jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,
                                  lease_until = ?, updated_at = ?
             WHERE job_id IN (
                 SELECT job_id FROM hook_jobs
                 WHERE (status IN ('pending', 'failed') AND next_attempt_at <= ?
                        AND (? OR lease_until IS NULL OR lease_until < ?))
                    OR (status = 'running' AND (? OR lease_until < ?))
                 ORDER BY next_attempt_at
                 LIMIT ?)
             RETURNING *",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(now)
        .bind(ignore_leases)
        .bind(now)
        .bind(ignore_leases)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(job_row).collect())
    }

    async fn release_jobs(&self, job_ids: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for id in job_ids {
            sqlx::query(
                "UPDATE hook_jobs SET lease_until = 0 WHERE job_id = ? AND status = 'pending'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
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

    async fn retry_job(&self, job_id: &str) -> Result<Option<(bool, HookJobRecord)>, StoreError> {
        let now = unix_millis();
        let retried = sqlx::query(
            "UPDATE hook_jobs SET status = 'pending', next_attempt_at = ?, lease_owner = NULL,
                                  lease_until = NULL, max_attempts = MAX(max_attempts, attempts + 1),
                                  updated_at = ?
             WHERE job_id = ? AND status IN ('failed', 'dead')
             RETURNING *",
        )
        .bind(now)
        .bind(now)
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = retried {
            return Ok(Some((true, job_row(&row))));
        }
        let row = sqlx::query("SELECT * FROM hook_jobs WHERE job_id = ?")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (false, job_row(&r))))
    }

    async fn hook_jobs(&self, f: &JobFilter) -> Result<(Vec<HookJobRecord>, u64), StoreError> {
        const WHERE: &str = "WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR run_id = ?2)
                               AND (?3 IS NULL OR hook_name = ?3)";
        // One read transaction: the page and the count come from the same snapshot.
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT * FROM hook_jobs {WHERE} ORDER BY created_at, rowid LIMIT ?4 OFFSET ?5"
        ))
        .bind(&f.status)
        .bind(&f.run_id)
        .bind(&f.hook)
        .bind(f.limit as i64)
        .bind(f.offset as i64)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM hook_jobs {WHERE}"))
            .bind(&f.status)
            .bind(&f.run_id)
            .bind(&f.hook)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((rows.iter().map(job_row).collect(), total.max(0) as u64))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
