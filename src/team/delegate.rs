//! [`Leading`]: a team run's child tools. `delegate_task_to_member` and
//! `delegate_task_to_members` run members as child runs of the team run (their events stream
//! through the team's sink; their outputs, hooks and interactions are collected here); the
//! leader's loop reports its progress, which a background run checkpoints.

use super::call::{Interaction, TeamCall, TeamCheckpoint, TeamHistory, TeamProgress};
use super::{Member, Team, TeamMode};
use crate::agent::{AgentCall, ChildTools, DeferredHook, LoopState};
use crate::context::RunContext;
use crate::event::{AgentContext, EventSink};
use crate::model::ToolDefinition;
use crate::outcome::Failure;
use crate::run::{ChildRun, RunStatus, ToolExecution, value_text};
use crate::tool::{ToolOutcome, started_now};
use futures::future::BoxFuture;
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// What the members of a run have left so far.
#[derive(Debug, Default)]
pub(super) struct Shared {
    pub members: Vec<ChildRun>,
    pub deferred: Vec<DeferredHook>,
    pub interactions: Vec<Interaction>,
    /// Tool calls made in the current iteration (tasks mode ends an idle run).
    pub calls: usize,
    /// Iterations in a row without tasks and without tool calls (tasks mode).
    pub idle_turns: usize,
}

/// A team run's child tools: the members, run on the leader's behalf.
pub(crate) struct Leading {
    pub(super) team: Arc<Team>,
    pub(super) rctx: Arc<RunContext>,
    pub(super) run_id: String,
    parent_run_id: Option<String>,
    /// The team's input (members get it as is without `determine_input_for_members`).
    input: String,
    history: Arc<TeamHistory>,
    definitions: Vec<ToolDefinition>,
    progress: Option<Arc<dyn TeamProgress>>,
    shared: Mutex<Shared>,
}

impl std::fmt::Debug for Leading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leading")
            .field("team", &self.team.id)
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

/// What a member run left.
pub(super) struct MemberRun {
    pub run: ChildRun,
    pub failure: Option<Failure>,
    pub name: String,
}

