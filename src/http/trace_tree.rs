//! agno's trace shapes built from stored rows: `TraceSummary`, `TraceNode` (a span, with its
//! children), `TraceDetail` (a trace with its span tree) and `TraceSessionStats`.
//!
//! agno derives a span's `type` and `metadata` from OpenInference attributes; agentos records
//! OpenTelemetry's GenAI ones, read here: `gen_ai.operation.name` `invoke_agent` → `AGENT`
//! (`TEAM` for a team), `invoke_workflow` → `WORKFLOW`, `chat` → `LLM`, `execute_tool` →
//! `TOOL`; workflow steps that are not agents → `CHAIN`, job attempts → `JOB`, store writes →
//! `DB`.

use crate::store::{SpanRecord, TraceRecord, TraceSessionStats};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

/// Unix microseconds as pydantic writes a UTC datetime (`2025-11-19T10:30:00.123456Z`).
pub(super) fn iso_micros(micros: i64) -> String {
    let t = chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default();
    match micros % 1_000_000 {
        0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        _ => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    }
}

/// agno's `format_duration_ms`: `150ms`, `1.50s`.
pub(super) fn duration(ms: i64) -> String {
    match ms < 1000 {
        true => format!("{}ms", ms.max(0)),
        false => format!("{:.2}s", ms as f64 / 1000.0),
    }
}

/// agno's `TraceSummary`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TraceSummary {
    trace_id: String,
    name: String,
    /// `OK` or `ERROR`.
    status: String,
    /// `150ms`, `1.50s`.
    duration: String,
    start_time: String,
    end_time: String,
    total_spans: i64,
    error_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_id: Option<String>,
    created_at: String,
}

impl TraceSummary {
    pub(super) fn of(t: TraceRecord) -> TraceSummary {
        TraceSummary {
            duration: duration(t.duration_ms),
            start_time: iso_micros(t.start_time),
            end_time: iso_micros(t.end_time),
            created_at: iso_micros(t.created_at),
            trace_id: t.trace_id,
            name: t.name,
            status: t.status,
            total_spans: t.total_spans,
            error_count: t.error_count,
            input: t.input,
            run_id: t.run_id,
            session_id: t.session_id,
            user_id: t.user_id,
            agent_id: t.agent_id,
            team_id: t.team_id,
            workflow_id: t.workflow_id,
        }
    }
}

/// agno's `TraceSessionStats`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SessionStats {
    session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_id: Option<String>,
    total_traces: i64,
    first_trace_at: String,
    last_trace_at: String,
}

impl SessionStats {
    pub(super) fn of(s: TraceSessionStats) -> SessionStats {
        SessionStats {
            first_trace_at: iso_micros(s.first_trace_at),
            last_trace_at: iso_micros(s.last_trace_at),
            session_id: s.session_id,
            user_id: s.user_id,
            agent_id: s.agent_id,
            team_id: s.team_id,
            workflow_id: s.workflow_id,
            total_traces: s.total_traces,
        }
    }
}

/// agno's `TraceNode`: a span and its children.
#[derive(Debug, Serialize, ToSchema)]
#[schema(no_recursion)]
pub(super) struct TraceNode {
    id: String,
    name: String,
    /// `AGENT`, `TEAM`, `WORKFLOW`, `LLM`, `TOOL`, `CHAIN`, `JOB` or `DB`.
    #[serde(rename = "type")]
    kind: String,
    duration: String,
    start_time: String,
    end_time: String,
    /// `OK`, `ERROR` or `UNSET`.
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spans: Option<Vec<TraceNode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    metadata: Option<Map<String, Value>>,
}

/// agno's `TraceDetail`: a trace with its span tree.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TraceDetail {
    trace_id: String,
    name: String,
    status: String,
    duration: String,
    start_time: String,
    end_time: String,
    total_spans: i64,
    error_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_id: Option<String>,
    created_at: String,
    tree: Vec<TraceNode>,
}

/// A stored span with its attributes parsed.
struct Span {
    row: SpanRecord,
    attrs: Map<String, Value>,
}

impl Span {
    fn new(row: SpanRecord) -> Span {
        let attrs = match serde_json::from_str(&row.attributes) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Span { row, attrs }
    }

    fn text(&self, key: &str) -> Option<String> {
        match self.attrs.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    fn int(&self, key: &str) -> i64 {
        self.attrs.get(key).and_then(Value::as_i64).unwrap_or(0)
    }

    fn kind(&self) -> &'static str {
        let op = self
            .attrs
            .get("gen_ai.operation.name")
            .and_then(Value::as_str);
        let component = self
            .attrs
            .get("agentos.component.kind")
            .and_then(Value::as_str);
        match (op, component) {
            (Some("invoke_agent"), Some("team")) => "TEAM",
            (Some("invoke_agent"), _) => "AGENT",
            (Some("invoke_workflow"), _) => "WORKFLOW",
            (Some("chat"), _) => "LLM",
            (Some("execute_tool"), _) => "TOOL",
            _ if self.attrs.contains_key("agentos.step.type") => "CHAIN",
            _ if self.attrs.contains_key("agentos.job.id") => "JOB",
            _ if self.attrs.contains_key("db.operation.name") => "DB",
            _ => "UNKNOWN",
        }
    }

    fn error(&self) -> Option<String> {
        (self.row.status_code == "ERROR").then(|| {
            self.row
                .status_message
                .clone()
                .or_else(|| self.text("exception.message"))
                .unwrap_or_default()
        })
    }

