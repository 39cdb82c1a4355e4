//! `/teams`: list, detail, run (JSON or SSE with agno's team events), the stored runs, cancel,
//! resume; agno's `TeamResponse` and `TeamRunOutput` shapes.

use super::agents::{AgentResponse, ModelResponse, agent_response};
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
use crate::event::RunEvent;
use crate::http::api::{Api, routes};
use crate::kind::ComponentKind;
use crate::run::{RunInput, RunStatus, TeamRunOutput};
use crate::runtime::Runtime;
use crate::store::RunRecord;
use crate::team::{Member, Team};
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
        routes!(list_teams),
        routes!(get_team),
        routes!(create_run, list_runs),
        routes!(get_run),
        routes!(cancel_run),
        routes!(resume_run),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

/// The OpenAPI tag of these routes.
const TAG: &str = "Teams";

/// agno's `TeamResponse` (null keys left out): what Agent UI and `AgentOSClient.get_team` read.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TeamResponse {
    pub id: String,
    pub name: String,
    pub db_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `coordinate`, `route`, `broadcast` or `tasks`.
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelResponse>,
    /// `{"tools": [{"name", "description", "parameters"}]}`: the delegation (or task) tools,
    /// then the leader's own.
    #[schema(value_type = Object)]
    pub tools: Value,
    /// `{"stream_member_events": true}` when the members' events are streamed (agno shows the
    /// settings that differ from its defaults).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub streaming: Option<Value>,
    /// The members: agents (`AgentResponse`) and nested teams (`TeamResponse`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion, value_type = Option<Vec<Object>>)]
    pub members: Option<Vec<MemberResponse>>,
    pub is_factory: bool,
    pub is_component: bool,
    pub sandboxed: bool,
}

/// A member in `TeamResponse.members`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum MemberResponse {
    Agent(Box<AgentResponse>),
    Team(Box<TeamResponse>),
}

/// A team still executing, as `GET .../runs/{run_id}` shows it: what is known so far.
#[derive(Debug, Serialize)]
struct RunningTeamRun<'a> {
    run_id: &'a str,
    team_id: &'a str,
    session_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    /// `""`, or the error of a run that failed before it had an output.
    content: &'a str,
    content_type: &'static str,
    member_responses: [Value; 0],
    created_at: i64,
    status: RunStatus,
    input: RunInput,
}

pub(crate) fn team_response(rt: &Runtime, team: &Team) -> TeamResponse {
    let members: Vec<MemberResponse> = team
        .get_members()
        .iter()
        .map(|m| match m {
            Member::Agent(a) => MemberResponse::Agent(Box::new(agent_response(rt, a))),
            Member::Team(t) => MemberResponse::Team(Box::new(team_response(rt, t))),
        })
        .collect();
    TeamResponse {
        id: team.get_id().to_owned(),
        name: team.get_name().to_owned(),
        db_id: rt.db_id.clone(),
        description: team.get_description().map(str::to_owned),
        role: team.get_role().map(str::to_owned),
        mode: team.get_mode().as_str(),
        model: team
            .get_model()
            .map(|m| ModelResponse::from_model(m.as_ref())),
        tools: team.tools_info(),
        streaming: team
            .get_stream_member_events()
            .then(|| serde_json::json!({"stream_member_events": true})),
        members: (!members.is_empty()).then_some(members),
        is_factory: false,
        is_component: false,
        sandboxed: false,
    }
}

fn find<'a>(rt: &'a AppState, id: &str) -> Result<&'a Arc<Team>, ApiError> {
    rt.team(id)
        .ok_or_else(|| ApiError::unknown(rt, ComponentKind::Team, id))
}

/// List the teams
#[utoipa::path(
    get, path = "/teams", tag = TAG,
    responses(
        (status = 200, description = "The teams served (those the token may read)", body = Vec<TeamResponse>),
        (status = 403, description = "The token may read no team", body = ErrorBody),
    )
)]
async fn list_teams(
    State(rt): State<AppState>,
    access: Access,
) -> Result<Json<Vec<TeamResponse>>, ApiError> {
    let visible = access.listing(ComponentKind::Team)?;
    Ok(Json(
        rt.teams
            .iter()
            .filter(|t| visible.allows(t.get_id()))
            .map(|t| team_response(&rt, t))
            .collect(),
    ))
}

