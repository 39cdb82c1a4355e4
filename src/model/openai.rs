//! [`OpenAIChat`]: any OpenAI-compatible chat completions server (OpenAI, vLLM, Ollama,
//! llama.cpp) through async-openai, with raw JSON bodies so quirks of compatible servers
//! (`"finish_reason": ""`, missing usage) never fail a run.

use super::retry::{AttemptTimeout, RetryPolicy, RetryService};
use super::{
    ChatMessage, Model, ModelChunk, ModelError, ModelRequest, ModelResponse, ModelStream, ToolCall,
    Usage,
};
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The HTTP client every [`OpenAIChat`] uses unless given its own: one connection pool for the
/// process. With a pool per model, a two-step workflow at 1,024 concurrent runs kept ~1,400
/// connections to the model server (each with hyper's read and write buffers); shared, a
/// connection released by one step serves the next call of any step. Its connects run under
/// [`super::connect::CallOnly`]: a connect whose request was served by a connection freed in
/// the meantime ends instead of pooling one more connection nobody asked for.
fn shared_http_client() -> reqwest::Client {
    static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            reqwest::Client::builder()
                .connector_layer(super::connect::CallOnly)
                .build()
                .expect("the default HTTP client builds")
        })
        .clone()
}

/// A chat model served by an OpenAI-compatible API.
///
/// `OpenAIChat::new(id)` reads `OPENAI_API_KEY` and `OPENAI_BASE_URL` (which must end in `/v1`);
/// the builder methods override them. Every `OpenAIChat` shares one pooled HTTP client (see
/// [`OpenAIChat::http_client`]), so the models of a workflow reuse each other's connections to
/// the same server instead of each keeping a pool of its own.
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
        let http = shared_http_client();
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

    /// Sends this model's calls through `client` instead of the process-wide shared one (for a
    /// proxy, custom TLS roots, or a pool of its own). A program that drives models from several
    /// tokio runtimes should give each runtime's models their own client: a pooled connection
    /// belongs to the runtime that opened it. A client of your own pools as reqwest does: a
    /// connect started for a request that then got a connection freed meanwhile still ends in
    /// the pool (the shared client drops it).
    pub fn http_client(mut self, client: reqwest::Client) -> OpenAIChat {
        self.http = client;
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
        let messages: Vec<Value> = request.messages.iter().map(message_json).collect();
        let mut body = json!({"model": self.id, "messages": messages, "stream": stream});
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters,
                    }})
                })
                .collect();
            body["tools"] = Value::Array(tools);
            if let Some(choice) = &request.tool_choice {
                body["tool_choice"] = choice.clone();
            }
        }
        if let Some(format) = &request.response_format {
            body["response_format"] = json!({"type": "json_schema", "json_schema": {
                "name": format.name, "schema": format.schema, "strict": format.strict,
            }});
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = request.max_tokens {
            // OpenAI's current name; `max_tokens` is deprecated and refused by reasoning models.
            body["max_completion_tokens"] = json!(n);
        }
        // Extra fields come last and may override the settings above, but never the
        // conversation or the streaming mode the caller relies on.
        for (key, value) in &request.extra {
            if !matches!(key.as_str(), "messages" | "stream" | "stream_options") {
                body[key.as_str()] = value.clone();
            }
        }
        body
    }
}

/// One message in OpenAI's shape: an assistant's `tool_calls`, a tool result's `tool_call_id`.
fn message_json(m: &ChatMessage) -> Value {
    let mut v = json!({"role": m.role, "content": m.openai_content()});
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                       "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect();
        v["tool_calls"] = Value::Array(calls);
        if m.content.is_empty() {
            v["content"] = Value::Null;
        }
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
    }
    v
}

/// The tool calls of a complete reply message.
fn tool_calls_of(message: &Value) -> Vec<ToolCall> {
    let Some(calls) = message.get("tool_calls").and_then(Value::as_array) else {
        return Vec::new();
    };
    calls
        .iter()
        .map(|c| ToolCall {
            id: text_at(c, "/id"),
            name: text_at(c, "/function/name"),
            arguments: match c.pointer("/function/arguments") {
                Some(Value::String(s)) => s.clone(),
                // Some servers send the arguments as an object rather than JSON text.
                Some(v @ Value::Object(_)) => v.to_string(),
                _ => String::new(),
            },
        })
        .collect()
}

fn text_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A streamed tool call being put together from its indexed deltas.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
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
            tool_calls: tool_calls_of(message),
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
            calls: std::collections::BTreeMap::new(),
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
    /// Tool calls being accumulated, by their `index`.
    calls: std::collections::BTreeMap<u64, PartialCall>,
    started: Instant,
}

