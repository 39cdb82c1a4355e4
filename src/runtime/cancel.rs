//! Cancel switches: the token of every run executing in this process, by run id, and how a
//! cancel reaches a run wherever it executes.

use super::Runtime;
use crate::store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The cancel switch of every run executing in this process, by run id.
pub(crate) type CancelSwitches = Arc<Mutex<HashMap<String, CancellationToken>>>;

/// Stops the run `run_id` if it executes in this process and is not stopping already: another
/// replica asked (the request came by `how`: the NOTIFY, or the heartbeat's re-check).
pub(crate) fn cancel_requested_here(active: &CancelSwitches, run_id: &str, how: &str) {
    let active = active.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(token) = active.get(run_id).filter(|t| !t.is_cancelled()) {
        tracing::info!(run = %run_id, via = how, "cancel requested by another replica");
        token.cancel();
    }
}

/// A run's entry in the runtime's table of cancel switches; removed when the run ends.
pub(super) struct ActiveRun {
    table: CancelSwitches,
    run_id: String,
}

impl ActiveRun {
    pub(super) fn register(
        table: &CancelSwitches,
        run_id: &str,
        token: CancellationToken,
    ) -> ActiveRun {
        table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run_id.to_owned(), token);
        ActiveRun {
            table: table.clone(),
            run_id: run_id.to_owned(),
        }
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.run_id);
    }
}

impl Runtime {
    /// Asks the run `run_id` to stop, wherever it executes: in this process at once, else
    /// through the store (another replica of a shared database is woken and stops it).
    pub(crate) async fn cancel_anywhere(&self, run_id: &str) -> Result<bool, StoreError> {
        if self.cancel(run_id) {
            return Ok(true);
        }
        self.store.request_cancel(run_id).await
    }

    /// Asks the run `run_id` to stop, if it executes in this process. Cooperative: the run
    /// stops at its next event or model chunk and is stored CANCELLED with what it has.
    pub(crate) fn cancel(&self, run_id: &str) -> bool {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        match active.get(run_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }
}
