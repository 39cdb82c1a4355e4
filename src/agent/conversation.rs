//! The agent loop: the conversation with the model, one model call per round, the tool calls
//! of each reply run concurrently and their results fed back.

use super::{Agent, AgentCall, ChildTools, LoopState};
use crate::context::RunContext;
use crate::event::{AgentContext, EventSink, RunEvent};
use crate::model::{ChatMessage, Model, ModelChunk, ModelError, ModelRequest, ToolCall, Usage};
use crate::outcome::{ErrorKind, Failure};
use crate::run::{Message, RunOutput, ToolExecution};
use crate::tool::{self, ToolOutcome};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Who is talking to the model, and for which run: the run's context, this agent call, and
/// the fields its events carry.
#[derive(Clone, Copy)]
pub(super) struct Turn<'a> {
    pub rctx: &'a Arc<RunContext>,
    pub call: &'a AgentCall,
    pub actx: &'a Arc<AgentContext>,
}

/// The final answer of a conversation with the model.
pub(super) struct Answer {
    /// Text, or the structured output's JSON object.
    pub content: Value,
    /// Summed over every model call of the run.
    pub usage: Usage,
    /// Seconds to the first token of the first streamed reply.
    pub ttft: Option<f64>,
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

/// Why a model call gave no reply.
enum CallError {
    Model(ModelError),
    /// The run was cancelled; here is the content received so far.
    Cancelled(String),
}

impl From<ModelError> for CallError {
    fn from(e: ModelError) -> CallError {
        CallError::Model(e)
    }
}

/// One model reply.
struct Reply {
    content: String,
    tool_calls: Vec<ToolCall>,
    usage: Usage,
    ttft: Option<f64>,
}

impl Agent {
    /// The messages a run starts with: the system message, the session's earlier turns
    /// (marked `from_history`), then the user's input.
    pub(super) fn initial_messages(&self, call: &AgentCall) -> Vec<Message> {
        let mut messages = Vec::with_capacity(3 + call.history.len());
        if let Some(instructions) = &self.instructions {
            messages.push(Message::new("system", instructions.clone()));
        }
        messages.extend(call.history.iter().cloned());
        messages.push(Message::new("user", call.input.clone()));
        messages
    }

    /// The request for the next model call; `tools_allowed == false` keeps the tools
    /// described but tells the model not to call them. The run's input (`messages[input]`)
    /// carries the uploaded documents and images.
    fn request(
        &self,
        messages: &[Message],
        tools_allowed: bool,
        input: usize,
        rctx: &RunContext,
        call: &AgentCall,
    ) -> ModelRequest {
        let children = call
            .children
            .as_deref()
            .map(|c| c.definitions())
            .unwrap_or_default();
        let tool_choice = match tools_allowed {
            _ if self.tools.is_empty() && children.is_empty() => None,
            true => self.loop_settings.tool_choice.clone(),
            false => Some(json!("none")),
        };
        let mut chat: Vec<ChatMessage> = messages.iter().map(chat_message).collect();
        // Uploaded files belong to the run's own agent, not to its workflow steps.
        if let Some(user) = chat.get_mut(input).filter(|_| call.top_level) {
            for doc in &rctx.media.documents {
                user.content.push_str(&format!(
                    "\n\n<file name={:?}>\n{}\n</file>",
                    doc.name, doc.text
                ));
            }
            user.images.clone_from(&rctx.media.images);
        }
        ModelRequest {
            messages: chat,
            tools: self
                .tools
                .iter()
                .map(|t| t.definition().clone())
                .chain(children.iter().cloned())
                .collect(),
            tool_choice,
            response_format: self
                .loop_settings
                .output_schema
                .as_ref()
                .map(|s| s.format.clone()),
            temperature: self.loop_settings.temperature,
            max_tokens: self.loop_settings.max_tokens,
            extra: self.loop_settings.request_fields.clone(),
        }
    }

