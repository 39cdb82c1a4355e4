//! What every run endpoint shares: the `Idempotency-Key` header, the JSON answer, agno's SSE
//! framing, the answer for a repeated key, cancel, and the `session_id`/`status` query.

use super::GuardedBody;
use super::error::ApiError;
use super::form::RunForm;
use crate::event::RunEvent;
use crate::event::journal::Journal;
use crate::kind::ComponentKind;
use crate::run::RunStatus;
use crate::runtime::{RunHandle, RunResult, Runtime, Started};
use crate::store::RunRecord;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;

/// The `Idempotency-Key` header, if present and well-formed.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters")
        })?;
    Ok(Some(key.to_owned()))
}

/// The answer to `POST .../runs`: 202 or the journal for a background run, SSE, JSON, or
/// the earlier run a repeated `Idempotency-Key` names.
pub(crate) async fn answer(
    started: Started,
    stream: bool,
    final_event: fn(&str) -> Result<RunEvent, ApiError>,
) -> Result<Response, ApiError> {
    match started {
        Started::New(handle) if handle.background => Ok(background_answer(handle)),
        Started::New(handle) if stream => Ok(sse(handle)),
        Started::New(handle) => json_answer(handle).await,
        Started::Existing(run) => existing_answer(&run, stream, final_event),
    }
}

/// The `/resume` form, from a form body if there is one (the fields are all optional).
pub(crate) async fn resume_form(request: Request) -> Result<ResumeForm, ApiError> {
    let has_form = request.headers().contains_key(header::CONTENT_TYPE);
    let form = match has_form {
        true => Some(RunForm::from_request(request, &()).await?),
        false => None,
    };
    ResumeForm::parse(form)
}

/// Waits for the run and answers with its stored output as JSON.
async fn json_answer(handle: RunHandle) -> Result<Response, ApiError> {
    let RunHandle {
        run_id,
        result,
        guard,
        ..
    } = handle;
    let result = result
        .await
        .map_err(|_| ApiError::internal("run task ended without a result", &run_id))?;
    match result {
        RunResult::Finished {
            rejected_input: Some(message),
            ..
        } => Err(ApiError::bad_request(message)),
        RunResult::Finished { json, .. } => Ok(GuardedBody::json(json.into_bytes(), guard)),
        RunResult::NotStored(message) => Err(ApiError::internal("run not stored", message)),
    }
}

/// The answer for a repeated `Idempotency-Key` (or a poll of a background run): 202 with the
/// run's id while it still runs; else its stored output as JSON, or, streamed, the final
/// event `final_event` builds from it.
fn existing_answer(
    run: &RunRecord,
    stream: bool,
    final_event: impl FnOnce(&str) -> Result<RunEvent, ApiError>,
) -> Result<Response, ApiError> {
    let output = match (&run.output, run.status.is_terminal()) {
        (Some(output), true) => output,
        _ => return Ok(accepted(run)),
    };
    if !stream {
        let mut response = output.clone().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(response);
    }
    let mut body = String::new();
    push_sse(&mut body, &final_event(output)?);
    Ok(sse_response(Body::from(body)))
}

