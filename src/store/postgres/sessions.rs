//! Sessions on Postgres: the list with its filters, sorts and pages, one session with its
//! metadata, updates, and deletes with everything that hangs off a session.

use super::{PgStore, jobs};
use crate::run::unix_millis;
use crate::store::{
    SessionFilter, SessionKey, SessionRecord, SessionStore, SessionUpdate, SessionView,
    SessionsDeleted, StoreError,
};
use async_trait::async_trait;
use sqlx::{PgPool, Row};

#[async_trait]
impl SessionStore for PgStore {
    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let session = sqlx::query_as("SELECT * FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(session)
    }

    async fn list_sessions(
        &self,
        filter: &SessionFilter,
    ) -> Result<(Vec<SessionView>, u64), StoreError> {
        list(&self.pool, filter).await
    }

    async fn session_view(&self, session_id: &str) -> Result<Option<SessionView>, StoreError> {
        let view = sqlx::query_as("SELECT * FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(view)
    }

    async fn create_session(&self, view: &SessionView) -> Result<Option<SessionView>, StoreError> {
        create(&self.pool, view).await
    }

    async fn update_session(
        &self,
        session_id: &str,
        update: &SessionUpdate,
    ) -> Result<Option<SessionView>, StoreError> {
        apply_update(&self.pool, session_id, update).await
    }

    async fn delete_sessions(&self, keys: &[SessionKey]) -> Result<SessionsDeleted, StoreError> {
        delete(&self.pool, keys).await
    }
}

/// A page of sessions and the count, from one snapshot. Sorted as on SQLite: names by their
/// bytes, NULLs first ascending and last descending, ties by id.
async fn list(pool: &PgPool, f: &SessionFilter) -> Result<(Vec<SessionView>, u64), StoreError> {
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
    let views = values
        .iter()
        .fold(sqlx::query_as(&sql), |q, v| q.bind(*v))
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
    Ok((views, total.max(0) as u64))
}

/// Inserts a session created before any run, unless its id is taken.
async fn create(pool: &PgPool, v: &SessionView) -> Result<Option<SessionView>, StoreError> {
    let s = &v.session;
    let view = sqlx::query_as(
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
    Ok(view)
}

/// Applies `u` to the session, if there is one.
async fn apply_update(
    pool: &PgPool,
    session_id: &str,
    u: &SessionUpdate,
) -> Result<Option<SessionView>, StoreError> {
    let view = sqlx::query_as(
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
    Ok(view)
}

/// In one transaction: the sessions `keys` name (when type and user match), locked, then
/// deleted with their runs, run events and idempotency keys, unless one has a run in progress.
async fn delete(pool: &PgPool, keys: &[SessionKey]) -> Result<SessionsDeleted, StoreError> {
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
        jobs::inline_outputs(&mut tx, session_id).await?;
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
