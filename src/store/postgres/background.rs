//! Background runs and the replay log on Postgres: the request and step checkpoints that let a
//! run be resumed, and the `run_events` rows behind `/resume`.

use super::run_row;
use crate::run::unix_millis;
use crate::store::{ResumableRun, StoreError};
use sqlx::{PgConnection, PgPool, Row};

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

pub(super) async fn checkpoint(
    pool: &PgPool,
    run_id: &str,
    checkpoint: &str,
    events: &[(i64, String)],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE runs SET checkpoint = $1, updated_at = $2 WHERE run_id = $3")
        .bind(checkpoint)
        .bind(unix_millis())
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    append(&mut tx, run_id, events).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn resumable(pool: &PgPool) -> Result<Vec<ResumableRun>, StoreError> {
    let rows = sqlx::query(
        "SELECT * FROM runs WHERE background = 1 AND request IS NOT NULL
            AND status IN ('RUNNING', 'PENDING') ORDER BY created_at, seq",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| ResumableRun {
            run: run_row(row),
            request: row.get("request"),
            checkpoint: row.get("checkpoint"),
        })
        .collect())
}

/// Takes for `owner` the unfinished background runs whose owner's lease expired (SKIP LOCKED:
/// replicas claiming at once split them), to resume.
pub(super) async fn claim_orphans(
    pool: &PgPool,
    owner: &str,
    now: i64,
) -> Result<Vec<ResumableRun>, StoreError> {
    let rows = sqlx::query(
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
    Ok(rows
        .iter()
        .map(|row| ResumableRun {
            run: run_row(row),
            request: row.get("request"),
            checkpoint: row.get("checkpoint"),
        })
        .collect())
}

/// Adds rows to a run's replay log, in one statement; rows already there are kept.
pub(super) async fn append(
    conn: &mut PgConnection,
    run_id: &str,
    events: &[(i64, String)],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let (indexes, payloads): (Vec<i64>, Vec<String>) = events.iter().cloned().unzip();
    sqlx::query(
        "INSERT INTO run_events (run_id, event_index, event)
         SELECT $1, i, e FROM UNNEST($2::bigint[], $3::text[]) AS t (i, e)
         ON CONFLICT (run_id, event_index) DO NOTHING",
    )
    .bind(run_id)
    .bind(&indexes)
    .bind(&payloads)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn events(
    pool: &PgPool,
    run_id: &str,
    after: i64,
) -> Result<Vec<(i64, String)>, StoreError> {
    let rows = sqlx::query_as(
        "SELECT event_index, event FROM run_events
         WHERE run_id = $1 AND event_index > $2 ORDER BY event_index",
    )
    .bind(run_id)
    .bind(after)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}
