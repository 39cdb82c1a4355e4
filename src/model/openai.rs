//! [`OpenAIChat`]: any OpenAI-compatible chat completions server (OpenAI, vLLM, Ollama,
//! llama.cpp) through async-openai, with raw JSON bodies so quirks of compatible servers
//! (`"finish_reason": ""`, missing usage) never fail a run.

use super::retry::{AttemptTimeout, RetryPolicy, RetryService};
use super::{
    ChatMessage, Model, ModelChunk, ModelError, ModelRequest, ModelResponse, ModelStream, Usage,
};
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A chat model served by an OpenAI-compatible API.
///
/// `OpenAIChat::new(id)` reads `OPENAI_API_KEY` and `OPENAI_BASE_URL` (which must end in `/v1`);
/// the builder methods override them. One pooled HTTP client per model is reused by every call.
#[derive(Clone)]
pub struct OpenAIChat {
    id: String,
    config: OpenAIConfig,
    http: reqwest::Client,
    client: async_openai::Client<OpenAIConfig>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl std::fmt::Debug for OpenAIChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAIChat")
            .field("id", &self.id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAIChat {
    /// The model `id` on the server named by `OPENAI_BASE_URL` (default: OpenAI's API), with the
    /// key in `OPENAI_API_KEY`.
    pub fn new(id: impl Into<String>) -> OpenAIChat {
        let config = OpenAIConfig::new();
        let http = reqwest::Client::new();
        OpenAIChat {
            id: id.into(),
            client: async_openai::Client::build(http.clone(), config.clone()),
            config,
            http,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
        .rebuild()
    }

    /// True when `OPENAI_API_KEY` or `OPENAI_BASE_URL` is set, i.e. a real server is configured.
    pub fn configured_from_env() -> bool {
        ["OPENAI_API_KEY", "OPENAI_BASE_URL"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()))
    }

    /// Uses this base URL (including `/v1`) instead of `OPENAI_BASE_URL`.
    pub fn base_url(mut self, url: impl Into<String>) -> OpenAIChat {
        self.config = self.config.with_api_base(url);
        self.rebuild()
    }

    /// Uses this API key instead of `OPENAI_API_KEY`.
    pub fn api_key(mut self, key: impl Into<String>) -> OpenAIChat {
        self.config = self.config.with_api_key(key);
        self.rebuild()
    }

    /// Bounds each attempt (until the response starts) and each wait between two stream
    /// chunks. Default 120 s.
    pub fn timeout(mut self, timeout: Duration) -> OpenAIChat {
        self.timeout = timeout;
        self.rebuild()
    }

    /// How failed calls are retried (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> OpenAIChat {
        self.retry = policy;
        self.rebuild()
    }

    /// The longest a whole call may take, retries included.
    fn call_limit(&self) -> Duration {
        self.retry.max_elapsed + self.timeout * 2
    }

    fn rebuild(mut self) -> OpenAIChat {
        let service = RetryService {
            http: self.http.clone(),
            policy: self.retry.clone(),
            attempt_timeout: self.timeout,
        };
        self.client = async_openai::Client::build(self.http.clone(), self.config.clone())
            .with_http_service(service);
        self
    }

    fn body(&self, request: &ModelRequest, stream: bool) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m: &ChatMessage| json!({"role": m.role, "content": m.openai_content()}))
            .collect();
        let mut body = json!({"model": self.id, "messages": messages, "stream": stream});
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }
}

fn map_error(e: OpenAIError) -> ModelError {
    match e {
        OpenAIError::ApiError(api) => ModelError::Status {
            status: api.status_code.as_u16(),
            message: api.api_error.message.clone(),
        },
        OpenAIError::Reqwest(e) => match e.status() {
            Some(status) => ModelError::Status {
                status: status.as_u16(),
                message: e.to_string(),
            },
            None if e.is_decode() => ModelError::Malformed(e.to_string()),
            None => ModelError::Transport(e.to_string()),
        },
        OpenAIError::JSONDeserialize(e, body) => {
            let snippet: String = body.chars().take(200).collect();
            ModelError::Malformed(format!("{e}: {snippet}"))
        }
        OpenAIError::StreamError(e) => ModelError::Transport(e.to_string()),
        OpenAIError::Boxed(e) => match e.downcast_ref::<AttemptTimeout>() {
            Some(t) => ModelError::Timeout(t.0),
            None => ModelError::Transport(e.to_string()),
        },
        other => ModelError::Malformed(other.to_string()),
    }
}

