//! A mock OpenAI-compatible server for the benchmark: `/v1/chat/completions` (JSON, and SSE
//! streaming with a final usage chunk) and `/v1/models`, answering a fixed reply after
//! `MOCK_DELAY_MS` (default 0). Listens on `MOCK_ADDR` (default 127.0.0.1:18080). It does as
//! little work per request as it can, so it is never the bottleneck: `bench/run.sh` reports its
//! own requests per second.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::time::Duration;

/// About 40 tokens, sent as 10 stream chunks.
const REPLY: &str = "Regular exercise strengthens the heart, improves mood through endorphins, \
helps control weight, builds muscle and bone, improves sleep, and lowers the risk of chronic \
disease such as diabetes and hypertension.";

fn completion() -> Bytes {
    let body = serde_json::json!({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "gpt-5.2",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 40, "total_tokens": 80},
    });
    Bytes::from(body.to_string())
}

fn stream_body() -> Bytes {
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        let c = serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "gpt-5.2",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        format!("data: {c}\n\n")
    };
    let mut out = chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        serde_json::Value::Null,
    );
    let words: Vec<&str> = REPLY.split_inclusive(' ').collect();
    for piece in words.chunks(words.len().div_ceil(10)) {
        out.push_str(&chunk(
            serde_json::json!({"content": piece.concat()}),
            serde_json::Value::Null,
        ));
    }
    out.push_str(&chunk(serde_json::json!({}), serde_json::json!("stop")));
    let usage = serde_json::json!({
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "gpt-5.2",
        "choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 40, "total_tokens": 80},
    });
    out.push_str(&format!("data: {usage}\n\ndata: [DONE]\n\n"));
    Bytes::from(out)
}

#[tokio::main]
async fn main() {
    let delay = Duration::from_millis(
        std::env::var("MOCK_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let addr = std::env::var("MOCK_ADDR").unwrap_or_else(|_| "127.0.0.1:18080".to_owned());
    let json = completion();
    let sse = stream_body();
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(move |body: Bytes| {
                let (json, sse) = (json.clone(), sse.clone());
                async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    // A substring test instead of parsing: the mock must stay cheap.
                    let streamed = streams_requested(&body);
                    let (ctype, bytes) = if streamed {
                        ("text/event-stream", sse)
                    } else {
                        ("application/json", json)
                    };
                    Response::builder()
                        .header(header::CONTENT_TYPE, ctype)
                        .body(Body::from(bytes))
                        .unwrap_or_else(|_| "error".into_response())
                }
            }),
        )
        .route(
            "/v1/models",
            get(|| async { r#"{"object":"list","data":[{"id":"gpt-5.2","object":"model","created":0,"owned_by":"mock"}]}"# }),
        );
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("bind MOCK_ADDR");
    eprintln!("mock OpenAI on http://{addr}/v1 (delay {delay:?})");
    axum::serve(listener, app).await.expect("serve");
}

/// True when the JSON body asks for a stream (`"stream":true`, with or without a space).
fn streams_requested(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("\"stream\":true") || text.contains("\"stream\": true")
}
