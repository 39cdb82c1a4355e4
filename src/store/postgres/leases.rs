//! Owner leases on Postgres: each replica renews its own; any replica reconciles what dead ones
//! left, splitting the rows with `FOR UPDATE SKIP LOCKED`.

use super::{PgStore, jobs};
use crate::store::{LeaseStore, Reconciled, StoreError};
use async_trait::async_trait;

/// A dead process's lease row is forgotten a day after it expired (a missing row counts as
/// dead anyway).
const OWNER_ROW_TTL_MS: i64 = 24 * 3600 * 1000;

#[async_trait]
impl LeaseStore for PgStore {
    async fn renew_owner_lease(&self, lease_until: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO run_owners (owner_id, lease_until) VALUES ($1, $2)
             ON CONFLICT (owner_id) DO UPDATE SET lease_until = excluded.lease_until",
        )
        .bind(&self.owner_id)
        .bind(lease_until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reconcile_dead_owners(&self, error: &str, now: i64) -> Result<Reconciled, StoreError> {
        let mut tx = self.pool.begin().await?;
        // SKIP LOCKED: replicas reconciling at once split the rows instead of deadlocking, and
        // a row being written right now (its run finishing) is left to the next round.
        let runs = sqlx::query(
            "UPDATE runs SET status = 'ERROR', error = $1, updated_at = $2
             WHERE run_id IN (
                 SELECT run_id FROM runs
                 WHERE status IN ('RUNNING', 'PENDING')
                   AND NOT (background = 1 AND request IS NOT NULL)
                   AND NOT EXISTS (SELECT 1 FROM run_owners o
                                   WHERE o.owner_id = runs.owner_id AND o.lease_until >= $2)
                 FOR UPDATE SKIP LOCKED)",
        )
        .bind(error)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let jobs_released = jobs::release_dead(&mut tx, now).await?;
        sqlx::query("DELETE FROM run_owners WHERE lease_until < $1")
            .bind(now - OWNER_ROW_TTL_MS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Reconciled {
            runs_failed: runs.rows_affected(),
            jobs_released,
        })
    }
}
