//! One round of the agent loop: a reply's tool calls run concurrently (a leader's child tools
//! with the event sink), their results appended, and what may end the conversation there (a
//! cancel, a routed member's answer).

use super::{Agent, AgentCall, ChildTools, LoopState};
use crate::context::RunContext;
use crate::event::{AgentContext, EventSink, RunEvent};
use crate::model::{ToolCall, Usage};
use crate::outcome::{ErrorKind, Failure};
use crate::run::{Message, RunOutput, ToolExecution};
use crate::tool::{self, AgentTool, ToolOutcome};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::Value;
use std::sync::Arc;

/// Who is talking to the model, and for which run: the run's context, this agent call, and
/// the fields its events carry.
#[derive(Clone, Copy)]
pub(super) struct Turn<'a> {
    pub rctx: &'a Arc<RunContext>,
    pub call: &'a AgentCall,
    pub actx: &'a Arc<AgentContext>,
    /// The run's tools: the agent's own, and the built-ins it uses.
    pub tools: &'a [AgentTool],
}

/// Why a conversation gave no answer.
pub(super) enum Stop {
    /// The model failed, its structured reply did not parse, or the tool rounds ran out.
    Failed(Failure),
    /// The run was cancelled; here is the content of the reply being received, if any.
    Cancelled(String),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Failed(f)
    }
}

impl Agent {
    /// Runs one reply's tool calls and appends their results. `Some(content)` when a call's
    /// result is the answer (a routed member's: the reply's text, then the result).
    pub(super) async fn round(
        &self,
        round: Round<'_>,
        messages: &mut Vec<Message>,
        output: &mut RunOutput,
        at: Turn<'_>,
        sink: &mut EventSink,
    ) -> Result<Option<Value>, Stop> {
        let Turn {
            rctx, call, actx, ..
        } = at;
        let cancel = rctx.cancel_token();
        let outcomes = match call.children.as_deref() {
            // Member runs in flight are not dropped on a cancel: they see it too, end, and are
            // recorded CANCELLED; the round ends when they have.
            Some(children) => {
                let checkpoints = children.checkpoints();
                let mut state = LoopState {
                    messages: match checkpoints {
                        true => messages.clone(),
                        false => Vec::new(),
                    },
                    tools: match checkpoints {
                        true => output.tools.clone(),
                        false => Vec::new(),
                    },
                    done: round.done,
                    rounds: round.rounds,
                    iteration: round.iteration,
                    input_tokens: round.usage.input_tokens,
                    output_tokens: round.usage.output_tokens,
                };
                if checkpoints {
                    children.progress(&state).await;
                }
                let outcomes = self
                    .run_tools(
                        round.calls,
                        round.tools,
                        rctx,
                        actx,
                        sink,
                        Some((children, &mut state)),
                    )
                    .await;
                for outcome in &outcomes {
                    messages.push(tool_message(&outcome.execution));
                    output.tools.push(outcome.execution.clone());
                }
                if cancel.is_cancelled() {
                    return Err(Stop::Cancelled(String::new()));
                }
                outcomes
            }
            None => {
                let outcomes = tokio::select! {
                    outcomes = self.run_tools(round.calls, round.tools, rctx, actx, sink, None) => outcomes,
                    () = cancel.cancelled() => return Err(Stop::Cancelled(String::new())),
                };
                for outcome in &outcomes {
                    messages.push(tool_message(&outcome.execution));
                    output.tools.push(outcome.execution.clone());
                }
                outcomes
            }
        };
        let stopping: Vec<&ToolOutcome> = outcomes.iter().filter(|o| o.stop).collect();
        if stopping.is_empty() {
            return Ok(None);
        }
        if let Some(error) = stopping.iter().find_map(|o| o.error.as_ref()) {
            return Err(Stop::Failed(Failure::new(ErrorKind::Member, error.clone())));
        }
        let mut content = round.text.to_owned();
        for outcome in stopping {
            let result = outcome.execution.result.as_deref().unwrap_or_default();
            sink.emit(|| RunEvent::RunContent {
                ctx: actx.clone(),
                content: Value::String(result.to_owned()),
                content_type: "str".to_owned(),
                workflow_agent: false,
                reasoning_content: String::new(),
            })
            .await;
            content.push_str(result);
        }
        Ok(Some(Value::String(content)))
    }