    /// agno's per-type metadata.
    fn metadata(&self) -> Option<Map<String, Value>> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v.filter(|v| !v.is_null() && v != &Value::from(0)) {
                m.insert(k.to_owned(), v);
            }
        };
        match self.kind() {
            "AGENT" | "TEAM" | "WORKFLOW" => {
                put("run_id", self.text("agentos.run.id").map(Value::from));
            }
            "LLM" => {
                put("model", self.text("gen_ai.request.model").map(Value::from));
                put(
                    "input_tokens",
                    Some(self.int("gen_ai.usage.input_tokens").into()),
                );
                put(
                    "output_tokens",
                    Some(self.int("gen_ai.usage.output_tokens").into()),
                );
            }
            "TOOL" => {
                put("tool_name", self.text("gen_ai.tool.name").map(Value::from));
                put(
                    "parameters",
                    self.text("gen_ai.tool.call.arguments").map(Value::from),
                );
            }
            "JOB" => {
                put("job_id", self.text("agentos.job.id").map(Value::from));
                put("attempt", self.attrs.get("agentos.job.attempt").cloned());
            }
            _ => {}
        }
        put("session_id", self.text("session.id").map(Value::from));
        put("user_id", self.text("user.id").map(Value::from));
        (!m.is_empty()).then_some(m)
    }

    fn node(&self, children: Option<Vec<TraceNode>>) -> TraceNode {
        let error = self.error();
        TraceNode {
            id: self.row.span_id.clone(),
            name: self.row.name.clone(),
            kind: self.kind().to_owned(),
            duration: duration(self.row.duration_ms),
            start_time: iso_micros(self.row.start_time),
            end_time: iso_micros(self.row.end_time),
            status: self.row.status_code.clone(),
            input: self.text("input.value"),
            output: match error {
                Some(_) => None,
                None => self.text("output.value"),
            },
            error,
            spans: children,
            step_type: self.text("agentos.step.type"),
            metadata: self.metadata(),
        }
    }
}

/// One span on its own (`GET /traces/{id}?span_id=`).
pub(super) fn span_node(row: SpanRecord) -> TraceNode {
    Span::new(row).node(None)
}

/// A trace with its span tree. Roots are the spans whose parent is not stored (the HTTP
/// request, a caller's span, or none); each root gets the trace's timing and token totals.
pub(super) fn detail(trace: TraceRecord, rows: Vec<SpanRecord>) -> TraceDetail {
    let spans: Vec<Span> = rows.into_iter().map(Span::new).collect();
    let ids: HashSet<&str> = spans.iter().map(|s| s.row.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match s.row.parent_span_id.as_deref().filter(|p| ids.contains(p)) {
            Some(parent) => children.entry(parent).or_default().push(i),
            None => roots.push(i),
        }
    }
    let (mut input_tokens, mut output_tokens) = (0, 0);
    for s in spans.iter().filter(|s| s.kind() == "LLM") {
        input_tokens += s.int("gen_ai.usage.input_tokens");
        output_tokens += s.int("gen_ai.usage.output_tokens");
    }
    fn build(i: usize, spans: &[Span], children: &HashMap<&str, Vec<usize>>) -> TraceNode {
        let kids = children.get(spans[i].row.span_id.as_str()).map(|c| {
            let mut c = c.clone();
            c.sort_by_key(|&k| spans[k].row.start_time);
            c.into_iter().map(|k| build(k, spans, children)).collect()
        });
        spans[i].node(kids)
    }
    roots.sort_by_key(|&i| spans[i].row.start_time);
    let first_root = roots.first().map(|&i| &spans[i]);
    let (input, output, error) = match first_root {
        Some(root) => {
            let error = root.error().or_else(|| {
                (trace.status == "ERROR")
                    .then(|| root.row.status_message.clone())
                    .flatten()
            });
            let output = match error {
                Some(_) => None,
                None => root.text("output.value"),
            };
            (
                root.text("input.value").or(trace.input.clone()),
                output,
                error,
            )
        }
        None => (trace.input.clone(), None, None),
    };
    let tree = roots
        .iter()
        .map(|&i| {
            let mut node = build(i, &spans, &children);
            // The root carries the trace's own timing and totals, not its input and output
            // (they are the trace's, above).
            node.input = None;
            node.output = None;
            node.error = None;
            node.duration = duration(trace.duration_ms);
            node.start_time = iso_micros(trace.start_time);
            node.end_time = iso_micros(trace.end_time);
            let mut meta = Map::new();
            if input_tokens > 0 {
                meta.insert("total_input_tokens".into(), input_tokens.into());
            }
            if output_tokens > 0 {
                meta.insert("total_output_tokens".into(), output_tokens.into());
            }
            node.metadata = (!meta.is_empty()).then_some(meta);
            node
        })
        .collect();
    TraceDetail {
        duration: duration(trace.duration_ms),
        start_time: iso_micros(trace.start_time),
        end_time: iso_micros(trace.end_time),
        created_at: iso_micros(trace.created_at),
        trace_id: trace.trace_id,
        name: trace.name,
        status: trace.status,
        total_spans: trace.total_spans,
        error_count: trace.error_count,
        input,
        output,
        error,
        run_id: trace.run_id,
        session_id: trace.session_id,
        user_id: trace.user_id,
        agent_id: trace.agent_id,
        team_id: trace.team_id,
        workflow_id: trace.workflow_id,
        tree,
    }
}
