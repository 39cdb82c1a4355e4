//! What a session's detail sums up from its runs: token metrics and the chat history.

use super::run_schema::output_of;
use crate::store::RunRecord;
use serde_json::{Map, Value};

/// Adds `add`'s token counts into `sum`, merging the per-model `details` by model id and
/// provider (agno's session metrics).
fn add_metrics(sum: &mut Map<String, Value>, add: &Value) {
    for key in ["input_tokens", "output_tokens", "total_tokens"] {
        if let Some(n) = add.get(key).and_then(Value::as_u64) {
            let total = sum.get(key).and_then(Value::as_u64).unwrap_or(0) + n;
            sum.insert(key.to_owned(), Value::from(total));
        }
    }
    let Some(details) = add.get("details").and_then(Value::as_object) else {
        return;
    };
    let sum_details = sum
        .entry("details")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut();
    let Some(sum_details) = sum_details else {
        return;
    };
    for (model_type, entries) in details {
        let list = sum_details
            .entry(model_type.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        let (Some(list), Some(entries)) = (list.as_array_mut(), entries.as_array()) else {
            continue;
        };
        for entry in entries {
            let same =
                |e: &&mut Value| e["id"] == entry["id"] && e["provider"] == entry["provider"];
            match list.iter_mut().find(same) {
                Some(existing) => {
                    for key in ["input_tokens", "output_tokens", "total_tokens"] {
                        let n =
                            existing[key].as_u64().unwrap_or(0) + entry[key].as_u64().unwrap_or(0);
                        existing[key] = Value::from(n);
                    }
                }
                None => list.push(entry.clone()),
            }
        }
    }
}

/// The session's metrics: the sum over its runs (a workflow run's over its steps); `None`
/// before any run recorded metrics.
pub(super) fn session_metrics(runs: &[RunRecord]) -> Option<Value> {
    let mut sum = Map::new();
    for run in runs {
        let metrics = output_of(run).remove("metrics").unwrap_or(Value::Null);
        match metrics.get("steps").and_then(Value::as_object) {
            Some(steps) => {
                for step in steps.values() {
                    add_metrics(&mut sum, &step["metrics"]);
                }
            }
            None => add_metrics(&mut sum, &metrics),
        }
    }
    (!sum.is_empty()).then_some(Value::Object(sum))
}

/// The user and assistant messages of the session's runs, in order (agno's
/// `get_chat_history`: no system or tool messages, none repeated from history).
pub(super) fn chat_history(runs: &[RunRecord]) -> Vec<Value> {
    runs.iter()
        .flat_map(|run| match output_of(run).remove("messages") {
            Some(Value::Array(msgs)) => msgs,
            _ => Vec::new(),
        })
        .filter(|m| m["role"] != "system" && m["role"] != "tool" && m["from_history"] != true)
        .collect()
}
