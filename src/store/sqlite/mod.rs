//! [`SqliteStore`]: the embedded default. WAL mode, a busy timeout, migrations at open, a pool
//! of readers and a single writer connection, owned by a thread of its own while the store is
//! busy (group commit).

mod writer;

use super::{
    BeginRun, HookJobRecord, IdempotencyKey, JobAttempt, JobFilter, NewHookJob, Reconciled,
    ResumableRun, RunRecord, SessionRecord, Store, StoreError,
};
use super::{SessionFilter, SessionKey, SessionUpdate, SessionView, SessionsDeleted};
use crate::run::RunStatus;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use writer::{Op, Reply, WriteLock, Writer};

/// SQLite storage: a pool of sqlx readers and one writer thread on rusqlite (group commit).
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Mutex<Option<Writer>>,
    writer_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    checkpointer: tokio::task::JoinHandle<()>,
    owner_id: String,
}

/// Copies the WAL into the database file once a second, or every 250 ms while the WAL fills
/// quickly, and has the WAL start over each time.
///
/// A checkpoint copies the frames the WAL held when it began; SQLite starts the WAL over only at
/// a commit that finds every frame copied. Under a steady stream of commits a checkpoint
/// running beside them never gets there, and the WAL grew by every frame written: ~100 MB a
/// second with one run in flight, without bound. See [`checkpoint`].
async fn checkpoint_every(pool: SqlitePool, writer: WriteLock) {
    let mut period = CHECKPOINT_PERIOD;
    loop {
        tokio::time::sleep(period).await;
        if pool.is_closed() {
            return;
        }
        match checkpoint(&pool, &writer).await {
            // A WAL past 64 MiB is cut back at its restart, on the commit path; checkpoints
            // that come sooner keep it under that, and their passes short.
            Ok(frames) if frames >= BUSY_WAL_FRAMES => period = CHECKPOINT_PERIOD / 4,
            Ok(_) => period = CHECKPOINT_PERIOD,
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// How often an idle or lightly written WAL is checkpointed.
const CHECKPOINT_PERIOD: Duration = Duration::from_secs(1);

/// A WAL that gained this many frames (16 MiB) since its last checkpoint is checkpointed again
/// sooner.
const BUSY_WAL_FRAMES: i64 = 4096;

/// Frames committed during a checkpoint pass that copied at most this many are few enough to
/// copy with the writes held off.
const SHORT_PASS: i64 = 1024;

/// One checkpoint that leaves the WAL to start over; returns how many frames the WAL held.
///
/// The passes run beside the commits (PASSIVE: they never block the writer), each copying what
/// was committed during the one before, until one is short (or after four). Unless they caught
/// up with every commit, a last pass then runs with the write connection held
/// ([`WriteLock::checkpoint`]): it reaches the end of the WAL, and the next commit starts the
/// WAL over. The WAL file is then rewritten in place rather than extended, which also costs
/// less: at one run in flight without the model's delay, ~15 % less CPU per run.
async fn checkpoint(pool: &SqlitePool, writer: &WriteLock) -> Result<i64, StoreError> {
    let commits = writer.commits();
    let (mut frames, mut copied_before, mut caught_up) = (0, 0, false);
    for pass in 0..4 {
        let (_, log, copied) =
            sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(pool)
                .await?;
        if pass == 0 {
            frames = log;
        }
        caught_up = copied == log;
        if log - copied_before <= SHORT_PASS {
            break;
        }
        copied_before = log;
    }
    // With no commit since the first pass began, the passes reached the end of the WAL: the
    // next commit starts it over without the write connection held (the lightly loaded case).
    if frames > 0 && !(caught_up && writer.commits() == commits) {
        writer.checkpoint().await?;
    }
    Ok(frames)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies `migrations/sqlite/`.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("journal_size_limit", "67108864")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // The writer never checkpoints on its own commit path: a background task does, once a
        // second or more often under load, so pages written many times in between are copied
        // to the database once.
        let conn = writer::open(path)?;
        let (writer, task) = Writer::start(conn);
        let checkpointer = tokio::spawn(checkpoint_every(pool.clone(), writer.write_lock()));
        Ok(SqliteStore {
            pool,
            writer: Mutex::new(Some(writer)),
            writer_task: Mutex::new(Some(task)),
            checkpointer,
            owner_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// The underlying pool of readers, for tests and tools.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn write(&self, op: Op) -> Result<Reply, StoreError> {
        // A poisoned lock only means a panic elsewhere while cloning a sender; the Option is intact.
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match writer {
            Some(w) => w.write(op).await,
            None => Err(StoreError::Config("the database is closed".to_owned())),
        }
    }
}

impl Drop for SqliteStore {
    /// A store dropped without [`Store::close`] stops its checkpointer, which holds a handle on
    /// the readers' pool: the database's files are closed once the last reader and the writer
    /// are gone.
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
}

/// A reply of the wrong kind: impossible, as each `Op` has one reply kind.
fn unexpected(reply: Reply) -> StoreError {
    StoreError::Config(format!("unexpected writer reply {reply:?}"))
}

fn session_row(row: &SqliteRow) -> SessionRecord {
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

fn session_view_row(row: &SqliteRow) -> SessionView {
    SessionView {
        session: session_row(row),
        metadata: row.get("metadata"),
        summary: row.get("summary"),
    }
}

fn run_row(row: &SqliteRow) -> RunRecord {
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

fn job_row(row: &SqliteRow) -> HookJobRecord {
    HookJobRecord {
        job_id: row.get("job_id"),
        run_id: row.get("run_id"),
        hook_name: row.get("hook_name"),
        payload: row.get("payload"),
        status: row.get("status"),
        attempts: row.get::<i64, _>("attempts").max(0) as u32,
        max_attempts: row.get::<i64, _>("max_attempts").max(0) as u32,
        outcome: row.get("outcome"),
        last_error: row.get("last_error"),
        attempt_errors: row.get("attempt_errors"),
        next_attempt_at: row.get("next_attempt_at"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn exclusive(&self) -> bool {
        true
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
        let op = Op::BeginRun {
            session: Box::new(s.clone()),
            run: Box::new(r.clone()),
            key: key.cloned(),
            owner: self.owner_id.clone(),
        };
        match self.write(op).await? {
            Reply::Begin(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE session_id = ?")
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
        let op = Op::FinishRun {
            run_id: run_id.to_owned(),
            status,
            output: output.to_owned(),
            error: error.map(str::to_owned),
            jobs,
        };
        self.write(op).await.map(|_| ())
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM runs WHERE run_id = ?")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(run_row))
    }

    async fn session_runs(&self, session_id: &str) -> Result<Vec<RunRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM runs WHERE session_id = ? ORDER BY created_at, rowid")
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
            "SELECT * FROM runs WHERE session_id = ? AND run_id <> ? AND status = 'COMPLETED'
             ORDER BY created_at DESC, rowid DESC LIMIT ?",
        )
        .bind(session_id)
        .bind(except)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().rev().map(run_row).collect())
    }

    async fn fail_interrupted_runs(&self, error: &str) -> Result<u64, StoreError> {
        match self.write(Op::FailInterrupted(error.to_owned())).await? {
            Reply::Count(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    async fn claim_job(
        &self,
        job_id: &str,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<HookJobRecord>, StoreError> {
        let op = Op::ClaimJob {
            job_id: job_id.to_owned(),
            owner: owner.to_owned(),
            lease_until,
        };
        match self.write(op).await? {
            Reply::Job(job) => Ok(job),
            other => Err(unexpected(other)),
        }
    }

    async fn claim_due_jobs(
        &self,
        owner: &str,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<HookJobRecord>, StoreError> {
        let op = Op::ClaimDue {
            owner: owner.to_owned(),
            lease_until,
            limit,
        };
        match self.write(op).await? {
            Reply::Jobs(jobs) => Ok(jobs),
            other => Err(unexpected(other)),
        }
    }

    async fn release_all_leases(&self) -> Result<u64, StoreError> {
        match self.write(Op::ReleaseAllLeases).await? {
            Reply::Count(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    async fn finish_job_attempt(
        &self,
        job_id: &str,
        attempt: &JobAttempt,
    ) -> Result<(), StoreError> {
        let op = Op::FinishJob {
            job_id: job_id.to_owned(),
            attempt: attempt.clone(),
        };
        self.write(op).await.map(|_| ())
    }

    async fn retry_job(&self, job_id: &str) -> Result<Option<(bool, HookJobRecord)>, StoreError> {
        match self.write(Op::RetryJob(job_id.to_owned())).await? {
            Reply::Retried(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn hook_jobs(&self, f: &JobFilter) -> Result<(Vec<HookJobRecord>, u64), StoreError> {
        const WHERE: &str = "WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR run_id = ?2)
                               AND (?3 IS NULL OR hook_name = ?3)";
        // One read transaction: the page and the count come from the same snapshot.
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT * FROM hook_jobs {WHERE} ORDER BY created_at, rowid LIMIT ?4 OFFSET ?5"
        ))
        .bind(&f.status)
        .bind(&f.run_id)
        .bind(&f.hook)
        .bind(f.limit as i64)
        .bind(f.offset as i64)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM hook_jobs {WHERE}"))
            .bind(&f.status)
            .bind(&f.run_id)
            .bind(&f.hook)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((rows.iter().map(job_row).collect(), total.max(0) as u64))
    }

    async fn renew_owner_lease(&self, lease_until: i64) -> Result<(), StoreError> {
        let op = Op::RenewOwner {
            owner: self.owner_id.clone(),
            lease_until,
        };
        self.write(op).await.map(|_| ())
    }

    async fn start_background_run(&self, run_id: &str, request: &str) -> Result<(), StoreError> {
        let op = Op::StartBackground {
            run_id: run_id.to_owned(),
            request: request.to_owned(),
        };
        self.write(op).await.map(|_| ())
    }

    async fn reconcile_dead_owners(&self, error: &str, now: i64) -> Result<Reconciled, StoreError> {
        let op = Op::ReconcileDead {
            error: error.to_owned(),
            now,
        };
        match self.write(op).await? {
            Reply::Reconciled(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn checkpoint_run(
        &self,
        run_id: &str,
        checkpoint: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError> {
        let op = Op::Checkpoint {
            run_id: run_id.to_owned(),
            checkpoint: checkpoint.to_owned(),
            events: events.to_vec(),
        };
        self.write(op).await.map(|_| ())
    }

    async fn resumable_runs(&self) -> Result<Vec<ResumableRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM runs WHERE background = 1 AND request IS NOT NULL
                AND status IN ('RUNNING', 'PENDING') ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| ResumableRun {
                run: run_row(row),
                request: row.get("request"),
                checkpoint: row.get("checkpoint"),
            })
            .collect())
    }

    async fn append_run_events(
        &self,
        run_id: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let op = Op::AppendEvents {
            run_id: run_id.to_owned(),
            events: events.to_vec(),
        };
        self.write(op).await.map(|_| ())
    }

    async fn run_events(&self, run_id: &str, after: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT event_index, event FROM run_events
             WHERE run_id = ? AND event_index > ? ORDER BY event_index",
        )
        .bind(run_id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn close(&self) {
        // Dropping the last sender ends the writer once the queue is empty.
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        let task = self
            .writer_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the database writer failed");
        }
        self.checkpointer.abort();
        // A last full checkpoint, so the database file alone holds everything.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "final WAL checkpoint failed");
        }
        self.pool.close().await;
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

    async fn session_view(&self, session_id: &str) -> Result<Option<SessionView>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE session_id = ?")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(session_view_row))
    }

    async fn create_session(&self, view: &SessionView) -> Result<Option<SessionView>, StoreError> {
        match self
            .write(Op::CreateSession(Box::new(view.clone())))
            .await?
        {
            Reply::Session(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    async fn delete_sessions(&self, keys: &[SessionKey]) -> Result<SessionsDeleted, StoreError> {
        match self.write(Op::DeleteSessions(keys.to_vec())).await? {
            Reply::Deleted(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }

    async fn update_session(
        &self,
        session_id: &str,
        update: &SessionUpdate,
    ) -> Result<Option<SessionView>, StoreError> {
        let op = Op::UpdateSession {
            session_id: session_id.to_owned(),
            update: update.clone(),
        };
        match self.write(op).await? {
            Reply::Session(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }
}
