//! Hook jobs on Postgres: every claim locks the rows it takes with `FOR UPDATE SKIP LOCKED`,
//! so replicas sweeping at once never wait for each other nor take the same job twice, and
//! marks them `running` under the claimant's lease.

use crate::run::unix_millis;
use crate::store::{
    HookJobRecord, JobAttempt, JobFilter, NewHookJob, StoreError, restored_hook_payload,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

pub(super) fn job_row(row: &PgRow) -> HookJobRecord {
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
        attempt_errors: row.get("attempt_errors"),
        next_attempt_at: row.get("next_attempt_at"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

/// New jobs as one array per column, for `unnest` in the statement that finishes their run:
/// leased to their writer, pending, or running their first attempt when `claimed`.
#[derive(Default)]
pub(super) struct Columns {
    pub job_id: Vec<String>,
    pub run_id: Vec<String>,
    pub hook_name: Vec<String>,
    pub payload: Vec<String>,
    pub status: Vec<&'static str>,
    pub attempts: Vec<i64>,
    pub max_attempts: Vec<i64>,
    pub lease_owner: Vec<String>,
    pub lease_until: Vec<i64>,
}

impl Columns {
    pub(super) fn of(jobs: Vec<NewHookJob>) -> Columns {
        let mut c = Columns::default();
        for job in jobs {
            let (status, attempts) = job.initial_state();
            c.status.push(status);
            c.attempts.push(attempts);
            c.max_attempts.push(i64::from(job.max_attempts));
            c.lease_until.push(job.lease_until);
            c.job_id.push(job.job_id);
            c.run_id.push(job.run_id);
            c.hook_name.push(job.hook_name);
            c.payload.push(job.payload);
            c.lease_owner.push(job.lease_owner);
        }
        c
    }
}

/// Claims one job for `owner`: it must be pending or failed, and leased to `owner` or not
/// leased (any more).
pub(super) async fn claim_one(
    pool: &PgPool,
    job_id: &str,
    owner: &str,
    lease_until: i64,
) -> Result<Option<HookJobRecord>, StoreError> {
    let row = sqlx::query(
        "WITH claimable AS (
             SELECT job_id FROM hook_jobs
             WHERE job_id = $4 AND status IN ('pending', 'failed')
               AND (lease_owner = $1 OR lease_until IS NULL OR lease_until < $3)
             FOR UPDATE SKIP LOCKED)
         UPDATE hook_jobs h SET status = 'running', attempts = h.attempts + 1, lease_owner = $1,
                                lease_until = $2, updated_at = $3
         FROM claimable WHERE h.job_id = claimable.job_id
         RETURNING h.*, (SELECT output FROM runs WHERE runs.run_id = h.run_id) AS run_output",
    )
    .bind(owner)
    .bind(lease_until)
    .bind(unix_millis())
    .bind(job_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(claimed_row))
}

/// Claims up to `limit` due jobs: pending or failed ones whose time has come and whose lease
/// (if any) expired, and running ones whose lease expired.
pub(super) async fn claim_due(
    pool: &PgPool,
    owner: &str,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<HookJobRecord>, StoreError> {
    let rows = sqlx::query(
        "WITH due AS (
             SELECT job_id FROM hook_jobs
             WHERE (status IN ('pending', 'failed') AND next_attempt_at <= $3
                    AND (lease_until IS NULL OR lease_until < $3))
                OR (status = 'running' AND lease_until < $3)
             ORDER BY next_attempt_at
             LIMIT $4
             FOR UPDATE SKIP LOCKED)
         UPDATE hook_jobs h SET status = 'running', attempts = h.attempts + 1, lease_owner = $1,
                                lease_until = $2, updated_at = $3
         FROM due WHERE h.job_id = due.job_id
         RETURNING h.*, (SELECT output FROM runs WHERE runs.run_id = h.run_id) AS run_output",
    )
    .bind(owner)
    .bind(lease_until)
    .bind(unix_millis())
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(claimed_row).collect())
}

/// A claimed job, with the agent output its run holds (the `run_output` column) put back into
/// its payload if the payload left it there (see [`crate::store::inline_run_output`]). If that
/// output is gone the payload stays as it is, and the dispatcher records the job dead.
fn claimed_row(row: &PgRow) -> HookJobRecord {
    let mut job = job_row(row);
    let output: Option<String> = row.get("run_output");
    if let Some(payload) = restored_hook_payload(&job.job_id, &job.payload, output.as_deref()) {
        job.payload = payload;
    }
    job
}

/// Releases every lease; attempts caught mid-run become failed ones.
pub(super) async fn release_all(pool: &PgPool) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE hook_jobs SET lease_until = 0,
                status = CASE status WHEN 'running' THEN 'failed' ELSE status END,
                outcome = CASE status WHEN 'running' THEN 'error' ELSE outcome END,
                last_error = CASE status WHEN 'running' THEN 'interrupted: server restarted'
                             ELSE last_error END
         WHERE status IN ('pending', 'running', 'failed')",
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Expires the unexpired leases held by owners whose own lease is missing or expired at `now`.
pub(super) async fn release_dead(conn: &mut PgConnection, now: i64) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE hook_jobs SET lease_until = 0
         WHERE job_id IN (
             SELECT job_id FROM hook_jobs
             WHERE status IN ('pending', 'running', 'failed') AND lease_until > $1
               AND NOT EXISTS (SELECT 1 FROM run_owners o
                               WHERE o.owner_id = hook_jobs.lease_owner AND o.lease_until >= $1)
             FOR UPDATE SKIP LOCKED)",
    )
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Records how an attempt ended (appending a failure to `attempt_errors`) and drops the lease.
pub(super) async fn finish_attempt(
    pool: &PgPool,
    job_id: &str,
    attempt: &JobAttempt,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE hook_jobs SET status = $1, outcome = $2, last_error = $3, next_attempt_at = $4,
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
    .execute(pool)
    .await?;
    Ok(())
}

/// Puts a failed or dead job back to pending; else returns it unchanged.
pub(super) async fn retry(
    pool: &PgPool,
    job_id: &str,
) -> Result<Option<(bool, HookJobRecord)>, StoreError> {
    let now = unix_millis();
    let retried = sqlx::query(
        "UPDATE hook_jobs SET status = 'pending', next_attempt_at = $1, lease_owner = NULL,
                              lease_until = NULL,
                              max_attempts = GREATEST(max_attempts, attempts + 1), updated_at = $1
         WHERE job_id = $2 AND status IN ('failed', 'dead')
         RETURNING *",
    )
    .bind(now)
    .bind(job_id)
    .fetch_optional(pool)
    .await?;
    if let Some(row) = retried {
        return Ok(Some((true, job_row(&row))));
    }
    let row = sqlx::query("SELECT * FROM hook_jobs WHERE job_id = $1")
        .bind(job_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| (false, job_row(&r))))
}

/// A page of jobs matching `f`, oldest first, and how many match in all (one snapshot).
pub(super) async fn list(
    pool: &PgPool,
    f: &JobFilter,
) -> Result<(Vec<HookJobRecord>, u64), StoreError> {
    const WHERE: &str = "WHERE ($1::text IS NULL OR status = $1)
                           AND ($2::text IS NULL OR run_id = $2)
                           AND ($3::text IS NULL OR hook_name = $3)";
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT * FROM hook_jobs {WHERE} ORDER BY created_at, seq LIMIT $4 OFFSET $5"
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
