//! `/agents`: list, detail, run (JSON or SSE), the stored runs, cancel, resume.

use super::auth::Access;
use super::error::{ApiError, ErrorBody, ValidationErrorBody};
use super::form::{AgentRunForm, ResumeRequest, RunForm};
use super::runs::{
    Cancelled, ResumeForm, RunAccepted, RunsQuery, SessionQuery, answer, authorize_run,
    authorize_run_access, cancelled, find_run, idempotency_key, json_text, list_session_runs,
    resume,
};
use super::sessions::run_schema::SessionRun;
use super::{AppState, Path, Query};
use crate::agent::Agent;
use crate::event::{AgentContext, RunEvent};
use crate::http::api::{Api, routes};
use crate::kind::ComponentKind;
use crate::outcome::cancel_reason;
use crate::run::{RunInput, RunOutput, RunStatus};
use crate::runtime::Runtime;
use crate::store::RunRecord;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

pub(crate) fn router() -> Api {
    [
        routes!(list_agents),
        routes!(get_agent),
        routes!(create_run, list_runs),
        routes!(get_run),
        routes!(cancel_run),
        routes!(resume_run),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

/// The OpenAPI tag of these routes.
const TAG: &str = "Agents";

/// agno's `AgentResponse`: what Agent UI and `AgentOSClient.get_agent` read.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentResponse {
    pub id: String,
    pub name: String,
    pub db_id: String,
    /// The agent's description, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Null when the agent has no model.
    pub model: Option<ModelResponse>,
    pub is_factory: bool,
    pub is_component: bool,
    /// `{"tools": [{"name", "description", "parameters"}], "tool_choice"?}`; absent without
    /// tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub tools: Option<Value>,
    /// For an agent that keeps user memories: `update_memory_on_run`, `enable_agentic_memory`
    /// (each only when on), `memory_table`, and the memory manager's `model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub memory: Option<Value>,
    /// agno's knowledge section (`db_id`, `knowledge_table`, filters, ...); absent without a
    /// knowledge base.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub knowledge: Option<Value>,
}

/// agno's `ModelResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelResponse {
    /// The provider's name (agno puts it here too).
    pub name: String,
    /// The model id.
    pub model: String,
    pub provider: String,
}

impl ModelResponse {
    pub(crate) fn of(agent: &Agent) -> Option<ModelResponse> {
        agent
            .get_model()
            .map(|m| ModelResponse::from_model(m.as_ref()))
    }

    pub(crate) fn from_model(m: &dyn crate::model::Model) -> ModelResponse {
        ModelResponse {
            name: m.provider().to_owned(),
            model: m.id().to_owned(),
            provider: m.provider().to_owned(),
        }
    }
}

/// An agent run still executing, as `GET .../runs/{run_id}` shows it: what is known so far.
#[derive(Debug, Serialize)]
struct RunningAgentRun<'a> {
    run_id: &'a str,
    agent_id: &'a str,
    session_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    /// `""`, or the error of a run that failed before it had an output.
    content: &'a str,
    content_type: &'static str,
    created_at: i64,
    status: RunStatus,
    input: RunInput,
}

pub(crate) fn agent_response(rt: &Runtime, agent: &Agent) -> AgentResponse {
    AgentResponse {
        id: agent.id().to_owned(),
        name: agent.name().to_owned(),
        db_id: rt.db_id.clone(),
        description: agent.extras().and_then(|e| e.description.clone()),
        model: ModelResponse::of(agent),
        is_factory: false,
        is_component: false,
        tools: agent.tools_info(),
        memory: memory_info(agent),
        knowledge: agent.get_knowledge().map(|k| {
            let filters: serde_json::Map<String, Value> = k
                .filters
                .terms()
                .iter()
                .map(|(key, values)| match values.as_slice() {
                    [one] => (key.clone(), one.clone()),
                    many => (key.clone(), Value::Array(many.to_vec())),
                })
                .collect();
            serde_json::json!({
                "id": k.knowledge().id(),
                "db_id": rt.db_id,
                "knowledge_table": "knowledge_contents",
                "enable_agentic_knowledge_filters": k.agentic_filters,
                "knowledge_filters": if filters.is_empty() { Value::Null } else { Value::Object(filters) },
                "references_format": "json",
                "search_knowledge": k.search_tool,
                "add_knowledge_to_context": k.add_references,
            })
        }),
    }
}

