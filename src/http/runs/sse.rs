//! agno's SSE framing: a run's live events, a resumable run's journal, stored events, and the
//! `text/event-stream` response.

use crate::event::RunEvent;
use crate::event::journal::Journal;
use crate::http::py_json::py_json;
use crate::runtime::RunHandle;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;

/// How often an idle `/resume` stream sends `: heartbeat` (agno: 30 s).
pub(super) const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);

/// The run's events as agno's SSE: `event: <Name>` and `data: <compact JSON>`. Events already
/// waiting are written together (one write for a burst of deltas, not one each). The stream
/// holds the response guard, so background hooks start once the last event is out.
pub(super) fn sse(handle: RunHandle) -> Response {
    let RunHandle { events, guard, .. } = handle;
    let stream = futures::stream::unfold((events, guard), |(mut events, guard)| async move {
        let rx = events.as_mut()?;
        let mut chunk = String::new();
        push_sse(&mut chunk, &*rx.recv().await?);
        while chunk.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(event) => push_sse(&mut chunk, &event),
                Err(_) => break,
            }
        }
        Some((Ok::<_, Infallible>(Bytes::from(chunk)), (events, guard)))
    });
    sse_response(Body::from_stream(stream))
}

/// Appends one event in SSE framing. Compact JSON never holds a raw newline, so one `data:`
/// line carries it.
pub(super) fn push_sse(out: &mut String, event: &RunEvent) {
    out.push_str("event: ");
    out.push_str(event.name());
    out.push_str("\ndata: ");
    out.push_str(&event.to_json());
    out.push_str("\n\n");
}

/// `text/event-stream`, not cached.
pub(super) fn sse_response(body: Body) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// One SSE frame whose payload is Python's default `json.dumps` (agno's meta events).
pub(super) fn meta_frame(name: &str, payload: &impl Serialize) -> String {
    format!("event: {name}\ndata: {}\n\n", py_json(payload))
}

/// A stored event payload in SSE framing, named by its `"event"` key; and that name.
pub(super) fn stored_frame(payload: &str) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Named {
        event: Option<String>,
    }
    let name = serde_json::from_str::<Named>(payload)
        .ok()
        .and_then(|n| n.event)
        .unwrap_or_else(|| "message".to_owned());
    let frame = format!("event: {name}\ndata: {payload}\n\n");
    (name, frame)
}

/// Streams `prelude` (already framed), then the journal's entries from `from` on, live, until
/// the run ends; `: heartbeat` while idle.
pub(super) fn journal_body(journal: Arc<Journal>, from: usize, prelude: Vec<String>) -> Body {
    let changes = journal.subscribe();
    let state = (journal, changes, from, Some(prelude));
    let stream =
        futures::stream::unfold(state, |(journal, mut changes, next, prelude)| async move {
            if let Some(prelude) = prelude.filter(|p| !p.is_empty()) {
                let chunk = prelude.concat();
                return Some((
                    Ok::<_, Infallible>(Bytes::from(chunk)),
                    (journal, changes, next, None),
                ));
            }
            loop {
                changes.borrow_and_update();
                let (entries, ended) = journal.since(next);
                if !entries.is_empty() {
                    let mut chunk = String::new();
                    for entry in &entries {
                        entry.push_sse(&mut chunk);
                    }
                    let next = next + entries.len();
                    return Some((Ok(Bytes::from(chunk)), (journal, changes, next, None)));
                }
                if ended.is_some() {
                    return None;
                }
                match tokio::time::timeout(HEARTBEAT, changes.changed()).await {
                    Ok(Ok(())) => continue,
                    // The run's task is gone (shutdown): end the stream.
                    Ok(Err(_)) => return None,
                    Err(_) => {
                        let beat = Bytes::from_static(b": heartbeat\n\n");
                        return Some((Ok(beat), (journal, changes, next, None)));
                    }
                }
            }
        });
    Body::from_stream(stream)
}
