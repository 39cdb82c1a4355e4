//! W3C trace context: a root span's parent (the request's `traceparent`, a job's stored one, or
//! the current span) and its route, and the `traceparent` a job stores.

use super::export::TraceRoute;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A `traceparent` (and `tracestate`) to read a context from.
struct Headers<'a> {
    traceparent: &'a str,
    tracestate: Option<&'a str>,
}

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(self.traceparent),
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// Makes `span` a root of the `AgentOs` that `route` names: its parent is the remote span
/// `traceparent` names (a W3C `traceparent` header or a job's stored context; an invalid one
/// is ignored), else the current span. Does nothing to a disabled span.
pub(crate) fn attach_route(
    span: &Span,
    route: TraceRoute,
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) {
    if span.is_disabled() {
        return;
    }
    let remote = traceparent
        .map(|traceparent| {
            TraceContextPropagator::new().extract(&Headers {
                traceparent,
                tracestate,
            })
        })
        .filter(|cx| cx.span().span_context().is_valid());
    let parent = remote.unwrap_or_else(|| Span::current().context());
    let _ = span.set_parent(parent.with_value(route));
}

/// Makes `span` a root of `route` whose parent is the remote span `traceparent` names, or none:
/// a job attempt, in the trace of the run that made the job.
pub(crate) fn follow(span: &Span, route: TraceRoute, traceparent: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    let parent = traceparent
        .map(|traceparent| {
            TraceContextPropagator::new().extract(&Headers {
                traceparent,
                tracestate: None,
            })
        })
        .filter(|cx| cx.span().span_context().is_valid())
        .unwrap_or_default();
    let _ = span.set_parent(parent.with_value(route));
}

/// `span`'s W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), if it is recorded.
pub(crate) fn traceparent(span: &Span) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}
