//! [`Workflow`]: named steps run in order, each step's content the next one's input; steps
//! are agents, async functions, or constructs ([`Steps`], [`Parallel`], [`Condition`],
//! [`Loop`], [`Router`]) that nest.

mod exec;
mod flow;
mod input;
mod outcome;
mod step;

pub use input::StepInput;
pub use step::{Condition, Loop, OnError, Parallel, Router, Step, StepError, StepKind, Steps};

use crate::agent::{Agent, DeferredHook};
use crate::context::RunContext;
use crate::db::DbConfig;
use crate::event::{EventSink, RunEvent, StepIndex, WorkflowContext};
use crate::outcome::{Failure, cancel_reason};
use crate::run::{RunStatus, StepOutput, WorkflowRunOutput, unix_seconds};
use exec::{Place, Scope};
use futures::future::BoxFuture;
use outcome::{Collected, StepOutcome};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Instant;

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

    /// Every team that is a step of the workflow, inside constructs too.
    pub fn teams(&self) -> impl Iterator<Item = &crate::team::Team> {
        let mut teams = Vec::new();
        for step in &self.steps {
            step.collect_teams(&mut teams);
        }
        teams.into_iter()
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

/// Records a background run's progress as each top-level step ends (the runtime's
/// checkpoint writer; the engine only calls it).
pub(crate) trait Checkpoint: Send + Sync {
    /// Records `output` (the finished steps) and the background hooks they owe. A failure is
    /// the implementation's to log: the run goes on, and a resume would redo the step.
    fn save<'a>(
        &'a self,
        output: &'a WorkflowRunOutput,
        deferred: &'a [DeferredHook],
    ) -> BoxFuture<'a, ()>;
}

/// How the runtime runs a workflow beyond the run's context: whether it records progress,
/// and where a resumed run picks up.
#[derive(Default)]
pub(crate) struct WorkflowCall {
    /// The run's message.
    pub input: String,
    /// Set for background runs: records the output as each top-level step ends.
    pub checkpoint: Option<Arc<dyn Checkpoint>>,
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
    pub failure: Option<Failure>,
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
    pub(crate) fn event_context(&self, ctx: &RunContext, step_id: Option<&str>) -> WorkflowContext {
        WorkflowContext {
            created_at: unix_seconds(),
            workflow_id: self.id.clone(),
            workflow_name: self.name.clone(),
            session_id: ctx.session_id.clone(),
            run_id: ctx.run_id.clone(),
            step_id: step_id.map(str::to_owned),
            parent_step_id: None,
            nested_depth: 0,
        }
    }

