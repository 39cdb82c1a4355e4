//! Owner leases on SQLite: the same semantics as on Postgres, through the writer, so that the
//! contract suite is one suite (a lone process never needs them: it reconciles at startup).

use super::SqliteStore;
use crate::store::{LeaseStore, Reconciled, StoreError};
use async_trait::async_trait;
use rusqlite::{Connection, params};

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn renew_owner_lease(&self, lease_until: i64) -> Result<(), StoreError> {
        let owner = self.owner_id.clone();
        self.write(move |conn| renew(conn, &owner, lease_until))
            .await
    }

    async fn reconcile_dead_owners(&self, error: &str, now: i64) -> Result<Reconciled, StoreError> {
        let error = error.to_owned();
        self.write(move |conn| reconcile_dead(conn, &error, now))
            .await
    }
}

fn renew(conn: &Connection, owner: &str, lease_until: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO run_owners (owner_id, lease_until) VALUES (?, ?)
         ON CONFLICT (owner_id) DO UPDATE SET lease_until = excluded.lease_until",
    )?
    .execute(params![owner, lease_until])?;
    Ok(())
}

/// Runs and job leases of processes whose owner lease is missing or expired at `now`.
fn reconcile_dead(conn: &Connection, error: &str, now: i64) -> Result<Reconciled, StoreError> {
    const DEAD: &str = "NOT EXISTS (SELECT 1 FROM run_owners o
                                    WHERE o.owner_id = {owner} AND o.lease_until >= ?)";
    let runs = conn
        .prepare_cached(&format!(
            "UPDATE runs SET status = 'ERROR', error = ?, updated_at = ?
             WHERE status IN ('RUNNING', 'PENDING') AND {}",
            DEAD.replace("{owner}", "runs.owner_id")
        ))?
        .execute(params![error, now, now])?;
    let jobs = conn
        .prepare_cached(&format!(
            "UPDATE jobs SET lease_until = 0
             WHERE status IN ('pending', 'running', 'failed') AND lease_until > ? AND {}",
            DEAD.replace("{owner}", "jobs.lease_owner")
        ))?
        .execute(params![now, now])?;
    conn.prepare_cached("DELETE FROM run_owners WHERE lease_until < ?")?
        .execute(params![now - OWNER_ROW_TTL_MS])?;
    Ok(Reconciled {
        runs_failed: runs as u64,
        jobs_released: jobs as u64,
    })
}

/// A dead process's lease row is forgotten a day after it expired (its runs are long
/// reconciled by then; a missing row counts as dead anyway).
const OWNER_ROW_TTL_MS: i64 = 24 * 3600 * 1000;
