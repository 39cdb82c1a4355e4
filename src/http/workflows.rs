//! `/workflows`: list, detail, run (JSON or SSE), the stored runs, cancel, resume.

use super::agents::ModelResponse;
use super::auth::Access;
use super::error::{ApiError, ErrorBody, ValidationErrorBody};
use super::form::{ResumeRequest, RunForm, WorkflowRunForm};
use super::runs::{
    Cancelled, ResumeForm, RunAccepted, RunsQuery, SessionQuery, answer, authorize_run,
    authorize_run_access, cancelled, find_run, idempotency_key, list_session_runs, resume,
};
use super::sessions::run_schema::SessionRun;
use super::{AppState, Path, Query};
use crate::agent::Agent;
use crate::event::{RunEvent, WorkflowContext};
use crate::http::api::{Api, routes};
use crate::kind::ComponentKind;
use crate::run::WorkflowRunOutput;
use crate::runtime::Runtime;
use crate::store::RunRecord;
use crate::workflow::{Step, StepKind, Workflow};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

pub(crate) fn router() -> Api {
    [
        routes!(list_workflows),
        routes!(get_workflow),
        routes!(create_run, list_runs),
        routes!(get_run),
        routes!(cancel_run),
        routes!(resume_run),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

/// The OpenAPI tag of these routes.
const TAG: &str = "Workflows";

/// agno's `WorkflowSummaryResponse`: one entry of `GET /workflows` (and of `/config`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowSummary {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub db_id: String,
    pub is_factory: bool,
    pub is_component: bool,
}

impl WorkflowSummary {
    pub(crate) fn of(rt: &Runtime, wf: &Workflow) -> WorkflowSummary {
        WorkflowSummary {
            id: wf.id().to_owned(),
            name: wf.get_name().to_owned(),
            description: wf.get_description().map(str::to_owned),
            db_id: rt.db_id.clone(),
            is_factory: false,
            is_component: false,
        }
    }
}

/// agno's `WorkflowResponse`: the workflow with its step tree.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowResponse {
    #[serde(flatten)]
    pub summary: WorkflowSummary,
    pub steps: Vec<StepTree>,
    /// Always false: no workflow agent here.
    pub workflow_agent: bool,
}

/// One step of `GET /workflows/{id}` (wire spec §4.7): name, description and type, the agent
/// of an agent step, and the children of a construct (`steps`; a Condition's `else_steps`; a
/// Router's choices as `steps`). Null keys are left out, as agno prunes them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StepTree {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `Step`, `Steps`, `Parallel`, `Condition`, `Loop` or `Router`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// An agent step's agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<StepAgent>,
    /// A team step's team.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<super::teams::TeamResponse>,
    /// A construct's children (a Router's choices).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub steps: Option<Vec<StepTree>>,
    /// A Condition's else branch, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub else_steps: Option<Vec<StepTree>>,
    /// A Loop's bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<usize>,
}

/// The agent of an agent step.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StepAgent {
    pub id: String,
    pub name: String,
    pub is_factory: bool,
    pub model: Option<ModelResponse>,
    pub is_component: bool,
}

impl StepAgent {
    fn of(agent: &Agent) -> StepAgent {
        StepAgent {
            id: agent.id().to_owned(),
            name: agent.name().to_owned(),
            is_factory: false,
            model: ModelResponse::of(agent),
            is_component: false,
        }
    }
}

fn step_tree(rt: &Runtime, step: &Step) -> StepTree {
    let list = |steps: &[Step]| Some(steps.iter().map(|s| step_tree(rt, s)).collect());
    let mut tree = StepTree {
        name: step.name().to_owned(),
        description: step.get_description().map(str::to_owned),
        kind: step.kind().type_name(),
        agent: None,
        team: None,
        steps: None,
        else_steps: None,
        max_iterations: None,
    };
    match step.kind() {
        StepKind::Agent(a) => tree.agent = Some(StepAgent::of(a)),
        StepKind::Team(t) => tree.team = Some(super::teams::team_response(rt, t)),
        StepKind::Function(_) => {}
        StepKind::Steps(s) => tree.steps = list(&s.steps),
        StepKind::Parallel(p) => tree.steps = list(&p.steps),
        StepKind::Condition(c) => {
            tree.steps = list(&c.steps);
            if !c.else_steps.is_empty() {
                tree.else_steps = list(&c.else_steps);
            }
        }
        StepKind::Loop(l) => {
            tree.steps = list(&l.steps);
            tree.max_iterations = Some(l.max_iterations);
        }
        StepKind::Router(r) => tree.steps = list(&r.choices),
    }
    tree
}

