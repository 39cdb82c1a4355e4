//! Starting a run: the first write (the run row, visible at once), then the task that executes
//! it, on the runtime's tracker.

use super::cancel::ActiveRun;
use super::checkpoint::Checkpointer;
use super::component::Component;
use super::request::{ResponseGuard, RunHandle, RunRequest, StartError, Started};
use super::task::RunTask;
use super::{EVENT_BUFFER, Runtime};
use crate::event::EventSink;
use crate::event::journal::Journal;
use crate::kind::ComponentKind;
use crate::run::{RunStatus, unix_millis, unix_seconds};
use crate::store::{BeginRun, IdempotencyKey, RunRecord, SessionRecord, StoreError};
use crate::workflow::WorkflowCall;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// The receivers a requester holds for a run's task: its events (when streamed), its result,
/// and the sender whose drop tells the task that the response is written.
pub(super) struct TaskEnds {
    pub events: Option<mpsc::Receiver<Box<crate::event::RunEvent>>>,
    pub result: oneshot::Receiver<super::request::RunResult>,
    pub guard: oneshot::Sender<()>,
}

impl Runtime {
    /// Starts a run of the component of `kind` with this id.
    pub(crate) async fn start(
        &self,
        kind: ComponentKind,
        id: &str,
        req: RunRequest,
    ) -> Result<Started, StartError> {
        let component = self.component(kind, id).ok_or(StartError::NotFound(kind))?;
        self.start_run(component, req).await
    }

    /// Starts a run of the workflow `workflow_id`.
    pub(crate) async fn start_workflow_run(
        &self,
        workflow_id: &str,
        req: RunRequest,
    ) -> Result<Started, StartError> {
        self.start(ComponentKind::Workflow, workflow_id, req).await
    }

    /// Starts a run of the agent `agent_id`.
    pub(crate) async fn start_agent_run(
        &self,
        agent_id: &str,
        req: RunRequest,
    ) -> Result<Started, StartError> {
        self.start(ComponentKind::Agent, agent_id, req).await
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

        let (background, stream) = (req.background, req.stream);
        let request = match background {
            true => {
                Some(serde_json::to_string(&req).map_err(|e| StoreError::Config(e.to_string()))?)
            }
            false => None,
        };
        let (input, ctx) = req.into_context(
            run_id.clone(),
            session_id.clone(),
            unix_seconds(),
            self.hooks_in_background,
        );
        let call = WorkflowCall {
            input,
            ..WorkflowCall::default()
        };
        let journal = (background && stream).then(|| self.new_journal(&run_id, Vec::new()));
        let (task, ends) = self.task(component, ctx, call, stream, request, journal.clone());
        let begun = self.spawn_begin(Box::new(task), session, record, key);
        match begun.await {
            Ok(Ok(None)) => Ok(Started::New(RunHandle {
                run_id,
                session_id,
                background,
                journal,
                events: ends.events,
                result: ends.result,
                guard: ResponseGuard { _done: ends.guard },
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
        let span = task.span.clone();
        let run = async move {
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
        };
        // With tracing off the span is disabled: the task is spawned as it is.
        match span.is_disabled() {
            true => self.runs.spawn(run),
            false => self.runs.spawn(run.instrument(span)),
        };
        begun
    }

    /// A resumable run's journal, holding `stored` events already (a resumed run's), and
    /// listed for `/resume`.
    pub(super) fn new_journal(&self, run_id: &str, stored: Vec<(i64, String)>) -> Arc<Journal> {
        let journal = Arc::new(Journal::with_rows(stored));
        self.journals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run_id.to_owned(), journal.clone());
        journal
    }

    /// The task that executes a run, and what its requester holds.
    pub(super) fn task(
        &self,
        component: Component,
        ctx: crate::context::RunContext,
        mut call: WorkflowCall,
        stream: bool,
        request: Option<String>,
        journal: Option<Arc<Journal>>,
    ) -> (RunTask, TaskEnds) {
        let (sink, events) = match (&journal, stream) {
            (Some(journal), _) => (EventSink::journaled(journal.clone()), None),
            (None, true) => {
                let (tx, rx) = mpsc::channel(EVENT_BUFFER);
                (EventSink::new(Some(tx)), Some(rx))
            }
            (None, false) => (EventSink::new(None), None),
        };
        let checkpointer = request.is_some().then(|| {
            Arc::new(Checkpointer {
                store: self.store.clone(),
                journal: journal.clone(),
                events_written: Default::default(),
            })
        });
        if let Some(checkpointer) = &checkpointer
            && matches!(component, Component::Workflow(_))
        {
            call.checkpoint = Some(checkpointer.clone());
        }
        let team_progress = match component {
            Component::Team(_) => checkpointer.map(|c| c as Arc<dyn crate::team::TeamProgress>),
            _ => None,
        };
        let (result_tx, result) = oneshot::channel();
        let (guard, response_done) = oneshot::channel();
        let active = ActiveRun::register(&self.active, &ctx.run_id, ctx.cancel_token().clone());
        let span = super::telemetry::run_span(
            self.telemetry.route,
            &component,
            &ctx.run_id,
            &ctx.session_id,
            ctx.user_id.as_deref(),
            &call.input,
        );
        let run_metrics = self.telemetry.run_handles(&component);
        let ctx = match &self.telemetry.metrics {
            None => ctx,
            Some(m) => ctx.with_metrics(Some(m.clone())),
        };
        let task = RunTask {
            store: self.store.clone(),
            component,
            ctx: Arc::new(ctx),
            call,
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
            background: self.background.clone(),
            stopping: self.stopping.clone(),
            span,
            run_metrics,
            team_progress,
            team_resume: None,
        };
        let ends = TaskEnds {
            events,
            result,
            guard,
        };
        (task, ends)
    }
}
