//! [`ScriptedModel`]: a deterministic offline model for demos and for users' own tests.

use super::{
    Model, ModelChunk, ModelError, ModelRequest, ModelResponse, ModelStream, ToolCall, Usage,
};
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};

type ReplyFn = dyn Fn(&ModelRequest) -> Result<ScriptedReply, ModelError> + Send + Sync;

/// One scripted answer: text (or a JSON object, for structured output) and tool calls.
///
/// `"text".into()` is a text reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptedReply {
    content: String,
    /// `(tool name, arguments as JSON text)`.
    tool_calls: Vec<(String, String)>,
}

impl ScriptedReply {
    /// Answers with this text.
    pub fn text(content: impl Into<String>) -> ScriptedReply {
        ScriptedReply {
            content: content.into(),
            tool_calls: Vec::new(),
        }
    }

    /// Answers with this JSON (a structured output), serialized.
    pub fn json(value: Value) -> ScriptedReply {
        ScriptedReply::text(value.to_string())
    }

    /// Asks for one tool call with these arguments.
    pub fn tool_call(name: impl Into<String>, args: Value) -> ScriptedReply {
        ScriptedReply::default().and_tool_call(name, args)
    }

    /// Adds another tool call to the same reply (the agent runs them concurrently).
    pub fn and_tool_call(self, name: impl Into<String>, args: Value) -> ScriptedReply {
        self.and_raw_tool_call(name, args.to_string())
    }

    /// A team leader's delegation: `delegate_task_to_member` with this member id and task
    /// (coordinate and route modes).
    pub fn delegate(member_id: impl Into<String>, task: impl Into<String>) -> ScriptedReply {
        ScriptedReply::default().and_delegate(member_id, task)
    }

    /// Adds another delegation to the same reply (the members run concurrently).
    pub fn and_delegate(
        self,
        member_id: impl Into<String>,
        task: impl Into<String>,
    ) -> ScriptedReply {
        let args = serde_json::json!({"member_id": member_id.into(), "task": task.into()});
        self.and_tool_call("delegate_task_to_member", args)
    }

    /// A broadcast team leader's call: `delegate_task_to_members` with this task.
    pub fn delegate_to_all(task: impl Into<String>) -> ScriptedReply {
        let args = serde_json::json!({"task": task.into()});
        ScriptedReply::tool_call("delegate_task_to_members", args)
    }

    /// Adds a tool call whose arguments are this text, as is, valid JSON or not (to test how
    /// an agent copes with a model that writes broken arguments).
    pub fn and_raw_tool_call(
        mut self,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ScriptedReply {
        self.tool_calls.push((name.into(), arguments.into()));
        self
    }
}

impl From<&str> for ScriptedReply {
    fn from(s: &str) -> ScriptedReply {
        ScriptedReply::text(s)
    }
}

impl From<String> for ScriptedReply {
    fn from(s: String) -> ScriptedReply {
        ScriptedReply::text(s)
    }
}

/// A model that answers from a script, with no network.
///
/// By default it answers `Scripted reply to: <the last user message>`, or, when the agent has
/// an output type, a JSON object that fits the type's schema (with that text in its strings).
/// [`ScriptedModel::replies`] gives fixed answers in order, [`ScriptedModel::from_fn`] computes
/// them. [`ScriptedModel::script`] and [`ScriptedModel::respond`] do the same with
/// [`ScriptedReply`]s, which can also call tools and answer JSON for structured output. A
/// script runs once per run: the first reply answers each run's first model call, the second
/// its second call (after its tool calls), and so on; the last one repeats. Tool calls get the
/// ids `call_1`, `call_2`... Streams split the answer into word-sized deltas, like a real model.
///
/// ```
/// use agentos::{ScriptedModel, ScriptedReply};
/// use serde_json::json;
/// // First call: ask for two tools at once; second call: answer with JSON.
/// let model = ScriptedModel::script([
///     ScriptedReply::tool_call("get_weather", json!({"city": "Paris"}))
///         .and_tool_call("add", json!({"a": 2, "b": 3})),
///     ScriptedReply::json(json!({"city": "Paris", "summary": "Sunny"})),
/// ]);
/// ```
///
/// ```
/// use agentos::{Model, ModelRequest, ScriptedModel};
/// use agentos::model::ChatMessage;
/// # tokio_test_block(async {
/// let model = ScriptedModel::replies(["first", "second"]);
/// let mut req = ModelRequest::default();
/// req.messages.push(ChatMessage::new("user", "hi"));
/// // A run's first call gets the first reply, every run alike.
/// assert_eq!(model.complete(&req).await.unwrap().content, "first");
/// assert_eq!(model.complete(&req).await.unwrap().content, "first");
/// // The same run's next call (after the model's reply) gets the next one; the last repeats.
/// req.messages.push(ChatMessage::new("assistant", "first"));
/// assert_eq!(model.complete(&req).await.unwrap().content, "second");
/// req.messages.push(ChatMessage::new("assistant", "second"));
/// assert_eq!(model.complete(&req).await.unwrap().content, "second");
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct ScriptedModel {
    id: String,
    reply: Box<ReplyFn>,
    next_call_id: AtomicU64,
}

impl std::fmt::Debug for ScriptedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedModel")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Default for ScriptedModel {
    fn default() -> Self {
        ScriptedModel::new()
    }
}

