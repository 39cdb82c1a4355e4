//! The job queue on SQLite: inserts, claims and attempts through the writer (a claim puts a
//! post-hook's agent output back from its run's row on the writer's connection), the listing
//! through the pool.

use super::SqliteStore;
use crate::run::unix_millis;
use crate::store::record::read;
use crate::store::{
    JobAttempt, JobFilter, JobRecord, JobStore, NewJob, StoreError, needs_run_output,
    restored_hook_payload,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue_jobs(&self, jobs: Vec<NewJob>) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        self.write(move |conn| insert(conn, &jobs, unix_millis()))
            .await
    }

    async fn claim_job(
        &self,
        job_id: &str,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        let (job_id, owner) = (job_id.to_owned(), owner.to_owned());
        self.write(move |conn| claim_one(conn, &job_id, &owner, lease_until))
            .await
    }

    async fn claim_due_jobs(
        &self,
        owner: &str,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let owner = owner.to_owned();
        self.write(move |conn| claim_due(conn, &owner, lease_until, limit))
            .await
    }

    async fn release_all_leases(&self) -> Result<u64, StoreError> {
        self.write(release_all).await
    }

    async fn finish_job_attempt(
        &self,
        job_id: &str,
        attempt: &JobAttempt,
    ) -> Result<(), StoreError> {
        let (job_id, attempt) = (job_id.to_owned(), attempt.clone());
        self.write(move |conn| finish_attempt(conn, &job_id, &attempt))
            .await
    }

    async fn retry_job(&self, job_id: &str) -> Result<Option<(bool, JobRecord)>, StoreError> {
        let job_id = job_id.to_owned();
        self.write(move |conn| retry(conn, &job_id)).await
    }

    async fn list_jobs(&self, f: &JobFilter) -> Result<(Vec<JobRecord>, u64), StoreError> {
        const WHERE: &str = "WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR kind = ?2)
                               AND (?3 IS NULL OR run_id = ?3) AND (?4 IS NULL OR name = ?4)";
        // One read transaction: the page and the count come from the same snapshot.
        let mut tx = self.pool.begin().await?;
        let jobs = sqlx::query_as(&format!(
            "SELECT * FROM jobs {WHERE} ORDER BY created_at, rowid LIMIT ?5 OFFSET ?6"
        ))
        .bind(&f.status)
        .bind(&f.kind)
        .bind(&f.run_id)
        .bind(&f.name)
        .bind(f.limit as i64)
        .bind(f.offset as i64)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM jobs {WHERE}"))
            .bind(&f.status)
            .bind(&f.kind)
            .bind(&f.run_id)
            .bind(&f.name)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((jobs, total.max(0) as u64))
    }
}

/// Inserts new jobs, due at `now`: pending, or running their first attempt when `claimed`.
pub(super) fn insert(conn: &Connection, jobs: &[NewJob], now: i64) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO jobs (job_id, kind, name, run_id, payload, status, attempts, max_attempts,
                           next_attempt_at, lease_owner, lease_until, created_at, updated_at,
                           trace_parent)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    for job in jobs {
        let (status, attempts) = job.initial_state();
        insert.execute(params![
            job.job_id,
            job.kind,
            job.name,
            job.run_id,
            job.payload,
            status,
            attempts,
            job.max_attempts,
            now,
            job.lease_owner,
            job.lease_until,
            now,
            now,
            job.trace_parent
        ])?;
    }
    Ok(())
}

fn claim_one(
    conn: &Connection,
    job_id: &str,
    owner: &str,
    lease_until: i64,
) -> Result<Option<JobRecord>, StoreError> {
    let now = unix_millis();
    let job = conn
        .prepare_cached(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,
                             lease_until = ?, updated_at = ?
             WHERE job_id = ? AND status IN ('pending', 'failed')
               AND (lease_owner = ? OR lease_until IS NULL OR lease_until < ?)
             RETURNING *",
        )?
        .query_row(params![owner, lease_until, now, job_id, owner, now], read)
        .optional()?;
    job.map(|job| with_run_output(conn, job)).transpose()
}

