//! Run events, serialized as agno's SSE payloads: a JSON object whose `"event"` key is the
//! event name (`WorkflowStarted`, `RunContent`, ...).

mod context;
pub(crate) mod journal;
mod sink;
mod wire;

pub use context::{AgentContext, StepIndex, WorkflowContext};
pub(crate) use sink::EventSink;

use crate::run::{ChildRun, RunMetrics, StepOutput, ToolExecution, WorkflowMetrics};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// One event of a run, in agno's names and shapes (wire spec §2.6).
///
/// The agent-level events of a team's leader (`ctx.team`) are agno's team events: on the wire
/// (`to_json`, `name`) `RunStarted` is `TeamRunStarted`, `ToolCallStarted` is
/// `TeamToolCallStarted`, and so on; the keys are `team_id`/`team_name`. `Serialize` alone
/// gives the agent-level name.
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
        content: Option<Value>,
        content_type: String,
        step_results: Vec<StepOutput>,
        step_executor_runs: Vec<ChildRun>,
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
    /// A team run finished (a nested team's, or a team step's; a top-level team's comes from
    /// the runtime once stored).
    TeamRunCompleted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        content: Value,
        content_type: String,
        #[schema(value_type = Vec<Object>)]
        member_responses: Vec<ChildRun>,
        metrics: RunMetrics,
    },
    /// Tasks mode: an iteration of the leader's loop began (`iteration` counts from 1).
    TeamTaskIterationStarted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        iteration: usize,
        max_iterations: usize,
    },
    /// Tasks mode: an iteration ended.
    TeamTaskIterationCompleted {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        iteration: usize,
        max_iterations: usize,
        task_summary: String,
    },
    /// Tasks mode: the task list as it stands.
    TeamTaskStateUpdated {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        task_summary: String,
        goal_complete: bool,
        #[schema(value_type = Vec<Object>)]
        tasks: Vec<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        completion_summary: Option<String>,
    },
    /// Tasks mode: a task was created.
    TeamTaskCreated {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        task_id: String,
        title: String,
        description: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        assignee: Option<String>,
        status: String,
        dependencies: Vec<String>,
    },
    /// Tasks mode: a task's status changed.
    TeamTaskUpdated {
        #[serde(flatten)]
        ctx: Arc<AgentContext>,
        task_id: String,
        title: String,
        status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        previous_status: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        assignee: Option<String>,
    },
}
