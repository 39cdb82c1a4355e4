//! The agent loop: the conversation with the model, one model call per round, the tool calls
//! of each reply run concurrently and their results fed back.

use super::round::{Round, Stop, Turn};
use super::{Agent, AgentCall};
use crate::context::RunContext;
use crate::event::{AgentContext, EventSink, RunEvent};
use crate::model::{ChatMessage, Model, ModelChunk, ModelError, ModelRequest, ToolCall, Usage};
use crate::outcome::{ErrorKind, Failure};
use crate::run::{Message, RunOutput};
use crate::tool::AgentTool;
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// The final answer of a conversation with the model.
pub(super) struct Answer {
    /// Text, or the structured output's JSON object.
    pub content: Value,
    /// Summed over every model call of the run.
    pub usage: Usage,
    /// Seconds to the first token of the first streamed reply.
    pub ttft: Option<f64>,
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
    /// The messages a run starts with: the system message (`prompt.rs`), the session's
    /// earlier turns (marked `from_history`), then the user's input.
    pub(super) fn initial_messages(&self, rctx: &RunContext, call: &AgentCall) -> Vec<Message> {
        let mut messages = Vec::with_capacity(3 + call.history.len());
        if let Some(system) = self.system_message(rctx, call) {
            messages.push(Message::new("system", system));
        }
        messages.extend(call.history.iter().cloned());
        messages.push(Message::new("user", self.user_message(rctx, &call.input)));
        messages
    }

    /// The request for the next model call; `tools_allowed == false` keeps the tools
    /// described but tells the model not to call them. The run's input (`messages[input]`)
    /// carries the uploaded documents and images.
    fn request(
        &self,
        messages: &[Message],
        tools: &[AgentTool],
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
            _ if tools.is_empty() && children.is_empty() => None,
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
            tools: tools
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
        let Turn {
            rctx, call, actx, ..
        } = at;
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
                let tools = self.round_tools(at.tools);
                let round = Round {
                    calls: &calls,
                    tools: &tools,
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
            // The tools of this round (the run's, and the toolkits' of the moment): what the
            // model is offered is what its calls may run.
            let tools = self.round_tools(at.tools);
            let request = self.request(messages, &tools, tools_allowed, input, rctx, call);
            sink.emit(|| RunEvent::ModelRequestStarted {
                ctx: actx.clone(),
                model: output.model.clone(),
                model_provider: output.model_provider.clone(),
            })
            .await;
            let structured = self.loop_settings.output_schema.is_some();
            let observed = ModelCall::start(model, sink.is_streaming(), rctx);
            let reply = call_model(model, &request, !structured, actx, sink, cancel).await;
            observed.end(model, &reply, rctx);
            let reply = match reply {
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
                tools: &tools,
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
/// One model call as a span (`chat gpt-5.2`, GenAI attributes) and, with metrics on, its
/// latency and tokens. The span is disabled while tracing is off.
struct ModelCall {
    span: tracing::Span,
    started: Option<Instant>,
}

impl ModelCall {
    fn start(model: &dyn Model, streamed: bool, rctx: &RunContext) -> ModelCall {
        let span = tracing::info_span!(
            target: "agentos::model",
            "chat",
            otel.name = %format_args!("chat {}", model.id()),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = %model.provider().to_ascii_lowercase(),
            gen_ai.request.model = model.id(),
            gen_ai.request.stream = streamed,
            gen_ai.conversation.id = rctx.session_id.as_str(),
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.response.finish_reasons = tracing::field::Empty,
            gen_ai.response.time_to_first_chunk = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let started = rctx.metrics().map(|_| Instant::now());
        ModelCall { span, started }
    }

    fn end(self, model: &dyn Model, reply: &Result<Reply, CallError>, rctx: &RunContext) {
        if let (Some(metrics), Some(started), Ok(reply)) = (rctx.metrics(), self.started, reply) {
            metrics.model_call(
                model.id(),
                model.provider(),
                started.elapsed(),
                reply.usage.input_tokens,
                reply.usage.output_tokens,
            );
        }
        if self.span.is_disabled() {
            return;
        }
        match reply {
            Ok(reply) => {
                let span = &self.span;
                span.record("otel.status_code", "ok");
                span.record("gen_ai.usage.input_tokens", reply.usage.input_tokens as i64);
                span.record(
                    "gen_ai.usage.output_tokens",
                    reply.usage.output_tokens as i64,
                );
                // The model's reason, as OpenAI names it: tool calls, or the end of its text.
                let reason = match reply.tool_calls.is_empty() {
                    true => "stop",
                    false => "tool_calls",
                };
                span.record("gen_ai.response.finish_reasons", reason);
                if let Some(ttft) = reply.ttft {
                    span.record("gen_ai.response.time_to_first_chunk", ttft);
                }
            }
            Err(CallError::Model(e)) => {
                self.span.record("otel.status_code", "error");
                self.span
                    .record("otel.status_description", e.to_string().as_str());
                self.span.record("error.type", model_error_type(e));
            }
            Err(CallError::Cancelled(_)) => {
                self.span.record("error.type", "cancelled");
            }
        }
    }
}

/// `error.type` of a failed model call: the HTTP status, or the class of failure.
fn model_error_type(e: &ModelError) -> String {
    match e {
        ModelError::Status { status, .. } => status.to_string(),
        ModelError::Transport(_) => "transport".to_owned(),
        ModelError::Timeout(_) => "timeout".to_owned(),
        ModelError::Malformed(_) => "malformed_response".to_owned(),
    }
}
