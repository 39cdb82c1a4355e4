//! agno's usage metrics: `GET /metrics` (daily aggregates of runs, sessions, users and tokens
//! per component kind), `POST /metrics/refresh` and `GET /metrics/refresh/status` (agno
//! 3.1.10's `os/routers/metrics`). The aggregates are recomputed from the runs by a refresh;
//! a read refreshes first when the last refresh is a minute old, as agno's does.

use super::error::{ApiError, ErrorBody, ValidationErrorBody};
use super::validation::{Params, at, check, invalid};
use super::{AppState, iso};
use crate::http::api::{Api, routes};
use crate::run::unix_millis;
use crate::store::{UsageRecord, refresh_usage};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub(crate) fn router() -> Api {
    [
        routes!(get_metrics),
        routes!(refresh_metrics),
        routes!(refresh_status),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

/// The OpenAPI tag of these routes.
const TAG: &str = "Metrics";

/// A read refreshes first when the last refresh is older than this (agno's minute).
const STALE_MS: i64 = 60_000;

/// agno's `DayAggregatedMetrics`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DayMetrics {
    /// `2025-07-31_daily` (`2025-07-31_<user>_daily` for one user's).
    id: String,
    agent_runs_count: i64,
    agent_sessions_count: i64,
    team_runs_count: i64,
    team_sessions_count: i64,
    workflow_runs_count: i64,
    workflow_sessions_count: i64,
    users_count: i64,
    /// `input_tokens`, `output_tokens`, `total_tokens`, and agno's other counters (0 here).
    #[schema(value_type = Object)]
    token_metrics: Map<String, Value>,
    /// `[{"model_id", "model_provider", "count"}]`.
    #[schema(value_type = Vec<Object>)]
    model_metrics: Vec<Value>,
    /// The day, at midnight UTC.
    date: String,
    created_at: String,
    updated_at: String,
}

/// agno's `MetricsResponse`.
#[derive(Debug, Serialize, ToSchema)]
struct MetricsResponse {
    metrics: Vec<DayMetrics>,
    /// The latest refresh that wrote these rows.
    updated_at: Option<String>,
}

/// agno's `MetricsRefreshStatusResponse`.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct RefreshStatus {
    /// `idle`, `running`, `completed` or `failed`.
    status: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    error: Option<String>,
}

/// One day's rows (one per user) as agno's aggregate, or as `user`'s row.
fn day_metrics(date: &str, rows: &[&UsageRecord], user: Option<&str>) -> DayMetrics {
    let sum = |f: fn(&UsageRecord) -> i64| rows.iter().map(|r| f(r)).sum::<i64>();
    let mut models: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in rows {
        if let Ok(Value::Array(list)) = serde_json::from_str::<Value>(&r.model_metrics) {
            for m in list {
                let id = m.get("model_id").and_then(Value::as_str).unwrap_or("");
                let provider = m
                    .get("model_provider")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let count = m.get("count").and_then(Value::as_i64).unwrap_or(0);
                *models
                    .entry((id.to_owned(), provider.to_owned()))
                    .or_default() += count;
            }
        }
    }
    let mut tokens = Map::new();
    for (k, v) in [
        ("input_tokens", sum(|r| r.input_tokens)),
        ("output_tokens", sum(|r| r.output_tokens)),
        ("total_tokens", sum(|r| r.total_tokens)),
        ("audio_total_tokens", 0),
        ("audio_input_tokens", 0),
        ("audio_output_tokens", 0),
        ("cache_read_tokens", 0),
        ("cache_write_tokens", 0),
        ("reasoning_tokens", 0),
    ] {
        tokens.insert(k.to_owned(), v.into());
    }
    DayMetrics {
        id: match user {
            Some(u) => format!("{date}_{u}_daily"),
            None => format!("{date}_daily"),
        },
        agent_runs_count: sum(|r| r.agent_runs_count),
        agent_sessions_count: sum(|r| r.agent_sessions_count),
        team_runs_count: sum(|r| r.team_runs_count),
        team_sessions_count: sum(|r| r.team_sessions_count),
        workflow_runs_count: sum(|r| r.workflow_runs_count),
        workflow_sessions_count: sum(|r| r.workflow_sessions_count),
        users_count: rows.iter().filter(|r| !r.user_id.is_empty()).count() as i64,
        token_metrics: tokens,
        model_metrics: models
            .into_iter()
            .map(|((id, provider), count)| {
                json!({"model_id": id, "model_provider": provider, "count": count})
            })
            .collect(),
        date: format!("{date}T00:00:00Z"),
        created_at: iso(rows.iter().map(|r| r.created_at).min().unwrap_or(0)),
        updated_at: iso(rows.iter().map(|r| r.updated_at).max().unwrap_or(0)),
    }
}

/// Rows as agno answers them: one per day, or `user`'s rows only.
pub(super) fn by_day(rows: &[UsageRecord], user: Option<&str>) -> Vec<DayMetrics> {
    let mut days: BTreeMap<&str, Vec<&UsageRecord>> = BTreeMap::new();
    for r in rows.iter().filter(|r| user.is_none_or(|u| r.user_id == u)) {
        days.entry(r.date.as_str()).or_default().push(r);
    }
    days.into_iter()
        .map(|(date, rows)| day_metrics(date, &rows, user))
        .collect()
}

