//! agno's traces API: `GET /traces`, `GET /traces/filter-schema`, `GET /traces/{trace_id}`,
//! `GET /trace_session_stats`, `POST /traces/search` (agno 3.1.10's `os/routers/traces`), over
//! the traces `AgentOs::tracing(true)` stores.

use super::auth::Access;
use super::error::{ApiError, ErrorBody, ValidationErrorBody};
use super::page::PageMeta;
use super::trace_filter::{parse_filter, time_param};
use super::trace_tree::{SessionStats, TraceDetail, TraceNode, TraceSummary, detail, span_node};
use super::validation::{Params, at, check, enum_error, invalid, json_object};
use super::{AppState, Path};
use crate::http::api::{Api, routes};
use crate::store::{CmpOp, FilterValue, Page, TraceField, TraceFilter};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Instant;
use utoipa::ToSchema;

pub(crate) fn router() -> Api {
    [
        routes!(list_traces),
        routes!(filter_schema),
        routes!(get_trace),
        routes!(session_stats),
        routes!(search_traces),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

/// The OpenAPI tag of these routes.
const TAG: &str = "Traces";

/// A page of traces.
#[derive(Debug, Serialize, ToSchema)]
struct TraceList {
    data: Vec<TraceSummary>,
    meta: PageMeta,
}

/// A page of session statistics.
#[derive(Debug, Serialize, ToSchema)]
struct SessionStatsList {
    data: Vec<SessionStats>,
    meta: PageMeta,
}

/// A page of traces with their span trees.
#[derive(Debug, Serialize, ToSchema)]
struct TraceDetailList {
    data: Vec<TraceDetail>,
    meta: PageMeta,
}

fn meta(page: Page, total: u64, started: Instant) -> PageMeta {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    PageMeta {
        page: page.page.into(),
        limit: page.limit.into(),
        total_pages: total.div_ceil(u64::from(page.limit.max(1))),
        total_count: total,
        search_time_ms: Some((ms * 100.0).round() / 100.0),
    }
}

/// The equality filters of the GET routes (`run_id=`, `agent_id=`, ...), and `start_time` /
/// `end_time` on `on_start` / `on_end`.
fn query_filter(
    q: &Params,
    keys: &[(&str, TraceField)],
    on_start: TraceField,
    on_end: TraceField,
) -> Result<TraceFilter, ApiError> {
    let mut parts: Vec<TraceFilter> = keys
        .iter()
        .filter_map(|(key, field)| {
            q.get(key)
                .map(|v| TraceFilter::Cmp(*field, CmpOp::Eq, FilterValue::Text(v.to_owned())))
        })
        .collect();
    if let Some(v) = q.get("start_time") {
        let t = time_param("start_time", v)?;
        parts.push(TraceFilter::Cmp(
            on_start,
            CmpOp::Gte,
            FilterValue::Number(t),
        ));
    }
    if let Some(v) = q.get("end_time") {
        let t = time_param("end_time", v)?;
        parts.push(TraceFilter::Cmp(on_end, CmpOp::Lte, FilterValue::Number(t)));
    }
    Ok(TraceFilter::And(parts))
}

/// List traces, latest first, paged
#[utoipa::path(
    get, path = "/traces", tag = TAG,
    params(
        ("run_id" = Option<String>, Query, description = "Only this run's traces"),
        ("session_id" = Option<String>, Query, description = "Only this session's traces"),
        ("user_id" = Option<String>, Query, description = "Only this user's traces"),
        ("agent_id" = Option<String>, Query, description = "Only this agent's traces"),
        ("team_id" = Option<String>, Query, description = "Only this team's traces"),
        ("workflow_id" = Option<String>, Query, description = "Only this workflow's traces"),
        ("status" = Option<String>, Query, description = "`OK` or `ERROR`"),
        ("start_time" = Option<String>, Query, description = "Traces starting at or after this ISO-8601 time"),
        ("end_time" = Option<String>, Query, description = "Traces ending at or before this ISO-8601 time"),
        ("page" = Option<u64>, Query, minimum = 0, description = "Page, from 1 (default 1)"),
        ("limit" = Option<u64>, Query, minimum = 1, description = "Traces per page (default 20)"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
    ),
    responses(
        (status = 200, description = "One page of traces", body = TraceList),
        (status = 400, description = "A time that is not ISO 8601", body = ErrorBody),
        (status = 422, description = "A parameter out of range or of the wrong type", body = ValidationErrorBody),
    )
)]
async fn list_traces(
    State(rt): State<AppState>,
    access: Access,
    RawQuery(raw): RawQuery,
) -> Result<Json<TraceList>, ApiError> {
    let started = Instant::now();
    let q = Params::parse(raw)?;
    let mut errors = Vec::new();
    let page = q.int("page", Some(1), 0, None, &mut errors);
    let limit = q.int("limit", Some(20), 1, None, &mut errors);
    check(errors)?;
    let page = Page {
        page: page.unwrap_or(1).clamp(1, i64::from(u32::MAX)) as u32,
        limit: limit.unwrap_or(20).clamp(1, 10_000) as u32,
    };
    let filter = query_filter(
        &q,
        &[
            ("run_id", TraceField::RunId),
            ("session_id", TraceField::SessionId),
            ("user_id", TraceField::UserId),
            ("agent_id", TraceField::AgentId),
            ("team_id", TraceField::TeamId),
            ("workflow_id", TraceField::WorkflowId),
            ("status", TraceField::Status),
        ],
        TraceField::StartTime,
        TraceField::EndTime,
    )?;
    let filter = scoped(&access, filter)?;
    let (traces, total) = rt.store.list_traces(&filter, page).await?;
    Ok(Json(TraceList {
        data: traces.into_iter().map(TraceSummary::of).collect(),
        meta: meta(page, total, started),
    }))
}

/// The fields, operators and values `POST /traces/search` filters on
#[utoipa::path(
    get, path = "/traces/filter-schema", tag = TAG,
    responses((status = 200, description = "agno's filter schema", body = Object))
)]
async fn filter_schema() -> Json<Value> {
    let text = ["EQ", "NEQ", "CONTAINS", "STARTSWITH", "IN"];
    let times = ["GT", "GTE", "LT", "LTE"];
    let field = |key: &str, label: &str| json!({"key": key, "label": label, "type": "string", "operators": text});
    let time = |key: &str, label: &str| json!({"key": key, "label": label, "type": "datetime", "operators": times});
    Json(json!({
        "fields": [
            {"key": "status", "label": "Status", "type": "enum", "operators": ["EQ", "NEQ", "IN"], "values": ["OK", "ERROR"]},
            field("user_id", "User ID"),
            field("agent_id", "Agent ID"),
            field("team_id", "Team ID"),
            field("workflow_id", "Workflow ID"),
            field("session_id", "Session ID"),
            field("run_id", "Run ID"),
            {"key": "name", "label": "Trace Name", "type": "string", "operators": ["EQ", "NEQ", "CONTAINS", "STARTSWITH"]},
            field("trace_id", "Trace ID"),
            {"key": "duration_ms", "label": "Duration (ms)", "type": "number", "operators": ["EQ", "NEQ", "GT", "GTE", "LT", "LTE"]},
            time("start_time", "Start Time"),
            time("end_time", "End Time"),
            time("created_at", "Created At"),
        ],
        "logical_operators": ["AND", "OR"],
    }))
}

