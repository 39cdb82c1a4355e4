//! The single SQLite writer: every write goes through one task that owns one connection and
//! commits whatever is queued in one transaction (group commit). Writers never contend for
//! SQLite's lock, and under load a commit carries many runs. A caller's write is answered only
//! after its transaction committed.

use super::{job_row, run_row, session_row, session_view_row};
use crate::run::{RunStatus, unix_millis};
use crate::store::{
    BeginRun, HookJobRecord, IdempotencyKey, JobAttempt, NewHookJob, Reconciled, RunRecord,
    SessionRecord, StoreError,
};
use crate::store::{SessionKey, SessionUpdate, SessionView, SessionsDeleted};
use sqlx::{Connection, Row, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

/// At most this many writes share one transaction.
const MAX_BATCH: usize = 256;

/// One write.
#[derive(Debug)]
pub(super) enum Op {
    BeginRun {
        session: Box<SessionRecord>,
        run: Box<RunRecord>,
        key: Option<IdempotencyKey>,
        owner: String,
    },
    FinishRun {
        run_id: String,
        status: RunStatus,
        output: String,
        error: Option<String>,
        jobs: Vec<NewHookJob>,
    },
    FailInterrupted(String),
    ClaimJob {
        job_id: String,
        owner: String,
        lease_until: i64,
    },
    ClaimDue {
        owner: String,
        lease_until: i64,
        limit: u32,
    },
    ReleaseAllLeases,
    FinishJob {
        job_id: String,
        attempt: JobAttempt,
    },
    RetryJob(String),
    RenewOwner {
        owner: String,
        lease_until: i64,
    },
    ReconcileDead {
        error: String,
        now: i64,
    },
    StartBackground {
        run_id: String,
        request: String,
    },
    Checkpoint {
        run_id: String,
        checkpoint: String,
        events: Vec<(i64, String)>,
    },
    AppendEvents {
        run_id: String,
        events: Vec<(i64, String)>,
    },
    CreateSession(Box<SessionView>),
    DeleteSessions(Vec<SessionKey>),
    UpdateSession {
        session_id: String,
        update: SessionUpdate,
    },
}

/// What a write returns.
#[derive(Debug)]
pub(super) enum Reply {
    Done,
    Count(u64),
    Begin(BeginRun),
    Job(Option<HookJobRecord>),
    Jobs(Vec<HookJobRecord>),
    Retried(Option<(bool, HookJobRecord)>),
    Reconciled(Reconciled),
    Deleted(SessionsDeleted),
    Session(Option<SessionView>),
}

type Answer = oneshot::Sender<Result<Reply, StoreError>>;

/// The handle the store keeps: a queue into the writer task.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<(Op, Answer)>,
}

impl Writer {
    /// Starts the writer task on `conn`; it ends (closing `conn`) when every handle is dropped.
    pub(super) fn start(conn: SqliteConnection) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        (Writer { tx }, tokio::spawn(run(conn, rx)))
    }

    /// Queues `op` and waits until it is committed.
    pub(super) async fn write(&self, op: Op) -> Result<Reply, StoreError> {
        let (answer, reply) = oneshot::channel();
        self.tx.send((op, answer)).await.map_err(|_| closed())?;
        reply.await.map_err(|_| closed())?
    }
}

fn closed() -> StoreError {
    StoreError::Config("the database is closed".to_owned())
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<(Op, Answer)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match apply_batch(&mut conn, batch.iter().map(|(op, _)| op)).await {
            Ok(replies) => {
                for ((_, answer), reply) in batch.drain(..).zip(replies) {
                    let _ = answer.send(reply);
                }
            }
            // The shared transaction failed as a whole (a failed commit, or a statement error
            // that may have rolled it back): redo each write in a transaction of its own, so
            // one bad write fails alone.
            Err(e) => {
                tracing::warn!(error = %e, writes = batch.len(), "group commit failed; retrying writes one by one");
                for (op, answer) in batch.drain(..) {
                    let reply = match apply_batch(&mut conn, std::iter::once(&op)).await {
                        Ok(mut replies) => replies.pop().unwrap_or(Ok(Reply::Done)),
                        Err(e) => Err(e),
                    };
                    let _ = answer.send(reply);
                }
            }
        }
    }
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %e, "closing the writer connection");
    }
}

