//! agno's run shapes (wire spec §5.4): `RunSchema` / `TeamRunSchema` / `WorkflowRunSchema` and
//! `SessionRunPreviewSchema`, rendered from our rows. Stored outputs are read as JSON values,
//! like agno's `from_dict`, so a field added to `RunOutput` or `WorkflowRunOutput` later needs
//! no change here; the fields that pass through keep whatever the output holds.

use crate::http::iso;
use crate::http::py_json::py_json;
use crate::kind::ComponentKind;
use crate::run::RunStatus;
use crate::store::RunRecord;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A run in agno's schema for its kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum SessionRun {
    /// An agent's or a team's run.
    Agent(Box<RunSchema>),
    /// A workflow's run.
    Workflow(Box<WorkflowRunSchema>),
}

/// agno's `RunSchema` (an agent's run) or `TeamRunSchema` (a team's), nulls kept.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunSchema {
    pub run_id: String,
    /// The workflow run this run was a step of; `""` for a run of its own.
    #[schema(value_type = String)]
    pub parent_run_id: Value,
    /// An agent's run.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub agent_id: Option<Value>,
    /// A team's run.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Value>,
    #[schema(value_type = String)]
    pub user_id: Value,
    pub status: RunStatus,
    #[schema(value_type = Option<String>)]
    pub cancellation_stage: Value,
    /// What the run was asked.
    pub run_input: String,
    /// The answer: text, or the object of a structured output.
    pub content: Value,
    /// `text` or `json`.
    pub run_response_format: &'static str,
    #[schema(value_type = String)]
    pub reasoning_content: Value,
    #[schema(value_type = Vec<Object>)]
    pub reasoning_steps: Value,
    #[schema(value_type = Object)]
    pub metrics: Value,
    #[schema(value_type = Option<Object>)]
    pub metadata: Value,
    /// The run's messages; null when there are none.
    #[schema(value_type = Option<Vec<Object>>)]
    pub messages: Value,
    /// Its tool calls; null when there are none.
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Value,
    /// Its stored events; null when there are none.
    #[schema(value_type = Option<Vec<Object>>)]
    pub events: Value,
    /// ISO-8601 UTC.
    pub created_at: String,
    #[schema(value_type = Vec<Object>)]
    pub references: Value,
    #[schema(value_type = Option<Object>)]
    pub citations: Value,
    #[schema(value_type = Vec<Object>)]
    pub reasoning_messages: Value,
    #[schema(value_type = Option<Object>)]
    pub session_state: Value,
    #[schema(value_type = Vec<Object>)]
    pub images: Value,
    #[schema(value_type = Vec<Object>)]
    pub videos: Value,
    #[schema(value_type = Vec<Object>)]
    pub audio: Value,
    #[schema(value_type = Vec<Object>)]
    pub files: Value,
    #[schema(value_type = Option<Object>)]
    pub response_audio: Value,
    pub input_media: InputMedia,
    #[schema(value_type = Option<Vec<String>>)]
    pub followups: Value,
    pub forked_from_run_id: Option<String>,
    pub forked_from_message_index: Option<i64>,
    pub forked_from_session_id: Option<String>,
    pub regenerated_from: Option<String>,
    pub last_checkpoint_at_message_index: Option<i64>,
    /// Why the run failed (an agentos addition).
    pub error: Option<String>,
}

/// The media a run was given, from its input.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InputMedia {
    #[schema(value_type = Vec<Object>)]
    pub images: Value,
    #[schema(value_type = Vec<Object>)]
    pub videos: Value,
    #[schema(value_type = Vec<Object>)]
    pub audios: Value,
    #[schema(value_type = Vec<Object>)]
    pub files: Value,
}

