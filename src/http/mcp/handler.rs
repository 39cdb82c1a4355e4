//! The protocol side of `/mcp`: who we are, the tool list, and a call dispatched to its tool,
//! with its arguments read and its failure answered as FastMCP answers one (an `isError`
//! result whose text says what went wrong), never as a protocol error.

use super::{catalog, reads, runs};
use crate::runtime::Runtime;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;
use std::sync::Arc;

/// The MCP server of one OS.
#[derive(Clone)]
pub(super) struct AgentOsMcp {
    rt: Arc<Runtime>,
}

impl AgentOsMcp {
    pub(super) fn new(rt: Arc<Runtime>) -> AgentOsMcp {
        AgentOsMcp { rt }
    }
}

impl ServerHandler for AgentOsMcp {
    fn get_info(&self) -> ServerConfig {
        // agno names its server after the OS (`AgentOS` without a name).
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("AgentOS", env!("CARGO_PKG_VERSION")))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(catalog::tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let empty = JsonObject::new();
        let args = Args {
            map: request.arguments.as_ref().unwrap_or(&empty),
        };
        let rt = &self.rt;
        let name = request.name.as_ref();
        let result = match name {
            "get_agentos_config" => reads::config(rt).await,
            "run_agent" => runs::run(rt, crate::kind::ComponentKind::Agent, &args, &context).await,
            "run_team" => runs::run(rt, crate::kind::ComponentKind::Team, &args, &context).await,
            "run_workflow" => {
                runs::run(rt, crate::kind::ComponentKind::Workflow, &args, &context).await
            }
            "continue_run" => runs::continue_run(rt, &args).await,
            "cancel_run" => runs::cancel_run(rt, &args).await,
            "get_sessions" => reads::sessions(rt, &args).await,
            "get_session_runs" => reads::session_runs(rt, &args).await,
            other => Err(Failure::Invalid(format!("Unknown tool: '{other}'"))),
        };
        Ok(match result {
            Ok(result) => result,
            Err(Failure::Invalid(message)) => error_result(message),
            Err(Failure::Failed(message)) => {
                error_result(format!("Error calling tool '{name}': {message}"))
            }
        }
        .into())
    }
}

/// Why a call gave no result.
pub(super) enum Failure {
    /// The arguments are wrong, or the tool is unknown: said as it is.
    Invalid(String),
    /// The tool failed: FastMCP prefixes `Error calling tool '<name>': `.
    Failed(String),
}

/// A result whose text is the failure.
fn error_result(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// A call's arguments, read as pydantic would check them.
pub(super) struct Args<'a> {
    map: &'a JsonObject,
}

impl Args<'_> {
    /// A string argument that must be there.
    pub(super) fn string(&self, key: &str) -> Result<String, Failure> {
        match self.map.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => Err(Failure::Invalid(format!(
                "Missing required argument {key:?}"
            ))),
            Some(other) => Err(not_a(key, "string", other)),
        }
    }

    /// A string argument that may be left out (or null).
    pub(super) fn optional(&self, key: &str) -> Result<Option<String>, Failure> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(not_a(key, "string", other)),
        }
    }

    /// An optional string argument that must be one of `allowed`.
    pub(super) fn choice(&self, key: &str, allowed: &[&str]) -> Result<Option<String>, Failure> {
        let value = self.optional(key)?;
        match value {
            Some(v) if !allowed.contains(&v.as_str()) => Err(Failure::Invalid(format!(
                "Argument {key:?} must be one of {allowed:?}, not {v:?}"
            ))),
            other => Ok(other),
        }
    }

    /// An integer argument, `default` when left out, at least `min`.
    pub(super) fn integer(&self, key: &str, default: u64, min: u64) -> Result<u64, Failure> {
        let n = match self.map.get(key) {
            None | Some(Value::Null) => return Ok(default),
            Some(Value::Number(n)) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        match n {
            Some(n) if n >= min => Ok(n),
            _ => Err(Failure::Invalid(format!(
                "Argument {key:?} must be an integer of at least {min}, not {}",
                self.map.get(key).map_or(String::new(), Value::to_string)
            ))),
        }
    }

    /// A list of objects, when given.
    pub(super) fn objects(&self, key: &str) -> Result<Option<Vec<JsonObject>>, Failure> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::Object(map) => Ok(map.clone()),
                    other => Err(not_a(key, "list of objects", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(not_a(key, "list of objects", other)),
        }
    }
}

fn not_a(key: &str, kind: &str, value: &Value) -> Failure {
    Failure::Invalid(format!("Argument {key:?} must be a {kind}, not {value}"))
}
