//! The single SQLite writer: one connection, which a thread of its own owns while the store is
//! busy. That thread commits whatever is queued in one transaction (group commit): writers never
//! contend for SQLite's lock, and under load a commit carries many runs. While the store is idle
//! (at most one run in flight, nothing queued) a task on the runtime commits instead, sparing
//! each write two thread switches; it too commits together the writes that reach it in one
//! pass of the runtime. Either way a caller's write is answered only after its transaction
//! committed.
//!
//! The writer runs its statements itself, through rusqlite. The readers use sqlx, whose SQLite
//! connections execute each statement on a worker thread of their own: a write of five
//! statements (`BEGIN`, two `INSERT`s, ..., `COMMIT`) crossed threads ten times, each a futex
//! wake-up that dominated a lightly loaded server's CPU per run and the latency of its two
//! writes. Here a batch crosses once each way, however many statements, and an idle store's
//! write not at all.

use crate::run::{RunStatus, unix_millis};
use crate::store::{
    BeginRun, HookJobRecord, IdempotencyKey, JobAttempt, NewHookJob, Reconciled, RunRecord,
    SessionRecord, StoreError,
};
use crate::store::{SessionKey, SessionUpdate, SessionView, SessionsDeleted};
use crate::store::{needs_run_output, restored_hook_payload};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
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

/// The handle the store keeps: a queue into the writer thread, and one into the task that
/// commits on the runtime while the store is idle.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<(Op, Answer)>,
    idle: mpsc::UnboundedSender<(Op, Answer)>,
    shared: Arc<Shared>,
}

/// What the writer thread, the idle committer and the callers share.
#[derive(Debug)]
struct Shared {
    /// The one write connection: the thread or the idle committer holds it for a batch.
    conn: Mutex<Connection>,
    /// Writes sent to the thread and not yet committed.
    queued: AtomicUsize,
    /// Runs begun and not yet finished, as far as the writes they made tell.
    runs: AtomicUsize,
    /// Transactions committed (or tried) so far.
    commits: AtomicUsize,
}

impl Writer {
    /// Starts the writer thread on `conn`, and the idle committer on the current runtime; they
    /// end (closing `conn`) when every handle is dropped.
    pub(super) fn start(conn: Connection) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let (idle, idle_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            queued: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
        });
        tokio::spawn(commit_idle(Arc::clone(&shared), idle_rx, tx.clone()));
        let thread = Arc::clone(&shared);
        (
            Writer { tx, idle, shared },
            tokio::task::spawn_blocking(move || run(thread, rx)),
        )
    }

    /// Commits `op`, and returns once it is committed.
    ///
    /// While the store is idle (at most one run in flight, nothing queued for the thread) the
    /// write goes to the idle committer, a task on the runtime: a server running one request at
    /// a time then commits without the two thread switches a write through the thread costs,
    /// and writes made in the same pass of the runtime (a run's two hooks ending together)
    /// still share a commit. With more runs in flight every write goes to the thread: while
    /// the runtime thread works through ready tasks, theirs queue up and share a commit there
    /// (at c=64 with the 50 ms delay, a third of a commit per run, against 0.9 when each write
    /// that found the store idle committed alone).
    pub(super) async fn write(&self, op: Op) -> Result<Reply, StoreError> {
        let (begins, finishes) = (
            matches!(op, Op::BeginRun { .. }),
            matches!(op, Op::FinishRun { .. }),
        );
        let shared = &*self.shared;
        let idle =
            shared.runs.load(Ordering::Relaxed) <= 1 && shared.queued.load(Ordering::Acquire) == 0;
        let reply = if idle {
            let (answer, reply) = oneshot::channel();
            match self.idle.send((op, answer)) {
                Ok(()) => reply.await.map_err(|_| closed()).and_then(|r| r),
                // The runtime the committer ran on is gone: the thread still takes writes.
                Err(mpsc::error::SendError((op, _))) => self.write_queued(op).await,
            }
        } else {
            self.write_queued(op).await
        };
        let runs = &shared.runs;
        if begins && matches!(reply, Ok(Reply::Begin(BeginRun::Started(_)))) {
            runs.fetch_add(1, Ordering::Relaxed);
        } else if finishes {
            let _ = runs.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
        reply
    }

    /// A [`WriteLock`] on this writer's connection.
    pub(super) fn write_lock(&self) -> WriteLock {
        WriteLock(Arc::downgrade(&self.shared))
    }

    /// Sends `op` to the writer thread and waits for its commit.
    async fn write_queued(&self, op: Op) -> Result<Reply, StoreError> {
        let (answer, reply) = oneshot::channel();
        if send_queued(&self.shared, &self.tx, (op, answer))
            .await
            .is_err()
        {
            return Err(closed());
        }
        reply.await.map_err(|_| closed())?
    }
}

