//! `/workflows`: list, detail, run (JSON or SSE), and the stored runs.

use super::error::ApiError;
use super::form::RunForm;
use super::runs::{
    RunsQuery, answer, cancelled, find_run, idempotency_key, list_session_runs, resume, resume_form,
};
use super::{AppState, route};
use super::{Path, Query};
use crate::agent::Agent;
use crate::event::{RunEvent, WorkflowContext};
use crate::kind::ComponentKind;
use crate::run::WorkflowRunOutput;
use crate::runtime::Runtime;
use crate::store::RunRecord;
use crate::workflow::{Step, StepKind, Workflow};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub(crate) fn router() -> Router<AppState> {
    let r = Router::new();
    let r = route(r, "/workflows", get(list_workflows));
    let r = route(r, "/workflows/{workflow_id}", get(get_workflow));
    let r = route(
        r,
        "/workflows/{workflow_id}/runs",
        post(create_run).get(list_runs),
    );
    let r = route(r, "/workflows/{workflow_id}/runs/{run_id}", get(get_run));
    let r = route(
        r,
        "/workflows/{workflow_id}/runs/{run_id}/cancel",
        post(cancel_run),
    );
    route(
        r,
        "/workflows/{workflow_id}/runs/{run_id}/resume",
        post(resume_run),
    )
}

fn summary(rt: &Runtime, wf: &Workflow) -> Value {
    let mut v = json!({
        "id": wf.id(),
        "name": wf.get_name(),
        "db_id": rt.db_id,
        "is_factory": false,
        "is_component": false,
    });
    if let Some(d) = wf.get_description() {
        v["description"] = json!(d);
    }
    v
}

pub(crate) fn agent_summary(agent: &Agent) -> Value {
    let model = agent
        .get_model()
        .map(|m| json!({"name": m.provider(), "model": m.id(), "provider": m.provider()}));
    json!({
        "id": agent.id(),
        "name": agent.name(),
        "is_factory": false,
        "model": model,
        "is_component": false,
    })
}

/// One step of `GET /workflows/{id}` (wire spec §4.7): name, description and type, the agent
/// of an agent step, and the children of a construct (`steps`; a Condition's `else_steps`; a
/// Router's choices as `steps`). Null keys are left out, as agno prunes them.
fn step_tree(step: &Step) -> Value {
    let mut v = json!({"name": step.name(), "type": step.kind().type_name()});
    if let Some(d) = step.get_description() {
        v["description"] = json!(d);
    }
    let list = |steps: &[Step]| Value::Array(steps.iter().map(step_tree).collect());
    match step.kind() {
        StepKind::Agent(a) => v["agent"] = agent_summary(a),
        StepKind::Function(_) => {}
        StepKind::Steps(s) => v["steps"] = list(&s.steps),
        StepKind::Parallel(p) => v["steps"] = list(&p.steps),
        StepKind::Condition(c) => {
            v["steps"] = list(&c.steps);
            if !c.else_steps.is_empty() {
                v["else_steps"] = list(&c.else_steps);
            }
        }
        StepKind::Loop(l) => {
            v["steps"] = list(&l.steps);
            v["max_iterations"] = json!(l.max_iterations);
        }
        StepKind::Router(r) => v["steps"] = list(&r.choices),
    }
    v
}

async fn list_workflows(State(rt): State<AppState>) -> Json<Vec<Value>> {
    Json(rt.workflows.iter().map(|wf| summary(&rt, wf)).collect())
}

fn find<'a>(rt: &'a Runtime, id: &str) -> Result<&'a Workflow, ApiError> {
    rt.workflow(id)
        .map(|w| w.as_ref())
        .ok_or_else(|| ApiError::not_found("Workflow not found"))
}

async fn get_workflow(
    State(rt): State<AppState>,
    Path(workflow_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let wf = find(&rt, &workflow_id)?;
    let steps: Vec<Value> = wf.get_steps().iter().map(step_tree).collect();
    let mut v = summary(&rt, wf);
    v["steps"] = json!(steps);
    v["workflow_agent"] = json!(false);
    Ok(Json(v))
}

/// `POST /workflows/{id}/runs`: runs the workflow; JSON when `stream=false`, SSE otherwise.
/// With an `Idempotency-Key` seen before, answers with that run instead of running again.
async fn create_run(
    State(rt): State<AppState>,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    form: RunForm,
) -> Result<Response, ApiError> {
    let mut req = form.into_run_request()?;
    req.idempotency_key = idempotency_key(&headers)?;
    let stream = req.stream;
    answer(
        rt.start_workflow_run(&workflow_id, req).await?,
        stream,
        final_event,
    )
    .await
}

/// `POST .../runs/{run_id}/resume`: replays what the client missed and follows the run.
async fn resume_run(
    State(rt): State<AppState>,
    Path((workflow_id, run_id)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    find(&rt, &workflow_id)?;
    let form = resume_form(request).await?;
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

/// `POST /workflows/{id}/runs/{run_id}/cancel`.
async fn cancel_run(
    State(rt): State<AppState>,
    Path((workflow_id, run_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    find(&rt, &workflow_id)?;
    Ok(cancelled(rt.cancel_anywhere(&run_id).await?, &run_id))
}

/// `GET /workflows/{id}/runs?session_id=`: the session's runs as agno's `WorkflowRunSchema`.
async fn list_runs(
    State(rt): State<AppState>,
    Path(workflow_id): Path<String>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    find(&rt, &workflow_id)?;
    list_session_runs(&rt, ComponentKind::Workflow, &workflow_id, q).await
}

/// `GET /workflows/{id}/runs/{run_id}?session_id=`: the run's `WorkflowRunOutput`.
async fn get_run(
    State(rt): State<AppState>,
    Path((workflow_id, run_id)): Path<(String, String)>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<WorkflowRunOutput>, ApiError> {
    let wf = find(&rt, &workflow_id)?;
    let run = find_run(
        &rt,
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
