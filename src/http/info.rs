//! `/info` (agno's unauthenticated `InfoResponse`).

use super::AppState;
use super::edge::AuthInfo;
use super::mcp::McpOn;
use crate::http::api::{Api, routes};
use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The agno release whose AgentOS protocol this server speaks; reported as `agno_version` by
/// `/info` (we are not agno: `os_version` is our own version).
pub(crate) const AGNO_PROTOCOL_VERSION: &str = "3.1.10";

pub(crate) fn router() -> Api {
    [routes!(info)]
        .into_iter()
        .fold(Api::default(), Api::routes)
}

/// agno's `InfoResponse`: lightweight OS metadata.
#[derive(Debug, Serialize, ToSchema)]
struct InfoResponse {
    os_id: String,
    /// The OS's name (none set here).
    name: Option<String>,
    /// This server's version.
    os_version: &'static str,
    /// The agno release whose protocol is spoken.
    agno_version: &'static str,
    agent_count: usize,
    team_count: usize,
    workflow_count: usize,
    mcp: McpInfo,
    /// `none`, `security_key` or `jwt`.
    auth_mode: &'static str,
    user_isolation: bool,
}

/// agno's `McpInfo`: whether `/mcp` is served (`AgentOs::mcp_server`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct McpInfo {
    enabled: bool,
    /// `/mcp` when enabled.
    path: Option<&'static str>,
    /// Always null: no OAuth provider guards `/mcp` (the security key does).
    #[schema(value_type = Option<Object>)]
    oauth: Option<Value>,
    /// Always false: agno's plain-HTTP tool runner is not served.
    tool_run_endpoint: bool,
}

impl McpInfo {
    /// What to say, given the extension the MCP server puts on every request when it is on.
    pub(crate) fn of(on: Option<Extension<McpOn>>) -> McpInfo {
        McpInfo {
            enabled: on.is_some(),
            path: on.map(|_| super::mcp::PATH),
            oauth: None,
            tool_run_endpoint: false,
        }
    }
}

/// Lightweight OS metadata (no key needed)
#[utoipa::path(
    get, path = "/info", tag = "Core",
    responses((status = 200, description = "What this OS serves and how it authenticates", body = InfoResponse))
)]
async fn info(
    State(rt): State<AppState>,
    auth: Option<Extension<AuthInfo>>,
    mcp: Option<Extension<McpOn>>,
) -> Json<InfoResponse> {
    let (auth_mode, user_isolation) =
        auth.map_or(("none", false), |Extension(a)| (a.mode, a.user_isolation));
    Json(InfoResponse {
        os_id: rt.os_id.clone(),
        name: None,
        os_version: env!("CARGO_PKG_VERSION"),
        agno_version: AGNO_PROTOCOL_VERSION,
        agent_count: rt.agents.len(),
        team_count: rt.teams.len(),
        workflow_count: rt.workflows.len(),
        mcp: McpInfo::of(mcp),
        auth_mode,
        user_isolation,
    })
}