impl Leading {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        team: Arc<Team>,
        rctx: Arc<RunContext>,
        run_id: String,
        parent_run_id: Option<String>,
        input: String,
        history: Arc<TeamHistory>,
        progress: Option<Arc<dyn TeamProgress>>,
        restored: (Vec<ChildRun>, Vec<DeferredHook>, Vec<Interaction>),
    ) -> Leading {
        let (members, deferred, interactions) = restored;
        Leading {
            definitions: team.child_tool_definitions(),
            team,
            rctx,
            run_id,
            parent_run_id,
            input,
            history,
            progress,
            shared: Mutex::new(Shared {
                members,
                deferred,
                interactions,
                ..Shared::default()
            }),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Shared> {
        // A poisoned lock only means a member panicked while recording; what it holds is whole.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The members' runs and the hooks they owe, once the leader is done.
    pub(super) fn finish(&self) -> (Vec<ChildRun>, Vec<DeferredHook>) {
        let mut shared = self.lock();
        (
            std::mem::take(&mut shared.members),
            std::mem::take(&mut shared.deferred),
        )
    }

    /// The fields of this team run's own events (tasks mode's).
    pub(super) fn event_context(&self) -> Arc<AgentContext> {
        let mut ctx = AgentContext::standalone(
            &self.team.id,
            &self.team.name,
            &self.run_id,
            &self.rctx.session_id,
        );
        ctx.team = true;
        ctx.parent_run_id.clone_from(&self.parent_run_id);
        Arc::new(ctx)
    }

    /// What a member is asked: the leader's task (or the team's input without
    /// `determine_input_for_members`), after the shared interactions and the team's history
    /// when the team forwards them (agno's `format_member_agent_task`).
    fn member_input(&self, task: &str, leader_wrote: bool) -> String {
        let o = &self.team.options;
        let base = match leader_wrote || o.determine_input_for_members {
            true => task.to_owned(),
            false => self.input.clone(),
        };
        let mut input = String::new();
        if o.share_member_interactions {
            let shared = self.lock();
            if !shared.interactions.is_empty() {
                input.push_str(
                    "<member_interaction_context>\nSee below interactions with other team members.\n",
                );
                for i in &shared.interactions {
                    input.push_str(&format!(
                        "Member: {}\nTask: {}\nResponse: {}\n\n",
                        i.member_name, i.task, i.response
                    ));
                }
                input.push_str("</member_interaction_context>\n\n\n");
            }
        }
        if o.add_team_history_to_members
            && let Some(history) = self.history.context(o.num_team_history_runs)
        {
            input.push_str(&history);
            input.push_str("\n\n");
        }
        input.push_str(&base);
        input
    }

    /// Runs `member` on `task` as a child run of this one, streaming its events to `sink` when
    /// the team streams its members' events, and records what it left. `leader_wrote`: the
    /// task is the leader's own text (a task list's), whatever `determine_input_for_members`.
    pub(super) async fn run_member(
        &self,
        member: &Member,
        task: &str,
        leader_wrote: bool,
        sink: EventSink,
    ) -> MemberRun {
        let input = self.member_input(task, leader_wrote);
        let mut sink = match self.team.options.stream_member_events {
            true => sink,
            false => EventSink::new(None),
        };
        let (run, failure, deferred) = match member {
            Member::Agent(agent) => {
                let history = self
                    .history
                    .members
                    .get(agent.id())
                    .map(|runs| TeamHistory::messages(runs, agent.get_history_runs()))
                    .unwrap_or_default();
                let call = AgentCall::member(input, history, self.run_id.clone());
                let result = agent.run(&self.rctx, &call, &mut sink).await;
                (
                    ChildRun::Agent(result.output),
                    result.failure,
                    result.deferred,
                )
            }
            Member::Team(team) => {
                let call = TeamCall::member(
                    input,
                    self.run_id.clone(),
                    self.history.of_member(team.get_id()),
                );
                let result = Box::pin(team.run(&self.rctx, call, &mut sink)).await;
                (
                    ChildRun::Team(Box::new(result.output)),
                    result.failure,
                    result.deferred,
                )
            }
        };
        let mut shared = self.lock();
        shared.interactions.push(Interaction {
            member_name: member.name().to_owned(),
            task: task.to_owned(),
            response: value_text(run.content()),
        });
        shared.deferred.extend(deferred);
        shared.members.push(run.clone());
        MemberRun {
            run,
            failure,
            name: member.name().to_owned(),
        }
    }

    /// `delegate_task_to_member(member_id, task)`.
    async fn delegate_to_member(
        &self,
        mut execution: ToolExecution,
        args: Value,
        sink: EventSink,
        started: (f64, Instant),
    ) -> ToolOutcome {
        let (member_id, task) = match (string_arg(&args, "member_id"), string_arg(&args, "task")) {
            (Ok(id), Ok(task)) => (id, task),
            (Err(e), _) | (_, Err(e)) => return ToolOutcome::finished(execution, Err(e), started),
        };
        let Some(member) = self.team.find_member(&member_id) else {
            let text = format!(
                "Member with ID {member_id} not found in the team or any subteams. Please choose the correct member from the list of members:\n\n{}",
                self.team.roster(0)
            );
            return ToolOutcome::finished(execution, Err(text), started);
        };
        let done = self.run_member(member, &task, false, sink).await;
        execution.child_run_id = Some(done.run.run_id().to_owned());
        let result = result_text(&done, None);
        let mut outcome = ToolOutcome::finished(execution, result, started);
        if self.team.options.mode == TeamMode::Route {
            outcome.stop = true;
            outcome.execution.stop_after_tool_call = true;
        }
        outcome
    }

    /// `delegate_task_to_members(task)`: every direct member at once, each answer prefixed with
    /// its name. An error only when every member failed.
    async fn delegate_to_members(
        &self,
        execution: ToolExecution,
        args: Value,
        sink: EventSink,
        started: (f64, Instant),
    ) -> ToolOutcome {
        let task = match string_arg(&args, "task") {
            Ok(task) => task,
            Err(e) => return ToolOutcome::finished(execution, Err(e), started),
        };
        let runs = futures::future::join_all(
            self.team
                .members
                .iter()
                .map(|m| self.run_member(m, &task, false, sink.fork())),
        )
        .await;
        let failed = runs.iter().filter(|r| r.failure.is_some()).count();
        let text = runs
            .iter()
            .map(|r| match result_text(r, Some(&r.name)) {
                Ok(text) | Err(text) => text,
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        let result = match failed == runs.len() && !runs.is_empty() {
            true => Err(text),
            false => Ok(text),
        };
        ToolOutcome::finished(execution, result, started)
    }

    /// Records the leader's progress (background runs only).
    async fn checkpoint(&self, state: &LoopState) {
        let Some(progress) = &self.progress else {
            return;
        };
        let checkpoint = {
            let shared = self.lock();
            TeamCheckpoint {
                leader: state.clone(),
                members: shared.members.clone(),
                deferred: shared.deferred.clone(),
                interactions: shared.interactions.clone(),
                session_state: self.rctx.session_state.snapshot(),
            }
        };
        progress.save(&self.run_id, &checkpoint).await;
    }
}

impl ChildTools for Leading {
    fn definitions(&self) -> &[ToolDefinition] {
        &self.definitions
    }

    fn call<'a>(
        &'a self,
        execution: ToolExecution,
        args: Result<Value, String>,
        sink: EventSink,
    ) -> BoxFuture<'a, ToolOutcome> {
        Box::pin(async move {
            let started = started_now();
            self.lock().calls += 1;
            let args = match args {
                Ok(args) => args,
                Err(e) => return ToolOutcome::finished(execution, Err(e), started),
            };
            match execution.tool_name.as_str() {
                "delegate_task_to_member" => {
                    self.delegate_to_member(execution, args, sink, started)
                        .await
                }
                "delegate_task_to_members" => {
                    self.delegate_to_members(execution, args, sink, started)
                        .await
                }
                _ => self.task_call(execution, args, sink, started).await,
            }
        })
    }

    fn checkpoints(&self) -> bool {
        self.progress.is_some()
    }

    fn progress<'a>(&'a self, state: &'a LoopState) -> BoxFuture<'a, ()> {
        Box::pin(self.checkpoint(state))
    }

    fn turn_started<'a>(&'a self, iteration: usize, sink: &'a mut EventSink) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.lock().calls = 0;
            if self.team.options.mode == TeamMode::Tasks {
                self.iteration_started(iteration, sink).await;
            }
        })
    }

    fn next_turn<'a>(
        &'a self,
        iteration: usize,
        sink: &'a mut EventSink,
    ) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            match self.team.options.mode {
                TeamMode::Tasks => self.next_task_turn(iteration, sink).await,
                _ => None,
            }
        })
    }
}