/// List the workflows
#[utoipa::path(
    get, path = "/workflows", tag = TAG,
    responses(
        (status = 200, description = "The workflows served (with auth: the ones the token may read)", body = Vec<WorkflowSummary>),
        (status = 403, description = "The token may read no workflow", body = ErrorBody),
    )
)]
async fn list_workflows(
    State(rt): State<AppState>,
    access: Access,
) -> Result<Json<Vec<WorkflowSummary>>, ApiError> {
    let visible = access.listing(ComponentKind::Workflow)?;
    Ok(Json(
        rt.workflows
            .iter()
            .filter(|wf| visible.allows(wf.id()))
            .map(|wf| WorkflowSummary::of(&rt, wf))
            .collect(),
    ))
}

fn find<'a>(rt: &'a AppState, id: &str) -> Result<&'a Workflow, ApiError> {
    rt.workflow(id)
        .map(|w| w.as_ref())
        .ok_or_else(|| ApiError::unknown(rt, ComponentKind::Workflow, id))
}

/// Get a workflow with its steps
#[utoipa::path(
    get, path = "/workflows/{workflow_id}", tag = TAG,
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "The workflow and its step tree", body = WorkflowResponse),
        (status = 404, description = "No workflow with this id (the detail names the ones served)", body = ErrorBody),
    )
)]
async fn get_workflow(
    State(rt): State<AppState>,
    Path(workflow_id): Path<String>,
) -> Result<Json<WorkflowResponse>, ApiError> {
    let wf = find(&rt, &workflow_id)?;
    Ok(Json(WorkflowResponse {
        summary: WorkflowSummary::of(&rt, wf),
        steps: wf.get_steps().iter().map(|s| step_tree(&rt, s)).collect(),
        workflow_agent: false,
    }))
}

/// Run a workflow
///
/// JSON when `stream=false`, Server-Sent Events otherwise, 202 with `background=true`. With an
/// `Idempotency-Key` seen before, answers with that run instead of running again. The body is
/// a form (multipart or URL-encoded), as agno's is: a JSON body gets 415.
#[utoipa::path(
    post, path = "/workflows/{workflow_id}/runs", tag = TAG,
    params(
        ("workflow_id" = String, Path, description = "The workflow's id"),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255,
            description = "Retrying with the same key returns the same run (agentos extension)"),
    ),
    request_body(content(
        (WorkflowRunForm = "multipart/form-data"),
        (WorkflowRunForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The finished run (`stream=false`), or its events (`stream=true`): `event: <name>` and `data: <RunEvent as JSON>` blocks", content(
            (WorkflowRunOutput = "application/json"),
            (RunEvent = "text/event-stream"),
        )),
        (status = 202, description = "Accepted: a background run, or a run still executing for a repeated `Idempotency-Key`", body = RunAccepted),
        (status = 400, description = "A malformed body or a rejected input", body = ErrorBody),
        (status = 404, description = "No workflow with this id (the detail names the ones served)", body = ErrorBody),
        (status = 409, description = "The session belongs to another component (the detail names it)", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "A JSON body: send a form", body = ErrorBody),
        (status = 422, description = "A missing `message` or a bad boolean", body = ValidationErrorBody),
    )
)]
async fn create_run(
    State(rt): State<AppState>,
    Path(workflow_id): Path<String>,
    access: Access,
    headers: HeaderMap,
    form: RunForm,
) -> Result<Response, ApiError> {
    let mut req = form.into_run_request()?;
    req.idempotency_key = idempotency_key(&headers)?;
    if access.0.is_some() {
        authorize_run(&rt, &access, &mut req).await?;
    }
    let stream = req.stream;
    let started = match rt.start_workflow_run(&workflow_id, req).await {
        Ok(started) => started,
        Err(e) => {
            return Err(ApiError::from_start(&rt, ComponentKind::Workflow, &workflow_id, e).await);
        }
    };
    answer(started, stream, final_event).await
}

/// Resume a workflow run's event stream
///
/// Replays the events after `last_event_index` and follows the run while it executes.
#[utoipa::path(
    post, path = "/workflows/{workflow_id}/runs/{run_id}/resume", tag = TAG,
    params(
        ("workflow_id" = String, Path, description = "The workflow's id"),
        ("run_id" = String, Path, description = "The run's id"),
    ),
    request_body(content(
        (ResumeRequest = "multipart/form-data"),
        (ResumeRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "`catch_up` or `replay`, then the events, as Server-Sent Events", body = String, content_type = "text/event-stream"),
        (status = 404, description = "No workflow with this id", body = ErrorBody),
        (status = 415, description = "A JSON body: send a form", body = ErrorBody),
        (status = 422, description = "A `last_event_index` that is not an integer", body = ValidationErrorBody),
    )
)]
async fn resume_run(
    State(rt): State<AppState>,
    Path((workflow_id, run_id)): Path<(String, String)>,
    access: Access,
    request: Request,
) -> Result<Response, ApiError> {
    find(&rt, &workflow_id)?;
    let form = ResumeForm::from_request(request).await?;
    let session = form.session_id.as_deref();
    authorize_run_access(
        &rt,
        &access,
        ComponentKind::Workflow,
        &workflow_id,
        &run_id,
        session,
    )
    .await?;
    resume(&rt, ComponentKind::Workflow, &workflow_id, &run_id, form).await
}