/// agno's `memory` section of `AgentResponse`, with only what differs from its defaults.
fn memory_info(agent: &Agent) -> Option<Value> {
    let extras = agent.extras()?;
    let memory = &extras.memory;
    if memory.manager.is_none() && !memory.update_on_run && !memory.agentic {
        return None;
    }
    let mut info = serde_json::Map::new();
    if memory.agentic {
        info.insert("enable_agentic_memory".into(), Value::Bool(true));
    }
    if memory.update_on_run {
        info.insert("update_memory_on_run".into(), Value::Bool(true));
        info.insert("memory_table".into(), Value::from("memories"));
    }
    if let Some(model) = agent.memory_model() {
        info.insert(
            "model".into(),
            serde_json::json!({"name": model.provider(), "model": model.id(), "provider": model.provider()}),
        );
    }
    Some(Value::Object(info))
}

fn find<'a>(rt: &'a AppState, id: &str) -> Result<&'a Arc<Agent>, ApiError> {
    rt.agent(id)
        .ok_or_else(|| ApiError::unknown(rt, ComponentKind::Agent, id))
}

/// List the agents
#[utoipa::path(
    get, path = "/agents", tag = TAG,
    responses((status = 200, description = "The agents served", body = Vec<AgentResponse>))
)]
async fn list_agents(
    State(rt): State<AppState>,
    access: Access,
) -> Result<Json<Vec<AgentResponse>>, ApiError> {
    let visible = access.listing(ComponentKind::Agent)?;
    Ok(Json(
        rt.agents
            .iter()
            .filter(|a| visible.allows(a.id()))
            .map(|a| agent_response(&rt, a))
            .collect(),
    ))
}

/// Get an agent
#[utoipa::path(
    get, path = "/agents/{agent_id}", tag = TAG,
    params(("agent_id" = String, Path, description = "The agent's id")),
    responses(
        (status = 200, description = "The agent", body = AgentResponse),
        (status = 404, description = "No agent with this id (the detail names the ones served)", body = ErrorBody),
    )
)]
async fn get_agent(
    State(rt): State<AppState>,
    Path(agent_id): Path<String>,
) -> Result<Json<AgentResponse>, ApiError> {
    Ok(Json(agent_response(&rt, find(&rt, &agent_id)?)))
}

/// Run an agent
///
/// JSON when `stream=false`, Server-Sent Events otherwise, 202 with `background=true`. The
/// body is a form (multipart or URL-encoded), as agno's is: a JSON body gets 415.
#[utoipa::path(
    post, path = "/agents/{agent_id}/runs", tag = TAG,
    params(
        ("agent_id" = String, Path, description = "The agent's id"),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255,
            description = "Retrying with the same key returns the same run (agentos extension)"),
    ),
    request_body(content(
        (AgentRunForm = "multipart/form-data"),
        (AgentRunForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The finished run (`stream=false`), or its events (`stream=true`): `event: <name>` and `data: <RunEvent as JSON>` blocks", content(
            (RunOutput = "application/json"),
            (RunEvent = "text/event-stream"),
        )),
        (status = 202, description = "Accepted: a background run, or a run still executing for a repeated `Idempotency-Key`", body = RunAccepted),
        (status = 400, description = "A malformed body, a rejected input or an unsupported file", body = ErrorBody),
        (status = 404, description = "No agent with this id", body = ErrorBody),
        (status = 409, description = "The session belongs to another component (the detail names it)", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "A JSON body: send a form", body = ErrorBody),
        (status = 422, description = "A missing `message` or a bad boolean", body = ValidationErrorBody),
    )
)]
async fn create_run(
    State(rt): State<AppState>,
    Path(agent_id): Path<String>,
    access: Access,
    headers: HeaderMap,
    form: RunForm,
) -> Result<Response, ApiError> {
    find(&rt, &agent_id)?;
    let mut req = form.into_agent_request()?;
    req.idempotency_key = idempotency_key(&headers)?;
    if access.0.is_some() {
        authorize_run(&rt, &access, &mut req).await?;
    }
    let stream = req.stream;
    let started = match rt.start_agent_run(&agent_id, req).await {
        Ok(started) => started,
        Err(e) => return Err(ApiError::from_start(&rt, ComponentKind::Agent, &agent_id, e).await),
    };
    answer(started, stream, final_event).await
}

