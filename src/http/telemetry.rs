//! Every request as a span (`POST /agents/{agent_id}/runs`, kind server, its W3C
//! `traceparent` honoured) and as Prometheus counts by method, matched route and status; and
//! the Prometheus exposition itself. Installed only when tracing or metrics are on: otherwise
//! a request passes through no layer of this module.

use super::AppState;
use crate::telemetry::attach_route;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

/// The route template a request matched (`/agents/{agent_id}/runs`), without the trailing
/// slash the router also accepts; `unmatched` for the fallbacks.
fn route_of(req: &Request) -> String {
    match req.extensions().get::<MatchedPath>() {
        Some(path) => {
            let p = path.as_str();
            match p.len() > 1 && p.ends_with('/') {
                true => p[..p.len() - 1].to_owned(),
                false => p.to_owned(),
            }
        }
        None => "unmatched".to_owned(),
    }
}

/// The request's span and counts.
pub(super) async fn observe(State(rt): State<AppState>, req: Request, next: Next) -> Response {
    let route = route_of(&req);
    let method = req.method().clone();
    let span = tracing::info_span!(
        target: "agentos::http",
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = route.as_str(),
        url.path = req.uri().path(),
        http.response.status_code = Empty,
    );
    if let Some(trace_route) = rt.telemetry.route {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        attach_route(
            &span,
            trace_route,
            header("traceparent"),
            header("tracestate"),
        );
    }
    let started = rt.telemetry.metrics.as_ref().map(|_| Instant::now());
    let response = match span.is_disabled() {
        true => next.run(req).await,
        false => next.run(req).instrument(span.clone()).await,
    };
    let status = response.status();
    if !span.is_disabled() {
        span.record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() {
            span.record("otel.status_code", "error");
        }
    }
    if let (Some(m), Some(started)) = (&rt.telemetry.metrics, started) {
        let method = method.as_str();
        m.count(
            "agentos_http_requests_total",
            &[
                ("method", method),
                ("route", &route),
                ("status", status.as_str()),
            ],
            1,
        );
        m.observe(
            "agentos_http_request_duration_seconds",
            &[("method", method), ("route", &route)],
            started.elapsed().as_secs_f64(),
        );
    }
    response
}

/// The Prometheus exposition (text format 0.0.4); the gauges read at scrape time are set
/// first: runs in flight, jobs by kind and state, the oldest due job's wait, span export.
pub(super) async fn prometheus(State(rt): State<AppState>) -> Response {
    let Some(metrics) = rt.telemetry.metrics.clone() else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    metrics.set_in_flight(rt.runs_in_flight());
    rt.telemetry.export_counts(&metrics);
    match rt.store.job_gauges().await {
        Ok(gauges) => {
            let now = crate::run::unix_millis();
            let mut oldest: std::collections::HashMap<&str, i64> = Default::default();
            for g in &gauges {
                metrics.set_gauge(
                    "agentos_jobs",
                    &[("kind", &g.kind), ("state", &g.status)],
                    g.count as f64,
                );
                if matches!(g.status.as_str(), "pending" | "failed") && g.oldest_due <= now {
                    let e = oldest.entry(g.kind.as_str()).or_insert(g.oldest_due);
                    *e = (*e).min(g.oldest_due);
                }
            }
            for g in &gauges {
                let wait = oldest
                    .get(g.kind.as_str())
                    .map_or(0.0, |t| (now - t) as f64 / 1000.0);
                metrics.set_gauge("agentos_job_oldest_due_seconds", &[("kind", &g.kind)], wait);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the job counts for Prometheus"),
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        metrics.render(),
    )
        .into_response()
}