/// The last event of a stored workflow run, rebuilt from its output.
fn final_event(output: &str) -> Result<RunEvent, ApiError> {
    let output: WorkflowRunOutput = serde_json::from_str(output)
        .map_err(|e| ApiError::internal("stored run is unreadable", e))?;
    let ctx = WorkflowContext {
        created_at: output.created_at,
        workflow_id: output.workflow_id.clone(),
        workflow_name: output.workflow_name.clone(),
        session_id: output.session_id.clone(),
        run_id: output.run_id.clone(),
        step_id: None,
        parent_step_id: None,
        nested_depth: 0,
    };
    Ok(match &output.error {
        Some(error) => RunEvent::WorkflowError {
            ctx,
            error: error.clone(),
            error_type: None,
            error_id: None,
        },
        None => RunEvent::workflow_completed(ctx, &output),
    })
}

/// Cancel a workflow run
///
/// 200 `{}` for a run executing, a finished one or an unknown one alike (cancel is an intent).
#[utoipa::path(
    post, path = "/workflows/{workflow_id}/runs/{run_id}/cancel", tag = TAG,
    params(
        ("workflow_id" = String, Path, description = "The workflow's id"),
        ("run_id" = String, Path, description = "The run's id"),
        ("session_id" = Option<String>, Query, description = "The run's session"),
    ),
    responses(
        (status = 200, description = "Cancel requested", body = Cancelled),
        (status = 404, description = "No workflow with this id", body = ErrorBody),
    )
)]
async fn cancel_run(
    State(rt): State<AppState>,
    Path((workflow_id, run_id)): Path<(String, String)>,
    access: Access,
    Query(q): Query<SessionQuery>,
) -> Result<Json<Cancelled>, ApiError> {
    find(&rt, &workflow_id)?;
    let session = q.session_id.as_deref();
    authorize_run_access(
        &rt,
        &access,
        ComponentKind::Workflow,
        &workflow_id,
        &run_id,
        session,
    )
    .await?;
    Ok(cancelled(rt.cancel_anywhere(&run_id).await?, &run_id))
}

/// List a workflow's runs in a session
///
/// Each as agno's `WorkflowRunSchema`.
#[utoipa::path(
    get, path = "/workflows/{workflow_id}/runs", tag = TAG,
    params(
        ("workflow_id" = String, Path, description = "The workflow's id"),
        RunsQuery,
    ),
    responses(
        (status = 200, description = "The session's runs of this workflow", body = Vec<SessionRun>),
        (status = 400, description = "An unknown status", body = ErrorBody),
        (status = 404, description = "No workflow with this id, or no such session of it", body = ErrorBody),
        (status = 422, description = "No `session_id`", body = ValidationErrorBody),
    )
)]
async fn list_runs(
    State(rt): State<AppState>,
    Path(workflow_id): Path<String>,
    access: Access,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Vec<SessionRun>>, ApiError> {
    find(&rt, &workflow_id)?;
    list_session_runs(&rt, &access, ComponentKind::Workflow, &workflow_id, q).await
}

/// Get (poll) a workflow run
///
/// The run's `WorkflowRunOutput`; while it runs, what is known so far.
#[utoipa::path(
    get, path = "/workflows/{workflow_id}/runs/{run_id}", tag = TAG,
    params(
        ("workflow_id" = String, Path, description = "The workflow's id"),
        ("run_id" = String, Path, description = "The run's id"),
        RunsQuery,
    ),
    responses(
        (status = 200, description = "The run", body = WorkflowRunOutput),
        (status = 404, description = "No workflow with this id, or no such run of it", body = ErrorBody),
    )
)]
async fn get_run(
    State(rt): State<AppState>,
    Path((workflow_id, run_id)): Path<(String, String)>,
    access: Access,
    Query(q): Query<RunsQuery>,
) -> Result<Json<WorkflowRunOutput>, ApiError> {
    let wf = find(&rt, &workflow_id)?;
    let run = find_run(
        &rt,
        &access,
        ComponentKind::Workflow,
        &workflow_id,
        &run_id,
        q.session_id.as_deref(),
    )
    .await?;
    Ok(Json(stored_output(wf, &run)?))
}

/// The stored output of a run, or, while it runs, what is known so far.
fn stored_output(wf: &Workflow, run: &RunRecord) -> Result<WorkflowRunOutput, ApiError> {
    if let Some(json) = &run.output {
        return serde_json::from_str(json)
            .map_err(|e| ApiError::internal("stored run is unreadable", e));
    }
    let mut output = wf.blank_output(
        &run.run_id,
        &run.session_id,
        run.user_id.as_deref(),
        &run.input,
        run.created_at / 1000,
        run.status,
    );
    output.error = run.error.clone();
    Ok(output)
}