/// agno's `WorkflowRunSchema` (wire spec §5.4), nulls kept, plus agentos's `error`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowRunSchema {
    pub run_id: String,
    /// The message the run was started with.
    pub run_input: String,
    #[schema(value_type = Vec<Object>)]
    pub events: Value,
    #[schema(value_type = String)]
    pub workflow_id: Value,
    #[schema(value_type = String)]
    pub user_id: Value,
    pub content: Value,
    #[schema(value_type = String)]
    pub content_type: Value,
    pub status: RunStatus,
    #[schema(value_type = Option<String>)]
    pub cancellation_stage: Value,
    /// Why the run failed (an agentos addition).
    pub error: Option<String>,
    #[schema(value_type = Vec<crate::run::StepOutput>)]
    pub step_results: Value,
    #[schema(value_type = Vec<crate::run::RunOutput>)]
    pub step_executor_runs: Value,
    #[schema(value_type = Option<Vec<Object>>)]
    pub step_requirements: Option<Value>,
    pub pause_kind: Option<String>,
    pub paused_step_name: Option<String>,
    pub paused_step_index: Option<i64>,
    #[schema(value_type = Object)]
    pub metrics: Value,
    /// ISO-8601 UTC.
    pub created_at: String,
    pub reasoning_content: &'static str,
    #[schema(value_type = Vec<Object>)]
    pub reasoning_steps: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub references: Vec<Value>,
    #[schema(value_type = Option<Object>)]
    pub citations: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub reasoning_messages: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub images: Value,
    #[schema(value_type = Vec<Object>)]
    pub videos: Value,
    #[schema(value_type = Vec<Object>)]
    pub audio: Value,
    #[schema(value_type = Vec<Object>)]
    pub files: Value,
    #[schema(value_type = Option<Object>)]
    pub response_audio: Option<Value>,
}

/// agno's `SessionRunPreviewSchema` (nulls dropped): the run's ids, status and creation time,
/// and the start of its input and of its content; no messages, events, steps or metrics.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunPreview {
    pub run_id: String,
    /// `""` for an agent's run of its own; absent for a workflow's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub parent_run_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub agent_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub workflow_id: Option<Value>,
    #[schema(value_type = String)]
    pub user_id: Value,
    pub status: RunStatus,
    /// The first 280 characters of the input.
    #[schema(max_length = 280)]
    pub run_input: String,
    /// The first 280 characters of the content (structured content as Python's JSON).
    #[schema(max_length = 280)]
    pub content_preview: String,
    /// ISO-8601 UTC.
    pub created_at: String,
}

