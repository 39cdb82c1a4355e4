//! `/`, `/health` and `/config`.

use super::{AppState, route};
use crate::runtime::Runtime;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub(crate) fn router() -> Router<AppState> {
    let r = Router::new().route("/", get(home));
    let r = route(r, "/health", get(health));
    let r = route(r, "/config", get(config));
    route(r, "/models", get(models))
}

/// Every model in use (by agents served on their own and by workflow steps), once each, as
/// agno's `[{"id", "provider"}]`.
fn available_models(rt: &Runtime) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    rt.agents
        .iter()
        .map(|a| a.as_ref())
        .chain(rt.workflows.iter().flat_map(|w| w.agents()))
        .filter_map(|a| a.get_model())
        .filter(|m| seen.insert((m.id().to_owned(), m.provider().to_owned())))
        .map(|m| json!({"id": m.id(), "provider": m.provider()}))
        .collect()
}

async fn models(State(rt): State<AppState>) -> Json<Vec<Value>> {
    Json(available_models(&rt))
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
    let agents: Vec<Value> = rt
        .agents
        .iter()
        .map(|a| {
            let model = a
                .get_model()
                .map(|m| json!({"id": m.id(), "provider": m.provider()}));
            json!({"id": a.id(), "name": a.name(), "db_id": rt.db_id, "model": model})
        })
        .collect();
    Json(json!({
        "os_id": rt.os_id,
        "available_models": available_models(&rt),
        "os_database": rt.db_id,
        "databases": [rt.db_id],
        "session": {"dbs": [db]},
        "agents": agents,
        "teams": [],
        "workflows": workflows,
        "interfaces": [],
    }))
}
