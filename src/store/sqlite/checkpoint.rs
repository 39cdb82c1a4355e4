//! WAL checkpoints, outside the commit path: the writer's connection never checkpoints on its
//! own (`wal_autocheckpoint = 0`); a task copies the WAL into the database file once a second,
//! or more often under load, and has the WAL start over each time.

use super::writer::WriteLock;
use crate::store::StoreError;
use sqlx::SqlitePool;
use std::time::Duration;

/// Copies the WAL into the database file once a second, or every 250 ms while the WAL fills
/// quickly, and has the WAL start over each time.
///
/// A checkpoint copies the frames the WAL held when it began; SQLite starts the WAL over only at
/// a commit that finds every frame copied. Under a steady stream of commits a checkpoint
/// running beside them never gets there, and the WAL grew by every frame written: ~100 MB a
/// second with one run in flight, without bound. See [`checkpoint`].
pub(super) async fn checkpoint_every(pool: SqlitePool, writer: WriteLock) {
    let mut period = CHECKPOINT_PERIOD;
    loop {
        tokio::time::sleep(period).await;
        if pool.is_closed() {
            return;
        }
        match checkpoint(&pool, &writer).await {
            // A WAL past 64 MiB is cut back at its restart, on the commit path; checkpoints
            // that come sooner keep it under that, and their passes short.
            Ok(frames) if frames >= BUSY_WAL_FRAMES => period = CHECKPOINT_PERIOD / 4,
            Ok(_) => period = CHECKPOINT_PERIOD,
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// How often an idle or lightly written WAL is checkpointed.
const CHECKPOINT_PERIOD: Duration = Duration::from_secs(1);

/// A WAL that gained this many frames (16 MiB) since its last checkpoint is checkpointed again
/// sooner.
const BUSY_WAL_FRAMES: i64 = 4096;

/// Frames committed during a checkpoint pass that copied at most this many are few enough to
/// copy with the writes held off.
const SHORT_PASS: i64 = 1024;

/// One checkpoint that leaves the WAL to start over; returns how many frames the WAL held.
///
/// The passes run beside the commits (PASSIVE: they never block the writer), each copying what
/// was committed during the one before, until one is short (or after four). Unless they caught
/// up with every commit, a last pass then runs with the write connection held
/// ([`WriteLock::checkpoint`]): it reaches the end of the WAL, and the next commit starts the
/// WAL over. The WAL file is then rewritten in place rather than extended, which also costs
/// less: at one run in flight without the model's delay, ~15 % less CPU per run.
async fn checkpoint(pool: &SqlitePool, writer: &WriteLock) -> Result<i64, StoreError> {
    let commits = writer.commits();
    let (mut frames, mut copied_before, mut caught_up) = (0, 0, false);
    for pass in 0..4 {
        let (_, log, copied) =
            sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(pool)
                .await?;
        if pass == 0 {
            frames = log;
        }
        caught_up = copied == log;
        if log - copied_before <= SHORT_PASS {
            break;
        }
        copied_before = log;
    }
    // With no commit since the first pass began, the passes reached the end of the WAL: the
    // next commit starts it over without the write connection held (the lightly loaded case).
    if frames > 0 && !(caught_up && writer.commits() == commits) {
        writer.checkpoint().await?;
    }
    Ok(frames)
}