/// A trace with its span tree, or one of its spans
#[utoipa::path(
    get, path = "/traces/{trace_id}", tag = TAG,
    params(
        ("trace_id" = String, Path, description = "The trace's id (32 hex digits)"),
        ("span_id" = Option<String>, Query, description = "Only this span of the trace"),
        ("run_id" = Option<String>, Query, description = "Accepted for agno's clients"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
    ),
    responses(
        (status = 200, description = "The trace with its span tree (`TraceDetail`), or the span (`TraceNode`)", body = TraceDetail),
        (status = 404, description = "No such trace, or no such span in it", body = ErrorBody),
    )
)]
async fn get_trace(
    State(rt): State<AppState>,
    access: Access,
    Path(trace_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw)?;
    let Some(span_id) = q.get("span_id") else {
        let (trace, spans) = rt
            .store
            .trace_detail(Some(&trace_id), q.get("run_id"))
            .await?
            .filter(|(trace, _)| visible(&access, trace.user_id.as_deref()))
            .ok_or_else(|| ApiError::not_found("Trace not found"))?;
        return Ok(Json(detail(trace, spans)).into_response());
    };
    let trace = rt
        .store
        .get_trace(Some(&trace_id), q.get("run_id"))
        .await?
        .filter(|trace| visible(&access, trace.user_id.as_deref()))
        .ok_or_else(|| ApiError::not_found("Trace not found"))?;
    let span = rt
        .store
        .get_span(span_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Span not found"))?;
    if span.trace_id != trace.trace_id {
        return Err(ApiError::not_found(format!(
            "Span {span_id} does not belong to trace {trace_id}"
        )));
    }
    let node: TraceNode = span_node(span);
    Ok(Json(node).into_response())
}

/// Traces grouped by session, the latest first, paged
#[utoipa::path(
    get, path = "/trace_session_stats", tag = TAG,
    params(
        ("user_id" = Option<String>, Query, description = "Only this user's sessions"),
        ("agent_id" = Option<String>, Query, description = "Only this agent's sessions"),
        ("team_id" = Option<String>, Query, description = "Only this team's sessions"),
        ("workflow_id" = Option<String>, Query, description = "Only this workflow's sessions"),
        ("start_time" = Option<String>, Query, description = "Traces created at or after this ISO-8601 time"),
        ("end_time" = Option<String>, Query, description = "Traces created at or before this ISO-8601 time"),
        ("page" = Option<u64>, Query, minimum = 1, description = "Page, from 1 (default 1)"),
        ("limit" = Option<u64>, Query, minimum = 1, description = "Sessions per page (default 20)"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
    ),
    responses(
        (status = 200, description = "One page of sessions", body = SessionStatsList),
        (status = 400, description = "A time that is not ISO 8601", body = ErrorBody),
        (status = 422, description = "A parameter out of range or of the wrong type", body = ValidationErrorBody),
    )
)]
async fn session_stats(
    State(rt): State<AppState>,
    access: Access,
    RawQuery(raw): RawQuery,
) -> Result<Json<SessionStatsList>, ApiError> {
    let started = Instant::now();
    let q = Params::parse(raw)?;
    let mut errors = Vec::new();
    let page = q.int("page", Some(1), 1, None, &mut errors);
    let limit = q.int("limit", Some(20), 1, None, &mut errors);
    check(errors)?;
    let page = Page {
        page: page.unwrap_or(1).clamp(1, i64::from(u32::MAX)) as u32,
        limit: limit.unwrap_or(20).clamp(1, 10_000) as u32,
    };
    let filter = query_filter(
        &q,
        &[
            ("user_id", TraceField::UserId),
            ("agent_id", TraceField::AgentId),
            ("team_id", TraceField::TeamId),
            ("workflow_id", TraceField::WorkflowId),
        ],
        TraceField::CreatedAt,
        TraceField::CreatedAt,
    )?;
    let filter = scoped(&access, filter)?;
    let (stats, total) = rt.store.trace_session_stats(&filter, page).await?;
    Ok(Json(SessionStatsList {
        data: stats.into_iter().map(SessionStats::of).collect(),
        meta: meta(page, total, started),
    }))
}