fn usage_of(v: &Value) -> Option<Usage> {
    let u = v.get("usage")?;
    if u.is_null() {
        return None;
    }
    Some(Usage {
        input_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        output_tokens: u
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    })
}

#[async_trait]
impl Model for OpenAIChat {
    fn id(&self) -> &str {
        &self.id
    }

    fn provider(&self) -> &str {
        "OpenAI"
    }

    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let chat = self.client.chat();
        let call = chat.create_byot::<Value, Value>(self.body(request, false));
        let limit = self.call_limit();
        let reply = tokio::time::timeout(limit, call)
            .await
            .map_err(|_| ModelError::Timeout(limit))?
            .map_err(map_error)?;
        let message = reply
            .pointer("/choices/0/message")
            .ok_or_else(|| ModelError::Malformed(format!("no choices in {reply}")))?;
        let content = match message.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        Ok(ModelResponse {
            content,
            usage: usage_of(&reply),
        })
    }

    async fn stream(&self, request: &ModelRequest) -> Result<ModelStream, ModelError> {
        let timeout = self.timeout;
        let chat = self.client.chat();
        let call = chat.create_stream_byot::<Value, Value>(self.body(request, true));
        let limit = self.call_limit();
        let inner = tokio::time::timeout(limit, call)
            .await
            .map_err(|_| ModelError::Timeout(limit))?
            .map_err(map_error)?;
        let state = StreamState {
            inner,
            timeout,
            finished: false,
            done: false,
            pending: Vec::new(),
            started: Instant::now(),
        };
        Ok(futures::stream::unfold(state, StreamState::next).boxed())
    }
}

struct StreamState {
    inner: std::pin::Pin<Box<dyn futures::Stream<Item = Result<Value, OpenAIError>> + Send>>,
    timeout: Duration,
    /// A chunk with a non-empty `finish_reason` was seen.
    finished: bool,
    /// The stream has ended (or failed); nothing more is yielded.
    done: bool,
    /// Chunks decoded but not yet yielded (a chunk may carry content and usage).
    pending: Vec<ModelChunk>,
    started: Instant,
}

impl StreamState {
    async fn next(mut self) -> Option<(Result<ModelChunk, ModelError>, StreamState)> {
        loop {
            if let Some(chunk) = self.pending.pop() {
                return Some((Ok(chunk), self));
            }
            if self.done {
                return None;
            }
            let item = match tokio::time::timeout(self.timeout, self.inner.next()).await {
                Err(_) => {
                    self.done = true;
                    let waited = self.started.elapsed().min(self.timeout);
                    return Some((Err(ModelError::Timeout(waited)), self));
                }
                Ok(item) => item,
            };
            match item {
                None if self.finished => {
                    self.done = true;
                }
                None => {
                    self.done = true;
                    let e = ModelError::Malformed("stream ended before the model finished".into());
                    return Some((Err(e), self));
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some((Err(map_error(e)), self));
                }
                Some(Ok(chunk)) => {
                    if let Some(err) = chunk.get("error") {
                        self.done = true;
                        let e = ModelError::Status {
                            status: 500,
                            message: err.to_string(),
                        };
                        return Some((Err(e), self));
                    }
                    // Some servers send `"finish_reason": ""` mid-stream: only a non-empty
                    // string marks the end.
                    let choice = chunk.pointer("/choices/0");
                    if let Some(Value::String(reason)) = choice.and_then(|c| c.get("finish_reason"))
                        && !reason.is_empty()
                    {
                        self.finished = true;
                    }
                    // Usage is pushed first so it pops after content (the stack is LIFO).
                    if let Some(usage) = usage_of(&chunk) {
                        self.finished = true;
                        self.pending.push(ModelChunk::Usage(usage));
                    }
                    if let Some(Value::String(text)) =
                        choice.and_then(|c| c.pointer("/delta/content"))
                        && !text.is_empty()
                    {
                        self.pending.push(ModelChunk::Content(text.clone()));
                    }
                }
            }
        }
    }
}
