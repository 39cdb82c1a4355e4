//! A local, OpenAI-compatible mock server for integration tests.
//!
//! Serves `POST /v1/chat/completions` (plain JSON or SSE streaming), `POST /v1/embeddings`
//! (deterministic vectors: agentos's `HashEmbedder` of each input) and `GET /v1/models`.
//! Replies are deterministic: `reply to: <last user message>`; a message containing
//! `[echo-system]` is answered with the request's system message; a request that offers agno's
//! memory tool `add_memory` (a memory manager's) gets one `add_memory` call keeping the user's
//! message, then `memories updated`; a session summary request (`response_format`
//! `SessionSummaryResponse`) gets a summary listing the conversation's user messages. Tests can
//! switch the server
//! into failure modes ([`MockOpenAi::fail_with`], [`MockOpenAi::garbage`]), add latency
//! ([`MockOpenAi::set_delay`]), script the next answers, tool calls included
//! ([`MockOpenAi::push_tool_calls`], [`MockOpenAi::push_reply`]), and inspect every request
//! body received ([`MockOpenAi::requests`]).
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// How the server answers chat completion requests.
#[derive(Clone, Copy, Debug, Default)]
enum Mode {
    #[default]
    Normal,
    /// Fail with this HTTP status and an OpenAI-style error body.
    Fail(u16),
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// Never answer.
    Hang,
    /// Drop the connection without an answer.
    Reset,
    /// Stream a few chunks, then end without `finish_reason` or `[DONE]`.
    Truncated,
}

/// Mutable server state shared between the handle and the handlers.
#[derive(Default)]
struct Inner {
    mode: Mode,
    delay: Duration,
    requests: Vec<Value>,
    /// The next `n` requests fail with `(status, Retry-After seconds)` before `mode` applies.
    fail_next: Option<(u16, usize, Option<u64>)>,
    /// Behave like some compatible servers: `"finish_reason": ""` mid-stream and no usage.
    quirky: bool,
    /// Scripted assistant messages (`{"content", "tool_calls"}`), answered in order before
    /// the default reply.
    script: std::collections::VecDeque<Value>,
    /// Tool call ids handed out so far.
    calls: usize,
    /// Requests after the first `n` wait this long (on top of `delay`).
    slow_after: Option<(usize, Duration)>,
    /// Every text embedded so far, in order of the requests (a failed request's too).
    embedded: Vec<String>,
    /// Embedding requests answered so far.
    embedding_requests: usize,
    /// Embedding requests after the first `n` fail with 503 (`Some(0)`: all of them).
    embeddings_fail_after: Option<usize>,
}

type Shared = Arc<Mutex<Inner>>;

/// Handle to a running mock server; the server task is aborted when this is dropped.
pub struct MockOpenAi {
    addr: SocketAddr,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl MockOpenAi {
    /// Starts an axum server on 127.0.0.1:0 (tokio::spawn), returns once listening.
    pub async fn start() -> MockOpenAi {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1/models", get(models))
            .route("/v1/embeddings", post(embeddings))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind mock server");
        let addr = listener.local_addr().expect("mock server address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("mock server");
        });
        MockOpenAi { addr, state, task }
    }

    /// Base URL including /v1, e.g. "http://127.0.0.1:PORT/v1" (what goes into OPENAI_BASE_URL).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// From now on every chat completion request fails with this HTTP status and an
    /// OpenAI-style error body.
    pub fn fail_with(&self, status: u16) {
        self.state.lock().unwrap().mode = Mode::Fail(status);
    }

    /// From now on, answer garbage: 200 with body "not json" (content-type application/json).
    pub fn garbage(&self) {
        self.state.lock().unwrap().mode = Mode::Garbage;
    }

    /// The next `n` requests fail with `status` (and `Retry-After: secs` if given), then the
    /// server answers normally again.
    pub fn fail_next(&self, status: u16, n: usize, retry_after: Option<u64>) {
        self.state.lock().unwrap().fail_next = Some((status, n, retry_after));
    }

    /// From now on, never answer.
    pub fn hang(&self) {
        self.state.lock().unwrap().mode = Mode::Hang;
    }

    /// From now on, drop each connection without answering.
    pub fn reset(&self) {
        self.state.lock().unwrap().mode = Mode::Reset;
    }

    /// From now on, cut streams short (no `finish_reason`, no `[DONE]`).
    pub fn truncate_streams(&self) {
        self.state.lock().unwrap().mode = Mode::Truncated;
    }

    /// Send `"finish_reason": ""` on content chunks and never send usage.
    pub fn quirky(&self) {
        self.state.lock().unwrap().quirky = true;
    }

    /// Back to normal replies.
    pub fn heal(&self) {
        self.state.lock().unwrap().mode = Mode::Normal;
    }

