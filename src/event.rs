//! Run events, serialized as agno's SSE payloads: a JSON object whose `"event"` key is the
//! event name (`WorkflowStarted`, `RunContent`, ...).

use crate::run::{
    RunMetrics, RunOutput, StepOutput, ToolExecution, WorkflowMetrics, WorkflowRunOutput,
};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// A step's `step_index`: an integer for a top-level step; for a step inside a construct, the
/// path of positions from the top, sent as a JSON array (`[2, 0]`: the first child of the
/// third step), as agno sends a tuple for the children of a construct.
#[derive(Debug, Clone, PartialEq, Eq, Default, utoipa::ToSchema)]
#[schema(
    value_type = serde_json::Value,
    description = "An integer for a top-level step; the path of positions (an array) inside a construct"
)]
pub struct StepIndex(pub Vec<usize>);

impl StepIndex {
    /// A top-level step's index.
    pub fn top(index: usize) -> StepIndex {
        StepIndex(vec![index])
    }

    /// The index of this step's child at `position`.
    pub fn child(&self, position: usize) -> StepIndex {
        let mut path = self.0.clone();
        path.push(position);
        StepIndex(path)
    }

    /// The step's position among its siblings.
    pub fn position(&self) -> usize {
        self.0.last().copied().unwrap_or(0)
    }
}

impl Serialize for StepIndex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [index] => serializer.serialize_u64(*index as u64),
            path => path.serialize(serializer),
        }
    }
}

/// Fields every workflow-level event carries.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkflowContext {
    /// Unix seconds.
    pub created_at: i64,
    /// The workflow's id.
    pub workflow_id: String,
    /// The workflow's name.
    pub workflow_name: String,
    /// The session.
    pub session_id: String,
    /// The workflow run's id.
    pub run_id: String,
    /// The step's id, on step events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// The enclosing construct's step id, on events of steps inside Steps, Parallel,
    /// Condition, Loop or Router.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_step_id: Option<String>,
    /// Always 0: workflows do not nest yet.
    pub nested_depth: u32,
}

/// Fields every agent-level event carries.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgentContext {
    /// Unix seconds.
    pub created_at: i64,
    /// The agent's id.
    pub agent_id: String,
    /// The agent's name.
    pub agent_name: String,
    /// The agent run's own id.
    pub run_id: String,
    /// The session.
    pub session_id: String,
    /// The workflow, when the agent runs as a step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    /// The workflow run, when the agent runs as a step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_run_id: Option<String>,
    /// The step's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// The step's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_name: Option<String>,
    /// The step's position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_index: Option<usize>,
    /// Always 0.
    pub nested_depth: u32,
}

impl AgentContext {
    /// The context of an agent run of its own (not a workflow step).
    pub(crate) fn top_level(output: &RunOutput) -> AgentContext {
        AgentContext::standalone(
            &output.agent_id,
            &output.agent_name,
            &output.run_id,
            &output.session_id,
        )
    }

    /// The context of the run `run_id` of an agent served on its own.
    pub(crate) fn standalone(
        agent_id: &str,
        agent_name: &str,
        run_id: &str,
        session_id: &str,
    ) -> AgentContext {
        AgentContext {
            created_at: crate::run::unix_seconds(),
            agent_id: agent_id.to_owned(),
            agent_name: agent_name.to_owned(),
            run_id: run_id.to_owned(),
            session_id: session_id.to_owned(),
            workflow_id: None,
            workflow_run_id: None,
            step_id: None,
            step_name: None,
            step_index: None,
            nested_depth: 0,
        }
    }
}

