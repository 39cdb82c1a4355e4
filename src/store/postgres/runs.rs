//! Runs on Postgres: a run's two writes are one statement each where they can be (`begin.rs`,
//! and [`RunStore::finish_run`] here with its jobs), reads, and the background runs' and
//! cancels' operations (`background.rs`, `cancel.rs`).

use super::{PgStore, background, begin, cancel, jobs};
use crate::run::{RunStatus, unix_millis};
use crate::store::{
    BeginRun, IdempotencyKey, NewJob, ResumableRun, RunRecord, RunStore, SessionRecord, StoreError,
};
use async_trait::async_trait;
use futures::stream::BoxStream;
use sqlx::Row;

#[async_trait]
impl RunStore for PgStore {
    async fn begin_run(
        &self,
        s: &SessionRecord,
        r: &RunRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<BeginRun, StoreError> {
        let _span = self.write_span("begin_run");
        begin::begin_run(self, s, r, key).await
    }

    async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        output: &str,
        error: Option<&str>,
        jobs: Vec<NewJob>,
    ) -> Result<(), StoreError> {
        let _span = self.write_span("finish_run");
        let now = unix_millis();
        // One statement, so one round trip and its own transaction: the run's final state, and
        // its jobs only if the run was there to update.
        let statement = sqlx::query(
            "WITH finished AS (
                 UPDATE runs SET status = $1, output = $2, error = $3, updated_at = $4
                 WHERE run_id = $5
                 RETURNING run_id),
             new_jobs AS (
                 INSERT INTO jobs (job_id, kind, name, run_id, payload, status, attempts,
                                   max_attempts, next_attempt_at, lease_owner, lease_until,
                                   created_at, updated_at, trace_parent)
                 SELECT j.job_id, j.kind, j.name, j.run_id, j.payload, j.status, j.attempts,
                        j.max_attempts, $4, j.lease_owner, j.lease_until, $4, $4,
                        j.trace_parent
                 FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                             $11::text[], $12::bigint[], $13::bigint[], $14::text[],
                             $15::bigint[], $16::text[])
                      WITH ORDINALITY AS j(job_id, kind, name, run_id, payload, status, attempts,
                                           max_attempts, lease_owner, lease_until,
                                           trace_parent, ord)
                 WHERE EXISTS (SELECT 1 FROM finished)
                 ORDER BY j.ord)
             SELECT count(*) FROM finished",
        )
        .bind(status)
        .bind(output)
        .bind(error)
        .bind(now)
        .bind(run_id);
        let row = jobs::Columns::of(jobs)
            .bind(statement)
            .fetch_one(&self.pool)
            .await?;
        let finished: i64 = row.try_get(0)?;
        if finished != 1 {
            return Err(StoreError::Config(format!(
                "run {run_id} is not in the database"
            )));
        }
        Ok(())
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let run = sqlx::query_as("SELECT * FROM runs WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(run)
    }

    async fn session_runs(&self, session_id: &str) -> Result<Vec<RunRecord>, StoreError> {
        let runs =
            sqlx::query_as("SELECT * FROM runs WHERE session_id = $1 ORDER BY created_at, seq")
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(runs)
    }

    async fn recent_completed_runs(
        &self,
        session_id: &str,
        except: &str,
        n: u32,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let mut runs: Vec<RunRecord> = sqlx::query_as(
            "SELECT * FROM runs WHERE session_id = $1 AND run_id <> $2 AND status = 'COMPLETED'
             ORDER BY created_at DESC, seq DESC LIMIT $3",
        )
        .bind(session_id)
        .bind(except)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        runs.reverse();
        Ok(runs)
    }

    async fn fail_interrupted_runs(&self, error: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET status = 'ERROR', error = $1, updated_at = $2
             WHERE status IN ('RUNNING', 'PENDING')
               AND NOT (background = 1 AND request IS NOT NULL)",
        )
        .bind(error)
        .bind(unix_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn start_background_run(&self, run_id: &str, request: &str) -> Result<(), StoreError> {
        let _span = self.write_span("start_background_run");
        background::start(&self.pool, run_id, request).await
    }

    async fn checkpoint_run(
        &self,
        run_id: &str,
        checkpoint: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError> {
        let _span = self.write_span("checkpoint_run");
        background::checkpoint(&self.pool, run_id, checkpoint, events).await
    }

    async fn resumable_runs(&self) -> Result<Vec<ResumableRun>, StoreError> {
        background::resumable(&self.pool).await
    }

    async fn claim_orphaned_runs(&self, now: i64) -> Result<Vec<ResumableRun>, StoreError> {
        background::claim_orphans(&self.pool, &self.owner_id, now).await
    }

    async fn request_cancel(&self, run_id: &str) -> Result<bool, StoreError> {
        cancel::request(&self.pool, run_id).await
    }

    async fn cancel_requests(&self) -> Result<Option<BoxStream<'static, String>>, StoreError> {
        cancel::listen(&self.pool).await.map(Some)
    }

    async fn requested_cancels(&self) -> Result<Vec<String>, StoreError> {
        cancel::requested(&self.pool, &self.owner_id).await
    }
}
