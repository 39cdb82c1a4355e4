//! The owner leases domain: each process renews a lease on its owner id
//! ([`super::Store::owner_id`]), and what processes whose lease lapsed left is reconciled by
//! another (`run_owners`).

use super::StoreError;
use async_trait::async_trait;

/// What [`LeaseStore::reconcile_dead_owners`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Runs left RUNNING or PENDING by dead processes, now ERROR.
    pub runs_failed: u64,
    /// Job leases held by dead processes, now expired (the sweep takes the jobs).
    pub jobs_released: u64,
}

/// Owner leases across processes sharing one database.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Renews this process's owner lease ([`super::Store::owner_id`]) until `lease_until` (unix
    /// milliseconds). While it holds, no other process reconciles the runs this one owns.
    async fn renew_owner_lease(&self, lease_until: i64) -> Result<(), StoreError>;
    /// Reconciles what processes whose owner lease is missing or expired at `now` left: their
    /// runs still RUNNING or PENDING end ERROR with `error`, and their unexpired job leases are
    /// expired so the sweep takes the jobs. Safe to run from many processes at once.
    async fn reconcile_dead_owners(&self, error: &str, now: i64) -> Result<Reconciled, StoreError>;
}