    /// Delay before answering each request (default 0).
    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }

    /// The next answer asks for these tool calls (`(name, arguments)`), all in one reply.
    /// Their ids are `call_1`, `call_2`... across the server's life. Streamed, each call's
    /// arguments arrive in pieces, the calls' deltas interleaved.
    pub fn push_tool_calls(&self, calls: &[(&str, Value)]) {
        let raw: Vec<(&str, String)> = calls.iter().map(|(n, a)| (*n, a.to_string())).collect();
        self.push_raw_tool_calls(&raw);
    }

    /// Like [`MockOpenAi::push_tool_calls`], with the arguments as raw text (maybe not JSON).
    pub fn push_raw_tool_calls(&self, calls: &[(&str, String)]) {
        let mut s = self.state.lock().unwrap();
        let mut list = Vec::new();
        for (name, args) in calls {
            s.calls += 1;
            list.push(
                json!({"id": format!("call_{}", s.calls), "type": "function",
                             "function": {"name": name, "arguments": args}}),
            );
        }
        s.script
            .push_back(json!({"content": null, "tool_calls": list}));
    }

    /// The next answer (after those already scripted) is this text.
    pub fn push_reply(&self, content: &str) {
        let mut s = self.state.lock().unwrap();
        s.script.push_back(json!({"content": content}));
    }

    /// Every request after the first `n` received so far waits `d` before answering.
    pub fn slow_after(&self, n: usize, d: Duration) {
        self.state.lock().unwrap().slow_after = Some((n, d));
    }

    /// From now on, embedding requests after the first `n` (counted from the server's start)
    /// fail with 503; `0` fails them all.
    pub fn fail_embeddings_after(&self, n: usize) {
        self.state.lock().unwrap().embeddings_fail_after = Some(n);
    }

    /// Embedding requests are answered again.
    pub fn heal_embeddings(&self) {
        self.state.lock().unwrap().embeddings_fail_after = None;
    }

    /// Every text sent to `/v1/embeddings` so far, in order, including failed requests'.
    pub fn embedded_texts(&self) -> Vec<String> {
        self.state.lock().unwrap().embedded.clone()
    }

    /// How many `/v1/embeddings` requests were received.
    pub fn embedding_requests(&self) -> usize {
        self.state.lock().unwrap().embedding_requests
    }

    /// JSON bodies of all chat completion requests received so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for MockOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `GET /v1/models`: a single fixed model.
async fn models() -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "mock"}]
    }))
}

/// `POST /v1/embeddings`: OpenAI's shape, one vector per input (agentos's `HashEmbedder`, 64
/// dimensions), or 503 while embeddings are failing.
async fn embeddings(State(state): State<Shared>, Json(req): Json<Value>) -> Response {
    let inputs: Vec<String> = match &req["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    let fail = {
        let mut s = state.lock().unwrap();
        s.embedded.extend(inputs.iter().cloned());
        s.embedding_requests += 1;
        s.embeddings_fail_after
            .is_some_and(|n| s.embedding_requests > n)
    };
    if fail {
        let err =
            json!({"error": {"message": "mock embeddings unavailable", "type": "server_error"}});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(err)).into_response();
    }
    let embedder = agentos::model::HashEmbedder::new(64);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": embedder.vector(text)}))
        .collect();
    Json(
        json!({"object": "list", "data": data, "model": req["model"],
                "usage": {"prompt_tokens": 0, "total_tokens": 0}}),
    )
    .into_response()
}

/// Text of a message `content`: a string, or the joined `text` of the text parts of an array.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect(),
        _ => String::new(),
    }
}

/// For a memory manager's request (one offering `add_memory`): `Some(Some(arguments))` for the
/// first call, which keeps the user's message as a memory, `Some(None)` once the tool answered.
fn memory_manager_call(req: &Value) -> Option<Option<String>> {
    let offers = req["tools"]
        .as_array()?
        .iter()
        .any(|t| t["function"]["name"] == "add_memory");
    if !offers {
        return None;
    }
    let messages = req["messages"].as_array()?;
    if messages.iter().any(|m| m["role"] == "tool") {
        return Some(None);
    }
    let user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| content_text(&m["content"]))
        .unwrap_or_default();
    Some(Some(
        json!({"memory": format!("The user said: {user}"), "topics": ["conversation"]}).to_string(),
    ))
}

/// For a session summary request: the summary (JSON text) of the conversation in its system
/// message, `Summary of: <each user message, separated by " | ">`.
fn summary_call(req: &Value) -> Option<String> {
    if req["response_format"]["json_schema"]["name"] != "SessionSummaryResponse" {
        return None;
    }
    let system = content_text(&req["messages"][0]["content"]);
    let conversation = system.split("<conversation>").nth(1).unwrap_or("");
    let asked: Vec<&str> = conversation
        .lines()
        .filter_map(|l| l.strip_prefix("User: "))
        .collect();
    Some(
        json!({"summary": format!("Summary of: {}", asked.join(" | ")), "topics": ["chat"]})
            .to_string(),
    )
}

