//! `/`, `/health` and `/config`.

use super::{AppState, route};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub(crate) fn router() -> Router<AppState> {
    let r = Router::new().route("/", get(home));
    let r = route(r, "/health", get(health));
    route(r, "/config", get(config))
}

async fn home(State(rt): State<AppState>) -> Json<Value> {
    Json(json!({"name": "AgentOS API", "id": rt.os_id, "version": env!("CARGO_PKG_VERSION")}))
}

async fn health(State(rt): State<AppState>) -> Json<Value> {
    Json(json!({"status": "ok", "instantiated_at": rt.instantiated_at}))
}

/// agno's `ConfigResponse` (wire spec §6.1), for the parts this server has.
async fn config(State(rt): State<AppState>) -> Json<Value> {
    let db = json!({"db_id": rt.db_id, "domain_config": {"display_name": rt.db_id}, "tables": ["sessions"]});
    let workflows: Vec<Value> = rt
        .workflows
        .iter()
        .map(|wf| {
            json!({"id": wf.id(), "name": wf.get_name(), "db_id": rt.db_id,
                   "is_factory": false, "is_component": false})
        })
        .collect();
    Json(json!({
        "os_id": rt.os_id,
        "available_models": [],
        "os_database": rt.db_id,
        "databases": [rt.db_id],
        "session": {"dbs": [db]},
        "agents": [],
        "teams": [],
        "workflows": workflows,
        "interfaces": [],
    }))
}
