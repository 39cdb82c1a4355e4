//! The single SQLite writer: one connection, which a thread of its own owns while the store is
//! busy. That thread commits whatever is queued in one transaction (group commit): writers never
//! contend for SQLite's lock, and under load a commit carries many runs. While the store is idle
//! (at most one run in flight, nothing queued) a task on the runtime commits instead, sparing
//! each write two thread switches; it too commits together the writes that reach it in one
//! pass of the runtime. Either way a caller's write is answered only after its transaction
//! committed.
//!
//! A write is a plain function of the connection, `Fn(&Connection) -> Result<R, StoreError>`,
//! submitted as a closure ([`Writer::write`]) and boxed once for the queue; its answer (of its
//! own type `R`) goes back through a oneshot channel. The domain modules (`runs.rs`,
//! `sessions.rs`, `jobs.rs`, ...) hold the functions; this module only queues and commits them.
//!
//! A write that fails with a database error fails its group's transaction: the group is then
//! redone write by write, each in a transaction of its own, so that the failing write fails
//! alone and the others commit. That is why a write is `Fn`, not `FnOnce`: it may run twice,
//! and the first run's effects are rolled back. (A savepoint per write would isolate a failure
//! without the redo, but SQLite copies each page a write touches into the savepoint's journal,
//! on every write of every group; the redo costs only when a write fails.) A write's own
//! refusal (any other error, such as a session conflict) is its answer and fails nothing else.
//!
//! The writer runs its statements itself, through rusqlite. The readers use sqlx, whose SQLite
//! connections execute each statement on a worker thread of their own: a write of five
//! statements (`BEGIN`, two `INSERT`s, ..., `COMMIT`) crossed threads ten times, each a futex
//! wake-up that dominated a lightly loaded server's CPU per run and the latency of its two
//! writes. Here a batch crosses once each way, however many statements, and an idle store's
//! write not at all.

use crate::store::StoreError;
use rusqlite::Connection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{mpsc, oneshot};

/// At most this many writes share one transaction.
const MAX_BATCH: usize = 256;

/// A write on its way to the connection.
type Write = Box<dyn Queued>;

/// A queued write, its answer's type erased so that every write shares one queue.
trait Queued: Send {
    /// Runs the write in the open transaction and keeps its answer. `Err` with the error (also
    /// kept as the answer) when it failed with a database error, which fails the transaction.
    fn apply(&mut self, conn: &Connection) -> Result<(), &StoreError>;
    /// The write's transaction could not begin or commit: that is its answer.
    fn fail(&mut self, error: rusqlite::Error);
    /// Sends the answer kept.
    fn answer(self: Box<Self>);
}

/// A write function, the answer of its last run, and where the answer goes.
struct Pending<F, R> {
    write: F,
    result: Option<Result<R, StoreError>>,
    answer: oneshot::Sender<Result<R, StoreError>>,
}

impl<F, R> Queued for Pending<F, R>
where
    F: Fn(&Connection) -> Result<R, StoreError> + Send,
    R: Send,
{
    fn apply(&mut self, conn: &Connection) -> Result<(), &StoreError> {
        match self.result.insert((self.write)(conn)) {
            Err(e @ StoreError::Sqlite(_)) => Err(e),
            _ => Ok(()),
        }
    }

    fn fail(&mut self, error: rusqlite::Error) {
        self.result = Some(Err(StoreError::Sqlite(error)));
    }

    fn answer(self: Box<Self>) {
        let _ = self
            .answer
            .send(self.result.unwrap_or_else(|| Err(closed())));
    }
}

/// The handle the store keeps: a queue into the writer thread, and one into the task that
/// commits on the runtime while the store is idle.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Write>,
    idle: mpsc::UnboundedSender<Write>,
    shared: Arc<Shared>,
}

