//! [`EventSink`]: where a run's events go while it executes.

use super::RunEvent;
use super::journal::Journal;
use std::sync::Arc;

/// Where a run's events go: the live subscriber (an SSE response), if any. Events are built
/// lazily, so a run nobody streams pays nothing for them. A subscriber that goes away is
/// dropped and the run goes on.
///
/// Events travel boxed: a `RunEvent` is ~270 bytes and tokio's channel allocates its slots 32
/// at a time, so an unboxed channel cost each streamed run ~8.7 KB up front (and made every
/// `emit` future, nested in every step's, carry a whole event).
#[derive(Debug)]
pub(crate) struct EventSink {
    tx: Option<tokio::sync::mpsc::Sender<Box<RunEvent>>>,
    /// A resumable run's journal: every event is kept, whoever listens.
    journal: Option<Arc<Journal>>,
}

impl EventSink {
    /// A sink that forwards to `tx`, or discards when `None`.
    pub(crate) fn new(tx: Option<tokio::sync::mpsc::Sender<Box<RunEvent>>>) -> EventSink {
        EventSink { tx, journal: None }
    }

    /// A sink that writes every event to `journal` (a resumable run).
    pub(crate) fn journaled(journal: Arc<Journal>) -> EventSink {
        EventSink {
            tx: None,
            journal: Some(journal),
        }
    }

    /// Sends the event `make` builds, if anyone listens. Waits while the subscriber's buffer is
    /// full (backpressure); a closed subscriber is forgotten.
    pub(crate) async fn emit(&mut self, make: impl FnOnce() -> RunEvent) {
        if let Some(journal) = &self.journal {
            journal.push(&make());
            return;
        }
        if let Some(tx) = &self.tx
            && tx.send(Box::new(make())).await.is_err()
        {
            self.tx = None;
        }
    }

    /// True while a subscriber listens (the run streams).
    pub(crate) fn is_streaming(&self) -> bool {
        self.tx.is_some() || self.journal.is_some()
    }

    /// A second sink to the same subscriber, for a branch that runs concurrently (Parallel).
    pub(crate) fn fork(&self) -> EventSink {
        EventSink {
            tx: self.tx.clone(),
            journal: self.journal.clone(),
        }
    }
}
