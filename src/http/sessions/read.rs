//! The reading routes of `/sessions`: the list, one session, its runs and their previews.

use super::run_schema::{RunPreview, SessionRun, run_preview, run_schema, with_member_runs};
use super::schema::{SessionDetail, SessionList, WithoutNulls, session_detail, session_summary};
use super::{TAG, find_session, kind_param, session_not_found, user_filter};
use crate::http::auth::Access;
use crate::http::error::{ApiError, ErrorBody, ValidationErrorBody};
use crate::http::page::PageMeta;
use crate::http::validation::{Params, at, check, enum_error};
use crate::http::{AppState, Path};
use crate::kind::ComponentKind;
use crate::run::RunStatus;
use crate::store::{RunRecord, SessionFilter, SessionSort};
use axum::Json;
use axum::extract::{RawQuery, State};
use std::time::Instant;

/// The largest page `GET /sessions` serves.
const MAX_LIMIT: u64 = 1000;

/// agno's run statuses (`REGENERATED` is accepted and matches nothing here).
const RUN_STATUSES: [&str; 7] = [
    "CANCELLED",
    "COMPLETED",
    "ERROR",
    "PAUSED",
    "PENDING",
    "REGENERATED",
    "RUNNING",
];

/// List sessions, newest first, paged
///
/// `{"data": [SessionSchema], "meta": {page, limit, total_pages, total_count, search_time_ms}}`.
#[utoipa::path(
    get, path = "/sessions", tag = TAG,
    params(
        ("type" = Option<ComponentKind>, Query, description = "Only sessions of this type"),
        ("component_id" = Option<String>, Query, description = "Only sessions of this agent, team or workflow"),
        ("user_id" = Option<String>, Query, description = "Only this user's sessions"),
        ("session_name" = Option<String>, Query, description = "Only sessions whose name contains this"),
        ("page" = Option<u64>, Query, minimum = 1, description = "Page, from 1 (default 1)"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 1000, description = "Sessions per page (default 20)"),
        ("sort_by" = Option<String>, Query, description = "`created_at` (default), `updated_at` or `session_name`"),
        ("sort_order" = Option<String>, Query, description = "`desc` (default) or `asc`"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
    ),
    responses(
        (status = 200, description = "One page of sessions", body = SessionList),
        (status = 422, description = "A parameter out of range or of the wrong type", body = ValidationErrorBody),
    )
)]
pub(super) async fn list_sessions(
    State(rt): State<AppState>,
    access: Access,
    RawQuery(raw): RawQuery,
) -> Result<Json<SessionList>, ApiError> {
    let started = Instant::now();
    let q = Params::parse(raw)?;
    let mut errors = Vec::new();
    let session_type = kind_param(&q, &mut errors);
    let limit = q.int("limit", Some(20), 1, Some(MAX_LIMIT as i64), &mut errors);
    let page = q.int("page", Some(1), 1, None, &mut errors);
    let sort_by = match q.get("sort_by") {
        None => Some(SessionSort::CreatedAt),
        Some(s) => SessionSort::parse(s).or_else(|| {
            errors.push(enum_error(at("query", "sort_by"), s, &SessionSort::NAMES));
            None
        }),
    };
    let ascending = match q.get("sort_order") {
        None | Some("desc") => Some(false),
        Some("asc") => Some(true),
        Some(s) => {
            errors.push(enum_error(at("query", "sort_order"), s, &["asc", "desc"]));
            None
        }
    };
    check(errors)?;
    // All four are Some once `check` passed.
    let (Some(limit), Some(page), Some(sort_by), Some(ascending)) =
        (limit, page, sort_by, ascending)
    else {
        return Err(ApiError::bad_request("Invalid query string"));
    };
    let (limit, page) = (limit as u64, page as u64);
    let filter = SessionFilter {
        session_type,
        component_id: q.get("component_id").map(str::to_owned),
        user_id: user_filter(&access, &q)?.map(str::to_owned),
        session_name: q.get("session_name").map(str::to_owned),
        sort_by,
        ascending,
        limit: limit as u32,
        offset: (page - 1).saturating_mul(limit).min(u32::MAX as u64) as u32,
    };
    let (sessions, total) = rt.store.list_sessions(&filter).await?;
    Ok(Json(SessionList {
        data: sessions.iter().map(session_summary).collect(),
        meta: PageMeta {
            page,
            limit,
            total_pages: total.div_ceil(limit),
            total_count: total,
            search_time_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        },
    }))
}

