//! One agent run: pre-hooks, the conversation with the model, post-hooks, and agno's agent
//! events in agno's order.

use super::prompt::Recall;
use super::{Agent, ChildTools, LoopState, NoModel, conversation, round};
use crate::context::RunContext;
use crate::event::{AgentContext, EventSink, RunEvent};
use crate::hooks::{AgentInfo, HookContext, HookError, call_contained};
use crate::model::Usage;
use crate::outcome::{ErrorKind, Failure, cancel_reason};
use crate::run::{Message, ModelMetrics, RunInput, RunMetrics, RunOutput, RunStatus, unix_seconds};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// Where an agent run sits inside a workflow run.
#[derive(Debug, Clone)]
pub(crate) struct StepPlace {
    pub workflow_id: String,
    pub workflow_run_id: String,
    pub step_id: String,
    pub step_name: String,
    pub step_index: usize,
}

/// What differs between the agent calls of one run: the input, where the agent sits, and
/// the session's earlier turns. Everything else comes from the run's [`RunContext`].
///
/// A team's leader is an agent call with `children` (the delegation tools): its events are the
/// team's, and the team sends its last event (`TeamRunCompleted`, ...).
#[derive(Debug, Clone)]
pub(crate) struct AgentCall {
    /// What the agent is asked.
    pub input: String,
    /// Where the agent sits inside a workflow run; `None` for a run of its own.
    pub place: Option<StepPlace>,
    /// Earlier turns of the session, sent between the system message and the input.
    pub history: Vec<Message>,
    /// A run of its own (not a workflow step): it takes the context's run id and uploaded
    /// files, and its last event (`RunCompleted`, `RunError`, `RunCancelled`) is left to the
    /// runtime, which sends it once the run is stored.
    pub top_level: bool,
    /// What the runtime read for the agent's context (memories, summary, chat history);
    /// `None` for an agent that uses none of them.
    pub recall: Option<Box<Recall>>,
    /// The run's id when the caller chose it (a team's leader: the team run's id); else the
    /// context's for a top-level run, a new one otherwise.
    pub run_id: Option<String>,
    /// The team run this run is a member of.
    pub parent_run_id: Option<String>,
    /// Set for a team's leader: the tools that run its members.
    pub children: Option<Arc<dyn ChildTools>>,
    /// Where a resumed run's loop stood (its finished tool calls are not made again); the run
    /// then sends no `RunStarted` and runs no pre-hooks.
    pub resume: Option<Box<LoopState>>,
}

impl AgentCall {
    /// The call of an agent run of its own, with the session's earlier turns.
    pub(crate) fn top_level(input: String, history: Vec<Message>) -> AgentCall {
        AgentCall {
            input,
            place: None,
            history,
            top_level: true,
            recall: None,
            run_id: None,
            parent_run_id: None,
            children: None,
            resume: None,
        }
    }

    /// The call of an agent that is a workflow step.
    pub(crate) fn step(input: String, place: StepPlace) -> AgentCall {
        AgentCall {
            input,
            place: Some(place),
            history: Vec::new(),
            top_level: false,
            recall: None,
            run_id: None,
            parent_run_id: None,
            children: None,
            resume: None,
        }
    }

    /// The call of an agent that is a member of the team run `parent_run_id`.
    pub(crate) fn member(input: String, history: Vec<Message>, parent_run_id: String) -> AgentCall {
        AgentCall {
            input,
            place: None,
            history,
            top_level: false,
            recall: None,
            run_id: None,
            parent_run_id: Some(parent_run_id),
            children: None,
            resume: None,
        }
    }

    /// Whether the agent sends its own last event (`RunCompleted`, ...): not for a run of its
    /// own (the runtime sends it once stored), nor for a team's leader (the team does).
    fn sends_last_event(&self) -> bool {
        !self.top_level && self.children.is_none()
    }
}

/// A hook to run after the response, with the context it will get.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct DeferredHook {
    pub hook_name: String,
    pub ctx: HookContext,
    /// The hook's own attempt limit, if it has one.
    pub max_attempts: Option<u32>,
}

/// What one agent run leaves behind.
#[derive(Debug)]
pub(crate) struct AgentRunResult {
    pub output: RunOutput,
    pub failure: Option<Failure>,
    pub deferred: Vec<DeferredHook>,
    /// The tasks the model gave the memory manager (`update_user_memory`), for after the run.
    pub memory_tasks: Vec<String>,
}