/// A `YYYY-MM-DD` query parameter, or FastAPI's 422.
fn date_param(
    q: &Params,
    name: &str,
    errors: &mut Vec<super::error::ValidationError>,
) -> Option<String> {
    let raw = q.get(name)?;
    match chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
        Ok(d) => Some(d.format("%Y-%m-%d").to_string()),
        Err(_) => {
            errors.push(invalid(
                "date_from_datetime_parsing",
                at("query", name),
                "Input should be a valid date or datetime, invalid date separator",
                Value::from(raw),
            ));
            None
        }
    }
}

/// Refreshes the aggregates, recording the refresh's state; `None` if one is running.
async fn refresh(rt: &AppState) -> Option<Result<Vec<UsageRecord>, ApiError>> {
    if !rt.telemetry.begin_refresh(&iso(unix_millis())) {
        return None;
    }
    let result = refresh_usage(&*rt.store, unix_millis()).await;
    rt.telemetry.end_refresh(
        &iso(unix_millis()),
        result.as_ref().err().map(ToString::to_string),
    );
    Some(result.map_err(ApiError::from))
}

/// Daily usage metrics of every agent, team and workflow
#[utoipa::path(
    get, path = "/metrics", tag = TAG,
    params(
        ("starting_date" = Option<String>, Query, description = "First day (YYYY-MM-DD)"),
        ("ending_date" = Option<String>, Query, description = "Last day (YYYY-MM-DD)"),
        ("user_id" = Option<String>, Query, description = "Only this user's metrics"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
        ("table" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "One entry per day", body = MetricsResponse),
        (status = 422, description = "A date that is not YYYY-MM-DD", body = ValidationErrorBody),
    )
)]
async fn get_metrics(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<MetricsResponse>, ApiError> {
    let q = Params::parse(raw)?;
    let mut errors = Vec::new();
    let from = date_param(&q, "starting_date", &mut errors);
    let to = date_param(&q, "ending_date", &mut errors);
    check(errors)?;
    if rt.telemetry.refresh_is_stale(unix_millis(), STALE_MS)
        && let Some(Err(e)) = refresh(&rt).await
    {
        tracing::warn!(error = ?e, "could not refresh usage metrics before reading them");
    }
    let user = q.get("user_id");
    let rows = rt.store.usage(from.as_deref(), to.as_deref(), user).await?;
    let updated_at = rows.iter().map(|r| r.updated_at).max().map(iso);
    Ok(Json(MetricsResponse {
        metrics: by_day(&rows, user),
        updated_at,
    }))
}

/// Recompute the usage metrics from the runs
///
/// Answers the refreshed days; with `background=true`, 202 at once and the refresh runs in
/// the background (`GET /metrics/refresh/status` follows it).
#[utoipa::path(
    post, path = "/metrics/refresh", tag = TAG,
    params(
        ("background" = Option<bool>, Query, description = "Refresh in the background and answer 202 at once"),
        ("user_id" = Option<String>, Query, description = "Only this user's refreshed rows"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
        ("table" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "The refreshed days, or `already_running`", body = Vec<DayMetrics>),
        (status = 202, description = "`{\"status\": \"started\"}`, or `already_running`", body = Object),
        (status = 422, description = "`background` is not a boolean", body = ValidationErrorBody),
    )
)]
async fn refresh_metrics(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw)?;
    let background = match q.get("background").map(str::to_ascii_lowercase).as_deref() {
        None => false,
        Some("true" | "1" | "yes" | "on" | "t" | "y") => true,
        Some("false" | "0" | "no" | "off" | "f" | "n") => false,
        Some(other) => return Err(ApiError::bad_bool("background", other)),
    };
    let already = || {
        json!({"status": "already_running",
               "message": "A metrics refresh is already in progress for this database"})
    };
    if background {
        if !rt.telemetry.begin_refresh(&iso(unix_millis())) {
            return Ok((StatusCode::ACCEPTED, Json(already())).into_response());
        }
        let task = rt.clone();
        rt.spawn_background(async move {
            let result = refresh_usage(&*task.store, unix_millis()).await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "metrics refresh failed");
            }
            task.telemetry
                .end_refresh(&iso(unix_millis()), result.err().map(|e| e.to_string()));
        });
        let started =
            json!({"status": "started", "message": "Metrics refresh started in background"});
        return Ok((StatusCode::ACCEPTED, Json(started)).into_response());
    }
    match refresh(&rt).await {
        None => Ok(Json(already()).into_response()),
        Some(Err(e)) => Err(e),
        Some(Ok(rows)) => Ok(Json(by_day(&rows, q.get("user_id"))).into_response()),
    }
}

/// The state of the latest metrics refresh
#[utoipa::path(
    get, path = "/metrics/refresh/status", tag = TAG,
    params(
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
        ("table" = Option<String>, Query, description = "Accepted for agno's clients"),
    ),
    responses(
        (status = 200, description = "`idle`, `running`, `completed` or `failed`", body = RefreshStatus),
        (status = 400, description = "Never: for agno's documented answers", body = ErrorBody),
    )
)]
async fn refresh_status(State(rt): State<AppState>) -> Json<RefreshStatus> {
    Json(rt.telemetry.refresh_status().into())
}

impl From<crate::runtime::telemetry::RefreshState> for RefreshStatus {
    fn from(s: crate::runtime::telemetry::RefreshState) -> RefreshStatus {
        RefreshStatus {
            status: s.status.to_owned(),
            started_at: s.started_at,
            finished_at: s.finished_at,
            error: s.error,
        }
    }
}
