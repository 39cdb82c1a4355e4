//! One team run: the leader (an agent whose child tools are the members) run by the agent loop,
//! then its output made the team's, with the members' runs.

use super::Team;
use super::delegate::{Interaction, Leading};
use crate::agent::{AgentCall, DeferredHook, LoopState, StepPlace};
use crate::context::RunContext;
use crate::event::{AgentContext, EventSink, RunEvent};
use crate::outcome::{Failure, cancel_reason};
use crate::run::{ChildRun, Message, RunStatus, TeamRunOutput};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The session's earlier runs a team shows its leader and members, read once when the run
/// starts: each as `(input, answer)`, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct TeamHistory {
    /// The team's own earlier runs.
    pub runs: Vec<(String, String)>,
    /// Each member's earlier runs (agents and nested teams, at any depth), by id.
    pub members: HashMap<String, Vec<(String, String)>>,
}

impl TeamHistory {
    /// The last `n` of `runs` as user and assistant messages marked `from_history`.
    pub(crate) fn messages(runs: &[(String, String)], n: usize) -> Vec<Message> {
        runs[runs.len().saturating_sub(n)..]
            .iter()
            .flat_map(|(input, answer)| {
                [
                    Message::new("user", input.clone()),
                    Message::new("assistant", answer.clone()),
                ]
            })
            .map(|mut m| {
                m.from_history = true;
                m
            })
            .collect()
    }

    /// agno's `<team_history_context>` of the last `n` team runs, for members; `None` without
    /// any.
    pub(crate) fn context(&self, n: usize) -> Option<String> {
        let runs = &self.runs[self.runs.len().saturating_sub(n)..];
        if runs.is_empty() {
            return None;
        }
        let mut parts = vec!["<team_history_context>".to_owned()];
        for (i, (input, answer)) in runs.iter().enumerate() {
            parts.push(format!("[run-{}]", i + 1));
            if !input.is_empty() {
                parts.push(format!("input: {input}"));
            }
            if !answer.is_empty() {
                parts.push(format!("response: {answer}"));
            }
            parts.push(String::new());
        }
        parts.push("</team_history_context>".to_owned());
        parts.push(String::new());
        Some(parts.join("\n"))
    }

    /// The history a nested team member `id` sees: its own runs, and the same members'.
    pub(crate) fn of_member(&self, id: &str) -> TeamHistory {
        TeamHistory {
            runs: self.members.get(id).cloned().unwrap_or_default(),
            members: self.members.clone(),
        }
    }
}

/// A background team run's progress, stored as the leader's replies and the members' runs come
/// in: the leader's loop, the members' runs so far, the background hooks they owe, and the
/// session state (tasks mode's task list lives there). A resumed run starts from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TeamCheckpoint {
    pub leader: LoopState,
    pub members: Vec<ChildRun>,
    pub deferred: Vec<DeferredHook>,
    #[serde(default)]
    pub interactions: Vec<Interaction>,
    #[serde(default)]
    pub session_state: Map<String, Value>,
}

/// Records a background team run's progress (the runtime's checkpoint writer; the engine only
/// calls it).
pub(crate) trait TeamProgress: Send + Sync {
    /// Records `checkpoint` for the run `run_id`. A failure is the implementation's to log: a
    /// resume would redo what it missed.
    fn save<'a>(&'a self, run_id: &'a str, checkpoint: &'a TeamCheckpoint) -> BoxFuture<'a, ()>;
}

/// What differs between the calls of a team: the input, where it sits, what it remembers.
pub(crate) struct TeamCall {
    /// What the team is asked.
    pub input: String,
    /// A run of its own: it takes the context's run id and uploaded files, and its last event
    /// is left to the runtime.
    pub top_level: bool,
    /// The run's id, for a nested team (a new one when `None` and not top-level).
    pub run_id: Option<String>,
    /// The team or workflow run this one is a member or step of.
    pub parent_run_id: Option<String>,
    /// Where the team sits inside a workflow run.
    pub place: Option<StepPlace>,
    /// The session's earlier runs.
    pub history: Arc<TeamHistory>,
    /// Set for background runs: records progress as members finish.
    pub progress: Option<Arc<dyn TeamProgress>>,
    /// A resumed run's progress: its finished members are not run again.
    pub resume: Option<Box<TeamCheckpoint>>,
}

impl TeamCall {
    /// The call of a team that is a member of the team run `parent_run_id`.
    pub(crate) fn member(input: String, parent_run_id: String, history: TeamHistory) -> TeamCall {
        TeamCall {
            input,
            top_level: false,
            run_id: None,
            parent_run_id: Some(parent_run_id),
            place: None,
            history: Arc::new(history),
            progress: None,
            resume: None,
        }
    }

    /// The call of a team that is a workflow step.
    pub(crate) fn step(input: String, place: StepPlace) -> TeamCall {
        TeamCall {
            input,
            top_level: false,
            run_id: None,
            parent_run_id: Some(place.workflow_run_id.clone()),
            place: Some(place),
            history: Arc::default(),
            progress: None,
            resume: None,
        }
    }
}

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