/// One event of a run, in agno's names and shapes (wire spec §2.6).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "event")]
#[allow(missing_docs)] // the variant fields are agno's wire keys, documented in the wire spec
pub enum RunEvent {
    /// The workflow run began.
    WorkflowStarted {
        #[serde(flatten)]
        ctx: WorkflowContext,
    },
    /// A step began.
    StepStarted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
    },
    /// A step finished.
    StepCompleted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        content: Option<String>,
        content_type: String,
        step_response: Box<StepOutput>,
    },
    /// A step failed.
    StepError {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        error: String,
    },
    /// The workflow run finished.
    WorkflowCompleted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        content: Option<String>,
        content_type: String,
        step_results: Vec<StepOutput>,
        step_executor_runs: Vec<RunOutput>,
        metrics: Box<WorkflowMetrics>,
    },
    /// The workflow run failed.
    WorkflowError {
        #[serde(flatten)]
        ctx: WorkflowContext,
        error: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_id: Option<String>,
    },
    /// An agent run began.
    RunStarted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        model: String,
        model_provider: String,
    },
    /// A pre-hook began (inline hooks only).
    PreHookStarted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        pre_hook_name: String,
    },
    /// A pre-hook finished.
    PreHookCompleted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        pre_hook_name: String,
    },
    /// The model request began.
    ModelRequestStarted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        model: String,
        model_provider: String,
    },
    /// A content delta from the model's stream.
    RunContent {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        content: Value,
        content_type: String,
        workflow_agent: bool,
        reasoning_content: String,
    },
    /// The model request finished.
    ModelRequestCompleted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        model: String,
        model_provider: String,
        input_tokens: u64,
        output_tokens: u64,
        total_tokens: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        time_to_first_token: Option<f64>,
    },
    /// All content has arrived.
    RunContentCompleted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
    },
    /// A post-hook began (inline hooks only).
    PostHookStarted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        post_hook_name: String,
    },
    /// A post-hook finished.
    PostHookCompleted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        post_hook_name: String,
    },
    /// The agent run finished.
    RunCompleted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        content: Value,
        content_type: String,
        metrics: RunMetrics,
    },
    /// The agent run failed.
    RunError {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_id: Option<String>,
    },
    /// The agent run was cancelled.
    RunCancelled {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        reason: String,
    },
    /// The workflow run was cancelled (followed by `WorkflowCompleted`, as agno does).
    WorkflowCancelled {
        #[serde(flatten)]
        ctx: WorkflowContext,
        reason: String,
        content: String,
    },
    /// A function step's result (sent only for function steps).
    StepOutput {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        step_output: Box<StepOutput>,
    },
    /// A `Steps` group began.
    StepsExecutionStarted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        steps_count: usize,
    },
    /// A `Steps` group finished.
    StepsExecutionCompleted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        steps_count: usize,
        executed_steps: usize,
        step_results: Vec<StepOutput>,
    },
    /// A `Parallel` began.
    ParallelExecutionStarted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        parallel_step_count: usize,
    },
    /// A `Parallel` finished.
    ParallelExecutionCompleted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        parallel_step_count: usize,
        step_results: Vec<StepOutput>,
    },
    /// A `Condition` was evaluated.
    ConditionExecutionStarted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        condition_result: bool,
    },
    /// A `Condition` finished.
    ConditionExecutionCompleted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        condition_result: bool,
        executed_steps: usize,
        /// `"if"` or `"else"`; absent when the condition was false and there is no else
        /// branch (agno drops null event fields).
        #[serde(skip_serializing_if = "Option::is_none")]
        branch: Option<String>,
        step_results: Vec<StepOutput>,
    },
    /// A `Loop` began.
    LoopExecutionStarted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        max_iterations: usize,
    },
    /// A `Loop` iteration began (`iteration` counts from 1).
    LoopIterationStarted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        iteration: usize,
        max_iterations: usize,
    },
    /// A `Loop` iteration finished.
    LoopIterationCompleted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        iteration: usize,
        max_iterations: usize,
        iteration_results: Vec<StepOutput>,
        should_continue: bool,
    },
    /// A `Loop` finished.
    LoopExecutionCompleted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        total_iterations: usize,
        max_iterations: usize,
        all_results: Vec<Vec<StepOutput>>,
    },
    /// A `Router` chose its steps.
    RouterExecutionStarted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        selected_steps: Vec<String>,
    },
    /// A `Router` finished.
    RouterExecutionCompleted {
        #[serde(flatten)]
        ctx: WorkflowContext,
        step_name: String,
        step_index: StepIndex,
        selected_steps: Vec<String>,
        executed_steps: usize,
        step_results: Vec<StepOutput>,
    },
    /// A tool call began (after the model asked for it).
    ToolCallStarted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        tool: Box<ToolExecution>,
    },
    /// A tool call ended, failed or not (`tool.tool_call_error` says which).
    ToolCallCompleted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        /// agno's summary: `name(arg=value) completed in 0.0012s. `
        content: String,
        tool: Box<ToolExecution>,
    },
    /// A tool call failed; sent after its `ToolCallCompleted`.
    ToolCallError {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        error: String,
        tool: Box<ToolExecution>,
    },
}

impl RunEvent {
    /// The `WorkflowCompleted` event of a finished run.
    pub fn workflow_completed(ctx: WorkflowContext, output: &WorkflowRunOutput) -> RunEvent {
        RunEvent::WorkflowCompleted {
            ctx,
            content: output.content.clone(),
            content_type: output.content_type.clone(),
            step_results: output.step_results.clone(),
            step_executor_runs: output.step_executor_runs.clone(),
            metrics: Box::new(output.metrics.clone().unwrap_or_default()),
        }
    }