    /// The agent loop. One round is one model call; a reply with tool calls has them run
    /// (concurrently) and their results appended, then the model is called again. The loop
    /// ends on a reply without tool calls, or fails when the model still calls tools after
    /// `max_tool_rounds` rounds. A cancel stops it at once: between rounds, during the model
    /// call (the HTTP request is dropped) or during the tool calls (they are dropped).
    ///
    /// A team's leader (`call.children`) differs in four ways: its child tools get the event
    /// sink; a cancel lets the member runs in flight end (each stored CANCELLED) instead of
    /// dropping them; its progress is reported as each reply and each call finishes; and an
    /// answer may not be final (tasks mode asks for more iterations), or come from a tool (a
    /// routed member's answer). A resumed run (`call.resume`) starts where its loop stood.
    pub(super) async fn converse(
        &self,
        model: &dyn Model,
        messages: &mut Vec<Message>,
        output: &mut RunOutput,
        at: Turn<'_>,
        sink: &mut EventSink,
    ) -> Result<Answer, Stop> {
        let Turn { rctx, call, actx } = at;
        let cancel = rctx.cancel_token();
        let children = call.children.as_deref();
        let resume = call.resume.as_deref();
        // The run's input: the user's message (history comes before it).
        let input = messages
            .iter()
            .position(|m| m.role == "user" && !m.from_history)
            .unwrap_or_else(|| messages.len().saturating_sub(1));
        let mut usage = Usage::default();
        let mut ttft = None;
        let mut rounds = 0;
        let mut iteration = 1;
        // A resumed run whose last reply called tools: that round's calls, those done first.
        let mut pending = None;
        if let Some(state) = resume {
            usage.input_tokens = state.input_tokens;
            usage.output_tokens = state.output_tokens;
            rounds = state.rounds;
            iteration = state.iteration.max(1);
            pending = messages
                .last()
                .filter(|m| m.role == "assistant" && m.tool_calls.is_some())
                .map(|m| (chat_message(m).tool_calls, state.done.clone()));
        }
        let mut turn_begins = resume.is_none();
        loop {
            if cancel.is_cancelled() {
                return Err(Stop::Cancelled(String::new()));
            }
            if let Some((calls, done)) = pending.take() {
                let round = Round {
                    calls: &calls,
                    text: "",
                    done,
                    usage,
                    rounds,
                    iteration,
                };
                match self.round(round, messages, output, at, sink).await? {
                    Some(content) => {
                        return Ok(Answer {
                            content,
                            usage,
                            ttft,
                        });
                    }
                    None => continue,
                }
            }
            if turn_begins {
                turn_begins = false;
                if let Some(children) = children {
                    children.turn_started(iteration, sink).await;
                }
            }
            let tools_allowed = rounds < self.loop_settings.max_tool_rounds;
            let request = self.request(messages, tools_allowed, input, rctx, call);
            sink.emit(|| RunEvent::ModelRequestStarted {
                ctx: actx.clone(),
                model: output.model.clone(),
                model_provider: output.model_provider.clone(),
            })
            .await;
            let structured = self.loop_settings.output_schema.is_some();
            let reply = match call_model(model, &request, !structured, actx, sink, cancel).await {
                Ok(reply) => reply,
                Err(CallError::Cancelled(partial)) => return Err(Stop::Cancelled(partial)),
                Err(CallError::Model(e)) => {
                    return Err(Stop::Failed(Failure::new(ErrorKind::Model, e.to_string())));
                }
            };
            usage.input_tokens += reply.usage.input_tokens;
            usage.output_tokens += reply.usage.output_tokens;
            ttft = ttft.or(reply.ttft);
            messages.push(assistant_message(&reply));

            // `Some` when this reply is the answer; a structured one must parse.
            let answer = match (
                &self.loop_settings.output_schema,
                reply.tool_calls.is_empty(),
            ) {
                (_, false) => Ok(None),
                (None, true) => Ok(Some(Value::String(reply.content.clone()))),
                (Some(schema), true) => match schema.parse(&reply.content) {
                    Ok(parsed) => {
                        sink.emit(|| RunEvent::RunContent {
                            ctx: actx.clone(),
                            content: parsed.clone(),
                            content_type: schema.format.name.clone(),
                            workflow_agent: false,
                            reasoning_content: String::new(),
                        })
                        .await;
                        Ok(Some(parsed))
                    }
                    Err(message) => Err(Failure::new(ErrorKind::OutputSchema, message)),
                },
            };
            sink.emit(|| RunEvent::ModelRequestCompleted {
                ctx: actx.clone(),
                model: output.model.clone(),
                model_provider: output.model_provider.clone(),
                input_tokens: reply.usage.input_tokens,
                output_tokens: reply.usage.output_tokens,
                total_tokens: reply.usage.input_tokens + reply.usage.output_tokens,
                time_to_first_token: reply.ttft,
            })
            .await;
            if let Some(content) = answer? {
                let next = match children {
                    Some(children) => children.next_turn(iteration, sink).await,
                    None => None,
                };
                let Some(next) = next else {
                    return Ok(Answer {
                        content,
                        usage,
                        ttft,
                    });
                };
                messages.push(Message::new("user", next));
                iteration += 1;
                rounds = 0;
                turn_begins = true;
                continue;
            }
            if !tools_allowed {
                return Err(Stop::Failed(Failure::new(
                    ErrorKind::ToolRoundLimit,
                    format!(
                        "the model still called tools after {} rounds of tool calls \
                         (max_tool_rounds)",
                        self.loop_settings.max_tool_rounds
                    ),
                )));
            }
            rounds += 1;
            let round = Round {
                calls: &reply.tool_calls,
                text: &reply.content,
                done: Vec::new(),
                usage,
                rounds,
                iteration,
            };
            if let Some(content) = self.round(round, messages, output, at, sink).await? {
                return Ok(Answer {
                    content,
                    usage,
                    ttft,
                });
            }
        }
    }