/// What the writer thread, the idle committer and the callers share.
#[derive(Debug)]
struct Shared {
    /// The one write connection: the thread or the idle committer holds it for a batch.
    conn: Mutex<Connection>,
    /// Writes sent to the thread and not yet committed.
    queued: AtomicUsize,
    /// Runs begun and not yet finished, as the store tells ([`Writer::run_begun`]).
    runs: AtomicUsize,
    /// Transactions committed (or tried) so far.
    commits: AtomicUsize,
    /// Told every write's latency, once someone observes the store.
    observer: std::sync::OnceLock<Arc<dyn crate::store::WriteObserver>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, and the idle committer on the current runtime; they
    /// end (closing `conn`) when every handle is dropped.
    pub(super) fn start(
        conn: Connection,
        tasks: &tokio_util::task::TaskTracker,
    ) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let (idle, idle_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            queued: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            observer: std::sync::OnceLock::new(),
        });
        tasks.spawn(commit_idle(Arc::clone(&shared), idle_rx, tx.clone()));
        let thread = Arc::clone(&shared);
        (
            Writer { tx, idle, shared },
            tokio::task::spawn_blocking(move || run(thread, rx)),
        )
    }

    /// Runs `write` on the connection in a transaction, and returns its answer once that
    /// transaction committed.
    ///
    /// While the store is idle (at most one run in flight, nothing queued for the thread) the
    /// write goes to the idle committer, a task on the runtime: a server running one request at
    /// a time then commits without the two thread switches a write through the thread costs,
    /// and writes made in the same pass of the runtime (a run's two hooks ending together)
    /// still share a commit. With more runs in flight every write goes to the thread: while
    /// the runtime thread works through ready tasks, theirs queue up and share a commit there
    /// (at c=64 with the 50 ms delay, a third of a commit per run, against 0.9 when each write
    /// that found the store idle committed alone).
    pub(super) async fn write<F, R>(&self, write: F) -> Result<R, StoreError>
    where
        F: Fn(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let operation = crate::store::write_span::operation_of::<F>();
        let _span = crate::store::write_span::WriteSpan::start(
            "sqlite",
            operation,
            self.shared.observer.get(),
        );
        let (answer, reply) = oneshot::channel();
        let write: Write = Box::new(Pending {
            write,
            result: None,
            answer,
        });
        let shared = &*self.shared;
        let idle =
            shared.runs.load(Ordering::Relaxed) <= 1 && shared.queued.load(Ordering::Acquire) == 0;
        let sent = if idle {
            match self.idle.send(write) {
                Ok(()) => Ok(()),
                // The runtime the committer ran on is gone: the thread still takes writes.
                Err(mpsc::error::SendError(write)) => send_queued(shared, &self.tx, write).await,
            }
        } else {
            send_queued(shared, &self.tx, write).await
        };
        if sent.is_err() {
            return Err(closed());
        }
        reply.await.map_err(|_| closed())?
    }

    /// Reports each write's latency to `observer` from now on.
    pub(super) fn observe(&self, observer: Arc<dyn crate::store::WriteObserver>) {
        let _ = self.shared.observer.set(observer);
    }

    /// A run began (its first write committed): the store is no longer idle once two are in
    /// flight.
    pub(super) fn run_begun(&self) {
        self.shared.runs.fetch_add(1, Ordering::Relaxed);
    }

    /// A run ended (its last write is done).
    pub(super) fn run_ended(&self) {
        let runs = &self.shared.runs;
        let _ = runs.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// A [`WriteLock`] on this writer's connection.
    pub(super) fn write_lock(&self) -> WriteLock {
        WriteLock(Arc::downgrade(&self.shared))
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
async fn send_queued(shared: &Shared, tx: &mpsc::Sender<Write>, write: Write) -> Result<(), ()> {
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
    mut rx: mpsc::UnboundedReceiver<Write>,
    thread: mpsc::Sender<Write>,
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
        if let Ok(mut conn) = shared.conn.try_lock() {
            commit(&shared, &mut conn, &mut batch);
            drop(conn);
            answer(&mut batch);
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
/// connection only to copy the last frames: see `checkpoint.rs`), and it touches the hot pages
/// of every table: a page cache of 2 MiB. Temporary storage (statement journals, `RETURNING`
/// and sort tables) stays in memory: a server near its open-files limit (10,000 in-flight runs
/// hold ~20,000 sockets) must not fail a write for want of a temp file.
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
    // Every write's statements stay prepared.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The writer thread: commits what is queued, a batch at a time, until every handle is gone.
fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Write>) {
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
        commit(&shared, &mut conn, &mut batch);
        drop(conn);
        shared.queued.fetch_sub(batch.len(), Ordering::AcqRel);
        answer(&mut batch);
    }
    // Every handle is gone, so this thread holds the last reference to the connection.
    if let Ok(shared) = Arc::try_unwrap(shared) {
        let conn = shared.conn.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Err((_, e)) = conn.close() {
            tracing::warn!(error = %e, "closing the writer connection");
        }
    }
}

/// Commits the batch in one transaction, and counts the commit. Should a write fail with a
/// database error, or the commit itself, the transaction is rolled back and each write redone
/// in a transaction of its own, so that one bad write fails alone.
fn commit(shared: &Shared, conn: &mut Connection, batch: &mut [Write]) {
    if let Err(e) = apply_batch(conn, batch) {
        tracing::warn!(error = %e, writes = batch.len(), "group commit failed; retrying writes one by one");
        for write in batch.iter_mut() {
            apply_alone(conn, write);
        }
    }
    shared.commits.fetch_add(1, Ordering::Release);
}

/// Applies the writes in one transaction and commits it; dropping it on a failure rolls it
/// back. The error, as text, to log.
fn apply_batch(conn: &mut Connection, batch: &mut [Write]) -> Result<(), String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    for write in batch.iter_mut() {
        write.apply(&tx).map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())
}

/// Applies one write in a transaction of its own (rolled back if the write fails).
fn apply_alone(conn: &mut Connection, write: &mut Write) {
    match conn.transaction() {
        Ok(tx) => {
            if write.apply(&tx).is_ok()
                && let Err(e) = tx.commit()
            {
                write.fail(e);
            }
        }
        Err(e) => write.fail(e),
    }
}

/// Sends each write of the batch its answer (emptying `batch`).
fn answer(batch: &mut Vec<Write>) {
    for write in batch.drain(..) {
        write.answer();
    }
}
