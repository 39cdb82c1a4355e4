//! The storage boundary: a small [`Store`] trait over our own normalized tables (`sessions`,
//! `runs`, `run_events`, `hook_jobs`), with SQLite behind it by default and Postgres for
//! several replicas.

mod kind_sql;
mod payload;
mod postgres;
mod sqlite;

pub use crate::db::{DbConfig, SqliteDb};
pub(crate) use payload::{encode as encode_hook_payload, restored as restored_hook_payload};
pub use payload::{inline_run_output, needs_run_output};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::kind::ComponentKind;
use crate::run::RunStatus;
use async_trait::async_trait;
use std::sync::Arc;

impl DbConfig {
    /// Opens the database and applies the migrations.
    pub async fn open(&self) -> Result<Arc<dyn Store>, StoreError> {
        match self {
            DbConfig::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
            DbConfig::Postgres(url) => Ok(Arc::new(PgStore::open(url).await?)),
        }
    }
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database said no.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// SQLite's writer connection said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be applied.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A bad configuration.
    #[error("{0}")]
    Config(String),
    /// The session exists and belongs to another workflow, agent or team.
    #[error("session {0} belongs to another component")]
    SessionConflict(String),
    /// Could not create the database's directory.
    #[error("cannot create database directory: {0}")]
    Io(#[from] std::io::Error),
}

/// A session row.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// The id.
    pub session_id: String,
    /// Agent, team or workflow.
    pub session_type: ComponentKind,
    /// The workflow, agent or team id.
    pub component_id: String,
    /// The user, when known.
    pub user_id: Option<String>,
    /// The name (the first run's input by default).
    pub session_name: Option<String>,
    /// Session state (JSON text).
    pub session_state: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl SessionRecord {
    /// True when this stored session was created empty (`POST /sessions`, [`Store::create_session`])
    /// without a component or a name, and `incoming` (the session of a run starting in it, of
    /// the same type) should complete it: [`Store::begin_run`] then records the run's component
    /// where there was none, and the run's input as the name where there was none.
    pub fn completed_by_first_run(&self, incoming: &SessionRecord) -> bool {
        (self.component_id.is_empty() || self.session_name.is_none())
            && self.session_type == incoming.session_type
            && (self.component_id.is_empty() || self.component_id == incoming.component_id)
    }
}

/// A run row.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The id.
    pub run_id: String,
    /// Its session.
    pub session_id: String,
    /// Agent, team or workflow.
    pub component_type: ComponentKind,
    /// The workflow, agent or team id.
    pub component_id: String,
    /// The user, when known.
    pub user_id: Option<String>,
    /// Current status.
    pub status: RunStatus,
    /// The message the run was started with.
    pub input: String,
    /// The full output as JSON text, once terminal.
    pub output: Option<String>,
    /// The error of a failed run.
    pub error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// A background hook job to record with a run's final state. It is leased to the process
/// that wrote it until `lease_until`, so no other replica takes it before the response is out.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHookJob {
    /// The job id.
    pub job_id: String,
    /// The run (the workflow run) it belongs to.
    pub run_id: String,
    /// The hook's registered name.
    pub hook_name: String,
    /// The serialized `HookContext`. A post-hook's may leave out the agent's output, which the
    /// run's stored output holds (see [`needs_run_output`]); a store that deletes the run puts
    /// it back first ([`inline_run_output`]).
    pub payload: String,
    /// How many attempts before the job is `dead`.
    pub max_attempts: u32,
    /// The process that will run it.
    pub lease_owner: String,
    /// Unix milliseconds; after this any process may claim the job.
    pub lease_until: i64,
    /// Stored already claimed by `lease_owner` (status `running`, attempt 1), for a process
    /// that has a free slot and starts the attempt as soon as the commit returns: one write
    /// instead of two. Otherwise the job is stored `pending` and claimed later.
    pub claimed: bool,
}

impl NewHookJob {
    /// The job's first `status` and `attempts`, as `claimed` says.
    pub(crate) fn initial_state(&self) -> (&'static str, i64) {
        match self.claimed {
            true => ("running", 1),
            false => ("pending", 0),
        }
    }
}

