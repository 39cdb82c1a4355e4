//! agno's session shapes for `/sessions` (wire spec §5.3): `SessionSchema` and the three
//! `*SessionDetailSchema`s, rendered from our rows; and the request bodies the routes take.

use super::metrics::{chat_history, session_metrics};
use super::run_schema::{output_of, parse_json};
use crate::http::iso;
use crate::http::page::PageMeta;
use crate::kind::ComponentKind;
use crate::runtime::Runtime;
use crate::store::{RunRecord, SessionView};
use serde::{Serialize, Serializer};
use serde_json::Value;
use utoipa::ToSchema;

/// FastAPI's `response_model_exclude_none`: `T` without its top-level null keys (nested values
/// keep theirs, as in agno).
#[derive(Debug)]
pub(crate) struct WithoutNulls<T>(pub T);

impl<T: Serialize> Serialize for WithoutNulls<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        if let Value::Object(map) = &mut value {
            map.retain(|_, v| !v.is_null());
        }
        value.serialize(serializer)
    }
}

/// One page of `GET /sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionList {
    pub data: Vec<SessionSchema>,
    pub meta: PageMeta,
}

/// agno's `SessionSchema`: one entry of `GET /sessions` (nulls dropped).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionSchema {
    pub session_id: String,
    /// The name (the first run's input unless set); `""` when there is none yet.
    pub session_name: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Option<Object>)]
    pub session_state: Value,
    /// ISO-8601 UTC.
    pub created_at: String,
    /// ISO-8601 UTC.
    pub updated_at: String,
    pub session_type: ComponentKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Option<Object>)]
    pub session_summary: Value,
    #[serde(skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Value,
}

/// The detail schema for the session's type.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum SessionDetail {
    Agent(Box<AgentSessionDetail>),
    Team(Box<TeamSessionDetail>),
    Workflow(Box<WorkflowSessionDetail>),
}

/// agno's `AgentSessionDetailSchema`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentSessionDetail {
    pub user_id: Option<String>,
    pub agent_session_id: String,
    pub session_id: String,
    pub session_name: String,
    #[schema(value_type = Option<Object>)]
    pub session_summary: Value,
    #[schema(value_type = Option<Object>)]
    pub session_state: Value,
    /// Null for a session created empty that no run has named yet.
    pub agent_id: Option<String>,
    #[schema(value_type = Option<u64>)]
    pub total_tokens: Option<Value>,
    pub agent_data: Option<ComponentData>,
    /// The sum of the runs' token counts, per model too.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Value,
    /// The user and assistant messages of the session's runs, in order.
    #[schema(value_type = Vec<Object>)]
    pub chat_history: Vec<Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// agno's `TeamSessionDetailSchema`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TeamSessionDetail {
    pub session_id: String,
    pub session_name: String,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub session_summary: Value,
    #[schema(value_type = Option<Object>)]
    pub session_state: Value,
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    pub team_data: Option<ComponentData>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Value,
    #[schema(value_type = Vec<Object>)]
    pub chat_history: Vec<Value>,
    pub created_at: String,
    pub updated_at: String,
    #[schema(value_type = Option<u64>)]
    pub total_tokens: Option<Value>,
}

/// agno's `WorkflowSessionDetailSchema`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowSessionDetail {
    pub user_id: Option<String>,
    pub workflow_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub workflow_name: Value,
    pub session_id: String,
    pub session_name: String,
    pub session_data: WorkflowSessionData,
    #[schema(value_type = Option<Object>)]
    pub session_state: Value,
    pub workflow_data: Option<WorkflowData>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
}

/// `agent_data` / `team_data`: the agent (or team) of the session's latest run, with its model.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ComponentData {
    #[schema(value_type = String)]
    pub name: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ComponentModel>,
}

/// The model of `agent_data` / `team_data`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ComponentModel {
    #[schema(value_type = String)]
    pub id: Value,
    #[schema(value_type = Option<String>)]
    pub provider: Option<Value>,
}

