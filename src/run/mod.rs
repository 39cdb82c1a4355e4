//! The data a run produces: agno's `RunOutput`, `WorkflowRunOutput`, `StepOutput`, statuses and
//! metrics, with agno's JSON keys (null keys omitted where agno omits them).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

mod team;
mod workflow;

pub use team::{ChildRun, TeamRunOutput};
pub use workflow::{StepMetrics, StepOutput, WorkflowMetrics, WorkflowRunOutput};

/// Unix time in whole seconds, as agno puts in `created_at`.
pub(crate) fn unix_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A new id for a stored row (a run, a session, a hook job): a UUID v7, whose leading bits are
/// the time. Rows created one after another get ids in order, so each insert lands at the end
/// of its primary-key index instead of on a random page: a commit writes fewer pages, and the
/// pages it writes stay in the cache. Clients treat ids as opaque strings (agno makes UUID v4s),
/// and nothing here relies on the order.
pub(crate) fn new_row_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Unix time in milliseconds, as stored in the database.
pub(crate) fn unix_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The lifecycle status of a run (agno's `RunStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    /// Accepted, not started.
    Pending,
    /// Executing now.
    Running,
    /// Finished successfully.
    Completed,
    /// Waiting for a human.
    Paused,
    /// Stopped on request.
    Cancelled,
    /// Failed; the error text is recorded on the run.
    Error,
}

impl RunStatus {
    /// The wire and database spelling (`"COMPLETED"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "PENDING",
            RunStatus::Running => "RUNNING",
            RunStatus::Completed => "COMPLETED",
            RunStatus::Paused => "PAUSED",
            RunStatus::Cancelled => "CANCELLED",
            RunStatus::Error => "ERROR",
        }
    }

    /// Parses the database spelling; unknown text reads as `Error` so a bad row never hides.
    pub fn parse(s: &str) -> RunStatus {
        match s {
            "PENDING" => RunStatus::Pending,
            "RUNNING" => RunStatus::Running,
            "COMPLETED" => RunStatus::Completed,
            "PAUSED" => RunStatus::Paused,
            "CANCELLED" => RunStatus::Cancelled,
            _ => RunStatus::Error,
        }
    }

    /// True once the run will not change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Cancelled | RunStatus::Error
        )
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Token usage and timing of one model, inside [`RunMetrics::details`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelMetrics {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Sum of both.
    pub total_tokens: u64,
    /// The model id.
    pub id: String,
    /// The model provider.
    pub provider: String,
}

/// agno's `RunMetrics`: zero counts and missing values are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunMetrics {
    /// Prompt tokens.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub input_tokens: u64,
    /// Completion tokens.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub output_tokens: u64,
    /// Sum of both.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_tokens: u64,
    /// Seconds from the request to the first content token (streamed runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token: Option<f64>,
    /// Seconds the run took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Per-model breakdown, keyed by model type (`"model"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, Vec<ModelMetrics>>,
}

/// One chat message as agno records it in `RunOutput.messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// A uuid.
    pub id: String,
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text; absent on an assistant message that only calls tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Whether the message came from an earlier run of the session.
    #[serde(default)]
    pub from_history: bool,
    /// agno's flag, always false here.
    #[serde(default)]
    pub stop_after_tool_call: bool,
    /// On an assistant message: the tool calls, in OpenAI's shape
    /// (`{"id", "type": "function", "function": {"name", "arguments"}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<Value>>,
    /// On a tool message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// On a tool message: the tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// On a tool message: the parsed arguments (absent when they did not parse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_args: Option<Value>,
    /// On a tool message: whether the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_error: Option<bool>,
    /// Unix seconds.
    pub created_at: i64,
}

impl Message {
    /// A message with a fresh id, stamped now.
    pub fn new(role: &str, content: impl Into<String>) -> Message {
        Message {
            id: uuid::Uuid::new_v4().to_string(),
            role: role.to_owned(),
            content: Some(content.into()),
            from_history: false,
            stop_after_tool_call: false,
            tool_calls: None,
            tool_call_id: None,
            tool_name: None,
            tool_args: None,
            tool_call_error: None,
            created_at: unix_seconds(),
        }
    }

    /// The text, or `""`.
    pub fn text(&self) -> &str {
        self.content.as_deref().unwrap_or("")
    }
}

/// agno's `ToolCallMetrics`: when a tool call ran, in unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolCallMetrics {
    /// When the call started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// Seconds it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
}

/// One tool call of a run (agno's `ToolExecution`), in `RunOutput.tools` and on the
/// `ToolCall*` events. Null keys are kept, as agno keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolExecution {
    /// The model's id for the call.
    pub tool_call_id: String,
    /// The tool's name.
    pub tool_name: String,
    /// The arguments (`null` when they were not valid JSON).
    pub tool_args: Option<Value>,
    /// Whether the call failed (`null` until it ends).
    pub tool_call_error: Option<bool>,
    /// The text given back to the model (`null` until it ends).
    pub result: Option<String>,
    /// Timing (`null` until it ends).
    pub metrics: Option<ToolCallMetrics>,
    /// A run the tool started (always `null` here).
    #[serde(default)]
    pub child_run_id: Option<String>,
    /// agno's flag, always false here.
    #[serde(default)]
    pub stop_after_tool_call: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// The input of an agent run (agno's `RunInput`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunInput {
    /// The text the agent was asked.
    pub input_content: String,
}

/// The output of one agent run (agno's `RunOutput.to_dict()`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunOutput {
    /// This agent run's id.
    pub run_id: String,
    /// The agent's id.
    pub agent_id: String,
    /// The agent's name.
    pub agent_name: String,
    /// The session the run belongs to.
    pub session_id: String,
    /// The workflow run this agent run is a step of, or the team run it is a member of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<String>,
    /// The workflow this run is a step of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    /// The step id inside the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_step_id: Option<String>,
    /// The user, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The answer: a JSON string for text, the JSON object of a structured output.
    pub content: Value,
    /// `"str"` for text, the output type's name for structured output.
    pub content_type: String,
    /// Which model answered.
    pub model: String,
    /// Its provider.
    pub model_provider: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Final status.
    pub status: RunStatus,
    /// Tokens and timing.
    pub metrics: RunMetrics,
    /// The run's messages: system, user, assistant (with its tool calls) and tool results.
    pub messages: Vec<Message>,
    /// The tool calls, in the order the model made them.
    pub tools: Vec<ToolExecution>,
    /// What the agent was asked.
    pub input: RunInput,
}

impl RunOutput {
    /// The content as text: a string as it is, structured output as compact JSON.
    pub fn content_text(&self) -> String {
        value_text(&self.content)
    }

    /// The content as `T`: the agent's output type for a structured output, or `String` for
    /// text.
    pub fn content_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.content)
    }
}

/// A content value as text: a string as it is, anything else as compact JSON.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
