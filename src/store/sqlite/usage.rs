//! Usage metrics on SQLite: the refresh's reads through the pool, its rows through the writer.

use super::SqliteStore;
use crate::store::{JobGauge, StoreError, UsageRecord, UsageRun, UsageStore};
use async_trait::async_trait;
use rusqlite::params;

const INSERT_USAGE: &str = "INSERT INTO usage_metrics (date, user_id, agent_runs_count,
        agent_sessions_count, team_runs_count, team_sessions_count, workflow_runs_count,
        workflow_sessions_count, input_tokens, output_tokens, total_tokens, model_metrics,
        completed, created_at, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

#[async_trait]
impl UsageStore for SqliteStore {
    async fn usage_runs(&self, from: i64, to: i64) -> Result<Vec<UsageRun>, StoreError> {
        let runs = sqlx::query_as(
            "SELECT session_id, component_type, user_id, output, created_at FROM runs
             WHERE created_at >= ? AND created_at < ?",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(runs)
    }

    async fn first_run_at(&self) -> Result<Option<i64>, StoreError> {
        let first: Option<i64> = sqlx::query_scalar("SELECT MIN(created_at) FROM runs")
            .fetch_one(&self.pool)
            .await?;
        Ok(first)
    }

    async fn last_completed_usage_day(&self) -> Result<Option<String>, StoreError> {
        let day: Option<String> =
            sqlx::query_scalar("SELECT MAX(date) FROM usage_metrics WHERE completed = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(day)
    }

    async fn replace_usage(
        &self,
        from_date: &str,
        records: Vec<UsageRecord>,
    ) -> Result<(), StoreError> {
        let from_date = from_date.to_owned();
        self.write(move |conn| {
            // The rows replaced keep their first `created_at`.
            let mut old = std::collections::HashMap::new();
            let mut read = conn.prepare_cached(
                "SELECT date, user_id, created_at FROM usage_metrics WHERE date >= ?1",
            )?;
            let rows = read.query_map(params![from_date], |row| {
                Ok((
                    (row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                    row.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (key, created_at) = row?;
                old.insert(key, created_at);
            }
            conn.execute(
                "DELETE FROM usage_metrics WHERE date >= ?1",
                params![from_date],
            )?;
            let mut insert = conn.prepare_cached(INSERT_USAGE)?;
            for r in &records {
                let created_at = old
                    .get(&(r.date.clone(), r.user_id.clone()))
                    .copied()
                    .unwrap_or(r.created_at);
                insert.execute(params![
                    r.date,
                    r.user_id,
                    r.agent_runs_count,
                    r.agent_sessions_count,
                    r.team_runs_count,
                    r.team_sessions_count,
                    r.workflow_runs_count,
                    r.workflow_sessions_count,
                    r.input_tokens,
                    r.output_tokens,
                    r.total_tokens,
                    r.model_metrics,
                    r.completed,
                    created_at,
                    r.updated_at,
                ])?;
            }
            Ok(())
        })
        .await
    }

    async fn usage(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        user_id: Option<&str>,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT * FROM usage_metrics
             WHERE (?1 IS NULL OR date >= ?1) AND (?2 IS NULL OR date <= ?2)
               AND (?3 IS NULL OR user_id = ?3)
             ORDER BY date, user_id",
        )
        .bind(from)
        .bind(to)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn job_gauges(&self) -> Result<Vec<JobGauge>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT kind, status, COUNT(*) AS count, MIN(next_attempt_at) AS oldest_due
             FROM jobs GROUP BY kind, status",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
