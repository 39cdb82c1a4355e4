//! The run tools (`run_agent`, `run_team`, `run_workflow`) and the lifecycle tools
//! (`continue_run`, `cancel_run`). A run started here is a run like any other: the runtime owns
//! it, it is stored, its hooks run; the caller leaving does not stop it. A client that asks for
//! progress (a `progressToken`) is told of each tool call or step, as agno does.

use super::call::{Args, Failure, store, wrapped_result};
use crate::event::RunEvent;
use crate::http::auth::Access;
use crate::http::error::ApiError;
use crate::http::runs::{authorize_run, authorize_run_access};
use crate::kind::ComponentKind;
use crate::run::RunStatus;
use crate::runtime::{RunHandle, RunRequest, RunResult, Runtime, Started};
use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ContentBlock, ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext};
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

/// `run_agent`, `run_team` or `run_workflow`: runs the component and answers with the run's
/// content, ids and status.
pub(super) async fn run(
    rt: &Arc<Runtime>,
    access: &Access,
    kind: ComponentKind,
    args: &Args<'_>,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, Failure> {
    let id = args.string(kind.id_key())?;
    let message = args.string("message")?;
    let user_id = args.optional("user_id")?;
    // Omitted (or empty): a new session, as over REST.
    let session_id = args.optional("session_id")?.filter(|s| !s.is_empty());
    let progress = context.meta.get_progress_token();
    let mut request = RunRequest {
        message,
        stream: progress.is_some(),
        session_id,
        user_id,
        ..RunRequest::default()
    };
    authorize_run(rt, access, &mut request)
        .await
        .map_err(|e| Failure::Failed(e.detail()))?;
    let handle = match rt.start(kind, &id, request).await {
        Ok(Started::New(handle)) => handle,
        // Only a request with an `Idempotency-Key` finds an earlier run.
        Ok(Started::Existing(run)) => {
            return Err(Failure::Failed(format!(
                "run {} was not started again",
                run.run_id
            )));
        }
        Err(e) => {
            let detail = match e {
                crate::runtime::StartError::NotFound(_) => not_served(rt, kind, &id),
                other => ApiError::from_start(rt, kind, &id, other).await.detail(),
            };
            return Err(Failure::Failed(detail));
        }
    };
    let output = finish(rt, kind, &id, handle, progress, &context.peer).await?;
    if kind != ComponentKind::Workflow && output["status"] == RunStatus::Error.as_str() {
        // agno raises the run's error for an agent or a team (a workflow's error is a result).
        let error = content_text(&output["content"]);
        return Err(Failure::Failed(if error.is_empty() {
            "Run failed".to_owned()
        } else {
            error
        }));
    }
    Ok(run_result(&output))
}

/// Waits for the run's end (forwarding progress when asked) and reads its stored output.
async fn finish(
    rt: &Runtime,
    kind: ComponentKind,
    id: &str,
    handle: RunHandle,
    progress: Option<ProgressToken>,
    peer: &Peer<RoleServer>,
) -> Result<Value, Failure> {
    let RunHandle {
        run_id,
        events,
        result,
        guard,
        ..
    } = handle;
    if let (Some(token), Some(events)) = (progress, events) {
        let label = match kind {
            ComponentKind::Workflow => "Workflow".to_owned(),
            ComponentKind::Agent => format!("Agent {}", rt.agent(id).map_or(id, |a| a.name())),
            ComponentKind::Team => format!("Team {}", rt.team(id).map_or(id, |t| t.get_name())),
        };
        let steps = rt.workflow(id).map(|w| w.get_steps().len());
        forward_progress(events, token, peer, &label, steps).await;
    }
    let result = result.await.map_err(|_| {
        tracing::error!(run = %run_id, "MCP tool: the run ended without a result");
        Failure::Failed(format!("run {run_id} ended without a result"))
    })?;
    // The answer is ready: the run's background hooks may start.
    drop(guard);
    match result {
        RunResult::Finished {
            rejected_input: Some(message),
            ..
        } => Err(Failure::Failed(message)),
        RunResult::Finished { json, .. } => serde_json::from_str(&json).map_err(|e| {
            tracing::error!(run = %run_id, "MCP tool: unreadable run output: {e}");
            Failure::Failed(format!("run {run_id}: unreadable output"))
        }),
        RunResult::NotStored(message) => Err(Failure::Failed(format!(
            "run {run_id} ended but could not be stored: {message}"
        ))),
    }
}

/// Tells the client of each tool call (agents) or step (workflows) until the run's events end;
/// a client that cannot be told does not stop the run, whose events are drained all the same.
async fn forward_progress(
    mut events: mpsc::Receiver<Box<RunEvent>>,
    token: ProgressToken,
    peer: &Peer<RoleServer>,
    label: &str,
    steps: Option<usize>,
) {
    let mut ticks = 0.0;
    let mut reachable = notify(peer, &token, 0.0, format!("{label} started")).await;
    while let Some(event) = events.recv().await {
        let message = match &*event {
            RunEvent::ToolCallStarted { tool, .. } if steps.is_none() => {
                format!("Tool call started: {}", tool.tool_name)
            }
            RunEvent::ToolCallCompleted { tool, .. } if steps.is_none() => {
                format!("Tool call completed: {}", tool.tool_name)
            }
            RunEvent::StepStarted {
                step_name,
                step_index,
                ..
            } => step_message("started", step_name, step_index.0.first(), steps),
            RunEvent::StepCompleted {
                step_name,
                step_index,
                ..
            } => step_message("completed", step_name, step_index.0.first(), steps),
            _ => continue,
        };
        ticks += 1.0;
        if reachable {
            reachable = notify(peer, &token, ticks, message).await;
        }
    }
}