/// Get a session
///
/// The detail schema for the session's type (null keys left out).
#[utoipa::path(
    get, path = "/sessions/{session_id}", tag = TAG,
    params(
        ("session_id" = String, Path, description = "The session's id"),
        ("type" = Option<ComponentKind>, Query, description = "Only if the session is of this type"),
        ("user_id" = Option<String>, Query, description = "Only if it belongs to this user"),
    ),
    responses(
        (status = 200, description = "The session", body = SessionDetail),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 422, description = "A bad `type`", body = ValidationErrorBody),
    )
)]
pub(super) async fn get_session(
    State(rt): State<AppState>,
    access: Access,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<WithoutNulls<SessionDetail>>, ApiError> {
    let q = Params::parse(raw)?;
    let view = find_session(&rt, &access, &session_id, &q)
        .await?
        .ok_or_else(|| session_not_found(&session_id))?;
    let runs = rt.store.session_runs(&session_id).await?;
    Ok(Json(WithoutNulls(session_detail(&rt, &view, &runs))))
}

/// The runs of a session, oldest first
///
/// Each in agno's schema for its kind (null keys left out). A run still executing is included
/// (status `RUNNING`, with its input), so a chat that fetches history mid-stream keeps the
/// message it just sent.
#[utoipa::path(
    get, path = "/sessions/{session_id}/runs", tag = TAG,
    params(
        ("session_id" = String, Path, description = "The session's id"),
        ("type" = Option<ComponentKind>, Query, description = "Only if the session is of this type"),
        ("user_id" = Option<String>, Query, description = "Only if the session belongs to this user"),
        ("created_after" = Option<i64>, Query, description = "Only runs created at or after this time (unix seconds)"),
        ("created_before" = Option<i64>, Query, description = "Only runs created at or before this time (unix seconds)"),
        ("status" = Option<Vec<RunStatus>>, Query, description = "Only runs in one of these statuses (repeatable, any case)"),
    ),
    responses(
        (status = 200, description = "The runs", body = Vec<SessionRun>),
        (status = 400, description = "An unknown status", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 422, description = "A bad `type` or time", body = ValidationErrorBody),
    )
)]
pub(super) async fn list_runs(
    State(rt): State<AppState>,
    access: Access,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<WithoutNulls<SessionRun>>>, ApiError> {
    let runs = filtered_runs(&rt, &access, &session_id, raw).await?;
    Ok(Json(
        runs.iter().map(|r| WithoutNulls(run_schema(r))).collect(),
    ))
}

/// Previews of a session's runs, oldest first
///
/// agno's `SessionRunPreviewSchema` for each run: ids, status, creation time and the first 280
/// characters of the input and of the content, for clients that poll. Same filters as `/runs`.
#[utoipa::path(
    get, path = "/sessions/{session_id}/run-previews", tag = TAG,
    params(
        ("session_id" = String, Path, description = "The session's id"),
        ("type" = Option<ComponentKind>, Query, description = "Only if the session is of this type"),
        ("user_id" = Option<String>, Query, description = "Only if the session belongs to this user"),
        ("created_after" = Option<i64>, Query, description = "Only runs created at or after this time (unix seconds)"),
        ("created_before" = Option<i64>, Query, description = "Only runs created at or before this time (unix seconds)"),
        ("status" = Option<Vec<RunStatus>>, Query, description = "Only runs in one of these statuses (repeatable, any case)"),
    ),
    responses(
        (status = 200, description = "The previews", body = Vec<RunPreview>),
        (status = 400, description = "An unknown status", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 422, description = "A bad `type` or time", body = ValidationErrorBody),
    )
)]
pub(super) async fn list_run_previews(
    State(rt): State<AppState>,
    access: Access,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<RunPreview>>, ApiError> {
    let runs = filtered_runs(&rt, &access, &session_id, raw).await?;
    Ok(Json(runs.iter().map(run_preview).collect()))
}

/// The session's runs, oldest first, that match the query's `status` (repeatable,
/// case-insensitive), `created_after` and `created_before` (unix seconds); the session must
/// match `type` and `user_id`.
async fn filtered_runs(
    rt: &AppState,
    access: &Access,
    session_id: &str,
    raw: Option<String>,
) -> Result<Vec<RunRecord>, ApiError> {
    let q = Params::parse(raw)?;
    let mut errors = Vec::new();
    let after = q.int("created_after", None, i64::MIN, None, &mut errors);
    let before = q.int("created_before", None, i64::MIN, None, &mut errors);
    check(errors)?;
    let statuses: Vec<String> = q.all("status").iter().map(|s| s.to_uppercase()).collect();
    let mut unknown: Vec<&String> = statuses
        .iter()
        .filter(|s| !RUN_STATUSES.contains(&s.as_str()))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        unknown.dedup();
        return Err(ApiError::bad_request(format!(
            "Invalid status value(s) {unknown:?}; expected one of {RUN_STATUSES:?}"
        )));
    }
    find_session(rt, access, session_id, &q)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Session with ID {session_id} not found")))?;
    let mut runs = with_member_runs(rt.store.session_runs(session_id).await?);
    let wanted =
        |status: RunStatus| statuses.is_empty() || statuses.iter().any(|s| s == status.as_str());
    runs.retain(|r| {
        after.is_none_or(|a| r.created_at / 1000 >= a)
            && before.is_none_or(|b| r.created_at / 1000 <= b)
            && wanted(r.status)
    });
    Ok(runs)
}

/// One run of a session
///
/// In agno's schema for its kind (null keys kept).
#[utoipa::path(
    get, path = "/sessions/{session_id}/runs/{run_id}", tag = TAG,
    params(
        ("session_id" = String, Path, description = "The session's id"),
        ("run_id" = String, Path, description = "The run's id"),
        ("type" = Option<ComponentKind>, Query, description = "Only if the session is of this type"),
        ("user_id" = Option<String>, Query, description = "Only if the session belongs to this user"),
    ),
    responses(
        (status = 200, description = "The run", body = SessionRun),
        (status = 404, description = "No such session, or no such run in it", body = ErrorBody),
        (status = 422, description = "A bad `type`", body = ValidationErrorBody),
    )
)]
pub(super) async fn get_run(
    State(rt): State<AppState>,
    access: Access,
    Path((session_id, run_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SessionRun>, ApiError> {
    let q = Params::parse(raw)?;
    find_session(&rt, &access, &session_id, &q)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Session with ID {session_id} not found")))?;
    let run = match rt.store.get_run(&run_id).await? {
        Some(run) => Some(run),
        // A team member's run is held in its team run's output.
        None => with_member_runs(rt.store.session_runs(&session_id).await?)
            .into_iter()
            .find(|r| r.run_id == run_id),
    };
    let run = run.filter(|r| r.session_id == session_id).ok_or_else(|| {
        ApiError::not_found(format!(
            "Run with ID {run_id} not found in session {session_id}"
        ))
    })?;
    Ok(Json(run_schema(&run)))
}