/// `POST /v1/chat/completions`.
async fn chat_completions(State(state): State<Shared>, body: Bytes) -> Response {
    // Parse leniently so that even a malformed request gets recorded.
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let memory_call = memory_manager_call(&req).or_else(|| summary_call(&req).map(|_| None));
    let (mode, delay, quirky, fail_now, scripted) = {
        let mut s = state.lock().unwrap();
        s.requests.push(req.clone());
        // A memory manager's call (made in the background) never takes a scripted answer.
        let scripted = match &memory_call {
            Some(call) => call
                .clone()
                .map(|args| {
                    s.calls += 1;
                    json!({"content": null, "tool_calls": [{"id": format!("call_{}", s.calls),
                       "type": "function", "function": {"name": "add_memory", "arguments": args}}]})
                })
                .or_else(|| {
                    Some(json!({"content": summary_call(&req)
                .unwrap_or_else(|| "memories updated".to_owned())}))
                }),
            None => s.script.pop_front(),
        };
        let fail_now = match &mut s.fail_next {
            Some((status, n, after)) if *n > 0 => {
                *n -= 1;
                Some((*status, *after))
            }
            _ => None,
        };
        let delay = match s.slow_after {
            Some((n, extra)) if s.requests.len() > n => s.delay + extra,
            _ => s.delay,
        };
        (s.mode, delay, s.quirky, fail_now, scripted)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some((status, after)) = fail_now {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let err = json!({"error": {"message": format!("mock failure {status}"), "type": "rate_limit_error", "param": null, "code": null}});
        let mut response = (code, Json(err)).into_response();
        if let Some(secs) = after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
        }
        return response;
    }
    match mode {
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        // Unwinding out of the handler makes hyper drop the connection unanswered;
        // `resume_unwind` skips the panic hook, so nothing is printed.
        Mode::Reset => std::panic::resume_unwind(Box::new("reset")),
        _ => {}
    }
    match mode {
        Mode::Fail(status) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let err = json!({"error": {
                "message": format!("mock failure {status}"),
                "type": "server_error", "param": null, "code": null
            }});
            return (code, Json(err)).into_response();
        }
        Mode::Garbage => {
            return ([(header::CONTENT_TYPE, "application/json")], "not json").into_response();
        }
        Mode::Normal | Mode::Hang | Mode::Reset | Mode::Truncated => {}
    }

    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    let last = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| content_text(&m["content"]))
        .unwrap_or_default();
    let system = messages
        .iter()
        .find(|m| m["role"] == "system")
        .map(|m| content_text(&m["content"]))
        .unwrap_or_default();
    let reply = match &scripted {
        Some(m) => m["content"].as_str().unwrap_or_default().to_owned(),
        None if last.contains("[echo-system]") => system,
        None => format!("reply to: {last}"),
    };
    let tool_calls = scripted
        .as_ref()
        .and_then(|m| m["tool_calls"].as_array().cloned())
        .unwrap_or_default();
    let prompt_tokens: usize = messages
        .iter()
        .map(|m| content_text(&m["content"]).split_whitespace().count())
        .sum();
    let completion_tokens = reply.split_whitespace().count();
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let model = req["model"].clone();

    if req["stream"] != true {
        let mut message = json!({"role": "assistant", "content": reply});
        let mut finish = "stop";
        if !tool_calls.is_empty() {
            message["tool_calls"] = Value::Array(tool_calls.clone());
            message["content"] = Value::Null;
            finish = "tool_calls";
        }
        return Json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{
                "index": 0,
                "message": message,
                "finish_reason": finish
            }],
            "usage": usage,
        }))
        .into_response();
    }

    // Streaming: one SSE event per chunk.
    let content_finish = if quirky { json!("") } else { Value::Null };
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        })
    };
    let mut chunks = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let chars: Vec<char> = reply.chars().collect();
    for piece in chars.chunks(5) {
        chunks.push(chunk(
            json!({"content": String::from_iter(piece)}),
            content_finish.clone(),
        ));
    }
    if matches!(mode, Mode::Truncated) {
        chunks.truncate(3);
        let events: Vec<Result<Bytes, Infallible>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from(format!("data: {c}\n\n"))))
            .collect();
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Body::from_stream(futures::stream::iter(events)))
            .unwrap();
    }
    // Tool calls as OpenAI streams them: a first delta per call with its index, id and name,
    // then the arguments in two pieces, the calls' pieces interleaved.
    for (i, call) in tool_calls.iter().enumerate() {
        chunks.push(chunk(
            json!({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                   "function": {"name": call["function"]["name"], "arguments": ""}}]}),
            Value::Null,
        ));
    }
    for half in 0..2 {
        for (i, call) in tool_calls.iter().enumerate() {
            let args: Vec<char> = call["function"]["arguments"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .collect();
            let mid = args.len() / 2;
            let piece = if half == 0 {
                &args[..mid]
            } else {
                &args[mid..]
            };
            chunks.push(chunk(
                json!({"tool_calls": [{"index": i,
                       "function": {"arguments": String::from_iter(piece)}}]}),
                Value::Null,
            ));
        }
    }
    let finish = if tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    chunks.push(chunk(json!({}), json!(finish)));
    if req["stream_options"]["include_usage"] == true && !quirky {
        chunks.push(json!({
            "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [], "usage": usage
        }));
    }
    let mut events: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    events.push("data: [DONE]\n\n".to_string());
    let stream = futures::stream::iter(
        events
            .into_iter()
            .map(|e| Ok::<_, Infallible>(Bytes::from(e))),
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap()
}
