//! [`Workflow`]: named steps run in order, each step's content the next one's input; steps
//! are agents, async functions, or constructs ([`Steps`], [`Parallel`], [`Condition`],
//! [`Loop`], [`Router`]) that nest.

mod constructs;
mod exec;
mod step;

pub use constructs::{Condition, Loop, Parallel, Router, Steps};
pub use step::{OnError, SessionState, Step, StepError, StepInput, StepKind};

use crate::agent::{Agent, AgentFailure, DeferredHook};
use crate::event::{EventSink, RunEvent, StepIndex, WorkflowContext};
use crate::run::{RunStatus, WorkflowRunOutput, unix_seconds};
use crate::runtime::Checkpointer;
use crate::store::DbConfig;
use exec::{Collected, Place, Scope};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// A workflow: an id, a name, a description and steps.
///
/// ```
/// use agentos::{Agent, ScriptedModel, Workflow};
/// let wf = Workflow::new("analysis-workflow")
///     .name("AnalysisWorkflow")
///     .description("Analyzes input and provides a summary")
///     .steps([
///         Agent::new("Analyzer").model(ScriptedModel::new()),
///         Agent::new("Summarizer").model(ScriptedModel::new()),
///     ]);
/// assert_eq!(wf.get_steps().len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Workflow {
    id: String,
    name: String,
    description: Option<String>,
    steps: Vec<Step>,
    db: Option<DbConfig>,
    session_state: Map<String, Value>,
}

impl Workflow {
    /// A workflow with this id; its name defaults to the id.
    pub fn new(id: impl Into<String>) -> Workflow {
        let id = id.into();
        Workflow {
            name: id.clone(),
            id,
            description: None,
            steps: Vec::new(),
            db: None,
            session_state: Map::new(),
        }
    }

    /// The display name.
    pub fn name(mut self, name: impl Into<String>) -> Workflow {
        self.name = name.into();
        self
    }

    /// The description shown by `GET /workflows`.
    pub fn description(mut self, description: impl Into<String>) -> Workflow {
        self.description = Some(description.into());
        self
    }

    /// The steps, in order. Agents convert into steps named after them.
    pub fn steps<I, S>(mut self, steps: I) -> Workflow
    where
        I: IntoIterator<Item = S>,
        S: Into<Step>,
    {
        self.steps = steps.into_iter().map(Into::into).collect();
        self
    }

    /// The database the workflow's runs go to (used by `AgentOs` unless it has its own).
    pub fn db(mut self, db: impl Into<DbConfig>) -> Workflow {
        self.db = Some(db.into());
        self
    }

    /// The default `session_state` of a new session (agno's `Workflow(session_state=...)`).
    /// A run sees this merged under the session's stored state and the request's
    /// `session_state` field (request > stored > default).
    pub fn session_state(mut self, state: Map<String, Value>) -> Workflow {
        self.session_state = state;
        self
    }

    /// The default session state.
    pub fn get_session_state(&self) -> &Map<String, Value> {
        &self.session_state
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The display name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// The description.
    pub fn get_description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The steps.
    pub fn get_steps(&self) -> &[Step] {
        &self.steps
    }

    /// The configured database.
    pub fn get_db(&self) -> Option<&DbConfig> {
        self.db.as_ref()
    }

    /// Every agent in the workflow, inside constructs too.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        let mut agents = Vec::new();
        for step in &self.steps {
            step.collect_agents(&mut agents);
        }
        agents.into_iter()
    }
}