/// The write connection, for the checkpointer to finish a checkpoint on it with every write held
/// off. It does not keep the writer alive.
#[derive(Debug, Clone)]
pub(super) struct WriteLock(Weak<Shared>);

impl WriteLock {
    /// How many transactions the writer has committed (or tried) so far; 0 once it is gone.
    pub(super) fn commits(&self) -> usize {
        self.0
            .upgrade()
            .map_or(0, |shared| shared.commits.load(Ordering::Acquire))
    }

    /// Checkpoints the WAL on the write connection while holding it, so that no commit adds
    /// frames meanwhile: the checkpoint reaches the end of the WAL (unless a reader still
    /// reads an older snapshot), and the next commit starts the WAL over from its beginning.
    /// Does nothing once the writer is gone.
    pub(super) async fn checkpoint(&self) -> Result<(), StoreError> {
        let Some(shared) = self.0.upgrade() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || {
            let conn = shared.conn.lock().unwrap_or_else(|p| p.into_inner());
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Config(format!("the checkpoint task failed: {e}")))?
    }
}

/// Queues a write for the writer thread; `Err` when the thread is gone.
async fn send_queued(
    shared: &Shared,
    tx: &mpsc::Sender<(Op, Answer)>,
    write: (Op, Answer),
) -> Result<(), ()> {
    shared.queued.fetch_add(1, Ordering::AcqRel);
    if tx.send(write).await.is_err() {
        shared.queued.fetch_sub(1, Ordering::AcqRel);
        return Err(());
    }
    Ok(())
}

/// The idle committer: commits the writes sent to it on the runtime thread it runs on. Woken
/// by a write, it first lets the tasks ready in the same pass run (`yield_now` resumes it after
/// them), so that the writes they make share its commit. Should the thread hold the connection
/// (a write queued there since), the batch goes to the thread instead of waiting for it here.
async fn commit_idle(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<(Op, Answer)>,
    thread: mpsc::Sender<(Op, Answer)>,
) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        tokio::task::yield_now().await;
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        let replies = shared
            .conn
            .try_lock()
            .ok()
            .map(|mut conn| commit(&shared, &mut conn, &batch));
        if let Some(replies) = replies {
            answer(&mut batch, replies);
        }
        for write in batch.drain(..) {
            // The thread is gone only once every handle is, and then so is the caller.
            let _ = send_queued(&shared, &thread, write).await;
        }
    }
}

fn closed() -> StoreError {
    StoreError::Config("the database is closed".to_owned())
}

/// Opens the writer's connection to the database at `path` (already created and migrated).
/// The writer never checkpoints on its own commit path (a background task does, holding this
/// connection only to copy the last frames: see `checkpoint` in the parent module), and it
/// touches the hot pages of every table: a page cache of 2 MiB. Temporary storage (statement
/// journals, `RETURNING` and sort tables) stays in memory: a server near its open-files limit
/// (10,000 in-flight runs hold ~20,000 sockets) must not fail a write for want of a temp file.
pub(super) fn open(path: &std::path::Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA wal_autocheckpoint = 0;
         PRAGMA cache_size = -2048;
         PRAGMA temp_store = MEMORY;",
    )?;
    // Every statement below stays prepared.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<(Op, Answer)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_batch = 0;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        // Under load (the last commit carried several writes) the first write woke this thread
        // at once, ahead of the runtime threads about to queue more: step aside once so they
        // do, and one commit carries them all (about five writes per commit at c=1,024). At
        // low load nobody else is runnable and the yield returns at once.
        if last_batch > 1 {
            std::thread::yield_now();
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        last_batch = batch.len();
        // A panic while the lock was held left the connection as SQLite left it: usable.
        let mut conn = shared.conn.lock().unwrap_or_else(|p| p.into_inner());
        let replies = commit(&shared, &mut conn, &batch);
        drop(conn);
        shared.queued.fetch_sub(batch.len(), Ordering::AcqRel);
        answer(&mut batch, replies);
    }
    // Every handle is gone, so this thread holds the last reference to the connection.
    if let Ok(shared) = Arc::try_unwrap(shared) {
        let conn = shared.conn.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Err((_, e)) = conn.close() {
            tracing::warn!(error = %e, "closing the writer connection");
        }
    }
}

