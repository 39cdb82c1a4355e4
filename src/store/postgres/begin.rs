//! Beginning a run on Postgres: in one statement when nothing stands in the way (no
//! idempotency key, a session that is new or already complete), else in a transaction that
//! claims the key, completes or refuses the session, and inserts the run.

use super::PgStore;
use crate::store::{BeginRun, IdempotencyKey, RunRecord, SessionRecord, StoreError};
use sqlx::{FromRow, PgConnection, PgPool};

/// [`crate::store::RunStore::begin_run`].
pub(super) async fn begin_run(
    pg: &PgStore,
    s: &SessionRecord,
    r: &RunRecord,
    key: Option<&IdempotencyKey>,
) -> Result<BeginRun, StoreError> {
    if key.is_none()
        && let Some(stored) = begin_run_at_once(&pg.pool, s, r, &pg.owner_id).await?
    {
        return Ok(BeginRun::Started(stored));
    }
    let mut tx = pg.pool.begin().await?;
    if let Some(k) = key
        && let Some(existing) = claim_key(&mut tx, k, &r.run_id, r.created_at).await?
    {
        tx.commit().await?;
        return Ok(BeginRun::Existing(existing));
    }
    // Concurrent runs in one session (from any replica) each insert their own row; the
    // session row is only touched, so none overwrites another.
    let upsert = sqlx::query(
        "INSERT INTO sessions (session_id, session_type, component_id, user_id, session_name,
                               session_state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at
         RETURNING *",
    );
    let row = bind_session(upsert, s).fetch_one(&mut *tx).await?;
    let mut stored = SessionRecord::from_row(&row)?;
    if stored.completed_by_first_run(s) {
        stored = complete_session(&mut tx, s).await?;
    }
    if stored.session_type != s.session_type || stored.component_id != s.component_id {
        // Dropping the transaction rolls back the key claimed above.
        return Err(StoreError::SessionConflict(s.session_id.clone()));
    }
    let insert = sqlx::query(
        "INSERT INTO runs (run_id, session_id, component_type, component_id, user_id, status,
                           input, output, error, created_at, updated_at, owner_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    );
    bind_run(insert, r)
        .bind(&pg.owner_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(BeginRun::Started(stored))
}

/// [`begin_run`] in one statement (one round trip, its own transaction), for a run without an
/// idempotency key whose session is new, or is already complete and of the run's type and
/// component. Any other session is left untouched and `None` returned: the caller
/// then takes the full path, which completes the session or refuses the run.
async fn begin_run_at_once(
    pool: &PgPool,
    s: &SessionRecord,
    r: &RunRecord,
    owner_id: &str,
) -> Result<Option<SessionRecord>, StoreError> {
    let statement = sqlx::query(
        "WITH session AS (
             INSERT INTO sessions (session_id, session_type, component_id, user_id, session_name,
                                   session_state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at
             WHERE sessions.session_type = excluded.session_type
               AND sessions.component_id = excluded.component_id
               AND sessions.component_id <> '' AND sessions.session_name IS NOT NULL
             RETURNING *),
         run AS (
             INSERT INTO runs (run_id, session_id, component_type, component_id, user_id, status,
                               input, output, error, created_at, updated_at, owner_id)
             SELECT $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20
             FROM session
             RETURNING run_id)
         SELECT * FROM session",
    );
    let row = bind_run(bind_session(statement, s), r)
        .bind(owner_id)
        .fetch_optional(pool)
        .await?;
    // A new session is inserted as the run gives it, which is all that completing it would
    // store.
    Ok(row.as_ref().map(SessionRecord::from_row).transpose()?)
}

/// A query with bind parameters, as `sqlx::query` makes it.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds a new session's columns, in the order `begin_run` inserts them: id, type, component,
/// user, name, state, created, updated.
fn bind_session<'q>(q: PgQuery<'q>, s: &'q SessionRecord) -> PgQuery<'q> {
    q.bind(&s.session_id)
        .bind(s.session_type)
        .bind(&s.component_id)
        .bind(&s.user_id)
        .bind(&s.session_name)
        .bind(&s.session_state)
        .bind(s.created_at)
        .bind(s.updated_at)
}

/// Binds a new run's columns but its owner, in the order `begin_run` inserts them: id,
/// session, component type and id, user, status, input, output, error, created, updated.
fn bind_run<'q>(q: PgQuery<'q>, r: &'q RunRecord) -> PgQuery<'q> {
    q.bind(&r.run_id)
        .bind(&r.session_id)
        .bind(r.component_type)
        .bind(&r.component_id)
        .bind(&r.user_id)
        .bind(r.status)
        .bind(&r.input)
        .bind(&r.output)
        .bind(&r.error)
        .bind(r.created_at)
        .bind(r.updated_at)
}

/// The first run in a session created empty names its component and, if it has none, its name
/// (see [`SessionRecord::completed_by_first_run`]).
async fn complete_session(
    conn: &mut PgConnection,
    s: &SessionRecord,
) -> Result<SessionRecord, StoreError> {
    let row = sqlx::query(
        "UPDATE sessions
         SET component_id = CASE WHEN component_id = '' THEN $1 ELSE component_id END,
             session_name = coalesce(session_name, $2)
         WHERE session_id = $3
         RETURNING *",
    )
    .bind(&s.component_id)
    .bind(&s.session_name)
    .bind(&s.session_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(SessionRecord::from_row(&row)?)
}

/// Claims the idempotency key for `run_id`, or returns the live run it already names. A
/// concurrent claim of the same key (from any replica) waits for the first to commit, then
/// sees its run.
async fn claim_key(
    conn: &mut PgConnection,
    k: &IdempotencyKey,
    run_id: &str,
    now: i64,
) -> Result<Option<RunRecord>, StoreError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at <= $3")
        .bind(&k.scope)
        .bind(&k.key)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, run_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(&k.scope)
    .bind(&k.key)
    .bind(run_id)
    .bind(now)
    .bind(k.expires_at)
    .execute(&mut *conn)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(None);
    }
    let existing = sqlx::query(
        "SELECT runs.* FROM idempotency_keys JOIN runs USING (run_id)
         WHERE idempotency_keys.scope = $1 AND idempotency_keys.key = $2",
    )
    .bind(&k.scope)
    .bind(&k.key)
    .fetch_optional(&mut *conn)
    .await?;
    match existing {
        Some(row) => Ok(Some(RunRecord::from_row(&row)?)),
        None => Err(StoreError::Config(format!(
            "idempotency key {:?} names a run that is not stored",
            k.key
        ))),
    }
}
