//! Traces on Postgres: a batch's spans and trace aggregates in one transaction.

use super::PgStore;
use crate::store::traces::Bind;
use crate::store::{
    Page, SpanRecord, StoreError, TraceBatch, TraceFilter, TraceRecord, TraceSessionStats,
    TraceStore,
};
use async_trait::async_trait;
use sqlx::PgConnection;

/// A trace's row, merged with what is stored: counts add up, times widen, context fills in.
const UPSERT_TRACE: &str = "INSERT INTO traces (trace_id, name, status, start_time, end_time,
        duration_ms, total_spans, error_count, run_id, session_id, user_id, agent_id, team_id,
        workflow_id, input, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
    ON CONFLICT (trace_id) DO UPDATE SET
        name = CASE WHEN traces.run_id IS NULL AND excluded.run_id IS NOT NULL
                    THEN excluded.name ELSE traces.name END,
        status = CASE WHEN traces.status = 'ERROR' OR excluded.status = 'ERROR'
                      THEN 'ERROR' ELSE 'OK' END,
        start_time = LEAST(traces.start_time, excluded.start_time),
        end_time = GREATEST(traces.end_time, excluded.end_time),
        duration_ms = (GREATEST(traces.end_time, excluded.end_time)
                       - LEAST(traces.start_time, excluded.start_time)) / 1000,
        total_spans = traces.total_spans + excluded.total_spans,
        error_count = traces.error_count + excluded.error_count,
        run_id = COALESCE(traces.run_id, excluded.run_id),
        session_id = COALESCE(traces.session_id, excluded.session_id),
        user_id = COALESCE(traces.user_id, excluded.user_id),
        agent_id = COALESCE(traces.agent_id, excluded.agent_id),
        team_id = COALESCE(traces.team_id, excluded.team_id),
        workflow_id = COALESCE(traces.workflow_id, excluded.workflow_id),
        input = COALESCE(traces.input, excluded.input)";

const INSERT_SPAN: &str = "INSERT INTO spans (span_id, trace_id, parent_span_id, name, span_kind,
        status_code, status_message, start_time, end_time, duration_ms, attributes, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
    ON CONFLICT (span_id) DO NOTHING";

