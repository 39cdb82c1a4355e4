//! [`RunTask`]: one run, owned by the runtime. It executes the component, stores the final
//! state with the background hook jobs (one transaction), answers its requester, and, once the
//! response is out, hands the jobs to the dispatcher.

use super::component::Component;
use super::jobs::{JobQueue, ReadyJob, Start};
use super::{COMMITTED_JOB_LEASE, RESPONSE_WAIT, cancel::ActiveRun, history, memory, state};
use crate::agent::{Agent, AgentCall, DeferredHook};
use crate::context::RunContext;
use crate::event::journal::Journal;
use crate::event::{AgentContext, EventSink, RunEvent};
use crate::outcome::{ErrorKind, Failure, cancel_reason};
use crate::run::{RunStatus, unix_millis};
use crate::store::{HOOK_JOB_KIND, NewJob, Store};
use crate::team::{Team, TeamCall, TeamCheckpoint, TeamProgress};
use crate::workflow::{Execution, Workflow, WorkflowCall};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::request::RunResult;

/// How long a finished resumable run's journal stays in memory for `/resume`; after that its
/// events are replayed from the database.
const JOURNAL_RETENTION: Duration = Duration::from_secs(300);

/// The journals of resumable runs executing here or recently finished, by run id.
pub(super) type Journals = Arc<Mutex<HashMap<String, Arc<Journal>>>>;

/// One run, owned by the runtime.
pub(super) struct RunTask {
    pub store: Arc<dyn Store>,
    pub component: Component,
    /// The run's context, shared by every level of the run.
    pub ctx: Arc<RunContext>,
    /// What a workflow run needs beyond the context: its message, checkpoints, a resume point.
    pub call: WorkflowCall,
    pub sink: EventSink,
    /// A background run's request (JSON), stored when it starts so it can be resumed.
    pub request: Option<String>,
    pub journal: Option<Arc<Journal>>,
    pub journals: Journals,
    pub result_tx: oneshot::Sender<RunResult>,
    pub response_done: oneshot::Receiver<()>,
    pub max_attempts: u32,
    pub dispatcher: JobQueue,
    pub active: ActiveRun,
    /// The session's stored state as `begin_run` read it (saves a read); `None`: read it.
    pub stored_state: Option<String>,
    /// Where the run's helper tasks (its journal's flusher and retention timer) run.
    pub background: TaskTracker,
    /// Cancelled at shutdown: helper tasks stop waiting.
    pub stopping: CancellationToken,
    /// The run's span (disabled while tracing is off).
    pub span: tracing::Span,
    /// The component's run metrics, when metrics are on.
    pub run_metrics: Option<Arc<crate::telemetry::metrics::RunHandles>>,
    /// A background team run's checkpoint writer.
    pub team_progress: Option<Arc<dyn TeamProgress>>,
    /// A resumed team run's progress.
    pub team_resume: Option<Box<TeamCheckpoint>>,
}

/// How a run ended, before it is stored.
struct Ending {
    status: RunStatus,
    /// The output as JSON, or why it could not be serialized.
    json: Result<String, String>,
    failure: Option<Failure>,
    deferred: Vec<DeferredHook>,
    /// Jobs of other kinds (memory updates, session summaries) to store with the final state.
    after_run: Vec<memory::AfterRun>,
    /// The agent runs whose outputs the stored output holds: a deferred post-hook of one of
    /// them stores its context without that output (see [`crate::store::needs_run_output`]).
    agent_runs: Vec<String>,
    /// The last event (`WorkflowCompleted`, `RunCompleted`, ...), sent once the state is stored.
    final_event: Option<RunEvent>,
}

