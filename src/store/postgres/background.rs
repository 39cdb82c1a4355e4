//! Background runs on Postgres: the request and step checkpoints that let a run be resumed,
//! here or, once its owner's lease lapsed, on another replica.

use super::events;
use crate::run::unix_millis;
use crate::store::{ResumableRun, StoreError};
use sqlx::PgPool;

/// PENDING becomes RUNNING, with the request kept.
pub(super) async fn start(pool: &PgPool, run_id: &str, request: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE runs SET status = 'RUNNING', background = 1, request = $1, updated_at = $2
         WHERE run_id = $3 AND status IN ('PENDING', 'RUNNING')",
    )
    .bind(request)
    .bind(unix_millis())
    .bind(run_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The output so far and the events so far, in one transaction.
pub(super) async fn checkpoint(
    pool: &PgPool,
    run_id: &str,
    checkpoint: &str,
    new_events: &[(i64, String)],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE runs SET checkpoint = $1, updated_at = $2 WHERE run_id = $3")
        .bind(checkpoint)
        .bind(unix_millis())
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    events::append(&mut tx, run_id, new_events).await?;
    tx.commit().await?;
    Ok(())
}

/// Unfinished background runs with their request.
pub(super) async fn resumable(pool: &PgPool) -> Result<Vec<ResumableRun>, StoreError> {
    let runs = sqlx::query_as(
        "SELECT * FROM runs WHERE background = 1 AND request IS NOT NULL
            AND status IN ('RUNNING', 'PENDING') ORDER BY created_at, seq",
    )
    .fetch_all(pool)
    .await?;
    Ok(runs)
}

/// Takes for `owner` the unfinished background runs whose owner's lease expired (SKIP LOCKED:
/// replicas claiming at once split them), to resume.
pub(super) async fn claim_orphans(
    pool: &PgPool,
    owner: &str,
    now: i64,
) -> Result<Vec<ResumableRun>, StoreError> {
    let runs = sqlx::query_as(
        "UPDATE runs SET owner_id = $1, updated_at = $2
         WHERE run_id IN (
             SELECT run_id FROM runs
             WHERE status IN ('RUNNING', 'PENDING') AND background = 1 AND request IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM run_owners o
                               WHERE o.owner_id = runs.owner_id AND o.lease_until >= $2)
             FOR UPDATE SKIP LOCKED)
         RETURNING *",
    )
    .bind(owner)
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(runs)
}
