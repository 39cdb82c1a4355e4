//! The answers for an unknown path (404) or method (405). The request body is read to its end
//! first: a server that answers while the client is still uploading, and closes the
//! connection with the upload unread, makes the client see a connection reset instead of the
//! answer (agno's Python client saw that when it posted a file to a wrong URL). Past the body
//! limit the upload is not read further: 413.

use super::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

/// 404 `Not Found`, once the body is read.
pub(crate) async fn not_found(limit: usize, request: Request) -> Response {
    after_body(limit, request, ApiError::not_found("Not Found")).await
}

/// 405 `Method Not Allowed`, once the body is read.
pub(crate) async fn method_not_allowed(limit: usize, request: Request) -> Response {
    let error = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    after_body(limit, request, error).await
}

async fn after_body(limit: usize, request: Request, error: ApiError) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let drained = match declared {
        Some(length) if length > limit as u64 => Err(too_large()),
        _ => drain(request.into_body(), limit).await,
    };
    match drained {
        Ok(()) => error.into_response(),
        Err(too_large) => {
            let mut response = too_large.into_response();
            // The rest of the upload stays unread: the connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// Reads `body` to its end, keeping nothing; 413 once more than `limit` bytes came. A body
/// that breaks off is the client's problem: the answer is sent all the same.
async fn drain(body: Body, limit: usize) -> Result<(), ApiError> {
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return Ok(()) };
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            return Err(too_large());
        }
    }
    Ok(())
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
}