impl RunTask {
    /// Executes, stores the final state with the hook jobs (one transaction), answers, then —
    /// once the response is out — hands the jobs to the dispatcher.
    pub(super) async fn run(mut self: Box<Self>) {
        let run_id = self.ctx.run_id.clone();
        let started = self.run_metrics.as_ref().map(|m| {
            m.started();
            std::time::Instant::now()
        });
        if let Some(journal) = &self.journal
            && !self.store.exclusive()
        {
            self.background.spawn(super::flush::flush_while_running(
                self.store.clone(),
                run_id.clone(),
                journal.clone(),
            ));
        }
        if let Some(request) = &self.request
            && let Err(e) = self.store.start_background_run(&run_id, request).await
        {
            tracing::warn!(run = %run_id, error = %e, "cannot mark the run RUNNING");
        }
        // Boxed: each kind's execution future lives on the heap only while it runs, at its own
        // size rather than the larger of the two.
        let ending = match self.component.clone() {
            Component::Workflow(workflow) => Box::pin(self.run_workflow(&workflow)).await,
            Component::Agent(agent) => Box::pin(self.run_agent(&agent)).await,
            Component::Team(team) => Box::pin(self.run_team(&team)).await,
        };
        let Ending {
            status,
            json,
            failure,
            deferred,
            after_run,
            agent_runs,
            final_event,
        } = ending;
        let (mut jobs, mut ready) = self.jobs(deferred, &agent_runs);
        if !after_run.is_empty() {
            let max_attempts = self.max_attempts;
            // Memory and summary jobs join the run's trace too.
            let trace_parent = crate::telemetry::traceparent(&self.span);
            let due_at = match self.run_metrics {
                Some(_) => crate::run::unix_millis(),
                None => 0,
            };
            let more = memory::new_jobs(
                after_run,
                &run_id,
                &self.dispatcher,
                max_attempts,
                trace_parent,
                due_at,
            );
            (jobs, ready) = jobs.into_iter().zip(ready).chain(more).unzip();
        }
        let error = failure.as_ref().map(|f| f.message.as_str());
        super::telemetry::end_run_span(
            &self.span,
            status.as_str(),
            None,
            failure
                .as_ref()
                .map(|f| (f.kind.as_str(), f.message.as_str())),
        );
        let stored = match json {
            Ok(json) => self
                .store
                .finish_run(&run_id, status, &json, error, jobs)
                .await
                .map(|()| json)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let stored_ok = stored.is_ok();
        if let (Some(m), Some(started)) = (&self.run_metrics, started) {
            let status = if stored_ok { status.as_str() } else { "ERROR" };
            m.finished(status, started.elapsed());
        }
        match stored {
            Ok(json) => {
                if let Some(event) = final_event {
                    self.sink.emit(|| event).await;
                }
                let rejected_input = failure
                    .filter(Failure::is_input_rejection)
                    .map(|f| f.message);
                let _ = self.result_tx.send(RunResult::Finished {
                    json,
                    rejected_input,
                });
            }
            Err(e) => {
                tracing::error!(run = %run_id, error = %e, "cannot store the run's final state");
                let message = format!("failed to store the run: {e}");
                let event = self.storage_error_event(&message);
                self.sink.emit(|| event).await;
                let _ = self.result_tx.send(RunResult::NotStored(message));
            }
        }
        if let Some(journal) = self.journal.take() {
            close_journal(
                &self.store,
                &self.journals,
                &self.background,
                &self.stopping,
                &run_id,
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
    pub(super) fn forget_journal(&self) {
        if self.journal.is_some() {
            self.journals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.ctx.run_id);
        }
    }

    async fn run_workflow(&mut self, workflow: &Workflow) -> Ending {
        let (session_id, run_id) = (&self.ctx.session_id, &self.ctx.run_id);
        let stored =
            state::stored_state(&*self.store, session_id, run_id, self.stored_state.take()).await;
        let merged = state::merge_session_state(
            workflow.get_session_state(),
            &stored,
            &self.ctx.session_state.snapshot(),
        );
        self.ctx.session_state.replace(merged);
        let Execution {
            output,
            deferred,
            failure,
            session_state,
        } = workflow
            .execute(&self.ctx, &self.call, &mut self.sink)
            .await;
        state::save_state(
            &*self.store,
            &self.ctx.session_id,
            &self.ctx.run_id,
            session_state,
            &stored,
        )
        .await;
        if !self.span.is_disabled() {
            self.span.record(
                "output.value",
                content_text(output.content.as_ref()).as_ref(),
            );
        }
        let final_event = self.sink.is_streaming().then(|| {
            let ctx = workflow.event_context(&self.ctx, None);
            match (&failure, output.status) {
                (Some(f), _) => Some(RunEvent::WorkflowError {
                    ctx,
                    error: f.message.clone(),
                    error_type: Some(f.error_type()),
                    error_id: f.error_id.clone(),
                }),
                // The person's part (the pause's own events) comes with human-in-the-loop.
                (None, RunStatus::Paused) => None,
                _ => Some(RunEvent::workflow_completed(ctx, &output)),
            }
        });
        Ending {
            status: output.status,
            json: serde_json::to_string(&output).map_err(|e| e.to_string()),
            failure,
            deferred,
            after_run: Vec::new(),
            agent_runs: output
                .step_executor_runs
                .iter()
                .map(|run| run.run_id().to_owned())
                .collect(),
            final_event: final_event.flatten(),
        }
    }

    async fn run_agent(&mut self, agent: &Agent) -> Ending {
        let (session_id, run_id) = (&self.ctx.session_id, &self.ctx.run_id);
        let stored =
            state::stored_state(&*self.store, session_id, run_id, self.stored_state.take()).await;
        let no_defaults = serde_json::Map::new();
        let merged = state::merge_session_state(
            agent.get_session_state().unwrap_or(&no_defaults),
            &stored,
            &self.ctx.session_state.snapshot(),
        );
        self.ctx.session_state.replace(merged);
        // What the agent reads besides its history (memories, summary) is read beside it.
        let (history, recall) = match agent.extras() {
            None => (
                memory::history_for(&*self.store, agent, &self.ctx).await,
                None,
            ),
            Some(_) => tokio::join!(
                memory::history_for(&*self.store, agent, &self.ctx),
                memory::recall(&self.store, agent, &self.ctx)
            ),
        };
        let mut call = AgentCall::top_level(std::mem::take(&mut self.call.input), history);
        call.recall = recall;
        let result = agent.run(&self.ctx, &call, &mut self.sink).await;
        state::save_state(
            &*self.store,
            &self.ctx.session_id,
            &self.ctx.run_id,
            self.ctx.session_state.snapshot(),
            &stored,
        )
        .await;
        let output = result.output;
        if !self.span.is_disabled() {
            self.span
                .record("output.value", content_text(Some(&output.content)).as_ref());
        }
        let after_run = match agent.extras() {
            Some(extras) => {
                memory::after_run(extras, agent, &self.ctx, &output, result.memory_tasks)
            }
            None => Vec::new(),
        };
        let final_event = self.sink.is_streaming().then(|| {
            let ctx = Arc::new(AgentContext::top_level(&output));
            match (&result.failure, output.status) {
                (Some(f), _) => RunEvent::RunError {
                    ctx,
                    content: f.message.clone(),
                    error_type: Some(f.error_type()),
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
            failure: result.failure,
            deferred: result.deferred,
            after_run,
            agent_runs: vec![output.run_id.clone()],
            final_event,
        }
    }

    /// A team run: the session's state and history, the team (its members as child runs),
    /// then the state stored and the last event made, as for a workflow.
    async fn run_team(&mut self, team: &Arc<Team>) -> Ending {
        let (session_id, run_id) = (&self.ctx.session_id, &self.ctx.run_id);
        let stored =
            state::stored_state(&*self.store, session_id, run_id, self.stored_state.take()).await;
        let merged = state::merge_session_state(
            team.get_session_state(),
            &stored,
            &self.ctx.session_state.snapshot(),
        );
        self.ctx.session_state.replace(merged);
        let history = history::team_history(&*self.store, session_id, run_id, team).await;
        let call = TeamCall {
            input: std::mem::take(&mut self.call.input),
            top_level: true,
            run_id: None,
            parent_run_id: None,
            place: None,
            history: Arc::new(history),
            progress: self.team_progress.take(),
            resume: self.team_resume.take(),
        };
        let result = team.run(&self.ctx, call, &mut self.sink).await;
        state::save_state(
            &*self.store,
            &self.ctx.session_id,
            &self.ctx.run_id,
            self.ctx.session_state.snapshot(),
            &stored,
        )
        .await;
        let output = result.output;
        let final_event = self.sink.is_streaming().then(|| {
            let ctx = Arc::new(team.event_context(&output));
            crate::team::last_event(ctx, &output, result.failure.as_ref())
        });
        Ending {
            status: output.status,
            json: serde_json::to_string(&output).map_err(|e| e.to_string()),
            failure: result.failure,
            deferred: result.deferred,
            // Member runs are nested in `member_responses`: their hooks keep their outputs.
            agent_runs: Vec::new(),
            after_run: Vec::new(),
            final_event,
        }
    }

    /// The event that tells a streaming client the run's final state could not be stored.
    fn storage_error_event(&self, message: &str) -> RunEvent {
        let error_type = Some(ErrorKind::Storage.as_str().to_owned());
        match &self.component {
            Component::Workflow(workflow) => RunEvent::WorkflowError {
                ctx: workflow.event_context(&self.ctx, None),
                error: message.to_owned(),
                error_type,
                error_id: None,
            },
            Component::Agent(agent) => RunEvent::RunError {
                ctx: Arc::new(AgentContext::standalone(
                    agent.id(),
                    agent.name(),
                    &self.ctx.run_id,
                    &self.ctx.session_id,
                )),
                content: message.to_owned(),
                error_type,
                error_id: None,
            },
            Component::Team(team) => {
                let mut ctx = AgentContext::standalone(
                    team.get_id(),
                    team.get_name(),
                    &self.ctx.run_id,
                    &self.ctx.session_id,
                );
                ctx.team = true;
                RunEvent::RunError {
                    ctx: Arc::new(ctx),
                    content: message.to_owned(),
                    error_type,
                    error_id: None,
                }
            }
        }
    }

    fn jobs(
        &self,
        deferred: Vec<DeferredHook>,
        agent_runs: &[String],
    ) -> (Vec<NewJob>, Vec<ReadyJob>) {
        // The jobs' attempts join this run's trace, here or in another process.
        let trace_parent = match deferred.is_empty() {
            true => None,
            false => crate::telemetry::traceparent(&self.span),
        };
        // The jobs' lag (a metric) is measured from now; nothing is read when metrics are off.
        let due_at = match self.run_metrics {
            Some(_) => unix_millis(),
            None => 0,
        };
        deferred
            .into_iter()
            .filter_map(|mut d| {
                let job_id = crate::run::new_row_id();
                // The run's row holds this output: the job reads it from there.
                let output_in_run = d.ctx.run_output.as_ref().is_some_and(|output| {
                    output.run_id == d.ctx.run_id && agent_runs.contains(&output.run_id)
                });
                let payload = match super::hook_payload::encode(&mut d.ctx, output_in_run) {
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
                    run_id: Some(self.ctx.run_id.clone()),
                    payload,
                    max_attempts,
                    lease_owner: self.dispatcher.owner().to_owned(),
                    lease_until,
                    claimed: slot.is_some(),
                    trace_parent: trace_parent.clone(),
                };
                // A job stored pending keeps only its id here: its context is in its row.
                let ready = ReadyJob {
                    job_id,
                    start: slot.map(|slot| (slot, Start::Hook(d.ctx))),
                    trace_parent: trace_parent.clone(),
                    due_at,
                };
                Some((new, ready))
            })
            .unzip()
    }
}

/// Stores a resumable run's events, tells its subscribers it ended, and forgets the journal
/// after [`JOURNAL_RETENTION`] (the database then serves replays).
async fn close_journal(
    store: &Arc<dyn Store>,
    journals: &Journals,
    background: &TaskTracker,
    stopping: &CancellationToken,
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
    let stopping = stopping.clone();
    background.spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(JOURNAL_RETENTION) => {}
            () = stopping.cancelled() => {}
        }
        journals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&run_id);
    });
}

/// A run's content as the text its span records (`output.value`).
fn content_text(content: Option<&serde_json::Value>) -> std::borrow::Cow<'_, str> {
    match content {
        None => std::borrow::Cow::Borrowed(""),
        Some(serde_json::Value::String(s)) => std::borrow::Cow::Borrowed(s.as_str()),
        Some(other) => std::borrow::Cow::Owned(other.to_string()),
    }
}
