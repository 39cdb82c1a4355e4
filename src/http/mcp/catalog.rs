//! The tools `/mcp` offers: agno 3.1.10's built-in set (`agno/os/mcp.py`), with its names,
//! titles, descriptions, argument schemas (as pydantic writes them for FastMCP) and
//! annotations, and the output schemas FastMCP derives from their return types.

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};
use std::sync::Arc;

/// Every tool, in agno's order.
pub(super) fn tools() -> Vec<Tool> {
    vec![
        tool(
            "get_agentos_config",
            "Get AgentOS Configuration",
            "Discover this AgentOS: the agents, teams, and workflows available to run (with their \
             ids and descriptions), and the database ids used by the session tools. Call this \
             first to learn what you can operate. The payload is deliberately compact -- the \
             full configuration lives on the REST /config endpoint.",
            object(json!({}), &[]),
            Hints::read_only(true),
            Some(any_object()),
        ),
        tool(
            "run_agent",
            "Run Agent",
            "Run an agent with a message and get its response. If the result status is PAUSED, \
             resolve the returned requirements and call continue_run.",
            run_args(
                "agent_id",
                "ID of the agent to run, returned by get_agentos_config.",
            ),
            Hints::run(),
            None,
        ),
        tool(
            "run_team",
            "Run Team",
            "Run a team of agents with a message and get its response. If the result status is \
             PAUSED, resolve the returned requirements and call continue_run.",
            run_args(
                "team_id",
                "ID of the team to run, returned by get_agentos_config.",
            ),
            Hints::run(),
            None,
        ),
        tool(
            "run_workflow",
            "Run Workflow",
            "Run a workflow with an input message and get its result. Can be long-running: \
             progress is reported per step when the client supports it. If the result status is \
             PAUSED, resolve the returned requirements and call continue_run.",
            run_args(
                "workflow_id",
                "ID of the workflow to run, returned by get_agentos_config.",
            ),
            Hints::run(),
            None,
        ),
        tool(
            "continue_run",
            "Continue Paused Run",
            "Resume a PAUSED run after resolving its requirements (human-in-the-loop). The paused \
             result's structuredContent carries the run_id, session_id, owning component id, and \
             the unresolved requirements.",
            object(
                json!({
                    "run_id": string("ID of the paused run, returned in the PAUSED result."),
                    "session_id": string(
                        "ID of the session containing the paused run, returned in the PAUSED result."
                    ),
                    "agent_id": optional_string("ID of the agent that owns the run."),
                    "team_id": optional_string("ID of the team that owns the run."),
                    "workflow_id": optional_string("ID of the workflow that owns the run."),
                    "requirements": {
                        "anyOf": [
                            {"items": {"additionalProperties": true, "type": "object"}, "type": "array"},
                            {"type": "null"}
                        ],
                        "default": null,
                        "description": "Copy the requirements from the PAUSED result and fill in \
                            each requested resolution, such as confirmation=true."
                    },
                    "user_id": run_user_id(),
                }),
                &["run_id", "session_id"],
            ),
            Hints::run(),
            None,
        ),
        tool(
            "cancel_run",
            "Cancel Run",
            "Request cancellation of a running run. Irreversible: the run stops and is marked \
             CANCELLED (if it has not started yet, the intent is recorded and applied when it \
             does).",
            object(
                json!({
                    "run_id": string(
                        "ID of the run to cancel, returned by a run tool or get_session_runs."
                    ),
                    "session_id": optional_string(
                        "ID of the session containing the run. Required for user-scoped callers; \
                         otherwise include it when available."
                    ),
                    "agent_id": optional_string("ID of the agent that owns the run."),
                    "team_id": optional_string("ID of the team that owns the run."),
                    "workflow_id": optional_string("ID of the workflow that owns the run."),
                }),
                &["run_id"],
            ),
            Hints {
                idempotent: Some(true),
                ..Hints::run()
            },
            Some(wrapped(json!({"type": "string"}))),
        ),
        tool(
            "get_sessions",
            "List Sessions",
            "List past sessions (conversations), newest first. Use a returned session_id with the \
             run tools to continue that conversation, or with get_session_runs to read its \
             history.",
            object(
                json!({
                    "session_type": {
                        "default": "agent",
                        "description": "Type of component that created the sessions. Defaults to agent.",
                        "enum": ["agent", "team", "workflow"],
                        "type": "string"
                    },
                    "component_id": optional_string(
                        "Only return sessions created by this agent, team, or workflow. The ID \
                         must match session_type."
                    ),
                    "user_id": optional_string("Only return sessions belonging to this user."),
                    "session_name": optional_string(
                        "Only return sessions whose name matches this value."
                    ),
                    "db_id": db_id(),
                    "limit": {
                        "default": 20,
                        "description": "Maximum number of sessions to return per page.",
                        "minimum": 1,
                        "type": "integer"
                    },
                    "page": {
                        "default": 1,
                        "description": "One-based page number to return.",
                        "minimum": 1,
                        "type": "integer"
                    },
                    "sort_by": {
                        "default": "created_at",
                        "description": "Timestamp used to sort sessions: created_at or updated_at.",
                        "type": "string"
                    },
                    "sort_order": {
                        "default": "desc",
                        "description": "Sort in ascending (asc) or descending (desc) order.",
                        "enum": ["asc", "desc"],
                        "type": "string"
                    },
                }),
                &[],
            ),
            Hints::read_only(false),
            Some(any_object()),
        ),
        tool(
            "get_session_runs",
            "Read Session History",
            "Read a session's conversation history: each run's input and response content with \
             its run_id, status, and timestamp, oldest first. Returns the answer content only, \
             not the full message transcript.",
            object(
                json!({
                    "session_id": string(
                        "ID of the session to read, returned by get_sessions or a run result."
                    ),
                    "run_id": optional_string(
                        "Return this run with its full stored details. Omit to return a compact \
                         history of every run in the session."
                    ),
                    "session_type": {
                        "anyOf": [
                            {"enum": ["agent", "team", "workflow"], "type": "string"},
                            {"type": "null"}
                        ],
                        "default": null,
                        "description": "Type of session to read. Omit to detect it automatically."
                    },
                    "user_id": optional_string("Only return sessions belonging to this user."),
                    "db_id": db_id(),
                }),
                &["session_id"],
            ),
            Hints::read_only(false),
            Some(wrapped(json!({
                "items": {"additionalProperties": true, "type": "object"},
                "type": "array"
            }))),
        ),
    ]
}

