//! Sessions on SQLite: reads and the list through the pool; create, update and delete through
//! the writer.

use super::{SqliteStore, jobs};
use crate::run::unix_millis;
use crate::store::record::read;
use crate::store::{
    SessionFilter, SessionKey, SessionRecord, SessionStore, SessionUpdate, SessionView,
    SessionsDeleted, StoreError,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let session = sqlx::query_as("SELECT * FROM sessions WHERE session_id = ?")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(session)
    }

    async fn list_sessions(
        &self,
        f: &SessionFilter,
    ) -> Result<(Vec<SessionView>, u64), StoreError> {
        let (filter, values) = f.where_clause(
            |n| format!("?{n}"),
            |p| format!("instr(lower(coalesce(session_name, '')), lower({p})) > 0"),
        );
        let dir = if f.ascending { "ASC" } else { "DESC" };
        let column = f.sort_by.column();
        let page = values.len() + 1;
        // One read transaction: the page and the count come from the same snapshot.
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT * FROM sessions {filter}
             ORDER BY {column} {dir}, session_id {dir} LIMIT ?{page} OFFSET ?{}",
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

    async fn session_view(&self, session_id: &str) -> Result<Option<SessionView>, StoreError> {
        let view = sqlx::query_as("SELECT * FROM sessions WHERE session_id = ?")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(view)
    }

    async fn create_session(&self, view: &SessionView) -> Result<Option<SessionView>, StoreError> {
        let view = view.clone();
        self.write(move |conn| create(conn, &view)).await
    }

    async fn update_session(
        &self,
        session_id: &str,
        update: &SessionUpdate,
    ) -> Result<Option<SessionView>, StoreError> {
        let (session_id, update) = (session_id.to_owned(), update.clone());
        self.write(move |conn| apply_update(conn, &session_id, &update))
            .await
    }

    async fn delete_sessions(&self, keys: &[SessionKey]) -> Result<SessionsDeleted, StoreError> {
        let keys = keys.to_vec();
        self.write(move |conn| delete(conn, &keys)).await
    }
}

/// Inserts a session created before any run, unless its id is taken.
fn create(conn: &Connection, v: &SessionView) -> Result<Option<SessionView>, StoreError> {
    let s = &v.session;
    let view = conn
        .prepare_cached(
            "INSERT INTO sessions (session_id, session_type, component_id, user_id, session_name,
                                   session_state, metadata, summary, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (session_id) DO NOTHING
             RETURNING *",
        )?
        .query_row(
            params![
                s.session_id,
                s.session_type,
                s.component_id,
                s.user_id,
                s.session_name,
                s.session_state,
                v.metadata,
                v.summary,
                s.created_at,
                s.updated_at
            ],
            read,
        )
        .optional()?;
    Ok(view)
}

fn apply_update(
    conn: &Connection,
    session_id: &str,
    update: &SessionUpdate,
) -> Result<Option<SessionView>, StoreError> {
    let view = conn
        .prepare_cached(
            "UPDATE sessions SET session_name = coalesce(?, session_name),
                                 session_state = coalesce(?, session_state),
                                 metadata = coalesce(?, metadata),
                                 summary = coalesce(?, summary),
                                 updated_at = ?
             WHERE session_id = ?
             RETURNING *",
        )?
        .query_row(
            params![
                update.session_name,
                update.session_state,
                update.metadata,
                update.summary,
                unix_millis(),
                session_id
            ],
            read,
        )
        .optional()?;
    Ok(view)
}

/// Deletes the sessions `keys` name (when type and user match) with their runs, run events
/// and idempotency keys, unless one of them has a run still in progress.
fn delete(conn: &Connection, keys: &[SessionKey]) -> Result<SessionsDeleted, StoreError> {
    let mut found: Vec<String> = Vec::new();
    let mut busy = Vec::new();
    for key in keys {
        let is_busy = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE runs.session_id = sessions.session_id
                                AND status IN ('RUNNING', 'PENDING')) AS busy
                 FROM sessions
                 WHERE session_id = ? AND (? IS NULL OR session_type = ?) AND (? IS NULL OR user_id = ?)",
            )?
            .query_row(
                params![
                    key.session_id,
                    key.session_type,
                    key.session_type,
                    key.user_id,
                    key.user_id
                ],
                |row| row.get::<_, bool>("busy"),
            )
            .optional()?;
        let Some(is_busy) = is_busy else { continue };
        if found.contains(&key.session_id) {
            continue;
        }
        if is_busy {
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
        jobs::inline_outputs(conn, session_id)?;
        for statement in [
            "DELETE FROM run_events WHERE run_id IN (SELECT run_id FROM runs WHERE session_id = ?)",
            "DELETE FROM idempotency_keys WHERE run_id IN (SELECT run_id FROM runs WHERE session_id = ?)",
            "DELETE FROM runs WHERE session_id = ?",
            "DELETE FROM sessions WHERE session_id = ?",
        ] {
            conn.prepare_cached(statement)?
                .execute(params![session_id])?;
        }
    }
    Ok(SessionsDeleted {
        deleted: found,
        busy: Vec::new(),
    })
}
