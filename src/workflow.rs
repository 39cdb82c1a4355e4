//! [`Workflow`]: named steps run in order, each step's content the next one's input.

use crate::agent::{Agent, AgentFailure, AgentRunParams, DeferredHook, StepPlace};
use crate::event::{EventSink, RunEvent, WorkflowContext};
use crate::run::{RunStatus, StepMetrics, StepOutput, WorkflowRunOutput, unix_seconds};
use crate::runtime::Checkpointer;
use crate::store::DbConfig;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// The error agno records on the step a cancel interrupted.
const CANCELLED_STEP: &str = "Cancelled during execution";

/// What a step runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StepKind {
    /// An agent, given the previous step's content (or the run's message) as input.
    Agent(Agent),
}

/// One step of a workflow.
#[derive(Debug, Clone)]
pub struct Step {
    name: String,
    id: String,
    kind: StepKind,
}

impl Step {
    /// A step called `name` running `agent`.
    pub fn agent(name: impl Into<String>, agent: Agent) -> Step {
        Step {
            name: name.into(),
            id: uuid::Uuid::new_v4().to_string(),
            kind: StepKind::Agent(agent),
        }
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The step's id (stable for the life of the process).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the step runs.
    pub fn kind(&self) -> &StepKind {
        &self.kind
    }
}

/// An agent in a step list becomes a step named after the agent (agno's rule).
impl From<Agent> for Step {
    fn from(agent: Agent) -> Step {
        Step::agent(agent.name().to_owned(), agent)
    }
}

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

    /// Every agent in the workflow.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.steps.iter().map(|s| match &s.kind {
            StepKind::Agent(a) => a,
        })
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
    /// Stops the run (between steps, and the running agent's model call) when cancelled.
    pub cancel: CancellationToken,
    /// Set for background runs: records the output as each step ends.
    pub checkpoint: Option<Arc<Checkpointer>>,
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
            nested_depth: 0,
        }
    }

    /// Runs the steps in order (wire spec §4.3: each agent gets the previous step's content,
    /// or the run's message when there is none). Stops at the first failed step. Emits every
    /// event up to, not including, `WorkflowCompleted`/`WorkflowError`: those go out once the
    /// final state is stored.
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
            let StepKind::Agent(agent) = &step.kind;
            sink.emit(|| RunEvent::StepStarted {
                ctx: self.event_context(p, Some(&step.id)),
                step_name: step.name.clone(),
                step_index: index,
            })
            .await;
            let input = match output.step_results.last() {
                Some(prev) => prev
                    .content
                    .clone()
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| p.input.clone()),
                None => p.input.clone(),
            };
            let params = AgentRunParams {
                input,
                session_id: p.session_id.clone(),
                user_id: p.user_id.clone(),
                extra: p.extra.clone(),
                metadata: p.metadata.clone(),
                place: Some(StepPlace {
                    workflow_id: self.id.clone(),
                    workflow_run_id: p.run_id.clone(),
                    step_id: step.id.clone(),
                    step_name: step.name.clone(),
                    step_index: index,
                }),
                hooks_in_background: p.hooks_in_background,
                run_id: None,
                history: Vec::new(),
                cancel: p.cancel.clone(),
                top_level: false,
            };
            let result = agent.run(&params, sink).await;
            deferred.extend(result.deferred);
            let run = result.output;
            let step_cancelled = run.status == RunStatus::Cancelled;
            let step_output = StepOutput {
                content: Some(run.content.clone()),
                step_name: step.name.clone(),
                step_id: step.id.clone(),
                step_type: "Step".to_owned(),
                executor_type: "agent".to_owned(),
                executor_name: agent.name().to_owned(),
                step_run_id: Some(run.run_id.clone()),
                images: None,
                videos: None,
                audio: None,
                files: None,
                metrics: Some(run.metrics.clone()),
                success: result.failure.is_none(),
                error: result.failure.as_ref().map(|f| f.message.clone()),
                stop: false,
                is_paused: false,
            };
            metrics.steps.insert(
                step.name.clone(),
                StepMetrics {
                    step_name: step.name.clone(),
                    executor_type: "agent".to_owned(),
                    executor_name: agent.name().to_owned(),
                    metrics: run.metrics.clone(),
                },
            );
            output.step_executor_runs.push(run);
            if step_cancelled {
                output.step_results.push(StepOutput {
                    success: false,
                    error: Some(CANCELLED_STEP.to_owned()),
                    ..step_output
                });
                cancelled = true;
                break;
            }
            match result.failure {
                Some(f) => {
                    sink.emit(|| RunEvent::StepError {
                        ctx: self.event_context(p, Some(&step.id)),
                        step_name: step.name.clone(),
                        step_index: index,
                        error: f.message.clone(),
                    })
                    .await;
                    output.step_results.push(step_output);
                    failure = Some(f);
                    break;
                }
                None => {
                    sink.emit(|| RunEvent::StepCompleted {
                        ctx: self.event_context(p, Some(&step.id)),
                        step_name: step.name.clone(),
                        step_index: index,
                        content: step_output.content.clone(),
                        content_type: "str".to_owned(),
                        step_response: Box::new(step_output.clone()),
                    })
                    .await;
                    output.step_results.push(step_output);
                    if let Some(checkpoint) = &p.checkpoint {
                        output.metrics = Some(metrics.clone());
                        checkpoint.save(&output, &deferred).await;
                        output.metrics = None;
                    }
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
                        .and_then(|s| s.content.clone())
                        .unwrap_or_else(|| "No steps executed".to_owned()),
                );
            }
        }
        Execution {
            output,
            deferred,
            failure,
        }
    }
}
