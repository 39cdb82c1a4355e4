//! How an event goes on the wire: its name (the SSE `event:` line and the `"event"` key; a
//! team leader's agent-level events under agno's `Team` names) and its JSON.

use super::{AgentContext, RunEvent, WorkflowContext};
use crate::run::{TeamRunOutput, WorkflowRunOutput};
use std::sync::Arc;

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
        let json: serde_json::Value = serde_json::from_str(&team.to_json()).unwrap();
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