    /// Runs one reply's tool calls concurrently. `ToolCallStarted` for each in the model's
    /// order, then `ToolCallCompleted` (and `ToolCallError` for a failure) as each ends.
    /// Returns the outcomes in the model's order. With `children` (a team's leader), their
    /// calls get a fork of the sink, calls already in `state.done` (a resumed round) are not
    /// made again, every other call ends at a cancel, and each call's end is reported.
    async fn run_tools(
        &self,
        calls: &[ToolCall],
        tools: &[AgentTool],
        rctx: &Arc<RunContext>,
        actx: &Arc<AgentContext>,
        sink: &mut EventSink,
        mut children: Option<(&dyn ChildTools, &mut LoopState)>,
    ) -> Vec<ToolOutcome> {
        let mut outcomes: Vec<Option<ToolOutcome>> = calls.iter().map(|_| None).collect();
        let done = children
            .as_ref()
            .map(|(_, state)| state.done.clone())
            .unwrap_or_default();
        let prepared: Vec<_> = calls
            .iter()
            .enumerate()
            .filter_map(
                |(i, call)| match done.iter().find(|d| d.tool_call_id == call.id) {
                    Some(finished) => {
                        outcomes[i] = Some(ToolOutcome {
                            error: finished
                                .tool_call_error
                                .unwrap_or(false)
                                .then(|| finished.result.clone().unwrap_or_default()),
                            execution: finished.clone(),
                            stop: false,
                        });
                        None
                    }
                    None => Some((i, tool::start(call))),
                },
            )
            .collect();
        for (_, (execution, _)) in &prepared {
            sink.emit(|| RunEvent::ToolCallStarted {
                ctx: actx.clone(),
                tool: Box::new(execution.clone()),
            })
            .await;
        }
        let (toolkits, limit) = (
            self.loop_settings.toolkits.as_slice(),
            self.loop_settings.tool_timeout,
        );
        let lead = children.as_ref().map(|(c, _)| *c);
        let cancel = rctx.cancel_token();
        let mut running: FuturesUnordered<_> = prepared
            .into_iter()
            .map(|(i, (execution, args))| {
                let child = lead.filter(|c| c.definitions().iter().any(|d| d.name == execution.tool_name));
                let fork = child.map(|_| sink.fork());
                async move {
                    let outcome = match (child, fork) {
                        (Some(child), Some(fork)) => child.call(execution, args, fork).await,
                        // A leader's own tool ends at a cancel, with its members.
                        _ if lead.is_some() => {
                            let record = execution.clone();
                            tokio::select! {
                                outcome = tool::execute(tools, toolkits, execution, args, limit, rctx) => outcome,
                                () = cancel.cancelled() => ToolOutcome::finished(
                                    record,
                                    Err("cancelled".to_owned()),
                                    tool::started_now(),
                                ),
                            }
                        }
                        _ => tool::execute(tools, toolkits, execution, args, limit, rctx).await,
                    };
                    (i, outcome)
                }
            })
            .collect();
        while let Some((i, outcome)) = running.next().await {
            sink.emit(|| RunEvent::ToolCallCompleted {
                ctx: actx.clone(),
                content: tool::summary(&outcome.execution),
                tool: Box::new(outcome.execution.clone()),
            })
            .await;
            if let Some(error) = &outcome.error {
                tracing::info!(tool = %outcome.execution.tool_name, agent = %self.name, %error, "tool call failed");
                sink.emit(|| RunEvent::ToolCallError {
                    ctx: actx.clone(),
                    error: error.clone(),
                    tool: Box::new(outcome.execution.clone()),
                })
                .await;
            }
            if let Some((children, state)) = children.as_mut()
                && children.checkpoints()
            {
                state.done.push(outcome.execution.clone());
                children.progress(state).await;
            }
            outcomes[i] = Some(outcome);
        }
        outcomes.into_iter().flatten().collect()
    }
}

/// One reply's tool calls, and where the loop stands when they run.
pub(super) struct Round<'a> {
    pub calls: &'a [ToolCall],
    /// The tools of this round (what the model was offered).
    pub tools: &'a [AgentTool],
    /// The reply's text (a routed member's answer comes after it).
    pub text: &'a str,
    /// Calls of this round already finished (a resumed run's).
    pub done: Vec<ToolExecution>,
    pub usage: Usage,
    pub rounds: usize,
    pub iteration: usize,
}

/// The message giving a tool call's result back to the model.
fn tool_message(execution: &ToolExecution) -> Message {
    let mut m = Message::new("tool", execution.result.clone().unwrap_or_default());
    m.tool_call_id = Some(execution.tool_call_id.clone());
    m.tool_name = Some(execution.tool_name.clone());
    m.tool_args = execution.tool_args.clone();
    m.tool_call_error = execution.tool_call_error;
    m
}
