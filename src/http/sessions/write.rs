//! The writing routes of `/sessions`: create, delete one or many, rename, update.

use super::schema::{
    CreateSessionRequest, DeleteSessionsRequest, RenameSessionRequest, SessionDetail,
    UpdateSessionRequest, WithoutNulls, session_detail,
};
use super::{
    SESSION_TYPES, TAG, find_session, kind_param, optional_json_object, session_not_found,
    user_filter,
};
use crate::http::auth::Access;
use crate::http::error::{ApiError, ErrorBody, ErrorContext, Loc, ValidationErrorBody};
use crate::http::validation::{
    Params, at, check, enum_error, invalid, json_object, object_field, string_field,
};
use crate::http::{AppState, Path};
use crate::kind::ComponentKind;
use crate::run::unix_millis;
use crate::store::{SessionKey, SessionRecord, SessionUpdate, SessionView};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Create a session (201)
///
/// With agno's `CreateSessionRequest` (JSON, every field optional). Without an id one is made;
/// an id already taken gets 409. A session made without its component's id takes the id (and,
/// without a name, the input) of its first run, which names it with `session_id`.
#[utoipa::path(
    post, path = "/sessions", tag = TAG,
    params(
        ("type" = Option<ComponentKind>, Query, description = "The session type (default `agent`)"),
        ("db_id" = Option<String>, Query, description = "Accepted for agno's clients; there is one database"),
    ),
    request_body(content = CreateSessionRequest, description = "Optional: none at all reads as `{}`"),
    responses(
        (status = 201, description = "Created; the new session's detail (null keys left out)", body = SessionDetail),
        (status = 400, description = "A NUL byte in an id or name", body = ErrorBody),
        (status = 409, description = "A session with this `session_id` exists", body = ErrorBody),
        (status = 422, description = "A field of the wrong type, or a bad `type`", body = ValidationErrorBody),
    )
)]
pub(super) async fn create_session(
    State(rt): State<AppState>,
    access: Access,
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
    let given_id = session_id.is_some();
    let ids = [text("agent_id"), text("team_id"), text("workflow_id")];
    let session_state = object_field(&body, "session_state", &mut errors);
    let metadata = object_field(&body, "metadata", &mut errors);
    check(errors)?;
    // The token's user owns the session it creates (agno: request state wins over the body).
    let user_id = access.run_user_id(user_id)?;
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
    let Some(created) = rt.store.create_session(&view).await? else {
        return Err(session_taken(&rt, &access, &session_id, given_id).await?);
    };
    let detail = WithoutNulls(session_detail(&rt, &created, &[]));
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

/// agno's 409 for a session id already in use: pointing at PATCH when the caller may see the
/// session, a generic refusal when it is another user's (no existence oracle).
async fn session_taken(
    rt: &AppState,
    access: &Access,
    session_id: &str,
    given_id: bool,
) -> Result<ApiError, ApiError> {
    if given_id
        && let Some(user) = access.scoped_user_id()?
        && rt
            .store
            .get_session(session_id)
            .await?
            .is_some_and(|s| s.user_id.as_deref() != Some(user))
    {
        return Ok(ApiError::new(
            StatusCode::CONFLICT,
            "Could not create a session with the supplied session_id. Omit session_id to have \
             one generated, or choose a different one.",
        ));
    }
    Ok(ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "Session with id '{session_id}' already exists. \
             Use PATCH /sessions/{session_id} to update it."
        ),
    ))
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

