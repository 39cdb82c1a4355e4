//! The floor under the CPU per run of the seed workflow at concurrency 1: a server that does
//! only what no server for it can skip, on the stacks agentos uses (axum in, reqwest out).
//! `bench/run.sh` runs it on the server's core against the mock, at c=1 with the mock's 50 ms
//! delay, and prints its CPU per run next to agentos's.
//!
//! Per request to `POST /workflows/{id}/runs`: it reads the body, makes the two model calls in
//! sequence (the second after the first's answer has arrived, as step two waits for step one),
//! and answers with the second call's body; with `stream=true` in the form it asks the mock for
//! SSE and relays each call's chunks to the client as they arrive. Then, as the seed workflow's
//! two post-hooks do, it starts two tasks that sleep one second (`FLOOR_HOOKS=0`: none). It
//! parses no JSON, builds no events, and writes no database: everything agentos does beyond
//! this is what a run costs above the machine's floor.
//!
//! Environment: `OPENAI_BASE_URL` (the mock's `/v1`), `AGENT_OS_PORT` (default 7777).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Router, http::header, response::Response};
use std::time::Duration;
use tokio::sync::mpsc;

/// What every request shares.
#[derive(Clone)]
struct Floor {
    client: reqwest::Client,
    url: String,
    hooks: bool,
}

/// The two steps' requests: a fixed body each, as short as agentos's.
const BODIES: [&str; 2] = [
    r#"{"model":"gpt-5.2","messages":[{"role":"system","content":"Analyze the input and identify key points."},{"role":"user","content":"Explain the benefits of exercise"}]"#,
    r#"{"model":"gpt-5.2","messages":[{"role":"system","content":"Summarize the analysis into a brief response."},{"role":"user","content":"Explain the benefits of exercise"}]"#,
];

impl Floor {
    /// Sends step `i`'s request; `stream` asks the mock for SSE.
    async fn call(&self, i: usize, stream: bool) -> reqwest::Result<reqwest::Response> {
        let tail = if stream { r#","stream":true}"# } else { "}" };
        self.client
            .post(&self.url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(format!("{}{tail}", BODIES[i]))
            .send()
            .await?
            .error_for_status()
    }

    /// The seed workflow's two post-hooks, as far as the runtime sees them: two 1 s timers.
    fn start_hooks(&self) {
        if self.hooks {
            for _ in 0..2 {
                tokio::spawn(tokio::time::sleep(Duration::from_secs(1)));
            }
        }
    }
}

/// True when the multipart or urlencoded form says `stream=true`.
fn streamed(form: &[u8]) -> bool {
    let text = String::from_utf8_lossy(form);
    text.contains("name=\"stream\"\r\n\r\ntrue") || text.contains("stream=true")
}

async fn run(State(floor): State<Floor>, form: Bytes) -> Response {
    if streamed(&form) {
        return relay(floor);
    }
    let mut answer = Bytes::new();
    for i in 0..2 {
        let body = match floor.call(i, false).await {
            Ok(resp) => resp.bytes().await,
            Err(e) => Err(e),
        };
        match body {
            Ok(bytes) => answer = bytes,
            Err(e) => return failed(e),
        }
    }
    floor.start_hooks();
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(answer))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// The streamed run: each call's SSE chunks go to the client as they arrive.
fn relay(floor: Floor) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        for i in 0..2 {
            let mut resp = match floor.call(i, true).await {
                Ok(resp) => resp,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    return;
                }
            };
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        if tx.send(Ok(chunk)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(std::io::Error::other(e))).await;
                        return;
                    }
                }
            }
        }
        floor.start_hooks();
    });
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(chunks))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn failed(e: reqwest::Error) -> Response {
    Response::builder()
        .status(502)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({ "detail": format!("model call failed: {e}") }).to_string(),
        ))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[tokio::main]
async fn main() {
    let base = std::env::var("OPENAI_BASE_URL").expect("OPENAI_BASE_URL: the mock's /v1");
    let floor = Floor {
        client: reqwest::Client::new(),
        url: format!("{}/chat/completions", base.trim_end_matches('/')),
        hooks: std::env::var("FLOOR_HOOKS").map_or(true, |v| v != "0"),
    };
    let port = std::env::var("AGENT_OS_PORT").unwrap_or_else(|_| "7777".to_owned());
    let app = Router::new()
        .route("/workflows/{id}/runs", post(run))
        .route("/health", get(|| async { "ok" }))
        .with_state(floor);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind AGENT_OS_PORT");
    axum::serve(listener, app).await.expect("serve");
}
