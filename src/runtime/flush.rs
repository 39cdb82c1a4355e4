//! A resumable run's events written to the database while it executes, on a store shared by
//! replicas, so a `/resume` on another replica follows them.

use crate::event::journal::Journal;
use crate::store::Store;
use std::sync::Arc;

/// How often a resumable run's new events are written to the database on a shared store, so a
/// `/resume` on another replica follows them.
pub(crate) const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Writes the journal's new events to `run_events` every [`FLUSH_EVERY`] while the run
/// executes (on a store shared by replicas); the run's end writes the rest.
pub(crate) async fn flush_while_running(
    store: Arc<dyn Store>,
    run_id: String,
    journal: Arc<Journal>,
) {
    let mut changes = journal.subscribe();
    let mut written = 0;
    loop {
        if changes.changed().await.is_err() || changes.borrow_and_update().1 {
            return;
        }
        tokio::time::sleep(FLUSH_EVERY).await;
        let rows = journal.rows_from(written);
        if rows.is_empty() {
            continue;
        }
        match store.append_run_events(&run_id, &rows).await {
            Ok(()) => written += rows.len(),
            Err(e) => tracing::warn!(run = %run_id, error = %e, "cannot write the run's events"),
        }
    }
}
