//! agno's session and run shapes for `/sessions` (wire spec §5.3, §5.4): `SessionSchema`, the
//! three `*SessionDetailSchema`s, and `RunSchema` / `TeamRunSchema` / `WorkflowRunSchema`,
//! rendered from our rows. Stored outputs are read as JSON values, like agno's `from_dict`, so
//! a field added to `RunOutput` or `WorkflowRunOutput` later needs no change here.

use super::iso;
use crate::kind::ComponentKind;
use crate::runtime::Runtime;
use crate::store::{RunRecord, SessionView};
use serde_json::{Map, Value, json};

/// Drops the top-level null keys (FastAPI's `response_model_exclude_none`; nested values keep
/// theirs, as in agno).
pub(super) fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|_, value| !value.is_null());
    }
    v
}

/// A JSON column's text as a value (`null` when absent or unreadable).
fn parse_json(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// The session's id key: `agent_id`, `team_id` or `workflow_id`.
fn component_key(session_type: ComponentKind) -> &'static str {
    session_type.id_key()
}

/// The session's agent, team or workflow id; null for a session created empty (`POST
/// /sessions` without one) that no run has named yet.
fn component_of(view: &SessionView) -> Value {
    match view.session.component_id.as_str() {
        "" => Value::Null,
        id => json!(id),
    }
}

/// The session's metadata; a workflow session's is `{}` when none was set (agno stores `{}`).
fn metadata_of(view: &SessionView) -> Value {
    match parse_json(view.metadata.as_deref()) {
        Value::Null if view.session.session_type == ComponentKind::Workflow => json!({}),
        other => other,
    }
}

/// `SessionSchema`: one entry of `GET /sessions` (nulls dropped).
pub(super) fn session_summary(view: &SessionView) -> Value {
    let s = &view.session;
    let mut v = json!({
        "session_id": s.session_id,
        "session_name": s.session_name.clone().unwrap_or_default(),
        "session_state": parse_json(Some(&s.session_state)),
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "session_type": s.session_type,
        "user_id": s.user_id,
        "session_summary": parse_json(view.summary.as_deref()),
        "metadata": metadata_of(view),
    });
    v[component_key(s.session_type)] = component_of(view);
    without_nulls(v)
}

