//! Traces on SQLite: a batch's spans and trace aggregates through the writer, reads through the
//! pool.

use super::SqliteStore;
use crate::store::traces::Bind;
use crate::store::{
    Page, SpanRecord, StoreError, TraceBatch, TraceFilter, TraceRecord, TraceSessionStats,
    TraceStore,
};
use async_trait::async_trait;
use rusqlite::{Connection, params};

/// A trace's row, merged with what is stored: counts add up, times widen, context fills in.
const UPSERT_TRACE: &str = "INSERT INTO traces (trace_id, name, status, start_time, end_time,
        duration_ms, total_spans, error_count, run_id, session_id, user_id, agent_id, team_id,
        workflow_id, input, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
    ON CONFLICT (trace_id) DO UPDATE SET
        name = CASE WHEN traces.run_id IS NULL AND excluded.run_id IS NOT NULL
                    THEN excluded.name ELSE traces.name END,
        status = CASE WHEN traces.status = 'ERROR' OR excluded.status = 'ERROR'
                      THEN 'ERROR' ELSE 'OK' END,
        start_time = MIN(traces.start_time, excluded.start_time),
        end_time = MAX(traces.end_time, excluded.end_time),
        duration_ms = (MAX(traces.end_time, excluded.end_time)
                       - MIN(traces.start_time, excluded.start_time)) / 1000,
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
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
    ON CONFLICT (span_id) DO NOTHING";

fn write_batches(conn: &Connection, batches: &[TraceBatch]) -> Result<(), StoreError> {
    let mut insert_span = conn.prepare_cached(INSERT_SPAN)?;
    let mut upsert = conn.prepare_cached(UPSERT_TRACE)?;
    for batch in batches {
        let (mut added, mut errors) = (0i64, 0i64);
        for s in &batch.spans {
            let n = insert_span.execute(params![
                s.span_id,
                s.trace_id,
                s.parent_span_id,
                s.name,
                s.span_kind,
                s.status_code,
                s.status_message,
                s.start_time,
                s.end_time,
                s.duration_ms,
                s.attributes,
                s.created_at,
            ])?;
            if n > 0 {
                added += 1;
                errors += i64::from(s.status_code == "ERROR");
            }
        }
        if added == 0 {
            continue;
        }
        let t = &batch.trace;
        upsert.execute(params![
            t.trace_id,
            t.name,
            if errors > 0 { "ERROR" } else { "OK" },
            t.start_time,
            t.end_time,
            t.duration_ms,
            added,
            errors,
            t.run_id,
            t.session_id,
            t.user_id,
            t.agent_id,
            t.team_id,
            t.workflow_id,
            t.input,
            t.created_at,
        ])?;
    }
    Ok(())
}

/// `filter` as SQLite's condition and its binds.
fn condition(filter: &TraceFilter) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let sql = filter.to_sql(&|n| format!("?{n}"), "LIKE", &mut binds);
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
impl TraceStore for SqliteStore {
    async fn write_traces(&self, batches: Vec<TraceBatch>) -> Result<(), StoreError> {
        self.write(move |conn| write_batches(conn, &batches)).await
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
             ORDER BY start_time DESC, trace_id DESC LIMIT ?{} OFFSET ?{}",
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
            format!("SELECT * FROM traces WHERE {column} = ? ORDER BY start_time DESC LIMIT 1");
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
        let sql =
            format!("SELECT * FROM traces WHERE {column} = ? ORDER BY start_time DESC LIMIT 1");
        let trace: Option<TraceRecord> = sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(trace) = trace else {
            return Ok(None);
        };
        let spans =
            sqlx::query_as("SELECT * FROM spans WHERE trace_id = ? ORDER BY start_time, span_id")
                .bind(&trace.trace_id)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(Some((trace, spans)))
    }

    async fn trace_spans(&self, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        let spans =
            sqlx::query_as("SELECT * FROM spans WHERE trace_id = ? ORDER BY start_time, span_id")
                .bind(trace_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(spans)
    }

    async fn get_span(&self, span_id: &str) -> Result<Option<SpanRecord>, StoreError> {
        let span = sqlx::query_as("SELECT * FROM spans WHERE span_id = ?")
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
             LIMIT ?{} OFFSET ?{}",
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
