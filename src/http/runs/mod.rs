//! What every run endpoint shares: the `Idempotency-Key` header, the answer to `POST .../runs`
//! (JSON, agno's SSE, 202), the answer for a repeated key, cancel, `/resume`, and the
//! `session_id`/`status` query.

mod answer;
mod follow;
mod resume;
pub(crate) mod schema;
mod sse;

pub(crate) use answer::{answer, json_text};
pub(crate) use resume::{ResumeForm, resume};
pub(crate) use schema::{Cancelled, RunAccepted};

use super::auth::Access;
use super::error::ApiError;
use super::sessions::run_schema::{SessionRun, run_schema};
use crate::kind::ComponentKind;
use crate::run::RunStatus;
use crate::runtime::Runtime;
use crate::store::RunRecord;
use axum::Json;
use axum::http::HeaderMap;
use serde::Deserialize;
use utoipa::IntoParams;

/// The `Idempotency-Key` header, if present and well-formed.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters")
        })?;
    Ok(Some(key.to_owned()))
}

/// `?session_id=&status=` on the run lists and polls.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// The session (required to list runs; on a poll, the run must be of this session).
    pub session_id: Option<String>,
    /// Only runs in this status (`PENDING`, `RUNNING`, `COMPLETED`, `PAUSED`, `CANCELLED`,
    /// `ERROR`).
    #[param(value_type = Option<RunStatus>)]
    pub status: Option<String>,
}

impl RunsQuery {
    /// The `status` filter, validated.
    pub(crate) fn status(&self) -> Result<Option<RunStatus>, ApiError> {
        let Some(s) = self.status.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let status = RunStatus::parse(&s.to_ascii_uppercase());
        if status.as_str() != s.to_ascii_uppercase() {
            return Err(ApiError::bad_request(format!(
                "Invalid status {s:?}: use PENDING, RUNNING, COMPLETED, PAUSED, CANCELLED or ERROR"
            )));
        }
        Ok(Some(status))
    }
}

/// `POST .../runs/{run_id}/cancel`: agno's `{}` 200, for a run executing here, a finished one
/// or an unknown one alike (cancel is an intent).
pub(crate) fn cancelled(found: bool, run_id: &str) -> Json<Cancelled> {
    if found {
        tracing::info!(run = %run_id, "cancel requested");
    }
    Json(Cancelled {})
}

/// `GET .../runs?session_id=&status=` of a workflow or agent: the session's runs in agno's run
/// schema. `session_id` is required (422); a session of another component is not found (404).
pub(crate) async fn list_session_runs(
    rt: &Runtime,
    access: &Access,
    kind: ComponentKind,
    component_id: &str,
    q: RunsQuery,
) -> Result<Json<Vec<SessionRun>>, ApiError> {
    let status = q.status()?;
    let session_id = q
        .session_id
        .ok_or_else(|| ApiError::missing("query", "session_id"))?;
    let user = access.scoped_user_id()?;
    let session = rt.store.get_session(&session_id).await?;
    if !session.is_some_and(|s| {
        s.component_id == component_id
            && s.session_type == kind
            && user.is_none_or(|u| s.user_id.as_deref() == Some(u))
    }) {
        return Err(ApiError::not_found("Session not found"));
    }
    let runs = rt.store.session_runs(&session_id).await?;
    Ok(Json(
        runs.iter()
            .filter(|r| status.is_none_or(|s| r.status == s))
            .map(run_schema)
            .collect(),
    ))
}

/// The stored run `run_id` of this workflow or agent (and of `session_id`, when given, and of a
/// session of the caller's scoped user); 404 `Run not found` otherwise.
pub(crate) async fn find_run(
    rt: &Runtime,
    access: &Access,
    kind: ComponentKind,
    component_id: &str,
    run_id: &str,
    session_id: Option<&str>,
) -> Result<RunRecord, ApiError> {
    let run = rt
        .store
        .get_run(run_id)
        .await?
        .filter(|r| r.component_type == kind && r.component_id == component_id)
        .filter(|r| session_id.is_none_or(|s| s == r.session_id))
        .ok_or_else(|| ApiError::not_found("Run not found"))?;
    if !run_visible(rt, access, &run).await? {
        return Err(ApiError::not_found("Run not found"));
    }
    Ok(run)
}

/// agno's 400 when a scoped caller names a run without its session.
const SESSION_ID_REQUIRED: &str = "session_id is required for this action";

/// A new run's user and session for this caller (agno's run routes): the token's user
/// overrides the form's `user_id`, its `session_id` claim the form's session; a verified
/// caller may not run in another user's session (404 `Session not found`, unless admin).
pub(crate) async fn authorize_run(
    rt: &Runtime,
    access: &Access,
    req: &mut crate::runtime::RunRequest,
) -> Result<(), ApiError> {
    let Some(caller) = &access.0 else {
        return Ok(());
    };
    req.user_id = access.run_user_id(req.user_id.take())?;
    if let Some(session) = access.session_id() {
        req.session_id = Some(session.to_owned());
    }
    req.principal = Some(caller.principal.clone());
    if let Some(session_id) = req.session_id.as_deref().filter(|_| !access.is_admin())
        && let Some(session) = rt.store.get_session(session_id).await?
        && session.user_id.is_some()
        && session.user_id != req.user_id
    {
        tracing::warn!("refused a run into a session owned by another user");
        return Err(ApiError::not_found("Session not found"));
    }
    Ok(())
}

/// 404 `Run not found` unless the run is in a session of the caller's scoped user (agno's
/// `verify_run_in_session`); for a caller scoped to a user, `session_id` is required (400).
/// Without a scoped user, a verified caller's run must still be of the path's component.
pub(crate) async fn authorize_run_access(
    rt: &Runtime,
    access: &Access,
    kind: ComponentKind,
    component_id: &str,
    run_id: &str,
    session_id: Option<&str>,
) -> Result<(), ApiError> {
    if access.0.is_none() {
        return Ok(());
    }
    let not_found = || ApiError::not_found("Run not found");
    let Some(user) = access.scoped_user_id()? else {
        // RBAC without isolation: the run, if it exists, must belong to the gated component.
        if let Some(run) = rt.store.get_run(run_id).await?
            && (run.component_type != kind || run.component_id != component_id)
        {
            return Err(not_found());
        }
        return Ok(());
    };
    let session_id = session_id.ok_or_else(|| ApiError::bad_request(SESSION_ID_REQUIRED))?;
    let session = rt
        .store
        .get_session(session_id)
        .await?
        .ok_or_else(not_found)?;
    if session.user_id.as_deref() != Some(user)
        || session.session_type != kind
        || session.component_id != component_id
    {
        return Err(not_found());
    }
    let run = rt.store.get_run(run_id).await?.ok_or_else(not_found)?;
    if run.session_id != session_id
        || run.component_type != kind
        || run.component_id != component_id
    {
        return Err(not_found());
    }
    Ok(())
}

/// Whether the run's session belongs to the caller's scoped user (always, when unscoped).
pub(crate) async fn run_visible(
    rt: &Runtime,
    access: &Access,
    run: &RunRecord,
) -> Result<bool, ApiError> {
    let Some(user) = access.scoped_user_id()? else {
        return Ok(true);
    };
    let session = rt.store.get_session(&run.session_id).await?;
    Ok(session.is_some_and(|s| s.user_id.as_deref() == Some(user)))
}

/// `?session_id=` on cancel.
#[derive(Debug, Deserialize)]
pub(crate) struct SessionQuery {
    /// The run's session (required of a caller scoped to a user).
    pub session_id: Option<String>,
}
