//! [`OpenAIChat`]: any OpenAI-compatible chat completions server (OpenAI, vLLM, Ollama,
//! llama.cpp) through async-openai, with raw JSON bodies so quirks of compatible servers
//! (`"finish_reason": ""`, missing usage) never fail a run.

mod stream;
mod wire;

use super::retry::{RetryPolicy, RetryService};
use super::{Model, ModelError, ModelRequest, ModelResponse, ModelStream};
use async_openai::config::OpenAIConfig;
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use stream::StreamState;
use wire::{map_error, message_json, tool_calls_of, usage_of};

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
        let state = StreamState::new(inner, timeout);
        Ok(futures::stream::unfold(state, StreamState::next).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChatMessage, ResponseFormat, ToolCall, ToolDefinition};

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