/// agno's step progress text: `Step started: Analyzer (1/2)`.
fn step_message(verb: &str, name: &str, index: Option<&usize>, steps: Option<usize>) -> String {
    match (index, steps) {
        (Some(i), Some(n)) if n > 0 => format!("Step {verb}: {name} ({}/{n})", i + 1),
        _ => format!("Step {verb}: {name}"),
    }
}

/// One progress notification; whether it could be sent.
async fn notify(
    peer: &Peer<RoleServer>,
    token: &ProgressToken,
    progress: f64,
    message: String,
) -> bool {
    let param = ProgressNotificationParam::new(token.clone(), progress).with_message(message);
    match peer.notify_progress(param).await {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!("MCP progress notification not sent: {e}");
            false
        }
    }
}

/// agno's trimmed run result: the answer as text, and as structured content with the run's ids,
/// status and owning component.
fn run_result(output: &Value) -> CallToolResult {
    let mut text = content_text(&output["content"]);
    let paused = output["status"] == RunStatus::Paused.as_str();
    let requirements = output.get("requirements").filter(|r| r.is_array());
    if text.is_empty() && paused {
        let n = requirements.and_then(Value::as_array).map_or(0, Vec::len);
        text = format!("Run paused: {n} requirement(s) awaiting resolution.");
    }
    let mut structured = Map::new();
    for key in ["run_id", "session_id"] {
        structured.insert(key.to_owned(), output[key].clone());
    }
    let status = output["status"].as_str().unwrap_or("COMPLETED");
    structured.insert("status".to_owned(), Value::from(status));
    structured.insert("content".to_owned(), Value::from(text.clone()));
    for key in ["agent_id", "team_id", "workflow_id"] {
        if let Some(id) = output
            .get(key)
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        {
            structured.insert(key.to_owned(), id.clone());
        }
    }
    if let Some(requirements) = requirements.filter(|_| paused) {
        structured.insert("requirements".to_owned(), requirements.clone());
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(Value::Object(structured));
    result
}

/// agno's `get_content_as_string`: a string as it is, nothing as `""`, anything else as JSON.
fn content_text(content: &Value) -> String {
    match content {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `continue_run`: resumes a PAUSED run. Nothing pauses yet (human-in-the-loop is to come),
/// so every run found is refused with its status, as agno refuses a run that is not paused.
pub(super) async fn continue_run(rt: &Runtime, args: &Args<'_>) -> Result<CallToolResult, Failure> {
    let run_id = args.string("run_id")?;
    let session_id = args.string("session_id")?;
    let (kind, id) = lifecycle_target(rt, args)?;
    args.objects("requirements")?;
    args.optional("user_id")?;
    let run = rt
        .store
        .get_run(&run_id)
        .await
        .map_err(store)?
        .filter(|r| r.session_id == session_id)
        .ok_or_else(|| {
            Failure::Failed(format!(
                "Could not find run with id {run_id} in session {session_id}"
            ))
        })?;
    if run.component_type != kind || run.component_id != id {
        return Err(Failure::Failed("Run not found".to_owned()));
    }
    Err(Failure::Failed(format!(
        "Cannot continue a run that is not paused. Current status: {}",
        run.status.as_str()
    )))
}

/// `cancel_run`: records the intent to cancel (the run stops wherever it executes).
pub(super) async fn cancel_run(
    rt: &Runtime,
    access: &Access,
    args: &Args<'_>,
) -> Result<CallToolResult, Failure> {
    let run_id = args.string("run_id")?;
    let session_id = args.optional("session_id")?;
    let (kind, id) = lifecycle_target(rt, args)?;
    authorize_run_access(rt, access, kind, &id, &run_id, session_id.as_deref())
        .await
        .map_err(|e| Failure::Failed(e.detail()))?;
    // A stored run of another component is refused; an unknown one is an intent, as over REST.
    let run = rt.store.get_run(&run_id).await.map_err(store)?;
    if run.is_some_and(|r| r.component_type != kind || r.component_id != id) {
        return Err(Failure::Failed("Run not found".to_owned()));
    }
    rt.cancel_anywhere(&run_id).await.map_err(store)?;
    Ok(wrapped_result(Value::from(format!(
        "Run {run_id} cancellation requested"
    ))))
}

/// The one component (`agent_id`, `team_id` or `workflow_id`) a lifecycle call names; it must
/// be served.
fn lifecycle_target(rt: &Runtime, args: &Args<'_>) -> Result<(ComponentKind, String), Failure> {
    let mut named = Vec::new();
    for kind in [
        ComponentKind::Agent,
        ComponentKind::Team,
        ComponentKind::Workflow,
    ] {
        if let Some(id) = args.optional(kind.id_key())?.filter(|s| !s.is_empty()) {
            named.push((kind, id));
        }
    }
    let [(kind, id)] = <[_; 1]>::try_from(named).map_err(|_| {
        Failure::Failed("Provide exactly one of agent_id, team_id, or workflow_id".to_owned())
    })?;
    if !rt.ids(kind).contains(&id.as_str()) {
        return Err(Failure::Failed(not_served(rt, kind, &id)));
    }
    Ok((kind, id))
}

/// agno's message for an unknown component (`Agent x not found`), naming those served.
fn not_served(rt: &Runtime, kind: ComponentKind, id: &str) -> String {
    let served = rt.ids(kind);
    let served = if served.is_empty() {
        "none".to_owned()
    } else {
        served.join(", ")
    };
    format!(
        "{} {id} not found. Served {}: {served}",
        kind.label(),
        kind.plural()
    )
}
