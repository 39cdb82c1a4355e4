//! The run events domain: the replay log behind `/resume` (`run_events`), one row per event
//! with its index in the run's stream.

use super::StoreError;
use async_trait::async_trait;

/// A run's replay log.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends `(event_index, payload)` rows to a run's replay log (`/resume`); rows already
    /// logged are kept.
    async fn append_run_events(
        &self,
        run_id: &str,
        events: &[(i64, String)],
    ) -> Result<(), StoreError>;
    /// A run's logged events with `event_index > after`, in order.
    async fn run_events(&self, run_id: &str, after: i64) -> Result<Vec<(i64, String)>, StoreError>;
}
