//! The model boundary: a small [`Model`] trait, [`OpenAIChat`] for any OpenAI-compatible server,
//! and [`ScriptedModel`] for offline demos and users' own tests.

mod openai;
mod retry;
#[cfg(feature = "scripted")]
mod scripted;

pub use openai::OpenAIChat;
pub use retry::RetryPolicy;
#[cfg(feature = "scripted")]
pub use scripted::ScriptedModel;

use async_trait::async_trait;
use futures::stream::BoxStream;
use std::sync::Arc;
use std::time::Duration;

/// One chat message sent to a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
    /// Images sent with the text (URLs or `data:` URLs), as OpenAI `image_url` parts.
    pub images: Vec<String>,
}

impl ChatMessage {
    /// A message with this role and text.
    pub fn new(role: &str, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: role.to_owned(),
            content: content.into(),
            images: Vec::new(),
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

/// What an agent asks of its model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelRequest {
    /// The conversation, system message first.
    pub messages: Vec<ChatMessage>,
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
    /// Token counts, when the server sent them.
    pub usage: Option<Usage>,
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChunk {
    /// A content delta.
    Content(String),
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
    /// Answers as a stream of content deltas, ending with usage when known.
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