impl StreamState {
    /// Adds one chunk's tool-call deltas: the first delta of an index carries the id and
    /// name, the following ones pieces of the arguments.
    fn accumulate(&mut self, deltas: &[Value]) {
        for (position, delta) in deltas.iter().enumerate() {
            let index = delta
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let call = self.calls.entry(index).or_default();
            if let Some(Value::String(id)) = delta.get("id")
                && !id.is_empty()
            {
                call.id = id.clone();
            }
            if let Some(Value::String(name)) = delta.pointer("/function/name") {
                call.name.push_str(name);
            }
            match delta.pointer("/function/arguments") {
                Some(Value::String(args)) => call.arguments.push_str(args),
                // Some servers send the whole arguments as an object, in one delta.
                Some(args @ Value::Object(_)) => call.arguments = args.to_string(),
                _ => {}
            }
        }
    }

    /// The complete tool calls, in index order.
    fn take_calls(&mut self) -> impl Iterator<Item = ModelChunk> + use<> {
        std::mem::take(&mut self.calls).into_values().map(|call| {
            ModelChunk::ToolCall(ToolCall {
                id: call.id,
                name: call.name,
                arguments: call.arguments,
            })
        })
    }

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
                    // Calls still open if the server never sent a `finish_reason`.
                    let calls: Vec<ModelChunk> = self.take_calls().collect();
                    self.pending.extend(calls.into_iter().rev());
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
                    // This chunk's pieces in the order they are yielded: content, then (once
                    // the model has finished) the complete tool calls, then usage.
                    let mut out = Vec::new();
                    if let Some(Value::String(text)) =
                        choice.and_then(|c| c.pointer("/delta/content"))
                        && !text.is_empty()
                    {
                        out.push(ModelChunk::Content(text.clone()));
                    }
                    if let Some(Value::Array(deltas)) =
                        choice.and_then(|c| c.pointer("/delta/tool_calls"))
                    {
                        self.accumulate(deltas);
                    }
                    if self.finished {
                        out.extend(self.take_calls());
                    }
                    if let Some(usage) = usage_of(&chunk) {
                        self.finished = true;
                        out.extend(self.take_calls());
                        out.push(ModelChunk::Usage(usage));
                    }
                    // `pending` is a stack.
                    self.pending.extend(out.into_iter().rev());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ResponseFormat, ToolDefinition};

    #[test]
    fn the_body_carries_tools_format_settings_and_extra_fields() {
        let model = OpenAIChat::new("gpt-x").base_url("http://127.0.0.1:1/v1");
        let mut request = ModelRequest {
            messages: vec![
                ChatMessage::new("user", "hi"),
                ChatMessage::assistant_tool_calls(
                    "",
                    vec![ToolCall {
                        id: "call_1".into(),
                        name: "add".into(),
                        arguments: "{}".into(),
                    }],
                ),
                ChatMessage::tool_result("call_1", "5"),
            ],
            tools: vec![ToolDefinition {
                name: "add".into(),
                description: "Add.".into(),
                parameters: json!({"type": "object", "properties": {}}),
            }],
            tool_choice: Some(json!("none")),
            response_format: Some(ResponseFormat {
                name: "Sum".into(),
                schema: json!({"type": "object"}),
                strict: true,
            }),
            temperature: Some(0.5),
            max_tokens: Some(10),
            ..ModelRequest::default()
        };
        request.extra.insert("temperature".into(), json!(0.9));
        request.extra.insert("messages".into(), json!([]));
        request.extra.insert("top_p".into(), json!(0.1));
        let body = model.body(&request, true);
        assert_eq!(body["tools"][0]["function"]["name"], "add");
        assert_eq!(body["tool_choice"], "none");
        assert_eq!(body["response_format"]["json_schema"]["name"], "Sum");
        assert_eq!(body["max_completion_tokens"], 10);
        assert_eq!(body["temperature"], 0.9, "extra fields override settings");
        assert_eq!(body["top_p"], 0.1);
        assert_eq!(body["stream"], true);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(
            messages.len(),
            3,
            "extra fields never replace the conversation"
        );
        assert!(messages[1]["content"].is_null());
        assert_eq!(messages[1]["tool_calls"][0]["function"]["arguments"], "{}");
        assert_eq!(messages[2]["tool_call_id"], "call_1");

        // No tools: neither `tools` nor `tool_choice`.
        request.tools.clear();
        let body = model.body(&request, false);
        assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
    }
}
