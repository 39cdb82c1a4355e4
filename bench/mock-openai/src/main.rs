//! A mock OpenAI-compatible server for the benchmark: `/v1/chat/completions` (JSON, and SSE
//! streaming with a final usage chunk) and `/v1/models`, answering a fixed reply after
//! `MOCK_DELAY_MS` (default 0). Listens on `MOCK_ADDR` (default 127.0.0.1:18080). It does as
//! little work per request as it can, so it is never the bottleneck: `bench/run.sh` reports its
//! own requests per second.
//!
//! A team leader's request (one that offers the tool `delegate_task_to_member`: the benchmark's
//! team level) is answered like a coordinating model: the first call delegates to the member
//! `researcher`, the second (after one tool result) to `writer`, the third answers with the
//! fixed reply. Only those requests are parsed; the seed's are not.
//!
//! The delay is kept to the tenth of a millisecond by one timer thread (see [`Timer`]): tokio's
//! timer wheel ticks in whole milliseconds and rounds a deadline up to the next tick, so a
//! 50 ms `tokio::time::sleep` answers after 51-52 ms, and two model calls would charge the
//! server under test 3 ms it never spent.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

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
    let timer = Timer::start();
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(move |body: Bytes| {
                let (json, sse, timer) = (json.clone(), sse.clone(), timer.clone());
                async move {
                    if !delay.is_zero() {
                        timer.sleep_until(Instant::now() + delay).await;
                    }
                    // A substring test instead of parsing: the mock must stay cheap.
                    let streamed = streams_requested(&body);
                    let delegation = leader_delegation(&body);
                    let (ctype, bytes) = match (streamed, delegation) {
                        (true, Some(member)) => ("text/event-stream", delegation_sse(member)),
                        (false, Some(member)) => ("application/json", delegation_json(member)),
                        (true, None) => ("text/event-stream", sse),
                        (false, None) => ("application/json", json),
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

/// The member a team leader's request should delegate to next: `researcher` before any tool
/// result, `writer` after one; `None` for any other request (and for a leader that has heard
/// from both, which then gets the fixed reply).
fn leader_delegation(body: &[u8]) -> Option<&'static str> {
    const TOOL: &[u8] = b"delegate_task_to_member";
    if !body.windows(TOOL.len()).any(|w| w == TOOL) {
        return None;
    }
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    let results = request["messages"]
        .as_array()?
        .iter()
        .filter(|m| m["role"] == "tool")
        .count();
    match results {
        0 => Some("researcher"),
        1 => Some("writer"),
        _ => None,
    }
}

/// The tool call of a delegation to `member`.
fn delegation_call(member: &str) -> serde_json::Value {
    let args = serde_json::json!({"member_id": member, "task": "Explain the benefits of exercise"});
    serde_json::json!({"id": format!("call_{member}"), "type": "function",
                       "function": {"name": "delegate_task_to_member", "arguments": args.to_string()}})
}

fn delegation_json(member: &str) -> Bytes {
    let body = serde_json::json!({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "gpt-5.2",
        "choices": [{"index": 0, "finish_reason": "tool_calls",
                     "message": {"role": "assistant", "content": null, "tool_calls": [delegation_call(member)]}}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60},
    });
    Bytes::from(body.to_string())
}

fn delegation_sse(member: &str) -> Bytes {
    let mut call = delegation_call(member);
    call["index"] = serde_json::json!(0);
    let chunk = |delta: serde_json::Value, finish: serde_json::Value, usage: serde_json::Value| {
        let mut c = serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "gpt-5.2",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if !usage.is_null() {
            c["choices"] = serde_json::json!([]);
            c["usage"] = usage;
        }
        format!("data: {c}\n\n")
    };
    let null = serde_json::Value::Null;
    let mut out = chunk(
        serde_json::json!({"role": "assistant", "content": null, "tool_calls": [call]}),
        null.clone(),
        null.clone(),
    );
    out.push_str(&chunk(
        serde_json::json!({}),
        serde_json::json!("tool_calls"),
        null.clone(),
    ));
    let usage =
        serde_json::json!({"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60});
    out.push_str(&chunk(null.clone(), null, usage));
    out.push_str("data: [DONE]\n\n");
    Bytes::from(out)
}

/// True when the JSON body asks for a stream (`"stream":true`, with or without a space).
fn streams_requested(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("\"stream\":true") || text.contains("\"stream\": true")
}

/// A timer thread that wakes each waiter within a few microseconds of its deadline: it keeps
/// the deadlines in a heap and sleeps on its channel until the earliest one (a futex wait, which
/// the kernel ends on time, unlike tokio's millisecond wheel).
///
/// Two things would still make an answer late by 0.1-0.2 ms, which the benchmark would charge
/// to the server under test (two calls per run): the kernel's timer slack (50 µs by default,
/// set to 1 ns for this thread), and the wake-ups of the timer thread and then of the runtime
/// thread that writes the answer, each slower from an idle core. So when few requests wait
/// ([`SPIN_MAX_WAITERS`] or fewer, as at concurrency 1), a request asks to be woken
/// [`SPIN_BEFORE`] ahead of its deadline and spins on its runtime thread until the deadline.
/// Under load nothing spins: the mock shares its core with the load generator.
#[derive(Clone)]
struct Timer {
    tx: mpsc::Sender<(Instant, oneshot::Sender<()>)>,
    /// Requests waiting now.
    waiting: Arc<AtomicUsize>,
}

/// How long before its deadline a request is woken to spin the rest (at low load).
const SPIN_BEFORE: Duration = Duration::from_micros(250);

/// Requests spin only while at most this many wait.
const SPIN_MAX_WAITERS: usize = 4;

/// Sets the calling thread's timer slack: how late the kernel may end its timed waits so as
/// to group wake-ups (50 µs unless set).
fn set_timer_slack_ns(ns: libc::c_ulong) {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, ns, 0, 0, 0);
    }
}

impl Timer {
    fn start() -> Timer {
        let (tx, rx) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            set_timer_slack_ns(1);
            // Ties are broken by arrival order; senders live in a side table by that number.
            let mut heap: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
            let mut waiters: std::collections::HashMap<u64, oneshot::Sender<()>> =
                std::collections::HashMap::new();
            let mut next_id = 0u64;
            loop {
                let now = Instant::now();
                while let Some(Reverse((deadline, id))) = heap.peek().copied() {
                    if deadline > now {
                        break;
                    }
                    heap.pop();
                    if let Some(w) = waiters.remove(&id) {
                        let _ = w.send(());
                    }
                }
                let got = match heap.peek() {
                    Some(Reverse((deadline, _))) => {
                        match rx.recv_timeout(deadline.saturating_duration_since(now)) {
                            Ok(w) => Some(w),
                            Err(mpsc::RecvTimeoutError::Timeout) => None,
                            Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    None => match rx.recv() {
                        Ok(w) => Some(w),
                        Err(_) => return,
                    },
                };
                if let Some((deadline, waiter)) = got {
                    heap.push(Reverse((deadline, next_id)));
                    waiters.insert(next_id, waiter);
                    next_id += 1;
                }
            }
        });
        Timer {
            tx,
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    async fn sleep_until(&self, deadline: Instant) {
        let few = self.waiting.fetch_add(1, Ordering::Relaxed) < SPIN_MAX_WAITERS;
        let wake_at = match few {
            true => deadline.checked_sub(SPIN_BEFORE).unwrap_or(deadline),
            false => deadline,
        };
        let (tx, rx) = oneshot::channel();
        if self.tx.send((wake_at, tx)).is_ok() {
            let _ = rx.await;
        }
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        while few && Instant::now() < deadline {
            std::hint::spin_loop();
        }
    }
}
