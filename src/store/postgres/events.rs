//! The replay log on Postgres: `run_events` rows, appended in one statement.

use super::PgStore;
use crate::store::{EventStore, StoreError};
use async_trait::async_trait;
use sqlx::PgConnection;

#[async_trait]
impl EventStore for PgStore {
    async fn append_run_events(
        &self,
        run_id: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError> {
        let _span = self.write_span("append_run_events");
        if events.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        append(&mut conn, run_id, events).await
    }

    async fn run_events(&self, run_id: &str, after: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT event_index, event FROM run_events
             WHERE run_id = $1 AND event_index > $2 ORDER BY event_index",
        )
        .bind(run_id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
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