/// The request-level facts of one workflow run.
#[derive(Debug, Clone)]
pub(crate) struct WorkflowRunParams {
    pub run_id: String,
    pub session_id: String,
    pub user_id: Option<String>,
    pub input: String,
    pub extra: Map<String, Value>,
    pub metadata: Option<Map<String, Value>>,
    pub hooks_in_background: bool,
    pub created_at: i64,
    /// The run's starting session state (already merged: request > stored > default).
    pub session_state: Map<String, Value>,
    /// The `additional_data` form field.
    pub additional_data: Map<String, Value>,
    /// Stops the run (between steps, and the running agent's model call) when cancelled.
    pub cancel: CancellationToken,
    /// Set for background runs: records the output as each step ends.
    pub checkpoint: Option<Arc<Checkpointer>>,
    /// Files uploaded with an agent run: images (data URLs) and text documents.
    pub images: Vec<String>,
    pub documents: Vec<crate::runtime::Document>,
    /// A resumed run's progress: its finished steps are not run again.
    pub resume_from: Option<Box<WorkflowCheckpoint>>,
}

/// A background workflow run's progress, stored as each top-level step ends: the output so
/// far and the background hooks its finished steps owe.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct WorkflowCheckpoint {
    pub output: WorkflowRunOutput,
    pub deferred: Vec<DeferredHook>,
}

/// What executing a workflow leaves behind.
#[derive(Debug)]
pub(crate) struct Execution {
    pub output: WorkflowRunOutput,
    pub deferred: Vec<DeferredHook>,
    /// Set when a step failed; the output's status is then `Error`.
    pub failure: Option<AgentFailure>,
    /// The session state as the run left it, to store with the session.
    pub session_state: Map<String, Value>,
}

impl Workflow {
    /// The output of a run of this workflow before any step has produced anything.
    pub(crate) fn blank_output(
        &self,
        run_id: &str,
        session_id: &str,
        user_id: Option<&str>,
        input: &str,
        created_at: i64,
        status: RunStatus,
    ) -> WorkflowRunOutput {
        WorkflowRunOutput {
            input: input.to_owned(),
            content: None,
            content_type: "str".to_owned(),
            workflow_id: self.id.clone(),
            workflow_name: self.name.clone(),
            run_id: run_id.to_owned(),
            session_id: session_id.to_owned(),
            user_id: user_id.map(str::to_owned),
            created_at,
            status,
            error: None,
            images: Vec::new(),
            videos: Vec::new(),
            audio: Vec::new(),
            files: Vec::new(),
            step_results: Vec::new(),
            step_executor_runs: Vec::new(),
            metrics: None,
            metadata: None,
        }
    }

    /// The fields every event of this run carries.
    pub(crate) fn event_context(
        &self,
        p: &WorkflowRunParams,
        step_id: Option<&str>,
    ) -> WorkflowContext {
        WorkflowContext {
            created_at: unix_seconds(),
            workflow_id: self.id.clone(),
            workflow_name: self.name.clone(),
            session_id: p.session_id.clone(),
            run_id: p.run_id.clone(),
            step_id: step_id.map(str::to_owned),
            parent_step_id: None,
            nested_depth: 0,
        }
    }