/// Delete a session (204)
///
/// The session's runs and run events go with it.
#[utoipa::path(
    delete, path = "/sessions/{session_id}", tag = TAG,
    params(
        ("session_id" = String, Path, description = "The session's id"),
        ("user_id" = Option<String>, Query, description = "Only if it belongs to this user"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session has a run in progress", body = ErrorBody),
    )
)]
pub(super) async fn delete_session(
    State(rt): State<AppState>,
    access: Access,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw)?;
    let key = SessionKey {
        session_id: session_id.clone(),
        session_type: None,
        user_id: user_filter(&access, &q)?.map(str::to_owned),
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

/// Delete several sessions (204)
///
/// Each id is deleted only if its session has the type at the same position.
#[utoipa::path(
    delete, path = "/sessions", tag = TAG,
    params(
        ("user_id" = Option<String>, Query, description = "Only sessions of this user"),
    ),
    request_body = DeleteSessionsRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The two lists differ in length", body = ErrorBody),
        (status = 409, description = "A session has a run in progress", body = ErrorBody),
        (status = 422, description = "A missing, empty or ill-typed list", body = ValidationErrorBody),
    )
)]
pub(super) async fn delete_sessions(
    State(rt): State<AppState>,
    access: Access,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw)?;
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let mut list = |name: &str, allowed: Option<&[&str]>| -> Vec<String> {
        let loc = |index: Option<usize>| {
            let mut loc = at("body", name);
            loc.extend(index.map(Loc::Index));
            loc
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
            let e = invalid(
                "too_short",
                loc(None),
                "List should have at least 1 item after validation, not 0",
                Value::Array(Vec::new()),
            );
            errors.push(e.with_ctx(ErrorContext {
                field_type: Some("List"),
                min_length: Some(1),
                actual_length: Some(0),
                ..ErrorContext::default()
            }));
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
    let user_id = user_filter(&access, &q)?.map(str::to_owned);
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
async fn updated(rt: &AppState, view: SessionView) -> Result<Json<SessionDetail>, ApiError> {
    let runs = rt.store.session_runs(&view.session.session_id).await?;
    Ok(Json(session_detail(rt, &view, &runs)))
}

/// Rename a session
#[utoipa::path(
    post, path = "/sessions/{session_id}/rename", tag = TAG,
    params(
        ("session_id" = String, Path, description = "The session's id"),
        ("type" = Option<ComponentKind>, Query, description = "Only if the session is of this type"),
        ("user_id" = Option<String>, Query, description = "Only if it belongs to this user"),
    ),
    request_body = RenameSessionRequest,
    responses(
        (status = 200, description = "The renamed session (null keys kept)", body = SessionDetail),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 422, description = "A missing or ill-typed `session_name`", body = ValidationErrorBody),
    )
)]
pub(super) async fn rename_session(
    State(rt): State<AppState>,
    access: Access,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionDetail>, ApiError> {
    let q = Params::parse(raw)?;
    let body = json_object(body)?;
    let mut errors = Vec::new();
    let name = string_field(&body, "session_name", true, &mut errors);
    check(errors)?;
    find_session(&rt, &access, &session_id, &q)
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

/// Update a session's name, state, metadata or summary
///
/// Any of `session_name`, `session_state` (object), `metadata` (object), `summary` (object with
/// a string `summary`).
#[utoipa::path(
    patch, path = "/sessions/{session_id}", tag = TAG,
    params(
        ("session_id" = String, Path, description = "The session's id"),
        ("type" = Option<ComponentKind>, Query, description = "Only if the session is of this type"),
        ("user_id" = Option<String>, Query, description = "Only if it belongs to this user"),
    ),
    request_body = UpdateSessionRequest,
    responses(
        (status = 200, description = "The updated session (null keys kept)", body = SessionDetail),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 422, description = "A field of the wrong type", body = ValidationErrorBody),
    )
)]
pub(super) async fn update_session(
    State(rt): State<AppState>,
    access: Access,
    Path(session_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionDetail>, ApiError> {
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
        let mut loc = at("body", "summary");
        loc.push("summary".into());
        errors.push(invalid(
            "string_type",
            loc,
            "Input should be a valid string",
            summary.get("summary").cloned().unwrap_or(Value::Null),
        ));
    }
    check(errors)?;
    find_session(&rt, &access, &session_id, &q)
        .await?
        .ok_or_else(|| session_not_found(&session_id))?;
    let view = rt
        .store
        .update_session(&session_id, &update)
        .await?
        .ok_or_else(|| session_not_found(&session_id))?;
    updated(&rt, view).await
}
