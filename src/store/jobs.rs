//! The jobs domain: the durable queue of background work (`jobs`). A job has a `kind` (which
//! handler runs it: [`HOOK_JOB_KIND`] for a background hook) and a `name` within that kind (a
//! hook's registered name), a payload, and optionally the run it came from. Every kind shares
//! the same leases, claims, attempts and retries.

use super::StoreError;
use async_trait::async_trait;
use std::borrow::Cow;

/// The kind of a background hook's job; its name is the hook's registered name.
pub const HOOK_JOB_KIND: &str = "hook";

/// A job to record, with a run's final state or on its own. It is leased to the process that
/// wrote it until `lease_until`, so no other replica takes it before that process had its turn
/// (for a run's jobs: before the response is out).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The job id.
    pub job_id: String,
    /// Which handler runs it ([`HOOK_JOB_KIND`], ...). A constant kind costs no allocation.
    pub kind: Cow<'static, str>,
    /// What to run within its kind (a hook's registered name).
    pub name: String,
    /// The run (the workflow or agent run) it came from, if any.
    pub run_id: Option<String>,
    /// What the handler needs, serialized (a hook's `HookContext`). A post-hook's may leave out
    /// the agent's output, which the run's stored output holds (see
    /// [`super::needs_run_output`]); a store that deletes the run puts it back first
    /// ([`super::inline_run_output`]).
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
    /// The W3C `traceparent` of the span that made it (its run's), when tracing is on: its
    /// attempts join that trace.
    pub trace_parent: Option<String>,
}

impl NewJob {
    /// The job's first `status` and `attempts`, as `claimed` says.
    pub(crate) fn initial_state(&self) -> (&'static str, i64) {
        match self.claimed {
            true => ("running", 1),
            false => ("pending", 0),
        }
    }
}

record! {
    /// A job's state.
    #[derive(Debug, Clone, PartialEq)]
    pub struct JobRecord {
        /// The job id.
        pub job_id: String,
        /// Which handler runs it ([`HOOK_JOB_KIND`], ...).
        pub kind: String,
        /// What to run within its kind (a hook's registered name).
        pub name: String,
        /// The run it came from, if any.
        pub run_id: Option<String>,
        /// What the handler needs, serialized (a hook's `HookContext`).
        pub payload: String,
        /// `pending`, `running`, `done`, `failed` (will retry) or `dead`.
        pub status: String,
        /// Attempts made.
        #[sqlx(try_from = "i64")]
        pub attempts: u32,
        /// Attempts allowed.
        #[sqlx(try_from = "i64")]
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
        /// The W3C `traceparent` of the span that made it, if recorded.
        pub trace_parent: Option<String>,
    }
}

/// How an attempt ended, to record.
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

/// Which jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this status.
    pub status: Option<String>,
    /// Only jobs of this kind ([`HOOK_JOB_KIND`], ...).
    pub kind: Option<String>,
    /// Only jobs of this run.
    pub run_id: Option<String>,
    /// Only jobs of this name (a hook's name).
    pub name: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// The durable job queue: jobs are written (with a run's final state, or on their own), claimed
/// under a lease for an attempt, and their attempts recorded; the sweep claims what is due.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Records `jobs` that belong to no run's final write (a run's jobs go with
    /// [`super::RunStore::finish_run`]), in one transaction.
    async fn enqueue_jobs(&self, jobs: Vec<NewJob>) -> Result<(), StoreError>;
    /// Claims one job leased to `owner` (or whose lease expired) for an attempt: marks it
    /// running until `lease_until` and counts the attempt. `None` if it is not runnable.
    async fn claim_job(
        &self,
        job_id: &str,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<JobRecord>, StoreError>;
    /// Claims up to `limit` due jobs of any kind: pending or failed ones whose time has come
    /// and whose lease (if any) expired, and running ones whose lease expired (their process
    /// died).
    async fn claim_due_jobs(
        &self,
        owner: &str,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError>;
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
    async fn retry_job(&self, job_id: &str) -> Result<Option<(bool, JobRecord)>, StoreError>;
    /// Jobs matching `filter`, oldest first, and how many match in all.
    async fn list_jobs(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, u64), StoreError>;
}