/// A JSON column's text as a value (`null` when absent or unreadable).
pub(super) fn parse_json(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// A stored run's output as a JSON object (empty while the run has none).
pub(super) fn output_of(run: &RunRecord) -> Map<String, Value> {
    match parse_json(run.output.as_deref()) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The field, or `default` when it is absent or null.
fn field(out: &Map<String, Value>, key: &str, default: impl FnOnce() -> Value) -> Value {
    out.get(key)
        .filter(|v| !v.is_null())
        .cloned()
        .unwrap_or_else(default)
}

/// The field when it is a non-empty array, else null (agno's `messages`, `tools`, `events`).
fn non_empty(out: &Map<String, Value>, key: &str) -> Value {
    out.get(key)
        .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        .cloned()
        .unwrap_or(Value::Null)
}

fn empty_list() -> Value {
    Value::Array(Vec::new())
}

fn empty_text() -> Value {
    Value::from("")
}

/// agno's `stringify_input_content`: strings as they are, anything else as JSON text.
fn stringify(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The run's user as agno shows it: the output's, else the row's, else `""`.
fn user_of(run: &RunRecord, out: &Map<String, Value>) -> Value {
    field(out, "user_id", || {
        Value::from(run.user_id.clone().unwrap_or_default())
    })
}

/// The component's id as the output names it, else the row's.
fn id_of(run: &RunRecord, out: &Map<String, Value>, key: &str) -> Value {
    field(out, key, || Value::from(run.component_id.as_str()))
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

/// The message a workflow run was started with: its output's `input`, else the row's.
fn workflow_run_input(run: &RunRecord, out: &Map<String, Value>) -> String {
    out.get("input")
        .filter(|i| !i.is_null())
        .map(stringify)
        .unwrap_or_else(|| run.input.clone())
}

/// `RunSchema` (agents) or `TeamRunSchema` (teams).
fn agent_run_schema(run: &RunRecord) -> RunSchema {
    let out = output_of(run);
    let content_type = out.get("content_type").and_then(Value::as_str);
    let input = out.get("input");
    let media = |key: &str| {
        input
            .and_then(|i| i.get(key))
            .cloned()
            .unwrap_or_else(empty_list)
    };
    let id = Some(id_of(run, &out, run.component_type.id_key()));
    let team = run.component_type == ComponentKind::Team;
    RunSchema {
        run_id: run.run_id.clone(),
        parent_run_id: field(&out, "parent_run_id", empty_text),
        agent_id: if team { None } else { id.clone() },
        team_id: if team { id } else { None },
        user_id: user_of(run, &out),
        status: run.status,
        cancellation_stage: field(&out, "cancellation_stage", || Value::Null),
        run_input: agent_run_input(run, &out),
        content: field(&out, "content", empty_text),
        run_response_format: match content_type.is_none_or(|t| t == "str") {
            true => "text",
            false => "json",
        },
        reasoning_content: field(&out, "reasoning_content", empty_text),
        reasoning_steps: field(&out, "reasoning_steps", empty_list),
        metrics: field(&out, "metrics", || Value::Object(Map::new())),
        metadata: field(&out, "metadata", || Value::Null),
        messages: non_empty(&out, "messages"),
        tools: non_empty(&out, "tools"),
        events: non_empty(&out, "events"),
        created_at: iso(run.created_at),
        references: field(&out, "references", empty_list),
        citations: field(&out, "citations", || Value::Null),
        reasoning_messages: field(&out, "reasoning_messages", empty_list),
        session_state: field(&out, "session_state", || Value::Null),
        images: field(&out, "images", empty_list),
        videos: field(&out, "videos", empty_list),
        audio: field(&out, "audio", empty_list),
        files: field(&out, "files", empty_list),
        response_audio: field(&out, "response_audio", || Value::Null),
        input_media: InputMedia {
            images: media("images"),
            videos: media("videos"),
            audios: media("audios"),
            files: media("files"),
        },
        followups: field(&out, "followups", || Value::Null),
        forked_from_run_id: None,
        forked_from_message_index: None,
        forked_from_session_id: None,
        regenerated_from: None,
        last_checkpoint_at_message_index: None,
        error: run.error.clone(),
    }
}

/// `WorkflowRunSchema`.
fn workflow_run_schema(run: &RunRecord) -> WorkflowRunSchema {
    let out = output_of(run);
    WorkflowRunSchema {
        run_id: run.run_id.clone(),
        run_input: workflow_run_input(run, &out),
        events: field(&out, "events", empty_list),
        workflow_id: id_of(run, &out, "workflow_id"),
        user_id: user_of(run, &out),
        content: field(&out, "content", empty_text),
        content_type: field(&out, "content_type", empty_text),
        status: run.status,
        cancellation_stage: field(&out, "cancellation_stage", || Value::Null),
        error: run.error.clone(),
        step_results: field(&out, "step_results", empty_list),
        step_executor_runs: field(&out, "step_executor_runs", empty_list),
        step_requirements: None,
        pause_kind: None,
        paused_step_name: None,
        paused_step_index: None,
        metrics: field(&out, "metrics", || Value::Object(Map::new())),
        created_at: iso(run.created_at),
        reasoning_content: "",
        reasoning_steps: Vec::new(),
        references: Vec::new(),
        citations: None,
        reasoning_messages: Vec::new(),
        images: field(&out, "images", empty_list),
        videos: field(&out, "videos", empty_list),
        audio: field(&out, "audio", empty_list),
        files: field(&out, "files", empty_list),
        response_audio: None,
    }
}

/// The run in agno's schema for its kind.
pub(crate) fn run_schema(run: &RunRecord) -> SessionRun {
    match run.component_type {
        ComponentKind::Workflow => SessionRun::Workflow(Box::new(workflow_run_schema(run))),
        _ => SessionRun::Agent(Box::new(agent_run_schema(run))),
    }
}

/// How many characters of the input and the content a run preview keeps (agno's
/// `_RUN_PREVIEW_CHARS`).
const PREVIEW_CHARS: usize = 280;

/// agno's `SessionRunPreviewSchema._preview`: text as it is, anything else as Python's
/// `json.dumps`, cut to [`PREVIEW_CHARS`] characters.
fn preview(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => py_json(other),
    };
    text.chars().take(PREVIEW_CHARS).collect()
}

/// The preview of a run.
pub(super) fn run_preview(run: &RunRecord) -> RunPreview {
    let out = output_of(run);
    let (run_input, parent_run_id) = match run.component_type {
        ComponentKind::Workflow => (workflow_run_input(run, &out), None),
        _ => (
            agent_run_input(run, &out),
            Some(field(&out, "parent_run_id", empty_text)),
        ),
    };
    let id = Some(id_of(run, &out, run.component_type.id_key()));
    let (mut agent_id, mut team_id, mut workflow_id) = (None, None, None);
    match run.component_type {
        ComponentKind::Agent => agent_id = id,
        ComponentKind::Team => team_id = id,
        ComponentKind::Workflow => workflow_id = id,
    }
    RunPreview {
        run_id: run.run_id.clone(),
        parent_run_id,
        agent_id,
        team_id,
        workflow_id,
        user_id: user_of(run, &out),
        status: run.status,
        run_input: run_input.chars().take(PREVIEW_CHARS).collect(),
        content_preview: preview(&field(&out, "content", empty_text)),
        created_at: iso(run.created_at),
    }
}

/// The session's runs with each team run's members as runs of their own, as agno lists a team
/// session: the member runs (with `parent_run_id`; a nested team's members before it) come
/// before their team run.
pub(crate) fn with_member_runs(runs: Vec<RunRecord>) -> Vec<RunRecord> {
    let mut all = Vec::with_capacity(runs.len());
    for run in runs {
        if run.component_type == ComponentKind::Team {
            push_members(&run, &output_of(&run), &mut all);
        }
        all.push(run);
    }
    all
}

/// The member runs of the team output `out` (of the row `team`), depth first.
fn push_members(team: &RunRecord, out: &Map<String, Value>, all: &mut Vec<RunRecord>) {
    let members = out.get("member_responses").and_then(Value::as_array);
    for member in members.into_iter().flatten() {
        let Value::Object(map) = member else { continue };
        let kind = match map.contains_key("team_id") {
            true => ComponentKind::Team,
            false => ComponentKind::Agent,
        };
        if kind == ComponentKind::Team {
            push_members(team, map, all);
        }
        let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or_default();
        let status = RunStatus::parse(text("status"));
        all.push(RunRecord {
            run_id: text("run_id").to_owned(),
            session_id: team.session_id.clone(),
            component_type: kind,
            component_id: text(kind.id_key()).to_owned(),
            user_id: team.user_id.clone(),
            status,
            input: map
                .get("input")
                .and_then(|i| i.get("input_content"))
                .map(stringify)
                .unwrap_or_default(),
            output: Some(member.to_string()),
            error: (status == RunStatus::Error).then(|| value_text_of(map.get("content"))),
            created_at: map
                .get("created_at")
                .and_then(Value::as_i64)
                .map_or(team.created_at, |s| s * 1000),
            updated_at: team.updated_at,
        });
    }
}

fn value_text_of(v: Option<&Value>) -> String {
    v.map(stringify).unwrap_or_default()
}