/// A hook job's state.
#[derive(Debug, Clone, PartialEq)]
pub struct HookJobRecord {
    /// The job id.
    pub job_id: String,
    /// Its run.
    pub run_id: String,
    /// The hook's registered name.
    pub hook_name: String,
    /// The serialized `HookContext`.
    pub payload: String,
    /// `pending`, `running`, `done`, `failed` (will retry) or `dead`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// `ok`, `error`, `panic` or `timeout`: how the last attempt ended.
    pub outcome: Option<String>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Every failed attempt, oldest first, as a JSON array of
    /// `{"attempt", "outcome", "error", "at"}` (`at` in unix milliseconds).
    pub attempt_errors: String,
    /// When the job is next due (unix milliseconds).
    pub next_attempt_at: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// How a hook attempt ended, to record.
#[derive(Debug, Clone, PartialEq)]
pub struct JobAttempt {
    /// The new status: `done`, `failed` (retry at `next_attempt_at`) or `dead`.
    pub status: &'static str,
    /// `ok`, `error`, `panic` or `timeout`.
    pub outcome: &'static str,
    /// The error text.
    pub error: Option<String>,
    /// When to retry (unix milliseconds), for `failed`.
    pub next_attempt_at: i64,
}

/// Which hook jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this status.
    pub status: Option<String>,
    /// Only jobs of this run.
    pub run_id: Option<String>,
    /// Only jobs of this hook.
    pub hook: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// An `Idempotency-Key` to honour when a run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// `workflow:<id>` or `agent:<id>`: keys are per component.
    pub scope: String,
    /// The client's key.
    pub key: String,
    /// Unix milliseconds after which the key is forgotten.
    pub expires_at: i64,
}

/// What [`Store::reconcile_dead_owners`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Runs left RUNNING or PENDING by dead processes, now ERROR.
    pub runs_failed: u64,
    /// Hook job leases held by dead processes, now expired (the sweep takes the jobs).
    pub jobs_released: u64,
}

/// A background run a dead process left unfinished, with what it needs to go on.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumableRun {
    /// The run.
    pub run: RunRecord,
    /// The request it was started with (JSON).
    pub request: String,
    /// Its output so far (JSON), if a step finished.
    pub checkpoint: Option<String>,
}

/// What [`Store::begin_run`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum BeginRun {
    /// The run was recorded; here is its session.
    Started(SessionRecord),
    /// The idempotency key already names this run; nothing was recorded.
    Existing(RunRecord),
}

/// A session as the sessions API shows it: the row plus what only that API sets.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionView {
    /// The session row.
    pub session: SessionRecord,
    /// Free-form metadata (JSON object text), set by `PATCH /sessions/{id}`.
    pub metadata: Option<String>,
    /// The session summary (JSON object text, `{"summary", "topics"?, "updated_at"?}`).
    pub summary: Option<String>,
}

/// The order of a session listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SessionSort {
    /// By creation time (agno's default).
    #[default]
    CreatedAt,
    /// By last update.
    UpdatedAt,
    /// By name.
    SessionName,
}

impl SessionSort {
    /// Every accepted `sort_by` value.
    pub const NAMES: [&'static str; 3] = ["created_at", "updated_at", "session_name"];

    /// Parses agno's `sort_by` value (`created_at`, `updated_at`, `session_name`).
    pub fn parse(s: &str) -> Option<SessionSort> {
        match s {
            "created_at" => Some(SessionSort::CreatedAt),
            "updated_at" => Some(SessionSort::UpdatedAt),
            "session_name" => Some(SessionSort::SessionName),
            _ => None,
        }
    }

    /// The column to order by.
    pub fn column(self) -> &'static str {
        match self {
            SessionSort::CreatedAt => "created_at",
            SessionSort::UpdatedAt => "updated_at",
            SessionSort::SessionName => "session_name",
        }
    }
}

/// Which sessions to list, in what order, and which page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only sessions of this type.
    pub session_type: Option<ComponentKind>,
    /// Only sessions of this agent, team or workflow.
    pub component_id: Option<String>,
    /// Only sessions of this user.
    pub user_id: Option<String>,
    /// Only sessions whose name contains this text (ASCII case-insensitive).
    pub session_name: Option<String>,
    /// The sort column.
    pub sort_by: SessionSort,
    /// Ascending instead of descending (the default).
    pub ascending: bool,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

impl SessionFilter {
    /// The `WHERE` clause of the filters given (empty with none) and the values it binds, in
    /// order. `placeholder(n)` writes the n-th parameter (1-based) in the backend's syntax;
    /// `name_contains(p)` the test that the name contains parameter `p`. Only the filters given
    /// appear, so the database can use the index that fits them: a clause that names every
    /// filter as `(?1 IS NULL OR column = ?1)` keeps SQLite from using any index for it.
    pub(crate) fn where_clause(
        &self,
        placeholder: impl Fn(usize) -> String,
        name_contains: impl Fn(&str) -> String,
    ) -> (String, Vec<&str>) {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        let equal = [
            ("session_type", self.session_type.map(ComponentKind::as_str)),
            ("component_id", self.component_id.as_deref()),
            ("user_id", self.user_id.as_deref()),
        ];
        for (column, value) in equal {
            if let Some(value) = value {
                values.push(value);
                conditions.push(format!("{column} = {}", placeholder(values.len())));
            }
        }
        if let Some(name) = &self.session_name {
            values.push(name.as_str());
            conditions.push(name_contains(&placeholder(values.len())));
        }
        if conditions.is_empty() {
            (String::new(), values)
        } else {
            (format!("WHERE {}", conditions.join(" AND ")), values)
        }
    }
}