    /// Runs one reply's tool calls and appends their results. `Some(content)` when a call's
    /// result is the answer (a routed member's: the reply's text, then the result).
    async fn round(
        &self,
        round: Round<'_>,
        messages: &mut Vec<Message>,
        output: &mut RunOutput,
        at: Turn<'_>,
        sink: &mut EventSink,
    ) -> Result<Option<Value>, Stop> {
        let Turn { rctx, call, actx } = at;
        let cancel = rctx.cancel_token();
        let outcomes = match call.children.as_deref() {
            // Member runs in flight are not dropped on a cancel: they see it too, end, and are
            // recorded CANCELLED; the round ends when they have.
            Some(children) => {
                let mut state = LoopState {
                    messages: messages.clone(),
                    tools: output.tools.clone(),
                    done: round.done,
                    rounds: round.rounds,
                    iteration: round.iteration,
                    input_tokens: round.usage.input_tokens,
                    output_tokens: round.usage.output_tokens,
                };
                children.progress(&state).await;
                let outcomes = self
                    .run_tools(round.calls, rctx, actx, sink, Some((children, &mut state)))
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
                    outcomes = self.run_tools(round.calls, rctx, actx, sink, None) => outcomes,
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
        let (tools, limit) = (&self.tools, self.loop_settings.tool_timeout);
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
                                outcome = tool::execute(tools, execution, args, limit, rctx) => outcome,
                                () = cancel.cancelled() => ToolOutcome::finished(
                                    record,
                                    Err("cancelled".to_owned()),
                                    tool::started_now(),
                                ),
                            }
                        }
                        _ => tool::execute(tools, execution, args, limit, rctx).await,
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
            if let Some((children, state)) = children.as_mut() {
                state.done.push(outcome.execution.clone());
                children.progress(state).await;
            }
            outcomes[i] = Some(outcome);
        }
        outcomes.into_iter().flatten().collect()
    }
}

/// One reply's tool calls, and where the loop stands when they run.
struct Round<'a> {
    calls: &'a [ToolCall],
    /// The reply's text (a routed member's answer comes after it).
    text: &'a str,
    /// Calls of this round already finished (a resumed run's).
    done: Vec<ToolExecution>,
    usage: Usage,
    rounds: usize,
    iteration: usize,
}

/// The assistant message recording a reply, its tool calls in OpenAI's shape.
fn assistant_message(reply: &Reply) -> Message {
    let mut m = Message::new("assistant", reply.content.clone());
    if !reply.tool_calls.is_empty() {
        m.tool_calls = Some(
            reply
                .tool_calls
                .iter()
                .map(|c| {
                    json!({"id": c.id, "type": "function",
                           "function": {"name": c.name, "arguments": c.arguments}})
                })
                .collect(),
        );
        if reply.content.is_empty() {
            m.content = None;
        }
    }
    m
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

/// A recorded message as the model is sent it.
fn chat_message(m: &Message) -> ChatMessage {
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    ChatMessage {
        role: m.role.clone(),
        content: m.text().to_owned(),
        tool_calls: m
            .tool_calls
            .iter()
            .flatten()
            .map(|c| ToolCall {
                id: text(c, "/id"),
                name: text(c, "/function/name"),
                arguments: text(c, "/function/arguments"),
            })
            .collect(),
        tool_call_id: m.tool_call_id.clone(),
        images: Vec::new(),
    }
}

/// Calls the model: streamed when someone listens (forwarding text deltas as `RunContent`
/// when `forward` is set), in one piece otherwise. A cancel stops the call at once (the HTTP
/// request to the model is dropped).
async fn call_model(
    model: &dyn Model,
    request: &ModelRequest,
    forward: bool,
    actx: &Arc<AgentContext>,
    sink: &mut EventSink,
    cancel: &CancellationToken,
) -> Result<Reply, CallError> {
    let started = Instant::now();
    if !sink.is_streaming() {
        let response = tokio::select! {
            response = model.complete(request) => response?,
            () = cancel.cancelled() => return Err(CallError::Cancelled(String::new())),
        };
        return Ok(Reply {
            content: response.content,
            tool_calls: response.tool_calls,
            usage: response.usage.unwrap_or_default(),
            ttft: None,
        });
    }
    let mut stream = tokio::select! {
        stream = model.stream(request) => stream?,
        () = cancel.cancelled() => return Err(CallError::Cancelled(String::new())),
    };
    let mut reply = Reply {
        content: String::new(),
        tool_calls: Vec::new(),
        usage: Usage::default(),
        ttft: None,
    };
    loop {
        let chunk = tokio::select! {
            chunk = stream.next() => chunk,
            () = cancel.cancelled() => return Err(CallError::Cancelled(reply.content)),
        };
        let Some(chunk) = chunk else { break };
        match chunk? {
            ModelChunk::Content(delta) => {
                reply
                    .ttft
                    .get_or_insert_with(|| started.elapsed().as_secs_f64());
                reply.content.push_str(&delta);
                if forward {
                    sink.emit(|| RunEvent::RunContent {
                        ctx: actx.clone(),
                        content: Value::String(delta),
                        content_type: "str".to_owned(),
                        workflow_agent: false,
                        reasoning_content: String::new(),
                    })
                    .await;
                }
            }
            ModelChunk::ToolCall(call) => {
                reply
                    .ttft
                    .get_or_insert_with(|| started.elapsed().as_secs_f64());
                reply.tool_calls.push(call);
            }
            ModelChunk::Usage(u) => reply.usage = u,
        }
    }
    Ok(reply)
}