/// Get a team
#[utoipa::path(
    get, path = "/teams/{team_id}", tag = TAG,
    params(("team_id" = String, Path, description = "The team's id")),
    responses(
        (status = 200, description = "The team, its members and tools", body = TeamResponse),
        (status = 404, description = "No team with this id (the detail names the ones served)", body = ErrorBody),
    )
)]
async fn get_team(
    State(rt): State<AppState>,
    Path(team_id): Path<String>,
) -> Result<Json<TeamResponse>, ApiError> {
    Ok(Json(team_response(&rt, find(&rt, &team_id)?)))
}

/// Run a team
///
/// JSON (`TeamRunOutput`, with `member_responses`) when `stream=false`, Server-Sent Events
/// otherwise (agno's team events: `TeamRunStarted`, `TeamRunContent`, `TeamToolCallStarted`
/// for a delegation, the members' own events, `TeamRunCompleted`), 202 with `background=true`.
/// The body is a form (multipart or URL-encoded), as agno's is: a JSON body gets 415.
#[utoipa::path(
    post, path = "/teams/{team_id}/runs", tag = TAG,
    params(
        ("team_id" = String, Path, description = "The team's id"),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255,
            description = "Retrying with the same key returns the same run (agentos extension)"),
    ),
    request_body(content(
        (AgentRunForm = "multipart/form-data"),
        (AgentRunForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The finished run (`stream=false`), or its events (`stream=true`): `event: <name>` and `data: <RunEvent as JSON>` blocks", content(
            (TeamRunOutput = "application/json"),
            (RunEvent = "text/event-stream"),
        )),
        (status = 202, description = "Accepted: a background run, or a run still executing for a repeated `Idempotency-Key`", body = RunAccepted),
        (status = 400, description = "A malformed body or an unsupported file", body = ErrorBody),
        (status = 404, description = "No team with this id (the detail names the ones served)", body = ErrorBody),
        (status = 409, description = "The session belongs to another component (the detail names it)", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "A JSON body: send a form", body = ErrorBody),
        (status = 422, description = "A missing `message` or a bad boolean", body = ValidationErrorBody),
    )
)]
async fn create_run(
    State(rt): State<AppState>,
    Path(team_id): Path<String>,
    access: Access,
    headers: HeaderMap,
    form: RunForm,
) -> Result<Response, ApiError> {
    find(&rt, &team_id)?;
    let mut req = form.into_agent_request()?;
    req.idempotency_key = idempotency_key(&headers)?;
    if access.0.is_some() {
        authorize_run(&rt, &access, &mut req).await?;
    }
    let stream = req.stream;
    let started = match rt.start(ComponentKind::Team, &team_id, req).await {
        Ok(started) => started,
        Err(e) => return Err(ApiError::from_start(&rt, ComponentKind::Team, &team_id, e).await),
    };
    answer(started, stream, final_event).await
}

/// Resume a team run's event stream
///
/// Replays the events after `last_event_index` and follows the run while it executes.
#[utoipa::path(
    post, path = "/teams/{team_id}/runs/{run_id}/resume", tag = TAG,
    params(
        ("team_id" = String, Path, description = "The team's id"),
        ("run_id" = String, Path, description = "The run's id"),
    ),
    request_body(content(
        (ResumeRequest = "multipart/form-data"),
        (ResumeRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "`catch_up` or `replay`, then the events, as Server-Sent Events", body = String, content_type = "text/event-stream"),
        (status = 404, description = "No team with this id", body = ErrorBody),
        (status = 415, description = "A JSON body: send a form", body = ErrorBody),
        (status = 422, description = "A `last_event_index` that is not an integer", body = ValidationErrorBody),
    )
)]
async fn resume_run(
    State(rt): State<AppState>,
    Path((team_id, run_id)): Path<(String, String)>,
    access: Access,
    request: Request,
) -> Result<Response, ApiError> {
    find(&rt, &team_id)?;
    let form = ResumeForm::from_request(request).await?;
    let session = form.session_id.as_deref();
    authorize_run_access(
        &rt,
        &access,
        ComponentKind::Team,
        &team_id,
        &run_id,
        session,
    )
    .await?;
    resume(&rt, ComponentKind::Team, &team_id, &run_id, form).await
}

