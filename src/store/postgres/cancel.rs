//! Cancels across replicas on Postgres: the intent is stored on the run (`cancel_requested`)
//! and the owning replica woken with `NOTIFY agentos_cancel` (payload: the run id); each
//! replica listens, and re-checks at its heartbeat in case it missed a notification.

use crate::store::StoreError;
use futures::stream::BoxStream;
use sqlx::PgPool;

/// Marks the unfinished run `run_id` for cancel and notifies, in one transaction; false when
/// there is no such run.
pub(super) async fn request(pool: &PgPool, run_id: &str) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let marked = sqlx::query(
        "UPDATE runs SET cancel_requested = 1
         WHERE run_id = $1 AND status IN ('PENDING', 'RUNNING')",
    )
    .bind(run_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if marked > 0 {
        sqlx::query("SELECT pg_notify('agentos_cancel', $1)")
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(marked > 0)
}

/// Listens for cancel notifications: the run ids, as they come, until the pool closes. The
/// caller polls the stream (on a task it owns); dropping it stops listening.
pub(super) async fn listen(pool: &PgPool) -> Result<BoxStream<'static, String>, StoreError> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen("agentos_cancel").await?;
    let stream = futures::stream::unfold(listener, |mut listener| async move {
        loop {
            // `recv` reconnects by itself after a lost connection.
            match listener.recv().await {
                Ok(note) => return Some((note.payload().to_owned(), listener)),
                Err(sqlx::Error::PoolClosed) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "cancel listener: retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(Box::pin(stream))
}

/// The unfinished runs `owner` executes that another replica asked to cancel.
pub(super) async fn requested(pool: &PgPool, owner: &str) -> Result<Vec<String>, StoreError> {
    // Served by the partial index runs_cancel_pending (migration 0009): only the rows with
    // a cancel pending are visited.
    let ids = sqlx::query_scalar(
        "SELECT run_id FROM runs
         WHERE cancel_requested = 1 AND status IN ('PENDING', 'RUNNING') AND owner_id = $1",
    )
    .bind(owner)
    .fetch_all(pool)
    .await?;
    Ok(ids)
}
