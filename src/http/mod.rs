//! The wire layer: axum routes (one module per resource, its wire types beside its handlers),
//! the form extractor, SSE, `{"detail": ...}` errors, and the OpenAPI document generated from
//! the handlers' annotations. Nothing below this module knows about axum.

mod agents;
pub(crate) mod api;
mod auth;
mod cors;
mod docs;
mod edge;
mod error;
mod fallback;
mod files;
mod form;
mod guard;
mod hooks;
mod info;
mod knowledge;
pub(crate) mod mcp;
mod memory;
mod meta;
mod openapi;
mod page;
mod py_json;
mod runs;
pub(crate) mod serve;
mod service_accounts;
mod sessions;
mod teams;
mod telemetry;
mod trace_filter;
mod trace_tree;
mod traces;
mod usage;
mod validation;
mod workflows;

pub use auth::{JwtConfig, RateLimit};
pub(crate) use edge::{Edge, apply as with_edge};

use crate::runtime::Runtime;
use api::Api;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use error::ApiError;
use std::sync::Arc;

pub(crate) type AppState = Arc<Runtime>;

/// Every route, its OpenAPI document and docs page, with agno's error bodies for unknown paths
/// and methods.
/// With tracing or metrics on, every request is observed (`telemetry.rs`); with metrics on,
/// `prometheus_path` serves the Prometheus exposition.
pub(crate) fn api_router(
    runtime: Arc<Runtime>,
    max_body_bytes: usize,
    prometheus_path: Option<&str>,
) -> Router {
    let (api, docs) = Api::default()
        .merge(meta::router())
        .merge(info::router())
        .merge(agents::router())
        .merge(teams::router())
        .merge(workflows::router())
        .merge(sessions::router())
        .merge(hooks::router())
        .merge(service_accounts::router())
        .merge(memory::router())
        .merge(knowledge::router())
        .merge(traces::router())
        .merge(usage::router())
        .split();
    let api = match prometheus_path {
        Some(path) if runtime.telemetry.metrics.is_some() => {
            api.route(path, axum::routing::get(telemetry::prometheus))
        }
        _ => api,
    };
    let observed = runtime.telemetry.route.is_some() || runtime.telemetry.metrics.is_some();
    let router = api
        .merge(openapi::router(docs))
        .merge(docs::router())
        .fallback(move |request: Request| fallback::not_found(max_body_bytes, request))
        .method_not_allowed_fallback(move |request: Request| {
            fallback::method_not_allowed(max_body_bytes, request)
        })
        .layer(DefaultBodyLimit::max(max_body_bytes));
    let router = match observed {
        true => router.layer(axum::middleware::from_fn_with_state(
            runtime.clone(),
            telemetry::observe,
        )),
        false => router,
    };
    router.with_state(runtime)
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