    /// Runs the steps in order (wire spec §4.3: each agent gets the previous step's content,
    /// or the run's message when there is none). Stops at the first step that fails the run,
    /// is cancelled, pauses, or asks to stop. Emits every event up to, not including,
    /// `WorkflowCompleted`/`WorkflowError`: those go out once the final state is stored.
    pub(crate) async fn execute(
        &self,
        ctx: &Arc<RunContext>,
        call: &WorkflowCall,
        sink: &mut EventSink,
    ) -> Execution {
        let started = Instant::now();
        let mut deferred = Vec::new();
        let mut output = match &call.resume_from {
            Some(previous) => {
                deferred.clone_from(&previous.deferred);
                WorkflowRunOutput {
                    status: RunStatus::Running,
                    ..previous.output.clone()
                }
            }
            None => self.blank_output(
                &ctx.run_id,
                &ctx.session_id,
                ctx.user_id.as_deref(),
                &call.input,
                ctx.created_at,
                RunStatus::Running,
            ),
        };
        output.metadata = ctx.metadata.clone();
        let mut metrics = output.metrics.take().unwrap_or_default();
        let mut input = StepInput::of_run(call.input.clone(), ctx.clone());
        // A resumed run: the finished steps feed the next one as if they had just run.
        for finished in &output.step_results {
            input.advance(finished);
        }
        let scope = Scope { wf: self, ctx };
        if call.resume_from.is_none() {
            sink.emit(|| RunEvent::WorkflowStarted {
                ctx: self.event_context(ctx, None),
            })
            .await;
        }
        let done = output.step_results.len();

        // How the run ended, if not by completing its steps.
        let mut halt = None;
        for (index, step) in self.steps.iter().enumerate().skip(done) {
            if ctx.is_cancelled() {
                halt = Some(Halt::Cancelled);
                break;
            }
            let place = Place {
                index: StepIndex::top(index),
                parent: None,
            };
            let mut acc = Collected::default();
            let outcome = flow::run_step(&scope, step, place, &input, sink, &mut acc).await;
            deferred.extend(acc.deferred);
            output.step_executor_runs.extend(acc.executor_runs);
            for m in acc.metrics {
                metrics.steps.insert(m.step_name.clone(), m);
            }
            // Top-level step `index` has finished here with `outcome`.
            let step_output = match outcome {
                StepOutcome::Completed(step_output) => step_output,
                StepOutcome::Failed(failed) => {
                    output.step_results.push(failed.output);
                    halt = Some(Halt::Failed(failed.failure));
                    break;
                }
                StepOutcome::Cancelled(partial) => {
                    output.step_results.push(*partial);
                    halt = Some(Halt::Cancelled);
                    break;
                }
                StepOutcome::Paused(partial) => {
                    output.step_results.push(*partial);
                    halt = Some(Halt::Paused);
                    break;
                }
            };
            input.advance(&step_output);
            let stop = step_output.stop;
            output.step_results.push(step_output);
            if let Some(checkpoint) = &call.checkpoint {
                output.metrics = Some(metrics.clone());
                checkpoint.save(&output, &deferred).await;
                output.metrics = None;
            }
            if stop {
                tracing::info!(run = %ctx.run_id, step = %step.name(), "a step asked the workflow to stop");
                break;
            }
        }

        metrics.duration = started.elapsed().as_secs_f64();
        output.metrics = Some(metrics);
        let mut failure = None;
        match halt {
            None => {
                output.status = RunStatus::Completed;
                self.set_final_content(&mut output);
            }
            Some(Halt::Failed(f)) => {
                output.status = RunStatus::Error;
                output.content = Some(Value::String(f.message.clone()));
                output.error = Some(f.message.clone());
                failure = Some(f);
            }
            Some(Halt::Cancelled) => {
                let reason = cancel_reason(&ctx.run_id);
                output.status = RunStatus::Cancelled;
                output.content = Some(Value::String(reason.clone()));
                sink.emit(|| RunEvent::WorkflowCancelled {
                    ctx: self.event_context(ctx, None),
                    reason: reason.clone(),
                    content: reason,
                })
                .await;
            }
            Some(Halt::Paused) => output.status = RunStatus::Paused,
        }
        Execution {
            output,
            deferred,
            failure,
            session_state: ctx.session_state.snapshot(),
        }
    }

    /// A completed run's content: the deepest content of its last step, as agno computes it;
    /// when that step is an agent with an output type, the agent's object (and the type's
    /// name as `content_type`), as agno returns a model output.
    fn set_final_content(&self, output: &mut WorkflowRunOutput) {
        let Some(last) = output.step_results.last().map(StepOutput::deepest) else {
            output.content = Some(Value::String("No steps executed".to_owned()));
            return;
        };
        let structured = last.step_run_id.as_deref().and_then(|run_id| {
            output
                .step_executor_runs
                .iter()
                .find(|r| r.run_id() == run_id && r.content().is_object())
        });
        output.content = match structured {
            Some(run) => {
                output.content_type = run.content_type().to_owned();
                Some(run.content().clone())
            }
            None => Some(Value::String(
                last.content
                    .clone()
                    .unwrap_or_else(|| "No steps executed".to_owned()),
            )),
        };
    }
}

/// Why a run stopped before its last step.
enum Halt {
    Failed(Failure),
    Cancelled,
    Paused,
}