/// A workflow session's `session_data`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowSessionData {
    #[schema(value_type = Option<Object>)]
    pub session_state: Value,
    pub session_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub session_metrics: Option<Value>,
}

/// `workflow_data`: the workflow and, when it is served, its steps.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowData {
    pub workflow_id: String,
    #[schema(value_type = Option<String>)]
    pub name: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<WorkflowDataStep>>,
}

/// One step of `workflow_data.steps`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowDataStep {
    pub name: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The session's agent, team or workflow id; none for a session created empty (`POST
/// /sessions` without one) that no run has named yet.
fn component_of(view: &SessionView) -> Option<String> {
    Some(view.session.component_id.clone()).filter(|id| !id.is_empty())
}

/// The session's metadata; a workflow session's is `{}` when none was set (agno stores `{}`).
fn metadata_of(view: &SessionView) -> Value {
    match parse_json(view.metadata.as_deref()) {
        Value::Null if view.session.session_type == ComponentKind::Workflow => {
            Value::Object(serde_json::Map::new())
        }
        other => other,
    }
}

/// `SessionSchema`: one entry of `GET /sessions`.
pub(crate) fn session_summary(view: &SessionView) -> SessionSchema {
    let s = &view.session;
    let id = component_of(view);
    let id_for = |kind| {
        if s.session_type == kind {
            id.clone()
        } else {
            None
        }
    };
    SessionSchema {
        session_id: s.session_id.clone(),
        session_name: s.session_name.clone().unwrap_or_default(),
        session_state: parse_json(Some(&s.session_state)),
        created_at: iso(s.created_at),
        updated_at: iso(s.updated_at),
        session_type: s.session_type,
        user_id: s.user_id.clone(),
        agent_id: id_for(ComponentKind::Agent),
        team_id: id_for(ComponentKind::Team),
        workflow_id: id_for(ComponentKind::Workflow),
        session_summary: parse_json(view.summary.as_deref()),
        metadata: metadata_of(view),
    }
}

/// `agent_data` / `team_data` from the latest run that names its agent and model.
fn component_data(view: &SessionView, runs: &[RunRecord]) -> Option<ComponentData> {
    let s = &view.session;
    let kind = match s.session_type {
        ComponentKind::Team => ComponentKind::Team,
        _ => ComponentKind::Agent,
    };
    let name_key = kind.name_key();
    let mut out = runs
        .iter()
        .rev()
        .map(output_of)
        .find(|o| o.contains_key(name_key))?;
    let model = out
        .get("model")
        .filter(|m| m.is_string())
        .map(|id| ComponentModel {
            id: id.clone(),
            provider: out.get("model_provider").cloned(),
        });
    let id = Some(s.component_id.clone());
    Some(ComponentData {
        name: out.remove(name_key).unwrap_or(Value::Null),
        agent_id: if kind == ComponentKind::Agent {
            id.clone()
        } else {
            None
        },
        team_id: if kind == ComponentKind::Team {
            id
        } else {
            None
        },
        model,
    })
}

/// `workflow_data` and the workflow's name: from the registry when the workflow is served,
/// else from the latest stored run.
fn workflow_data(
    rt: &Runtime,
    view: &SessionView,
    runs: &[RunRecord],
) -> (Option<WorkflowData>, Value) {
    let id = &view.session.component_id;
    if id.is_empty() {
        return (None, Value::Null);
    }
    if let Some(wf) = rt.workflow(id) {
        let steps = wf
            .get_steps()
            .iter()
            .map(|s| WorkflowDataStep {
                name: s.name().to_owned(),
                description: s.get_description().map(str::to_owned),
                kind: s.kind().type_name(),
            })
            .collect();
        let data = WorkflowData {
            workflow_id: id.clone(),
            name: Value::from(wf.get_name()),
            steps: Some(steps),
        };
        return (Some(data), Value::from(wf.get_name()));
    }
    let name = runs
        .iter()
        .rev()
        .find_map(|r| output_of(r).remove("workflow_name"))
        .unwrap_or(Value::Null);
    let data = WorkflowData {
        workflow_id: id.clone(),
        name: name.clone(),
        steps: None,
    };
    (Some(data), name)
}