/// 202 `{run_id, session_id, status}`: the run is accepted and executes in the background.
pub(crate) fn accepted(run: &RunRecord) -> Response {
    let body = json!({"run_id": run.run_id, "session_id": run.session_id, "status": run.status});
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// The run's events as agno's SSE: `event: <Name>` and `data: <compact JSON>`. Events already
/// waiting are written together (one write for a burst of deltas, not one each). The stream
/// holds the response guard, so background hooks start once the last event is out.
fn sse(handle: RunHandle) -> Response {
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
pub(crate) fn push_sse(out: &mut String, event: &RunEvent) {
    out.push_str("event: ");
    out.push_str(event.name());
    out.push_str("\ndata: ");
    out.push_str(&event.to_json());
    out.push_str("\n\n");
}

/// `text/event-stream`, not cached.
pub(crate) fn sse_response(body: Body) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `?session_id=&status=` on the run lists and polls.
#[derive(Debug, Deserialize)]
pub(crate) struct RunsQuery {
    pub session_id: Option<String>,
    pub status: Option<String>,
}

impl RunsQuery {
    /// The `status` filter, validated.
    pub(crate) fn status(&self) -> Result<Option<RunStatus>, ApiError> {
        let Some(s) = self.status.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let status = RunStatus::parse(&s.to_ascii_uppercase());
        if status.as_str() != s.to_ascii_uppercase() {
            return Err(ApiError::bad_request(format!(
                "Invalid status {s:?}: use PENDING, RUNNING, COMPLETED, PAUSED, CANCELLED or ERROR"
            )));
        }
        Ok(Some(status))
    }
}

/// `POST .../runs/{run_id}/cancel`: agno's `{}` 200, for a run executing here, a finished one
/// or an unknown one alike (cancel is an intent).
pub(crate) fn cancelled(found: bool, run_id: &str) -> Json<serde_json::Value> {
    if found {
        tracing::info!(run = %run_id, "cancel requested");
    }
    Json(json!({}))
}

/// How often an idle `/resume` stream sends `: heartbeat` (agno: 30 s).
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);

/// The response to a background run request: 202 `{run_id, session_id, status: PENDING}`, or,
/// streamed, the run's journal from its first event (each with `event_index`). The run goes on
/// if the client leaves; `/resume` picks it up again.
pub(crate) fn background_answer(handle: RunHandle) -> Response {
    let RunHandle {
        run_id,
        session_id,
        journal,
        ..
    } = handle;
    match journal {
        Some(journal) => sse_response(journal_body(journal, 0, Vec::new())),
        None => {
            let body =
                json!({"run_id": run_id, "session_id": session_id, "status": RunStatus::Pending});
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
    }
}

/// Streams `prelude` (already framed), then the journal's entries from `from` on, live, until
/// the run ends; `: heartbeat` while idle.
fn journal_body(journal: Arc<Journal>, from: usize, prelude: Vec<String>) -> Body {
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

/// One SSE frame whose payload is Python's default `json.dumps` (agno's meta events).
fn meta_frame(name: &str, payload: &serde_json::Value) -> String {
    format!("event: {name}\ndata: {}\n\n", py_json(payload))
}

/// JSON as Python's default `json.dumps` writes it (agno's meta events, run previews): the
/// separators `", "` and `": "`, and every non-ASCII character escaped (`ensure_ascii`).
pub(super) fn py_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_json(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(py_json).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(s) => py_str(s),
        other => other.to_string(),
    }
}

/// A JSON string literal with every non-ASCII character as `\uXXXX` (UTF-16 units, as Python).
fn py_str(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    if quoted.is_ascii() {
        return quoted;
    }
    let mut out = String::with_capacity(quoted.len() + 16);
    for c in quoted.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// The `/resume` form: `last_event_index` (the last event the client has; none = replay all)
/// and `session_id`.
#[derive(Debug, Default)]
pub(crate) struct ResumeForm {
    pub last_event_index: Option<i64>,
    pub session_id: Option<String>,
}

impl ResumeForm {
    pub(crate) fn parse(form: Option<RunForm>) -> Result<ResumeForm, ApiError> {
        let mut out = ResumeForm::default();
        for (name, value) in form.map(|f| f.0).unwrap_or_default() {
            match name.as_str() {
                "last_event_index" if !value.trim().is_empty() => {
                    let index = value
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| ApiError::bad_int("last_event_index", &value))?;
                    out.last_event_index = Some(index);
                }
                "session_id" => out.session_id = Some(value).filter(|v| !v.is_empty()),
                _ => {}
            }
        }
        Ok(out)
    }
}

/// `POST .../runs/{run_id}/resume` (wire spec §7.3): live from the in-memory journal while the
/// run executes (a `catch_up` meta event, the missed events, then live ones), the missed events
/// of a recently finished run (`replay`), or the events stored in the database.
pub(crate) async fn resume(
    rt: &Runtime,
    component_type: ComponentKind,
    component_id: &str,
    run_id: &str,
    form: ResumeForm,
) -> Result<Response, ApiError> {
    let last = form.last_event_index.unwrap_or(-1);
    let from = usize::try_from(last + 1).unwrap_or(0);
    if let Some(journal) = rt.journal(run_id) {
        let (count, ended) = journal.len();
        let missed = count.saturating_sub(from);
        let prelude = match ended {
            None if missed == 0 => Vec::new(),
            None => vec![meta_frame(
                "catch_up",
                &json!({"event": "catch_up", "run_id": run_id, "status": "running",
                        "missed_events": missed, "current_event_count": count,
                        "message": format!("Catching up on {missed} missed events.")}),
            )],
            Some(status) => vec![meta_frame(
                "replay",
                &json!({"event": "replay", "run_id": run_id, "status": status,
                        "total_events": missed, "total_buffered": count,
                        "last_event_index_requested": last,
                        "message": format!("Run {}. Replaying {missed} missed events (of {count} total).", status.as_str())}),
            )],
        };
        return Ok(sse_response(journal_body(journal, from, prelude)));
    }
    let run = rt
        .store
        .get_run(run_id)
        .await?
        .filter(|r| r.component_type == component_type && r.component_id == component_id)
        .filter(|r| form.session_id.as_deref().is_none_or(|s| s == r.session_id));
    let Some(run) = run else {
        let error = json!({"event": "error", "error": format!("Run {run_id} not found in buffer or database")});
        return Ok(sse_response(Body::from(meta_frame("error", &error))));
    };
    if !run.status.is_terminal() && !rt.store.exclusive() {
        // Executing on another replica: follow its events as they are written.
        return Ok(sse_response(follow_stored(rt.store.clone(), run, last)));
    }
    let events = rt.store.run_events(run_id, last).await?;
    let status = run.status.as_str();
    let mut body = String::new();
    if events.is_empty() {
        let message = match run.status.is_terminal() {
            true => format!(
                "Run {status} with no stored events: a run submitted without streaming keeps only its final output."
            ),
            false => format!(
                "Run is {status} and was submitted without streaming, so it has no event stream to attach to. Poll the run endpoint for its result."
            ),
        };
        body.push_str(&meta_frame(
            "replay",
            &json!({"event": "replay", "run_id": run_id, "status": status, "total_events": 0, "message": message}),
        ));
    } else {
        body.push_str(&meta_frame(
            "replay",
            &json!({"event": "replay", "run_id": run_id, "status": status, "total_events": events.len(),
                    "message": "Run completed. Replaying stored events from database."}),
        ));
        for (_, payload) in &events {
            body.push_str(&stored_frame(payload).1);
        }
    }
    Ok(sse_response(Body::from(body)))
}

/// `GET .../runs?session_id=&status=` of a workflow or agent: the session's runs in agno's run
/// schema. `session_id` is required (422); a session of another component is not found (404).
pub(crate) async fn list_session_runs(
    rt: &Runtime,
    kind: ComponentKind,
    component_id: &str,
    q: RunsQuery,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    let status = q.status()?;
    let session_id = q
        .session_id
        .ok_or_else(|| ApiError::missing("query", "session_id"))?;
    let session = rt.store.get_session(&session_id).await?;
    if !session.is_some_and(|s| s.component_id == component_id && s.session_type == kind) {
        return Err(ApiError::not_found("Session not found"));
    }
    let runs = rt.store.session_runs(&session_id).await?;
    Ok(Json(
        runs.iter()
            .filter(|r| status.is_none_or(|s| r.status == s))
            .map(super::session_schema::run_schema)
            .collect(),
    ))
}

/// The stored run `run_id` of this workflow or agent (and of `session_id`, when given); 404
/// `Run not found` otherwise.
pub(crate) async fn find_run(
    rt: &Runtime,
    kind: ComponentKind,
    component_id: &str,
    run_id: &str,
    session_id: Option<&str>,
) -> Result<RunRecord, ApiError> {
    rt.store
        .get_run(run_id)
        .await?
        .filter(|r| r.component_type == kind && r.component_id == component_id)
        .filter(|r| session_id.is_none_or(|s| s == r.session_id))
        .ok_or_else(|| ApiError::not_found("Run not found"))
}

/// How often a `/resume` following a run on another replica looks for its new events.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// How long a `/resume` following a run on another replica waits, once the run's status is
/// final, for its last events: that replica stores the final state before it sends (and then
/// writes) the final event. A run ended by reconciliation (its replica died) has none to wait
/// for, so the stream ends after this.
const LAST_EVENTS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The events that end a run's stream: `WorkflowCompleted` (also after `WorkflowCancelled`)
/// or `WorkflowError` for a workflow; `RunCompleted`, `RunError` or `RunCancelled` for an
/// agent (whose `RunCompleted`s inside a workflow are its steps').
fn last_events(component_type: ComponentKind) -> &'static [&'static str] {
    match component_type {
        ComponentKind::Workflow => &["WorkflowCompleted", "WorkflowError"],
        _ => &["RunCompleted", "RunError", "RunCancelled"],
    }
}

/// Where a `/resume` following a run on another replica stands.
struct Follow {
    store: Arc<dyn crate::store::Store>,
    run_id: String,
    last_events: &'static [&'static str],
    /// The index of the last event sent.
    last: i64,
    /// The `catch_up` frame, until sent.
    meta: Option<String>,
    /// When the run's status was seen final: from then on its last events are awaited.
    ended_at: Option<std::time::Instant>,
    /// The run's last event was sent: the stream is over.
    done: bool,
    idle_since: std::time::Instant,
}

