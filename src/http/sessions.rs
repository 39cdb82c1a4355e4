//! `/sessions`: create, list (filters, sort, pages), detail, a session's runs (in full or as
//! previews) and one run, delete one or many, rename, update. Query strings and JSON bodies are
//! validated here with FastAPI's 422 shapes (`{"detail": [{"type", "loc", "msg", "input"}]}`).

use super::error::ApiError;
use super::session_schema::{
    run_preview, run_schema, session_detail, session_summary, without_nulls,
};
use super::validation::{
    Params, check, enum_error, invalid, json_object, object_field, string_field,
};
use super::{AppState, Path, route};
use crate::kind::ComponentKind;
use crate::run::RunStatus;
use crate::run::unix_millis;
use crate::store::{
    RunRecord, SessionFilter, SessionKey, SessionRecord, SessionSort, SessionUpdate, SessionView,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::time::Instant;

pub(crate) fn router() -> Router<AppState> {
    let r = Router::new();
    let r = route(
        r,
        "/sessions",
        get(list_sessions)
            .post(create_session)
            .delete(delete_sessions),
    );
    let r = route(
        r,
        "/sessions/{session_id}",
        get(get_session)
            .delete(delete_session)
            .patch(update_session),
    );
    let r = route(r, "/sessions/{session_id}/runs", get(list_runs));
    let r = route(
        r,
        "/sessions/{session_id}/run-previews",
        get(list_run_previews),
    );
    let r = route(r, "/sessions/{session_id}/runs/{run_id}", get(get_run));
    route(r, "/sessions/{session_id}/rename", post(rename_session))
}

const SESSION_TYPES: [&str; 3] = [
    ComponentKind::Agent.as_str(),
    ComponentKind::Team.as_str(),
    ComponentKind::Workflow.as_str(),
];

/// The `type` query parameter, validated against the kinds.
fn kind_param(q: &Params, errors: &mut Vec<Value>) -> Option<ComponentKind> {
    q.one_of("type", &SESSION_TYPES, errors)
        .and_then(|t| ComponentKind::parse(&t))
}
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

/// `GET /sessions?type=&component_id=&user_id=&session_name=&page=1&limit=20&sort_by=created_at&sort_order=desc`
/// → `{"data": [SessionSchema], "meta": {page, limit, total_pages, total_count, search_time_ms}}`.
async fn list_sessions(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let q = Params::parse(raw)?;
    let mut errors = Vec::new();
    let session_type = kind_param(&q, &mut errors);
    let limit = q.int("limit", Some(20), 1, Some(MAX_LIMIT as i64), &mut errors);
    let page = q.int("page", Some(1), 1, None, &mut errors);
    let sort_by = match q.get("sort_by") {
        None => Some(SessionSort::CreatedAt),
        Some(s) => SessionSort::parse(s).or_else(|| {
            errors.push(enum_error(
                json!(["query", "sort_by"]),
                s,
                &SessionSort::NAMES,
            ));
            None
        }),
    };
    let ascending = match q.get("sort_order") {
        None | Some("desc") => Some(false),
        Some("asc") => Some(true),
        Some(s) => {
            errors.push(enum_error(
                json!(["query", "sort_order"]),
                s,
                &["asc", "desc"],
            ));
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
        user_id: q.get("user_id").map(str::to_owned),
        session_name: q.get("session_name").map(str::to_owned),
        sort_by,
        ascending,
        limit: limit as u32,
        offset: (page - 1).saturating_mul(limit).min(u32::MAX as u64) as u32,
    };
    let (sessions, total) = rt.store.list_sessions(&filter).await?;
    Ok(Json(json!({
        "data": sessions.iter().map(session_summary).collect::<Vec<_>>(),
        "meta": {
            "page": page,
            "limit": limit,
            "total_pages": total.div_ceil(limit),
            "total_count": total,
            "search_time_ms": started.elapsed().as_secs_f64() * 1000.0,
        },
    })))
}

/// `POST /sessions?type=agent` with agno's `CreateSessionRequest` (JSON, every field optional:
/// `session_id`, `session_name`, `session_state`, `metadata`, `user_id`, and the `agent_id`,
/// `team_id` or `workflow_id` that goes with the type): 201 with the new session's detail
/// schema. Without an id one is made; an id already taken gets 409. A session made without its
/// component's id takes the id (and, without a name, the input) of its first run.
async fn create_session(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw)?;
    let body = optional_json_object(body)?;
    let mut errors = Vec::new();
    let session_type = kind_param(&q, &mut errors).unwrap_or(ComponentKind::Agent);
    let mut text = |name: &str| string_field(&body, name, false, &mut errors);
    let session_id = text("session_id").filter(|id| !id.is_empty());
    let session_name = text("session_name");
    let user_id = text("user_id");
    let ids = [text("agent_id"), text("team_id"), text("workflow_id")];
    let session_state = object_field(&body, "session_state", &mut errors);
    let metadata = object_field(&body, "metadata", &mut errors);
    check(errors)?;
    let [agent_id, team_id, workflow_id] = ids;
    let component_id = match session_type {
        ComponentKind::Agent => agent_id,
        ComponentKind::Team => team_id,
        ComponentKind::Workflow => workflow_id,
    };
    let component_key = session_type.id_key();
    let fields = [
        ("session_id", &session_id),
        ("session_name", &session_name),
        ("user_id", &user_id),
        (component_key, &component_id),
    ];
    if let Some((name, _)) = fields
        .iter()
        .find(|(_, v)| v.as_deref().is_some_and(|v| v.contains('\0')))
    {
        return Err(ApiError::bad_request(format!(
            "{name} must not contain NUL bytes"
        )));
    }
    let now = unix_millis();
    let session_id = session_id.unwrap_or_else(crate::run::new_row_id);
    let view = SessionView {
        session: SessionRecord {
            session_id: session_id.clone(),
            session_type,
            component_id: component_id.unwrap_or_default(),
            user_id,
            session_name,
            session_state: session_state.unwrap_or_else(|| "{}".to_owned()),
            created_at: now,
            updated_at: now,
        },
        metadata,
        summary: None,
    };
    let created = rt.store.create_session(&view).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "Session with id '{session_id}' already exists. \
                 Use PATCH /sessions/{session_id} to update it."
            ),
        )
    })?;
    let detail = without_nulls(session_detail(&rt, &created, &[]));
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

