//! `/info` (agno's unauthenticated `InfoResponse`).

use super::AppState;
use crate::http::api::{Api, routes};
use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The agno release whose AgentOS protocol this server speaks; reported as `agno_version` by
/// `/info` (we are not agno: `os_version` is our own version).
pub(crate) const AGNO_PROTOCOL_VERSION: &str = "3.1.10";

/// agno's `auth_mode`, put into each request by the edge layers (absent means `"none"`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthMode(pub &'static str);

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
    /// `none` or `security_key`.
    auth_mode: &'static str,
    user_isolation: bool,
}

/// MCP server availability (none here).
#[derive(Debug, Serialize, ToSchema)]
struct McpInfo {
    enabled: bool,
    path: Option<String>,
    #[schema(value_type = Option<Object>)]
    oauth: Option<Value>,
    tool_run_endpoint: bool,
}

/// Lightweight OS metadata (no key needed)
#[utoipa::path(
    get, path = "/info", tag = "Core",
    responses((status = 200, description = "What this OS serves and how it authenticates", body = InfoResponse))
)]
async fn info(State(rt): State<AppState>, mode: Option<Extension<AuthMode>>) -> Json<InfoResponse> {
    let auth_mode = mode.map_or("none", |Extension(AuthMode(m))| m);
    Json(InfoResponse {
        os_id: rt.os_id.clone(),
        name: None,
        os_version: env!("CARGO_PKG_VERSION"),
        agno_version: AGNO_PROTOCOL_VERSION,
        agent_count: rt.agents.len(),
        team_count: rt.teams.len(),
        workflow_count: rt.workflows.len(),
        mcp: McpInfo {
            enabled: false,
            path: None,
            oauth: None,
            tool_run_endpoint: false,
        },
        auth_mode,
        user_isolation: false,
    })
}
