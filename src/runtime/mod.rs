//! The runtime: the registry of workflows, the run manager (a run is a task the runtime owns; an
//! HTTP request only subscribes to it), the hook dispatcher and graceful shutdown.

mod hook_payload;
pub(crate) mod hooks;
pub(crate) mod journal;
pub(crate) mod lease;

use crate::agent::{Agent, AgentFailure, AgentRunParams, DeferredHook};
use crate::event::{AgentContext, EventSink, RunEvent};
use crate::kind::ComponentKind;
use crate::run::{Message, RunOutput, RunStatus, unix_millis, unix_seconds};
use crate::store::{
    BeginRun, HOOK_JOB_KIND, IdempotencyKey, NewJob, ResumableRun, RunRecord, SessionRecord, Store,
    StoreError,
};
use crate::workflow::{Execution, Workflow, WorkflowRunParams};
use hooks::{HookDispatcher, ReadyJob};
use journal::Journal;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
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
/// How long a finished resumable run's journal stays in memory for `/resume`; after that its
/// events are replayed from the database.
const JOURNAL_RETENTION: Duration = Duration::from_secs(300);

/// A parsed run request (the form fields of `POST .../runs`). Stored (JSON) with a
/// background run, so a new process can resume it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct RunRequest {
    pub message: String,
    pub stream: bool,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub extra: Map<String, Value>,
    pub metadata: Option<Map<String, Value>>,
    /// The `Idempotency-Key` header.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
    /// The `session_state` form field (a JSON object).
    #[serde(default)]
    pub session_state: Option<Map<String, Value>>,
    /// The `additional_data` form field (a JSON object).
    #[serde(default)]
    pub additional_data: Option<Map<String, Value>>,
    /// `background=true`: answer at once, run detached.
    pub background: bool,
    /// Uploaded images, as data URLs (agent runs).
    #[serde(default)]
    pub images: Vec<String>,
    /// Uploaded text documents (agent runs).
    #[serde(default)]
    pub documents: Vec<Document>,
}

/// A text document uploaded with a run; the model reads it after the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Document {
    pub name: String,
    pub text: String,
}

/// What a run runs: a workflow or a single agent.
#[derive(Debug, Clone)]
pub(crate) enum Component {
    Workflow(Arc<Workflow>),
    Agent(Arc<Agent>),
}

impl Component {
    /// The session and run type.
    pub(crate) fn kind(&self) -> ComponentKind {
        match self {
            Component::Workflow(_) => ComponentKind::Workflow,
            Component::Agent(_) => ComponentKind::Agent,
        }
    }

