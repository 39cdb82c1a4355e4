//! The hook dispatcher: runs background hook jobs on a `TaskTracker`, with bounded concurrency,
//! a per-attempt timeout, retries with exponential backoff and jitter, and records every
//! attempt in `hook_jobs`. A failing, panicking or slow hook never touches a response, another
//! hook, or the server.

use crate::hooks::{Hook, HookContext, JobInfo, panic_message};
use crate::run::unix_millis;
use crate::store::{JobAttempt, Store};
use futures::FutureExt;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How background hooks are run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSettings {
    /// At most this many hooks run at once.
    pub concurrency: usize,
    /// Each attempt is cut off after this long.
    pub timeout: Duration,
    /// Attempts before a job is `dead`.
    pub max_attempts: u32,
    /// The first retry waits about this long; each further retry doubles it (capped at 5 min).
    pub backoff: Duration,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            concurrency: 64,
            timeout: Duration::from_secs(60),
            max_attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

/// One job ready to run.
#[derive(Debug, Clone)]
pub(crate) struct ReadyJob {
    pub job_id: String,
    pub hook_name: String,
    pub ctx: HookContext,
}

/// How one attempt ended.
enum Outcome {
    Ok,
    Error(String),
    Panic(String),
    Timeout,
}

#[derive(Clone)]
pub(crate) struct HookDispatcher {
    store: Arc<dyn Store>,
    hooks: Arc<HashMap<String, Hook>>,
    settings: HookSettings,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    /// Cancelled at shutdown: retries waiting for their backoff give up (the job stays
    /// `failed` in the database for the next start).
    stopping: CancellationToken,
}

impl HookDispatcher {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        hooks: HashMap<String, Hook>,
        settings: HookSettings,
    ) -> HookDispatcher {
        HookDispatcher {
            store,
            hooks: Arc::new(hooks),
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
            tracker: TaskTracker::new(),
            stopping: CancellationToken::new(),
        }
    }

    /// Starts the jobs (already committed to `hook_jobs`).
    pub(crate) fn dispatch(&self, jobs: Vec<ReadyJob>) {
        for job in jobs {
            let Some(hook) = self.hooks.get(&job.hook_name).cloned() else {
                tracing::error!(hook = %job.hook_name, "no hook registered under this name");
                continue;
            };
            let worker = Worker {
                store: self.store.clone(),
                settings: self.settings.clone(),
                permits: self.permits.clone(),
                stopping: self.stopping.clone(),
            };
            self.tracker.spawn(worker.run(hook, job));
        }
    }

    /// Waits up to `deadline` for running and queued hooks; retries still waiting for their
    /// backoff are abandoned (they stay `failed` in the database). Returns false on time-out.
    pub(crate) async fn drain(&self, deadline: Duration) -> bool {
        self.tracker.close();
        self.stopping.cancel();
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
    }
}

struct Worker {
    store: Arc<dyn Store>,
    settings: HookSettings,
    permits: Arc<Semaphore>,
    stopping: CancellationToken,
}

impl Worker {
    async fn run(self, hook: Hook, job: ReadyJob) {
        loop {
            // The semaphore is never closed, so acquiring only waits.
            let Ok(_permit) = self.permits.acquire().await else {
                return;
            };
            let lease_until = unix_millis() + self.settings.timeout.as_millis() as i64 + 30_000;
            let attempt = match self.store.start_job_attempt(&job.job_id, lease_until).await {
                Ok(Some(attempt)) => attempt,
                Ok(None) => return, // done elsewhere or not runnable
                Err(e) => {
                    tracing::error!(job = %job.job_id, error = %e, "cannot start hook job");
                    return;
                }
            };
            let mut ctx = job.ctx.clone();
            ctx.job = Some(JobInfo {
                id: job.job_id.clone(),
                attempt,
            });
            let outcome = self.attempt(&hook, ctx).await;
            drop(_permit);
            let retry_in = self.backoff(attempt);
            let record = match &outcome {
                Outcome::Ok => JobAttempt {
                    status: "done",
                    outcome: "ok",
                    error: None,
                    next_attempt_at: unix_millis(),
                },
                failed => {
                    let (kind, text) = match failed {
                        Outcome::Error(e) => ("error", e.clone()),
                        Outcome::Panic(e) => ("panic", format!("panicked: {e}")),
                        _ => (
                            "timeout",
                            format!("timed out after {:?}", self.settings.timeout),
                        ),
                    };
                    tracing::warn!(hook = %job.hook_name, job = %job.job_id, attempt, error = %text, "background hook failed");
                    let last = attempt >= self.settings.max_attempts;
                    JobAttempt {
                        status: if last { "dead" } else { "failed" },
                        outcome: kind,
                        error: Some(text),
                        next_attempt_at: unix_millis() + retry_in.as_millis() as i64,
                    }
                }
            };
            let finished = record.status != "failed";
            if let Err(e) = self.store.finish_job_attempt(&job.job_id, &record).await {
                tracing::error!(job = %job.job_id, error = %e, "cannot record hook outcome");
                return;
            }
            if finished {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(retry_in) => {}
                _ = self.stopping.cancelled() => return,
            }
        }
    }

    async fn attempt(&self, hook: &Hook, ctx: HookContext) -> Outcome {
        let call = AssertUnwindSafe(hook.call(ctx)).catch_unwind();
        match tokio::time::timeout(self.settings.timeout, call).await {
            Err(_) => Outcome::Timeout,
            Ok(Err(panic)) => Outcome::Panic(panic_message(&panic)),
            Ok(Ok(Err(e))) => Outcome::Error(e.to_string()),
            Ok(Ok(Ok(()))) => Outcome::Ok,
        }
    }

    /// Exponential backoff with ±25 % jitter, capped at five minutes.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.settings.backoff.as_secs_f64()
            * 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
        let jitter = 0.75 + fastrand::f64() * 0.5;
        Duration::from_secs_f64((base * jitter).min(300.0))
    }
}
