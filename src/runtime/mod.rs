//! The runtime: the registry of workflows, the run manager (a run is a task the runtime owns; an
//! HTTP request only subscribes to it), the hook dispatcher and graceful shutdown.

pub(crate) mod hooks;
pub(crate) mod lease;

use crate::agent::DeferredHook;
use crate::event::{EventSink, RunEvent};
use crate::run::{RunStatus, unix_millis, unix_seconds};
use crate::store::{
    BeginRun, IdempotencyKey, NewHookJob, RunRecord, SessionRecord, Store, StoreError,
};
use crate::workflow::{Execution, Workflow, WorkflowRunParams};
use hooks::{HookDispatcher, ReadyJob};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

/// How long a finished run waits for its HTTP response to be written before it releases its
/// background hooks anyway (as long as their lease: after that the sweep may take them).
const RESPONSE_WAIT: Duration = COMMITTED_JOB_LEASE;
/// How long a committed hook job stays leased to the process that wrote it. Long enough for
/// the response to be written (milliseconds, normally), short enough that a job this process
/// has no free slot for is soon taken by the sweep without a second write to release it.
const COMMITTED_JOB_LEASE: Duration = Duration::from_secs(5);
/// The error recorded on runs a dead process left unfinished.
pub(crate) const INTERRUPTED: &str = "interrupted: server restarted";
/// Events buffered between a run and a slow SSE client before the run waits for it.
const EVENT_BUFFER: usize = 256;

/// A parsed run request (the form fields of `POST .../runs`).
#[derive(Debug, Clone, Default)]
pub(crate) struct RunRequest {
    pub message: String,
    pub stream: bool,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub extra: Map<String, Value>,
    pub metadata: Option<Map<String, Value>>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("Workflow not found")]
    WorkflowNotFound,
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The end of a run as its requester sees it.
#[derive(Debug)]
pub(crate) enum RunResult {
    /// The run ended (completed or failed) and is stored.
    Finished {
        /// The stored output, as JSON (serialized once, for the database and the response).
        json: String,
        /// Set when a guardrail rejected the input.
        rejected_input: Option<String>,
    },
    /// The run ended but its final state could not be stored.
    NotStored(String),
}

/// Dropped once the HTTP response is fully written (or abandoned); until then the run holds
/// back its background hooks, so they always start after the response.
#[derive(Debug)]
pub(crate) struct ResponseGuard {
    /// Never sent on: dropping it is the signal.
    _done: oneshot::Sender<()>,
}

/// What asking for a run gave.
#[derive(Debug)]
pub(crate) enum Started {
    /// A new run, executing now.
    New(RunHandle),
    /// The idempotency key names this earlier run; it was not executed again.
    Existing(RunRecord),
}

/// A started run.
#[derive(Debug)]
pub(crate) struct RunHandle {
    pub run_id: String,
    pub events: Option<mpsc::Receiver<RunEvent>>,
    pub result: oneshot::Receiver<RunResult>,
    pub guard: ResponseGuard,
}

pub(crate) struct Runtime {
    pub os_id: String,
    pub db_id: String,
    pub workflows: Vec<Arc<Workflow>>,
    pub store: Arc<dyn Store>,
    pub hooks_in_background: bool,
    pub instantiated_at: String,
    dispatcher: HookDispatcher,
    max_attempts: u32,
    idempotency_ttl: Duration,
    runs: TaskTracker,
    lease: lease::OwnerLease,
    lease_settings: lease::LeaseSettings,
}

pub(crate) struct RuntimeParts {
    pub os_id: String,
    pub db_id: String,
    pub workflows: Vec<Arc<Workflow>>,
    pub store: Arc<dyn Store>,
    pub hooks_in_background: bool,
    pub hooks: HashMap<String, crate::hooks::Hook>,
    pub hook_settings: hooks::HookSettings,
    pub idempotency_ttl: Duration,
    pub lease_settings: lease::LeaseSettings,
}

impl Runtime {
    pub(crate) fn new(parts: RuntimeParts) -> Runtime {
        let max_attempts = parts.hook_settings.max_attempts.max(1);
        Runtime {
            os_id: parts.os_id,
            db_id: parts.db_id,
            workflows: parts.workflows,
            dispatcher: HookDispatcher::new(parts.store.clone(), parts.hooks, parts.hook_settings),
            store: parts.store,
            hooks_in_background: parts.hooks_in_background,
            instantiated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            max_attempts,
            idempotency_ttl: parts.idempotency_ttl,
            runs: TaskTracker::new(),
            lease: lease::OwnerLease::default(),
            lease_settings: parts.lease_settings,
        }
    }

