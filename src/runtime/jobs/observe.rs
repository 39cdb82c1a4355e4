//! A job attempt as a span, in the trace of the run that made the job, and its lag and
//! outcome in the metrics.

use super::{Claimed, JobQueue, Outcome};
use crate::run::unix_millis;
use tracing::field::Empty;

impl JobQueue {
    /// The span of one attempt, in the trace of the run that made the job (its stored
    /// `traceparent`); and its lag, into the metrics.
    pub(super) fn attempt_span(
        &self,
        kind: &str,
        record: &Claimed,
        run_id: Option<&str>,
    ) -> tracing::Span {
        if let Some(m) = &self.metrics {
            let lag = (unix_millis() - record.due_at).max(0) as f64 / 1000.0;
            m.observe("agentos_job_lag_seconds", &[("kind", kind)], lag);
        }
        let span = tracing::info_span!(
            target: "agentos::job",
            "job",
            otel.name = %format_args!("{kind} {}", record.hook_name),
            otel.kind = "consumer",
            otel.status_code = Empty,
            otel.status_description = Empty,
            agentos.job.id = record.job_id.as_str(),
            agentos.job.kind = kind,
            agentos.job.name = record.hook_name.as_str(),
            agentos.job.attempt = i64::from(record.attempts),
            agentos.job.run_id = run_id,
            error.type = Empty,
        );
        if let Some(route) = self.route {
            crate::telemetry::follow(&span, route, record.trace_parent.as_deref());
        }
        span
    }
}

/// Records how an attempt ended on its span (nothing while tracing is off).
pub(super) fn end_attempt_span(span: &tracing::Span, outcome: &Outcome) {
    if span.is_disabled() {
        return;
    }
    match outcome {
        Outcome::Ok => {
            span.record("otel.status_code", "ok");
        }
        Outcome::Error(e) | Outcome::Panic(e) => {
            span.record("otel.status_code", "error");
            span.record("otel.status_description", e.as_str());
        }
        Outcome::Timeout => {
            span.record("otel.status_code", "error");
            span.record("error.type", "timeout");
        }
    }
}
