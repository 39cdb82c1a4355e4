//! [`PgStore`]: Postgres for several replicas sharing one database. A plain pool with one
//! transaction per operation; work that any replica may take (hook jobs) is claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease, and runs carry their owner's id so that the runs of a
//! replica whose owner lease expired are reconciled by another.

mod background;
mod jobs;
mod sessions;

use super::{
    BeginRun, HookJobRecord, IdempotencyKey, JobAttempt, JobFilter, NewHookJob, Reconciled,
    ResumableRun, RunRecord, SessionFilter, SessionKey, SessionRecord, SessionUpdate, SessionView,
    SessionsDeleted, Store, StoreError,
};
use crate::run::{RunStatus, unix_millis};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};
use std::str::FromStr;
use std::time::Duration;

/// Postgres storage through sqlx: a pool of connections, one transaction per operation.
#[derive(Debug)]
pub struct PgStore {
    pool: PgPool,
    owner_id: String,
}

/// Connections per replica: enough for a run's writes and the hook sweep to never wait on each
/// other under load, few enough that a handful of replicas stay under Postgres's default
/// `max_connections` (100).
const POOL_SIZE: u32 = 16;

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`, with sqlx's URL
    /// parameters, e.g. `?options=-csearch_path%3Dmyschema`) and applies `migrations/postgres/`.
    /// Replicas starting at once are safe: sqlx serializes migrations with an advisory lock.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            pool,
            owner_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// The underlying pool, for tests and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn session_row(row: &PgRow) -> SessionRecord {
    SessionRecord {
        session_id: row.get("session_id"),
        session_type: row.get("session_type"),
        component_id: row.get("component_id"),
        user_id: row.get("user_id"),
        session_name: row.get("session_name"),
        session_state: row.get("session_state"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

fn run_row(row: &PgRow) -> RunRecord {
    RunRecord {
        run_id: row.get("run_id"),
        session_id: row.get("session_id"),
        component_type: row.get("component_type"),
        component_id: row.get("component_id"),
        user_id: row.get("user_id"),
        status: RunStatus::parse(row.get::<&str, _>("status")),
        input: row.get("input"),
        output: row.get("output"),
        error: row.get("error"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

#[async_trait]
impl Store for PgStore {
    fn exclusive(&self) -> bool {
        false
    }

    fn owner_id(&self) -> &str {
        &self.owner_id
    }

    async fn begin_run(
        &self,
        s: &SessionRecord,
        r: &RunRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<BeginRun, StoreError> {
        if key.is_none()
            && let Some(stored) = begin_run_at_once(&self.pool, s, r, &self.owner_id).await?
        {
            return Ok(BeginRun::Started(stored));
        }
        let mut tx = self.pool.begin().await?;
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
        let mut stored = session_row(&row);
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
            .bind(&self.owner_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(BeginRun::Started(stored))
    }

    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(session_row))
    }

    async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        output: &str,
        error: Option<&str>,
        jobs: Vec<NewHookJob>,
    ) -> Result<(), StoreError> {
        let now = unix_millis();
        // One statement, so one round trip and its own transaction: the run's final state, and
        // its hook jobs only if the run was there to update.
        let jobs = jobs::Columns::of(jobs);
        let finished: i64 = sqlx::query_scalar(
            "WITH finished AS (
                 UPDATE runs SET status = $1, output = $2, error = $3, updated_at = $4
                 WHERE run_id = $5
                 RETURNING run_id),
             jobs AS (
                 INSERT INTO hook_jobs (job_id, run_id, hook_name, payload, status, attempts,
                                        max_attempts, next_attempt_at, lease_owner, lease_until,
                                        created_at, updated_at)
                 SELECT j.job_id, j.run_id, j.hook_name, j.payload, j.status, j.attempts,
                        j.max_attempts, $4, j.lease_owner, j.lease_until, $4, $4
                 FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                             $11::bigint[], $12::bigint[], $13::text[], $14::bigint[])
                      WITH ORDINALITY AS j(job_id, run_id, hook_name, payload, status, attempts,
                                           max_attempts, lease_owner, lease_until, ord)
                 WHERE EXISTS (SELECT 1 FROM finished)
                 ORDER BY j.ord)
             SELECT count(*) FROM finished",
        )
        .bind(status.as_str())
        .bind(output)
        .bind(error)
        .bind(now)
        .bind(run_id)
        .bind(jobs.job_id)
        .bind(jobs.run_id)
        .bind(jobs.hook_name)
        .bind(jobs.payload)
        .bind(jobs.status)
        .bind(jobs.attempts)
        .bind(jobs.max_attempts)
        .bind(jobs.lease_owner)
        .bind(jobs.lease_until)
        .fetch_one(&self.pool)
        .await?;
        if finished != 1 {
            return Err(StoreError::Config(format!(
                "run {run_id} is not in the database"
            )));
        }
        Ok(())
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM runs WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(run_row))
    }

    async fn session_runs(&self, session_id: &str) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM runs WHERE session_id = $1 ORDER BY created_at, seq")
            .bind(session_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(run_row).collect())
    }

    async fn recent_completed_runs(
        &self,
        session_id: &str,
        except: &str,
        n: u32,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM runs WHERE session_id = $1 AND run_id <> $2 AND status = 'COMPLETED'
             ORDER BY created_at DESC, seq DESC LIMIT $3",
        )
        .bind(session_id)
        .bind(except)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().rev().map(run_row).collect())
    }

    async fn fail_interrupted_runs(&self, error: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET status = 'ERROR', error = $1, updated_at = $2
             WHERE status IN ('RUNNING', 'PENDING')
               AND NOT (background = 1 AND request IS NOT NULL)",
        )
        .bind(error)
        .bind(unix_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn claim_job(
        &self,
        job_id: &str,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<HookJobRecord>, StoreError> {
        jobs::claim_one(&self.pool, job_id, owner, lease_until).await
    }

    async fn claim_due_jobs(
        &self,
        owner: &str,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<HookJobRecord>, StoreError> {
        jobs::claim_due(&self.pool, owner, lease_until, limit).await
    }

    async fn release_all_leases(&self) -> Result<u64, StoreError> {
        jobs::release_all(&self.pool).await
    }

    async fn finish_job_attempt(
        &self,
        job_id: &str,
        attempt: &JobAttempt,
    ) -> Result<(), StoreError> {
        jobs::finish_attempt(&self.pool, job_id, attempt).await
    }

    async fn retry_job(&self, job_id: &str) -> Result<Option<(bool, HookJobRecord)>, StoreError> {
        jobs::retry(&self.pool, job_id).await
    }

    async fn hook_jobs(&self, f: &JobFilter) -> Result<(Vec<HookJobRecord>, u64), StoreError> {
        jobs::list(&self.pool, f).await
    }

    async fn renew_owner_lease(&self, lease_until: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO run_owners (owner_id, lease_until) VALUES ($1, $2)
             ON CONFLICT (owner_id) DO UPDATE SET lease_until = excluded.lease_until",
        )
        .bind(&self.owner_id)
        .bind(lease_until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reconcile_dead_owners(&self, error: &str, now: i64) -> Result<Reconciled, StoreError> {
        let mut tx = self.pool.begin().await?;
        // SKIP LOCKED: replicas reconciling at once split the rows instead of deadlocking, and
        // a row being written right now (its run finishing) is left to the next round.
        let runs = sqlx::query(
            "UPDATE runs SET status = 'ERROR', error = $1, updated_at = $2
             WHERE run_id IN (
                 SELECT run_id FROM runs
                 WHERE status IN ('RUNNING', 'PENDING')
                   AND NOT (background = 1 AND request IS NOT NULL)
                   AND NOT EXISTS (SELECT 1 FROM run_owners o
                                   WHERE o.owner_id = runs.owner_id AND o.lease_until >= $2)
                 FOR UPDATE SKIP LOCKED)",
        )
        .bind(error)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let jobs_released = jobs::release_dead(&mut tx, now).await?;
        sqlx::query("DELETE FROM run_owners WHERE lease_until < $1")
            .bind(now - OWNER_ROW_TTL_MS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Reconciled {
            runs_failed: runs.rows_affected(),
            jobs_released,
        })
    }

    async fn start_background_run(&self, run_id: &str, request: &str) -> Result<(), StoreError> {
        background::start(&self.pool, run_id, request).await
    }

    async fn checkpoint_run(
        &self,
        run_id: &str,
        checkpoint: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError> {
        background::checkpoint(&self.pool, run_id, checkpoint, events).await
    }

    async fn resumable_runs(&self) -> Result<Vec<ResumableRun>, StoreError> {
        background::resumable(&self.pool).await
    }

    async fn append_run_events(
        &self,
        run_id: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        background::append(&mut conn, run_id, events).await
    }

    async fn run_events(&self, run_id: &str, after: i64) -> Result<Vec<(i64, String)>, StoreError> {
        background::events(&self.pool, run_id, after).await
    }

    async fn claim_orphaned_runs(&self, now: i64) -> Result<Vec<ResumableRun>, StoreError> {
        background::claim_orphans(&self.pool, &self.owner_id, now).await
    }

    async fn request_cancel(&self, run_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query(
            "UPDATE runs SET cancel_requested = 1
             WHERE run_id = $1 AND status IN ('PENDING', 'RUNNING')",
        )
        .bind(run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked > 0 {
            sqlx::query("SELECT pg_notify('agentos_cancel', $1)")
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(marked > 0)
    }

    async fn cancel_requests(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<String>>, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen("agentos_cancel").await?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection.
                match listener.recv().await {
                    Ok(note) => {
                        if tx.send(note.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(e) => {
                        if tx.is_closed() {
                            return;
                        }
                        tracing::warn!(error = %e, "cancel listener: retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Some(rx))
    }

    async fn requested_cancels(&self) -> Result<Vec<String>, StoreError> {
        // Served by the partial index runs_cancel_pending (migration 0009): only the rows with
        // a cancel pending are visited.
        let ids = sqlx::query_scalar(
            "SELECT run_id FROM runs
             WHERE cancel_requested = 1 AND status IN ('PENDING', 'RUNNING') AND owner_id = $1",
        )
        .bind(&self.owner_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn list_sessions(
        &self,
        filter: &SessionFilter,
    ) -> Result<(Vec<SessionView>, u64), StoreError> {
        sessions::list(&self.pool, filter).await
    }

    async fn session_view(&self, session_id: &str) -> Result<Option<SessionView>, StoreError> {
        sessions::view(&self.pool, session_id).await
    }

    async fn create_session(&self, view: &SessionView) -> Result<Option<SessionView>, StoreError> {
        sessions::create(&self.pool, view).await
    }

    async fn delete_sessions(&self, keys: &[SessionKey]) -> Result<SessionsDeleted, StoreError> {
        sessions::delete(&self.pool, keys).await
    }

    async fn update_session(
        &self,
        session_id: &str,
        update: &SessionUpdate,
    ) -> Result<Option<SessionView>, StoreError> {
        sessions::update(&self.pool, session_id, update).await
    }
}

/// [`Store::begin_run`] in one statement (one round trip, its own transaction), for a run
/// without an idempotency key whose session is new, or is already complete and of the run's
/// type and component. Any other session is left untouched and `None` returned: the caller
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
    Ok(row.as_ref().map(session_row))
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
        .bind(r.status.as_str())
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
    Ok(session_row(&row))
}

/// A dead process's lease row is forgotten a day after it expired (a missing row counts as
/// dead anyway).
const OWNER_ROW_TTL_MS: i64 = 24 * 3600 * 1000;

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
        Some(row) => Ok(Some(run_row(&row))),
        None => Err(StoreError::Config(format!(
            "idempotency key {:?} names a run that is not stored",
            k.key
        ))),
    }
}