    /// Runs the steps in order (wire spec §4.3: each agent gets the previous step's content,
    /// or the run's message when there is none). Stops at the first step that fails the run or
    /// asks to stop. Emits every event up to, not including, `WorkflowCompleted`/`WorkflowError`:
    /// those go out once the final state is stored.
    pub(crate) async fn execute(&self, p: &WorkflowRunParams, sink: &mut EventSink) -> Execution {
        let started = Instant::now();
        let mut deferred = Vec::new();
        let mut output = match &p.resume_from {
            Some(previous) => {
                deferred.clone_from(&previous.deferred);
                WorkflowRunOutput {
                    status: RunStatus::Running,
                    ..previous.output.clone()
                }
            }
            None => self.blank_output(
                &p.run_id,
                &p.session_id,
                p.user_id.as_deref(),
                &p.input,
                p.created_at,
                RunStatus::Running,
            ),
        };
        output.metadata = p.metadata.clone();
        let mut metrics = output.metrics.take().unwrap_or_default();
        let state = SessionState::new(p.session_state.clone());
        let mut input = StepInput {
            input: p.input.clone(),
            additional_data: p.additional_data.clone(),
            session_state: state.clone(),
            ..StepInput::default()
        };
        // A resumed run: the finished steps feed the next one as if they had just run.
        for finished in &output.step_results {
            input.advance(finished);
        }
        let scope = Scope { wf: self, p };
        let mut failure = None;
        if p.resume_from.is_none() {
            sink.emit(|| RunEvent::WorkflowStarted {
                ctx: self.event_context(p, None),
            })
            .await;
        }
        let done = output.step_results.len();

        let mut cancelled = false;
        for (index, step) in self.steps.iter().enumerate().skip(done) {
            if p.cancel.is_cancelled() {
                cancelled = true;
                break;
            }
            let place = Place {
                index: StepIndex::top(index),
                parent: None,
            };
            let mut acc = Collected::default();
            let outcome = exec::run_step(&scope, step, place, &input, sink, &mut acc).await;
            deferred.extend(acc.deferred);
            output.step_executor_runs.extend(acc.executor_runs);
            for m in acc.metrics {
                metrics.steps.insert(m.step_name.clone(), m);
            }
            // Top-level step `index` has finished here with `outcome`.
            match outcome {
                Ok(step_output) => {
                    input.advance(&step_output);
                    let stop = step_output.stop;
                    output.step_results.push(step_output);
                    if let Some(checkpoint) = &p.checkpoint {
                        output.metrics = Some(metrics.clone());
                        checkpoint.save(&output, &deferred).await;
                        output.metrics = None;
                    }
                    if stop {
                        tracing::info!(run = %p.run_id, step = %step.name(), "a step asked the workflow to stop");
                        break;
                    }
                }
                Err(failed) if failed.is_cancel() => {
                    output.step_results.push(failed.output);
                    cancelled = true;
                    break;
                }
                Err(failed) => {
                    output.step_results.push(failed.output);
                    failure = Some(failed.failure);
                    break;
                }
            }
        }

        metrics.duration = started.elapsed().as_secs_f64();
        output.metrics = Some(metrics);
        if cancelled && failure.is_none() {
            let reason = crate::runtime::cancel_reason(&p.run_id);
            output.status = RunStatus::Cancelled;
            output.content = Some(reason.clone());
            sink.emit(|| RunEvent::WorkflowCancelled {
                ctx: self.event_context(p, None),
                reason: reason.clone(),
                content: reason,
            })
            .await;
            return Execution {
                output,
                deferred,
                failure,
                session_state: state.snapshot(),
            };
        }
        match &failure {
            Some(f) => {
                output.status = RunStatus::Error;
                output.content = Some(f.message.clone());
                output.error = Some(f.message.clone());
            }
            None => {
                output.status = RunStatus::Completed;
                output.content = Some(
                    output
                        .step_results
                        .last()
                        .and_then(|s| s.deepest_content())
                        .map(str::to_owned)
                        .unwrap_or_else(|| "No steps executed".to_owned()),
                );
            }
        }
        Execution {
            output,
            deferred,
            failure,
            session_state: state.snapshot(),
        }
    }
}

/// Merges JSON objects key by key, recursing into objects present in both (agno's
/// `merge_dictionaries`): `over` wins.
fn merge_into(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_into(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A run's starting session state: the request's over the stored one over the default.
pub(crate) fn merge_session_state(
    default: &Map<String, Value>,
    stored: &Map<String, Value>,
    run: &Map<String, Value>,
) -> Map<String, Value> {
    let mut state = default.clone();
    merge_into(&mut state, stored);
    merge_into(&mut state, run);
    state
}

/// The keys agno removes from session state before storing it.
const TRANSIENT_STATE_KEYS: [&str; 7] = [
    "current_session_id",
    "current_user_id",
    "current_run_id",
    "workflow_id",
    "run_id",
    "session_id",
    "workflow_name",
];

/// The session state as stored (agno drops its run-scoped keys).
pub(crate) fn state_to_store(mut state: Map<String, Value>) -> Map<String, Value> {
    for key in TRANSIENT_STATE_KEYS {
        state.remove(key);
    }
    state
}
