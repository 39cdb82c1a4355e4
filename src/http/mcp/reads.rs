//! The reading tools: `get_agentos_config`, `get_sessions`, `get_session_runs`, in the shapes
//! agno's tools return (its pydantic models dumped with their null keys), and the results FastMCP
//! makes of them (the value as JSON text, and as structured content: as it is for an object,
//! under `result` otherwise).

use super::call::{Args, Failure, object_result, store, wrapped_result};
use crate::http::auth::Access;
use crate::http::page::PageMeta;
use crate::http::sessions::run_schema::run_schema;
use crate::http::sessions::session_summary;
use crate::kind::ComponentKind;
use crate::runtime::Runtime;
use crate::store::{SessionFilter, SessionSort};
use rmcp::model::CallToolResult;
use serde_json::{Map, Value, json};
use std::time::Instant;

/// The session kinds `get_sessions` and `get_session_runs` take.
const SESSION_TYPES: [&str; 3] = ["agent", "team", "workflow"];
/// The keys of a run in `get_session_runs`'s compact history (agno's `trim_session_run`).
const HISTORY_FIELDS: [&str; 8] = [
    "run_id",
    "run_input",
    "content",
    "status",
    "created_at",
    "agent_id",
    "team_id",
    "workflow_id",
];
/// agno's `SessionSchema`, every key (its `model_dump()` keeps the null ones).
const SESSION_FIELDS: [&str; 14] = [
    "session_id",
    "session_name",
    "session_state",
    "created_at",
    "updated_at",
    "session_type",
    "user_id",
    "agent_id",
    "team_id",
    "workflow_id",
    "session_summary",
    "metrics",
    "total_tokens",
    "metadata",
];

/// `get_agentos_config`: the OS, its database and what it serves, compactly.
pub(super) async fn config(rt: &Runtime) -> Result<CallToolResult, Failure> {
    let agents: Vec<Value> = rt
        .agents
        .iter()
        .map(|a| {
            json!({
                "id": a.id(),
                "name": a.name(),
                "description": null,
                "db_id": rt.db_id,
                "model": a.get_model().map(|m| json!({"id": m.id(), "provider": m.provider()})),
                "metadata": null,
                "sandboxed": false,
            })
        })
        .collect();
    let workflows: Vec<Value> = rt
        .workflows
        .iter()
        .map(|w| {
            json!({
                "id": w.id(),
                "name": w.get_name(),
                "description": w.get_description(),
                "db_id": rt.db_id,
                "is_factory": false,
                "factory_input_schema": null,
                "is_component": false,
                "current_version": null,
                "stage": null,
                "sandboxed": false,
            })
        })
        .collect();
    // agno's `TeamSummaryResponse`.
    let teams: Vec<Value> = rt
        .teams
        .iter()
        .map(|t| {
            json!({
                "id": t.get_id(),
                "name": t.get_name(),
                "description": t.get_description(),
                "db_id": rt.db_id,
                "mode": t.get_mode().as_str(),
                "model": t.get_model().map(|m| json!({"id": m.id(), "provider": m.provider()})),
                "metadata": null,
                "sandboxed": false,
            })
        })
        .collect();
    Ok(object_result(json!({
        "os_id": rt.os_id,
        "description": null,
        "databases": [rt.db_id],
        "agents": agents,
        "teams": teams,
        "workflows": workflows,
    })))
}