/// Commits the batch in one transaction, and counts the commit; the replies, in the batch's
/// order.
fn commit(
    shared: &Shared,
    conn: &mut Connection,
    batch: &[(Op, Answer)],
) -> Vec<Result<Reply, StoreError>> {
    let replies = match apply_batch(conn, batch.iter().map(|(op, _)| op)) {
        Ok(replies) => replies,
        // The shared transaction failed as a whole (a failed commit, or a statement error
        // that may have rolled it back): redo each write in a transaction of its own, so
        // one bad write fails alone.
        Err(e) => {
            tracing::warn!(error = %e, writes = batch.len(), "group commit failed; retrying writes one by one");
            batch.iter().map(|(op, _)| apply_one(conn, op)).collect()
        }
    };
    shared.commits.fetch_add(1, Ordering::Release);
    replies
}

/// Sends each write of the batch its reply (emptying `batch`).
fn answer(batch: &mut Vec<(Op, Answer)>, replies: Vec<Result<Reply, StoreError>>) {
    for ((_, answer), reply) in batch.drain(..).zip(replies) {
        let _ = answer.send(reply);
    }
}

/// Applies one write in a transaction of its own.
fn apply_one(conn: &mut Connection, op: &Op) -> Result<Reply, StoreError> {
    match apply_batch(conn, std::iter::once(op)) {
        Ok(mut replies) => replies.pop().unwrap_or(Ok(Reply::Done)),
        Err(e) => Err(e),
    }
}

/// Applies the writes in one transaction. A write's own refusal (a session conflict) is its
/// reply; a database error fails the whole batch.
fn apply_batch<'a>(
    conn: &mut Connection,
    ops: impl Iterator<Item = &'a Op>,
) -> Result<Vec<Result<Reply, StoreError>>, StoreError> {
    let tx = conn.transaction()?;
    let mut replies = Vec::with_capacity(ops.size_hint().0);
    for op in ops {
        match apply(&tx, op) {
            Err(StoreError::Sqlite(e)) => return Err(StoreError::Sqlite(e)),
            other => replies.push(other),
        }
    }
    tx.commit()?;
    Ok(replies)
}