    /// Takes over what a dead process left (on an exclusive store only: on a shared one it may
    /// be another replica's, and leases expire instead): runs still RUNNING or PENDING end
    /// ERROR and hook job leases are released. On a shared store the owner lease starts
    /// instead (`lease.rs`): dead replicas' work is reconciled periodically. Then the hook
    /// sweep starts.
    pub(crate) async fn recover(&self) -> Result<(), StoreError> {
        if !self.store.exclusive() {
            self.lease
                .start(self.store.clone(), self.lease_settings)
                .await?;
        } else {
            let n = self.store.fail_interrupted_runs(INTERRUPTED).await?;
            if n > 0 {
                tracing::warn!("{n} run(s) left unfinished by a previous process marked ERROR");
            }
            let n = self.store.release_all_leases().await?;
            if n > 0 {
                tracing::info!("{n} hook job(s) left by a previous process are due again");
            }
        }
        self.dispatcher.start().await;
        Ok(())
    }

    /// A workflow by id.
    pub(crate) fn workflow(&self, id: &str) -> Option<&Arc<Workflow>> {
        self.workflows.iter().find(|w| w.id() == id)
    }

    /// Records the run as RUNNING (visible at once) and starts it on the runtime's tracker.
    pub(crate) async fn start_workflow_run(
        &self,
        workflow_id: &str,
        req: RunRequest,
    ) -> Result<Started, StartError> {
        let workflow = self
            .workflow(workflow_id)
            .ok_or(StartError::WorkflowNotFound)?
            .clone();
        let now = unix_millis();
        let run_id = uuid::Uuid::new_v4().to_string();
        let session_id = req
            .session_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let session = SessionRecord {
            session_id: session_id.clone(),
            session_type: "workflow".to_owned(),
            component_id: workflow.id().to_owned(),
            user_id: req.user_id.clone(),
            session_name: Some(req.message.clone()),
            session_state: "{}".to_owned(),
            created_at: now,
            updated_at: now,
        };
        let record = RunRecord {
            run_id: run_id.clone(),
            session_id: session_id.clone(),
            component_type: "workflow".to_owned(),
            component_id: workflow.id().to_owned(),
            user_id: req.user_id.clone(),
            status: RunStatus::Running,
            input: req.message.clone(),
            output: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        let key = req.idempotency_key.as_ref().map(|key| IdempotencyKey {
            scope: format!("workflow:{}", workflow.id()),
            key: key.clone(),
            expires_at: now + self.idempotency_ttl.as_millis() as i64,
        });

        let params = WorkflowRunParams {
            run_id: run_id.clone(),
            session_id,
            user_id: req.user_id,
            input: req.message,
            extra: req.extra,
            metadata: req.metadata,
            hooks_in_background: self.hooks_in_background,
            created_at: unix_seconds(),
        };
        let (events_tx, events) = match req.stream {
            true => {
                let (tx, rx) = mpsc::channel(EVENT_BUFFER);
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let (result_tx, result) = oneshot::channel();
        let (guard_tx, response_done) = oneshot::channel();
        let task = RunTask {
            store: self.store.clone(),
            workflow,
            params,
            sink: EventSink::new(events_tx),
            result_tx,
            response_done,
            max_attempts: self.max_attempts,
            dispatcher: self.dispatcher.clone(),
        };
        // The runtime owns the run from the first write on: if the client goes away while the
        // run row is being written, the run still executes and ends in a terminal status.
        let (begun_tx, begun) = oneshot::channel();
        self.runs.spawn(async move {
            match task.store.begin_run(&session, &record, key.as_ref()).await {
                Ok(BeginRun::Started(_)) => {
                    let _ = begun_tx.send(Ok(None));
                    task.run().await;
                }
                Ok(BeginRun::Existing(run)) => {
                    let _ = begun_tx.send(Ok(Some(run)));
                }
                Err(e) => {
                    let _ = begun_tx.send(Err(e));
                }
            }
        });
        match begun.await {
            Ok(Ok(None)) => Ok(Started::New(RunHandle {
                run_id,
                events,
                result,
                guard: ResponseGuard { _done: guard_tx },
            })),
            Ok(Ok(Some(existing))) => Ok(Started::Existing(existing)),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(StartError::Store(StoreError::Config(
                "the run could not be started".to_owned(),
            ))),
        }
    }

    /// Shuts down in order: in-flight runs finish, then pending background hooks drain (up to
    /// `deadline`), then the database closes.
    pub(crate) async fn shutdown(&self, deadline: Duration) {
        self.runs.close();
        if tokio::time::timeout(deadline, self.runs.wait())
            .await
            .is_err()
        {
            tracing::warn!("in-flight runs did not finish within {deadline:?}");
        }
        if !self.dispatcher.drain(deadline).await {
            tracing::warn!(
                "background hooks did not drain within {deadline:?}; they stay pending in hook_jobs"
            );
        }
        self.lease.stop().await;
        self.store.close().await;
    }
}

/// One run, owned by the runtime.
struct RunTask {
    store: Arc<dyn Store>,
    workflow: Arc<Workflow>,
    params: WorkflowRunParams,
    sink: EventSink,
    result_tx: oneshot::Sender<RunResult>,
    response_done: oneshot::Receiver<()>,
    max_attempts: u32,
    dispatcher: HookDispatcher,
}

impl RunTask {
    /// Executes, stores the final state with the hook jobs (one transaction), answers, then —
    /// once the response is out — hands the jobs to the dispatcher.
    async fn run(mut self) {
        let Execution {
            output,
            deferred,
            failure,
        } = self.workflow.execute(&self.params, &mut self.sink).await;
        let (jobs, ready) = self.jobs(deferred);
        let stored = match serde_json::to_string(&output) {
            Ok(json) => self
                .store
                .finish_run(
                    &output.run_id,
                    output.status,
                    &json,
                    output.error.as_deref(),
                    &jobs,
                )
                .await
                .map(|()| json)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let ctx = self.workflow.event_context(&self.params, None);
        let stored_ok = stored.is_ok();
        match stored {
            Ok(json) => {
                let rejected_input = failure
                    .as_ref()
                    .filter(|f| f.is_input_rejection())
                    .map(|f| f.message.clone());
                match &failure {
                    None => {
                        self.sink
                            .emit(|| RunEvent::workflow_completed(ctx, &output))
                            .await
                    }
                    Some(f) => {
                        self.sink
                            .emit(|| RunEvent::WorkflowError {
                                ctx,
                                error: f.message.clone(),
                                error_type: Some(f.error_type.to_owned()),
                                error_id: f.error_id.clone(),
                            })
                            .await
                    }
                }
                let _ = self.result_tx.send(RunResult::Finished {
                    json,
                    rejected_input,
                });
            }
            Err(e) => {
                tracing::error!(run = %self.params.run_id, error = %e, "cannot store the run's final state");
                let message = format!("failed to store the run: {e}");
                self.sink
                    .emit(|| RunEvent::WorkflowError {
                        ctx,
                        error: message.clone(),
                        error_type: Some("storage_error".to_owned()),
                        error_id: None,
                    })
                    .await;
                let _ = self.result_tx.send(RunResult::NotStored(message));
            }
        }
        // Close the event stream, then wait for the response to be written.
        drop(self.sink);
        let _ = tokio::time::timeout(RESPONSE_WAIT, self.response_done).await;
        if stored_ok && !ready.is_empty() {
            self.dispatcher.dispatch(ready);
        }
    }

    fn jobs(&self, deferred: Vec<DeferredHook>) -> (Vec<NewHookJob>, Vec<ReadyJob>) {
        deferred
            .into_iter()
            .filter_map(|d| {
                let job_id = uuid::Uuid::new_v4().to_string();
                let payload = match serde_json::to_string(&d.ctx) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(hook = %d.hook_name, error = %e, "cannot serialize hook context");
                        return None;
                    }
                };
                let new = NewHookJob {
                    job_id: job_id.clone(),
                    run_id: self.params.run_id.clone(),
                    hook_name: d.hook_name.clone(),
                    payload,
                    max_attempts: d.max_attempts.unwrap_or(self.max_attempts),
                    lease_owner: self.dispatcher.owner().to_owned(),
                    lease_until: unix_millis() + COMMITTED_JOB_LEASE.as_millis() as i64,
                };
                let ready = ReadyJob { job_id, ctx: d.ctx };
                Some((new, ready))
            })
            .unzip()
    }
}
