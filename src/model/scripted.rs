//! [`ScriptedModel`]: a deterministic offline model for demos and for users' own tests.

use super::{Model, ModelChunk, ModelError, ModelRequest, ModelResponse, ModelStream, Usage};
use async_trait::async_trait;
use futures::StreamExt;
use std::sync::Mutex;

type ReplyFn = dyn Fn(&ModelRequest) -> Result<String, ModelError> + Send + Sync;

/// A model that answers from a script, with no network.
///
/// By default it answers `Scripted reply to: <the last user message>`; [`ScriptedModel::replies`]
/// gives fixed answers in order (the last one repeats), [`ScriptedModel::from_fn`] computes them.
/// Streams split the answer into word-sized deltas, like a real model.
///
/// ```
/// use agentos::{Model, ModelRequest, ScriptedModel};
/// # tokio_test_block(async {
/// let model = ScriptedModel::replies(["first", "second"]);
/// let req = ModelRequest::default();
/// assert_eq!(model.complete(&req).await.unwrap().content, "first");
/// assert_eq!(model.complete(&req).await.unwrap().content, "second");
/// assert_eq!(model.complete(&req).await.unwrap().content, "second");
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct ScriptedModel {
    id: String,
    reply: Box<ReplyFn>,
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
    /// Answers `Scripted reply to: <the last user message>`.
    pub fn new() -> ScriptedModel {
        ScriptedModel::from_fn(|req| {
            let last = req
                .messages
                .iter()
                .rev()
                .find(|m| m.role == "user")
                .map(|m| m.content.as_str())
                .unwrap_or("");
            Ok(format!("Scripted reply to: {last}"))
        })
    }

    /// Answers with these texts in order; the last one repeats.
    pub fn replies<I, S>(replies: I) -> ScriptedModel
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let replies: Vec<String> = replies.into_iter().map(Into::into).collect();
        let next = Mutex::new(0usize);
        ScriptedModel::from_fn(move |_| {
            // A poisoned lock only means another caller panicked mid-increment; the index is
            // still a valid number.
            let mut i = next.lock().unwrap_or_else(|p| p.into_inner());
            let reply = replies
                .get(*i)
                .or(replies.last())
                .cloned()
                .unwrap_or_default();
            *i += 1;
            Ok(reply)
        })
    }

    /// Answers with whatever `f` returns for the request; an `Err` is a model failure.
    pub fn from_fn<F>(f: F) -> ScriptedModel
    where
        F: Fn(&ModelRequest) -> Result<String, ModelError> + Send + Sync + 'static,
    {
        ScriptedModel {
            id: "scripted".to_owned(),
            reply: Box::new(f),
        }
    }

    /// Reports this model id instead of `"scripted"`.
    pub fn id(mut self, id: impl Into<String>) -> ScriptedModel {
        self.id = id.into();
        self
    }

    fn answer(&self, request: &ModelRequest) -> Result<(String, Usage), ModelError> {
        let content = (self.reply)(request)?;
        let words = |s: &str| s.split_whitespace().count() as u64;
        let usage = Usage {
            input_tokens: request.messages.iter().map(|m| words(&m.content)).sum(),
            output_tokens: words(&content),
        };
        Ok((content, usage))
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
        let (content, usage) = self.answer(request)?;
        Ok(ModelResponse {
            content,
            usage: Some(usage),
        })
    }

    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, ModelError> {
        let (content, usage) = self.answer(request)?;
        let mut chunks: Vec<Result<ModelChunk, ModelError>> = content
            .split_inclusive(' ')
            .map(|w| Ok(ModelChunk::Content(w.to_owned())))
            .collect();
        chunks.push(Ok(ModelChunk::Usage(usage)));
        Ok(futures::stream::iter(chunks).boxed())
    }
}