/// The body of `POST /traces/search`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
struct TraceSearchRequest {
    /// agno's FilterExpr: `{"op": "EQ", "key": "status", "value": "OK"}`, `{"op": "AND",
    /// "conditions": [...]}`, `{"op": "NOT", "condition": {...}}`, `{"op": "IN", "key",
    /// "values": [...]}`.
    #[schema(value_type = Option<Object>)]
    filter: Option<Value>,
    /// `run` (default: traces with their span trees) or `session` (session statistics).
    group_by: Option<String>,
    /// From 1 (default 1).
    page: Option<u32>,
    /// 1 to 100 (default 20).
    limit: Option<u32>,
}

/// Search traces with agno's filter expressions
///
/// `group_by: "run"` answers traces with their span trees (`TraceDetail`), `"session"` the
/// session statistics of the matching traces.
#[utoipa::path(
    post, path = "/traces/search", tag = TAG,
    request_body = TraceSearchRequest,
    responses(
        (status = 200, description = "One page of traces (`TraceDetail`) or sessions (`TraceSessionStats`)", body = TraceDetailList),
        (status = 400, description = "An invalid filter expression", body = ErrorBody),
        (status = 422, description = "A field out of range or of the wrong type", body = ValidationErrorBody),
    )
)]
async fn search_traces(
    State(rt): State<AppState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let group_by = match body.get("group_by") {
        None | Some(Value::Null) => Some("run"),
        Some(Value::String(s)) if s == "run" || s == "session" => Some(s.as_str()),
        Some(other) => {
            let text = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            errors.push(enum_error(
                at("body", "group_by"),
                &text,
                &["run", "session"],
            ));
            None
        }
    };
    let mut int = |name: &str, default: i64, max: Option<i64>| match body.get(name) {
        None | Some(Value::Null) => Some(default),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 && max.is_none_or(|m| n <= m) => Some(n),
            Some(_) => {
                let (kind, msg) = match max {
                    Some(m) if v.as_i64().is_some_and(|n| n > m) => (
                        "less_than_equal",
                        format!("Input should be less than or equal to {m}"),
                    ),
                    _ => (
                        "greater_than_equal",
                        "Input should be greater than or equal to 1".to_owned(),
                    ),
                };
                errors.push(invalid(kind, at("body", name), &msg, v.clone()));
                None
            }
            None => {
                errors.push(invalid(
                    "int_type",
                    at("body", name),
                    "Input should be a valid integer",
                    v.clone(),
                ));
                None
            }
        },
    };
    let page = int("page", 1, None);
    let limit = int("limit", 20, Some(100));
    let filter = match body.get("filter") {
        None | Some(Value::Null) => TraceFilter::All,
        Some(f @ Value::Object(_)) => parse_filter(f, 0)
            .map_err(|e| ApiError::bad_request(format!("Invalid filter expression: {e}")))?,
        Some(other) => {
            errors.push(invalid(
                "dict_type",
                at("body", "filter"),
                "Input should be a valid dictionary",
                other.clone(),
            ));
            TraceFilter::All
        }
    };
    check(errors)?;
    let page = Page {
        page: page.unwrap_or(1).min(i64::from(u32::MAX)) as u32,
        limit: limit.unwrap_or(20) as u32,
    };
    if group_by == Some("session") {
        let filter = scoped(&access, filter)?;
        let (stats, total) = rt.store.trace_session_stats(&filter, page).await?;
        return Ok(Json(SessionStatsList {
            data: stats.into_iter().map(SessionStats::of).collect(),
            meta: meta(page, total, started),
        })
        .into_response());
    }
    let filter = scoped(&access, filter)?;
    let (traces, total) = rt.store.list_traces(&filter, page).await?;
    let mut data = Vec::with_capacity(traces.len());
    for trace in traces {
        let spans = rt.store.trace_spans(&trace.trace_id).await?;
        data.push(detail(trace, spans));
    }
    Ok(Json(TraceDetailList {
        data,
        meta: meta(page, total, started),
    })
    .into_response())
}

/// `filter` limited to the caller's traces when the caller is scoped to a user (JWT with user
/// isolation, a service account): one user's traces are invisible to another.
fn scoped(access: &Access, filter: TraceFilter) -> Result<TraceFilter, ApiError> {
    Ok(match access.scoped_user_id()? {
        None => filter,
        Some(user) => {
            let mine = TraceFilter::Cmp(
                TraceField::UserId,
                CmpOp::Eq,
                FilterValue::Text(user.to_owned()),
            );
            TraceFilter::And(vec![mine, filter])
        }
    })
}

/// Whether a trace of `user` may be shown to the caller (another user's is not found).
fn visible(access: &Access, user: Option<&str>) -> bool {
    match access.scoped_user_id() {
        Ok(None) => true,
        Ok(Some(me)) => user == Some(me),
        Err(_) => false,
    }
}
