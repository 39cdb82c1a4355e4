//! The replay log on SQLite: appended through the writer, read through the pool.

use super::SqliteStore;
use crate::store::{EventStore, StoreError};
use async_trait::async_trait;
use rusqlite::{Connection, params};

#[async_trait]
impl EventStore for SqliteStore {
    async fn append_run_events(
        &self,
        run_id: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let (run_id, events) = (run_id.to_owned(), events.to_vec());
        self.write(move |conn| append(conn, &run_id, &events)).await
    }

    async fn run_events(&self, run_id: &str, after: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT event_index, event FROM run_events
             WHERE run_id = ? AND event_index > ? ORDER BY event_index",
        )
        .bind(run_id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

/// Adds rows to a run's replay log; rows already there are kept.
pub(super) fn append(
    conn: &Connection,
    run_id: &str,
    events: &[(i64, String)],
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO run_events (run_id, event_index, event) VALUES (?, ?, ?)
         ON CONFLICT (run_id, event_index) DO NOTHING",
    )?;
    for (index, event) in events {
        insert.execute(params![run_id, index, event])?;
    }
    Ok(())
}
