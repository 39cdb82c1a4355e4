//! `/sessions`: create, list (filters, sort, pages), detail, a session's runs (in full or as
//! previews) and one run, delete one or many, rename, update. Query strings and JSON bodies are
//! validated with FastAPI's 422 shapes (`{"detail": [{"type", "loc", "msg", "input"}]}`).

mod metrics;
mod read;
pub(crate) mod run_schema;
mod schema;
mod write;

pub(crate) use schema::session_summary;

use super::AppState;
use super::auth::Access;
use super::error::{ApiError, ValidationError};
use super::validation::{Params, check, json_object};
use crate::http::api::{Api, routes};
use crate::kind::ComponentKind;
use crate::store::SessionView;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;

pub(crate) fn router() -> Api {
    [
        routes!(
            read::list_sessions,
            write::create_session,
            write::delete_sessions
        ),
        routes!(
            read::get_session,
            write::delete_session,
            write::update_session
        ),
        routes!(read::list_runs),
        routes!(read::list_run_previews),
        routes!(read::get_run),
        routes!(write::rename_session),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

/// The OpenAPI tag of these routes.
const TAG: &str = "Sessions";

const SESSION_TYPES: [&str; 3] = [
    ComponentKind::Agent.as_str(),
    ComponentKind::Team.as_str(),
    ComponentKind::Workflow.as_str(),
];

/// The `type` query parameter, validated against the kinds.
fn kind_param(q: &Params, errors: &mut Vec<ValidationError>) -> Option<ComponentKind> {
    q.one_of("type", &SESSION_TYPES, errors)
        .and_then(|t| ComponentKind::parse(&t))
}

/// An optional JSON object body: none at all reads as `{}` (FastAPI's `Body(default=...)`).
fn optional_json_object(
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match body {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(serde_json::Map::new()),
        other => json_object(other),
    }
}

/// The user a request's session reads and writes are scoped to: the caller's scoped user (user
/// isolation: it overrides the query), else the query's `user_id`.
fn user_filter<'a>(access: &'a Access, q: &'a Params) -> Result<Option<&'a str>, ApiError> {
    Ok(access.scoped_user_id()?.or_else(|| q.get("user_id")))
}

/// The session, if it exists and matches the `type` and `user_id` filters of the query (and
/// belongs to the caller's scoped user: another user's session is not found).
async fn find_session(
    rt: &AppState,
    access: &Access,
    session_id: &str,
    q: &Params,
) -> Result<Option<SessionView>, ApiError> {
    let mut errors = Vec::new();
    let session_type = kind_param(q, &mut errors);
    check(errors)?;
    let user = user_filter(access, q)?;
    let view = rt.store.session_view(session_id).await?.filter(|v| {
        session_type.is_none_or(|t| t == v.session.session_type)
            && user.is_none_or(|u| v.session.user_id.as_deref() == Some(u))
    });
    Ok(view)
}

/// agno's 404 for `GET /sessions/{id}`, PATCH and rename.
fn session_not_found(session_id: &str) -> ApiError {
    ApiError::not_found(format!("Session with id '{session_id}' not found"))
}