    /// The workflow or agent id.
    pub(crate) fn id(&self) -> &str {
        match self {
            Component::Workflow(w) => w.id(),
            Component::Agent(a) => a.id(),
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("Workflow not found")]
    WorkflowNotFound,
    #[error("Agent not found")]
    AgentNotFound,
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
    pub session_id: String,
    /// Set for background runs: the run executes detached; answer 202 (or stream the journal).
    pub background: bool,
    /// A resumable run's journal (`background=true&stream=true`).
    pub journal: Option<Arc<Journal>>,
    pub events: Option<mpsc::Receiver<Box<RunEvent>>>,
    pub result: oneshot::Receiver<RunResult>,
    pub guard: ResponseGuard,
}

pub(crate) struct Runtime {
    pub os_id: String,
    pub db_id: String,
    pub workflows: Vec<Arc<Workflow>>,
    pub agents: Vec<Arc<Agent>>,
    pub store: Arc<dyn Store>,
    pub hooks_in_background: bool,
    pub instantiated_at: String,
    dispatcher: HookDispatcher,
    max_attempts: u32,
    idempotency_ttl: Duration,
    runs: TaskTracker,
    lease: lease::OwnerLease,
    lease_settings: lease::LeaseSettings,
    /// Background runs of dead replicas the lease claimed, to resume here.
    orphans: Mutex<Option<mpsc::UnboundedReceiver<ResumableRun>>>,
    /// The cancel switch of every run executing in this process, by run id.
    active: CancelSwitches,
    /// The journals of resumable runs executing here or recently finished, by run id.
    journals: Arc<Mutex<HashMap<String, Arc<Journal>>>>,
}

pub(crate) struct RuntimeParts {
    pub os_id: String,
    pub db_id: String,
    pub workflows: Vec<Arc<Workflow>>,
    pub agents: Vec<Arc<Agent>>,
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
            agents: parts.agents,
            dispatcher: HookDispatcher::new(parts.store.clone(), parts.hooks, parts.hook_settings),
            store: parts.store,
            hooks_in_background: parts.hooks_in_background,
            instantiated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            max_attempts,
            idempotency_ttl: parts.idempotency_ttl,
            runs: TaskTracker::new(),
            lease: lease::OwnerLease::default(),
            orphans: Mutex::default(),
            lease_settings: parts.lease_settings,
            active: Arc::default(),
            journals: Arc::default(),
        }
    }

    /// The in-memory journal of a resumable run, if it is executing here or ended recently.
    pub(crate) fn journal(&self, run_id: &str) -> Option<Arc<Journal>> {
        self.journals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(run_id)
            .cloned()
    }

    /// Takes over what a dead process left (on an exclusive store only: on a shared one it may
    /// be another replica's, and leases expire instead): runs still RUNNING or PENDING end
    /// ERROR and hook job leases are released. On a shared store the owner lease starts
    /// instead (`lease.rs`): dead replicas' work is reconciled periodically. Then the hook
    /// sweep starts.
    pub(crate) async fn recover(&self) -> Result<(), StoreError> {
        let mut resumable = Vec::new();
        if !self.store.exclusive() {
            let (orphans_tx, orphans) = mpsc::unbounded_channel();
            *self.orphans.lock().unwrap_or_else(|e| e.into_inner()) = Some(orphans);
            self.lease
                .start(
                    self.store.clone(),
                    self.lease_settings,
                    orphans_tx,
                    self.active.clone(),
                )
                .await?;
        } else {
            resumable = self.store.resumable_runs().await?;
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
        if let Some(mut requests) = self.store.cancel_requests().await? {
            let active = self.active.clone();
            tokio::spawn(async move {
                while let Some(run_id) = requests.recv().await {
                    cancel_requested_here(&active, &run_id, "NOTIFY");
                }
            });
        }
        for run in resumable {
            self.resume_or_fail(run).await?;
        }
        Ok(())
    }

    /// Resumes a background run left by a dead process; if it cannot be (its workflow is no
    /// longer served, its request is unreadable), ends it ERROR.
    async fn resume_or_fail(&self, run: ResumableRun) -> Result<(), StoreError> {
        let run_id = run.run.run_id.clone();
        match self.resume(run) {
            Ok(()) => {
                tracing::info!(run = %run_id, "resuming a background run left unfinished");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(run = %run_id, error = %e, "cannot resume a background run");
                let error = format!("{INTERRUPTED} ({e})");
                let output = serde_json::json!({"run_id": run_id, "status": RunStatus::Error, "content": error});
                self.store
                    .finish_run(
                        &run_id,
                        RunStatus::Error,
                        &output.to_string(),
                        Some(&error),
                        Vec::new(),
                    )
                    .await
            }
        }
    }

    /// On a shared store: resumes the background runs the owner lease claims from dead
    /// replicas, as they come (until shutdown stops the lease).
    pub(crate) fn start_resuming_orphans(self: &Arc<Runtime>) {
        let orphans = self
            .orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut orphans) = orphans else { return };
        let runtime = self.clone();
        tokio::spawn(async move {
            while let Some(run) = orphans.recv().await {
                if let Err(e) = runtime.resume_or_fail(run).await {
                    tracing::error!(error = %e, "cannot resume or fail a dead replica's run");
                }
            }
        });
    }

    /// A workflow by id.
    pub(crate) fn workflow(&self, id: &str) -> Option<&Arc<Workflow>> {
        self.workflows.iter().find(|w| w.id() == id)
    }

    /// An agent by id.
    pub(crate) fn agent(&self, id: &str) -> Option<&Arc<Agent>> {
        self.agents.iter().find(|a| a.id() == id)
    }

    /// Starts a run of the workflow `workflow_id`.
    pub(crate) async fn start_workflow_run(
        &self,
        workflow_id: &str,
        req: RunRequest,
    ) -> Result<Started, StartError> {
        let workflow = self
            .workflow(workflow_id)
            .ok_or(StartError::WorkflowNotFound)?;
        self.start_run(Component::Workflow(workflow.clone()), req)
            .await
    }

    /// Starts a run of the agent `agent_id`.
    pub(crate) async fn start_agent_run(
        &self,
        agent_id: &str,
        req: RunRequest,
    ) -> Result<Started, StartError> {
        let agent = self.agent(agent_id).ok_or(StartError::AgentNotFound)?;
        self.start_run(Component::Agent(agent.clone()), req).await
    }

    /// Asks the run `run_id` to stop, wherever it executes: in this process at once, else
    /// through the store (another replica of a shared database is woken and stops it).
    pub(crate) async fn cancel_anywhere(&self, run_id: &str) -> Result<bool, StoreError> {
        if self.cancel(run_id) {
            return Ok(true);
        }
        self.store.request_cancel(run_id).await
    }

    /// Asks the run `run_id` to stop, if it executes in this process. Cooperative: the run
    /// stops at its next event or model chunk and is stored CANCELLED with what it has.
    pub(crate) fn cancel(&self, run_id: &str) -> bool {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        match active.get(run_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Records the run as RUNNING (visible at once) and starts it on the runtime's tracker.
    async fn start_run(
        &self,
        component: Component,
        req: RunRequest,
    ) -> Result<Started, StartError> {
        let now = unix_millis();
        let run_id = crate::run::new_row_id();
        let session_id = req
            .session_id
            .clone()
            .unwrap_or_else(crate::run::new_row_id);
        let kind = component.kind();
        let session = SessionRecord {
            session_id: session_id.clone(),
            session_type: kind,
            component_id: component.id().to_owned(),
            user_id: req.user_id.clone(),
            session_name: Some(req.message.clone()),
            session_state: "{}".to_owned(),
            created_at: now,
            updated_at: now,
        };
        let record = RunRecord {
            run_id: run_id.clone(),
            session_id: session_id.clone(),
            component_type: kind,
            component_id: component.id().to_owned(),
            user_id: req.user_id.clone(),
            status: match req.background {
                true => RunStatus::Pending,
                false => RunStatus::Running,
            },
            input: req.message.clone(),
            output: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        let key = req.idempotency_key.as_ref().map(|key| IdempotencyKey {
            scope: format!("{kind}:{}", component.id()),
            key: key.clone(),
            expires_at: now + self.idempotency_ttl.as_millis() as i64,
        });

        let background = req.background;
        let request = match background {
            true => {
                Some(serde_json::to_string(&req).map_err(|e| StoreError::Config(e.to_string()))?)
            }
            false => None,
        };
        let params = WorkflowRunParams {
            run_id: run_id.clone(),
            session_id,
            user_id: req.user_id,
            input: req.message,
            extra: req.extra,
            metadata: req.metadata,
            hooks_in_background: self.hooks_in_background,
            created_at: unix_seconds(),
            session_state: req.session_state.unwrap_or_default(),
            additional_data: req.additional_data.unwrap_or_default(),
            cancel: CancellationToken::new(),
            checkpoint: None,
            images: req.images,
            documents: req.documents,
            resume_from: None,
        };
        let journal = (background && req.stream).then(|| self.new_journal(&run_id, Vec::new()));
        let (task, events, result, guard_tx) =
            self.task(component, params, req.stream, request, journal.clone());
        let session_id = session.session_id.clone();
        let begun = self.spawn_begin(Box::new(task), session, record, key);
        match begun.await {
            Ok(Ok(None)) => Ok(Started::New(RunHandle {
                run_id,
                session_id,
                background,
                journal,
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

    /// Starts the task that writes the run's first row and then executes it; the receiver
    /// answers once the row is written (`None`), or with the existing run an idempotency key
    /// named, or the store's error.
    ///
    /// The runtime owns the run from the first write on: if the client goes away while the
    /// run row is being written, the run still executes and ends in a terminal status.
    ///
    /// A plain function on purpose: an `async` block built inside `start_run` would be laid out
    /// in `start_run`'s own future (and so in every request handler's) even though it is moved
    /// away before the first await; the task is boxed so the block holds a pointer, not a copy.
    fn spawn_begin(
        &self,
        task: Box<RunTask>,
        session: SessionRecord,
        record: RunRecord,
        key: Option<IdempotencyKey>,
    ) -> oneshot::Receiver<Result<Option<RunRecord>, StoreError>> {
        let (begun_tx, begun) = oneshot::channel();
        self.runs.spawn(async move {
            match task.store.begin_run(&session, &record, key.as_ref()).await {
                Ok(BeginRun::Started(session)) => {
                    let _ = begun_tx.send(Ok(None));
                    let mut task = task;
                    task.stored_state = Some(session.session_state);
                    task.run().await;
                }
                Ok(BeginRun::Existing(run)) => {
                    task.forget_journal();
                    let _ = begun_tx.send(Ok(Some(run)));
                }
                Err(e) => {
                    task.forget_journal();
                    let _ = begun_tx.send(Err(e));
                }
            }
        });
        begun
    }

    /// A resumable run's journal, holding `stored` events already (a resumed run's), and
    /// listed for `/resume`.
    fn new_journal(&self, run_id: &str, stored: Vec<(i64, String)>) -> Arc<Journal> {
        let journal = Arc::new(Journal::with_rows(stored));
        self.journals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run_id.to_owned(), journal.clone());
        journal
    }

    /// The task that executes a run, and what its requester holds: the events receiver, the
    /// result receiver and the response guard's sender.
    #[allow(clippy::type_complexity)]
    fn task(
        &self,
        component: Component,
        mut params: WorkflowRunParams,
        stream: bool,
        request: Option<String>,
        journal: Option<Arc<Journal>>,
    ) -> (
        RunTask,
        Option<mpsc::Receiver<Box<RunEvent>>>,
        oneshot::Receiver<RunResult>,
        oneshot::Sender<()>,
    ) {
        let (sink, events) = match (&journal, stream) {
            (Some(journal), _) => (EventSink::journaled(journal.clone()), None),
            (None, true) => {
                let (tx, rx) = mpsc::channel(EVENT_BUFFER);
                (EventSink::new(Some(tx)), Some(rx))
            }
            (None, false) => (EventSink::new(None), None),
        };
        if request.is_some() {
            params.checkpoint = Some(Arc::new(Checkpointer {
                store: self.store.clone(),
                journal: journal.clone(),
                events_written: Default::default(),
            }));
        }
        let (result_tx, result) = oneshot::channel();
        let (guard_tx, response_done) = oneshot::channel();
        let active = ActiveRun::register(&self.active, &params.run_id, params.cancel.clone());
        let task = RunTask {
            store: self.store.clone(),
            component,
            params,
            sink,
            request,
            journal,
            journals: self.journals.clone(),
            result_tx,
            response_done,
            max_attempts: self.max_attempts,
            dispatcher: self.dispatcher.clone(),
            active,
            stored_state: None,
        };
        (task, events, result, guard_tx)
    }

    /// Resumes a background run a dead process left: from its last checkpoint (the steps that
    /// finished are not run again), with its journal's stored events, under its own id.
    fn resume(&self, resumable: ResumableRun) -> Result<(), String> {
        let ResumableRun {
            run,
            request,
            checkpoint,
        } = resumable;
        let req: RunRequest = serde_json::from_str(&request).map_err(|e| e.to_string())?;
        let component = match run.component_type {
            ComponentKind::Workflow => self
                .workflow(&run.component_id)
                .cloned()
                .map(Component::Workflow),
            ComponentKind::Agent => self.agent(&run.component_id).cloned().map(Component::Agent),
            ComponentKind::Team => None,
        }
        .ok_or_else(|| {
            format!(
                "{} {} is no longer served",
                run.component_type, run.component_id
            )
        })?;
        let resume_from = match (&component, checkpoint) {
            (Component::Workflow(_), Some(c)) => Some(Box::new(
                serde_json::from_str(&c).map_err(|e| e.to_string())?,
            )),
            _ => None,
        };
        let params = WorkflowRunParams {
            run_id: run.run_id.clone(),
            session_id: run.session_id.clone(),
            user_id: req.user_id.clone(),
            input: req.message.clone(),
            extra: req.extra.clone(),
            metadata: req.metadata.clone(),
            hooks_in_background: self.hooks_in_background,
            created_at: run.created_at / 1000,
            session_state: req.session_state.clone().unwrap_or_default(),
            additional_data: req.additional_data.clone().unwrap_or_default(),
            cancel: CancellationToken::new(),
            checkpoint: None,
            images: req.images.clone(),
            documents: req.documents.clone(),
            resume_from,
        };
        let store = self.store.clone();
        let journal = req
            .stream
            .then(|| self.new_journal(&run.run_id, Vec::new()));
        let (task, _events, _result, _guard) = self.task(
            component,
            params,
            req.stream,
            Some(request),
            journal.clone(),
        );
        self.runs.spawn(async move {
            if let Some(journal) = &journal {
                match store.run_events(&task.params.run_id, -1).await {
                    Ok(rows) => journal.preload(rows),
                    Err(e) => tracing::warn!(error = %e, "cannot read the resumed run's events"),
                }
            }
            Box::new(task).run().await;
        });
        Ok(())
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
                "background hooks did not drain within {deadline:?}; they stay pending in the jobs table"
            );
        }
        self.lease.stop().await;
        self.store.close().await;
    }
}

/// The cancel switch of every run executing in this process, by run id.
pub(crate) type CancelSwitches = Arc<Mutex<HashMap<String, CancellationToken>>>;

/// Stops the run `run_id` if it executes in this process and is not stopping already: another
/// replica asked (the request came by `how`: the NOTIFY, or the heartbeat's re-check).
pub(crate) fn cancel_requested_here(active: &CancelSwitches, run_id: &str, how: &str) {
    let active = active.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(token) = active.get(run_id).filter(|t| !t.is_cancelled()) {
        tracing::info!(run = %run_id, via = how, "cancel requested by another replica");
        token.cancel();
    }
}

/// A run's entry in the runtime's table of cancel switches; removed when the run ends.
struct ActiveRun {
    table: CancelSwitches,
    run_id: String,
}

impl ActiveRun {
    fn register(table: &CancelSwitches, run_id: &str, token: CancellationToken) -> ActiveRun {
        table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run_id.to_owned(), token);
        ActiveRun {
            table: table.clone(),
            run_id: run_id.to_owned(),
        }
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.run_id);
    }
}

/// One run, owned by the runtime.
struct RunTask {
    store: Arc<dyn Store>,
    component: Component,
    params: WorkflowRunParams,
    sink: EventSink,
    /// A background run's request (JSON), stored when it starts so it can be resumed.
    request: Option<String>,
    journal: Option<Arc<Journal>>,
    journals: Arc<Mutex<HashMap<String, Arc<Journal>>>>,
    result_tx: oneshot::Sender<RunResult>,
    response_done: oneshot::Receiver<()>,
    max_attempts: u32,
    dispatcher: HookDispatcher,
    active: ActiveRun,
    /// The session's stored state as `begin_run` read it (saves a read); `None`: read it.
    stored_state: Option<String>,
}

/// How a run ended, before it is stored.
struct Ending {
    status: RunStatus,
    /// The output as JSON, or why it could not be serialized.
    json: Result<String, String>,
    error: Option<String>,
    failure: Option<AgentFailure>,
    deferred: Vec<DeferredHook>,
    /// The agent runs whose outputs the stored output holds: a deferred post-hook of one of
    /// them stores its context without that output (see [`crate::store::needs_run_output`]).
    agent_runs: Vec<String>,
    /// The last event (`WorkflowCompleted`, `RunCompleted`, ...), sent once the state is stored.
    final_event: Option<RunEvent>,
}

/// How many earlier runs of a session an agent sees (agno's `num_history_runs`).
pub(crate) const HISTORY_RUNS: usize = 3;

impl RunTask {
    /// Executes, stores the final state with the hook jobs (one transaction), answers, then —
    /// once the response is out — hands the jobs to the dispatcher.
    async fn run(mut self: Box<Self>) {
        if let Some(journal) = &self.journal
            && !self.store.exclusive()
        {
            tokio::spawn(journal::flush_while_running(
                self.store.clone(),
                self.params.run_id.clone(),
                journal.clone(),
            ));
        }
        if let Some(request) = &self.request
            && let Err(e) = self
                .store
                .start_background_run(&self.params.run_id, request)
                .await
        {
            tracing::warn!(run = %self.params.run_id, error = %e, "cannot mark the run RUNNING");
        }
        // Boxed: each kind's execution future lives on the heap only while it runs, at its own
        // size rather than the larger of the two.
        let ending = match self.component.clone() {
            Component::Workflow(workflow) => Box::pin(self.run_workflow(&workflow)).await,
            Component::Agent(agent) => Box::pin(self.run_agent(&agent)).await,
        };
        let Ending {
            status,
            json,
            error,
            failure,
            deferred,
            agent_runs,
            final_event,
        } = ending;
        let (jobs, ready) = self.jobs(deferred, &agent_runs);
        let stored = match json {
            Ok(json) => self
                .store
                .finish_run(&self.params.run_id, status, &json, error.as_deref(), jobs)
                .await
                .map(|()| json)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let stored_ok = stored.is_ok();
        match stored {
            Ok(json) => {
                if let Some(event) = final_event {
                    self.sink.emit(|| event).await;
                }
                let rejected_input = failure
                    .as_ref()
                    .filter(|f| f.is_input_rejection())
                    .map(|f| f.message.clone());
                let _ = self.result_tx.send(RunResult::Finished {
                    json,
                    rejected_input,
                });
            }
            Err(e) => {
                tracing::error!(run = %self.params.run_id, error = %e, "cannot store the run's final state");
                let message = format!("failed to store the run: {e}");
                let event = self.storage_error_event(&message);
                self.sink.emit(|| event).await;
                let _ = self.result_tx.send(RunResult::NotStored(message));
            }
        }
        if let Some(journal) = self.journal.take() {
            close_journal(
                &*self.store,
                &self.journals,
                &self.params.run_id,
                &journal,
                status,
            )
            .await;
        }
        drop(self.active);
        // Close the event stream, then wait for the response to be written.
        drop(self.sink);
        let _ = tokio::time::timeout(RESPONSE_WAIT, self.response_done).await;
        if stored_ok && !ready.is_empty() {
            self.dispatcher.dispatch(ready);
        }
    }

    /// Removes the journal of a run that did not start.
    fn forget_journal(&self) {
        if self.journal.is_some() {
            self.journals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.params.run_id);
        }
    }

    async fn run_workflow(&mut self, workflow: &Workflow) -> Ending {
        let stored = self.stored_session_state().await;
        self.params.session_state = crate::workflow::merge_session_state(
            workflow.get_session_state(),
            &stored,
            &self.params.session_state,
        );
        let Execution {
            output,
            deferred,
            failure,
            session_state,
        } = workflow.execute(&self.params, &mut self.sink).await;
        self.save_session_state(session_state, &stored).await;
        let final_event = self.sink.is_streaming().then(|| {
            let ctx = workflow.event_context(&self.params, None);
            match (&failure, output.status) {
                (Some(f), _) => RunEvent::WorkflowError {
                    ctx,
                    error: f.message.clone(),
                    error_type: Some(f.error_type.to_owned()),
                    error_id: f.error_id.clone(),
                },
                _ => RunEvent::workflow_completed(ctx, &output),
            }
        });
        Ending {
            status: output.status,
            json: serde_json::to_string(&output).map_err(|e| e.to_string()),
            error: output.error.clone(),
            failure,
            deferred,
            agent_runs: output
                .step_executor_runs
                .iter()
                .map(|run| run.run_id.clone())
                .collect(),
            final_event,
        }
    }

    async fn run_agent(&mut self, agent: &Agent) -> Ending {
        let p = &self.params;
        let history = match agent.get_history_runs() {
            0 => Vec::new(),
            n => history(self.store.as_ref(), &p.session_id, &p.run_id, n).await,
        };
        let params = AgentRunParams {
            input: p.input.clone(),
            session_id: p.session_id.clone(),
            user_id: p.user_id.clone(),
            extra: p.extra.clone(),
            metadata: p.metadata.clone(),
            place: None,
            hooks_in_background: p.hooks_in_background,
            run_id: Some(p.run_id.clone()),
            history,
            images: p.images.clone(),
            documents: p.documents.clone(),
            cancel: p.cancel.clone(),
            top_level: true,
        };
        let result = agent.run(&params, &mut self.sink).await;
        let output = result.output;
        let final_event = self.sink.is_streaming().then(|| {
            let ctx = Arc::new(AgentContext::top_level(&output));
            match (&result.failure, output.status) {
                (Some(f), _) => RunEvent::RunError {
                    ctx,
                    content: f.message.clone(),
                    error_type: Some(f.error_type.to_owned()),
                    error_id: f.error_id.clone(),
                },
                (None, RunStatus::Cancelled) => RunEvent::RunCancelled {
                    ctx,
                    reason: cancel_reason(&output.run_id),
                },
                (None, _) => RunEvent::RunCompleted {
                    ctx,
                    content: output.content.clone(),
                    content_type: output.content_type.clone(),
                    metrics: output.metrics.clone(),
                },
            }
        });
        Ending {
            status: output.status,
            json: serde_json::to_string(&output).map_err(|e| e.to_string()),
            error: result.failure.as_ref().map(|f| f.message.clone()),
            failure: result.failure,
            deferred: result.deferred,
            agent_runs: vec![output.run_id.clone()],
            final_event,
        }
    }

    /// The event that tells a streaming client the run's final state could not be stored.
    fn storage_error_event(&self, message: &str) -> RunEvent {
        match &self.component {
            Component::Workflow(workflow) => RunEvent::WorkflowError {
                ctx: workflow.event_context(&self.params, None),
                error: message.to_owned(),
                error_type: Some("storage_error".to_owned()),
                error_id: None,
            },
            Component::Agent(agent) => RunEvent::RunError {
                ctx: Arc::new(AgentContext::standalone(
                    agent.id(),
                    agent.name(),
                    &self.params.run_id,
                    &self.params.session_id,
                )),
                content: message.to_owned(),
                error_type: Some("storage_error".to_owned()),
                error_id: None,
            },
        }
    }

    /// The session's stored state: as `begin_run` returned it, or read now (a resumed run).
    async fn stored_session_state(&mut self) -> Map<String, Value> {
        let text = match self.stored_state.take() {
            Some(text) => Some(text),
            None => match self.store.get_session(&self.params.session_id).await {
                Ok(session) => session.map(|s| s.session_state),
                Err(e) => {
                    tracing::error!(run = %self.params.run_id, error = %e, "cannot read the session state");
                    None
                }
            },
        };
        text.and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Stores the session state the run left, unless it is the stored one (before the final
    /// state, so a client that sees the run finished also sees the state).
    async fn save_session_state(&self, state: Map<String, Value>, stored: &Map<String, Value>) {
        let state = crate::workflow::state_to_store(state);
        if &state == stored {
            return;
        }
        let saved = match serde_json::to_string(&state) {
            Ok(json) => {
                let update = crate::store::SessionUpdate {
                    session_state: Some(json),
                    ..crate::store::SessionUpdate::default()
                };
                self.store
                    .update_session(&self.params.session_id, &update)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = saved {
            tracing::error!(run = %self.params.run_id, error = %e, "cannot store the session state");
        }
    }

    fn jobs(
        &self,
        deferred: Vec<DeferredHook>,
        agent_runs: &[String],
    ) -> (Vec<NewJob>, Vec<ReadyJob>) {
        deferred
            .into_iter()
            .filter_map(|mut d| {
                let job_id = crate::run::new_row_id();
                // The run's row holds this output: the job reads it from there.
                let output_in_run = d.ctx.run_output.as_ref().is_some_and(|output| {
                    output.run_id == d.ctx.run_id && agent_runs.contains(&output.run_id)
                });
                let payload = match hook_payload::encode(&mut d.ctx, output_in_run) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(hook = %d.hook_name, error = %e, "cannot serialize hook context");
                        return None;
                    }
                };
                let max_attempts = d.max_attempts.unwrap_or(self.max_attempts);
                // With a free slot the job is stored claimed, as the attempt it starts as soon as
                // the response is written; otherwise pending, leased briefly to this process.
                let slot = self.dispatcher.reserve(&d.hook_name, max_attempts);
                let lease_until = match slot {
                    Some(_) => self.dispatcher.lease_until(),
                    None => unix_millis() + COMMITTED_JOB_LEASE.as_millis() as i64,
                };
                let new = NewJob {
                    job_id: job_id.clone(),
                    kind: HOOK_JOB_KIND.into(),
                    name: d.hook_name,
                    run_id: Some(self.params.run_id.clone()),
                    payload,
                    max_attempts,
                    lease_owner: self.dispatcher.owner().to_owned(),
                    lease_until,
                    claimed: slot.is_some(),
                };
                // A job stored pending keeps only its id here: its context is in its row.
                let ready = ReadyJob {
                    job_id,
                    start: slot.map(|slot| (slot, d.ctx)),
                };
                Some((new, ready))
            })
            .unzip()
    }
}

/// agno's reason for a cancelled run.
pub(crate) fn cancel_reason(run_id: &str) -> String {
    format!("Run {run_id} was cancelled")
}

/// The last `n` completed runs of the session (not `run_id`), as user and assistant messages
/// marked `from_history`, oldest first.
async fn history(store: &dyn Store, session_id: &str, run_id: &str, n: usize) -> Vec<Message> {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let runs = match store.recent_completed_runs(session_id, run_id, n).await {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!(session = %session_id, error = %e, "cannot read the session's history");
            return Vec::new();
        }
    };
    runs.iter()
        .filter_map(|r| serde_json::from_str::<RunOutput>(r.output.as_deref()?).ok())
        .flat_map(|run| {
            let answer = run.content_text();
            [
                Message::new("user", run.input.input_content),
                Message::new("assistant", answer),
            ]
        })
        .map(|mut m| {
            m.from_history = true;
            m
        })
        .collect()
}

/// Stores a resumable run's events, tells its subscribers it ended, and forgets the journal
/// after [`JOURNAL_RETENTION`] (the database then serves replays).
async fn close_journal(
    store: &dyn Store,
    journals: &Arc<Mutex<HashMap<String, Arc<Journal>>>>,
    run_id: &str,
    journal: &Journal,
    status: RunStatus,
) {
    if let Err(e) = store.append_run_events(run_id, &journal.rows()).await {
        tracing::error!(run = %run_id, error = %e, "cannot store the run's events for replay");
    }
    journal.finish(status);
    let journals = journals.clone();
    let run_id = run_id.to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(JOURNAL_RETENTION).await;
        journals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&run_id);
    });
}

/// Writes a background run's checkpoint (its output so far, and its events) as each
/// top-level step ends.
pub(crate) struct Checkpointer {
    store: Arc<dyn Store>,
    journal: Option<Arc<Journal>>,
    /// How many of the journal's events earlier checkpoints wrote (only the rest is sent).
    events_written: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer").finish_non_exhaustive()
    }
}

impl Checkpointer {
    /// Records `output` (the finished steps) and the background hooks they owe. A failure is
    /// logged: the run goes on, and a resume would redo the step.
    pub(crate) async fn save(
        &self,
        output: &crate::run::WorkflowRunOutput,
        deferred: &[DeferredHook],
    ) {
        use std::sync::atomic::Ordering;
        let written = self.events_written.load(Ordering::Relaxed);
        let events = self
            .journal
            .as_ref()
            .map(|j| j.rows_from(written))
            .unwrap_or_default();
        let checkpoint = serde_json::json!({"output": output, "deferred": deferred});
        let result = match serde_json::to_string(&checkpoint) {
            Ok(json) => self
                .store
                .checkpoint_run(&output.run_id, &json, &events)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => {
                self.events_written
                    .store(written + events.len(), Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(run = %output.run_id, error = %e, "cannot checkpoint the run"),
        }
    }
}
