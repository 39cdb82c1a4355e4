//! The protocol side of `/mcp`: who we are, the tool list, and a call dispatched to its tool; a
//! failure is answered as FastMCP answers one (an `isError` result whose text says what went
//! wrong), never as a protocol error.

use super::call::{Args, Failure, error_result};
use super::{catalog, reads, runs};
use crate::http::auth::{Access, Caller};
use crate::runtime::Runtime;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
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
        // The caller the auth layer verified for the HTTP request this call came in: the same
        // scoping as the REST routes (a user sees only their own sessions and runs).
        let access = Access(
            context
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<Arc<Caller>>().cloned()),
        );
        let result = match name {
            "get_agentos_config" => reads::config(rt).await,
            "run_agent" => {
                runs::run(
                    rt,
                    &access,
                    crate::kind::ComponentKind::Agent,
                    &args,
                    &context,
                )
                .await
            }
            "run_team" => {
                runs::run(
                    rt,
                    &access,
                    crate::kind::ComponentKind::Team,
                    &args,
                    &context,
                )
                .await
            }
            "run_workflow" => {
                let kind = crate::kind::ComponentKind::Workflow;
                runs::run(rt, &access, kind, &args, &context).await
            }
            "continue_run" => runs::continue_run(rt, &args).await,
            "cancel_run" => runs::cancel_run(rt, &access, &args).await,
            "get_sessions" => reads::sessions(rt, &access, &args).await,
            "get_session_runs" => reads::session_runs(rt, &access, &args).await,
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
