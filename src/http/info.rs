//! `/info` (agno's unauthenticated `InfoResponse`) and `/teams` (no teams exist yet).

use super::error::ApiError;
use super::{AppState, route};
use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

/// The agno release whose AgentOS protocol this server speaks; reported as `agno_version` by
/// `/info` (we are not agno: `os_version` is our own version).
pub(crate) const AGNO_PROTOCOL_VERSION: &str = "3.1.10";

/// agno's `auth_mode`, put into each request by the edge layers (absent means `"none"`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthMode(pub &'static str);

pub(crate) fn router() -> Router<AppState> {
    let r = route(Router::new(), "/info", get(info));
    let r = route(r, "/teams", get(|| async { Json(json!([])) }));
    route(
        r,
        "/teams/{team_id}",
        get(|| async { ApiError::not_found("Team not found") }),
    )
}

async fn info(State(rt): State<AppState>, mode: Option<Extension<AuthMode>>) -> Json<Value> {
    let auth_mode = mode.map_or("none", |Extension(AuthMode(m))| m);
    Json(json!({
        "os_id": rt.os_id,
        "name": null,
        "os_version": env!("CARGO_PKG_VERSION"),
        "agno_version": AGNO_PROTOCOL_VERSION,
        "agent_count": rt.agents.len(),
        "team_count": 0,
        "workflow_count": rt.workflows.len(),
        "mcp": {"enabled": false, "path": null, "oauth": null, "tool_run_endpoint": false},
        "auth_mode": auth_mode,
        "user_isolation": false,
    }))
}