impl Agent {
    /// Runs the agent once: pre-hooks, the model call (streamed when someone listens),
    /// post-hooks; emits agno's agent events in agno's order.
    pub(crate) async fn run(
        &self,
        rctx: &Arc<RunContext>,
        call: &AgentCall,
        sink: &mut EventSink,
    ) -> AgentRunResult {
        let started = Instant::now();
        let run_id = match (&call.run_id, call.top_level) {
            (Some(id), _) => id.clone(),
            (None, true) => rctx.run_id.clone(),
            (None, false) => uuid::Uuid::new_v4().to_string(),
        };
        // `AgentOs` refuses agents without a model at build time; `NoModel` keeps this total.
        let model = self.model.clone().unwrap_or_else(|| Arc::new(NoModel));
        let actx = Arc::new(AgentContext {
            created_at: unix_seconds(),
            agent_id: self.id.clone(),
            agent_name: self.name.clone(),
            run_id: run_id.clone(),
            parent_run_id: call.parent_run_id.clone(),
            session_id: rctx.session_id.clone(),
            workflow_id: call.place.as_ref().map(|p| p.workflow_id.clone()),
            workflow_run_id: call.place.as_ref().map(|p| p.workflow_run_id.clone()),
            step_id: call.place.as_ref().map(|p| p.step_id.clone()),
            step_name: call.place.as_ref().map(|p| p.step_name.clone()),
            step_index: call.place.as_ref().map(|p| p.step_index),
            nested_depth: 0,
            team: call.children.is_some(),
        });
        let mut hook_ctx = HookContext {
            agent: AgentInfo {
                id: self.id.clone(),
                name: self.name.clone(),
            },
            run_id: run_id.clone(),
            workflow_id: actx.workflow_id.clone(),
            workflow_run_id: actx.workflow_run_id.clone(),
            session_id: rctx.session_id.clone(),
            user_id: rctx.user_id.clone(),
            run_input: RunInput {
                input_content: call.input.clone(),
            },
            run_output: None,
            extra: rctx.extra.clone(),
            metadata: rctx.metadata.clone(),
            session_state: rctx.session_state.clone(),
            dependencies: rctx.dependencies.clone(),
            job: None,
        };
        let mut output = RunOutput {
            run_id,
            agent_id: self.id.clone(),
            agent_name: self.name.clone(),
            session_id: rctx.session_id.clone(),
            parent_run_id: call
                .parent_run_id
                .clone()
                .or_else(|| actx.workflow_run_id.clone()),
            workflow_id: actx.workflow_id.clone(),
            workflow_step_id: actx.step_id.clone(),
            user_id: rctx.user_id.clone(),
            content: Value::String(String::new()),
            content_type: "str".to_owned(),
            model: model.id().to_owned(),
            model_provider: model.provider().to_owned(),
            created_at: actx.created_at,
            status: RunStatus::Running,
            metrics: RunMetrics::default(),
            messages: Vec::new(),
            tools: Vec::new(),
            input: hook_ctx.run_input.clone(),
        };
        let mut deferred = Vec::new();
        let last_event = call.sends_last_event();

        if call.resume.is_none() {
            sink.emit(|| RunEvent::RunStarted {
                ctx: actx.clone(),
                model: output.model.clone(),
                model_provider: output.model_provider.clone(),
            })
            .await;
            if let Err(failure) = self
                .run_hooks(true, rctx, &hook_ctx, &actx, sink, &mut deferred)
                .await
            {
                return fail(output, failure, deferred, &actx, sink, started, last_event).await;
            }
        }
        if rctx.is_cancelled() {
            return cancelled(output, deferred, &actx, sink, started, last_event).await;
        }

        let mut messages = match &call.resume {
            Some(state) => {
                output.tools.clone_from(&state.tools);
                state.messages.clone()
            }
            None => {
                let mut messages = self.initial_messages(rctx, call);
                if let Some(knowledge) = &self.knowledge {
                    knowledge.prepare(rctx, &call.input, &mut messages).await;
                }
                messages
            }
        };
        let (tools, memory_tasks) = self.tools_for(call);
        let answer = self
            .converse(
                model.as_ref(),
                &mut messages,
                &mut output,
                round::Turn {
                    rctx,
                    call,
                    actx: &actx,
                    tools: &tools,
                },
                sink,
            )
            .await;
        let memory_tasks = memory_tasks
            .map(|t| std::mem::take(&mut *t.lock().unwrap_or_else(|p| p.into_inner())))
            .unwrap_or_default();
        // The run's record keeps its own turn; the history is the earlier runs'.
        messages.retain(|m| !m.from_history);
        output.messages = messages;
        let conversation::Answer {
            content,
            usage,
            ttft,
        } = match answer {
            Ok(answer) => answer,
            Err(round::Stop::Cancelled(partial)) => {
                output.content = Value::String(partial);
                return cancelled(output, deferred, &actx, sink, started, last_event).await;
            }
            Err(round::Stop::Failed(failure)) => {
                return fail(output, failure, deferred, &actx, sink, started, last_event).await;
            }
        };
        sink.emit(|| RunEvent::RunContentCompleted { ctx: actx.clone() })
            .await;

        output.content = content;
        if let Some(schema) = &self.loop_settings.output_schema {
            output.content_type = schema.format.name.clone();
        }
        output.status = RunStatus::Completed;
        output.metrics = metrics(&output, usage, ttft, started);
        hook_ctx.run_output = Some(output.clone());

        if let Err(failure) = self
            .run_hooks(false, rctx, &hook_ctx, &actx, sink, &mut deferred)
            .await
        {
            return fail(output, failure, deferred, &actx, sink, started, last_event).await;
        }
        output.metrics.duration = Some(started.elapsed().as_secs_f64());
        if last_event {
            sink.emit(|| RunEvent::RunCompleted {
                ctx: actx.clone(),
                content: output.content.clone(),
                content_type: output.content_type.clone(),
                metrics: output.metrics.clone(),
            })
            .await;
        }
        AgentRunResult {
            output,
            failure: None,
            deferred,
            memory_tasks,
        }
    }

