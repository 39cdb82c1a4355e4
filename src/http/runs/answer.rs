//! The answer to `POST .../runs`: 202 or the journal for a background run, SSE, JSON, or the
//! earlier run a repeated `Idempotency-Key` names.

use super::schema::RunAccepted;
use super::sse::{journal_body, push_sse, sse, sse_response};
use crate::event::RunEvent;
use crate::http::error::ApiError;
use crate::run::RunStatus;
use crate::runtime::{ResponseGuard, RunHandle, RunResult, Started};
use crate::store::RunRecord;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The answer to `POST .../runs`, once the run has started (or was found by its key).
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
        return Ok(json_text(output.clone()));
    }
    let mut body = String::new();
    push_sse(&mut body, &final_event(output)?);
    Ok(sse_response(Body::from(body)))
}

/// A JSON text already serialized (a stored output), answered as it is.
pub(crate) fn json_text(json: String) -> Response {
    let mut response = json.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// 202 `{run_id, session_id, status}`: the run is accepted and executes in the background.
pub(crate) fn accepted(run: &RunRecord) -> Response {
    let body = RunAccepted {
        run_id: run.run_id.clone(),
        session_id: run.session_id.clone(),
        status: run.status,
    };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// The response to a background run request: 202 `{run_id, session_id, status: PENDING}`, or,
/// streamed, the run's journal from its first event (each with `event_index`). The run goes on
/// if the client leaves; `/resume` picks it up again.
fn background_answer(handle: RunHandle) -> Response {
    let RunHandle {
        run_id,
        session_id,
        journal,
        ..
    } = handle;
    match journal {
        Some(journal) => sse_response(journal_body(journal, 0, Vec::new())),
        None => {
            let body = RunAccepted {
                run_id,
                session_id,
                status: RunStatus::Pending,
            };
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
    }
}

/// A complete JSON body that holds the run's [`ResponseGuard`] until the server has taken the
/// last byte, so background hooks start only after the response is written.
struct GuardedBody {
    bytes: Option<Bytes>,
    _guard: ResponseGuard,
}

impl GuardedBody {
    fn json(bytes: Vec<u8>, guard: ResponseGuard) -> Response {
        let body = GuardedBody {
            bytes: Some(Bytes::from(bytes)),
            _guard: guard,
        };
        let mut response = Body::new(body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.bytes.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }
}