/// Applies the writes in one transaction. A write's own refusal (a session conflict) is its
/// reply; a database error fails the whole batch.
async fn apply_batch<'a>(
    conn: &mut SqliteConnection,
    ops: impl Iterator<Item = &'a Op>,
) -> Result<Vec<Result<Reply, StoreError>>, StoreError> {
    let mut tx = conn.begin().await?;
    let mut replies = Vec::with_capacity(ops.size_hint().0);
    for op in ops {
        match apply(&mut tx, op).await {
            Err(StoreError::Db(e)) => return Err(StoreError::Db(e)),
            other => replies.push(other),
        }
    }
    tx.commit().await?;
    Ok(replies)
}

async fn apply(conn: &mut SqliteConnection, op: &Op) -> Result<Reply, StoreError> {
    match op {
        Op::BeginRun {
            session,
            run,
            key,
            owner,
        } => begin_run(conn, session, run, key.as_ref(), owner)
            .await
            .map(Reply::Begin),
        Op::RenewOwner { owner, lease_until } => {
            sqlx::query(
                "INSERT INTO run_owners (owner_id, lease_until) VALUES (?, ?)
                 ON CONFLICT (owner_id) DO UPDATE SET lease_until = excluded.lease_until",
            )
            .bind(owner)
            .bind(lease_until)
            .execute(&mut *conn)
            .await?;
            Ok(Reply::Done)
        }
        Op::ReconcileDead { error, now } => reconcile_dead(conn, error, *now)
            .await
            .map(Reply::Reconciled),
        Op::FinishRun {
            run_id,
            status,
            output,
            error,
            jobs,
        } => finish_run(conn, run_id, *status, output, error.as_deref(), jobs)
            .await
            .map(|_| Reply::Done),
        Op::StartBackground { run_id, request } => {
            sqlx::query(
                "UPDATE runs SET status = 'RUNNING', background = 1, request = ?, updated_at = ?
                 WHERE run_id = ? AND status IN ('PENDING', 'RUNNING')",
            )
            .bind(request)
            .bind(unix_millis())
            .bind(run_id)
            .execute(&mut *conn)
            .await?;
            Ok(Reply::Done)
        }
        Op::Checkpoint {
            run_id,
            checkpoint,
            events,
        } => {
            sqlx::query("UPDATE runs SET checkpoint = ?, updated_at = ? WHERE run_id = ?")
                .bind(checkpoint)
                .bind(unix_millis())
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
            append_events(conn, run_id, events).await?;
            Ok(Reply::Done)
        }
        Op::AppendEvents { run_id, events } => {
            append_events(conn, run_id, events).await?;
            Ok(Reply::Done)
        }
        Op::FailInterrupted(error) => {
            let done = sqlx::query(
                "UPDATE runs SET status = 'ERROR', error = ?, updated_at = ?
                 WHERE status IN ('RUNNING', 'PENDING')
                   AND NOT (background = 1 AND request IS NOT NULL)",
            )
            .bind(error)
            .bind(unix_millis())
            .execute(&mut *conn)
            .await?;
            Ok(Reply::Count(done.rows_affected()))
        }
        Op::ClaimJob {
            job_id,
            owner,
            lease_until,
        } => {
            let now = unix_millis();
            let row = sqlx::query(
                "UPDATE hook_jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,
                                      lease_until = ?, updated_at = ?
                 WHERE job_id = ? AND status IN ('pending', 'failed')
                   AND (lease_owner = ? OR lease_until IS NULL OR lease_until < ?)
                 RETURNING *",
            )
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(job_id)
            .bind(owner)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(Reply::Job(row.as_ref().map(job_row)))
        }
        Op::ClaimDue {
            owner,
            lease_until,
            limit,
        } => {
            let now = unix_millis();
            let rows = sqlx::query(
                "UPDATE hook_jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,
                                      lease_until = ?, updated_at = ?
                 WHERE job_id IN (
                     SELECT job_id FROM hook_jobs
                     WHERE (status IN ('pending', 'failed') AND next_attempt_at <= ?
                            AND (lease_until IS NULL OR lease_until < ?))
                        OR (status = 'running' AND lease_until < ?)
                     ORDER BY next_attempt_at
                     LIMIT ?)
                 RETURNING *",
            )
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(now)
            .bind(now)
            .bind(now)
            .bind(*limit as i64)
            .fetch_all(&mut *conn)
            .await?;
            Ok(Reply::Jobs(rows.iter().map(job_row).collect()))
        }
        Op::ReleaseAllLeases => {
            // A job caught mid-attempt by the crash counts as a failed attempt.
            let done = sqlx::query(
                "UPDATE hook_jobs SET lease_until = 0,
                        status = CASE status WHEN 'running' THEN 'failed' ELSE status END,
                        outcome = CASE status WHEN 'running' THEN 'error' ELSE outcome END,
                        last_error = CASE status WHEN 'running' THEN 'interrupted: server restarted'
                                     ELSE last_error END
                 WHERE status IN ('pending', 'running', 'failed')",
            )
            .execute(&mut *conn)
            .await?;
            Ok(Reply::Count(done.rows_affected()))
        }
        Op::FinishJob { job_id, attempt } => {
            let now = unix_millis();
            sqlx::query(
                "UPDATE hook_jobs SET status = ?, outcome = ?, last_error = ?, next_attempt_at = ?,
                                      lease_until = NULL, updated_at = ?,
                                      attempt_errors = CASE WHEN ? IS NULL THEN attempt_errors
                                          ELSE json_insert(attempt_errors, '$[#]', json_object(
                                              'attempt', attempts, 'outcome', ?, 'error', ?, 'at', ?))
                                          END
                 WHERE job_id = ?",
            )
            .bind(attempt.status)
            .bind(attempt.outcome)
            .bind(&attempt.error)
            .bind(attempt.next_attempt_at)
            .bind(now)
            .bind(&attempt.error)
            .bind(attempt.outcome)
            .bind(&attempt.error)
            .bind(now)
            .bind(job_id)
            .execute(&mut *conn)
            .await?;
            Ok(Reply::Done)
        }
        Op::RetryJob(job_id) => {
            let now = unix_millis();
            let retried = sqlx::query(
                "UPDATE hook_jobs SET status = 'pending', next_attempt_at = ?, lease_owner = NULL,
                                      lease_until = NULL, max_attempts = MAX(max_attempts, attempts + 1),
                                      updated_at = ?
                 WHERE job_id = ? AND status IN ('failed', 'dead')
                 RETURNING *",
            )
            .bind(now)
            .bind(now)
            .bind(job_id)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = retried {
                return Ok(Reply::Retried(Some((true, job_row(&row)))));
            }
            let row = sqlx::query("SELECT * FROM hook_jobs WHERE job_id = ?")
                .bind(job_id)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(Reply::Retried(row.map(|r| (false, job_row(&r)))))
        }
        Op::CreateSession(view) => create_session(conn, view).await.map(Reply::Session),
        Op::DeleteSessions(keys) => delete_sessions(conn, keys).await.map(Reply::Deleted),
        Op::UpdateSession { session_id, update } => {
            let row = sqlx::query(
                "UPDATE sessions SET session_name = coalesce(?, session_name),
                                     session_state = coalesce(?, session_state),
                                     metadata = coalesce(?, metadata),
                                     summary = coalesce(?, summary),
                                     updated_at = ?
                 WHERE session_id = ?
                 RETURNING *",
            )
            .bind(&update.session_name)
            .bind(&update.session_state)
            .bind(&update.metadata)
            .bind(&update.summary)
            .bind(unix_millis())
            .bind(session_id)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(Reply::Session(row.as_ref().map(session_view_row)))
        }
    }
}