/// An optional JSON object body: none at all reads as `{}` (FastAPI's `Body(default=...)`).
fn optional_json_object(
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    match body {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(serde_json::Map::new()),
        other => json_object(other),
    }
}

/// The session, if it exists and matches the `type` and `user_id` filters of the query.
async fn find_session(
    rt: &AppState,
    session_id: &str,
    q: &Params,
) -> Result<Option<SessionView>, ApiError> {
    let mut errors = Vec::new();
    let session_type = kind_param(q, &mut errors);
    check(errors)?;
    let view = rt.store.session_view(session_id).await?.filter(|v| {
        session_type.is_none_or(|t| t == v.session.session_type)
            && q.get("user_id")
                .is_none_or(|u| v.session.user_id.as_deref() == Some(u))
    });
    Ok(view)
}

/// agno's 404 for `GET /sessions/{id}`, PATCH and rename.
fn session_not_found(session_id: &str) -> ApiError {
    ApiError::not_found(format!("Session with id '{session_id}' not found"))
}

/// `GET /sessions/{id}?type=&user_id=`: the detail schema for the session's type.
async fn get_session(
    State(rt): State<AppState>,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = Params::parse(raw)?;
    let view = find_session(&rt, &session_id, &q)
        .await?
        .ok_or_else(|| session_not_found(&session_id))?;
    let runs = rt.store.session_runs(&session_id).await?;
    Ok(Json(without_nulls(session_detail(&rt, &view, &runs))))
}

/// `GET /sessions/{id}/runs?type=&user_id=&created_after=&created_before=&status=`: every run
/// of the session in agno's schema for its kind, oldest first. A run still executing is
/// included (status `RUNNING`, with its input), so a chat that fetches history mid-stream
/// keeps the message it just sent.
async fn list_runs(
    State(rt): State<AppState>,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Value>>, ApiError> {
    let runs = filtered_runs(&rt, &session_id, raw).await?;
    Ok(Json(
        runs.iter().map(|r| without_nulls(run_schema(r))).collect(),
    ))
}

/// `GET /sessions/{id}/run-previews` with the filters of `/runs`: agno's
/// `SessionRunPreviewSchema` for each run, oldest first: ids, status, creation time and the
/// first 280 characters of the input and of the content, for clients that poll.
async fn list_run_previews(
    State(rt): State<AppState>,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Value>>, ApiError> {
    let runs = filtered_runs(&rt, &session_id, raw).await?;
    Ok(Json(runs.iter().map(run_preview).collect()))
}

/// The session's runs, oldest first, that match the query's `status` (repeatable,
/// case-insensitive), `created_after` and `created_before` (unix seconds); the session must
/// match `type` and `user_id`.
async fn filtered_runs(
    rt: &AppState,
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
    find_session(rt, session_id, &q)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Session with ID {session_id} not found")))?;
    let mut runs = rt.store.session_runs(session_id).await?;
    let wanted =
        |status: RunStatus| statuses.is_empty() || statuses.iter().any(|s| s == status.as_str());
    runs.retain(|r| {
        after.is_none_or(|a| r.created_at / 1000 >= a)
            && before.is_none_or(|b| r.created_at / 1000 <= b)
            && wanted(r.status)
    });
    Ok(runs)
}

/// `GET /sessions/{id}/runs/{run_id}`: one run in agno's schema for its kind (nulls kept).
async fn get_run(
    State(rt): State<AppState>,
    Path((session_id, run_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = Params::parse(raw)?;
    find_session(&rt, &session_id, &q)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Session with ID {session_id} not found")))?;
    let run = rt
        .store
        .get_run(&run_id)
        .await?
        .filter(|r| r.session_id == session_id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Run with ID {run_id} not found in session {session_id}"
            ))
        })?;
    Ok(Json(run_schema(&run)))
}

/// 409 naming the sessions that still have a run in progress.
fn busy(ids: &[String]) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "Session(s) {} have a run in progress; delete them once it has finished",
            ids.join(", ")
        ),
    )
}

