//! `/info` (agno's unauthenticated `InfoResponse`) and `/teams` (no teams exist yet).

use super::auth::Access;
use super::edge::AuthInfo;
use super::error::{ApiError, ErrorBody};
use super::mcp::McpOn;
use super::{AppState, Path};
use crate::http::api::{Api, routes};
use crate::kind::ComponentKind;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The agno release whose AgentOS protocol this server speaks; reported as `agno_version` by
/// `/info` (we are not agno: `os_version` is our own version).
pub(crate) const AGNO_PROTOCOL_VERSION: &str = "3.1.10";

pub(crate) fn router() -> Api {
    [routes!(info), routes!(list_teams), routes!(get_team)]
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
        team_count: 0,
        workflow_count: rt.workflows.len(),
        mcp: McpInfo::of(mcp),
        auth_mode,
        user_isolation,
    })
}

/// List the teams
///
/// None yet: `[]`.
#[utoipa::path(
    get, path = "/teams", tag = "Teams",
    responses(
        (status = 200, description = "The teams served (none yet)", body = Vec<Object>),
        (status = 403, description = "The token may read no team", body = ErrorBody),
    )
)]
async fn list_teams(access: Access) -> Result<Json<[Value; 0]>, ApiError> {
    access.listing(ComponentKind::Team)?;
    Ok(Json([]))
}

/// Get a team
///
/// No team is served yet: always 404.
#[utoipa::path(
    get, path = "/teams/{team_id}", tag = "Teams",
    params(("team_id" = String, Path, description = "The team's id")),
    responses(
        (status = 200, description = "The team", body = Object),
        (status = 404, description = "No team with this id (the detail names the ones served)", body = ErrorBody),
    )
)]
async fn get_team(
    State(rt): State<AppState>,
    Path(team_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Err(ApiError::unknown(&rt, ComponentKind::Team, &team_id))
}