/// Inserts a session created before any run, unless its id is taken.
async fn create_session(
    conn: &mut SqliteConnection,
    v: &SessionView,
) -> Result<Option<SessionView>, StoreError> {
    let s = &v.session;
    let row = sqlx::query(
        "INSERT INTO sessions (session_id, session_type, component_id, user_id, session_name,
                               session_state, metadata, summary, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (session_id) DO NOTHING
         RETURNING *",
    )
    .bind(&s.session_id)
    .bind(&s.session_type)
    .bind(&s.component_id)
    .bind(&s.user_id)
    .bind(&s.session_name)
    .bind(&s.session_state)
    .bind(&v.metadata)
    .bind(&v.summary)
    .bind(s.created_at)
    .bind(s.updated_at)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().map(session_view_row))
}

/// Deletes the sessions `keys` name (when type and user match) with their runs, run events
/// and idempotency keys, unless one of them has a run still in progress.
async fn delete_sessions(
    conn: &mut SqliteConnection,
    keys: &[SessionKey],
) -> Result<SessionsDeleted, StoreError> {
    let mut found: Vec<String> = Vec::new();
    let mut busy = Vec::new();
    for key in keys {
        let row = sqlx::query(
            "SELECT session_id,
                    EXISTS (SELECT 1 FROM runs WHERE runs.session_id = sessions.session_id
                            AND status IN ('RUNNING', 'PENDING')) AS busy
             FROM sessions
             WHERE session_id = ? AND (? IS NULL OR session_type = ?) AND (? IS NULL OR user_id = ?)",
        )
        .bind(&key.session_id)
        .bind(&key.session_type)
        .bind(&key.session_type)
        .bind(&key.user_id)
        .bind(&key.user_id)
        .fetch_optional(&mut *conn)
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
        for table in ["run_events", "idempotency_keys"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM runs WHERE session_id = ?)"
            ))
            .bind(session_id)
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query("DELETE FROM runs WHERE session_id = ?")
            .bind(session_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE session_id = ?")
            .bind(session_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(SessionsDeleted {
        deleted: found,
        busy: Vec::new(),
    })
}

async fn begin_run(
    conn: &mut SqliteConnection,
    s: &SessionRecord,
    r: &RunRecord,
    key: Option<&IdempotencyKey>,
    owner: &str,
) -> Result<BeginRun, StoreError> {
    if let Some(k) = key {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND expires_at <= ?")
            .bind(&k.scope)
            .bind(&k.key)
            .bind(r.created_at)
            .execute(&mut *conn)
            .await?;
        let existing = sqlx::query(
            "SELECT runs.* FROM idempotency_keys JOIN runs USING (run_id)
             WHERE idempotency_keys.scope = ? AND idempotency_keys.key = ?",
        )
        .bind(&k.scope)
        .bind(&k.key)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = existing {
            return Ok(BeginRun::Existing(run_row(&row)));
        }
    }
    let row = sqlx::query(
        "INSERT INTO sessions (session_id, session_type, component_id, user_id, session_name,
                               session_state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at
         RETURNING *",
    )
    .bind(&s.session_id)
    .bind(&s.session_type)
    .bind(&s.component_id)
    .bind(&s.user_id)
    .bind(&s.session_name)
    .bind(&s.session_state)
    .bind(s.created_at)
    .bind(s.updated_at)
    .fetch_one(&mut *conn)
    .await?;
    let mut stored = session_row(&row);
    if stored.completed_by_first_run(s) {
        // A session created empty: the first run names its component and, if need be, its name.
        let row = sqlx::query(
            "UPDATE sessions
             SET component_id = CASE WHEN component_id = '' THEN ? ELSE component_id END,
                 session_name = coalesce(session_name, ?)
             WHERE session_id = ?
             RETURNING *",
        )
        .bind(&s.component_id)
        .bind(&s.session_name)
        .bind(&s.session_id)
        .fetch_one(&mut *conn)
        .await?;
        stored = session_row(&row);
    }
    if stored.session_type != s.session_type || stored.component_id != s.component_id {
        return Err(StoreError::SessionConflict(s.session_id.clone()));
    }
    sqlx::query(
        "INSERT INTO runs (run_id, session_id, component_type, component_id, user_id, status,
                           input, output, error, created_at, updated_at, owner_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.run_id)
    .bind(&r.session_id)
    .bind(&r.component_type)
    .bind(&r.component_id)
    .bind(&r.user_id)
    .bind(r.status.as_str())
    .bind(&r.input)
    .bind(&r.output)
    .bind(&r.error)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(owner)
    .execute(&mut *conn)
    .await?;
    if let Some(k) = key {
        sqlx::query("INSERT INTO idempotency_keys (scope, key, run_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&k.scope)
            .bind(&k.key)
            .bind(&r.run_id)
            .bind(r.created_at)
            .bind(k.expires_at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(BeginRun::Started(stored))
}

async fn finish_run(
    conn: &mut SqliteConnection,
    run_id: &str,
    status: RunStatus,
    output: &str,
    error: Option<&str>,
    jobs: &[NewHookJob],
) -> Result<(), StoreError> {
    let now = unix_millis();
    let updated = sqlx::query(
        "UPDATE runs SET status = ?, output = ?, error = ?, updated_at = ? WHERE run_id = ?",
    )
    .bind(status.as_str())
    .bind(output)
    .bind(error)
    .bind(now)
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(StoreError::Config(format!(
            "run {run_id} is not in the database"
        )));
    }
    for job in jobs {
        sqlx::query(
            "INSERT INTO hook_jobs (job_id, run_id, hook_name, payload, status, attempts,
                                    max_attempts, next_attempt_at, lease_owner, lease_until,
                                    created_at, updated_at)
             VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&job.job_id)
        .bind(&job.run_id)
        .bind(&job.hook_name)
        .bind(&job.payload)
        .bind(job.max_attempts as i64)
        .bind(now)
        .bind(&job.lease_owner)
        .bind(job.lease_until)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Runs and hook job leases of processes whose owner lease is missing or expired at `now`.
async fn reconcile_dead(
    conn: &mut SqliteConnection,
    error: &str,
    now: i64,
) -> Result<Reconciled, StoreError> {
    const DEAD: &str = "NOT EXISTS (SELECT 1 FROM run_owners o
                                    WHERE o.owner_id = {owner} AND o.lease_until >= ?)";
    let runs = sqlx::query(&format!(
        "UPDATE runs SET status = 'ERROR', error = ?, updated_at = ?
         WHERE status IN ('RUNNING', 'PENDING') AND {}",
        DEAD.replace("{owner}", "runs.owner_id")
    ))
    .bind(error)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let jobs = sqlx::query(&format!(
        "UPDATE hook_jobs SET lease_until = 0
         WHERE status IN ('pending', 'running', 'failed') AND lease_until > ? AND {}",
        DEAD.replace("{owner}", "hook_jobs.lease_owner")
    ))
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM run_owners WHERE lease_until < ?")
        .bind(now - OWNER_ROW_TTL_MS)
        .execute(&mut *conn)
        .await?;
    Ok(Reconciled {
        runs_failed: runs.rows_affected(),
        jobs_released: jobs.rows_affected(),
    })
}

/// A dead process's lease row is forgotten a day after it expired (its runs are long
/// reconciled by then; a missing row counts as dead anyway).
const OWNER_ROW_TTL_MS: i64 = 24 * 3600 * 1000;

/// Adds rows to a run's replay log; rows already there are kept.
async fn append_events(
    conn: &mut SqliteConnection,
    run_id: &str,
    events: &[(i64, String)],
) -> Result<(), StoreError> {
    for (index, event) in events {
        sqlx::query(
            "INSERT INTO run_events (run_id, event_index, event) VALUES (?, ?, ?)
             ON CONFLICT (run_id, event_index) DO NOTHING",
        )
        .bind(run_id)
        .bind(index)
        .bind(event)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