/// agno's annotations: every hint stated, never left to a client's default.
struct Hints {
    read_only: bool,
    destructive: bool,
    idempotent: Option<bool>,
    open_world: bool,
}

impl Hints {
    /// The run and lifecycle tools: they change state and reach anything a component calls.
    fn run() -> Hints {
        Hints {
            read_only: false,
            destructive: true,
            idempotent: None,
            open_world: true,
        }
    }

    /// The config and session tools: they read this deployment's own storage.
    fn read_only(idempotent: bool) -> Hints {
        Hints {
            read_only: true,
            destructive: false,
            idempotent: idempotent.then_some(true),
            open_world: false,
        }
    }
}

fn tool(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    input: JsonObject,
    hints: Hints,
    output: Option<JsonObject>,
) -> Tool {
    let mut annotations = ToolAnnotations::default();
    annotations.title = Some(title.to_owned());
    annotations.read_only_hint = Some(hints.read_only);
    annotations.destructive_hint = Some(hints.destructive);
    annotations.idempotent_hint = hints.idempotent;
    annotations.open_world_hint = Some(hints.open_world);
    let mut tool = Tool::new(name, description, Arc::new(input))
        .with_title(title)
        .with_annotations(annotations);
    if let Some(output) = output {
        tool = tool.with_raw_output_schema(Arc::new(output));
    }
    tool
}

/// An object schema with these properties (in order) and required names.
fn object(properties: Value, required: &[&str]) -> JsonObject {
    let mut schema = JsonObject::new();
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), properties);
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema
}

/// The arguments of `run_agent`, `run_team` and `run_workflow`.
fn run_args(id: &str, id_description: &str) -> JsonObject {
    let mut properties = serde_json::Map::new();
    properties.insert(id.to_owned(), string(id_description));
    properties.insert(
        "message".into(),
        string("The request or message to send to the agent, team, or workflow."),
    );
    properties.insert("user_id".into(), run_user_id());
    properties.insert(
        "session_id".into(),
        optional_string(
            "Existing session ID to continue the same conversation. Omit to start a new session.",
        ),
    );
    object(Value::Object(properties), &[id, "message"])
}

fn string(description: &str) -> Value {
    json!({"description": description, "type": "string"})
}

fn optional_string(description: &str) -> Value {
    json!({
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "default": null,
        "description": description
    })
}

fn run_user_id() -> Value {
    optional_string(
        "Optional user ID to associate with the run. Authenticated deployments use the caller's \
         identity.",
    )
}

fn db_id() -> Value {
    optional_string(
        "Database ID returned by get_agentos_config. Required only when multiple databases are \
         listed.",
    )
}

/// FastMCP's output schema of a `Dict[str, Any]` result.
fn any_object() -> JsonObject {
    let mut schema = JsonObject::new();
    schema.insert("additionalProperties".into(), true.into());
    schema.insert("type".into(), "object".into());
    schema
}

/// FastMCP's output schema of a result that is not an object: wrapped as `{"result": ...}`.
fn wrapped(inner: Value) -> JsonObject {
    let mut schema = object(json!({ "result": inner }), &["result"]);
    schema.insert("x-fastmcp-wrap-result".into(), true.into());
    schema
}
