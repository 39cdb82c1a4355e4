//! The model boundary: a small [`Model`] trait, [`OpenAIChat`] for any OpenAI-compatible server,
//! and [`ScriptedModel`] for offline demos and users' own tests.

mod connect;
mod embed;
#[cfg(feature = "scripted")]
mod example;
#[cfg(feature = "scripted")]
mod hash_embed;
mod openai;
mod retry;
#[cfg(feature = "scripted")]
mod scripted;

pub use embed::{EmbedError, Embedder, OpenAIEmbedder, normalized};
#[cfg(feature = "scripted")]
pub use hash_embed::HashEmbedder;
pub use openai::OpenAIChat;
pub use retry::RetryPolicy;
#[cfg(feature = "scripted")]
pub use scripted::{ScriptedModel, ScriptedReply};

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// One chat message sent to a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text (empty for an assistant message that only calls tools).
    pub content: String,
    /// The tools an assistant message calls.
    pub tool_calls: Vec<ToolCall>,
    /// On a `tool` message: the call this is the result of.
    pub tool_call_id: Option<String>,
    /// Images sent with the text (URLs or `data:` URLs), as OpenAI `image_url` parts.
    pub images: Vec<String>,
}

impl ChatMessage {
    /// A message with this role and text.
    pub fn new(role: &str, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: role.to_owned(),
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            images: Vec::new(),
        }
    }

    /// An assistant message that calls tools (and may carry some text too).
    pub fn assistant_tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> ChatMessage {
        ChatMessage {
            tool_calls: calls,
            ..ChatMessage::new("assistant", content)
        }
    }

    /// The result of the tool call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            tool_call_id: Some(call_id.into()),
            ..ChatMessage::new("tool", content)
        }
    }

    /// The message's OpenAI `content`: the text, or text and image parts when it has images.
    pub fn openai_content(&self) -> serde_json::Value {
        if self.images.is_empty() {
            return serde_json::Value::String(self.content.clone());
        }
        let text = serde_json::json!({"type": "text", "text": self.content});
        let images = self
            .images
            .iter()
            .map(|url| serde_json::json!({"type": "image_url", "image_url": {"url": url}}));
        serde_json::Value::Array(std::iter::once(text).chain(images).collect())
    }
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The model's id for the call (`call_...`); the result message refers to it.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as the model wrote them: JSON text, not yet checked.
    pub arguments: String,
}

/// A tool as the model sees it: OpenAI's `{"type": "function", "function": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDefinition {
    /// The name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// The JSON schema of its arguments (an object schema).
    pub parameters: Value,
}

/// A reply format: OpenAI's `response_format` of type `json_schema`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseFormat {
    /// The schema's name (the Rust type's name).
    pub name: String,
    /// The JSON schema the reply must follow.
    pub schema: Value,
    /// OpenAI's `strict` flag.
    pub strict: bool,
}

/// What an agent asks of its model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelRequest {
    /// The conversation, system message first.
    pub messages: Vec<ChatMessage>,
    /// The tools the model may call.
    pub tools: Vec<ToolDefinition>,
    /// OpenAI's `tool_choice` (`"auto"`, `"none"`, `"required"` or an object); `None` leaves
    /// it to the server.
    pub tool_choice: Option<Value>,
    /// The structured format the reply must follow.
    pub response_format: Option<ResponseFormat>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// The most tokens the reply may use.
    pub max_tokens: Option<u32>,
    /// Any other request fields, sent as they are (`top_p`, `seed`, `reasoning_effort`...).
    pub extra: Map<String, Value>,
}

impl ModelRequest {
    /// The `tool` messages after the last assistant message: the results of the tool calls
    /// the model made in its previous reply (empty on the first call of a run).
    pub fn tool_results(&self) -> &[ChatMessage] {
        let start = self
            .messages
            .iter()
            .rposition(|m| m.role != "tool")
            .map_or(0, |i| i + 1);
        &self.messages[start..]
    }

    /// How many replies the model has given in this run so far: the assistant messages after
    /// the last user message (0 on a run's first call, 1 after a reply that called tools, ...).
    /// Earlier runs of the session, sent as history, come before that user message and do not
    /// count.
    pub fn turn(&self) -> usize {
        let start = self
            .messages
            .iter()
            .rposition(|m| m.role == "user")
            .map_or(0, |i| i + 1);
        self.messages[start..]
            .iter()
            .filter(|m| m.role == "assistant")
            .count()
    }

    /// The text of the last `user` message.
    pub fn last_user_message(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map_or("", |m| m.content.as_str())
    }
}

/// Token counts reported by the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

/// A complete (non-streamed) answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelResponse {
    /// The text.
    pub content: String,
    /// The tools the model asks to call, in its order.
    pub tool_calls: Vec<ToolCall>,
    /// Token counts, when the server sent them.
    pub usage: Option<Usage>,
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChunk {
    /// A content delta.
    Content(String),
    /// A complete tool call (a stream's indexed deltas, put together).
    ToolCall(ToolCall),
    /// The final token counts.
    Usage(Usage),
}

/// A streamed answer.
pub type ModelStream = BoxStream<'static, Result<ModelChunk, ModelError>>;

/// Why a model call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The server answered with an error status.
    #[error("model server returned {status}: {message}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The connection failed (refused, reset, TLS...).
    #[error("model server unreachable: {0}")]
    Transport(String),
    /// No answer in time.
    #[error("model call timed out after {0:?}")]
    Timeout(Duration),
    /// The answer could not be understood.
    #[error("malformed model response: {0}")]
    Malformed(String),
}

/// A chat model. Two calls: a full completion and a stream of deltas.
#[async_trait]
pub trait Model: Send + Sync + 'static {
    /// The model id (`"gpt-5.2"`), reported in run outputs as `model`.
    fn id(&self) -> &str;
    /// The provider (`"OpenAI"`), reported as `model_provider`.
    fn provider(&self) -> &str;
    /// Answers in one piece.
    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError>;
    /// Answers as a stream of content deltas, then the complete tool calls, ending with usage
    /// when known.
    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, ModelError>;
}

#[async_trait]
impl Model for Arc<dyn Model> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn provider(&self) -> &str {
        (**self).provider()
    }
    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        (**self).complete(request).await
    }
    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, ModelError> {
        (**self).stream(request).await
    }
}
