//! The durable job queue: background work is rows in `jobs`, each of a kind: background hooks
//! (`hook`), and any kind with a [`JobHandler`] registered (memory updates, summaries,
//! ingestion, ...). Each attempt is claimed with a lease, run on a `TaskTracker` with bounded
//! concurrency and a timeout, and its outcome recorded; a failure is retried later with
//! exponential backoff and jitter until the job is `dead`. A periodic sweep claims due retries
//! and jobs whose lease expired (their process died), so every job runs at least once. A
//! failing, panicking or slow job never touches a response, another job, or the server.

use crate::hooks::{Hook, HookContext, JobInfo, call_catching, panic_message};
use crate::run::unix_millis;
use crate::store::{HOOK_JOB_KIND, JobAttempt, JobRecord, Store, needs_run_output};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// What a durable job of one kind does, given its stored payload. An `Err` is a failed
/// attempt, retried with backoff until the job's attempts run out.
pub(crate) trait JobHandler: Send + Sync + 'static {
    /// Runs one attempt of `job` (its `name`, `payload` and run, if any); `attempt` counts
    /// from 1, so a handler can make itself idempotent.
    fn run<'a>(&'a self, job: &'a JobRecord, attempt: JobInfo)
    -> BoxFuture<'a, Result<(), String>>;
}

/// How background jobs (hooks and the rest) are run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSettings {
    /// At most this many jobs run at once.
    pub concurrency: usize,
    /// Each attempt is cut off after this long.
    pub timeout: Duration,
    /// Attempts before a job is `dead`.
    pub max_attempts: u32,
    /// The first retry waits about this long; each further retry doubles it (capped at 5 min).
    pub backoff: Duration,
    /// How often due retries and abandoned jobs are looked for.
    pub poll_interval: Duration,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            concurrency: 64,
            timeout: Duration::from_secs(60),
            max_attempts: 3,
            backoff: Duration::from_secs(1),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// One job ready to run in this process.
#[derive(Debug)]
pub(crate) struct ReadyJob {
    pub job_id: String,
    /// The slot reserved for it before its run's final write, which then stored the job
    /// already claimed (attempt 1), and what it runs with: it starts without a claim.
    /// `None`: the job was stored pending. It is claimed when a slot is free, and its context
    /// is read back from the claimed row, so a job waiting for a slot holds only its id.
    pub start: Option<(Slot, Start)>,
    /// The `traceparent` of the run that made it, when tracing is on.
    pub trace_parent: Option<String>,
    /// When it became due (unix milliseconds): its attempt's lag is measured from here.
    pub due_at: i64,
}

/// What a job stored claimed runs with. Neither variant is boxed: each is moved in once, and a
/// box would cost an allocation per job.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Start {
    /// A hook, with its context.
    Hook(HookContext),
    /// A job of another kind, as its row holds it.
    Job(JobRecord),
}

/// A hook slot reserved for a job stored already claimed, with what its attempt needs.
#[derive(Debug)]
pub(crate) struct Slot {
    permit: OwnedSemaphorePermit,
    hook_name: String,
    max_attempts: u32,
}

/// The job an attempt runs: who it is and how many attempts it has had.
struct Claimed {
    job_id: String,
    hook_name: String,
    attempts: u32,
    max_attempts: u32,
    trace_parent: Option<String>,
    due_at: i64,
}

impl From<JobRecord> for Claimed {
    fn from(r: JobRecord) -> Claimed {
        Claimed {
            job_id: r.job_id,
            hook_name: r.name,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            trace_parent: r.trace_parent,
            due_at: r.next_attempt_at,
        }
    }
}

/// How one attempt ended.
enum Outcome {
    Ok,
    Error(String),
    Panic(String),
    Timeout,
}