fn apply(conn: &Connection, op: &Op) -> Result<Reply, StoreError> {
    match op {
        Op::BeginRun {
            session,
            run,
            key,
            owner,
        } => begin_run(conn, session, run, key.as_ref(), owner).map(Reply::Begin),
        Op::RenewOwner { owner, lease_until } => {
            conn.prepare_cached(
                "INSERT INTO run_owners (owner_id, lease_until) VALUES (?, ?)
                 ON CONFLICT (owner_id) DO UPDATE SET lease_until = excluded.lease_until",
            )?
            .execute(params![owner, lease_until])?;
            Ok(Reply::Done)
        }
        Op::ReconcileDead { error, now } => {
            reconcile_dead(conn, error, *now).map(Reply::Reconciled)
        }
        Op::FinishRun {
            run_id,
            status,
            output,
            error,
            jobs,
        } => finish_run(conn, run_id, *status, output, error.as_deref(), jobs).map(|_| Reply::Done),
        Op::StartBackground { run_id, request } => {
            conn.prepare_cached(
                "UPDATE runs SET status = 'RUNNING', background = 1, request = ?, updated_at = ?
                 WHERE run_id = ? AND status IN ('PENDING', 'RUNNING')",
            )?
            .execute(params![request, unix_millis(), run_id])?;
            Ok(Reply::Done)
        }
        Op::Checkpoint {
            run_id,
            checkpoint,
            events,
        } => {
            conn.prepare_cached("UPDATE runs SET checkpoint = ?, updated_at = ? WHERE run_id = ?")?
                .execute(params![checkpoint, unix_millis(), run_id])?;
            append_events(conn, run_id, events)?;
            Ok(Reply::Done)
        }
        Op::AppendEvents { run_id, events } => {
            append_events(conn, run_id, events)?;
            Ok(Reply::Done)
        }
        Op::FailInterrupted(error) => {
            let done = conn
                .prepare_cached(
                    "UPDATE runs SET status = 'ERROR', error = ?, updated_at = ?
                     WHERE status IN ('RUNNING', 'PENDING')
                       AND NOT (background = 1 AND request IS NOT NULL)",
                )?
                .execute(params![error, unix_millis()])?;
            Ok(Reply::Count(done as u64))
        }
        Op::ClaimJob {
            job_id,
            owner,
            lease_until,
        } => {
            let now = unix_millis();
            let job = conn
                .prepare_cached(
                    "UPDATE hook_jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,
                                          lease_until = ?, updated_at = ?
                     WHERE job_id = ? AND status IN ('pending', 'failed')
                       AND (lease_owner = ? OR lease_until IS NULL OR lease_until < ?)
                     RETURNING *",
                )?
                .query_row(params![owner, lease_until, now, job_id, owner, now], job_of)
                .optional()?;
            Ok(Reply::Job(
                job.map(|job| with_run_output(conn, job)).transpose()?,
            ))
        }
        Op::ClaimDue {
            owner,
            lease_until,
            limit,
        } => {
            let now = unix_millis();
            let mut statement = conn.prepare_cached(
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
            )?;
            let jobs = statement
                .query_map(
                    params![owner, lease_until, now, now, now, now, *limit as i64],
                    job_of,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let jobs = jobs
                .into_iter()
                .map(|job| with_run_output(conn, job))
                .collect::<Result<_, _>>()?;
            Ok(Reply::Jobs(jobs))
        }
        Op::ReleaseAllLeases => {
            // A job caught mid-attempt by the crash counts as a failed attempt.
            let done = conn
                .prepare_cached(
                    "UPDATE hook_jobs SET lease_until = 0,
                            status = CASE status WHEN 'running' THEN 'failed' ELSE status END,
                            outcome = CASE status WHEN 'running' THEN 'error' ELSE outcome END,
                            last_error = CASE status WHEN 'running' THEN 'interrupted: server restarted'
                                         ELSE last_error END
                     WHERE status IN ('pending', 'running', 'failed')",
                )?
                .execute([])?;
            Ok(Reply::Count(done as u64))
        }
        Op::FinishJob { job_id, attempt } => {
            let now = unix_millis();
            conn.prepare_cached(
                "UPDATE hook_jobs SET status = ?, outcome = ?, last_error = ?, next_attempt_at = ?,
                                      lease_until = NULL, updated_at = ?,
                                      attempt_errors = CASE WHEN ? IS NULL THEN attempt_errors
                                          ELSE json_insert(attempt_errors, '$[#]', json_object(
                                              'attempt', attempts, 'outcome', ?, 'error', ?, 'at', ?))
                                          END
                 WHERE job_id = ?",
            )?
            .execute(params![
                attempt.status,
                attempt.outcome,
                attempt.error,
                attempt.next_attempt_at,
                now,
                attempt.error,
                attempt.outcome,
                attempt.error,
                now,
                job_id
            ])?;
            Ok(Reply::Done)
        }
        Op::RetryJob(job_id) => {
            let now = unix_millis();
            let retried = conn
                .prepare_cached(
                    "UPDATE hook_jobs SET status = 'pending', next_attempt_at = ?, lease_owner = NULL,
                                          lease_until = NULL, max_attempts = MAX(max_attempts, attempts + 1),
                                          updated_at = ?
                     WHERE job_id = ? AND status IN ('failed', 'dead')
                     RETURNING *",
                )?
                .query_row(params![now, now, job_id], job_of)
                .optional()?;
            if let Some(job) = retried {
                return Ok(Reply::Retried(Some((true, job))));
            }
            let job = conn
                .prepare_cached("SELECT * FROM hook_jobs WHERE job_id = ?")?
                .query_row(params![job_id], job_of)
                .optional()?;
            Ok(Reply::Retried(job.map(|j| (false, j))))
        }
        Op::CreateSession(view) => create_session(conn, view).map(Reply::Session),
        Op::DeleteSessions(keys) => delete_sessions(conn, keys).map(Reply::Deleted),
        Op::UpdateSession { session_id, update } => {
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
                    session_view_of,
                )
                .optional()?;
            Ok(Reply::Session(view))
        }
    }
}