    /// The event's name: the SSE `event:` line and the JSON `"event"` key.
    pub fn name(&self) -> &'static str {
        match self {
            RunEvent::WorkflowStarted { .. } => "WorkflowStarted",
            RunEvent::StepStarted { .. } => "StepStarted",
            RunEvent::StepCompleted { .. } => "StepCompleted",
            RunEvent::StepError { .. } => "StepError",
            RunEvent::WorkflowCompleted { .. } => "WorkflowCompleted",
            RunEvent::WorkflowError { .. } => "WorkflowError",
            RunEvent::RunStarted { .. } => "RunStarted",
            RunEvent::PreHookStarted { .. } => "PreHookStarted",
            RunEvent::PreHookCompleted { .. } => "PreHookCompleted",
            RunEvent::ModelRequestStarted { .. } => "ModelRequestStarted",
            RunEvent::RunContent { .. } => "RunContent",
            RunEvent::ModelRequestCompleted { .. } => "ModelRequestCompleted",
            RunEvent::RunContentCompleted { .. } => "RunContentCompleted",
            RunEvent::PostHookStarted { .. } => "PostHookStarted",
            RunEvent::PostHookCompleted { .. } => "PostHookCompleted",
            RunEvent::RunCompleted { .. } => "RunCompleted",
            RunEvent::RunError { .. } => "RunError",
            RunEvent::RunCancelled { .. } => "RunCancelled",
            RunEvent::WorkflowCancelled { .. } => "WorkflowCancelled",
            RunEvent::StepOutput { .. } => "StepOutput",
            RunEvent::StepsExecutionStarted { .. } => "StepsExecutionStarted",
            RunEvent::StepsExecutionCompleted { .. } => "StepsExecutionCompleted",
            RunEvent::ParallelExecutionStarted { .. } => "ParallelExecutionStarted",
            RunEvent::ParallelExecutionCompleted { .. } => "ParallelExecutionCompleted",
            RunEvent::ConditionExecutionStarted { .. } => "ConditionExecutionStarted",
            RunEvent::ConditionExecutionCompleted { .. } => "ConditionExecutionCompleted",
            RunEvent::LoopExecutionStarted { .. } => "LoopExecutionStarted",
            RunEvent::LoopIterationStarted { .. } => "LoopIterationStarted",
            RunEvent::LoopIterationCompleted { .. } => "LoopIterationCompleted",
            RunEvent::LoopExecutionCompleted { .. } => "LoopExecutionCompleted",
            RunEvent::RouterExecutionStarted { .. } => "RouterExecutionStarted",
            RunEvent::RouterExecutionCompleted { .. } => "RouterExecutionCompleted",
            RunEvent::ToolCallStarted { .. } => "ToolCallStarted",
            RunEvent::ToolCallCompleted { .. } => "ToolCallCompleted",
            RunEvent::ToolCallError { .. } => "ToolCallError",
        }
    }

    /// The compact JSON payload (the SSE `data:` line).
    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail: every key is a string and no map has
        // non-string keys.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Where a run's events go: the live subscriber (an SSE response), if any. Events are built
/// lazily, so a run nobody streams pays nothing for them. A subscriber that goes away is
/// dropped and the run goes on.
///
/// Events travel boxed: a `RunEvent` is ~270 bytes and tokio's channel allocates its slots 32
/// at a time, so an unboxed channel cost each streamed run ~8.7 KB up front (and made every
/// `emit` future, nested in every step's, carry a whole event).
#[derive(Debug)]
pub(crate) struct EventSink {
    tx: Option<tokio::sync::mpsc::Sender<Box<RunEvent>>>,
    /// A resumable run's journal: every event is kept, whoever listens.
    journal: Option<Arc<crate::runtime::journal::Journal>>,
}

impl EventSink {
    /// A sink that forwards to `tx`, or discards when `None`.
    pub(crate) fn new(tx: Option<tokio::sync::mpsc::Sender<Box<RunEvent>>>) -> EventSink {
        EventSink { tx, journal: None }
    }

    /// A sink that writes every event to `journal` (a resumable run).
    pub(crate) fn journaled(journal: Arc<crate::runtime::journal::Journal>) -> EventSink {
        EventSink {
            tx: None,
            journal: Some(journal),
        }
    }

    /// Sends the event `make` builds, if anyone listens. Waits while the subscriber's buffer is
    /// full (backpressure); a closed subscriber is forgotten.
    pub(crate) async fn emit(&mut self, make: impl FnOnce() -> RunEvent) {
        if let Some(journal) = &self.journal {
            journal.push(&make());
            return;
        }
        if let Some(tx) = &self.tx
            && tx.send(Box::new(make())).await.is_err()
        {
            self.tx = None;
        }
    }

    /// True while a subscriber listens (the run streams).
    pub(crate) fn is_streaming(&self) -> bool {
        self.tx.is_some() || self.journal.is_some()
    }

    /// A second sink to the same subscriber, for a branch that runs concurrently (Parallel).
    pub(crate) fn fork(&self) -> EventSink {
        EventSink {
            tx: self.tx.clone(),
            journal: self.journal.clone(),
        }
    }
}
