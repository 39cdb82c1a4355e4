//! Sessions on Postgres: the list with its filters, sorts and pages, one session with its
//! metadata, updates, and deletes with everything that hangs off a session.

use super::session_row;
use crate::run::unix_millis;
use crate::store::{
    SessionFilter, SessionKey, SessionUpdate, SessionView, SessionsDeleted, StoreError,
    restored_hook_payload,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

pub(super) fn session_view_row(row: &PgRow) -> SessionView {
    SessionView {
        session: session_row(row),
        metadata: row.get("metadata"),
        summary: row.get("summary"),
    }
}

/// A page of sessions and the count, from one snapshot. Sorted as on SQLite: names by their
/// bytes, NULLs first ascending and last descending, ties by id.
pub(super) async fn list(
    pool: &PgPool,
    f: &SessionFilter,
) -> Result<(Vec<SessionView>, u64), StoreError> {
    let (filter, values) = f.where_clause(
        |n| format!("${n}"),
        |p| format!("strpos(lower(coalesce(session_name, '')), lower({p}::text)) > 0"),
    );
    let (dir, nulls) = if f.ascending {
        ("ASC", "NULLS FIRST")
    } else {
        ("DESC", "NULLS LAST")
    };
    let column = f.sort_by.column();
    let collate = if column == "session_name" {
        " COLLATE \"C\""
    } else {
        ""
    };
    let page = values.len() + 1;
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let sql = format!(
        "SELECT * FROM sessions {filter}
         ORDER BY {column}{collate} {dir} {nulls}, session_id COLLATE \"C\" {dir}
         LIMIT ${page} OFFSET ${}",
        page + 1
    );
    let rows = values
        .iter()
        .fold(sqlx::query(&sql), |q, v| q.bind(*v))
        .bind(f.limit as i64)
        .bind(f.offset as i64)
        .fetch_all(&mut *tx)
        .await?;
    let sql = format!("SELECT COUNT(*) FROM sessions {filter}");
    let total: i64 = values
        .iter()
        .fold(sqlx::query_scalar(&sql), |q, v| q.bind(*v))
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((
        rows.iter().map(session_view_row).collect(),
        total.max(0) as u64,
    ))
}

pub(super) async fn view(
    pool: &PgPool,
    session_id: &str,
) -> Result<Option<SessionView>, StoreError> {
    let row = sqlx::query("SELECT * FROM sessions WHERE session_id = $1")
        .bind(session_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(session_view_row))
}

pub(super) async fn create(
    pool: &PgPool,
    v: &SessionView,
) -> Result<Option<SessionView>, StoreError> {
    let s = &v.session;
    let row = sqlx::query(
        "INSERT INTO sessions (session_id, session_type, component_id, user_id, session_name,
                               session_state, metadata, summary, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (session_id) DO NOTHING
         RETURNING *",
    )
    .bind(&s.session_id)
    .bind(s.session_type)
    .bind(&s.component_id)
    .bind(&s.user_id)
    .bind(&s.session_name)
    .bind(&s.session_state)
    .bind(&v.metadata)
    .bind(&v.summary)
    .bind(s.created_at)
    .bind(s.updated_at)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(session_view_row))
}

pub(super) async fn update(
    pool: &PgPool,
    session_id: &str,
    u: &SessionUpdate,
) -> Result<Option<SessionView>, StoreError> {
    let row = sqlx::query(
        "UPDATE sessions SET session_name = coalesce($1, session_name),
                             session_state = coalesce($2, session_state),
                             metadata = coalesce($3, metadata),
                             summary = coalesce($4, summary),
                             updated_at = $5
         WHERE session_id = $6
         RETURNING *",
    )
    .bind(&u.session_name)
    .bind(&u.session_state)
    .bind(&u.metadata)
    .bind(&u.summary)
    .bind(unix_millis())
    .bind(session_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(session_view_row))
}

/// In one transaction: the sessions `keys` name (when type and user match), locked, then
/// deleted with their runs, run events and idempotency keys, unless one has a run in progress.
pub(super) async fn delete(
    pool: &PgPool,
    keys: &[SessionKey],
) -> Result<SessionsDeleted, StoreError> {
    let mut tx = pool.begin().await?;
    let mut found: Vec<String> = Vec::new();
    let mut busy = Vec::new();
    for key in keys {
        let row = sqlx::query(
            "SELECT session_id,
                    EXISTS (SELECT 1 FROM runs WHERE runs.session_id = sessions.session_id
                            AND status IN ('RUNNING', 'PENDING')) AS busy
             FROM sessions
             WHERE session_id = $1 AND ($2::text IS NULL OR session_type = $2)
               AND ($3::text IS NULL OR user_id = $3)
             FOR UPDATE",
        )
        .bind(&key.session_id)
        .bind(key.session_type)
        .bind(&key.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { continue };
        if found.contains(&key.session_id) {
            continue;
        }
        if row.get::<bool, _>("busy") {
            busy.push(key.session_id.clone());
        }
        found.push(key.session_id.clone());
    }
    if !busy.is_empty() {
        return Ok(SessionsDeleted {
            deleted: Vec::new(),
            busy,
        });
    }
    for session_id in &found {
        inline_job_outputs(&mut tx, session_id).await?;
        for table in ["run_events", "idempotency_keys"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM runs WHERE session_id = $1)"
            ))
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM runs WHERE session_id = $1")
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(SessionsDeleted {
        deleted: found,
        busy: Vec::new(),
    })
}

/// Puts the agent outputs that a session's runs hold back into the payloads of their hook jobs
/// that may still run, before the runs are deleted (see [`crate::store::inline_run_output`]).
async fn inline_job_outputs(conn: &mut PgConnection, session_id: &str) -> Result<(), StoreError> {
    let jobs = sqlx::query(
        "SELECT j.job_id, j.payload, r.output FROM runs r JOIN hook_jobs j ON j.run_id = r.run_id
         WHERE r.session_id = $1 AND j.status <> 'done'",
    )
    .bind(session_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in jobs {
        let job_id: String = row.get("job_id");
        let payload: String = row.get("payload");
        let output: Option<String> = row.get("output");
        if let Some(payload) = restored_hook_payload(&job_id, &payload, output.as_deref()) {
            sqlx::query("UPDATE hook_jobs SET payload = $1 WHERE job_id = $2")
                .bind(payload)
                .bind(&job_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}
