//! Usage metrics on Postgres.

use super::PgStore;
use crate::store::{JobGauge, StoreError, UsageRecord, UsageRun, UsageStore};
use async_trait::async_trait;

const INSERT_USAGE: &str = "INSERT INTO usage_metrics (date, user_id, agent_runs_count,
        agent_sessions_count, team_runs_count, team_sessions_count, workflow_runs_count,
        workflow_sessions_count, input_tokens, output_tokens, total_tokens, model_metrics,
        completed, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

#[async_trait]
impl UsageStore for PgStore {
    async fn usage_runs(&self, from: i64, to: i64) -> Result<Vec<UsageRun>, StoreError> {
        let runs = sqlx::query_as(
            "SELECT session_id, component_type, user_id, output, created_at FROM runs
             WHERE created_at >= $1 AND created_at < $2",
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
        let _span = self.write_span("replace_usage");
        let from_date = from_date.to_owned();
        let mut tx = self.pool.begin().await?;
        // The rows replaced keep their first `created_at`.
        let old: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT date, user_id, created_at FROM usage_metrics WHERE date >= $1")
                .bind(&from_date)
                .fetch_all(&mut *tx)
                .await?;
        let old: std::collections::HashMap<(String, String), i64> =
            old.into_iter().map(|(d, u, c)| ((d, u), c)).collect();
        sqlx::query("DELETE FROM usage_metrics WHERE date >= $1")
            .bind(&from_date)
            .execute(&mut *tx)
            .await?;
        for r in &records {
            let created_at = old
                .get(&(r.date.clone(), r.user_id.clone()))
                .copied()
                .unwrap_or(r.created_at);
            sqlx::query(INSERT_USAGE)
                .bind(&r.date)
                .bind(&r.user_id)
                .bind(r.agent_runs_count)
                .bind(r.agent_sessions_count)
                .bind(r.team_runs_count)
                .bind(r.team_sessions_count)
                .bind(r.workflow_runs_count)
                .bind(r.workflow_sessions_count)
                .bind(r.input_tokens)
                .bind(r.output_tokens)
                .bind(r.total_tokens)
                .bind(&r.model_metrics)
                .bind(r.completed)
                .bind(created_at)
                .bind(r.updated_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn usage(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        user_id: Option<&str>,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT * FROM usage_metrics
             WHERE ($1::text IS NULL OR date >= $1) AND ($2::text IS NULL OR date <= $2)
               AND ($3::text IS NULL OR user_id = $3)
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
            "SELECT kind, status, COUNT(*)::bigint AS count, MIN(next_attempt_at) AS oldest_due
             FROM jobs GROUP BY kind, status",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