fn claim_due(
    conn: &Connection,
    owner: &str,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<JobRecord>, StoreError> {
    let now = unix_millis();
    let mut statement = conn.prepare_cached(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,
                         lease_until = ?, updated_at = ?
         WHERE job_id IN (
             SELECT job_id FROM jobs
             WHERE (status IN ('pending', 'failed') AND next_attempt_at <= ?
                    AND (lease_until IS NULL OR lease_until < ?))
                OR (status = 'running' AND lease_until < ?)
             ORDER BY next_attempt_at
             LIMIT ?)
         RETURNING *",
    )?;
    let jobs = statement
        .query_map(params![owner, lease_until, now, now, now, now, limit], read)?
        .collect::<Result<Vec<JobRecord>, _>>()?;
    jobs.into_iter()
        .map(|job| with_run_output(conn, job))
        .collect()
}

fn release_all(conn: &Connection) -> Result<u64, StoreError> {
    // A job caught mid-attempt by the crash counts as a failed attempt.
    let released = conn
        .prepare_cached(
            "UPDATE jobs SET lease_until = 0,
                    status = CASE status WHEN 'running' THEN 'failed' ELSE status END,
                    outcome = CASE status WHEN 'running' THEN 'error' ELSE outcome END,
                    last_error = CASE status WHEN 'running' THEN 'interrupted: server restarted'
                                 ELSE last_error END
             WHERE status IN ('pending', 'running', 'failed')",
        )?
        .execute([])?;
    Ok(released as u64)
}

fn finish_attempt(conn: &Connection, job_id: &str, attempt: &JobAttempt) -> Result<(), StoreError> {
    let now = unix_millis();
    conn.prepare_cached(
        "UPDATE jobs SET status = ?, outcome = ?, last_error = ?, next_attempt_at = ?,
                         lease_until = NULL, updated_at = ?,
                         attempt_errors = CASE WHEN ? IS NULL THEN attempt_errors
                             ELSE json_insert(attempt_errors, '$[#]', json_object(
                                 'attempt', attempts, 'outcome', ?, 'error', ?, 'at', ?))
                             END
         WHERE job_id = ?",
    )?
    .execute(params![
        attempt.status,
        attempt.outcome,
        attempt.error,
        attempt.next_attempt_at,
        now,
        attempt.error,
        attempt.outcome,
        attempt.error,
        now,
        job_id
    ])?;
    Ok(())
}

fn retry(conn: &Connection, job_id: &str) -> Result<Option<(bool, JobRecord)>, StoreError> {
    let now = unix_millis();
    let retried = conn
        .prepare_cached(
            "UPDATE jobs SET status = 'pending', next_attempt_at = ?, lease_owner = NULL,
                             lease_until = NULL, max_attempts = MAX(max_attempts, attempts + 1),
                             updated_at = ?
             WHERE job_id = ? AND status IN ('failed', 'dead')
             RETURNING *",
        )?
        .query_row(params![now, now, job_id], read)
        .optional()?;
    if let Some(job) = retried {
        return Ok(Some((true, job)));
    }
    let job = conn
        .prepare_cached("SELECT * FROM jobs WHERE job_id = ?")?
        .query_row(params![job_id], read)
        .optional()?;
    Ok(job.map(|j| (false, j)))
}

/// A claimed job with the agent output its run holds put back into its payload, if the payload
/// left it there (see [`crate::store::inline_run_output`]). If that output is gone the payload
/// stays as it is, and the dispatcher records the job dead.
fn with_run_output(conn: &Connection, mut job: JobRecord) -> Result<JobRecord, StoreError> {
    if !needs_run_output(&job.payload) {
        return Ok(job);
    }
    let output: Option<String> = conn
        .prepare_cached("SELECT output FROM runs WHERE run_id = ?")?
        .query_row(params![job.run_id], |row| row.get(0))
        .optional()?
        .flatten();
    if let Some(payload) = restored_hook_payload(&job.job_id, &job.payload, output.as_deref()) {
        job.payload = payload;
    }
    Ok(job)
}

/// Puts the agent outputs that a session's runs hold back into the payloads of their jobs that
/// may still run, before the runs are deleted (see [`crate::store::inline_run_output`]).
pub(super) fn inline_outputs(conn: &Connection, session_id: &str) -> Result<(), StoreError> {
    let jobs = conn
        .prepare_cached(
            "SELECT j.job_id, j.payload, r.output FROM runs r JOIN jobs j ON j.run_id = r.run_id
             WHERE r.session_id = ? AND j.status <> 'done'",
        )?
        .query_map(params![session_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (job_id, payload, output) in jobs {
        if let Some(payload) = restored_hook_payload(&job_id, &payload, output.as_deref()) {
            conn.prepare_cached("UPDATE jobs SET payload = ? WHERE job_id = ?")?
                .execute(params![payload, job_id])?;
        }
    }
    Ok(())
}