/// What `PATCH /sessions/{id}` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionUpdate {
    /// The new name.
    pub session_name: Option<String>,
    /// The new session state (JSON object text).
    pub session_state: Option<String>,
    /// The new metadata (JSON object text).
    pub metadata: Option<String>,
    /// The new summary (JSON object text).
    pub summary: Option<String>,
}

/// A session to delete, found only if its type and user match when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// The session id.
    pub session_id: String,
    /// Only if the session has this type.
    pub session_type: Option<ComponentKind>,
    /// Only if the session belongs to this user.
    pub user_id: Option<String>,
}

/// What [`Store::delete_sessions`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionsDeleted {
    /// The sessions deleted, with their runs and run events.
    pub deleted: Vec<String>,
    /// Sessions with a run still RUNNING or PENDING. When there is any, nothing was deleted.
    pub busy: Vec<String>,
}

/// The storage operations the runtime needs. Small on purpose: SQLite and Postgres both fit.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// True when one process owns the database (SQLite): at startup, whatever a previous
    /// process left unfinished is that process's and can be taken over at once.
    fn exclusive(&self) -> bool;
    /// The id under which this process holds leases in this database: it owns the runs it
    /// begins ([`Store::begin_run`] records it) and leases hook jobs under it. A new id per
    /// opened store.
    fn owner_id(&self) -> &str;
    /// In one transaction: honours the idempotency key (returning the run it names, if live),
    /// creates the session if it does not exist (or completes one created empty: see
    /// [`SessionRecord::completed_by_first_run`]), checks that it belongs to the run's component
    /// (else [`StoreError::SessionConflict`]), and records the new run (status RUNNING or
    /// PENDING) with its key.
    async fn begin_run(
        &self,
        session: &SessionRecord,
        run: &RunRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<BeginRun, StoreError>;
    /// A session by id.
    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Records a run's final state and, in the same transaction, its background hook jobs.
    /// The jobs are taken by value: their payloads (each a serialized hook context) can be a
    /// run's largest data, and a store that queues the write keeps them without a copy.
    async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        output: &str,
        error: Option<&str>,
        jobs: Vec<NewHookJob>,
    ) -> Result<(), StoreError>;
    /// A run by id.
    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError>;
    /// A session's runs, oldest first.
    async fn session_runs(&self, session_id: &str) -> Result<Vec<RunRecord>, StoreError>;
    /// The last `n` COMPLETED runs of a session other than `except`, oldest first (an agent's
    /// conversation history: read without loading the whole session).
    async fn recent_completed_runs(
        &self,
        session_id: &str,
        except: &str,
        n: u32,
    ) -> Result<Vec<RunRecord>, StoreError>;
    /// Marks runs left RUNNING or PENDING by a dead process as ERROR with `error` (except
    /// background runs that can be resumed: see [`Store::resumable_runs`]); returns how many.
    async fn fail_interrupted_runs(&self, error: &str) -> Result<u64, StoreError>;
    /// Claims one job leased to `owner` (or whose lease expired) for an attempt: marks it
    /// running until `lease_until` and counts the attempt. `None` if it is not runnable.
    async fn claim_job(
        &self,
        job_id: &str,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<HookJobRecord>, StoreError>;
    /// Claims up to `limit` due jobs: pending or failed ones whose time has come and whose
    /// lease (if any) expired, and running ones whose lease expired (their process died).
    async fn claim_due_jobs(
        &self,
        owner: &str,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<HookJobRecord>, StoreError>;
    /// Releases every lease and turns attempts caught mid-run into failed ones, so the sweep
    /// takes everything a dead process left (only at startup on an exclusive store).
    async fn release_all_leases(&self) -> Result<u64, StoreError>;
    /// Records how an attempt ended and releases the lease.
    async fn finish_job_attempt(
        &self,
        job_id: &str,
        attempt: &JobAttempt,
    ) -> Result<(), StoreError>;
    /// Puts a failed or dead job back to pending (with at least one attempt left). `Ok(None)`
    /// if there is no such job; the job unchanged if it is not failed or dead.
    async fn retry_job(&self, job_id: &str) -> Result<Option<(bool, HookJobRecord)>, StoreError>;
    /// Hook jobs matching `filter`, oldest first, and how many match in all.
    async fn hook_jobs(&self, filter: &JobFilter) -> Result<(Vec<HookJobRecord>, u64), StoreError>;
    /// Renews this process's owner lease ([`Store::owner_id`]) until `lease_until` (unix
    /// milliseconds). While it holds, no other process reconciles the runs this one owns.
    async fn renew_owner_lease(&self, lease_until: i64) -> Result<(), StoreError>;
    /// Reconciles what processes whose owner lease is missing or expired at `now` left: their
    /// runs still RUNNING or PENDING end ERROR with `error`, and their unexpired hook job
    /// leases are expired so the sweep takes the jobs. Safe to run from many processes at once.
    async fn reconcile_dead_owners(&self, error: &str, now: i64) -> Result<Reconciled, StoreError>;
    /// A background run starts executing: PENDING becomes RUNNING, and the request it was
    /// started with is kept (JSON), so another process can resume it.
    async fn start_background_run(&self, run_id: &str, request: &str) -> Result<(), StoreError>;
    /// Records a background run's progress (its output so far, JSON) and its events so far,
    /// in one transaction.
    async fn checkpoint_run(
        &self,
        run_id: &str,
        checkpoint: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError>;
    /// Background runs left RUNNING or PENDING with their request: the ones to resume.
    async fn resumable_runs(&self) -> Result<Vec<ResumableRun>, StoreError>;
    /// Appends `(event_index, payload)` rows to a run's replay log (`/resume`).
    async fn append_run_events(
        &self,
        run_id: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError>;
    /// A run's logged events with `event_index > after`, in order.
    async fn run_events(&self, run_id: &str, after: i64) -> Result<Vec<(i64, String)>, StoreError>;
    /// Claims for this process the unfinished background runs (with their request) whose
    /// owner's lease expired, to resume them; a shared store only (an exclusive store resumes
    /// at startup: [`Store::resumable_runs`]).
    async fn claim_orphaned_runs(&self, now: i64) -> Result<Vec<ResumableRun>, StoreError> {
        let _ = now;
        Ok(Vec::new())
    }
    /// Records a cancel of the unfinished run `run_id` executing in another process, and wakes
    /// that process (see [`Store::cancel_requests`]). `Ok(false)` when there is no such run, or
    /// when the store has one process only (an exclusive store: the run is cancelled in memory).
    async fn request_cancel(&self, run_id: &str) -> Result<bool, StoreError> {
        let _ = run_id;
        Ok(false)
    }
    /// The run ids other processes asked to cancel (through [`Store::request_cancel`]), as they
    /// come; `None` for a store with one process only.
    async fn cancel_requests(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<String>>, StoreError> {
        Ok(None)
    }
    /// The unfinished runs this process owns ([`Store::owner_id`]) that another process asked
    /// to cancel ([`Store::request_cancel`]): a periodic re-check that catches a wake-up this
    /// process missed (its listening connection was down). Empty for a store with one process
    /// only.
    async fn requested_cancels(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
    /// Closes the connections once every write is done.
    async fn close(&self);
    /// One page of the sessions matching `filter`, and how many match in all.
    async fn list_sessions(
        &self,
        filter: &SessionFilter,
    ) -> Result<(Vec<SessionView>, u64), StoreError>;
    /// A session with its metadata and summary.
    async fn session_view(&self, session_id: &str) -> Result<Option<SessionView>, StoreError>;
    /// Creates a session before any run (`POST /sessions`): the row `view` describes, with its
    /// state, metadata and summary. An empty `component_id` means none yet, and the first run in
    /// the session names it (see [`SessionRecord::completed_by_first_run`]). `None`, and nothing
    /// written, when a session with that id exists.
    async fn create_session(&self, view: &SessionView) -> Result<Option<SessionView>, StoreError>;
    /// In one transaction: deletes the sessions found for `keys` with their runs, run events
    /// and idempotency keys. Hook jobs stay: they are independent durable work, so the jobs not
    /// done first get the agent output they read from their run put back into their payloads
    /// ([`inline_run_output`]). If any of the sessions has a run still RUNNING or PENDING,
    /// deletes nothing and names those in `busy`.
    async fn delete_sessions(&self, keys: &[SessionKey]) -> Result<SessionsDeleted, StoreError>;
    /// Applies `update` and stamps `updated_at`; `None` if there is no such session.
    async fn update_session(
        &self,
        session_id: &str,
        update: &SessionUpdate,
    ) -> Result<Option<SessionView>, StoreError>;
    /// Renames a session; `None` if there is no such session.
    async fn rename_session(
        &self,
        session_id: &str,
        session_name: &str,
    ) -> Result<Option<SessionView>, StoreError> {
        let update = SessionUpdate {
            session_name: Some(session_name.to_owned()),
            ..SessionUpdate::default()
        };
        self.update_session(session_id, &update).await
    }
    /// Deletes one session (see [`Store::delete_sessions`]).
    async fn delete_session(&self, key: &SessionKey) -> Result<SessionsDeleted, StoreError> {
        self.delete_sessions(std::slice::from_ref(key)).await
    }
}
