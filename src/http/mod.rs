//! The wire layer: axum routes (one file per resource), the form extractor, SSE, and
//! `{"detail": ...}` errors. Nothing below this module knows about axum.

mod agents;
mod auth;
mod cors;
mod docs;
mod edge;
mod error;
mod files;
mod form;
mod hooks;
mod info;
mod meta;
mod openapi;
mod runs;
pub(crate) mod serve;
mod session_schema;
mod sessions;
mod validation;
mod workflows;

pub(crate) use edge::{Edge, apply as with_edge};

use crate::runtime::{ResponseGuard, Runtime};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use error::ApiError;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub(crate) type AppState = Arc<Runtime>;

/// Every route, with agno's error bodies for unknown paths and methods.
pub(crate) fn api_router(runtime: Arc<Runtime>, max_body_bytes: usize) -> Router {
    Router::new()
        .merge(meta::router())
        .merge(workflows::router())
        .merge(agents::router())
        .merge(hooks::router())
        .merge(sessions::router())
        .merge(info::router())
        .merge(docs::router())
        .fallback(|| async { ApiError::not_found("Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(runtime)
}

/// Adds `path` and `path/` (agno strips a trailing slash; a nested router cannot rewrite the
/// path before routing, so both are registered).
pub(crate) fn route(
    router: Router<AppState>,
    path: &str,
    handler: MethodRouter<AppState>,
) -> Router<AppState> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}/"), handler)
}

/// `axum::extract::Query` whose rejection is our JSON 400 `{"detail"}` (axum's is plain text).
pub(crate) struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::bad_request(format!("Invalid query string: {}", e.body_text())))
    }
}

/// `axum::extract::Path` whose rejection is our JSON `{"detail"}` with axum's status.
pub(crate) struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::new(e.status(), format!("Invalid path: {}", e.body_text())))
    }
}

/// Unix milliseconds as agno's ISO-8601 UTC timestamp (`2026-11-24T01:27:44Z`).
pub(crate) fn iso(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A complete JSON body that holds the run's [`ResponseGuard`] until the server has taken the
/// last byte, so background hooks start only after the response is written.
pub(crate) struct GuardedBody {
    bytes: Option<Bytes>,
    _guard: ResponseGuard,
}

impl GuardedBody {
    pub(crate) fn json(bytes: Vec<u8>, guard: ResponseGuard) -> Response {
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
