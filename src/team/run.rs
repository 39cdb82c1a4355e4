//! One team run: the leader (an agent whose child tools are the members) run by the agent loop,
//! then its output made the team's, with the members' runs.

use super::Team;
use super::call::{TeamCall, TeamCheckpoint, TeamHistory};
use super::delegate::Leading;
use crate::agent::{AgentCall, DeferredHook};
use crate::context::RunContext;
use crate::event::{AgentContext, EventSink, RunEvent};
use crate::outcome::{Failure, cancel_reason};
use crate::run::{RunStatus, TeamRunOutput};
use std::sync::Arc;

/// What one team run leaves behind.
#[derive(Debug)]
pub(crate) struct TeamRunResult {
    pub output: TeamRunOutput,
    pub failure: Option<Failure>,
    pub deferred: Vec<DeferredHook>,
}

impl Team {
    /// Runs the team once: the leader's loop, whose delegations run the members as child runs
    /// of this one. Emits the team's events in agno's order (a nested team or a team step ends
    /// with its own `TeamRunCompleted`/`TeamRunError`/`TeamRunCancelled`; a top-level team's
    /// is left to the runtime).
    pub(crate) async fn run(
        self: &Arc<Team>,
        rctx: &Arc<RunContext>,
        call: TeamCall,
        sink: &mut EventSink,
    ) -> TeamRunResult {
        let run_id = match (&call.run_id, call.top_level) {
            (Some(id), _) => id.clone(),
            (None, true) => rctx.run_id.clone(),
            (None, false) => uuid::Uuid::new_v4().to_string(),
        };
        let TeamCall {
            input,
            top_level,
            parent_run_id,
            place,
            history,
            progress,
            resume,
            ..
        } = call;
        let (leader_state, restored) = match resume {
            Some(checkpoint) => {
                let TeamCheckpoint {
                    leader,
                    members,
                    deferred,
                    interactions,
                    session_state,
                } = *checkpoint;
                if !session_state.is_empty() {
                    rctx.session_state.replace(session_state);
                }
                (Some(Box::new(leader)), (members, deferred, interactions))
            }
            None => (None, Default::default()),
        };
        let leader_history = match self.get_history_runs() {
            0 => Vec::new(),
            n => TeamHistory::messages(&history.runs, n),
        };
        let leading = Arc::new(Leading::new(
            self.clone(),
            rctx.clone(),
            run_id.clone(),
            parent_run_id.clone(),
            input.clone(),
            history,
            progress,
            restored,
        ));
        let leader = self.leader.clone().instructions(self.system_message());
        let agent_call = AgentCall {
            input,
            place,
            history: leader_history,
            top_level,
            recall: None,
            run_id: Some(run_id),
            parent_run_id,
            children: Some(leading.clone()),
            resume: leader_state,
        };
        let result = leader.run(rctx, &agent_call, sink).await;
        drop(agent_call);
        let (members, mut deferred) = leading.finish();
        deferred.extend(result.deferred);
        let run = result.output;
        let output = TeamRunOutput {
            run_id: run.run_id,
            team_id: self.id.clone(),
            team_name: self.name.clone(),
            session_id: run.session_id,
            parent_run_id: run.parent_run_id,
            workflow_step_id: run.workflow_step_id,
            user_id: run.user_id,
            input: run.input,
            content: run.content,
            content_type: run.content_type,
            messages: run.messages,
            metrics: run.metrics,
            model: run.model,
            model_provider: run.model_provider,
            member_responses: members,
            tools: run.tools,
            created_at: run.created_at,
            status: run.status,
            session_state: top_level.then(|| rctx.session_state.snapshot()),
            metadata: rctx.metadata.clone(),
        };
        if !top_level {
            let ctx = Arc::new(self.event_context(&output));
            let event = last_event(ctx, &output, result.failure.as_ref());
            sink.emit(|| event).await;
        }
        TeamRunResult {
            output,
            failure: result.failure,
            deferred,
        }
    }

    /// The fields every event of this team's run `output` carries.
    pub(crate) fn event_context(&self, output: &TeamRunOutput) -> AgentContext {
        let mut ctx =
            AgentContext::standalone(&self.id, &self.name, &output.run_id, &output.session_id);
        ctx.team = true;
        ctx.parent_run_id.clone_from(&output.parent_run_id);
        ctx
    }
}

/// The last event of a team run: `TeamRunCompleted`, `TeamRunError` or `TeamRunCancelled`.
pub(crate) fn last_event(
    ctx: Arc<AgentContext>,
    output: &TeamRunOutput,
    failure: Option<&Failure>,
) -> RunEvent {
    match (failure, output.status) {
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
        (None, _) => RunEvent::team_completed(ctx, output),
    }
}