    /// Runs the pre-hooks (`pre == true`) or post-hooks in order. Deferred hooks are collected;
    /// inline ones run now. A check error stops the run; any other failure is logged.
    async fn run_hooks(
        &self,
        pre: bool,
        rctx: &RunContext,
        ctx: &HookContext,
        actx: &Arc<AgentContext>,
        sink: &mut EventSink,
        deferred: &mut Vec<DeferredHook>,
    ) -> Result<(), Failure> {
        let hooks = if pre {
            &self.pre_hooks
        } else {
            &self.post_hooks
        };
        for hook in hooks {
            if hook.deferred(rctx.hooks_in_background()) {
                deferred.push(DeferredHook {
                    hook_name: hook.name().to_owned(),
                    ctx: ctx.clone(),
                    max_attempts: hook.attempt_limit(),
                });
                continue;
            }
            let name = hook.name().to_owned();
            sink.emit(|| match pre {
                true => RunEvent::PreHookStarted {
                    ctx: actx.clone(),
                    pre_hook_name: name.clone(),
                },
                false => RunEvent::PostHookStarted {
                    ctx: actx.clone(),
                    post_hook_name: name.clone(),
                },
            })
            .await;
            match call_contained(hook, ctx.clone()).await {
                Ok(()) => {
                    sink.emit(|| match pre {
                        true => RunEvent::PreHookCompleted {
                            ctx: actx.clone(),
                            pre_hook_name: name.clone(),
                        },
                        false => RunEvent::PostHookCompleted {
                            ctx: actx.clone(),
                            post_hook_name: name.clone(),
                        },
                    })
                    .await;
                }
                Err(HookError::InputCheck {
                    message,
                    check_trigger,
                }) => {
                    return Err(Failure {
                        message,
                        kind: ErrorKind::InputCheck,
                        error_id: Some(check_trigger),
                    });
                }
                Err(HookError::OutputCheck {
                    message,
                    check_trigger,
                }) => {
                    return Err(Failure {
                        message,
                        kind: ErrorKind::OutputCheck,
                        error_id: Some(check_trigger),
                    });
                }
                Err(HookError::Failed(e)) => {
                    let context = format!("agent {:?}: hook failed:", self.name);
                    crate::hooks::report_failure(&name, &context, &e.to_string());
                }
            }
        }
        Ok(())
    }
}

fn metrics(output: &RunOutput, usage: Usage, ttft: Option<f64>, started: Instant) -> RunMetrics {
    let total = usage.input_tokens + usage.output_tokens;
    let mut m = RunMetrics {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        total_tokens: total,
        time_to_first_token: ttft,
        duration: Some(started.elapsed().as_secs_f64()),
        details: Default::default(),
    };
    m.details.insert(
        "model".to_owned(),
        vec![ModelMetrics {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            total_tokens: total,
            id: output.model.clone(),
            provider: output.model_provider.clone(),
        }],
    );
    m
}

async fn fail(
    mut output: RunOutput,
    failure: Failure,
    deferred: Vec<DeferredHook>,
    actx: &Arc<AgentContext>,
    sink: &mut EventSink,
    started: Instant,
    last_event: bool,
) -> AgentRunResult {
    output.status = RunStatus::Error;
    output.content = Value::String(failure.message.clone());
    output.metrics.duration = Some(started.elapsed().as_secs_f64());
    if last_event {
        sink.emit(|| RunEvent::RunError {
            ctx: actx.clone(),
            content: failure.message.clone(),
            error_type: Some(failure.error_type()),
            error_id: failure.error_id.clone(),
        })
        .await;
    }
    AgentRunResult {
        output,
        failure: Some(failure),
        deferred,
        memory_tasks: Vec::new(),
    }
}

/// Ends a cancelled run: status CANCELLED, the partial content kept (agno puts the reason in
/// `content` when there is none), no post-hooks.
async fn cancelled(
    mut output: RunOutput,
    deferred: Vec<DeferredHook>,
    actx: &Arc<AgentContext>,
    sink: &mut EventSink,
    started: Instant,
    last_event: bool,
) -> AgentRunResult {
    let reason = cancel_reason(&output.run_id);
    output.status = RunStatus::Cancelled;
    if output.content.as_str().is_some_and(str::is_empty) {
        output.content = Value::String(reason.clone());
    }
    output.metrics.duration = Some(started.elapsed().as_secs_f64());
    if last_event {
        sink.emit(|| RunEvent::RunCancelled {
            ctx: actx.clone(),
            reason,
        })
        .await;
    }
    AgentRunResult {
        output,
        failure: None,
        deferred,
        memory_tasks: Vec::new(),
    }
}
