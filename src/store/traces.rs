//! The traces domain (agno's `/traces`): one row per trace (`traces`, aggregated as its spans
//! arrive) and one per span (`spans`). Written in batches by the span exporter, off every run's
//! path; read by the traces API with agno's filters and its search DSL ([`TraceFilter`]).

use super::StoreError;
use async_trait::async_trait;

record! {
    /// A trace: its spans' aggregate, and the run it is about.
    #[derive(Debug, Clone, PartialEq)]
    pub struct TraceRecord {
        /// 32 hex digits.
        pub trace_id: String,
        /// The run span's name (`invoke_agent Assistant`), else the first span stored.
        pub name: String,
        /// `OK`, or `ERROR` when any span failed.
        pub status: String,
        /// Unix microseconds: the earliest span's start.
        pub start_time: i64,
        /// Unix microseconds: the latest span's end.
        pub end_time: i64,
        /// `end_time - start_time`, in milliseconds.
        pub duration_ms: i64,
        /// Spans stored.
        pub total_spans: i64,
        /// Spans with status `ERROR`.
        pub error_count: i64,
        /// The run's id.
        pub run_id: Option<String>,
        /// The run's session.
        pub session_id: Option<String>,
        /// The run's user.
        pub user_id: Option<String>,
        /// The agent, for an agent's run.
        pub agent_id: Option<String>,
        /// The team, for a team's run.
        pub team_id: Option<String>,
        /// The workflow, for a workflow's run.
        pub workflow_id: Option<String>,
        /// The run's input.
        pub input: Option<String>,
        /// Unix microseconds: when the trace was first stored.
        pub created_at: i64,
    }
}

record! {
    /// A finished span.
    #[derive(Debug, Clone, PartialEq)]
    pub struct SpanRecord {
        /// 16 hex digits.
        pub span_id: String,
        /// Its trace.
        pub trace_id: String,
        /// Its parent (possibly in another process: a caller's `traceparent`).
        pub parent_span_id: Option<String>,
        /// `chat gpt-5.2`, `execute_tool add`, ...
        pub name: String,
        /// `INTERNAL`, `SERVER`, `CLIENT`, `PRODUCER` or `CONSUMER`.
        pub span_kind: String,
        /// `UNSET`, `OK` or `ERROR`.
        pub status_code: String,
        /// The error, for `ERROR`.
        pub status_message: Option<String>,
        /// Unix microseconds.
        pub start_time: i64,
        /// Unix microseconds.
        pub end_time: i64,
        /// In milliseconds.
        pub duration_ms: i64,
        /// Its attributes, a JSON object.
        pub attributes: String,
        /// Unix microseconds: when it was stored.
        pub created_at: i64,
    }
}

record! {
    /// The traces of one session.
    #[derive(Debug, Clone, PartialEq)]
    pub struct TraceSessionStats {
        /// The session.
        pub session_id: String,
        /// Its user, if any.
        pub user_id: Option<String>,
        /// Its agent, if any.
        pub agent_id: Option<String>,
        /// Its team, if any.
        pub team_id: Option<String>,
        /// Its workflow, if any.
        pub workflow_id: Option<String>,
        /// Traces of the session.
        pub total_traces: i64,
        /// Unix microseconds: the first trace's creation.
        pub first_trace_at: i64,
        /// Unix microseconds: the last trace's creation.
        pub last_trace_at: i64,
    }
}

/// A field of a trace that filters name (agno's filter schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceField {
    /// `trace_id`.
    TraceId,
    /// `name`.
    Name,
    /// `status`.
    Status,
    /// `start_time` (unix microseconds).
    StartTime,
    /// `end_time` (unix microseconds).
    EndTime,
    /// `duration_ms`.
    DurationMs,
    /// `run_id`.
    RunId,
    /// `session_id`.
    SessionId,
    /// `user_id`.
    UserId,
    /// `agent_id`.
    AgentId,
    /// `team_id`.
    TeamId,
    /// `workflow_id`.
    WorkflowId,
    /// `created_at` (unix microseconds).
    CreatedAt,
}

