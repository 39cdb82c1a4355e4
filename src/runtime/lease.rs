//! The owner lease, for a store shared by several processes (`!Store::exclusive()`): this
//! process renews a lease on its owner id every [`LeaseSettings::heartbeat`], and reconciles
//! what dead processes left: runs whose owner's lease expired end ERROR "interrupted: server
//! restarted", and the hook job leases they held expire so the sweep takes the jobs. An
//! exclusive store (SQLite) reconciles once at startup instead (`Runtime::recover`).
//!
//! The heartbeat also re-checks the cancels other replicas stored for the runs executing here:
//! a cancel normally arrives by NOTIFY at once, but one sent while this process's listening
//! connection was down would be missed, so each heartbeat (while runs are in flight) asks the
//! store once for the runs it owns with a cancel pending.

use super::{CancelSwitches, INTERRUPTED, cancel_requested_here};
use crate::run::unix_millis;
use crate::store::{ResumableRun, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the owner lease is renewed, and for how long it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseSettings {
    /// The lease is renewed, and dead owners reconciled, this often.
    pub heartbeat: Duration,
    /// Each renewal holds this long: a process missing its heartbeats for this long is dead.
    pub lease: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        LeaseSettings::every(Duration::from_secs(3))
    }
}

impl LeaseSettings {
    /// A heartbeat every `heartbeat`, holding three times as long.
    pub fn every(heartbeat: Duration) -> LeaseSettings {
        LeaseSettings {
            heartbeat,
            lease: heartbeat * 3,
        }
    }
}

/// The heartbeat task, when running.
#[derive(Default)]
pub(crate) struct OwnerLease {
    stopping: CancellationToken,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl OwnerLease {
    /// Takes the lease (a failure here means the database is unusable: the process should not
    /// serve), reconciles once, then renews and reconciles every heartbeat, and stops the runs
    /// in `active` that another replica asked to cancel.
    pub(crate) async fn start(
        &self,
        store: Arc<dyn Store>,
        settings: LeaseSettings,
        orphans: mpsc::UnboundedSender<ResumableRun>,
        active: CancelSwitches,
        tracker: &TaskTracker,
    ) -> Result<(), StoreError> {
        store
            .renew_owner_lease(unix_millis() + settings.lease.as_millis() as i64)
            .await?;
        reconcile(store.as_ref(), &orphans).await;
        let stopping = self.stopping.clone();
        let task = tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(settings.heartbeat) => {}
                    _ = stopping.cancelled() => return,
                }
                let until = unix_millis() + settings.lease.as_millis() as i64;
                if let Err(e) = store.renew_owner_lease(until).await {
                    // Retried at the next heartbeat; past the lease, other replicas take over.
                    tracing::error!(error = %e, "cannot renew this process's owner lease");
                    continue;
                }
                reconcile(store.as_ref(), &orphans).await;
                recheck_cancels(store.as_ref(), &active).await;
            }
        });
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(())
    }

    /// Stops the heartbeat (at shutdown, before the store closes).
    pub(crate) async fn stop(&self) {
        self.stopping.cancel();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// One reconciliation round: this process claims the background runs of dead owners (to
/// resume them: `orphans`), then the other runs of dead owners end ERROR and their hook job
/// leases expire.
async fn reconcile(store: &dyn Store, orphans: &mpsc::UnboundedSender<ResumableRun>) {
    match store.claim_orphaned_runs(unix_millis()).await {
        Ok(runs) => {
            for run in runs {
                let _ = orphans.send(run);
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot claim a dead process's background runs"),
    }
    match store
        .reconcile_dead_owners(INTERRUPTED, unix_millis())
        .await
    {
        Ok(r) => {
            if r.runs_failed > 0 {
                tracing::warn!(
                    "{} run(s) left unfinished by a dead process marked ERROR",
                    r.runs_failed
                );
            }
            if r.jobs_released > 0 {
                tracing::info!(
                    "{} hook job(s) leased to a dead process are due again",
                    r.jobs_released
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot reconcile the work of dead processes"),
    }
}

/// Stops the runs executing here whose cancel another replica stored: one query, and only when
/// runs are in flight.
async fn recheck_cancels(store: &dyn Store, active: &CancelSwitches) {
    let idle = active.lock().unwrap_or_else(|p| p.into_inner()).is_empty();
    if idle {
        return;
    }
    match store.requested_cancels().await {
        Ok(run_ids) => {
            for run_id in run_ids {
                cancel_requested_here(active, &run_id, "heartbeat");
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot re-check the cancels asked of this process"),
    }
}