#[derive(Clone)]
pub(crate) struct JobQueue {
    store: Arc<dyn Store>,
    hooks: Arc<HashMap<String, Hook>>,
    /// The handlers of the other kinds, by kind.
    handlers: Arc<HashMap<&'static str, Arc<dyn JobHandler>>>,
    settings: HookSettings,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    /// This process, as the owner of its leases.
    owner: Arc<str>,
    /// Cancelled at shutdown: the sweep stops; jobs not yet started stay in the database.
    stopping: CancellationToken,
    /// Ids of jobs this process committed and will claim as soon as a slot frees up.
    queue: Arc<Mutex<VecDeque<String>>>,
    /// The route of the runtime's traces, when spans are recorded.
    route: Option<crate::telemetry::TraceRoute>,
    /// The runtime's Prometheus registry, when on.
    metrics: Option<Arc<crate::telemetry::metrics::Metrics>>,
}

/// At most this many committed jobs wait in memory for a slot; the rest wait in the database.
const QUEUE_LIMIT: usize = 1024;

impl JobQueue {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        hooks: HashMap<String, Hook>,
        handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
        settings: HookSettings,
    ) -> JobQueue {
        // The process's id in the database: its runs and its job leases carry it.
        let owner = store.owner_id().into();
        JobQueue {
            store,
            hooks: Arc::new(hooks),
            handlers: Arc::new(handlers),
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
            tracker: TaskTracker::new(),
            owner,
            stopping: CancellationToken::new(),
            queue: Arc::default(),
            route: None,
            metrics: None,
        }
    }

    /// Attempts open their spans in `route`'s traces and record into `metrics`.
    pub(crate) fn with_telemetry(
        mut self,
        route: Option<crate::telemetry::TraceRoute>,
        metrics: Option<Arc<crate::telemetry::metrics::Metrics>>,
    ) -> JobQueue {
        self.route = route;
        self.metrics = metrics;
        self
    }

    /// The lease owner name of this process.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Runs jobs this process committed with a run's final state. A job stored already claimed
    /// starts on the slot reserved for it. The others are claimed first, if a slot is free now;
    /// if not, they wait in a bounded in-memory queue, taken as slots free up; past
    /// [`QUEUE_LIMIT`] they are left in the database, where the sweep finds them once their
    /// short lease expires. Memory stays bounded whatever the backlog.
    pub(crate) fn dispatch(&self, jobs: Vec<ReadyJob>) {
        for job in jobs {
            let (permit, claimed) = match job.start {
                Some((slot, start)) => (
                    slot.permit,
                    Some((slot.hook_name, slot.max_attempts, start)),
                ),
                None => match self.permits.clone().try_acquire_owned() {
                    Ok(permit) => (permit, None),
                    Err(_) => {
                        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                        if queue.len() < QUEUE_LIMIT {
                            queue.push_back(job.job_id);
                        }
                        continue;
                    }
                },
            };
            let this = self.clone();
            let job_id = job.job_id;
            self.tracker.spawn(async move {
                match claimed {
                    Some((hook_name, max_attempts, Start::Hook(ctx))) => {
                        let claimed = Claimed {
                            job_id,
                            hook_name,
                            attempts: 1,
                            max_attempts,
                            trace_parent: job.trace_parent,
                            due_at: job.due_at,
                        };
                        this.attempt(claimed, ctx).await;
                    }
                    Some((_, _, Start::Job(record))) => this.attempt_other(record).await,
                    None => this.run_local(&job_id).await,
                }
                // Keep the slot busy with queued jobs before giving it back.
                while let Some(next) = this.next_queued() {
                    this.run_local(&next).await;
                }
                drop(permit);
            });
        }
    }

    /// Reserves a free slot for a job about to be stored (see [`ReadyJob::start`]), if there is
    /// one: `hook_name` is the job's name. Dropping the slot frees it.
    pub(crate) fn reserve(&self, hook_name: &str, max_attempts: u32) -> Option<Slot> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        Some(Slot {
            permit,
            hook_name: hook_name.to_owned(),
            max_attempts,
        })
    }

    fn next_queued(&self) -> Option<String> {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    /// Claims and runs one job this process committed, with the context stored in its row.
    async fn run_local(&self, job_id: &str) {
        match self
            .store
            .claim_job(job_id, &self.owner, self.lease_until())
            .await
        {
            Ok(Some(record)) => self.attempt_record(record).await,
            Ok(None) => {} // already taken over by someone else
            Err(e) => tracing::error!(job = %job_id, error = %e, "cannot claim job"),
        }
    }

    /// Runs an attempt of a claimed job: a hook with the context stored in its row, another
    /// kind through its handler. A job that can never run (a payload that does not parse, an
    /// agent output gone from its run, a kind nobody handles) is `dead`.
    async fn attempt_record(&self, record: JobRecord) {
        if record.kind != HOOK_JOB_KIND {
            return self.attempt_other(record).await;
        }
        if needs_run_output(&record.payload) {
            // The claim puts back the output its run holds; without it there is none to put.
            let why = "the agent's output, stored with its run, is gone".to_owned();
            self.record(&record.job_id, "dead", "error", Some(why), 0)
                .await;
            return;
        }
        match serde_json::from_str::<HookContext>(&record.payload) {
            Ok(ctx) => self.attempt(record.into(), ctx).await,
            Err(e) => {
                let why = format!("unreadable job payload: {e}");
                self.record(&record.job_id, "dead", "error", Some(why), 0)
                    .await;
            }
        }
    }

    /// Claims what is due now and starts the periodic sweep.
    pub(crate) async fn start(&self) {
        self.sweep().await;
        let this = self.clone();
        self.tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(this.settings.poll_interval) => {}
                    _ = this.stopping.cancelled() => return,
                }
                this.sweep().await;
            }
        });
    }

    /// Claims due jobs, as many as there are free slots, and runs them.
    async fn sweep(&self) {
        let free = self.permits.available_permits() as u32;
        if free == 0 {
            return;
        }
        let claimed = self
            .store
            .claim_due_jobs(&self.owner, self.lease_until(), free)
            .await;
        let records = match claimed {
            Ok(records) => records,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim due jobs");
                return;
            }
        };
        for record in records {
            // Claimed no more than the free slots, so this waits only if a dispatch raced us.
            let this = self.clone();
            self.tracker.spawn(async move {
                let Ok(_permit) = this.permits.clone().acquire_owned().await else {
                    return;
                };
                this.attempt_record(record).await;
            });
        }
    }

    /// When a lease taken now ends: the attempt's timeout and 30 s more.
    pub(crate) fn lease_until(&self) -> i64 {
        unix_millis() + self.settings.timeout.as_millis() as i64 + 30_000
    }

    /// Runs one claimed attempt of a job of a kind other than `hook`, through its handler.
    async fn attempt_other(&self, record: JobRecord) {
        let Some(handler) = self.handlers.get(record.kind.as_str()).cloned() else {
            let why = format!(
                "no handler is registered for jobs of kind {:?}",
                record.kind
            );
            tracing::error!(job = %record.job_id, "{why}");
            self.record(&record.job_id, "dead", "error", Some(why), 0)
                .await;
            return;
        };
        let info = JobInfo {
            id: record.job_id.clone(),
            attempt: record.attempts,
        };
        let claimed = Claimed {
            job_id: record.job_id.clone(),
            hook_name: record.name.clone(),
            attempts: record.attempts,
            max_attempts: record.max_attempts,
            trace_parent: record.trace_parent.clone(),
            due_at: record.next_attempt_at,
        };
        let span = self.attempt_span(&record.kind, &claimed, record.run_id.as_deref());
        let ended = span.clone();
        let attempt = async {
            let call = std::panic::AssertUnwindSafe(handler.run(&record, info)).catch_unwind();
            let outcome = match tokio::time::timeout(self.settings.timeout, call).await {
                Err(_) => Outcome::Timeout,
                Ok(Err(panic)) => Outcome::Panic(panic_message(&panic)),
                Ok(Ok(Err(e))) => Outcome::Error(e),
                Ok(Ok(Ok(()))) => Outcome::Ok,
            };
            end_attempt_span(&ended, &outcome);
            self.conclude(&claimed, &record.kind, outcome).await;
        };
        attempt.instrument(span).await;
    }

    /// Runs one claimed attempt and records how it ended.
    async fn attempt(&self, record: Claimed, mut ctx: HookContext) {
        let Some(hook) = self.hooks.get(&record.hook_name).cloned() else {
            let why = format!(
                "no hook is registered under the name {:?}",
                record.hook_name
            );
            tracing::error!(job = %record.job_id, "{why}");
            self.record(&record.job_id, "dead", "error", Some(why), 0)
                .await;
            return;
        };
        ctx.job = Some(JobInfo {
            id: record.job_id.clone(),
            attempt: record.attempts,
        });
        let span = self.attempt_span(HOOK_JOB_KIND, &record, Some(ctx.run_id.as_str()));
        let ended = span.clone();
        let attempt = async {
            let call = call_catching(&hook, ctx);
            let outcome = match tokio::time::timeout(self.settings.timeout, call).await {
                Err(_) => Outcome::Timeout,
                Ok(Err(panic)) => Outcome::Panic(panic),
                Ok(Ok(Err(e))) => Outcome::Error(e.to_string()),
                Ok(Ok(Ok(()))) => Outcome::Ok,
            };
            end_attempt_span(&ended, &outcome);
            self.conclude(&record, HOOK_JOB_KIND, outcome).await;
        };
        match span.is_disabled() {
            true => attempt.await,
            false => attempt.instrument(span).await,
        }
    }

    /// Records how an attempt of a job of `job_kind` ended: done, or failed (retried after
    /// a backoff) or dead when its attempts ran out.
    async fn conclude(&self, record: &Claimed, job_kind: &str, outcome: Outcome) {
        if let Some(m) = &self.metrics {
            let name = match &outcome {
                Outcome::Ok => "ok",
                Outcome::Error(_) => "error",
                Outcome::Panic(_) => "panic",
                Outcome::Timeout => "timeout",
            };
            m.count(
                "agentos_job_attempts_total",
                &[("kind", job_kind), ("outcome", name)],
                1,
            );
        }
        let (kind, error) = match outcome {
            Outcome::Ok => {
                self.record(&record.job_id, "done", "ok", None, 0).await;
                return;
            }
            Outcome::Error(e) => ("error", e),
            Outcome::Panic(e) => ("panic", format!("panicked: {e}")),
            Outcome::Timeout => (
                "timeout",
                format!("timed out after {:?}", self.settings.timeout),
            ),
        };
        let what = match job_kind {
            HOOK_JOB_KIND => "hook".to_owned(),
            other => format!("{other} job"),
        };
        let context = format!(
            "background job {} (attempt {} of {}) failed: {what}",
            record.job_id, record.attempts, record.max_attempts
        );
        crate::hooks::report_failure(&record.hook_name, &context, &error);
        let status = if record.attempts >= record.max_attempts {
            "dead"
        } else {
            "failed"
        };
        let retry_in = self.backoff(record.attempts);
        self.record(
            &record.job_id,
            status,
            kind,
            Some(error),
            retry_in.as_millis() as i64,
        )
        .await;
    }

    async fn record(
        &self,
        job_id: &str,
        status: &'static str,
        outcome: &'static str,
        error: Option<String>,
        retry_in_ms: i64,
    ) {
        let attempt = JobAttempt {
            status,
            outcome,
            error,
            next_attempt_at: unix_millis() + retry_in_ms,
        };
        if let Err(e) = self.store.finish_job_attempt(job_id, &attempt).await {
            // The lease expires and the job is claimed again: at least once.
            tracing::error!(job = %job_id, error = %e, "cannot record job outcome");
        }
    }

    /// Exponential backoff with ±25 % jitter, capped at five minutes.
    fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16) as i32;
        let base = self.settings.backoff.as_secs_f64() * 2f64.powi(doublings);
        let jitter = 0.75 + fastrand::f64() * 0.5;
        Duration::from_secs_f64((base * jitter).min(300.0))
    }

    /// Stops the sweep and waits up to `deadline` for running and queued hooks. Jobs not
    /// started stay in the database for the next start. Returns false on time-out.
    pub(crate) async fn drain(&self, deadline: Duration) -> bool {
        self.stopping.cancel();
        self.tracker.close();
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
    }
}

mod observe;
#[cfg(test)]
mod tests;

use observe::end_attempt_span;