impl TraceField {
    /// The field named `key`, if filters may name it.
    pub fn parse(key: &str) -> Option<TraceField> {
        Some(match key {
            "trace_id" => TraceField::TraceId,
            "name" => TraceField::Name,
            "status" => TraceField::Status,
            "start_time" => TraceField::StartTime,
            "end_time" => TraceField::EndTime,
            "duration_ms" => TraceField::DurationMs,
            "run_id" => TraceField::RunId,
            "session_id" => TraceField::SessionId,
            "user_id" => TraceField::UserId,
            "agent_id" => TraceField::AgentId,
            "team_id" => TraceField::TeamId,
            "workflow_id" => TraceField::WorkflowId,
            "created_at" => TraceField::CreatedAt,
            _ => return None,
        })
    }

    /// Its column.
    pub fn column(self) -> &'static str {
        match self {
            TraceField::TraceId => "trace_id",
            TraceField::Name => "name",
            TraceField::Status => "status",
            TraceField::StartTime => "start_time",
            TraceField::EndTime => "end_time",
            TraceField::DurationMs => "duration_ms",
            TraceField::RunId => "run_id",
            TraceField::SessionId => "session_id",
            TraceField::UserId => "user_id",
            TraceField::AgentId => "agent_id",
            TraceField::TeamId => "team_id",
            TraceField::WorkflowId => "workflow_id",
            TraceField::CreatedAt => "created_at",
        }
    }

    /// True for the fields holding numbers (times in unix microseconds, durations).
    pub fn is_number(self) -> bool {
        matches!(
            self,
            TraceField::StartTime
                | TraceField::EndTime
                | TraceField::DurationMs
                | TraceField::CreatedAt
        )
    }
}

