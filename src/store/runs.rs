//! The runs domain: a run's row from its first write to its last, background runs and their
//! checkpoints, and cancels across processes.

use super::{SessionRecord, StoreError};
use crate::kind::ComponentKind;
use crate::run::RunStatus;
use async_trait::async_trait;

record! {
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
}

record! {
    /// A background run a dead process left unfinished, with what it needs to go on.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ResumableRun {
        /// The run.
        #[sqlx(flatten)]
        pub run: RunRecord,
        /// The request it was started with (JSON).
        pub request: String,
        /// Its output so far (JSON), if a step finished.
        pub checkpoint: Option<String>,
    }
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

/// What [`RunStore::begin_run`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum BeginRun {
    /// The run was recorded; here is its session.
    Started(SessionRecord),
    /// The idempotency key already names this run; nothing was recorded.
    Existing(RunRecord),
}

/// Runs: begin, finish, read; background runs' requests and checkpoints; cancels asked of
/// another process.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// In one transaction: honours the idempotency key (returning the run it names, if live),
    /// creates the session if it does not exist (or completes one created empty: see
    /// [`SessionRecord::completed_by_first_run`]), checks that it belongs to the run's component
    /// (else [`StoreError::SessionConflict`]), and records the new run (status RUNNING or
    /// PENDING) with its key and this process as its owner ([`super::Store::owner_id`]).
    async fn begin_run(
        &self,
        session: &SessionRecord,
        run: &RunRecord,
        key: Option<&IdempotencyKey>,
    ) -> Result<BeginRun, StoreError>;
    /// Records a run's final state and, in the same transaction, its background jobs.
    /// The jobs are taken by value: their payloads (each a serialized hook context) can be a
    /// run's largest data, and a store that queues the write keeps them without a copy.
    async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        output: &str,
        error: Option<&str>,
        jobs: Vec<super::NewJob>,
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
    /// background runs that can be resumed: see [`RunStore::resumable_runs`]); returns how many.
    async fn fail_interrupted_runs(&self, error: &str) -> Result<u64, StoreError>;
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
    /// Claims for this process the unfinished background runs (with their request) whose
    /// owner's lease expired, to resume them; a shared store only (an exclusive store resumes
    /// at startup: [`RunStore::resumable_runs`]).
    async fn claim_orphaned_runs(&self, now: i64) -> Result<Vec<ResumableRun>, StoreError> {
        let _ = now;
        Ok(Vec::new())
    }
    /// Records a cancel of the unfinished run `run_id` executing in another process, and wakes
    /// that process (see [`RunStore::cancel_requests`]). `Ok(false)` when there is no such run,
    /// or when the store has one process only (an exclusive store: the run is cancelled in
    /// memory).
    async fn request_cancel(&self, run_id: &str) -> Result<bool, StoreError> {
        let _ = run_id;
        Ok(false)
    }
    /// The run ids other processes asked to cancel (through [`RunStore::request_cancel`]), as
    /// they come, for the caller to poll on a task it owns; `None` for a store with one process
    /// only.
    async fn cancel_requests(
        &self,
    ) -> Result<Option<futures::stream::BoxStream<'static, String>>, StoreError> {
        Ok(None)
    }
    /// The unfinished runs this process owns ([`super::Store::owner_id`]) that another process
    /// asked to cancel ([`RunStore::request_cancel`]): a periodic re-check that catches a
    /// wake-up this process missed (its listening connection was down). Empty for a store with
    /// one process only.
    async fn requested_cancels(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}
