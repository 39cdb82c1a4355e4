//! An agent's conversation history: the session's earlier completed runs as messages.

use crate::run::{Message, RunOutput};
use crate::store::Store;

/// The last `n` completed runs of the session (not `run_id`), as user and assistant messages
/// marked `from_history`, oldest first.
pub(super) async fn history(
    store: &dyn Store,
    session_id: &str,
    run_id: &str,
    n: usize,
) -> Vec<Message> {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let runs = match store.recent_completed_runs(session_id, run_id, n).await {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!(session = %session_id, error = %e, "cannot read the session's history");
            return Vec::new();
        }
    };
    runs.iter()
        .filter_map(|r| serde_json::from_str::<RunOutput>(r.output.as_deref()?).ok())
        .flat_map(|run| {
            let answer = run.content_text();
            [
                Message::new("user", run.input.input_content),
                Message::new("assistant", answer),
            ]
        })
        .map(|mut m| {
            m.from_history = true;
            m
        })
        .collect()
}
