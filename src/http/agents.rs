//! `/agents`: list, detail, run (JSON or SSE), the stored runs, cancel.

use super::error::ApiError;
use super::form::RunForm;
use super::runs::{
    RunsQuery, answer, cancelled, find_run, idempotency_key, list_session_runs, resume, resume_form,
};
use super::{AppState, route};
use super::{Path, Query};
use crate::agent::Agent;
use crate::event::{AgentContext, RunEvent};
use crate::kind::ComponentKind;
use crate::outcome::cancel_reason;
use crate::run::{RunOutput, RunStatus};
use crate::runtime::Runtime;
use crate::store::RunRecord;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn router() -> Router<AppState> {
    let r = Router::new();
    let r = route(r, "/agents", get(list_agents));
    let r = route(r, "/agents/{agent_id}", get(get_agent));
    let r = route(
        r,
        "/agents/{agent_id}/runs",
        post(create_run).get(list_runs),
    );
    let r = route(r, "/agents/{agent_id}/runs/{run_id}", get(get_run));
    let r = route(
        r,
        "/agents/{agent_id}/runs/{run_id}/cancel",
        post(cancel_run),
    );
    route(
        r,
        "/agents/{agent_id}/runs/{run_id}/resume",
        post(resume_run),
    )
}

/// agno's `AgentResponse`: what Agent UI and `AgentOSClient.get_agent` read.
pub(crate) fn agent_response(rt: &Runtime, agent: &Agent) -> Value {
    let model = agent
        .get_model()
        .map(|m| json!({"name": m.provider(), "model": m.id(), "provider": m.provider()}));
    let mut v = json!({
        "id": agent.id(),
        "name": agent.name(),
        "db_id": rt.db_id,
        "model": model,
        "is_factory": false,
        "is_component": false,
    });
    if let Some(tools) = agent.tools_info() {
        v["tools"] = tools;
    }
    v
}

fn find<'a>(rt: &'a Runtime, id: &str) -> Result<&'a Arc<Agent>, ApiError> {
    rt.agent(id)
        .ok_or_else(|| ApiError::not_found("Agent not found"))
}

async fn list_agents(State(rt): State<AppState>) -> Json<Vec<Value>> {
    Json(rt.agents.iter().map(|a| agent_response(&rt, a)).collect())
}

async fn get_agent(
    State(rt): State<AppState>,
    Path(agent_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(agent_response(&rt, find(&rt, &agent_id)?)))
}

/// `POST /agents/{id}/runs`: runs the agent; JSON when `stream=false`, SSE otherwise.
async fn create_run(
    State(rt): State<AppState>,
    Path(agent_id): Path<String>,
    headers: HeaderMap,
    form: RunForm,
) -> Result<Response, ApiError> {
    find(&rt, &agent_id)?;
    let mut req = form.into_agent_request()?;
    req.idempotency_key = idempotency_key(&headers)?;
    let stream = req.stream;
    answer(
        rt.start_agent_run(&agent_id, req).await?,
        stream,
        final_event,
    )
    .await
}

/// `POST .../runs/{run_id}/resume`: replays what the client missed and follows the run.
async fn resume_run(
    State(rt): State<AppState>,
    Path((agent_id, run_id)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    find(&rt, &agent_id)?;
    let form = resume_form(request).await?;
    resume(&rt, ComponentKind::Agent, &agent_id, &run_id, form).await
}

/// The last event of a stored agent run, rebuilt from its output.
fn final_event(output: &str) -> Result<RunEvent, ApiError> {
    let output = parse_output(output)?;
    let ctx = Arc::new(AgentContext::top_level(&output));
    Ok(match output.status {
        RunStatus::Error => RunEvent::RunError {
            ctx,
            content: output.content_text(),
            error_type: None,
            error_id: None,
        },
        RunStatus::Cancelled => RunEvent::RunCancelled {
            ctx,
            reason: cancel_reason(&output.run_id),
        },
        _ => RunEvent::RunCompleted {
            ctx,
            content: output.content,
            content_type: output.content_type,
            metrics: output.metrics,
        },
    })
}

fn parse_output(json: &str) -> Result<RunOutput, ApiError> {
    serde_json::from_str(json).map_err(|e| ApiError::internal("stored run is unreadable", e))
}

/// `GET /agents/{id}/runs?session_id=&status=`: the session's runs as agno's `RunSchema`.
async fn list_runs(
    State(rt): State<AppState>,
    Path(agent_id): Path<String>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    find(&rt, &agent_id)?;
    list_session_runs(&rt, ComponentKind::Agent, &agent_id, q).await
}

/// `GET /agents/{id}/runs/{run_id}?session_id=`: the run's `RunOutput` (while it runs: its
/// id, session, input and status).
async fn get_run(
    State(rt): State<AppState>,
    Path((agent_id, run_id)): Path<(String, String)>,
    Query(q): Query<RunsQuery>,
) -> Result<Response, ApiError> {
    find(&rt, &agent_id)?;
    let run = find_run(
        &rt,
        ComponentKind::Agent,
        &agent_id,
        &run_id,
        q.session_id.as_deref(),
    )
    .await?;
    Ok(Json(stored_output(&run)?).into_response())
}

/// The stored output, or what is known of a run still executing.
fn stored_output(run: &RunRecord) -> Result<Value, ApiError> {
    if let Some(json) = &run.output {
        return serde_json::from_str(json)
            .map_err(|e| ApiError::internal("stored run is unreadable", e));
    }
    let mut v = json!({
        "run_id": run.run_id,
        "agent_id": run.component_id,
        "session_id": run.session_id,
        "content": "",
        "content_type": "str",
        "created_at": run.created_at / 1000,
        "status": run.status,
        "input": {"input_content": run.input},
    });
    if let Some(user_id) = &run.user_id {
        v["user_id"] = json!(user_id);
    }
    if let Some(error) = &run.error {
        v["content"] = json!(error);
    }
    Ok(v)
}

/// `POST /agents/{id}/runs/{run_id}/cancel`.
async fn cancel_run(
    State(rt): State<AppState>,
    Path((agent_id, run_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    find(&rt, &agent_id)?;
    Ok(cancelled(rt.cancel_anywhere(&run_id).await?, &run_id))
}