/// A run executing on another replica, followed through the database: a `catch_up` event,
/// the stored events after `last`, then new ones as that replica writes them (every
/// [`FOLLOW_EVERY`]), until the run's last event is out (or, once the run has ended, for
/// [`LAST_EVENTS_WAIT`] at most).
fn follow_stored(store: Arc<dyn crate::store::Store>, run: RunRecord, last: i64) -> Body {
    let meta = meta_frame(
        "catch_up",
        &json!({"event": "catch_up", "run_id": run.run_id, "status": "running",
                "message": "Following the run from the database."}),
    );
    let follow = Follow {
        store,
        last_events: last_events(run.component_type),
        run_id: run.run_id,
        last,
        meta: Some(meta),
        ended_at: None,
        done: false,
        idle_since: std::time::Instant::now(),
    };
    let stream = futures::stream::unfold(follow, |mut f| async move {
        if let Some(meta) = f.meta.take() {
            return Some((Ok::<_, Infallible>(Bytes::from(meta)), f));
        }
        if f.done {
            return None;
        }
        loop {
            let events = f
                .store
                .run_events(&f.run_id, f.last)
                .await
                .unwrap_or_default();
            if let Some((index, _)) = events.last() {
                f.last = *index;
                let mut chunk = String::new();
                for (_, payload) in &events {
                    let (name, frame) = stored_frame(payload);
                    f.done |= f.last_events.contains(&name.as_str());
                    chunk.push_str(&frame);
                }
                f.idle_since = std::time::Instant::now();
                return Some((Ok(Bytes::from(chunk)), f));
            }
            match f.ended_at {
                Some(at) if at.elapsed() >= LAST_EVENTS_WAIT => return None,
                Some(_) => {}
                None => {
                    // Read the status first, then the events once more at once: nothing
                    // written before the run ended is missed.
                    let ended = match f.store.get_run(&f.run_id).await {
                        Ok(Some(r)) => r.status.is_terminal(),
                        Ok(None) | Err(_) => true,
                    };
                    if ended {
                        f.ended_at = Some(std::time::Instant::now());
                        continue;
                    }
                    if f.idle_since.elapsed() >= HEARTBEAT {
                        f.idle_since = std::time::Instant::now();
                        return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), f));
                    }
                }
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    });
    Body::from_stream(stream)
}

/// A stored event payload in SSE framing, named by its `"event"` key; and that name.
fn stored_frame(payload: &str) -> (String, String) {
    let name = serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "message".to_owned());
    let frame = format!("event: {name}\ndata: {payload}\n\n");
    (name, frame)
}

#[cfg(test)]
mod tests {
    use super::py_json;
    use serde_json::json;

    #[test]
    fn py_json_writes_what_pythons_json_dumps_writes() {
        // json.dumps({"a": [1, "é"], "b": {"c": None}, "d": "😀\n"}) in Python 3.
        let v = json!({"a": [1, "é"], "b": {"c": null}, "d": "😀\n"});
        assert_eq!(
            py_json(&v),
            r#"{"a": [1, "\u00e9"], "b": {"c": null}, "d": "\ud83d\ude00\n"}"#
        );
    }
}
