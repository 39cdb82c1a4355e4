//! Finished spans as agno's trace rows: [`StoreSink`] groups a batch by trace, turns each span
//! into a `spans` row and each group into the aggregate merged into its `traces` row.
//!
//! HTTP server spans are exported over OTLP but not stored: agno's traces are runs, and a
//! trace per request (the UI polling `/traces` included) would bury them. A run's span (the one
//! carrying `agentos.run.id`) names its trace and gives it the run's context.

use crate::store::{SpanRecord, Store, TraceBatch, TraceRecord};
use crate::telemetry::{SpanData, SpanSink};
use futures::future::BoxFuture;
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, Value};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

/// Writes span batches to the store's traces domain.
pub(super) struct StoreSink(pub Arc<dyn Store>);

impl SpanSink for StoreSink {
    fn write<'a>(&'a self, spans: &'a [SpanData]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let batches = batches(spans, micros(SystemTime::now()));
            if batches.is_empty() {
                return Ok(());
            }
            self.0
                .write_traces(batches)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I64(n) => Json::from(*n),
        Value::F64(f) => Json::from(*f),
        Value::String(s) => Json::String(s.as_str().to_owned()),
        Value::Array(Array::Bool(v)) => Json::from(v.clone()),
        Value::Array(Array::I64(v)) => Json::from(v.clone()),
        Value::Array(Array::F64(v)) => Json::from(v.clone()),
        Value::Array(Array::String(v)) => Json::Array(
            v.iter()
                .map(|s| Json::String(s.as_str().to_owned()))
                .collect(),
        ),
        other => Json::String(other.to_string()),
    }
}

fn kind(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "CLIENT",
        SpanKind::Server => "SERVER",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Internal => "INTERNAL",
    }
}

/// One span as its row, and its attributes as a JSON object.
fn row(span: &SpanData, now: i64) -> (SpanRecord, Map<String, Json>) {
    let attributes: Map<String, Json> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.as_str().to_owned(), json(&kv.value)))
        .collect();
    let (status_code, status_message) = match &span.status {
        Status::Unset => ("UNSET", None),
        Status::Ok => ("OK", None),
        Status::Error { description } => ("ERROR", Some(description.to_string())),
    };
    let (start, end) = (micros(span.start_time), micros(span.end_time));
    let record = SpanRecord {
        span_id: format!("{:016x}", span.span_context.span_id()),
        trace_id: format!("{:032x}", span.span_context.trace_id()),
        parent_span_id: (span.parent_span_id != SpanId::INVALID)
            .then(|| format!("{:016x}", span.parent_span_id)),
        name: span.name.to_string(),
        span_kind: kind(&span.span_kind).to_owned(),
        status_code: status_code.to_owned(),
        status_message,
        start_time: start,
        end_time: end.max(start),
        duration_ms: (end - start).max(0) / 1000,
        attributes: Json::Object(attributes.clone()).to_string(),
        created_at: now,
    };
    (record, attributes)
}

fn text(attributes: &Map<String, Json>, key: &str) -> Option<String> {
    attributes
        .get(key)
        .and_then(Json::as_str)
        .map(str::to_owned)
}

/// The batch grouped by trace, HTTP server spans left out, each group with its aggregate.
pub(super) fn batches(spans: &[SpanData], now: i64) -> Vec<TraceBatch> {
    let mut by_trace: BTreeMap<String, (TraceRecord, Vec<SpanRecord>, Option<i64>)> =
        BTreeMap::new();
    for span in spans.iter().filter(|s| s.span_kind != SpanKind::Server) {
        let (record, attributes) = row(span, now);
        let entry = by_trace.entry(record.trace_id.clone()).or_insert_with(|| {
            let empty = TraceRecord {
                trace_id: record.trace_id.clone(),
                name: record.name.clone(),
                status: "OK".to_owned(),
                start_time: record.start_time,
                end_time: record.end_time,
                duration_ms: 0,
                total_spans: 0,
                error_count: 0,
                run_id: None,
                session_id: None,
                user_id: None,
                agent_id: None,
                team_id: None,
                workflow_id: None,
                input: None,
                created_at: now,
            };
            (empty, Vec::new(), None)
        });
        let (trace, rows, run_start) = entry;
        trace.start_time = trace.start_time.min(record.start_time);
        trace.end_time = trace.end_time.max(record.end_time);
        trace.total_spans += 1;
        if record.status_code == "ERROR" {
            trace.error_count += 1;
            trace.status = "ERROR".to_owned();
        }
        // The earliest run span of the batch gives the trace its name and context.
        if let Some(run_id) = text(&attributes, "agentos.run.id")
            && run_start.is_none_or(|t| record.start_time < t)
        {
            *run_start = Some(record.start_time);
            trace.name = record.name.clone();
            trace.run_id = Some(run_id);
            trace.session_id = text(&attributes, "session.id");
            trace.user_id = text(&attributes, "user.id");
            trace.input = text(&attributes, "input.value");
            let id = text(&attributes, "agentos.component.id");
            let (mut agent, mut team, mut workflow) = (None, None, None);
            match text(&attributes, "agentos.component.kind").as_deref() {
                Some("agent") => agent = id,
                Some("team") => team = id,
                Some("workflow") => workflow = id,
                _ => {}
            }
            (trace.agent_id, trace.team_id, trace.workflow_id) = (agent, team, workflow);
        }
        rows.push(record);
    }
    by_trace
        .into_values()
        .map(|(mut trace, spans, _)| {
            trace.duration_ms = (trace.end_time - trace.start_time).max(0) / 1000;
            TraceBatch { trace, spans }
        })
        .collect()
}
