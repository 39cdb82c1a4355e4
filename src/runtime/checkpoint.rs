//! [`Checkpointer`]: a background workflow run's progress written as each top-level step ends,
//! so a new process resumes it without running the finished steps again.

use crate::agent::DeferredHook;
use crate::event::journal::Journal;
use crate::run::WorkflowRunOutput;
use crate::store::Store;
use crate::workflow::Checkpoint;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes a background run's checkpoint (its output so far, and its events) as each
/// top-level step ends.
pub(super) struct Checkpointer {
    pub(super) store: Arc<dyn Store>,
    pub(super) journal: Option<Arc<Journal>>,
    /// How many of the journal's events earlier checkpoints wrote (only the rest is sent).
    pub(super) events_written: AtomicUsize,
}

impl Checkpoint for Checkpointer {
    fn save<'a>(
        &'a self,
        output: &'a WorkflowRunOutput,
        deferred: &'a [DeferredHook],
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let written = self.events_written.load(Ordering::Relaxed);
            let events = self
                .journal
                .as_ref()
                .map(|j| j.rows_from(written))
                .unwrap_or_default();
            let checkpoint = serde_json::json!({"output": output, "deferred": deferred});
            let result = match serde_json::to_string(&checkpoint) {
                Ok(json) => self
                    .store
                    .checkpoint_run(&output.run_id, &json, &events)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) => {
                    self.events_written
                        .store(written + events.len(), Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(run = %output.run_id, error = %e, "cannot checkpoint the run")
                }
            }
        })
    }
}