/// A stored run's output as a JSON object (empty while the run has none).
fn output_of(run: &RunRecord) -> Map<String, Value> {
    match parse_json(run.output.as_deref()) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The field, or `default` when it is absent or null.
fn field(out: &Map<String, Value>, key: &str, default: Value) -> Value {
    out.get(key)
        .filter(|v| !v.is_null())
        .cloned()
        .unwrap_or(default)
}

/// The field when it is a non-empty array, else null (agno's `messages`, `tools`, `events`).
fn non_empty(out: &Map<String, Value>, key: &str) -> Value {
    out.get(key)
        .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        .cloned()
        .unwrap_or(Value::Null)
}

/// agno's `stringify_input_content`: strings as they are, anything else as JSON text.
fn stringify(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The text an agent or team run was asked: `input.input_content`, else the last user
/// message, else the row's input (a run still executing has no output yet).
fn agent_run_input(run: &RunRecord, out: &Map<String, Value>) -> String {
    if let Some(content) = out
        .get("input")
        .and_then(|i| i.get("input_content"))
        .filter(|c| !c.is_null())
    {
        return stringify(content);
    }
    let last_user = out
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|msgs| msgs.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m.get("content"));
    match last_user {
        Some(content) => stringify(content),
        None => run.input.clone(),
    }
}

/// `RunSchema` (agents) or `TeamRunSchema` (teams), nulls kept.
fn agent_run_schema(run: &RunRecord) -> Value {
    let out = output_of(run);
    let content_type = out.get("content_type").and_then(Value::as_str);
    let input = out.get("input").cloned().unwrap_or(Value::Null);
    let media = |key: &str| input.get(key).cloned().unwrap_or_else(|| json!([]));
    let id_key = run.component_type.id_key();
    let mut v = json!({
        "run_id": run.run_id,
        "parent_run_id": field(&out, "parent_run_id", json!("")),
        "user_id": field(&out, "user_id", json!(run.user_id.clone().unwrap_or_default())),
        "status": run.status,
        "cancellation_stage": field(&out, "cancellation_stage", Value::Null),
        "run_input": agent_run_input(run, &out),
        "content": field(&out, "content", json!("")),
        "run_response_format": if content_type.is_none_or(|t| t == "str") { "text" } else { "json" },
        "reasoning_content": field(&out, "reasoning_content", json!("")),
        "reasoning_steps": field(&out, "reasoning_steps", json!([])),
        "metrics": field(&out, "metrics", json!({})),
        "metadata": field(&out, "metadata", Value::Null),
        "messages": non_empty(&out, "messages"),
        "tools": non_empty(&out, "tools"),
        "events": non_empty(&out, "events"),
        "created_at": iso(run.created_at),
        "references": field(&out, "references", json!([])),
        "citations": field(&out, "citations", Value::Null),
        "reasoning_messages": field(&out, "reasoning_messages", json!([])),
        "session_state": field(&out, "session_state", Value::Null),
        "images": field(&out, "images", json!([])),
        "videos": field(&out, "videos", json!([])),
        "audio": field(&out, "audio", json!([])),
        "files": field(&out, "files", json!([])),
        "response_audio": field(&out, "response_audio", Value::Null),
        "input_media": {
            "images": media("images"),
            "videos": media("videos"),
            "audios": media("audios"),
            "files": media("files"),
        },
        "followups": field(&out, "followups", Value::Null),
        "forked_from_run_id": Value::Null,
        "forked_from_message_index": Value::Null,
        "forked_from_session_id": Value::Null,
        "regenerated_from": Value::Null,
        "last_checkpoint_at_message_index": Value::Null,
        "error": run.error,
    });
    v[id_key] = field(&out, id_key, json!(run.component_id));
    v
}

/// `WorkflowRunSchema`, nulls kept (wire spec §5.4), plus agentos's `error`.
fn workflow_run_schema(run: &RunRecord) -> Value {
    let out = output_of(run);
    let run_input = out
        .get("input")
        .filter(|i| !i.is_null())
        .map(stringify)
        .unwrap_or_else(|| run.input.clone());
    json!({
        "run_id": run.run_id,
        "run_input": run_input,
        "events": field(&out, "events", json!([])),
        "workflow_id": field(&out, "workflow_id", json!(run.component_id)),
        "user_id": field(&out, "user_id", json!(run.user_id.clone().unwrap_or_default())),
        "content": field(&out, "content", json!("")),
        "content_type": field(&out, "content_type", json!("")),
        "status": run.status,
        "cancellation_stage": field(&out, "cancellation_stage", Value::Null),
        "error": run.error,
        "step_results": field(&out, "step_results", json!([])),
        "step_executor_runs": field(&out, "step_executor_runs", json!([])),
        "step_requirements": Value::Null,
        "pause_kind": Value::Null,
        "paused_step_name": Value::Null,
        "paused_step_index": Value::Null,
        "metrics": field(&out, "metrics", json!({})),
        "created_at": iso(run.created_at),
        "reasoning_content": "",
        "reasoning_steps": [],
        "references": [],
        "citations": Value::Null,
        "reasoning_messages": [],
        "images": field(&out, "images", json!([])),
        "videos": field(&out, "videos", json!([])),
        "audio": field(&out, "audio", json!([])),
        "files": field(&out, "files", json!([])),
        "response_audio": Value::Null,
    })
}

/// The run in agno's schema for its kind (nulls kept, as on `GET /sessions/{id}/runs/{run_id}`).
pub(super) fn run_schema(run: &RunRecord) -> Value {
    match run.component_type {
        ComponentKind::Workflow => workflow_run_schema(run),
        _ => agent_run_schema(run),
    }
}

/// How many characters of the input and the content a run preview keeps (agno's
/// `_RUN_PREVIEW_CHARS`).
const PREVIEW_CHARS: usize = 280;

/// agno's `SessionRunPreviewSchema._preview`: text as it is, anything else as Python's
/// `json.dumps`, cut to [`PREVIEW_CHARS`] characters.
fn preview(v: &Value) -> Value {
    let text = match v {
        Value::Null => return Value::Null,
        Value::String(s) => s.clone(),
        other => super::runs::py_json(other),
    };
    Value::String(text.chars().take(PREVIEW_CHARS).collect())
}

/// agno's `SessionRunPreviewSchema` (nulls dropped): the run's ids, status and creation time,
/// and the start of its input and of its content; no messages, events, steps or metrics.
pub(super) fn run_preview(run: &RunRecord) -> Value {
    let out = output_of(run);
    let (run_input, parent_run_id, id_key) = match run.component_type {
        ComponentKind::Workflow => {
            let input = out
                .get("input")
                .filter(|i| !i.is_null())
                .map(stringify)
                .unwrap_or_else(|| run.input.clone());
            (input, Value::Null, "workflow_id")
        }
        kind => (
            agent_run_input(run, &out),
            field(&out, "parent_run_id", json!("")),
            kind.id_key(),
        ),
    };
    let mut v = json!({
        "run_id": run.run_id,
        "parent_run_id": parent_run_id,
        "user_id": field(&out, "user_id", json!(run.user_id.clone().unwrap_or_default())),
        "status": run.status,
        "run_input": preview(&json!(run_input)),
        "content_preview": preview(&field(&out, "content", json!(""))),
        "created_at": iso(run.created_at),
    });
    v[id_key] = field(&out, id_key, json!(run.component_id));
    without_nulls(v)
}

/// Adds `add`'s token counts into `sum`, merging the per-model `details` by model id and
/// provider (agno's session metrics).
fn add_metrics(sum: &mut Map<String, Value>, add: &Value) {
    for key in ["input_tokens", "output_tokens", "total_tokens"] {
        if let Some(n) = add.get(key).and_then(Value::as_u64) {
            let total = sum.get(key).and_then(Value::as_u64).unwrap_or(0) + n;
            sum.insert(key.to_owned(), json!(total));
        }
    }
    let Some(details) = add.get("details").and_then(Value::as_object) else {
        return;
    };
    let sum_details = sum
        .entry("details")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(sum_details) = sum_details else {
        return;
    };
    for (model_type, entries) in details {
        let list = sum_details
            .entry(model_type.clone())
            .or_insert_with(|| json!([]));
        let (Some(list), Some(entries)) = (list.as_array_mut(), entries.as_array()) else {
            continue;
        };
        for entry in entries {
            let same =
                |e: &&mut Value| e["id"] == entry["id"] && e["provider"] == entry["provider"];
            match list.iter_mut().find(same) {
                Some(existing) => {
                    for key in ["input_tokens", "output_tokens", "total_tokens"] {
                        let n =
                            existing[key].as_u64().unwrap_or(0) + entry[key].as_u64().unwrap_or(0);
                        existing[key] = json!(n);
                    }
                }
                None => list.push(entry.clone()),
            }
        }
    }
}

/// The session's metrics: the sum over its runs (a workflow run's over its steps); `None`
/// before any run recorded metrics.
fn session_metrics(runs: &[RunRecord]) -> Option<Value> {
    let mut sum = Map::new();
    for run in runs {
        let metrics = output_of(run).remove("metrics").unwrap_or(Value::Null);
        match metrics.get("steps").and_then(Value::as_object) {
            Some(steps) => {
                for step in steps.values() {
                    add_metrics(&mut sum, &step["metrics"]);
                }
            }
            None => add_metrics(&mut sum, &metrics),
        }
    }
    (!sum.is_empty()).then_some(Value::Object(sum))
}

/// The user and assistant messages of the session's runs, in order (agno's
/// `get_chat_history`: no system or tool messages, none repeated from history).
fn chat_history(runs: &[RunRecord]) -> Vec<Value> {
    runs.iter()
        .flat_map(|run| match output_of(run).remove("messages") {
            Some(Value::Array(msgs)) => msgs,
            _ => Vec::new(),
        })
        .filter(|m| m["role"] != "system" && m["role"] != "tool" && m["from_history"] != true)
        .collect()
}

/// `agent_data` / `team_data` from the latest run that names its agent and model.
fn component_data(view: &SessionView, runs: &[RunRecord]) -> Value {
    let s = &view.session;
    let kind = match s.session_type {
        ComponentKind::Team => ComponentKind::Team,
        _ => ComponentKind::Agent,
    };
    let (id_key, name_key) = (kind.id_key(), kind.name_key());
    let latest = runs
        .iter()
        .rev()
        .map(output_of)
        .find(|o| o.contains_key(name_key));
    let Some(out) = latest else {
        return Value::Null;
    };
    let mut data = json!({"name": out[name_key], id_key: s.component_id});
    if let Some(model) = out.get("model").filter(|m| m.is_string()) {
        data["model"] = json!({"id": model, "provider": out.get("model_provider")});
    }
    data
}

/// `workflow_data` and the workflow's name: from the registry when the workflow is served,
/// else from the latest stored run.
fn workflow_data(rt: &Runtime, view: &SessionView, runs: &[RunRecord]) -> (Value, Value) {
    let id = &view.session.component_id;
    if id.is_empty() {
        return (Value::Null, Value::Null);
    }
    if let Some(wf) = rt.workflow(id) {
        let steps: Vec<Value> = wf
            .get_steps()
            .iter()
            .map(|s| {
                json!({"name": s.name(), "description": s.get_description(), "type": s.kind().type_name()})
            })
            .collect();
        let data = json!({"workflow_id": id, "name": wf.get_name(), "steps": steps});
        return (data, json!(wf.get_name()));
    }
    let name = runs
        .iter()
        .rev()
        .find_map(|r| output_of(r).remove("workflow_name"))
        .unwrap_or(Value::Null);
    (json!({"workflow_id": id, "name": name}), name)
}

/// The detail schema for the session's type (`AgentSessionDetailSchema`,
/// `TeamSessionDetailSchema` or `WorkflowSessionDetailSchema`), nulls kept.
pub(super) fn session_detail(rt: &Runtime, view: &SessionView, runs: &[RunRecord]) -> Value {
    let s = &view.session;
    let state = parse_json(Some(&s.session_state));
    let metrics = session_metrics(runs);
    let total_tokens = metrics
        .as_ref()
        .and_then(|m| m.get("total_tokens").cloned());
    let name = s.session_name.clone().unwrap_or_default();
    let metadata = metadata_of(view);
    match s.session_type {
        ComponentKind::Workflow => {
            let (data, workflow_name) = workflow_data(rt, view, runs);
            let mut session_data = json!({"session_state": state, "session_name": name});
            if let Some(m) = &metrics {
                session_data["session_metrics"] = m.clone();
            }
            json!({
                "user_id": s.user_id,
                "workflow_id": component_of(view),
                "workflow_name": workflow_name,
                "session_id": s.session_id,
                "session_name": name,
                "session_data": session_data,
                "session_state": state,
                "workflow_data": data,
                "metadata": metadata,
                "created_at": iso(s.created_at),
                "updated_at": iso(s.updated_at),
            })
        }
        kind => {
            let mut v = json!({
                "user_id": s.user_id,
                "session_id": s.session_id,
                "session_name": name,
                "session_summary": parse_json(view.summary.as_deref()),
                "session_state": state,
                "total_tokens": total_tokens,
                "metrics": metrics,
                "metadata": metadata,
                "chat_history": chat_history(runs),
                "created_at": iso(s.created_at),
                "updated_at": iso(s.updated_at),
            });
            let data = component_data(view, runs);
            if kind == ComponentKind::Team {
                v["team_id"] = component_of(view);
                v["team_data"] = data;
            } else {
                v["agent_id"] = component_of(view);
                v["agent_session_id"] = json!(s.session_id);
                v["agent_data"] = data;
            }
            v
        }
    }
}