impl ScriptedModel {
    /// Answers `Scripted reply to: <the last user message>`; with an output type, a JSON
    /// object that fits its schema, that text in each of its strings.
    pub fn new() -> ScriptedModel {
        ScriptedModel::respond(|req| {
            let text = format!("Scripted reply to: {}", req.last_user_message());
            Ok(match &req.response_format {
                Some(format) => ScriptedReply::json(super::example::example(&format.schema, &text)),
                None => ScriptedReply::text(text),
            })
        })
    }

    /// Answers each run's model calls with these texts in order; the last one repeats.
    pub fn replies<I, S>(replies: I) -> ScriptedModel
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScriptedModel::script(replies.into_iter().map(|s| ScriptedReply::text(s)))
    }

    /// Answers each run's model calls with these replies in order (the n-th call of a run,
    /// [`ModelRequest::turn`], gets the n-th reply); the last one repeats. Concurrent runs, and
    /// the agents of a workflow sharing the model, each start at the first reply.
    pub fn script<I, R>(replies: I) -> ScriptedModel
    where
        I: IntoIterator<Item = R>,
        R: Into<ScriptedReply>,
    {
        let replies: Vec<ScriptedReply> = replies.into_iter().map(Into::into).collect();
        ScriptedModel::respond(move |req| {
            Ok(replies
                .get(req.turn())
                .or(replies.last())
                .cloned()
                .unwrap_or_default())
        })
    }

    /// Answers with whatever text `f` returns for the request; an `Err` is a model failure.
    pub fn from_fn<F>(f: F) -> ScriptedModel
    where
        F: Fn(&ModelRequest) -> Result<String, ModelError> + Send + Sync + 'static,
    {
        ScriptedModel::respond(move |req| f(req).map(ScriptedReply::text))
    }

    /// Answers with whatever reply `f` returns for the request; an `Err` is a model failure.
    /// [`ModelRequest::tool_results`] tells whether the tools asked for have answered.
    pub fn respond<F>(f: F) -> ScriptedModel
    where
        F: Fn(&ModelRequest) -> Result<ScriptedReply, ModelError> + Send + Sync + 'static,
    {
        ScriptedModel {
            id: "scripted".to_owned(),
            reply: Box::new(f),
            next_call_id: AtomicU64::new(1),
        }
    }

    /// Reports this model id instead of `"scripted"`.
    pub fn id(mut self, id: impl Into<String>) -> ScriptedModel {
        self.id = id.into();
        self
    }

    fn answer(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let reply = (self.reply)(request)?;
        let tool_calls: Vec<ToolCall> = reply
            .tool_calls
            .into_iter()
            .map(|(name, arguments)| ToolCall {
                id: format!("call_{}", self.next_call_id.fetch_add(1, Ordering::Relaxed)),
                name,
                arguments,
            })
            .collect();
        let words = |s: &str| s.split_whitespace().count() as u64;
        let usage = Usage {
            input_tokens: request.messages.iter().map(|m| words(&m.content)).sum(),
            output_tokens: words(&reply.content)
                + tool_calls.iter().map(|c| words(&c.arguments)).sum::<u64>(),
        };
        Ok(ModelResponse {
            content: reply.content,
            tool_calls,
            usage: Some(usage),
        })
    }
}

#[async_trait]
impl Model for ScriptedModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn provider(&self) -> &str {
        "Scripted"
    }

    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        self.answer(request)
    }

    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, ModelError> {
        let response = self.answer(request)?;
        let mut chunks: Vec<Result<ModelChunk, ModelError>> = response
            .content
            .split_inclusive(' ')
            .map(|w| Ok(ModelChunk::Content(w.to_owned())))
            .collect();
        chunks.extend(
            response
                .tool_calls
                .into_iter()
                .map(|c| Ok(ModelChunk::ToolCall(c))),
        );
        chunks.extend(response.usage.map(|u| Ok(ModelChunk::Usage(u))));
        Ok(futures::stream::iter(chunks).boxed())
    }
}