/// The detail schema for the session's type (`AgentSessionDetailSchema`,
/// `TeamSessionDetailSchema` or `WorkflowSessionDetailSchema`).
pub(super) fn session_detail(
    rt: &Runtime,
    view: &SessionView,
    runs: &[RunRecord],
) -> SessionDetail {
    let s = &view.session;
    let state = parse_json(Some(&s.session_state));
    let name = s.session_name.clone().unwrap_or_default();
    let metadata = metadata_of(view);
    let metrics = session_metrics(runs);
    if s.session_type == ComponentKind::Workflow {
        let (data, workflow_name) = workflow_data(rt, view, runs);
        return SessionDetail::Workflow(Box::new(WorkflowSessionDetail {
            user_id: s.user_id.clone(),
            workflow_id: component_of(view),
            workflow_name,
            session_id: s.session_id.clone(),
            session_name: name.clone(),
            session_data: WorkflowSessionData {
                session_state: state.clone(),
                session_name: name,
                session_metrics: metrics,
            },
            session_state: state,
            workflow_data: data,
            metadata,
            created_at: iso(s.created_at),
            updated_at: iso(s.updated_at),
        }));
    }
    let total_tokens = metrics
        .as_ref()
        .and_then(|m| m.get("total_tokens").cloned());
    let data = component_data(view, runs);
    if s.session_type == ComponentKind::Team {
        return SessionDetail::Team(Box::new(TeamSessionDetail {
            session_id: s.session_id.clone(),
            session_name: name,
            user_id: s.user_id.clone(),
            team_id: component_of(view),
            session_summary: parse_json(view.summary.as_deref()),
            session_state: state,
            metrics,
            team_data: data,
            metadata,
            chat_history: chat_history(runs),
            created_at: iso(s.created_at),
            updated_at: iso(s.updated_at),
            total_tokens,
        }));
    }
    SessionDetail::Agent(Box::new(AgentSessionDetail {
        user_id: s.user_id.clone(),
        agent_session_id: s.session_id.clone(),
        session_id: s.session_id.clone(),
        session_name: name,
        session_summary: parse_json(view.summary.as_deref()),
        session_state: state,
        agent_id: component_of(view),
        total_tokens,
        agent_data: data,
        metrics,
        metadata,
        chat_history: chat_history(runs),
        created_at: iso(s.created_at),
        updated_at: iso(s.updated_at),
    }))
}

/// `POST /sessions`: agno's `CreateSessionRequest` (every field optional).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body; the handler validates it field by field
pub(crate) struct CreateSessionRequest {
    /// A new id if omitted.
    session_id: Option<String>,
    session_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    session_state: Option<Value>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    user_id: Option<String>,
    /// For `type=agent`.
    agent_id: Option<String>,
    /// For `type=team`.
    team_id: Option<String>,
    /// For `type=workflow`.
    workflow_id: Option<String>,
}

/// `PATCH /sessions/{session_id}`: agno's `UpdateSessionRequest` (every field optional).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body; the handler validates it field by field
pub(crate) struct UpdateSessionRequest {
    session_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    session_state: Option<Value>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// `{"summary": "...", ...}`.
    #[schema(value_type = Option<Object>)]
    summary: Option<Value>,
}

/// `POST /sessions/{session_id}/rename`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body; the handler validates it field by field
pub(crate) struct RenameSessionRequest {
    session_name: String,
}

/// `DELETE /sessions`: the ids and, at the same positions, their types.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body; the handler validates it field by field
pub(crate) struct DeleteSessionsRequest {
    #[schema(min_items = 1)]
    session_ids: Vec<String>,
    #[schema(min_items = 1)]
    session_types: Vec<ComponentKind>,
}
