//! [`Checkpointer`]: a background run's progress written as it goes (a workflow's as each
//! top-level step ends, a team's as its leader replies and each member finishes), so a new
//! process resumes it without running again what finished.

use crate::agent::DeferredHook;
use crate::event::journal::Journal;
use crate::run::WorkflowRunOutput;
use crate::store::Store;
use crate::team::{TeamCheckpoint, TeamProgress};
use crate::workflow::Checkpoint;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes a background run's checkpoint (its progress as JSON, and its journal's events).
pub(super) struct Checkpointer {
    pub(super) store: Arc<dyn Store>,
    pub(super) journal: Option<Arc<Journal>>,
    /// How many of the journal's events earlier checkpoints wrote (only the rest is sent).
    pub(super) events_written: AtomicUsize,
}

impl Checkpointer {
    /// Stores `checkpoint` (serialized) as the run's progress, with the events since the last.
    async fn write(&self, run_id: &str, checkpoint: serde_json::Result<String>) {
        let written = self.events_written.load(Ordering::Relaxed);
        let events = self
            .journal
            .as_ref()
            .map(|j| j.rows_from(written))
            .unwrap_or_default();
        let result = match checkpoint {
            Ok(json) => self
                .store
                .checkpoint_run(run_id, &json, &events)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => {
                self.events_written
                    .store(written + events.len(), Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(run = %run_id, error = %e, "cannot checkpoint the run"),
        }
    }
}

impl Checkpoint for Checkpointer {
    fn save<'a>(
        &'a self,
        output: &'a WorkflowRunOutput,
        deferred: &'a [DeferredHook],
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let checkpoint = serde_json::json!({"output": output, "deferred": deferred});
            self.write(&output.run_id, serde_json::to_string(&checkpoint))
                .await;
        })
    }
}

impl TeamProgress for Checkpointer {
    fn save<'a>(&'a self, run_id: &'a str, checkpoint: &'a TeamCheckpoint) -> BoxFuture<'a, ()> {
        Box::pin(self.write(run_id, serde_json::to_string(checkpoint)))
    }
}