/// `DELETE /sessions/{id}?user_id=`: 204; the session's runs and run events go with it.
async fn delete_session(
    State(rt): State<AppState>,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw)?;
    let key = SessionKey {
        session_id: session_id.clone(),
        session_type: None,
        user_id: q.get("user_id").map(str::to_owned),
    };
    let outcome = rt.store.delete_session(&key).await?;
    if !outcome.busy.is_empty() {
        return Err(busy(&outcome.busy));
    }
    if outcome.deleted.is_empty() {
        return Err(session_not_found(&session_id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /sessions` with `{"session_ids": [..], "session_types": [..]}`: 204. Each id is
/// deleted only if its session has the type at the same position.
async fn delete_sessions(
    State(rt): State<AppState>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw)?;
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let mut list = |name: &str, allowed: Option<&[&str]>| -> Vec<String> {
        let loc = |extra: Option<usize>| match extra {
            Some(i) => json!(["body", name, i]),
            None => json!(["body", name]),
        };
        let items = match body.get(name) {
            None => {
                errors.push(invalid("missing", loc(None), "Field required", Value::Null));
                return Vec::new();
            }
            Some(Value::Array(items)) => items,
            Some(other) => {
                errors.push(invalid(
                    "list_type",
                    loc(None),
                    "Input should be a valid list",
                    other.clone(),
                ));
                return Vec::new();
            }
        };
        if items.is_empty() {
            let mut e = invalid(
                "too_short",
                loc(None),
                "List should have at least 1 item after validation, not 0",
                json!([]),
            );
            e["ctx"] = json!({"field_type": "List", "min_length": 1, "actual_length": 0});
            errors.push(e);
        }
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match (item.as_str(), allowed) {
                (Some(s), Some(allowed)) if !allowed.contains(&s) => {
                    errors.push(enum_error(loc(Some(i)), s, allowed));
                }
                (Some(s), _) => out.push(s.to_owned()),
                (None, _) => errors.push(invalid(
                    "string_type",
                    loc(Some(i)),
                    "Input should be a valid string",
                    item.clone(),
                )),
            }
        }
        out
    };
    let ids = list("session_ids", None);
    let types = list("session_types", Some(&SESSION_TYPES));
    check(errors)?;
    if ids.len() != types.len() {
        return Err(ApiError::bad_request(
            "Session IDs and session types must have the same length",
        ));
    }
    let user_id = q.get("user_id").map(str::to_owned);
    let keys: Vec<SessionKey> = ids
        .into_iter()
        .zip(types)
        .map(|(session_id, session_type)| SessionKey {
            session_id,
            session_type: ComponentKind::parse(&session_type),
            user_id: user_id.clone(),
        })
        .collect();
    let outcome = rt.store.delete_sessions(&keys).await?;
    if !outcome.busy.is_empty() {
        return Err(busy(&outcome.busy));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The detail schema of an updated session (nulls kept, as agno answers rename and PATCH).
async fn updated(rt: &AppState, view: SessionView) -> Result<Json<Value>, ApiError> {
    let runs = rt.store.session_runs(&view.session.session_id).await?;
    Ok(Json(session_detail(rt, &view, &runs)))
}

/// `POST /sessions/{id}/rename` with `{"session_name": "..."}`.
async fn rename_session(
    State(rt): State<AppState>,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = Params::parse(raw)?;
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let name = string_field(&body, "session_name", true, &mut errors);
    check(errors)?;
    find_session(&rt, &session_id, &q)
        .await?
        .ok_or_else(|| session_not_found(&session_id))?;
    let name = name.unwrap_or_default();
    let view = rt
        .store
        .rename_session(&session_id, &name)
        .await?
        .ok_or_else(|| session_not_found(&session_id))?;
    updated(&rt, view).await
}

/// `PATCH /sessions/{id}` with any of `session_name`, `session_state` (object), `metadata`
/// (object), `summary` (object with a string `summary`).
async fn update_session(
    State(rt): State<AppState>,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = Params::parse(raw)?;
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let update = SessionUpdate {
        session_name: string_field(&body, "session_name", false, &mut errors),
        session_state: object_field(&body, "session_state", &mut errors),
        metadata: object_field(&body, "metadata", &mut errors),
        summary: object_field(&body, "summary", &mut errors),
    };
    if let Some(Value::Object(summary)) = body.get("summary")
        && !summary.get("summary").is_some_and(Value::is_string)
    {
        errors.push(invalid(
            "string_type",
            json!(["body", "summary", "summary"]),
            "Input should be a valid string",
            summary.get("summary").cloned().unwrap_or(Value::Null),
        ));
    }
    check(errors)?;
    find_session(&rt, &session_id, &q)
        .await?
        .ok_or_else(|| session_not_found(&session_id))?;
    let view = rt
        .store
        .update_session(&session_id, &update)
        .await?
        .ok_or_else(|| session_not_found(&session_id))?;
    updated(&rt, view).await
}
