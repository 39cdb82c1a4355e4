//! A run's session state: loaded from the session and merged with the workflow's defaults and
//! the request's (request > stored > default) before the run, stored with the session after.

use crate::store::{SessionUpdate, Store};
use serde_json::{Map, Value};

/// The session's stored state: `stored` (as `begin_run` returned it), or read now (a resumed
/// run).
pub(super) async fn stored_state(
    store: &dyn Store,
    session_id: &str,
    run_id: &str,
    stored: Option<String>,
) -> Map<String, Value> {
    let text = match stored {
        Some(text) => Some(text),
        None => match store.get_session(session_id).await {
            Ok(session) => session.map(|s| s.session_state),
            Err(e) => {
                tracing::error!(run = %run_id, error = %e, "cannot read the session state");
                None
            }
        },
    };
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Stores the session state the run left, unless it is the stored one (before the final
/// state, so a client that sees the run finished also sees the state).
pub(super) async fn save_state(
    store: &dyn Store,
    session_id: &str,
    run_id: &str,
    state: Map<String, Value>,
    stored: &Map<String, Value>,
) {
    let state = state_to_store(state);
    if &state == stored {
        return;
    }
    let saved = match serde_json::to_string(&state) {
        Ok(json) => {
            let update = SessionUpdate {
                session_state: Some(json),
                ..SessionUpdate::default()
            };
            store
                .update_session(session_id, &update)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = saved {
        tracing::error!(run = %run_id, error = %e, "cannot store the session state");
    }
}

/// Merges JSON objects key by key, recursing into objects present in both (agno's
/// `merge_dictionaries`): `over` wins.
fn merge_into(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_into(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A run's starting session state: the request's over the stored one over the default.
pub(super) fn merge_session_state(
    default: &Map<String, Value>,
    stored: &Map<String, Value>,
    run: &Map<String, Value>,
) -> Map<String, Value> {
    let mut state = default.clone();
    merge_into(&mut state, stored);
    merge_into(&mut state, run);
    state
}

/// The keys agno removes from session state before storing it.
const TRANSIENT_STATE_KEYS: [&str; 7] = [
    "current_session_id",
    "current_user_id",
    "current_run_id",
    "workflow_id",
    "run_id",
    "session_id",
    "workflow_name",
];

/// The session state as stored (agno drops its run-scoped keys).
fn state_to_store(mut state: Map<String, Value>) -> Map<String, Value> {
    for key in TRANSIENT_STATE_KEYS {
        state.remove(key);
    }
    state
}