/// Resume an agent run's event stream
///
/// Replays the events after `last_event_index` and follows the run while it executes.
#[utoipa::path(
    post, path = "/agents/{agent_id}/runs/{run_id}/resume", tag = TAG,
    params(
        ("agent_id" = String, Path, description = "The agent's id"),
        ("run_id" = String, Path, description = "The run's id"),
    ),
    request_body(content(
        (ResumeRequest = "multipart/form-data"),
        (ResumeRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "`catch_up` or `replay`, then the events, as Server-Sent Events", body = String, content_type = "text/event-stream"),
        (status = 404, description = "No agent with this id", body = ErrorBody),
        (status = 415, description = "A JSON body: send a form", body = ErrorBody),
        (status = 422, description = "A `last_event_index` that is not an integer", body = ValidationErrorBody),
    )
)]
async fn resume_run(
    State(rt): State<AppState>,
    Path((agent_id, run_id)): Path<(String, String)>,
    access: Access,
    request: Request,
) -> Result<Response, ApiError> {
    find(&rt, &agent_id)?;
    let form = ResumeForm::from_request(request).await?;
    let session = form.session_id.as_deref();
    authorize_run_access(
        &rt,
        &access,
        ComponentKind::Agent,
        &agent_id,
        &run_id,
        session,
    )
    .await?;
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

/// List an agent's runs in a session
///
/// Each as agno's `RunSchema`.
#[utoipa::path(
    get, path = "/agents/{agent_id}/runs", tag = TAG,
    params(
        ("agent_id" = String, Path, description = "The agent's id"),
        RunsQuery,
    ),
    responses(
        (status = 200, description = "The session's runs of this agent", body = Vec<SessionRun>),
        (status = 400, description = "An unknown status", body = ErrorBody),
        (status = 404, description = "No agent with this id, or no such session of it", body = ErrorBody),
        (status = 422, description = "No `session_id`", body = ValidationErrorBody),
    )
)]
async fn list_runs(
    State(rt): State<AppState>,
    Path(agent_id): Path<String>,
    access: Access,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Vec<SessionRun>>, ApiError> {
    find(&rt, &agent_id)?;
    list_session_runs(&rt, &access, ComponentKind::Agent, &agent_id, q).await
}

/// Get (poll) an agent run
///
/// The run's `RunOutput`; while it runs, its id, session, input and status.
#[utoipa::path(
    get, path = "/agents/{agent_id}/runs/{run_id}", tag = TAG,
    params(
        ("agent_id" = String, Path, description = "The agent's id"),
        ("run_id" = String, Path, description = "The run's id"),
        RunsQuery,
    ),
    responses(
        (status = 200, description = "The run", body = RunOutput),
        (status = 404, description = "No agent with this id, or no such run of it", body = ErrorBody),
    )
)]
async fn get_run(
    State(rt): State<AppState>,
    Path((agent_id, run_id)): Path<(String, String)>,
    access: Access,
    Query(q): Query<RunsQuery>,
) -> Result<Response, ApiError> {
    find(&rt, &agent_id)?;
    let run = find_run(
        &rt,
        &access,
        ComponentKind::Agent,
        &agent_id,
        &run_id,
        q.session_id.as_deref(),
    )
    .await?;
    stored_output(&run)
}

/// The stored output, or what is known of a run still executing.
fn stored_output(run: &RunRecord) -> Result<Response, ApiError> {
    if let Some(json) = &run.output {
        // Checked, then answered as stored.
        serde_json::from_str::<serde::de::IgnoredAny>(json)
            .map_err(|e| ApiError::internal("stored run is unreadable", e))?;
        return Ok(json_text(json.clone()));
    }
    let running = RunningAgentRun {
        run_id: &run.run_id,
        agent_id: &run.component_id,
        session_id: &run.session_id,
        user_id: run.user_id.as_deref(),
        content: run.error.as_deref().unwrap_or(""),
        content_type: "str",
        created_at: run.created_at / 1000,
        status: run.status,
        input: RunInput {
            input_content: run.input.clone(),
        },
    };
    Ok(Json(running).into_response())
}

/// Cancel an agent run
///
/// 200 `{}` for a run executing, a finished one or an unknown one alike (cancel is an intent).
#[utoipa::path(
    post, path = "/agents/{agent_id}/runs/{run_id}/cancel", tag = TAG,
    params(
        ("agent_id" = String, Path, description = "The agent's id"),
        ("run_id" = String, Path, description = "The run's id"),
        ("session_id" = Option<String>, Query, description = "The run's session"),
    ),
    responses(
        (status = 200, description = "Cancel requested", body = Cancelled),
        (status = 404, description = "No agent with this id", body = ErrorBody),
    )
)]
async fn cancel_run(
    State(rt): State<AppState>,
    Path((agent_id, run_id)): Path<(String, String)>,
    access: Access,
    Query(q): Query<SessionQuery>,
) -> Result<Json<Cancelled>, ApiError> {
    find(&rt, &agent_id)?;
    let session = q.session_id.as_deref();
    authorize_run_access(
        &rt,
        &access,
        ComponentKind::Agent,
        &agent_id,
        &run_id,
        session,
    )
    .await?;
    Ok(cancelled(rt.cancel_anywhere(&run_id).await?, &run_id))
}