/// `get_sessions`: one page of sessions, newest first by default.
pub(super) async fn sessions(
    rt: &Runtime,
    access: &Access,
    args: &Args<'_>,
) -> Result<CallToolResult, Failure> {
    let started = Instant::now();
    let session_type = args
        .choice("session_type", &SESSION_TYPES)?
        .and_then(|t| ComponentKind::parse(&t))
        .unwrap_or(ComponentKind::Agent);
    let limit = args.integer("limit", 20, 1)?;
    let page = args.integer("page", 1, 1)?;
    let ascending = args.choice("sort_order", &["asc", "desc"])?.as_deref() == Some("asc");
    // agno passes an unknown column on, and its database ignores it.
    let sort_by = args
        .optional("sort_by")?
        .and_then(|s| SessionSort::parse(&s))
        .unwrap_or_default();
    check_db(rt, args)?;
    // A caller scoped to a user sees only that user's sessions, whatever the arguments say.
    let scoped = access
        .scoped_user_id()
        .map_err(|e| Failure::Failed(e.detail()))?
        .map(str::to_owned);
    let filter = SessionFilter {
        session_type: Some(session_type),
        component_id: args.optional("component_id")?,
        user_id: scoped.or(args.optional("user_id")?),
        session_name: args.optional("session_name")?,
        sort_by,
        ascending,
        limit: limit.min(u32::MAX as u64) as u32,
        offset: (page - 1).saturating_mul(limit).min(u32::MAX as u64) as u32,
    };
    let (sessions, total) = rt.store.list_sessions(&filter).await.map_err(store)?;
    let data: Vec<Value> = sessions
        .iter()
        .map(|view| with_keys(to_value(session_summary(view)), &SESSION_FIELDS))
        .collect();
    let meta = PageMeta {
        page,
        limit,
        total_pages: total.div_ceil(limit),
        total_count: total,
        search_time_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
    };
    Ok(object_result(json!({"data": data, "meta": meta})))
}

/// `get_session_runs`: a session's runs, oldest first, compactly; or one run in full.
pub(super) async fn session_runs(
    rt: &Runtime,
    access: &Access,
    args: &Args<'_>,
) -> Result<CallToolResult, Failure> {
    let session_id = args.string("session_id")?;
    let run_id = args.optional("run_id")?;
    // agno reads the session whatever its type; the value is checked all the same.
    args.choice("session_type", &SESSION_TYPES)?;
    let scoped = access
        .scoped_user_id()
        .map_err(|e| Failure::Failed(e.detail()))?
        .map(str::to_owned);
    let user_id = scoped.or(args.optional("user_id")?);
    check_db(rt, args)?;
    let found = rt
        .store
        .session_view(&session_id)
        .await
        .map_err(store)?
        .filter(|v| {
            user_id
                .as_deref()
                .is_none_or(|u| v.session.user_id.as_deref() == Some(u))
        });
    if found.is_none() {
        return Err(Failure::Failed(format!("Session {session_id} not found")));
    }
    let runs = rt.store.session_runs(&session_id).await.map_err(store)?;
    let listed: Vec<Value> = match run_id {
        Some(run_id) => {
            let run = runs.iter().find(|r| r.run_id == run_id).ok_or_else(|| {
                Failure::Failed(format!("Run {run_id} not found in session {session_id}"))
            })?;
            vec![to_value(run_schema(run))]
        }
        None => runs
            .iter()
            .map(|r| {
                let full = to_value(run_schema(r));
                let kept: Map<String, Value> = HISTORY_FIELDS
                    .iter()
                    .filter_map(|k| {
                        full.get(*k)
                            .filter(|v| !v.is_null())
                            .map(|v| ((*k).to_owned(), v.clone()))
                    })
                    .collect();
                Value::Object(kept)
            })
            .collect(),
    };
    Ok(wrapped_result(Value::Array(listed)))
}

/// There is one database: a `db_id` naming another is refused.
fn check_db(rt: &Runtime, args: &Args<'_>) -> Result<(), Failure> {
    match args.optional("db_id")? {
        Some(id) if id != rt.db_id => Err(Failure::Failed(format!(
            "Database {id} not found; this OS has one database, {}",
            rt.db_id
        ))),
        _ => Ok(()),
    }
}

fn to_value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `value` (an object) with every key of `keys`, null where it had none.
fn with_keys(value: Value, keys: &[&str]) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    for key in keys {
        map.entry(*key).or_insert(Value::Null);
    }
    Value::Object(map)
}