/// The last event of a stored team run, rebuilt from its output.
fn final_event(output: &str) -> Result<RunEvent, ApiError> {
    let output: TeamRunOutput = serde_json::from_str(output)
        .map_err(|e| ApiError::internal("stored run is unreadable", e))?;
    let mut ctx = crate::event::AgentContext::standalone(
        &output.team_id,
        &output.team_name,
        &output.run_id,
        &output.session_id,
    );
    ctx.team = true;
    let ctx = Arc::new(ctx);
    Ok(match output.status {
        RunStatus::Error => RunEvent::RunError {
            ctx,
            content: output.content_text(),
            error_type: None,
            error_id: None,
        },
        RunStatus::Cancelled => RunEvent::RunCancelled {
            ctx,
            reason: crate::outcome::cancel_reason(&output.run_id),
        },
        _ => RunEvent::team_completed(ctx, &output),
    })
}

/// List a team's runs in a session
///
/// Each as agno's `TeamRunSchema`.
#[utoipa::path(
    get, path = "/teams/{team_id}/runs", tag = TAG,
    params(
        ("team_id" = String, Path, description = "The team's id"),
        RunsQuery,
    ),
    responses(
        (status = 200, description = "The session's runs of this team", body = Vec<SessionRun>),
        (status = 400, description = "An unknown status", body = ErrorBody),
        (status = 404, description = "No team with this id, or no such session of it", body = ErrorBody),
        (status = 422, description = "No `session_id`", body = ValidationErrorBody),
    )
)]
async fn list_runs(
    State(rt): State<AppState>,
    Path(team_id): Path<String>,
    access: Access,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Vec<SessionRun>>, ApiError> {
    find(&rt, &team_id)?;
    list_session_runs(&rt, &access, ComponentKind::Team, &team_id, q).await
}

/// Get (poll) a team run
///
/// The run's `TeamRunOutput` (with `member_responses`); while it runs, its id, session, input
/// and status.
#[utoipa::path(
    get, path = "/teams/{team_id}/runs/{run_id}", tag = TAG,
    params(
        ("team_id" = String, Path, description = "The team's id"),
        ("run_id" = String, Path, description = "The run's id"),
        RunsQuery,
    ),
    responses(
        (status = 200, description = "The run", body = TeamRunOutput),
        (status = 404, description = "No team with this id, or no such run of it", body = ErrorBody),
    )
)]
async fn get_run(
    State(rt): State<AppState>,
    Path((team_id, run_id)): Path<(String, String)>,
    access: Access,
    Query(q): Query<RunsQuery>,
) -> Result<Response, ApiError> {
    find(&rt, &team_id)?;
    let run = find_run(
        &rt,
        &access,
        ComponentKind::Team,
        &team_id,
        &run_id,
        q.session_id.as_deref(),
    )
    .await?;
    stored_output(&run)
}

/// The stored output, or what is known of a run still executing.
fn stored_output(run: &RunRecord) -> Result<Response, ApiError> {
    if let Some(json) = &run.output {
        serde_json::from_str::<serde::de::IgnoredAny>(json)
            .map_err(|e| ApiError::internal("stored run is unreadable", e))?;
        return Ok(json_text(json.clone()));
    }
    let running = RunningTeamRun {
        run_id: &run.run_id,
        team_id: &run.component_id,
        session_id: &run.session_id,
        user_id: run.user_id.as_deref(),
        content: run.error.as_deref().unwrap_or(""),
        content_type: "str",
        member_responses: [],
        created_at: run.created_at / 1000,
        status: run.status,
        input: RunInput {
            input_content: run.input.clone(),
        },
    };
    Ok(Json(running).into_response())
}

/// Cancel a team run
///
/// Stops the leader and every member in flight, wherever the run executes; each is stored
/// CANCELLED. 200 `{}` for a run executing, a finished one or an unknown one alike (cancel is
/// an intent).
#[utoipa::path(
    post, path = "/teams/{team_id}/runs/{run_id}/cancel", tag = TAG,
    params(
        ("team_id" = String, Path, description = "The team's id"),
        ("run_id" = String, Path, description = "The run's id"),
        ("session_id" = Option<String>, Query, description = "The run's session"),
    ),
    responses(
        (status = 200, description = "Cancel requested", body = Cancelled),
        (status = 404, description = "No team with this id", body = ErrorBody),
    )
)]
async fn cancel_run(
    State(rt): State<AppState>,
    Path((team_id, run_id)): Path<(String, String)>,
    access: Access,
    Query(q): Query<SessionQuery>,
) -> Result<Json<Cancelled>, ApiError> {
    find(&rt, &team_id)?;
    let session = q.session_id.as_deref();
    authorize_run_access(
        &rt,
        &access,
        ComponentKind::Team,
        &team_id,
        &run_id,
        session,
    )
    .await?;
    Ok(cancelled(rt.cancel_anywhere(&run_id).await?, &run_id))
}
