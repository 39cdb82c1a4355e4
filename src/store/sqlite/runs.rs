//! Runs on SQLite: reads through the pool; a run's writes (begin, finish with its jobs, the
//! background run's request and checkpoints, the startup reconciliation) through the writer.
//! Cancels across processes keep the trait's defaults: one process owns the database.

use super::{SqliteStore, events, jobs};
use crate::run::{RunStatus, unix_millis};
use crate::store::record::read;
use crate::store::{
    BeginRun, IdempotencyKey, NewJob, ResumableRun, RunRecord, RunStore, SessionRecord, StoreError,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

#[async_trait]
impl RunStore for SqliteStore {
    async fn begin_run(
        &self,
        s: &SessionRecord,
        r: &RunRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<BeginRun, StoreError> {
        let (session, run, key) = (s.clone(), r.clone(), key.cloned());
        let owner = self.owner_id.clone();
        let writer = self.writer()?;
        let begun = writer
            .write(move |conn| begin(conn, &session, &run, key.as_ref(), &owner))
            .await;
        if let Ok(BeginRun::Started(_)) = begun {
            writer.run_begun();
        }
        begun
    }

    async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        output: &str,
        error: Option<&str>,
        jobs: Vec<NewJob>,
    ) -> Result<(), StoreError> {
        let (run_id, output, error) = (
            run_id.to_owned(),
            output.to_owned(),
            error.map(str::to_owned),
        );
        let writer = self.writer()?;
        let finished = writer
            .write(move |conn| finish(conn, &run_id, status, &output, error.as_deref(), &jobs))
            .await;
        writer.run_ended();
        finished
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let run = sqlx::query_as("SELECT * FROM runs WHERE run_id = ?")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(run)
    }

    async fn session_runs(&self, session_id: &str) -> Result<Vec<RunRecord>, StoreError> {
        let runs =
            sqlx::query_as("SELECT * FROM runs WHERE session_id = ? ORDER BY created_at, rowid")
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(runs)
    }

    async fn recent_completed_runs(
        &self,
        session_id: &str,
        except: &str,
        n: u32,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let mut runs: Vec<RunRecord> = sqlx::query_as(
            "SELECT * FROM runs WHERE session_id = ? AND run_id <> ? AND status = 'COMPLETED'
             ORDER BY created_at DESC, rowid DESC LIMIT ?",
        )
        .bind(session_id)
        .bind(except)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        runs.reverse();
        Ok(runs)
    }

    async fn fail_interrupted_runs(&self, error: &str) -> Result<u64, StoreError> {
        let error = error.to_owned();
        self.write(move |conn| fail_interrupted(conn, &error)).await
    }

    async fn start_background_run(&self, run_id: &str, request: &str) -> Result<(), StoreError> {
        let (run_id, request) = (run_id.to_owned(), request.to_owned());
        self.write(move |conn| start_background(conn, &run_id, &request))
            .await
    }

    async fn checkpoint_run(
        &self,
        run_id: &str,
        checkpoint: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError> {
        let (run_id, checkpoint, events) =
            (run_id.to_owned(), checkpoint.to_owned(), events.to_vec());
        self.write(move |conn| checkpoint_with(conn, &run_id, &checkpoint, &events))
            .await
    }

    async fn resumable_runs(&self) -> Result<Vec<ResumableRun>, StoreError> {
        let runs = sqlx::query_as(
            "SELECT * FROM runs WHERE background = 1 AND request IS NOT NULL
                AND status IN ('RUNNING', 'PENDING') ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(runs)
    }
}

/// [`RunStore::begin_run`]'s write.
fn begin(
    conn: &Connection,
    s: &SessionRecord,
    r: &RunRecord,
    key: Option<&IdempotencyKey>,
    owner: &str,
) -> Result<BeginRun, StoreError> {
    if let Some(k) = key {
        conn.prepare_cached(
            "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND expires_at <= ?",
        )?
        .execute(params![k.scope, k.key, r.created_at])?;
        let existing = conn
            .prepare_cached(
                "SELECT runs.* FROM idempotency_keys JOIN runs USING (run_id)
                 WHERE idempotency_keys.scope = ? AND idempotency_keys.key = ?",
            )?
            .query_row(params![k.scope, k.key], read)
            .optional()?;
        if let Some(run) = existing {
            return Ok(BeginRun::Existing(run));
        }
    }
    // A session of another type or component is left as it is (a refused run changes nothing,
    // though the batch it is part of commits): the upsert then returns no row. Any row it
    // returns is of the run's type and component, or has no component yet, which completing
    // it below sets to the run's.
    let stored: Option<SessionRecord> = conn
        .prepare_cached(
            "INSERT INTO sessions (session_id, session_type, component_id, user_id, session_name,
                                   session_state, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at
             WHERE sessions.session_type = excluded.session_type
               AND sessions.component_id IN ('', excluded.component_id)
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
                s.created_at,
                s.updated_at
            ],
            read,
        )
        .optional()?;
    let Some(mut stored) = stored else {
        return Err(StoreError::SessionConflict(s.session_id.clone()));
    };
    if stored.completed_by_first_run(s) {
        // A session created empty: the first run names its component and, if need be, its name.
        stored = conn
            .prepare_cached(
                "UPDATE sessions
                 SET component_id = CASE WHEN component_id = '' THEN ? ELSE component_id END,
                     session_name = coalesce(session_name, ?)
                 WHERE session_id = ?
                 RETURNING *",
            )?
            .query_row(params![s.component_id, s.session_name, s.session_id], read)?;
    }
    conn.prepare_cached(
        "INSERT INTO runs (run_id, session_id, component_type, component_id, user_id, status,
                           input, output, error, created_at, updated_at, owner_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        r.run_id,
        r.session_id,
        r.component_type,
        r.component_id,
        r.user_id,
        r.status,
        r.input,
        r.output,
        r.error,
        r.created_at,
        r.updated_at,
        owner
    ])?;
    if let Some(k) = key {
        conn.prepare_cached(
            "INSERT INTO idempotency_keys (scope, key, run_id, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )?
        .execute(params![
            k.scope,
            k.key,
            r.run_id,
            r.created_at,
            k.expires_at
        ])?;
    }
    Ok(BeginRun::Started(stored))
}

/// [`RunStore::finish_run`]'s write: the run's final state, then its jobs.
fn finish(
    conn: &Connection,
    run_id: &str,
    status: RunStatus,
    output: &str,
    error: Option<&str>,
    new_jobs: &[NewJob],
) -> Result<(), StoreError> {
    let now = unix_millis();
    let updated = conn
        .prepare_cached(
            "UPDATE runs SET status = ?, output = ?, error = ?, updated_at = ? WHERE run_id = ?",
        )?
        .execute(params![status, output, error, now, run_id])?;
    if updated != 1 {
        return Err(StoreError::Config(format!(
            "run {run_id} is not in the database"
        )));
    }
    jobs::insert(conn, new_jobs, now)
}

fn fail_interrupted(conn: &Connection, error: &str) -> Result<u64, StoreError> {
    let failed = conn
        .prepare_cached(
            "UPDATE runs SET status = 'ERROR', error = ?, updated_at = ?
             WHERE status IN ('RUNNING', 'PENDING')
               AND NOT (background = 1 AND request IS NOT NULL)",
        )?
        .execute(params![error, unix_millis()])?;
    Ok(failed as u64)
}

fn start_background(conn: &Connection, run_id: &str, request: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE runs SET status = 'RUNNING', background = 1, request = ?, updated_at = ?
         WHERE run_id = ? AND status IN ('PENDING', 'RUNNING')",
    )?
    .execute(params![request, unix_millis(), run_id])?;
    Ok(())
}

/// [`RunStore::checkpoint_run`]'s write: the output so far, and the events so far.
fn checkpoint_with(
    conn: &Connection,
    run_id: &str,
    checkpoint: &str,
    new_events: &[(i64, String)],
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE runs SET checkpoint = ?, updated_at = ? WHERE run_id = ?")?
        .execute(params![checkpoint, unix_millis(), run_id])?;
    events::append(conn, run_id, new_events)
}