async fn write_batches(conn: &mut PgConnection, batches: &[TraceBatch]) -> Result<(), StoreError> {
    for batch in batches {
        let (mut added, mut errors) = (0i64, 0i64);
        for s in &batch.spans {
            let n = sqlx::query(INSERT_SPAN)
                .bind(&s.span_id)
                .bind(&s.trace_id)
                .bind(&s.parent_span_id)
                .bind(&s.name)
                .bind(&s.span_kind)
                .bind(&s.status_code)
                .bind(&s.status_message)
                .bind(s.start_time)
                .bind(s.end_time)
                .bind(s.duration_ms)
                .bind(&s.attributes)
                .bind(s.created_at)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if n > 0 {
                added += 1;
                errors += i64::from(s.status_code == "ERROR");
            }
        }
        if added == 0 {
            continue;
        }
        let t = &batch.trace;
        sqlx::query(UPSERT_TRACE)
            .bind(&t.trace_id)
            .bind(&t.name)
            .bind(if errors > 0 { "ERROR" } else { "OK" })
            .bind(t.start_time)
            .bind(t.end_time)
            .bind(t.duration_ms)
            .bind(added)
            .bind(errors)
            .bind(&t.run_id)
            .bind(&t.session_id)
            .bind(&t.user_id)
            .bind(&t.agent_id)
            .bind(&t.team_id)
            .bind(&t.workflow_id)
            .bind(&t.input)
            .bind(t.created_at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `filter` as Postgres's condition and its binds.
fn condition(filter: &TraceFilter) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let sql = filter.to_sql(&|n| format!("${n}"), "ILIKE", &mut binds);
    (sql, binds)
}

macro_rules! bind_all {
    ($query:expr, $binds:expr) => {
        $binds.iter().fold($query, |q, b| match b {
            Bind::Text(t) => q.bind(t.clone()),
            Bind::Number(n) => q.bind(*n),
        })
    };
}

#[async_trait]
impl TraceStore for PgStore {
    async fn write_traces(&self, batches: Vec<TraceBatch>) -> Result<(), StoreError> {
        let _span = self.write_span("write_traces");
        let mut tx = self.pool.begin().await?;
        write_batches(&mut tx, &batches).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_traces(
        &self,
        filter: &TraceFilter,
        page: Page,
    ) -> Result<(Vec<TraceRecord>, u64), StoreError> {
        let (cond, binds) = condition(filter);
        let n = binds.len();
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT * FROM traces WHERE {cond}
             ORDER BY start_time DESC, trace_id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows = bind_all!(sqlx::query_as(&sql), binds)
            .bind(i64::from(page.limit.max(1)))
            .bind(page.offset())
            .fetch_all(&mut *tx)
            .await?;
        let sql = format!("SELECT COUNT(*) FROM traces WHERE {cond}");
        let total: i64 = bind_all!(sqlx::query_scalar(&sql), binds)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((rows, total.max(0) as u64))
    }

    async fn get_trace(
        &self,
        trace_id: Option<&str>,
        run_id: Option<&str>,
    ) -> Result<Option<TraceRecord>, StoreError> {
        let (column, value) = match (trace_id, run_id) {
            (Some(id), _) => ("trace_id", id),
            (None, Some(run)) => ("run_id", run),
            (None, None) => return Ok(None),
        };
        let sql =
            format!("SELECT * FROM traces WHERE {column} = $1 ORDER BY start_time DESC LIMIT 1");
        let trace = sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        Ok(trace)
    }

    async fn trace_detail(
        &self,
        trace_id: Option<&str>,
        run_id: Option<&str>,
    ) -> Result<Option<(TraceRecord, Vec<SpanRecord>)>, StoreError> {
        let (column, value) = match (trace_id, run_id) {
            (Some(id), _) => ("trace_id", id),
            (None, Some(run)) => ("run_id", run),
            (None, None) => return Ok(None),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let sql =
            format!("SELECT * FROM traces WHERE {column} = $1 ORDER BY start_time DESC LIMIT 1");
        let trace: Option<TraceRecord> = sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(trace) = trace else {
            return Ok(None);
        };
        let spans =
            sqlx::query_as("SELECT * FROM spans WHERE trace_id = $1 ORDER BY start_time, span_id")
                .bind(&trace.trace_id)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(Some((trace, spans)))
    }

    async fn trace_spans(&self, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        let spans =
            sqlx::query_as("SELECT * FROM spans WHERE trace_id = $1 ORDER BY start_time, span_id")
                .bind(trace_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(spans)
    }

    async fn get_span(&self, span_id: &str) -> Result<Option<SpanRecord>, StoreError> {
        let span = sqlx::query_as("SELECT * FROM spans WHERE span_id = $1")
            .bind(span_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(span)
    }

    async fn trace_session_stats(
        &self,
        filter: &TraceFilter,
        page: Page,
    ) -> Result<(Vec<TraceSessionStats>, u64), StoreError> {
        let (cond, binds) = condition(filter);
        let n = binds.len();
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT session_id, MAX(user_id) AS user_id, MAX(agent_id) AS agent_id,
                    MAX(team_id) AS team_id, MAX(workflow_id) AS workflow_id,
                    COUNT(*) AS total_traces, MIN(created_at) AS first_trace_at,
                    MAX(created_at) AS last_trace_at
             FROM traces WHERE session_id IS NOT NULL AND ({cond})
             GROUP BY session_id ORDER BY last_trace_at DESC, session_id
             LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows = bind_all!(sqlx::query_as(&sql), binds)
            .bind(i64::from(page.limit.max(1)))
            .bind(page.offset())
            .fetch_all(&mut *tx)
            .await?;
        let sql = format!(
            "SELECT COUNT(DISTINCT session_id) FROM traces
             WHERE session_id IS NOT NULL AND ({cond})"
        );
        let total: i64 = bind_all!(sqlx::query_scalar(&sql), binds)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((rows, total.max(0) as u64))
    }
}