/// Inserts a session created before any run, unless its id is taken.
fn create_session(conn: &Connection, v: &SessionView) -> Result<Option<SessionView>, StoreError> {
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
            session_view_of,
        )
        .optional()?;
    Ok(view)
}

/// Deletes the sessions `keys` name (when type and user match) with their runs, run events
/// and idempotency keys, unless one of them has a run still in progress.
fn delete_sessions(conn: &Connection, keys: &[SessionKey]) -> Result<SessionsDeleted, StoreError> {
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
        inline_job_outputs(conn, session_id)?;
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

/// A claimed job with the agent output its run holds put back into its payload, if the payload
/// left it there (see [`crate::store::inline_run_output`]). If that output is gone the payload
/// stays as it is, and the dispatcher records the job dead.
fn with_run_output(conn: &Connection, mut job: HookJobRecord) -> Result<HookJobRecord, StoreError> {
    if !needs_run_output(&job.payload) {
        return Ok(job);
    }
    let output: Option<String> = conn
        .prepare_cached("SELECT output FROM runs WHERE run_id = ?")?
        .query_row(params![job.run_id], |row| row.get(0))
        .optional()?
        .flatten();
    if let Some(payload) = restored_hook_payload(&job.job_id, &job.payload, output.as_deref()) {
        job.payload = payload;
    }
    Ok(job)
}

/// Puts the agent outputs that a session's runs hold back into the payloads of their hook jobs
/// that may still run, before the runs are deleted (see [`crate::store::inline_run_output`]).
fn inline_job_outputs(conn: &Connection, session_id: &str) -> Result<(), StoreError> {
    let jobs = conn
        .prepare_cached(
            "SELECT j.job_id, j.payload, r.output FROM runs r JOIN hook_jobs j ON j.run_id = r.run_id
             WHERE r.session_id = ? AND j.status <> 'done'",
        )?
        .query_map(params![session_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (job_id, payload, output) in jobs {
        if let Some(payload) = restored_hook_payload(&job_id, &payload, output.as_deref()) {
            conn.prepare_cached("UPDATE hook_jobs SET payload = ? WHERE job_id = ?")?
                .execute(params![payload, job_id])?;
        }
    }
    Ok(())
}

fn begin_run(
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
            .query_row(params![k.scope, k.key], run_of)
            .optional()?;
        if let Some(run) = existing {
            return Ok(BeginRun::Existing(run));
        }
    }
    // A session of another type or component is left as it is (a refused run changes nothing,
    // though the batch it is part of commits): the upsert then returns no row. Any row it
    // returns is of the run's type and component, or has no component yet, which completing
    // it below sets to the run's.
    let stored = conn
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
            session_of,
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
            .query_row(
                params![s.component_id, s.session_name, s.session_id],
                session_of,
            )?;
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
        r.status.as_str(),
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

fn finish_run(
    conn: &Connection,
    run_id: &str,
    status: RunStatus,
    output: &str,
    error: Option<&str>,
    jobs: &[NewHookJob],
) -> Result<(), StoreError> {
    let now = unix_millis();
    let updated = conn
        .prepare_cached(
            "UPDATE runs SET status = ?, output = ?, error = ?, updated_at = ? WHERE run_id = ?",
        )?
        .execute(params![status.as_str(), output, error, now, run_id])?;
    if updated != 1 {
        return Err(StoreError::Config(format!(
            "run {run_id} is not in the database"
        )));
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO hook_jobs (job_id, run_id, hook_name, payload, status, attempts,
                                max_attempts, next_attempt_at, lease_owner, lease_until,
                                created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    for job in jobs {
        let (status, attempts) = job.initial_state();
        insert.execute(params![
            job.job_id,
            job.run_id,
            job.hook_name,
            job.payload,
            status,
            attempts,
            job.max_attempts as i64,
            now,
            job.lease_owner,
            job.lease_until,
            now,
            now
        ])?;
    }
    Ok(())
}

/// Runs and hook job leases of processes whose owner lease is missing or expired at `now`.
fn reconcile_dead(conn: &Connection, error: &str, now: i64) -> Result<Reconciled, StoreError> {
    const DEAD: &str = "NOT EXISTS (SELECT 1 FROM run_owners o
                                    WHERE o.owner_id = {owner} AND o.lease_until >= ?)";
    let runs = conn
        .prepare_cached(&format!(
            "UPDATE runs SET status = 'ERROR', error = ?, updated_at = ?
             WHERE status IN ('RUNNING', 'PENDING') AND {}",
            DEAD.replace("{owner}", "runs.owner_id")
        ))?
        .execute(params![error, now, now])?;
    let jobs = conn
        .prepare_cached(&format!(
            "UPDATE hook_jobs SET lease_until = 0
             WHERE status IN ('pending', 'running', 'failed') AND lease_until > ? AND {}",
            DEAD.replace("{owner}", "hook_jobs.lease_owner")
        ))?
        .execute(params![now, now])?;
    conn.prepare_cached("DELETE FROM run_owners WHERE lease_until < ?")?
        .execute(params![now - OWNER_ROW_TTL_MS])?;
    Ok(Reconciled {
        runs_failed: runs as u64,
        jobs_released: jobs as u64,
    })
}

/// A dead process's lease row is forgotten a day after it expired (its runs are long
/// reconciled by then; a missing row counts as dead anyway).
const OWNER_ROW_TTL_MS: i64 = 24 * 3600 * 1000;

/// Adds rows to a run's replay log; rows already there are kept.
fn append_events(
    conn: &Connection,
    run_id: &str,
    events: &[(i64, String)],
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO run_events (run_id, event_index, event) VALUES (?, ?, ?)
         ON CONFLICT (run_id, event_index) DO NOTHING",
    )?;
    for (index, event) in events {
        insert.execute(params![run_id, index, event])?;
    }
    Ok(())
}

// The rows the writer reads back (`RETURNING *`), as the readers' sqlx rows are read in
// `super`: the same columns, through rusqlite.

fn session_of(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        session_id: row.get("session_id")?,
        session_type: row.get("session_type")?,
        component_id: row.get("component_id")?,
        user_id: row.get("user_id")?,
        session_name: row.get("session_name")?,
        session_state: row.get("session_state")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn session_view_of(row: &Row<'_>) -> rusqlite::Result<SessionView> {
    Ok(SessionView {
        session: session_of(row)?,
        metadata: row.get("metadata")?,
        summary: row.get("summary")?,
    })
}

fn run_of(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        run_id: row.get("run_id")?,
        session_id: row.get("session_id")?,
        component_type: row.get("component_type")?,
        component_id: row.get("component_id")?,
        user_id: row.get("user_id")?,
        status: RunStatus::parse(&row.get::<_, String>("status")?),
        input: row.get("input")?,
        output: row.get("output")?,
        error: row.get("error")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn job_of(row: &Row<'_>) -> rusqlite::Result<HookJobRecord> {
    Ok(HookJobRecord {
        job_id: row.get("job_id")?,
        run_id: row.get("run_id")?,
        hook_name: row.get("hook_name")?,
        payload: row.get("payload")?,
        status: row.get("status")?,
        attempts: row.get::<_, i64>("attempts")?.max(0) as u32,
        max_attempts: row.get::<_, i64>("max_attempts")?.max(0) as u32,
        outcome: row.get("outcome")?,
        last_error: row.get("last_error")?,
        attempt_errors: row.get("attempt_errors")?,
        next_attempt_at: row.get("next_attempt_at")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}