/// A value compared with a field: text, or a number for the numeric fields.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// Text.
    Text(String),
    /// A number (unix microseconds for times).
    Number(i64),
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`.
    Eq,
    /// `<>`.
    Neq,
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
    /// Substring, ignoring case.
    Contains,
    /// Prefix.
    StartsWith,
}

/// Which traces: agno's FilterExpr (`EQ`, `NEQ`, `GT`, `GTE`, `LT`, `LTE`, `IN`, `CONTAINS`,
/// `STARTSWITH`, `AND`, `OR`, `NOT`), with fields and values already checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TraceFilter {
    /// Every trace.
    #[default]
    All,
    /// `field op value`.
    Cmp(TraceField, CmpOp, FilterValue),
    /// `field` is one of the values.
    In(TraceField, Vec<FilterValue>),
    /// All of them.
    And(Vec<TraceFilter>),
    /// Any of them.
    Or(Vec<TraceFilter>),
    /// Not this.
    Not(Box<TraceFilter>),
}

/// A bound value of a compiled filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Number(i64),
}

impl TraceFilter {
    /// The SQL condition (`1=1` for every trace) and its binds, with `placeholder(n)` naming
    /// the n-th bind (from 1) and `ilike` the case-insensitive match operator.
    pub(crate) fn to_sql(
        &self,
        placeholder: &dyn Fn(usize) -> String,
        ilike: &str,
        binds: &mut Vec<Bind>,
    ) -> String {
        let bind = |value: &FilterValue, binds: &mut Vec<Bind>| {
            binds.push(match value {
                FilterValue::Text(t) => Bind::Text(t.clone()),
                FilterValue::Number(n) => Bind::Number(*n),
            });
            placeholder(binds.len())
        };
        match self {
            TraceFilter::All => "1=1".to_owned(),
            TraceFilter::Cmp(field, op, value) => {
                let col = field.column();
                let text = |v: &FilterValue| match v {
                    FilterValue::Text(t) => t.clone(),
                    FilterValue::Number(n) => n.to_string(),
                };
                match op {
                    CmpOp::Contains => {
                        let escaped = FilterValue::Text(format!("%{}%", like_escape(&text(value))));
                        format!("{col} {ilike} {} ESCAPE '\\'", bind(&escaped, binds))
                    }
                    CmpOp::StartsWith => {
                        let escaped = FilterValue::Text(format!("{}%", like_escape(&text(value))));
                        format!("{col} LIKE {} ESCAPE '\\'", bind(&escaped, binds))
                    }
                    op => {
                        let sql_op = match op {
                            CmpOp::Eq => "=",
                            CmpOp::Neq => "<>",
                            CmpOp::Gt => ">",
                            CmpOp::Gte => ">=",
                            CmpOp::Lt => "<",
                            _ => "<=",
                        };
                        let p = bind(value, binds);
                        match op {
                            // `NEQ` keeps the traces that have no value at all, as agno's does.
                            CmpOp::Neq => format!("({col} IS NULL OR {col} <> {p})"),
                            _ => format!("{col} {sql_op} {p}"),
                        }
                    }
                }
            }
            TraceFilter::In(field, values) if values.is_empty() => {
                let _ = field;
                "1=0".to_owned()
            }
            TraceFilter::In(field, values) => {
                let list: Vec<String> = values.iter().map(|v| bind(v, binds)).collect();
                format!("{} IN ({})", field.column(), list.join(", "))
            }
            TraceFilter::And(parts) | TraceFilter::Or(parts) if parts.is_empty() => {
                "1=1".to_owned()
            }
            TraceFilter::And(parts) => join(parts, " AND ", placeholder, ilike, binds),
            TraceFilter::Or(parts) => join(parts, " OR ", placeholder, ilike, binds),
            TraceFilter::Not(inner) => format!("NOT ({})", inner.to_sql(placeholder, ilike, binds)),
        }
    }
}

fn join(
    parts: &[TraceFilter],
    sep: &str,
    placeholder: &dyn Fn(usize) -> String,
    ilike: &str,
    binds: &mut Vec<Bind>,
) -> String {
    let parts: Vec<String> = parts
        .iter()
        .map(|p| format!("({})", p.to_sql(placeholder, ilike, binds)))
        .collect();
    parts.join(sep)
}

/// `text` with LIKE's wildcards escaped (escape character `\`).
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A page of results: 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The page, from 1.
    pub page: u32,
    /// Rows per page (at least 1).
    pub limit: u32,
}

impl Page {
    /// Rows to skip.
    pub fn offset(self) -> i64 {
        i64::from(self.page.max(1) - 1) * i64::from(self.limit.max(1))
    }
}

/// One batch of finished spans for a trace, with its aggregate to merge into the trace's row.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceBatch {
    /// The trace's aggregate over this batch (its counts are added to the stored ones; its
    /// context fields fill the stored ones that are still empty; its name replaces the stored
    /// one when the batch holds the run's span, `run_id` set).
    pub trace: TraceRecord,
    /// The batch's spans.
    pub spans: Vec<SpanRecord>,
}

/// agno's traces: written in batches, read by the traces API.
#[async_trait]
pub trait TraceStore: Send + Sync {
    /// Stores the spans of each batch and merges its aggregate into its trace's row, all in one
    /// transaction. A span already stored is not counted twice.
    async fn write_traces(&self, batches: Vec<TraceBatch>) -> Result<(), StoreError>;
    /// Traces matching `filter`, latest start first, and how many match in all.
    async fn list_traces(
        &self,
        filter: &TraceFilter,
        page: Page,
    ) -> Result<(Vec<TraceRecord>, u64), StoreError>;
    /// The trace `trace_id`, else the latest trace of the run `run_id`.
    async fn get_trace(
        &self,
        trace_id: Option<&str>,
        run_id: Option<&str>,
    ) -> Result<Option<TraceRecord>, StoreError>;
    /// The trace `trace_id` (else the latest of the run `run_id`) and its spans, earliest
    /// first, read from one snapshot: the aggregate agrees with the spans.
    async fn trace_detail(
        &self,
        trace_id: Option<&str>,
        run_id: Option<&str>,
    ) -> Result<Option<(TraceRecord, Vec<SpanRecord>)>, StoreError>;
    /// A trace's spans, earliest first.
    async fn trace_spans(&self, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError>;
    /// One span.
    async fn get_span(&self, span_id: &str) -> Result<Option<SpanRecord>, StoreError>;
    /// Traces grouped by session (traces without a session left out), the session with the
    /// latest trace first, and how many sessions match in all.
    async fn trace_session_stats(
        &self,
        filter: &TraceFilter,
        page: Page,
    ) -> Result<(Vec<TraceSessionStats>, u64), StoreError>;
}
