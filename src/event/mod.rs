//! Run events, serialized as agno's SSE payloads: a JSON object whose `"event"` key is the
//! event name (`WorkflowStarted`, `RunContent`, ...).

mod context;
pub(crate) mod journal;
mod sink;

pub use context::{AgentContext, StepIndex, WorkflowContext};
pub(crate) use sink::EventSink;

use crate::run::{
    ChildRun, RunMetrics, StepOutput, TeamRunOutput, ToolExecution, WorkflowMetrics,
    WorkflowRunOutput,
};
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

    /// The `TeamRunCompleted` event of a finished team run.
    pub fn team_completed(ctx: Arc<AgentContext>, output: &TeamRunOutput) -> RunEvent {
        RunEvent::TeamRunCompleted {
            ctx,
            content: output.content.clone(),
            content_type: output.content_type.clone(),
            member_responses: output.member_responses.clone(),
            metrics: output.metrics.clone(),
        }
    }

    /// True for an agent-level event of a team's leader: its wire name is the agent-level
    /// name with `Team` in front.
    fn is_team_level(&self) -> bool {
        match self {
            RunEvent::RunStarted { ctx, .. }
            | RunEvent::PreHookStarted { ctx, .. }
            | RunEvent::PreHookCompleted { ctx, .. }
            | RunEvent::ModelRequestStarted { ctx, .. }
            | RunEvent::RunContent { ctx, .. }
            | RunEvent::ModelRequestCompleted { ctx, .. }
            | RunEvent::RunContentCompleted { ctx }
            | RunEvent::PostHookStarted { ctx, .. }
            | RunEvent::PostHookCompleted { ctx, .. }
            | RunEvent::RunCompleted { ctx, .. }
            | RunEvent::RunError { ctx, .. }
            | RunEvent::RunCancelled { ctx, .. }
            | RunEvent::ToolCallStarted { ctx, .. }
            | RunEvent::ToolCallCompleted { ctx, .. }
            | RunEvent::ToolCallError { ctx, .. } => ctx.team,
            _ => false,
        }
    }

    /// The event's name: the SSE `event:` line and the JSON `"event"` key.
    pub fn name(&self) -> &'static str {
        if self.is_team_level() {
            return match self {
                RunEvent::RunStarted { .. } => "TeamRunStarted",
                RunEvent::PreHookStarted { .. } => "TeamPreHookStarted",
                RunEvent::PreHookCompleted { .. } => "TeamPreHookCompleted",
                RunEvent::ModelRequestStarted { .. } => "TeamModelRequestStarted",
                RunEvent::RunContent { .. } => "TeamRunContent",
                RunEvent::ModelRequestCompleted { .. } => "TeamModelRequestCompleted",
                RunEvent::RunContentCompleted { .. } => "TeamRunContentCompleted",
                RunEvent::PostHookStarted { .. } => "TeamPostHookStarted",
                RunEvent::PostHookCompleted { .. } => "TeamPostHookCompleted",
                RunEvent::RunCompleted { .. } => "TeamRunCompleted",
                RunEvent::RunError { .. } => "TeamRunError",
                RunEvent::RunCancelled { .. } => "TeamRunCancelled",
                RunEvent::ToolCallStarted { .. } => "TeamToolCallStarted",
                RunEvent::ToolCallCompleted { .. } => "TeamToolCallCompleted",
                _ => "TeamToolCallError",
            };
        }
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
            RunEvent::TeamRunCompleted { .. } => "TeamRunCompleted",
            RunEvent::TeamTaskIterationStarted { .. } => "TeamTaskIterationStarted",
            RunEvent::TeamTaskIterationCompleted { .. } => "TeamTaskIterationCompleted",
            RunEvent::TeamTaskStateUpdated { .. } => "TeamTaskStateUpdated",
            RunEvent::TeamTaskCreated { .. } => "TeamTaskCreated",
            RunEvent::TeamTaskUpdated { .. } => "TeamTaskUpdated",
        }
    }

    /// The compact JSON payload (the SSE `data:` line), under the event's wire name.
    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail: every key is a string and no map has
        // non-string keys.
        let mut json = serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"));
        // An internally tagged enum writes its tag first: `{"event":"RunStarted",...}`.
        const TAG: &str = "{\"event\":\"";
        if self.is_team_level() && json.starts_with(TAG) {
            json.insert_str(TAG.len(), "Team");
        }
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(team: bool) -> Arc<AgentContext> {
        let mut ctx = AgentContext::standalone("research-team", "Research Team", "r1", "s1");
        ctx.team = team;
        Arc::new(ctx)
    }

    #[test]
    fn a_leaders_events_are_agnos_team_events() {
        let started = |team| RunEvent::RunStarted {
            ctx: ctx(team),
            model: "m".into(),
            model_provider: "p".into(),
        };
        let agent = started(false);
        assert_eq!(agent.name(), "RunStarted");
        assert!(
            agent
                .to_json()
                .starts_with(r#"{"event":"RunStarted","created_at":"#)
        );
        assert!(
            agent
                .to_json()
                .contains(r#""agent_id":"research-team","agent_name":"#)
        );
        let team = started(true);
        assert_eq!(team.name(), "TeamRunStarted");
        let json: Value = serde_json::from_str(&team.to_json()).unwrap();
        assert_eq!(json["event"], "TeamRunStarted");
        assert_eq!(json["team_id"], "research-team");
        assert_eq!(json["team_name"], "Research Team");
        assert!(json.get("agent_id").is_none());
        // Team-only events keep their own names.
        let iteration = RunEvent::TeamTaskIterationStarted {
            ctx: ctx(true),
            iteration: 1,
            max_iterations: 10,
        };
        assert_eq!(iteration.name(), "TeamTaskIterationStarted");
        assert!(
            iteration
                .to_json()
                .starts_with(r#"{"event":"TeamTaskIterationStarted""#)
        );
    }
}
