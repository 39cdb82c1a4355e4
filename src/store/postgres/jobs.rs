//! The job queue on Postgres: every claim locks the rows it takes with `FOR UPDATE SKIP
//! LOCKED`, so replicas sweeping at once never wait for each other nor take the same job
//! twice, and marks them `running` under the claimant's lease.

use super::PgStore;
use crate::run::unix_millis;
use crate::store::{
    JobAttempt, JobFilter, JobRecord, JobStore, NewJob, StoreError, restored_hook_payload,
};
use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{FromRow, PgConnection, Postgres, Row};
use std::borrow::Cow;

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue_jobs(&self, jobs: Vec<NewJob>) -> Result<(), StoreError> {
        let _span = self.write_span("enqueue_jobs");
        if jobs.is_empty() {
            return Ok(());
        }
        let statement = sqlx::query(
            "INSERT INTO jobs (job_id, kind, name, run_id, payload, status, attempts,
                               max_attempts, next_attempt_at, lease_owner, lease_until,
                               created_at, updated_at, trace_parent)
             SELECT j.job_id, j.kind, j.name, j.run_id, j.payload, j.status, j.attempts,
                    j.max_attempts, $1, j.lease_owner, j.lease_until, $1, $1, j.trace_parent
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::bigint[],
                         $12::text[])
                  WITH ORDINALITY AS j(job_id, kind, name, run_id, payload, status, attempts,
                                       max_attempts, lease_owner, lease_until, trace_parent,
                                       ord)
             ORDER BY j.ord",
        )
        .bind(unix_millis());
        Columns::of(jobs)
            .bind(statement)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn claim_job(
        &self,
        job_id: &str,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        let _span = self.write_span("claim_job");
        let row = sqlx::query(
            "WITH claimable AS (
                 SELECT job_id FROM jobs
                 WHERE job_id = $4 AND status IN ('pending', 'failed')
                   AND (lease_owner = $1 OR lease_until IS NULL OR lease_until < $3)
                 FOR UPDATE SKIP LOCKED)
             UPDATE jobs h SET status = 'running', attempts = h.attempts + 1, lease_owner = $1,
                               lease_until = $2, updated_at = $3
             FROM claimable WHERE h.job_id = claimable.job_id
             RETURNING h.*, (SELECT output FROM runs WHERE runs.run_id = h.run_id) AS run_output",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(unix_millis())
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(claimed).transpose()
    }

    async fn claim_due_jobs(
        &self,
        owner: &str,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let _span = self.write_span("claim_due_jobs");
        let rows = sqlx::query(
            "WITH due AS (
                 SELECT job_id FROM jobs
                 WHERE (status IN ('pending', 'failed') AND next_attempt_at <= $3
                        AND (lease_until IS NULL OR lease_until < $3))
                    OR (status = 'running' AND lease_until < $3)
                 ORDER BY next_attempt_at
                 LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             UPDATE jobs h SET status = 'running', attempts = h.attempts + 1, lease_owner = $1,
                               lease_until = $2, updated_at = $3
             FROM due WHERE h.job_id = due.job_id
             RETURNING h.*, (SELECT output FROM runs WHERE runs.run_id = h.run_id) AS run_output",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(unix_millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(claimed).collect()
    }

    async fn release_all_leases(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = 0,
                    status = CASE status WHEN 'running' THEN 'failed' ELSE status END,
                    outcome = CASE status WHEN 'running' THEN 'error' ELSE outcome END,
                    last_error = CASE status WHEN 'running' THEN 'interrupted: server restarted'
                                 ELSE last_error END
             WHERE status IN ('pending', 'running', 'failed')",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn finish_job_attempt(
        &self,
        job_id: &str,
        attempt: &JobAttempt,
    ) -> Result<(), StoreError> {
        let _span = self.write_span("finish_job_attempt");
        sqlx::query(
            "UPDATE jobs SET status = $1, outcome = $2, last_error = $3, next_attempt_at = $4,
                             lease_until = NULL, updated_at = $5,
                             attempt_errors = CASE WHEN $3::text IS NULL THEN attempt_errors
                                 ELSE (attempt_errors::jsonb || jsonb_build_array(
                                     jsonb_build_object('attempt', attempts, 'outcome', $2::text,
                                                        'error', $3::text, 'at', $5::bigint)))::text
                                 END
             WHERE job_id = $6",
        )
        .bind(attempt.status)
        .bind(attempt.outcome)
        .bind(&attempt.error)
        .bind(attempt.next_attempt_at)
        .bind(unix_millis())
        .bind(job_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn retry_job(&self, job_id: &str) -> Result<Option<(bool, JobRecord)>, StoreError> {
        let _span = self.write_span("retry_job");
        let now = unix_millis();
        let retried = sqlx::query_as(
            "UPDATE jobs SET status = 'pending', next_attempt_at = $1, lease_owner = NULL,
                             lease_until = NULL,
                             max_attempts = GREATEST(max_attempts, attempts + 1), updated_at = $1
             WHERE job_id = $2 AND status IN ('failed', 'dead')
             RETURNING *",
        )
        .bind(now)
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(job) = retried {
            return Ok(Some((true, job)));
        }
        let job = sqlx::query_as("SELECT * FROM jobs WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(job.map(|job| (false, job)))
    }

    async fn list_jobs(&self, f: &JobFilter) -> Result<(Vec<JobRecord>, u64), StoreError> {
        const WHERE: &str = "WHERE ($1::text IS NULL OR status = $1)
                               AND ($2::text IS NULL OR kind = $2)
                               AND ($3::text IS NULL OR run_id = $3)
                               AND ($4::text IS NULL OR name = $4)";
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let jobs = sqlx::query_as(&format!(
            "SELECT * FROM jobs {WHERE} ORDER BY created_at, seq LIMIT $5 OFFSET $6"
        ))
        .bind(&f.status)
        .bind(&f.kind)
        .bind(&f.run_id)
        .bind(&f.name)
        .bind(i64::from(f.limit))
        .bind(i64::from(f.offset))
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

/// New jobs as one array per column, for `unnest` in the statement that inserts them (with
/// their run's final state, or on their own): pending, or running their first attempt when
/// `claimed`.
#[derive(Default)]
pub(super) struct Columns {
    job_id: Vec<String>,
    kind: Vec<Cow<'static, str>>,
    name: Vec<String>,
    run_id: Vec<Option<String>>,
    payload: Vec<String>,
    status: Vec<&'static str>,
    attempts: Vec<i64>,
    max_attempts: Vec<i64>,
    lease_owner: Vec<String>,
    lease_until: Vec<i64>,
    trace_parent: Vec<Option<String>>,
}

impl Columns {
    /// The jobs' columns (their strings moved, not copied).
    pub(super) fn of(jobs: Vec<NewJob>) -> Columns {
        let mut c = Columns::default();
        for job in jobs {
            let (status, attempts) = job.initial_state();
            c.status.push(status);
            c.attempts.push(attempts);
            c.max_attempts.push(i64::from(job.max_attempts));
            c.lease_until.push(job.lease_until);
            c.job_id.push(job.job_id);
            c.kind.push(job.kind);
            c.name.push(job.name);
            c.run_id.push(job.run_id);
            c.payload.push(job.payload);
            c.lease_owner.push(job.lease_owner);
            c.trace_parent.push(job.trace_parent);
        }
        c
    }

    /// Binds the arrays as the next parameters, in the order the `unnest` takes them: id, kind,
    /// name, run, payload, status, attempts, max attempts, lease owner, lease end, trace parent.
    pub(super) fn bind(
        self,
        q: sqlx::query::Query<'_, Postgres, PgArguments>,
    ) -> sqlx::query::Query<'_, Postgres, PgArguments> {
        q.bind(self.job_id)
            .bind(self.kind)
            .bind(self.name)
            .bind(self.run_id)
            .bind(self.payload)
            .bind(self.status)
            .bind(self.attempts)
            .bind(self.max_attempts)
            .bind(self.lease_owner)
            .bind(self.lease_until)
            .bind(self.trace_parent)
    }
}

/// A claimed job, with the agent output its run holds (the `run_output` column) put back into
/// its payload if the payload left it there (see [`crate::store::inline_run_output`]). If that
/// output is gone the payload stays as it is, and the dispatcher records the job dead.
fn claimed(row: &PgRow) -> Result<JobRecord, StoreError> {
    let mut job = JobRecord::from_row(row)?;
    let output: Option<String> = row.try_get("run_output")?;
    if let Some(payload) = restored_hook_payload(&job.job_id, &job.payload, output.as_deref()) {
        job.payload = payload;
    }
    Ok(job)
}

/// Expires the unexpired leases held by owners whose own lease is missing or expired at `now`.
pub(super) async fn release_dead(conn: &mut PgConnection, now: i64) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE jobs SET lease_until = 0
         WHERE job_id IN (
             SELECT job_id FROM jobs
             WHERE status IN ('pending', 'running', 'failed') AND lease_until > $1
               AND NOT EXISTS (SELECT 1 FROM run_owners o
                               WHERE o.owner_id = jobs.lease_owner AND o.lease_until >= $1)
             FOR UPDATE SKIP LOCKED)",
    )
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Puts the agent outputs that a session's runs hold back into the payloads of their jobs that
/// may still run, before the runs are deleted (see [`crate::store::inline_run_output`]).
pub(super) async fn inline_outputs(
    conn: &mut PgConnection,
    session_id: &str,
) -> Result<(), StoreError> {
    let jobs: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT j.job_id, j.payload, r.output FROM runs r JOIN jobs j ON j.run_id = r.run_id
         WHERE r.session_id = $1 AND j.status <> 'done'",
    )
    .bind(session_id)
    .fetch_all(&mut *conn)
    .await?;
    for (job_id, payload, output) in jobs {
        if let Some(payload) = restored_hook_payload(&job_id, &payload, output.as_deref()) {
            sqlx::query("UPDATE jobs SET payload = $1 WHERE job_id = $2")
                .bind(payload)
                .bind(&job_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}