/// A required string argument.
pub(super) fn string_arg(args: &Value, key: &str) -> Result<String, String> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) if !other.is_null() => Ok(value_text(other)),
        _ => Err(format!("invalid arguments: missing `{key}`")),
    }
}

/// What the leader reads of a member's run (agno's rules: the content; the tools' results when
/// it has none; structured content as indented JSON), prefixed with `Agent <name>: ` for a
/// broadcast. A member that failed or was cancelled is an error, said plainly.
pub(super) fn result_text(done: &MemberRun, prefix: Option<&str>) -> Result<String, String> {
    let lead = |text: String| match prefix {
        Some(name) => format!("Agent {name}: {text}"),
        None => text,
    };
    if let Some(failure) = &done.failure {
        return Err(lead(format!(
            "Error - member {:?} failed: {}",
            done.name, failure.message
        )));
    }
    if done.run.status() == RunStatus::Cancelled {
        return Err(lead(format!(
            "Error - member {:?} was cancelled",
            done.name
        )));
    }
    let text = match done.run.content() {
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        Value::String(_) | Value::Null => {
            let results: Vec<&str> = match &done.run {
                ChildRun::Agent(run) => run
                    .tools
                    .iter()
                    .filter_map(|t| t.result.as_deref())
                    .collect(),
                ChildRun::Team(run) => run
                    .tools
                    .iter()
                    .filter_map(|t| t.result.as_deref())
                    .collect(),
            };
            match results.is_empty() {
                true => "No response from the member agent.".to_owned(),
                false => results.join(","),
            }
        }
        other => serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
    };
    Ok(lead(text))
}
