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
    kind: ComponentKind,
    component_id: &str,
    q: RunsQuery,
) -> Result<Json<Vec<SessionRun>>, ApiError> {
    let status = q.status()?;
    let session_id = q
        .session_id
        .ok_or_else(|| ApiError::missing("query", "session_id"))?;
    let session = rt.store.get_session(&session_id).await?;
    if !session.is_some_and(|s| s.component_id == component_id && s.session_type == kind) {
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

/// The stored run `run_id` of this workflow or agent (and of `session_id`, when given); 404
/// `Run not found` otherwise.
pub(crate) async fn find_run(
    rt: &Runtime,
    kind: ComponentKind,
    component_id: &str,
    run_id: &str,
    session_id: Option<&str>,
) -> Result<RunRecord, ApiError> {
    rt.store
        .get_run(run_id)
        .await?
        .filter(|r| r.component_type == kind && r.component_id == component_id)
        .filter(|r| session_id.is_none_or(|s| s == r.session_id))
        .ok_or_else(|| ApiError::not_found("Run not found"))
}
